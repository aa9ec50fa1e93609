"""Recurrent layers: RNNCell, LSTMCell, GRUCell (one step), RNN, LSTM, GRU (a sequence) and
Recurrent (one of them returning a single tensor, for chains of layers).

Names, arguments, gate order and state-dict keys are PyTorch's (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse`` for the backward direction),
so ``layer.load_state_dict({k: v.numpy() for k, v in torch_layer.state_dict().items()})``
works both ways. Every weight starts from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

Variable-length batches: pass ``lengths`` (one per sequence) or a boolean ``mask`` (True on
real steps) to ``forward``; padded steps leave the state unchanged and output zeros, so the
outputs, final states and gradients equal those of each sequence run on its own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from ..functional import recurrent as R
from ..tensor import Tensor
from . import init as _init
from .counts import LayerCounts
from .module import Module, _shape
from .parameter import Parameter
from .vocabulary import BOOLEAN, POSITIVE, Field, FileKind, SpecError, boolean, number_in, one_of, positive

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def sequence_mask(lengths, max_len: int | None = None, batch_first: bool = False) -> np.ndarray:
    """Boolean mask, True on the first ``lengths[b]`` steps of sequence b.

    >>> sequence_mask([3, 1], 4)            # (T, N) time-first
    array([[ True,  True], [ True, False], [ True, False], [False, False]])
    """
    lengths = np.asarray(getattr(lengths, "data", lengths)).reshape(-1)
    if hasattr(lengths, "get"):  # a CuPy array
        lengths = lengths.get()
    if lengths.dtype.kind not in "iu" or (lengths.size and lengths.min() < 0):
        raise ValueError(f"sequence_mask: lengths must be non-negative integers, received {lengths.tolist()}")
    max_len = int(lengths.max(initial=0)) if max_len is None else int(max_len)
    if lengths.size and lengths.max() > max_len:
        raise ValueError(f"sequence_mask: a length of {int(lengths.max())} exceeds the sequence length {max_len}")
    mask = np.arange(max_len)[:, None] < lengths[None, :]
    return mask.T.copy() if batch_first else mask


def _uniform_all(module: Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        _init.uniform_(p, -bound, bound)


_NO_FILE_FORM = "a file's lstm, gru or rnn layer is an nn.Recurrent, which wraps this layer"


def _recurrent_counts(macs_per_step: int, steps: int, output_shape: tuple[int, ...]) -> LayerCounts:
    """The gate products W_ih x and W_hh h of every step are its connections and MACs."""
    return LayerCounts(math.prod(output_shape), steps * macs_per_step, steps * macs_per_step, steps=steps,
                       macs_per_step=macs_per_step)


class _CellBase(Module):
    mode = "LSTM"
    lacks = {"file_form": _NO_FILE_FORM}

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        rows = _GATES[self.mode] * self.hidden_size
        self.weight_ih = Parameter(np.empty((rows, self.input_size), np.float32))
        self.weight_hh = Parameter(np.empty((rows, self.hidden_size), np.float32))
        if bias:
            self.bias_ih = Parameter(np.empty(rows, np.float32))
            self.bias_hh = Parameter(np.empty(rows, np.float32))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every weight, as PyTorch."""
        _uniform_all(self, self.hidden_size)

    def _input(self, x) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__}({self.input_size}, {self.hidden_size}): expected an input of "
                             f"shape (batch, {self.input_size}), received {tuple(x.shape)}")
        return x

    def _zeros(self, x) -> Tensor:
        return Tensor(x.xp.zeros((x.shape[0], self.hidden_size), x.dtype))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, type(self).__name__)
        if shape != (self.input_size,):
            raise ValueError(f"{type(self).__name__}: expected a per-sample input of shape ({self.input_size},), "
                             f"received {shape}")
        return (self.hidden_size,)

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        """One step: W_ih x and W_hh h."""
        rows = _GATES[self.mode] * self.hidden_size
        return _recurrent_counts(rows * (self.input_size + self.hidden_size), 1, output_shape)


class RNNCell(_CellBase):
    """Elman cell: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (``nonlinearity="relu"`` for ReLU).

    >>> cell = RNNCell(10, 20); h = cell(profondo.randn(3, 10)); h.shape
    (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        R._check_nonlinearity(nonlinearity, "RNNCell")
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias)

    def forward(self, input, hx=None):
        x = self._input(input)
        return R.rnn_cell(x, self._zeros(x) if hx is None else hx, self.weight_ih, self.weight_hh,
                          self.bias_ih, self.bias_hh, self.nonlinearity)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity != "tanh" else "")


class LSTMCell(_CellBase):
    """One LSTM step, gates in PyTorch's order (i, f, g, o)::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g                             h' = o * tanh(c')

    ``forward(x, (h, c))`` returns ``(h', c')``; a missing state is zeros.

    >>> h, c = LSTMCell(10, 20)(profondo.randn(3, 10))
    """

    mode = "LSTM"

    def forward(self, input, hx=None):
        x = self._input(input)
        h, c = (self._zeros(x), self._zeros(x)) if hx is None else hx
        return R.lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(_CellBase):
    """One GRU step, gates in PyTorch's order (r, z, n)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)     z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h

    >>> h = GRUCell(10, 20)(profondo.randn(3, 10))
    """

    mode = "GRU"

    def forward(self, input, hx=None):
        x = self._input(input)
        return R.gru_cell(x, self._zeros(x) if hx is None else hx, self.weight_ih, self.weight_hh,
                          self.bias_ih, self.bias_hh)


class _RNNBase(Module):
    """Multi-layer, optionally bidirectional recurrent layer over a sequence."""

    mode = "LSTM"
    lacks = {"file_form": _NO_FILE_FORM}

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        if int(num_layers) < 1 or int(hidden_size) < 1 or int(input_size) < 1:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be positive, received "
                             f"{input_size}, {hidden_size}, {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), received {dropout}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        rows = _GATES[self.mode] * self.hidden_size
        directions = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            features = self.input_size if layer == 0 else self.hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                setattr(self, f"weight_ih_l{layer}{suffix}", Parameter(np.empty((rows, features), np.float32)))
                setattr(self, f"weight_hh_l{layer}{suffix}", Parameter(np.empty((rows, self.hidden_size), np.float32)))
                if self.bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(np.empty(rows, np.float32)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(np.empty(rows, np.float32)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every weight, as PyTorch."""
        _uniform_all(self, self.hidden_size)

    def _weights(self, layer: int, suffix: str) -> list:
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        return [self.__dict__[f"{n}_l{layer}{suffix}"] for n in names]

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _check_input(self, x) -> None:
        name = type(self).__name__
        layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}({self.input_size}, {self.hidden_size}): expected an input of shape {layout} "
                             f"with input_size {self.input_size} (or unbatched (seq_len, input_size)), "
                             f"received {tuple(x.shape)}")

    def _mask(self, x, lengths, mask):
        """The (T, N) step mask from ``lengths`` or ``mask`` (given in the input's layout)."""
        if lengths is None and mask is None:
            return None
        if lengths is not None and mask is not None:
            raise ValueError(f"{type(self).__name__}: give lengths or mask, not both")
        steps, batch = x.shape[:2]
        if lengths is not None:
            lengths = np.asarray(getattr(lengths, "data", lengths))
            if lengths.shape != (batch,):
                raise ValueError(f"{type(self).__name__}: lengths must hold one length per sequence ({batch}), "
                                 f"received shape {tuple(lengths.shape)}")
            m = sequence_mask(lengths, steps)
        else:
            m = np.asarray(getattr(mask, "data", mask))
            m = m.T if self.batch_first else m
            if m.shape != (steps, batch):
                expected = (batch, steps) if self.batch_first else (steps, batch)
                raise ValueError(f"{type(self).__name__}: mask must be {expected} like the input's first two axes, "
                                 f"received {tuple(m.T.shape if self.batch_first else m.shape)}")
            m = m.astype(bool)
        xp = x.xp
        return m if xp is np else xp.asarray(m)

    def _initial(self, x, hx):
        """Initial states as a list of per-(layer, direction) tensors of shape (N, H)."""
        count, batch = self.num_layers * self.num_directions, x.shape[1]
        if hx is None:
            return None
        if hx.shape != (count, batch, self.hidden_size):
            raise ValueError(f"{type(self).__name__}: initial state must be (num_layers * num_directions, batch, "
                             f"hidden_size) = {(count, batch, self.hidden_size)}, received {tuple(hx.shape)}")
        return [hx[i] for i in range(count)]

    def forward(self, input, hx=None, lengths=None, mask=None):
        """Run over the sequence; returns ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``).

        output: (seq_len, batch, directions * hidden_size) (batch first when ``batch_first``);
        h_n, c_n: (num_layers * directions, batch, hidden_size), the states after the last real
        step of each sequence (of its first step, for the reverse direction).
        """
        self._check_input(input)
        unbatched = input.ndim == 2
        x = F.unsqueeze(input, 1) if unbatched else (F.transpose(input, 0, 1) if self.batch_first else input)
        if unbatched and hx is not None:
            hx = tuple(F.unsqueeze(h, 1) for h in hx) if self.mode == "LSTM" else F.unsqueeze(hx, 1)
        step_mask = self._mask(x, lengths, mask)
        states = [self._initial(x, h) for h in (hx if self.mode == "LSTM" and hx is not None else (hx,))]
        zero = Tensor(x.xp.zeros((x.shape[1], self.hidden_size), x.dtype))
        finals: list[list] = [[], []]
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:self.num_directions]):
                index = layer * self.num_directions + d
                init = [zero if s is None else s[index] for s in states]
                if self.mode == "LSTM":
                    if len(init) == 1:
                        init = init * 2
                    y, h, c = R.lstm_sequence(x, init[0], init[1], *self._weights(layer, suffix), mask=step_mask,
                                              reverse=bool(d))
                    finals[1].append(c)
                elif self.mode == "GRU":
                    y, h = R.gru_sequence(x, init[0], *self._weights(layer, suffix), mask=step_mask, reverse=bool(d))
                else:
                    y, h = R.rnn_sequence(x, init[0], *self._weights(layer, suffix), nonlinearity=self.nonlinearity,
                                          mask=step_mask, reverse=bool(d))
                finals[0].append(h)
                outs.append(y)
            x = outs[0] if len(outs) == 1 else F.concat(outs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        output = F.squeeze(x, 1) if unbatched else (F.transpose(x, 0, 1) if self.batch_first else x)
        h_n = F.stack(finals[0], 0)
        if unbatched:
            h_n = F.squeeze(h_n, 1)
        if self.mode != "LSTM":
            return output, h_n
        c_n = F.stack(finals[1], 0)
        return output, (h_n, F.squeeze(c_n, 1) if unbatched else c_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for key, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        return s

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample (seq_len, input_size) -> (seq_len, directions * hidden_size)."""
        shape = _shape(input_shape, type(self).__name__)
        if len(shape) != 2 or shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__}({self.input_size}, {self.hidden_size}): expected a per-sample "
                             f"input of shape (seq_len, {self.input_size}), received {shape}")
        return (shape[0], self.num_directions * self.hidden_size)

    def macs_per_step(self) -> int:
        """Multiply-accumulates of one time step for one sequence (all layers and directions):
        the gate products W_ih x and W_hh h; element-wise gate math is not counted."""
        rows = _GATES[self.mode] * self.hidden_size
        total = 0
        for layer in range(self.num_layers):
            features = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            total += self.num_directions * rows * (features + self.hidden_size)
        return total

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return _recurrent_counts(self.macs_per_step(), input_shapes[0][0], output_shape)  # per-sample (T, features)


class RNN(_RNNBase):
    """Elman RNN over a sequence: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) per layer.

    >>> rnn = RNN(10, 20, num_layers=2, batch_first=True)
    >>> out, h_n = rnn(profondo.randn(3, 5, 10)); out.shape, h_n.shape
    ((3, 5, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False) -> None:
        R._check_nonlinearity(nonlinearity, "RNN")
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity != "tanh" else "")


class LSTM(_RNNBase):
    """Multi-layer LSTM over a sequence (equations in :class:`LSTMCell`), one fused operator per
    layer and direction. ``forward(x, (h0, c0), lengths=None, mask=None)`` returns
    ``(output, (h_n, c_n))``.

    >>> lstm = LSTM(10, 20, num_layers=2, bidirectional=True)
    >>> out, (h, c) = lstm(profondo.randn(5, 3, 10), lengths=[5, 4, 2]); out.shape
    (5, 3, 40)
    """

    mode = "LSTM"


class GRU(_RNNBase):
    """Multi-layer GRU over a sequence (equations in :class:`GRUCell`).

    >>> out, h_n = GRU(10, 20)(profondo.randn(5, 3, 10)); h_n.shape
    (1, 3, 20)
    """

    mode = "GRU"


_LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
_OUTPUTS = ("sequence", "last", "mean", "max")


def _recurrent_from_file(kind: str):
    def build(p: dict[str, Any], shapes: list[tuple[int, ...]], at: str) -> list[tuple[str, Module]]:
        (shape,) = shapes
        if len(shape) != 2:
            raise SpecError(f"{at}: '{kind}' expects an input [seq_len, features] (from an embedding or a recurrent "
                            f"layer with output: sequence), received {list(shape)}")
        extra = {"nonlinearity": p["nonlinearity"]} if kind == "rnn" else {}
        return [("", Recurrent(kind, shape[1], p["hidden"], p["layers"], p["bidirectional"], p["dropout"],
                               p["output"], **extra))]

    return build


# `output` is what the next layer reads: all steps or one summary vector.
_RECURRENT_FIELDS = {
    "hidden": Field(positive, POSITIVE), "layers": Field(positive, POSITIVE, 1),
    "bidirectional": Field(boolean, BOOLEAN, False),
    "dropout": Field(number_in(0, 1, high_open=True), "a probability in [0, 1) (between stacked layers)", 0.0, True),
    "output": Field(one_of(*_OUTPUTS), "last, sequence, mean or max", "last")}
_RECURRENT_KINDS = (
    FileKind("lstm", _RECURRENT_FIELDS, _recurrent_from_file("lstm")),
    FileKind("gru", _RECURRENT_FIELDS, _recurrent_from_file("gru")),
    FileKind("rnn", {**_RECURRENT_FIELDS, "nonlinearity": Field(one_of("tanh", "relu"), "tanh or relu", "tanh")},
             _recurrent_from_file("rnn")))


class Recurrent(Module):
    """A batch-first recurrent layer that returns one tensor, for chains of layers (Sequential,
    architecture files): the outputs of every step, or the sequence summarised by its last
    step (the final states of the last layer, both directions), its mean or its max.

    ``Recurrent("lstm", 64, 128, output="last")`` maps (N, T, 64) to (N, 128); the wrapped
    layer is ``.rnn`` (state-dict keys ``rnn.weight_ih_l0``, ...). ``forward(x, lengths)``
    takes optional lengths so that padding changes nothing.

    >>> Sequential(Embedding(1000, 32), Recurrent("gru", 32, 64), Linear(64, 2))
    """

    file_kinds = _RECURRENT_KINDS

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, output: str = "last",
                 nonlinearity: str = "tanh") -> None:
        super().__init__()
        if cell not in _LAYERS:
            raise ValueError(f"Recurrent: cell must be one of {sorted(_LAYERS)}, received {cell!r}")
        if output not in _OUTPUTS:
            raise ValueError(f"Recurrent: output must be one of {_OUTPUTS}, received {output!r}")
        self.cell, self.input_size, self.hidden_size, self.num_layers = cell, input_size, hidden_size, num_layers
        self.bidirectional, self.dropout, self.output, self.nonlinearity = bidirectional, dropout, output, nonlinearity
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = _LAYERS[cell](input_size, hidden_size, num_layers, batch_first=True, dropout=dropout,
                                 bidirectional=bidirectional, **extra)

    def forward(self, x, lengths=None):
        y, state = self.rnn(x, lengths=lengths)
        if self.output == "sequence":
            return y
        if self.output == "last":
            h = state[0] if isinstance(state, tuple) else state
            last = [h[-1 - d] for d in range(self.rnn.num_directions)][::-1]  # forward, then backward
            return last[0] if len(last) == 1 else F.concat(last, axis=1)
        xp = y.xp
        steps = y.shape[1]
        lengths = np.full(y.shape[0], steps) if lengths is None else np.asarray(getattr(lengths, "data", lengths))
        if self.output == "mean":
            return y.sum(axis=1) / Tensor(xp.asarray(lengths[:, None], y.dtype))
        mask = xp.asarray(sequence_mask(lengths, steps, batch_first=True))[..., None]
        return (y + Tensor(xp.where(mask, 0, -1e4).astype(y.dtype))).amax(axis=1)

    def extra_repr(self) -> str:
        return f"{self.cell!r}, output={self.output!r}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample (seq_len, input_size) -> (seq_len, D*H) for "sequence", else (D*H,)."""
        shape = self.rnn.output_shape(input_shape)
        return shape if self.output == "sequence" else shape[1:]

    def macs_per_step(self) -> int:
        """Multiply-accumulates of one time step (see :meth:`LSTM.macs_per_step`)."""
        return self.rnn.macs_per_step()

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return _recurrent_counts(self.macs_per_step(), input_shapes[0][0], output_shape)

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        rnn, shape = self.rnn, input_shapes[0]
        if len(shape) != 2 or shape[1] != rnn.input_size:
            raise SpecError(f"{at}: input_size={rnn.input_size} but the layer receives {list(shape)}")
        if not rnn.bias:
            raise SpecError(f"{at}: a recurrent layer without biases has no file form")
        fields = {"hidden": rnn.hidden_size, "layers": rnn.num_layers, "bidirectional": rnn.bidirectional,
                  "dropout": rnn.dropout, "output": self.output}
        if self.cell == "rnn":
            fields["nonlinearity"] = rnn.nonlinearity
        return self.cell, fields


def has_recurrent(module: Module) -> bool:
    """Whether a network contains a recurrent layer or cell (trainers turn gradient clipping
    on by default for such networks). ``has_recurrent(Sequential(Embedding(9, 4), Recurrent("gru", 4, 8)))``"""
    return any(isinstance(m, (_CellBase, _RNNBase)) for m in module.modules())
