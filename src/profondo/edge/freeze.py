"""Freeze a profondo network into an :class:`~profondo.edge.runtime.EdgeModel` (float32).

The network (Sequential or Graph of :mod:`profondo.nn` layers) is written as a plan of
runtime steps, then simplified: dropout and identity layers vanish, a batch norm after a
convolution or linear layer is folded into its weights (``w * gamma / sqrt(var + eps)``,
computed in float64), a standalone batch norm becomes one per-channel scale and shift,
and an activation is fused into the step that produces its input when nothing else reads
that value. Evaluation-mode semantics throughout (running statistics, no dropout).

>>> edge = freeze(profondo.architecture.zoo.load("lenet5"))
>>> edge(np.zeros((1, 1, 28, 28), np.float32)).shape
(1, 10)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from .. import nn
from ..nn.graph import Add, Concat, unsupported_modules, walk_layers
from .runtime import FORMAT, VERSION, EdgeModel


def _pairs(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))



class _Plan:
    def __init__(self) -> None:
        self.steps: list[dict] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.n_slots = 1  # slot 0: the input

    def step(self, op: str, name: str, inputs: list[int], attrs: dict | None = None,
             params: dict[str, np.ndarray] | None = None, act: dict | None = None) -> int:
        out = self.n_slots
        self.n_slots += 1
        names = {}
        for key, array in (params or {}).items():
            names[key] = f"{name}.{key}"
            self.arrays[names[key]] = np.ascontiguousarray(array, np.float32)
        self.steps.append({"op": op, "name": name, "inputs": inputs, "output": out, "attrs": attrs or {},
                           "params": names, "act": act})
        return out


def _bias(m) -> dict[str, np.ndarray]:
    return {} if m.bias is None else {"bias": m.bias.numpy()}


def _conv(p: _Plan, m: nn.Conv2d, name: str, x: int) -> int:
    return p.step("conv", name, [x], {"stride": list(m.stride), "padding": list(m.padding),
                                      "dilation": list(m.dilation), "groups": m.groups},
                  {"weight": m.weight.numpy(), **_bias(m)})


def _pool(op: str) -> Callable:
    def plan(p: _Plan, m, name: str, x: int) -> int:
        return p.step(op, name, [x], {"kernel": list(_pairs(m.kernel_size)), "stride": list(_pairs(m.stride)),
                                      "padding": list(_pairs(m.padding))})

    return plan


def _batch_norm(p: _Plan, m, name: str, x: int) -> int:
    if not m.track_running_stats:
        raise ValueError(f"{name}: batch norm without running statistics has no inference form")
    scale = 1.0 / np.sqrt(m.running_var.numpy().astype(np.float64) + m.eps)
    if m.affine:
        scale = scale * m.weight.numpy()
    shift = -m.running_mean.numpy() * scale + (m.bias.numpy() if m.affine else 0.0)
    # float64 until folded: the plan casts to float32 when the step is final
    step = p.step("scale_shift", name, [x])
    p.steps[-1]["fold"] = (scale, shift)
    return step


def _act(kind: str, **fields) -> Callable:
    def make(p: _Plan, m, name: str, x: int) -> int:
        act = {"kind": kind, **{k: getattr(m, attr) for k, attr in fields.items()}}
        return p.step("act", name, [x], act=act)

    return make


LAYERS: dict[type, Callable] = {
    nn.Conv2d: _conv,
    nn.Linear: lambda p, m, name, x: p.step("linear", name, [x], {}, {"weight": m.weight.numpy(), **_bias(m)}),
    nn.MaxPool2d: _pool("maxpool"), nn.AvgPool2d: _pool("avgpool"),
    nn.GlobalAvgPool2d: lambda p, m, name, x: p.step("global_avgpool", name, [x]),
    nn.BatchNorm1d: _batch_norm, nn.BatchNorm2d: _batch_norm,
    nn.Flatten: lambda p, m, name, x: p.step("flatten", name, [x], {"start_dim": m.start_dim, "end_dim": m.end_dim}),
    nn.Dropout: lambda p, m, name, x: x, nn.Identity: lambda p, m, name, x: x,
    nn.ReLU: _act("relu"), nn.ReLU6: _act("relu6"), nn.LeakyReLU: _act("leaky_relu", slope="negative_slope"),
    nn.Sigmoid: _act("sigmoid"), nn.Tanh: _act("tanh"), nn.Softmax: _act("softmax", dim="dim"),
    nn.LogSoftmax: _act("log_softmax", dim="dim"),
    nn.LocalResponseNorm: lambda p, m, name, x: p.step("lrn", name, [x], {"size": m.size, "alpha": m.alpha,
                                                                         "beta": m.beta, "k": m.k}),
    nn.Upsample: lambda p, m, name, x: p.step("upsample", name, [x], {
        "size": None if m.size is None else list(_pairs(m.size)),
        "scale": None if m.scale_factor is None else [float(f) for f in (
            m.scale_factor if isinstance(m.scale_factor, tuple) else (m.scale_factor,) * 2)]}),
    Add: lambda p, m, name, *xs: p.step("add", name, list(xs)),
    Concat: lambda p, m, name, *xs: p.step("concat", name, list(xs), {"axis": m.axis}),
}
"""Layer class -> ``fn(plan, module, name, *input_slots) -> output slot`` (extend to freeze a new
layer; a new step kind also needs its kernel in :mod:`profondo.edge.runtime`). Plain Sequential
and Graph containers are walked: their children are planned in their place."""

_RECURRENT = ("a recurrence over time steps: the edge runtime has convolution, dense, pooling and "
              "element-wise kernels only")
NOT_FREEZABLE: dict[type, str] = {
    nn.Module: "the base class: a subclass's forward is arbitrary code; build networks from the layers in "
               "LAYERS inside Sequential or Graph",
    nn.ModuleList: "a list of modules with no forward of its own: the network that holds it decides what runs",
    nn.ModuleDict: "a dict of modules with no forward of its own: the network that holds it decides what runs",
    nn.AdaptiveAvgPool2d: "its windows depend on the input size; use GlobalAvgPool2d (with Flatten) or AvgPool2d "
                          "for a network that is exported",
    **{loss: "a loss maps (prediction, target) to a training signal; it is not part of the network that runs"
       for loss in (nn.BCELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss, nn.HuberLoss, nn.KLDivLoss, nn.L1Loss,
                    nn.MSELoss, nn.NLLLoss, nn.SmoothL1Loss)},
    nn.Embedding: "a table lookup of integer indices: the edge runtime takes float inputs only",
    nn.RNN: _RECURRENT, nn.LSTM: _RECURRENT, nn.GRU: _RECURRENT, nn.Recurrent: _RECURRENT,
    nn.RNNCell: _RECURRENT, nn.LSTMCell: _RECURRENT, nn.GRUCell: _RECURRENT,
    nn.EfficientNetLite0: "a network written in code: TensorFlow \"SAME\" padding that depends on the input "
                          "size (Conv2dSame) and residual blocks with drop-connect (MBConvBlock)",
}
"""Classes of :mod:`profondo.nn` that deliberately have no frozen form, with the reason."""


def _simplify(p: _Plan, outputs: list[int]) -> list[int]:
    """Fold batch norms into the weights before them and fuse activations into their producers."""
    producer = {s["output"]: s for s in p.steps}
    uses = Counter(i for s in p.steps for i in s["inputs"]) + Counter(outputs)
    alias: dict[int, int] = {}

    def merge(step: dict, into: dict) -> None:  # step's output is now into's output
        alias[step["output"]] = into["output"]
        uses[into["output"]] = uses[step["output"]]

    kept = []
    for s in p.steps:
        s["inputs"] = [alias.get(i, i) for i in s["inputs"]]
        src = producer.get(s["inputs"][0]) if s["inputs"] else None
        alone = src is not None and uses[s["inputs"][0]] == 1  # a model output counts as a use
        if s["op"] == "scale_shift":
            scale, shift = s.pop("fold")
            if alone and src["op"] in ("conv", "linear") and not src.get("act"):
                w = p.arrays[src["params"]["weight"]].astype(np.float64)
                p.arrays[src["params"]["weight"]] = (w * scale.reshape(-1, *[1] * (w.ndim - 1))).astype(np.float32)
                b = p.arrays[src["params"]["bias"]].astype(np.float64) if "bias" in src["params"] else 0.0
                src["params"]["bias"] = f"{src['name']}.bias"
                p.arrays[src["params"]["bias"]] = (b * scale + shift).astype(np.float32)
                merge(s, src)
                continue
            s["params"] = {"scale": f"{s['name']}.scale", "shift": f"{s['name']}.shift"}
            p.arrays[s["params"]["scale"]] = scale.astype(np.float32)
            p.arrays[s["params"]["shift"]] = shift.astype(np.float32)
        elif s["op"] == "act" and alone and src["op"] not in ("flatten", "act") and not src.get("act"):
            src["act"] = s["act"]
            merge(s, src)
            continue
        kept.append(s)
    for s in kept:
        if not s.get("act"):
            s.pop("act", None)
    p.steps = kept
    return [alias.get(o, o) for o in outputs]


def freeze(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> EdgeModel:
    """The network as a NumPy-only :class:`EdgeModel` (evaluation semantics, float32).

    ``input_shape`` is the per-sample shape; a network built from an architecture file
    knows its own. Raises ValueError listing every layer the runtime has no kernel for.

    >>> edge = freeze(net, (3, 32, 32)); edge.save("net.edge")
    """
    missing = unsupported_modules(model, LAYERS)
    if missing:
        found = sorted({type(m) for m in model.modules()} & NOT_FREEZABLE.keys(), key=lambda c: c.__name__)
        reasons = "; ".join(f"{c.__name__}: {NOT_FREEZABLE[c]}" for c in found)
        raise ValueError(f"freeze: no edge kernel for {len(missing)} module(s): {', '.join(missing)}; supported: "
                         f"{', '.join(sorted(c.__name__ for c in LAYERS))} inside Sequential or Graph"
                         + (f". {reasons}" if reasons else ""))
    spec = getattr(model, "spec", None)
    if input_shape is None:
        if spec is None:
            raise ValueError("freeze: pass input_shape, the per-sample input shape such as (1, 28, 28): this "
                             "network was not built from an architecture file")
        input_shape = spec.input
    p = _Plan()
    out = walk_layers(model, [0], lambda m, path, xs: LAYERS[type(m)](p, m, path or type(m).__name__.lower(), *xs))
    outputs = _simplify(p, out if isinstance(out, list) else [out])
    if 0 in outputs:
        raise ValueError("freeze: the network returns its input unchanged; nothing to run")
    plan = {"format": FORMAT, "version": VERSION, "name": getattr(spec, "name", type(model).__name__.lower()),
            "precision": "float32", "input": {"shape": [int(s) for s in input_shape]},
            "output_activation": getattr(spec, "output_activation", None),
            "steps": p.steps, "outputs": outputs, "n_slots": p.n_slots}
    used = {name for s in p.steps for name in s["params"].values()}
    edge = EdgeModel(plan, {k: v for k, v in p.arrays.items() if k in used})
    edge.run(np.zeros((1, *plan["input"]["shape"]), np.float32))  # checks every shape now, not on the device
    return edge
