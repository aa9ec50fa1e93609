"""The language tasks end to end: load real data, build vocabularies, train, evaluate, report.

Each returns a dict of results (and saves a checkpoint holding the weights, the model's
configuration and its vocabularies when ``save`` is a path). The ``profondo lm``,
``profondo sentiment`` and ``profondo seq2seq`` commands and the examples/nlp_*.py scripts
call these.

>>> result = language_model_task(steps=2000)
>>> result["val_loss"], result["sample"][:80]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from ..io.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from ..random import manual_seed
from .datasets import load_movie_reviews, load_shakespeare, load_word_pairs, make_dates, split_reviews
from .models import CharLM, SentimentClassifier, Seq2Seq, beam_search, greedy_decode
from .sample import sample
from .train import (
    batchify,
    encode_texts,
    evaluate_language_model,
    train_classifier,
    train_language_model,
    train_seq2seq,
)
from .vocab import EOS, PAD, SOS, UNK, Vocab, WordTokenizer, pad_sequences


def save_model(path, task: str, model, vocabs: dict[str, Vocab], results: dict | None = None) -> None:
    """A checkpoint with the weights, ``model.get_config()``, the vocabularies and the results."""
    meta = {"task": task, "model": type(model).__name__, "config": model.get_config(),
            "vocabs": {k: v.to_dict() for k, v in vocabs.items()}, "metrics": results or {}}
    write_checkpoint(path, Checkpoint({"model": model.state_arrays()}, meta))


def load_model(path, cls) -> tuple:
    """(model, vocabularies, metadata) from a checkpoint written by :func:`save_model`."""
    ckpt = read_checkpoint(path)
    if ckpt.meta.get("model") != cls.__name__:
        raise ValueError(f"{path} holds a {ckpt.meta.get('model')!r} model, expected {cls.__name__}")
    model = cls(**ckpt.meta["config"])
    model.load_state_dict(ckpt.group("model"))
    return model, {k: Vocab.from_dict(v) for k, v in ckpt.meta["vocabs"].items()}, ckpt.meta


# --- character-level language model ------------------------------------------------------------------
def language_model_task(data_dir=None, *, hidden_size: int = 256, embedding_dim: int = 64, num_layers: int = 1,
                        cell: str = "lstm", dropout: float = 0.0, batch_size: int = 32, seq_len: int = 64,
                        steps: int = 2000, lr: float = 2e-3, eval_every: int = 500, lr_decay: float = 1.0,
                        val_chars: int | None = None, temperature: float = 0.8, sample_length: int = 500,
                        prime: str = "\n", seed: int = 0, load: str | None = None, save: str | None = None,
                        progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """A character-level model of the works of Shakespeare; validation cross-entropy in nats
    per character on the held-out last 10% of the text, and a sample at ``temperature``."""
    manual_seed(seed)
    train_text, val_text = load_shakespeare(data_dir)
    if val_chars:
        val_text = val_text[:val_chars]
    if load:
        model, vocabs, _ = load_model(load, CharLM)
        vocab = vocabs["chars"]
    else:
        vocab = Vocab(sorted(set(train_text)), specials=(), unk_token=None)
        model = CharLM(len(vocab), embedding_dim, hidden_size, num_layers, dropout, cell)
    log(f"Shakespeare: {len(train_text):,} training and {len(val_text):,} validation characters, "
        f"{len(vocab)} distinct; {sum(p.numel() for p in model.parameters()):,} weights")
    train = batchify(vocab.encode(train_text), batch_size)
    val = batchify(vocab.encode(val_text), batch_size)
    history = {"seconds": 0.0}
    if steps:
        history = train_language_model(model, train, val, seq_len=seq_len, steps=steps, lr=lr, eval_every=eval_every,
                                       lr_decay=lr_decay, progress=progress, log=log)
    val_loss = history["val_loss"][-1] if steps else evaluate_language_model(model, val, seq_len)
    text = sample(model, vocab, prime, sample_length, temperature)
    result = {"val_loss": val_loss, "val_bits_per_char": val_loss / np.log(2), "train_seconds": history["seconds"],
              "history": history, "sample": text, "temperature": temperature}
    log(f"validation cross-entropy {val_loss:.4f} nats/char ({result['val_bits_per_char']:.3f} bits)")
    log(f"sample at temperature {temperature}:\n{text}")
    if save:
        save_model(save, "lm", model, {"chars": vocab}, {"val_loss": val_loss})
    return result


# --- sentiment -----------------------------------------------------------------------------------------
def sentiment_task(data_dir=None, *, max_len: int = 400, vocab_size: int = 20000, min_freq: int = 2,
                   embedding_dim: int = 64, hidden_size: int = 64, cell: str = "gru", bidirectional: bool = True,
                   dropout: float = 0.0, epochs: int = 3, batch_size: int = 64, lr: float = 2e-3,
                   test_size: int = 5000, train_limit: int | None = None, seed: int = 0, save: str | None = None,
                   progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """IMDB reviews: ``test_size`` held out (after removing duplicates), the rest to train on."""
    manual_seed(seed)
    texts, labels = load_movie_reviews("imdb", data_dir)
    (train_texts, train_labels), (test_texts, test_labels) = split_reviews(texts, labels, test_size, seed)
    if train_limit:
        train_texts, train_labels = train_texts[:train_limit], train_labels[:train_limit]
    tok = WordTokenizer()
    train_tokens = [tok(t) for t in train_texts]
    vocab = Vocab.build(train_tokens, min_freq=min_freq, max_size=vocab_size)
    train_ids = encode_texts(train_tokens, vocab, max_len)
    test_ids = encode_texts([tok(t) for t in test_texts], vocab, max_len)
    model = SentimentClassifier(len(vocab), embedding_dim, hidden_size, 1, bidirectional, cell, dropout)
    log(f"IMDB: {len(train_ids):,} training and {len(test_ids):,} held-out reviews, vocabulary {len(vocab):,} "
        f"words, at most {max_len} tokens per review; {sum(p.numel() for p in model.parameters()):,} weights")
    history = train_classifier(model, (train_ids, train_labels), (test_ids, test_labels), epochs=epochs,
                               batch_size=batch_size, lr=lr, pad_id=vocab.pad_id, seed=seed, progress=progress,
                               log=log)
    accuracy = history["test_accuracy"][-1]
    log(f"held-out accuracy {accuracy:.4f} on {len(test_ids):,} reviews ({history['seconds']:.0f} s of training)")
    if save:
        save_model(save, "sentiment", model, {"words": vocab}, {"test_accuracy": accuracy})
    return {"test_accuracy": accuracy, "test_size": len(test_ids), "train_size": len(train_ids),
            "train_seconds": history["seconds"], "history": history}


# --- sequence to sequence --------------------------------------------------------------------------------
def char_vocab(strings: Sequence[str]) -> Vocab:
    return Vocab(sorted(set("".join(strings))), specials=(PAD, UNK, SOS, EOS))


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions from a to b."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def character_accuracy(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """1 - character error rate: 1 - (edit distances summed) / (target characters summed), as
    OCR and transliteration report it. ``character_accuracy(["chat"], ["chien"]) == 1 - 3 / 5``"""
    errors = sum(edit_distance(p, t) for p, t in zip(predictions, targets))
    return 1 - errors / max(sum(len(t) for t in targets), 1)


def translate(model: Seq2Seq, sources: Sequence[str], src_vocab: Vocab, tgt_vocab: Vocab, beam: int = 1,
              max_len: int = 40, batch_size: int = 500) -> list[str]:
    """Decode character strings greedily (``beam=1``) or by beam search."""
    out = []
    for i in range(0, len(sources), batch_size):
        chunk = sources[i:i + batch_size]
        src, lengths = pad_sequences([src_vocab.encode(s) for s in chunk], src_vocab.pad_id)
        args = (model, src, lengths, tgt_vocab.id(SOS), tgt_vocab.id(EOS))
        ids = greedy_decode(*args, max_len=max_len) if beam == 1 else beam_search(*args, beam_size=beam, max_len=max_len)
        out += ["".join(tgt_vocab.decode(s)) for s in ids]
    return out


def _seq2seq(pairs_train, pairs_test, name: str, *, embedding_dim, hidden_size, cell, attention, dropout, epochs,
             batch_size, lr, beam, seed, save, progress, log) -> dict:
    src_vocab = char_vocab([s for s, _ in pairs_train])
    tgt_vocab = char_vocab([t for _, t in pairs_train])
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), embedding_dim, hidden_size, cell, attention, dropout=dropout)
    sources = [src_vocab.encode(s) for s, _ in pairs_train]
    targets = [tgt_vocab.encode(t) for _, t in pairs_train]
    test_src, test_tgt = [s for s, _ in pairs_test], [t for _, t in pairs_test]
    max_len = max(len(t) for t in test_tgt + [t for _, t in pairs_train]) + 5
    log(f"{name}: {len(pairs_train):,} training and {len(pairs_test):,} held-out pairs; "
        f"{sum(p.numel() for p in model.parameters()):,} weights")

    def exact():
        return float(np.mean([p == t for p, t in zip(translate(model, test_src, src_vocab, tgt_vocab, 1, max_len),
                                                     test_tgt)]))

    history = train_seq2seq(model, sources, targets, sos_id=tgt_vocab.id(SOS), eos_id=tgt_vocab.id(EOS),
                            pad_id=src_vocab.pad_id, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                            progress=progress, evaluate=exact, log=log)
    result = {"train_seconds": history["seconds"], "history": history, "test_size": len(pairs_test)}
    for b in sorted({1, beam}):
        start = time.perf_counter()
        pred = translate(model, test_src, src_vocab, tgt_vocab, b, max_len)
        key = "greedy" if b == 1 else f"beam{b}"
        result[f"{key}_exact_match"] = float(np.mean([p == t for p, t in zip(pred, test_tgt)]))
        result[f"{key}_char_accuracy"] = character_accuracy(pred, test_tgt)
        log(f"{key}: exact match {result[f'{key}_exact_match']:.4f}, character accuracy "
            f"{result[f'{key}_char_accuracy']:.4f} on {len(test_tgt):,} held-out pairs "
            f"({time.perf_counter() - start:.1f} s)")
        result["examples"] = [(s, p, t) for s, p, t in zip(test_src[:8], pred[:8], test_tgt[:8])]
    for s, p, t in result["examples"]:
        log(f"  {s!r} -> {p!r} (expected {t!r})")
    if save:
        save_model(save, name, model, {"source": src_vocab, "target": tgt_vocab},
                   {k: v for k, v in result.items() if k.endswith(("match", "accuracy"))})
    return result


def dates_task(*, n_train: int = 20000, n_test: int = 2000, embedding_dim: int = 32, hidden_size: int = 64,
               cell: str = "gru", attention: str = "general", dropout: float = 0.0, epochs: int = 6,
               batch_size: int = 64, lr: float = 3e-3, beam: int = 3, seed: int = 0, save: str | None = None,
               progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Dates written in 14 formats -> ISO 8601, character by character; exact-match accuracy
    on held-out dates (none of them seen in training)."""
    manual_seed(seed)
    pairs = make_dates(n_train + n_test, seed)
    test = pairs[n_train:]
    seen = {s for s, _ in test}
    train = [p for p in pairs[:n_train] if p[0] not in seen]
    return _seq2seq(train, test, "dates", embedding_dim=embedding_dim, hidden_size=hidden_size, cell=cell,
                    attention=attention, dropout=dropout, epochs=epochs, batch_size=batch_size, lr=lr, beam=beam,
                    seed=seed, save=save, progress=progress, log=log)


def translation_task(data_dir=None, *, dictionary: str = "eng-fra", test_fraction: float = 0.1,
                     embedding_dim: int = 32, hidden_size: int = 64, cell: str = "gru", attention: str = "general",
                     dropout: float = 0.2, epochs: int = 20, batch_size: int = 64, lr: float = 3e-3, beam: int = 5,
                     seed: int = 0, save: str | None = None, progress: bool = True,
                     log: Callable[[str], None] = print) -> dict:
    """English words -> French words of the FreeDict dictionary, character by character, with
    ``test_fraction`` of the words held out; reports exact match and character accuracy, and
    both for copying the English word unchanged (the baseline a model must beat: many
    translations are cognates)."""
    manual_seed(seed)
    pairs = load_word_pairs(dictionary, data_dir)
    order = np.random.default_rng(seed).permutation(len(pairs))
    cut = int(len(pairs) * (1 - test_fraction))
    train, test = [pairs[i] for i in order[:cut]], [pairs[i] for i in order[cut:]]
    copy = {"copy_exact_match": float(np.mean([s == t for s, t in test])),
            "copy_char_accuracy": character_accuracy([s for s, _ in test], [t for _, t in test])}
    log(f"copying the English word: exact match {copy['copy_exact_match']:.4f}, character accuracy "
        f"{copy['copy_char_accuracy']:.4f}")
    return copy | _seq2seq(train, test, f"words {dictionary}", embedding_dim=embedding_dim, hidden_size=hidden_size,
                    cell=cell, attention=attention, dropout=dropout, epochs=epochs, batch_size=batch_size, lr=lr,
                    beam=beam, seed=seed, save=save, progress=progress, log=log)
