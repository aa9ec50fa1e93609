"""Training loops for recurrent models: truncated BPTT over a token stream, and padded
mini-batches bucketed by length for classification and sequence to sequence.

Gradient clipping by global norm is on by default (``clip=1.0``): exploding gradients are
the classic failure of recurrent networks. Pass ``clip=None`` to turn it off.

>>> stream = batchify(np.array(vocab.encode(text)), batch_size=32)     # (L, 32)
>>> history = train_language_model(model, stream, val_stream, seq_len=64, steps=2000)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..optim import Adam
from ..tensor import Tensor
from ..train.progress import ProgressBar
from ..train.step import TrainStep
from .models import detach_state
from .vocab import pad_sequences


def batchify(ids: Sequence[int] | np.ndarray, batch_size: int) -> np.ndarray:
    """Cut a token stream into ``batch_size`` contiguous streams side by side: (L, batch_size).

    Column b holds tokens [b*L, (b+1)*L); the tail that does not fill a row is dropped.

    >>> batchify(np.arange(10), 3).tolist()
    [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    """
    ids = np.asarray(ids, np.int64)
    rows = len(ids) // batch_size
    if rows < 2:
        raise ValueError(f"batchify: {len(ids)} tokens are too few for {batch_size} streams of at least 2 tokens")
    return ids[: rows * batch_size].reshape(batch_size, rows).T.copy()


def bptt_chunks(stream: np.ndarray, seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(inputs, targets) chunks of ``seq_len`` steps (the last may be shorter); targets are the
    inputs shifted by one step."""
    for start in range(0, len(stream) - 1, seq_len):
        end = min(start + seq_len, len(stream) - 1)
        yield stream[start:end], stream[start + 1:end + 1]


def lm_loss(output: tuple, target: np.ndarray) -> Tensor:
    """Cross-entropy of a language model's ``(logits, state)`` output against the next tokens,
    every position of every stream counted once."""
    logits = output[0]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def _lm_loss(model, x, y, state):
    output = model(x, state)
    return lm_loss(output, y), output[1]


@no_grad()
def evaluate_language_model(model, stream: np.ndarray, seq_len: int = 64) -> float:
    """Mean cross-entropy (nats per token) over a batchified stream, carrying the state."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for x, y in bptt_chunks(stream, seq_len):
        loss, state = _lm_loss(model, x, y, state)
        total += loss.item() * y.size
        count += y.size
    model.train(was_training)
    return total / max(count, 1)


def train_language_model(model, train: np.ndarray, val: np.ndarray | None = None, *, seq_len: int = 64,
                         steps: int | None = None, epochs: int = 1, lr: float = 2e-3, clip: float | None = 1.0,
                         eval_every: int | None = None, lr_decay: float = 1.0, optimizer=None, progress: bool = True,
                         log: Callable[[str], None] = print) -> dict:
    """Truncated backpropagation through time over batchified streams (L, N).

    Each chunk of ``seq_len`` steps is one update; the recurrent state is carried from chunk
    to chunk and detached, so gradients flow back at most ``seq_len`` steps. Runs ``steps``
    updates (passing over the stream as often as needed) or ``epochs`` passes; evaluates on
    ``val`` every ``eval_every`` updates and at the end, multiplying the learning rate by
    ``lr_decay`` after each evaluation. Returns {"steps", "train_loss", "val_loss", "seconds"}.
    """
    optimizer = optimizer or Adam(model.parameters(), lr=lr)
    per_epoch = math.ceil((len(train) - 1) / seq_len)
    total = steps if steps is not None else epochs * per_epoch
    history: dict = {"steps": [], "train_loss": [], "val_loss": []}
    bar = ProgressBar(total, "lm", enabled=progress)
    start, step, running, state = time.perf_counter(), 0, [], None
    train_step = TrainStep(model, optimizer, lm_loss, max_grad_norm=clip)
    model.train()
    while step < total:
        state = None  # each pass over the stream starts from a zero state
        for x, y in bptt_chunks(train, seq_len):
            loss, (_, state), _ = train_step(x, detach_state(state), target=y)
            step += 1
            running.append(loss.item())
            bar.update(1, x.size, loss=float(np.mean(running[-50:])))
            if val is not None and ((eval_every and step % eval_every == 0) or step == total):
                val_loss = evaluate_language_model(model, val, seq_len)
                history["steps"].append(step)
                history["train_loss"].append(float(np.mean(running[-eval_every or -len(running):])))
                history["val_loss"].append(val_loss)
                log(f"step {step}: train {history['train_loss'][-1]:.4f}, validation {val_loss:.4f} nats/char")
                for group in optimizer.param_groups:
                    group["lr"] *= lr_decay
            if step >= total:
                break
    bar.close()
    history["seconds"] = time.perf_counter() - start
    return history


def length_buckets(lengths: np.ndarray, batch_size: int, shuffle: bool = True,
                   rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Index batches of similar lengths (little padding): sort by length, cut into batches,
    shuffle the order of the batches (and the ties inside a length, through a random key)."""
    rng = rng or np.random.default_rng(0)
    key = lengths + (rng.random(len(lengths)) if shuffle else 0)
    order = np.argsort(key, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def _first(output: tuple, target=None) -> Tensor:
    return output[0]


def run_epoch(batches: Sequence, step_fn: Callable, optimizer=None, parameters=None, clip: float | None = 1.0,
              desc: str = "", progress: bool = True) -> float:
    """One pass: ``step_fn(batch)`` returns (loss tensor, sample count); with an optimizer, each
    batch is one :class:`~profondo.train.step.TrainStep` (the loss backpropagated, the gradients
    of ``parameters`` clipped to norm ``clip``, the optimizer stepped).
    Returns the sample-weighted mean loss."""
    bar = ProgressBar(len(batches), desc, enabled=progress)
    # step_fn computes the loss itself: the step's "model" is step_fn, its loss the first output
    train_step = None if optimizer is None else \
        TrainStep(step_fn, optimizer, _first, max_grad_norm=clip, parameters=parameters)
    total = count = 0.0
    for batch in batches:
        loss, n = step_fn(batch) if train_step is None else train_step(batch).output
        total += loss.item() * n
        count += n
        bar.update(1, n, loss=total / count)
    bar.close()
    return total / max(count, 1)


def encode_texts(texts: Sequence[Sequence[str]], vocab, max_len: int | None = None) -> list[list[int]]:
    """Token lists -> id lists, cut to ``max_len``."""
    return [vocab.encode(t[:max_len] if max_len else t) for t in texts]


def train_classifier(model, train: tuple[list[list[int]], np.ndarray], test: tuple[list[list[int]], np.ndarray] | None
                     = None, *, epochs: int = 3, batch_size: int = 64, lr: float = 2e-3, clip: float | None = 1.0,
                     pad_id: int = 0, seed: int = 0, progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Fit a ``model(ids, lengths) -> logits`` classifier with Adam and cross-entropy on padded,
    length-bucketed batches; reports test accuracy after every epoch."""
    ids, labels = train
    lengths = np.array([len(s) for s in ids])
    optimizer = Adam(model.parameters(), lr=lr)
    params = list(model.parameters())
    rng = np.random.default_rng(seed)
    history: dict = {"train_loss": [], "test_accuracy": []}
    start = time.perf_counter()

    def step(batch):
        x, lens = pad_sequences([ids[i] for i in batch], pad_id)
        return F.cross_entropy(model(x, lens), labels[batch]), len(batch)

    for epoch in range(epochs):
        model.train()
        loss = run_epoch(length_buckets(lengths, batch_size, rng=rng), step, optimizer, params, clip,
                         f"epoch {epoch + 1}/{epochs}", progress)
        history["train_loss"].append(loss)
        if test is not None:
            history["test_accuracy"].append(classifier_accuracy(model, *test, pad_id=pad_id))
            log(f"epoch {epoch + 1}: train loss {loss:.4f}, test accuracy {history['test_accuracy'][-1]:.4f}")
    history["seconds"] = time.perf_counter() - start
    return history


@no_grad()
def classifier_accuracy(model, ids: list[list[int]], labels: np.ndarray, batch_size: int = 256, pad_id: int = 0) -> float:
    """Fraction of correct argmax predictions."""
    was_training = model.training
    model.eval()
    lengths = np.array([len(s) for s in ids])
    correct = 0
    for batch in length_buckets(lengths, batch_size, shuffle=False):
        x, lens = pad_sequences([ids[i] for i in batch], pad_id)
        correct += int((model(x, lens).numpy().argmax(1) == labels[batch]).sum())
    model.train(was_training)
    return correct / max(len(ids), 1)


def seq2seq_batch(sources: Sequence[list[int]], targets: Sequence[list[int]], sos_id: int, eos_id: int,
                  pad_id: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Padded (src, src_lengths, tgt_in, tgt_out): tgt_in = <s> + target, tgt_out = target + </s>."""
    src, src_lengths = pad_sequences(sources, pad_id)
    tgt_in, _ = pad_sequences([[sos_id, *t] for t in targets], pad_id)
    tgt_out, _ = pad_sequences([[*t, eos_id] for t in targets], pad_id)
    return src, src_lengths, tgt_in, tgt_out


def train_seq2seq(model, sources: list[list[int]], targets: list[list[int]], *, sos_id: int, eos_id: int,
                  pad_id: int = 0, epochs: int = 10, batch_size: int = 64, lr: float = 2e-3, clip: float | None = 1.0,
                  seed: int = 0, progress: bool = True, evaluate: Callable[[], float] | None = None,
                  log: Callable[[str], None] = print) -> dict:
    """Teacher forcing: the decoder reads the true previous token; cross-entropy ignores padding.
    ``evaluate()`` (e.g. exact-match accuracy on held-out pairs) runs after every epoch."""
    optimizer = Adam(model.parameters(), lr=lr)
    params = list(model.parameters())
    lengths = np.array([len(s) for s in sources])
    rng = np.random.default_rng(seed)
    history: dict = {"train_loss": [], "metric": []}
    start = time.perf_counter()

    def step(batch):
        src, src_len, tgt_in, tgt_out = seq2seq_batch([sources[i] for i in batch], [targets[i] for i in batch],
                                                      sos_id, eos_id, pad_id)
        logits = model(src, src_len, tgt_in)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=pad_id), len(batch)

    for epoch in range(epochs):
        model.train()
        loss = run_epoch(length_buckets(lengths, batch_size, rng=rng), step, optimizer, params, clip,
                         f"epoch {epoch + 1}/{epochs}", progress)
        history["train_loss"].append(loss)
        line = f"epoch {epoch + 1}: train loss {loss:.4f}"
        if evaluate is not None:
            history["metric"].append(evaluate())
            line += f", held-out {history['metric'][-1]:.4f}"
        log(line)
    history["seconds"] = time.perf_counter() - start
    return history
