"""OnnxOp: one ONNX node on Tensors, for operators with no profondo layer of their own."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import nn
from ..onnx_export import EXPORTERS, _Builder, _onnx, _Value
from .converters import OUTPUT, compute_fn, compute_ops


class OnnxOp(nn.Module):
    """One ONNX operator on Tensors, its constant inputs held as Parameters (float initializers,
    trainable) or buffers (named ``c0``, ``c1``, ... by input position).

    ``slots`` says, for each ONNX input, ``"input"`` (the module's next argument), ``"const"``
    or ``None`` (an omitted optional input).

    >>> op = OnnxOp("Add", slots=["input", "const"], constants={"1": {"shape": [4], "dtype": "float32",
    ...             "trainable": True}})
    >>> op(profondo.randn(2, 4)).shape
    (2, 4)
    """

    # Configs store "profondo.io.onnx_import.OnnxOp": the public home, whichever file defines it.
    __module__ = "profondo.io.onnx_import"

    def __init__(self, op: str, attrs: dict | None = None, slots: list | None = None,
                 constants: dict | None = None, n_outputs: int = 1) -> None:
        super().__init__()
        self.n_outputs = int(n_outputs)  # the first n outputs of a multi-output operator (a tuple when > 1)
        fn = compute_fn(op)
        if fn is None:
            raise ValueError(f"OnnxOp: unknown operator {op!r}; expected one of {compute_ops()}")
        self.op, self.attrs = op, dict(attrs or {})
        self.slots = list(slots or ["input"])
        self.constants = {str(k): dict(v) for k, v in (constants or {}).items()}
        self._fn = fn
        for i, slot in enumerate(self.slots):
            if slot == "const":
                c = self.constants[str(i)]
                array = np.zeros(c["shape"], np.dtype(c["dtype"]))
                if c.get("trainable"):
                    setattr(self, f"c{i}", nn.Parameter(array))
                else:
                    self.register_buffer(f"c{i}", array)

    def forward(self, *xs):
        it = iter(xs)
        args = [next(it) if s == "input" else None if s is None else self.__dict__[f"c{i}"]
                for i, s in enumerate(self.slots)]
        while args and args[-1] is None:  # trailing omitted optional inputs
            args.pop()
        out = self._fn(self.attrs, *args)
        if isinstance(out, tuple):
            return out[0] if self.n_outputs == 1 else out[:self.n_outputs]
        return out

    def extra_repr(self) -> str:
        return self.op + (f", {self.attrs}" if self.attrs else "")

    def get_config(self) -> dict[str, Any]:
        return {"op": self.op, "attrs": self.attrs, "slots": self.slots, "constants": self.constants,
                "n_outputs": self.n_outputs}



def export_onnx_op(b: _Builder, m: OnnxOp, name: str, *xs: _Value):
    """Write an OnnxOp back as its ONNX node (so an imported network exports again)."""
    if m.op == OUTPUT:
        return xs[0][m.attrs["index"]]
    it = iter(xs)
    inputs = [next(it).name if s == "input" else "" if s is None else b.const(f"{name}.c{i}", m.__dict__[f"c{i}"].numpy())
              for i, s in enumerate(m.slots)]
    attrs = {k: _attr_to_onnx(v) for k, v in m.attrs.items()}
    attrs = {k: v for k, v in attrs.items() if not k.startswith("_")}  # the importer's own notes (the opset)
    outs = b.node(m.op, inputs, name, n_outputs=m.n_outputs, **attrs)
    return _Value(outs[0], None) if m.n_outputs == 1 else tuple(_Value(o, None) for o in outs)


def _attr_to_onnx(value):
    if isinstance(value, dict) and "values" in value:  # a tensor attribute (ConstantOfShape's value)
        array = np.array(value["values"], np.dtype(value["dtype"])).reshape(value.get("shape", [-1]))
        return _onnx().numpy_helper.from_array(array)
    return value


EXPORTERS[OnnxOp] = export_onnx_op
