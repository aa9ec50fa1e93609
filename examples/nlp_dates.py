"""Sequence to sequence: dates written in 14 formats ("Sun 3 May 1998", "5/3/98",
"the 3rd of May 1998", ...) to ISO 8601, character by character, with an attentive GRU
encoder-decoder; exact-match accuracy on held-out dates, greedy and beam search.

    PYTHONPATH=src python examples/nlp_dates.py
    (the same as: profondo seq2seq dates)
"""

from __future__ import annotations

import numpy as np

import profondo
from profondo.nlp import Seq2Seq, Vocab, beam_search, greedy_decode, make_dates, pad_sequences, train_seq2seq
from profondo.nlp.vocab import EOS, PAD, SOS, UNK


def main() -> None:
    profondo.manual_seed(0)
    pairs = make_dates(22000, seed=0)
    test = pairs[20000:]
    seen = {written for written, _ in test}
    train = [p for p in pairs[:20000] if p[0] not in seen]  # no held-out string is trained on
    src_vocab = Vocab(sorted({c for s, _ in train for c in s}), specials=(PAD, UNK, SOS, EOS))
    tgt_vocab = Vocab(sorted("0123456789-"), specials=(PAD, UNK, SOS, EOS))
    sos, eos = tgt_vocab.id(SOS), tgt_vocab.id(EOS)
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), embedding_dim=32, hidden_size=64, cell="gru")
    train_seq2seq(model, [src_vocab.encode(s) for s, _ in train], [tgt_vocab.encode(t) for _, t in train],
                  sos_id=sos, eos_id=eos, epochs=6, lr=3e-3)
    src, lengths = pad_sequences([src_vocab.encode(s) for s, _ in test])
    for name, ids in (("greedy", greedy_decode(model, src, lengths, sos, eos, max_len=12)),
                      ("beam 3", beam_search(model, src, lengths, sos, eos, beam_size=3, max_len=12))):
        predicted = ["".join(tgt_vocab.decode(i)) for i in ids]
        exact = np.mean([p == t for p, (_, t) in zip(predicted, test)])
        print(f"{name}: exact match {exact:.4f} on {len(test)} held-out dates")
    for (written, iso), p in list(zip(test, predicted))[:5]:
        print(f"  {written!r:32} -> {p} (expected {iso})")


if __name__ == "__main__":
    main()
