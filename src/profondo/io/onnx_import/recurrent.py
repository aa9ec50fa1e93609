"""LSTM and GRU in ONNX's layout: profondo's layers behind ONNX's interface and weight order."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import functional as F
from ...nn.recurrent import GRU, LSTM
from ...tensor import Tensor
from ..onnx_export import EXPORTERS, _Builder, _Value

# PyTorch's gate order in ONNX's: LSTM i, f, g, o <- ONNX i, o, f, c; GRU r, z, n <- ONNX z, r, h
LSTM_ORDER, GRU_ORDER = [0, 3, 1, 2], [1, 0, 2]


def reorder(w: np.ndarray, order, n: int) -> np.ndarray:
    """Reorder the ``n`` stacked gate blocks of ``w`` along axis 0."""
    blocks = np.split(np.asarray(w), n, axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


class _OnnxLayout:
    """ONNX's interface over profondo's LSTM/GRU (mixed in before the layer class).

    ``forward(X, initial_h[, initial_c])`` returns Y (T, directions, N, H), then Y_h (and Y_c
    for an LSTM), each (directions, N, H) (``layout=1``: batch first), the first
    ``n_outputs`` of them. ``slots`` says for each ONNX input whether it is the next argument
    (``"input"``), a constant buffer (``"const"``, named ``c1``, ``c2`` by position) or omitted.
    """

    onnx_op: str
    n_gates: int
    gate_order: list[int]

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = False, layout: int = 0,
                 n_outputs: int = 1, slots: list | None = None, constants: dict | None = None) -> None:
        super().__init__(input_size, hidden_size, bidirectional=bidirectional, batch_first=bool(layout))
        self.layout, self.n_outputs, self.slots = int(layout), int(n_outputs), list(slots or ["input"])
        self.constants = {str(k): dict(v) for k, v in (constants or {}).items()}
        for i, slot in enumerate(self.slots):  # constant initial states
            if slot == "const":
                c = self.constants[str(i)]
                self.register_buffer(f"c{i}", np.zeros(c["shape"], np.dtype(c["dtype"])))

    def forward(self, *xs):
        it = iter(xs)
        args = [next(it) if s == "input" else None if s is None else self.__dict__[f"c{i}"]
                for i, s in enumerate(self.slots)]
        x, h0, c0 = (args + [None, None, None])[:3]
        if self.layout and h0 is not None:
            h0 = F.transpose(h0, 0, 1)
            c0 = None if c0 is None else F.transpose(c0, 0, 1)
        if self.onnx_op == "LSTM":
            zeros = None if h0 is None and c0 is None else Tensor(x.xp.zeros(
                (self.num_directions, x.shape[1 - self.layout], self.hidden_size), x.dtype))
            hx = None if zeros is None else (zeros if h0 is None else h0, zeros if c0 is None else c0)
            y, (h, c) = super().forward(x, hx)
            states = [h, c]
        else:
            y, h = super().forward(x, h0)
            states = [h]
        d, hidden = self.num_directions, self.hidden_size
        if self.layout:  # (N, T, dirs*H) -> (N, T, dirs, H); states (N, dirs, H)
            y = F.reshape(y, (y.shape[0], y.shape[1], d, hidden))
            states = [F.transpose(s, 0, 1) for s in states]
        else:  # (T, N, dirs*H) -> (T, dirs, N, H)
            y = F.permute(F.reshape(y, (y.shape[0], y.shape[1], d, hidden)), (0, 2, 1, 3))
        outs = [y, *states][:self.n_outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def get_config(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "bidirectional": self.bidirectional, "layout": self.layout, "n_outputs": self.n_outputs,
                "slots": self.slots, "constants": self.constants}

    def load_onnx(self, w: np.ndarray, r: np.ndarray, bias: np.ndarray | None) -> None:
        """Set the weights from ONNX's W (dirs, G*H, I), R (dirs, G*H, H), B (dirs, 2*G*H)."""
        hidden, n_gates = self.hidden_size, self.n_gates
        inverse = np.argsort(self.gate_order)
        for d, suffix in enumerate(("", "_reverse")[:self.num_directions]):
            gates = {"weight_ih": w[d], "weight_hh": r[d],
                     "bias_ih": bias[d, :n_gates * hidden] if bias is not None else 0.0,
                     "bias_hh": bias[d, n_gates * hidden:] if bias is not None else 0.0}
            for key, value in gates.items():
                target = self.__dict__[f"{key}_l0{suffix}"].data
                target[...] = reorder(np.broadcast_to(value, target.shape), inverse, n_gates)


class OnnxLSTM(_OnnxLayout, LSTM):
    __doc__ = "profondo's LSTM with ONNX's interface and gate order (i, o, f, c).\n\n" + _OnnxLayout.__doc__
    onnx_op, n_gates, gate_order = "LSTM", 4, LSTM_ORDER
    __module__ = "profondo.io.onnx_import"  # configs store the public home, whichever file defines it


class OnnxGRU(_OnnxLayout, GRU):
    __doc__ = "profondo's GRU with ONNX's interface and gate order (z, r, h).\n\n" + _OnnxLayout.__doc__
    onnx_op, n_gates, gate_order = "GRU", 3, GRU_ORDER
    __module__ = "profondo.io.onnx_import"  # configs store the public home, whichever file defines it

def export_onnx_layout(b: _Builder, m: _OnnxLayout, name: str, *xs: _Value):
    """Write an imported LSTM/GRU back as its ONNX node (so an imported network exports again)."""
    order, n_gates = m.gate_order, m.n_gates
    dirs, state = m.num_directions, m.state_arrays()
    sfx = ["_l0", "_l0_reverse"][:dirs]
    w = np.stack([reorder(state[f"weight_ih{s}"], order, n_gates) for s in sfx])
    r = np.stack([reorder(state[f"weight_hh{s}"], order, n_gates) for s in sfx])
    bias = np.stack([np.concatenate([reorder(state[f"bias_ih{s}"], order, n_gates),
                                     reorder(state[f"bias_hh{s}"], order, n_gates)]) for s in sfx])
    it = iter(xs)
    given = [next(it).name if s == "input" else "" if s is None else b.const(f"{name}.c{i}", m.__dict__[f"c{i}"].numpy())
             for i, s in enumerate(m.slots)]
    inputs = [given[0], b.const(f"{name}.W", w), b.const(f"{name}.R", r), b.const(f"{name}.B", bias), "",
              *given[1:]]
    attrs = {"hidden_size": m.hidden_size, "direction": "bidirectional" if dirs == 2 else "forward",
             "layout": m.layout or None, "linear_before_reset": 1 if m.onnx_op == "GRU" else None}
    outs = b.node(m.onnx_op, inputs, name, n_outputs=m.n_outputs, **attrs)
    values = [_Value(o, None) for o in outs]
    return values[0] if len(values) == 1 else tuple(values)


EXPORTERS[OnnxLSTM] = EXPORTERS[OnnxGRU] = export_onnx_layout
