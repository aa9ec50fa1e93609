"""Language models: a character-level language model, a review classifier and an
encoder-decoder with attention, plus greedy and beam-search decoding.

>>> lm = CharLM(vocab_size=65, embedding_dim=64, hidden_size=256)
>>> logits, state = lm(ids)                      # ids (T, N) -> logits (T, N, 65)
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..nn.dropout import Dropout
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.recurrent import GRU, LSTM, RNN, sequence_mask
from ..tensor import Tensor

_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def _cell(cell: str, where: str):
    if cell not in _CELLS:
        raise ValueError(f"{where}: cell must be one of {sorted(_CELLS)}, received {cell!r}")
    return _CELLS[cell]


def detach_state(state):
    """The recurrent state cut from the graph (truncated BPTT): a tensor, a tuple of them, or None."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def _ids(ids) -> Tensor:
    ids = ids if isinstance(ids, Tensor) else Tensor(np.asarray(ids))
    if ids.dtype.kind not in "iu":
        raise TypeError(f"expected integer token ids, received dtype {ids.dtype}")
    return ids


class CharLM(Module):
    """Embedding -> recurrent layers -> linear head over the vocabulary, time-first.

    ``forward(ids, state)`` takes ids (T, N) and the state carried from the previous chunk
    (None at the start) and returns logits (T, N, vocab_size) and the new state.

    >>> logits, state = CharLM(65)(profondo.tensor(np.zeros((64, 32), np.int64)))
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
                 dropout: float = 0.0, cell: str = "lstm") -> None:
        super().__init__()
        self.vocab_size, self.embedding_dim, self.hidden_size = vocab_size, embedding_dim, hidden_size
        self.num_layers, self.dropout, self.cell = num_layers, dropout, cell
        self.embedding = Embedding(vocab_size, embedding_dim)
        self.rnn = _cell(cell, "CharLM")(embedding_dim, hidden_size, num_layers, dropout=dropout)
        self.drop = Dropout(dropout)
        self.head = Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        y, state = self.rnn(self.embedding(_ids(ids)), state)
        return self.head(self.drop(y)), state


class SentimentClassifier(Module):
    """Embedding -> (bidirectional) recurrent layers -> mean and max over the real steps -> linear.

    ``forward(ids, lengths)``: ids (N, T) padded with ``padding_idx``, lengths (N,) -> logits
    (N, num_classes). Padding changes nothing: the recurrent layers skip it and the pooling
    ignores it.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, cell: str = "gru", dropout: float = 0.0, num_classes: int = 2,
                 padding_idx: int = 0) -> None:
        super().__init__()
        self.vocab_size, self.embedding_dim, self.hidden_size = vocab_size, embedding_dim, hidden_size
        self.num_layers, self.bidirectional, self.cell, self.dropout = num_layers, bidirectional, cell, dropout
        self.num_classes, self.padding_idx = num_classes, padding_idx
        self.embedding = Embedding(vocab_size, embedding_dim, padding_idx)
        self.rnn = _cell(cell, "SentimentClassifier")(embedding_dim, hidden_size, num_layers, batch_first=True,
                                                      dropout=dropout, bidirectional=bidirectional)
        self.drop = Dropout(dropout)
        self.head = Linear(2 * hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, ids, lengths):
        ids = _ids(ids)
        lengths = np.asarray(getattr(lengths, "data", lengths))
        if np.any(lengths < 1):
            raise ValueError("SentimentClassifier: every sequence needs at least one token (a length >= 1)")
        y, _ = self.rnn(self.drop(self.embedding(ids)), lengths=lengths)  # (N, T, D*H), zeros on padding
        xp = y.xp
        mask = xp.asarray(sequence_mask(lengths, ids.shape[1], batch_first=True))[..., None]
        mean = y.sum(axis=1) / Tensor(xp.asarray(lengths[:, None], y.dtype))
        peak = (y + Tensor(xp.where(mask, 0, -1e4).astype(y.dtype))).amax(axis=1)
        return self.head(self.drop(F.concat([mean, peak], axis=1)))


class Seq2Seq(Module):
    """Encoder-decoder with Luong attention, batch-first.

    The encoder (bidirectional by default) reads the source; its final state, through a
    tanh bridge, starts the decoder. At each target step the decoder output h_t attends
    over the encoder outputs e_s (scores h_t^T W_a e_s for ``attention="general"``, h_t^T e_s
    for "dot"; padding masked), and tanh(W_c [h_t; context]) predicts the next token.
    ``forward(src, src_lengths, tgt_in)`` is teacher forcing: tgt_in is the target shifted
    right (starting with the start token); logits are (N, T, tgt_vocab_size).
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embedding_dim: int = 64, hidden_size: int = 128,
                 cell: str = "gru", attention: str = "general", bidirectional: bool = True, dropout: float = 0.0,
                 padding_idx: int = 0) -> None:
        super().__init__()
        if attention not in ("general", "dot", "none"):
            raise ValueError(f"Seq2Seq: attention must be 'general', 'dot' or 'none', received {attention!r}")
        directions = 2 if bidirectional else 1
        if attention == "dot" and directions != 1:
            raise ValueError("Seq2Seq: dot attention needs encoder outputs of the decoder's size: "
                             "use bidirectional=False or attention='general'")
        self.src_vocab_size, self.tgt_vocab_size, self.embedding_dim = src_vocab_size, tgt_vocab_size, embedding_dim
        self.hidden_size, self.cell, self.attention = hidden_size, cell, attention
        self.bidirectional, self.dropout, self.padding_idx = bidirectional, dropout, padding_idx
        rnn = _cell(cell, "Seq2Seq")
        encoded = hidden_size * directions
        self.src_embedding = Embedding(src_vocab_size, embedding_dim, padding_idx)
        self.encoder = rnn(embedding_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.bridge = Linear(encoded, hidden_size)
        self.tgt_embedding = Embedding(tgt_vocab_size, embedding_dim, padding_idx)
        self.decoder = rnn(embedding_dim, hidden_size, batch_first=True)
        if attention == "general":
            self.attn = Linear(hidden_size, encoded, bias=False)
        self.combine = Linear(hidden_size + (encoded if attention != "none" else 0), hidden_size)
        self.drop = Dropout(dropout)
        self.out = Linear(hidden_size, tgt_vocab_size)

    def encode(self, src, src_lengths):
        """Encoder outputs (N, S, D*H), the attention bias (N, 1, S) and the decoder's first state."""
        src = _ids(src)
        lengths = np.asarray(getattr(src_lengths, "data", src_lengths))
        enc, state = self.encoder(self.drop(self.src_embedding(src)), lengths=lengths)
        h = state[0] if isinstance(state, tuple) else state  # (D, N, H): last layer's directions
        last = F.concat([h[i] for i in range(h.shape[0])], axis=1) if h.shape[0] > 1 else h[0]
        h0 = F.unsqueeze(F.tanh(self.bridge(last)), 0)
        start = (h0, Tensor(h0.xp.zeros(h0.shape, h0.dtype))) if self.cell == "lstm" else h0
        xp = enc.xp
        mask = xp.asarray(sequence_mask(lengths, src.shape[1], batch_first=True))
        bias = Tensor(xp.where(mask, 0, -1e9).astype(enc.dtype)[:, None, :])
        return enc, bias, start

    def decode(self, tgt_in, state, enc, bias):
        """Logits (N, T, V) for the target inputs (N, T) and the decoder state after them."""
        dec, state = self.decoder(self.drop(self.tgt_embedding(_ids(tgt_in))), state)
        if self.attention == "none":
            features = dec
        else:
            query = self.attn(dec) if self.attention == "general" else dec
            weights = F.softmax(query @ F.transpose(enc, 1, 2) + bias, axis=-1)  # (N, T, S)
            features = F.concat([dec, weights @ enc], axis=2)
        return self.out(self.drop(F.tanh(self.combine(features)))), state

    def forward(self, src, src_lengths, tgt_in):
        enc, bias, state = self.encode(src, src_lengths)
        return self.decode(tgt_in, state, enc, bias)[0]


def _select(state, rows):
    """Rows (batch entries) of a decoder state: axis 1 of (layers, N, H)."""
    if isinstance(state, tuple):
        return tuple(Tensor(s.data[:, rows]) for s in state)
    return Tensor(state.data[:, rows])


@no_grad()
def greedy_decode(model: Seq2Seq, src, src_lengths, sos_id: int, eos_id: int, max_len: int = 50) -> list[list[int]]:
    """The most likely token at each step, until ``eos_id`` or ``max_len`` tokens (eos excluded).

    >>> greedy_decode(model, src, lengths, vocab.id("<s>"), vocab.id("</s>"))
    [[12, 5, 9], ...]
    """
    was_training = model.training
    model.eval()
    enc, bias, state = model.encode(src, src_lengths)
    n = enc.shape[0]
    token = np.full((n, 1), sos_id, np.int64)
    out = np.zeros((n, 0), np.int64)
    done = np.zeros(n, bool)
    for _ in range(max_len):
        logits, state = model.decode(token, state, enc, bias)
        token = logits.numpy()[:, -1].argmax(-1)[:, None]
        out = np.concatenate([out, token], axis=1)
        done |= token[:, 0] == eos_id
        if done.all():
            break
    model.train(was_training)
    return [list(row[: list(row).index(eos_id)] if eos_id in row else row) for row in out.tolist()]


@no_grad()
def beam_search(model: Seq2Seq, src, src_lengths, sos_id: int, eos_id: int, beam_size: int = 5,
                max_len: int = 50, length_penalty: float = 0.6) -> list[list[int]]:
    """Beam search over every source in the batch at once (beams folded into the batch axis).

    Each step keeps the ``beam_size`` best partial outputs by total log-probability; a
    finished beam (one that emitted ``eos_id``) keeps its score. The answer is the beam with
    the best score / length ** length_penalty (0 ranks by log-probability alone).

    >>> beam_search(model, src, lengths, sos, eos, beam_size=5)
    """
    if beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be >= 1, received {beam_size}")
    was_training = model.training
    model.eval()
    enc, bias, state = model.encode(src, src_lengths)
    n, k = enc.shape[0], beam_size
    rows = np.repeat(np.arange(n), k)
    enc, bias, state = Tensor(enc.data[rows]), Tensor(bias.data[rows]), _select(state, rows)
    scores = np.full((n, k), -np.inf)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    tokens = np.zeros((n, k, 0), np.int64)
    lengths = np.zeros((n, k), np.int64)
    done = np.zeros((n, k), bool)
    last = np.full(n * k, sos_id, np.int64)
    for _ in range(max_len):
        logits, state = model.decode(last[:, None], state, enc, bias)
        logp = F.log_softmax(logits[:, -1], axis=-1).numpy().astype(np.float64).reshape(n, k, -1)
        vocab = logp.shape[-1]
        logp[done] = -np.inf
        logp[done, eos_id] = 0.0  # a finished beam stays as it is
        flat = (scores[:, :, None] + logp).reshape(n, -1)
        best = np.argsort(-flat, axis=1, kind="stable")[:, :k]
        origin, token = best // vocab, best % vocab
        scores = np.take_along_axis(flat, best, axis=1)
        tokens = np.concatenate([np.take_along_axis(tokens, origin[..., None], axis=1), token[..., None]], axis=2)
        was_done = np.take_along_axis(done, origin, axis=1)
        lengths = np.take_along_axis(lengths, origin, axis=1) + ~was_done
        done = was_done | (token == eos_id)
        state = _select(state, (np.arange(n)[:, None] * k + origin).reshape(-1))
        last = token.reshape(-1)
        if done.all():
            break
    model.train(was_training)
    ranked = scores / np.maximum(lengths, 1) ** length_penalty
    choice = ranked.argmax(axis=1)
    results = []
    for i, j in enumerate(choice):
        seq = tokens[i, j].tolist()
        results.append(seq[: seq.index(eos_id)] if eos_id in seq else seq)
    return results
