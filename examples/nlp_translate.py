"""Word translation, English to French, with an attentive GRU encoder-decoder over characters.

The pairs are the single-word entries of the FreeDict English-French dictionary (Debian
package dict-freedict-eng-fra: /usr/share/dictd), each English headword with its first
French translation; 10% of the words are held out. Much of a dictionary is not
predictable from spelling (cat -> chat is, fork -> fourchette is not), so the score to
watch is the character accuracy (1 - character error rate), reported with the exact-match
rate, greedy and beam search, and against copying the English word unchanged.

    apt-get install dict-freedict-eng-fra
    PYTHONPATH=src python examples/nlp_translate.py
    (the same as: profondo seq2seq words)
"""

from __future__ import annotations

from profondo.nlp.tasks import translation_task


def main() -> None:
    result = translation_task(epochs=20, hidden_size=64, dropout=0.2, beam=5)
    print(f"held-out words: {result['test_size']}; character accuracy: greedy {result['greedy_char_accuracy']:.4f}, "
          f"beam 5 {result['beam5_char_accuracy']:.4f}, copying the English word {result['copy_char_accuracy']:.4f}")


if __name__ == "__main__":
    main()
