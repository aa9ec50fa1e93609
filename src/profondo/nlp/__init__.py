"""Language with recurrent networks: vocabularies and tokenisers, text data sets, a
character-level language model, a review classifier, an encoder-decoder with attention
(greedy and beam-search decoding), truncated-BPTT training and sampling.

>>> from profondo.nlp import CharLM, Vocab, batchify, train_language_model, sample
>>> train, val = load_shakespeare()
>>> vocab = Vocab(sorted(set(train)), specials=(), unk_token=None)
>>> model = CharLM(len(vocab))
>>> train_language_model(model, batchify(vocab.encode(train), 32), batchify(vocab.encode(val), 32), steps=2000)
>>> print(sample(model, vocab, prime="ROMEO.\\n", temperature=0.8))
"""

from .datasets import (
    load_movie_reviews,
    load_shakespeare,
    load_word_pairs,
    make_dates,
    shakespeare_works,
    split_reviews,
)
from .models import CharLM, SentimentClassifier, Seq2Seq, beam_search, detach_state, greedy_decode
from .sample import sample
from .train import (
    batchify,
    bptt_chunks,
    classifier_accuracy,
    evaluate_language_model,
    length_buckets,
    train_classifier,
    train_language_model,
    train_seq2seq,
)
from .vocab import CharTokenizer, Vocab, WordTokenizer, pad_sequences

__all__ = ["CharLM", "CharTokenizer", "SentimentClassifier", "Seq2Seq", "Vocab", "WordTokenizer", "batchify",
           "beam_search", "bptt_chunks", "classifier_accuracy", "detach_state", "evaluate_language_model",
           "greedy_decode", "length_buckets", "load_movie_reviews", "load_shakespeare", "load_word_pairs",
           "make_dates", "pad_sequences", "sample", "shakespeare_works", "split_reviews", "train_classifier",
           "train_language_model", "train_seq2seq"]
