"""Export profondo networks to ONNX (needs the ``onnx`` package: ``pip install onnx``).

The network is walked module by module (plain Sequential and Graph containers, and the
layers of :mod:`profondo.nn` by the table :data:`EXPORTERS`, keyed by class), not traced,
so ONNX node names are the module paths and initializer names the state-dict keys
(``conv1.weight``); :func:`profondo.io.onnx_import.import_onnx` rebuilds the same names.
The batch axis is dynamic (``N``) unless ``dynamic_batch=False``. Dropout is written as an
ONNX Dropout node (a no-op at inference) so that an imported network keeps it for training.

>>> model = profondo.architecture.zoo.load("lenet5")
>>> export_onnx(model, "lenet5.onnx")              # input shape from model.spec
>>> export_onnx(net, "net.onnx", input_shape=(3, 32, 32), opset=18)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .. import nn
from ..nn.graph import Add, Concat, is_plain, unsupported_modules, walk_layers

DEFAULT_OPSET = 21
MIN_OPSET = 13  # Softmax over one axis, Squeeze/Unsqueeze axes as inputs, Clip bounds as inputs
SPEC_KEY = "profondo.spec"  # metadata: the network's name, per-sample input shape, output activation


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install onnx") from None
    return onnx


class _Value(NamedTuple):
    name: str  # the ONNX value name
    shape: tuple | None  # per-sample shape (no batch axis); None where unknown (imported OnnxOp nodes)


class _Builder:
    """Collects ONNX nodes and initializers, giving every value a unique name."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list = []
        self.initializers: dict[str, np.ndarray] = {}
        self.taken: set[str] = set()

    def unique(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        return name

    def const(self, name: str, array) -> str:
        """An initializer named ``name`` (a state-dict key where there is one)."""
        name = self.unique(name)
        self.initializers[name] = np.asarray(array)
        return name

    def node(self, op: str, inputs: list[str], name: str, n_outputs: int = 1, **attrs) -> list[str]:
        onnx = _onnx()
        node_name = self.unique(name)
        outputs = [self.unique(f"{node_name}:{i}" if n_outputs > 1 else f"{node_name}:out") for i in range(n_outputs)]
        self.nodes.append(onnx.helper.make_node(op, inputs, outputs, name=node_name,
                                                **{k: v for k, v in attrs.items() if v is not None}))
        return outputs


def _pairs(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))



def _shape(m, *xs: _Value) -> tuple | None:
    """The per-sample output shape, None when an input's is unknown."""
    return None if any(x.shape is None for x in xs) else m.output_shape(*(x.shape for x in xs))


def _conv(b: _Builder, m: nn.Conv2d, name: str, x: _Value) -> _Value:
    inputs = [x.name, b.const(f"{name}.weight", m.weight.numpy())]
    if m.bias is not None:
        inputs.append(b.const(f"{name}.bias", m.bias.numpy()))
    ph, pw = m.padding
    (out,) = b.node("Conv", inputs, name, kernel_shape=list(m.kernel_size), strides=list(m.stride),
                    pads=[ph, pw, ph, pw], dilations=list(m.dilation), group=m.groups)
    return _Value(out, _shape(m, x))


def _linear(b: _Builder, m: nn.Linear, name: str, x: _Value) -> _Value:
    shape = _shape(m, x)
    if x.shape is not None and len(x.shape) == 1:  # (N, in): one Gemm with PyTorch's (out, in) weight
        inputs = [x.name, b.const(f"{name}.weight", m.weight.numpy())]
        if m.bias is not None:
            inputs.append(b.const(f"{name}.bias", m.bias.numpy()))
        return _Value(b.node("Gemm", inputs, name, transB=1)[0], shape)
    # (N, ..., in): MatMul by the transposed weight (Gemm takes matrices only), then the bias
    (out,) = b.node("MatMul", [x.name, b.const(f"{name}.weight_t", np.ascontiguousarray(m.weight.numpy().T))], name)
    if m.bias is not None:
        (out,) = b.node("Add", [out, b.const(f"{name}.bias", m.bias.numpy())], f"{name}/bias")
    return _Value(out, shape)


def _pool(op: str, **extra) -> Callable:
    def export(b: _Builder, m, name: str, x: _Value) -> _Value:
        (kh, kw), (sh, sw), (ph, pw) = _pairs(m.kernel_size), _pairs(m.stride), _pairs(m.padding)
        (out,) = b.node(op, [x.name], name, kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw], **extra)
        return _Value(out, _shape(m, x))

    return export


def _global_pool(b: _Builder, m, name: str, x: _Value) -> _Value:
    (pooled,) = b.node("GlobalAveragePool", [x.name], name)
    return _Value(b.node("Flatten", [pooled], f"{name}/flatten", axis=1)[0], _shape(m, x))


def _batch_norm(b: _Builder, m, name: str, x: _Value) -> _Value:
    if not m.track_running_stats:
        raise ValueError(f"ONNX export: {name} ({type(m).__name__}) has track_running_stats=False, so no "
                         "statistics for inference; expected a batch norm with running statistics")
    c = m.num_features
    scale = m.weight.numpy() if m.affine else np.ones(c, np.float32)
    shift = m.bias.numpy() if m.affine else np.zeros(c, np.float32)
    inputs = [x.name, b.const(f"{name}.weight", scale), b.const(f"{name}.bias", shift),
              b.const(f"{name}.running_mean", m.running_mean.numpy()),
              b.const(f"{name}.running_var", m.running_var.numpy())]
    # ONNX keeps `momentum` of the old statistics; PyTorch's momentum weighs the new batch.
    momentum = 1.0 - (m.momentum if m.momentum is not None else 0.1)
    (out,) = b.node("BatchNormalization", inputs, name, epsilon=m.eps, momentum=momentum)
    return _Value(out, x.shape)


def _flatten(b: _Builder, m: nn.Flatten, name: str, x: _Value) -> _Value:
    if m.start_dim == 1 and m.end_dim == -1:
        return _Value(b.node("Flatten", [x.name], name, axis=1)[0], _shape(m, x))
    if x.shape is None:
        raise ValueError(f"Flatten({m.start_dim}, {m.end_dim}) of an input of unknown shape")
    shape = _shape(m, x)
    target = b.const(f"{name}.shape", np.array([0, *shape], np.int64))  # 0: keep the batch size
    return _Value(b.node("Reshape", [x.name, target], name)[0], shape)


def _dropout(b: _Builder, m: nn.Dropout, name: str, x: _Value) -> _Value:
    ratio = b.const(f"{name}.ratio", np.array(m.p, np.float32))
    return _Value(b.node("Dropout", [x.name, ratio], name)[0], x.shape)


def _upsample(b: _Builder, m: nn.Upsample, name: str, x: _Value) -> _Value:
    # asymmetric + floor: source index floor(dst / scale), PyTorch's nearest
    nearest = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    if m.size is not None:
        if b.opset < 18:
            raise ValueError(f"ONNX export: {name} (Upsample(size={m.size})) needs Resize's `axes` (opset 18 or "
                             f"later) to leave the batch free; received opset {b.opset}, or give scale_factor")
        sizes = b.const(f"{name}.sizes", np.array(_pairs(m.size), np.int64))
        (out,) = b.node("Resize", [x.name, "", "", sizes], name, axes=[2, 3], **nearest)
    else:
        factors = m.scale_factor if isinstance(m.scale_factor, tuple) else (m.scale_factor,) * 2
        scales = b.const(f"{name}.scales", np.array([1.0, 1.0, *factors], np.float32))
        (out,) = b.node("Resize", [x.name, "", scales], name, **nearest)
    return _Value(out, _shape(m, x))


def _lrn(b: _Builder, m: nn.LocalResponseNorm, name: str, x: _Value) -> _Value:
    if m.size % 2 == 0:  # ONNX puts an even window's extra channel behind, PyTorch in front
        raise ValueError(f"ONNX export: {name} (LocalResponseNorm) of even size {m.size}: ONNX's LRN sums the "
                         "channels c-(size-1)//2..c+size//2, PyTorch's c-size//2..c+(size-1)//2; expected an odd size")
    (out,) = b.node("LRN", [x.name], name, size=m.size, alpha=m.alpha, beta=m.beta, bias=m.k)
    return _Value(out, x.shape)


def _clip(b: _Builder, name: str, x: _Value, low: float, high: float) -> _Value:
    bounds = [b.const(f"{name}.min", np.array(low, np.float32)), b.const(f"{name}.max", np.array(high, np.float32))]
    return _Value(b.node("Clip", [x.name, *bounds], name)[0], x.shape)


def _along(op: str) -> Callable:
    def export(b: _Builder, m, name: str, x: _Value) -> _Value:
        return _Value(b.node(op, [x.name], name, axis=m.dim)[0], _shape(m, x))

    return export


def _elementwise(op: str) -> Callable:
    def export(b: _Builder, m, name: str, x: _Value) -> _Value:
        return _Value(b.node(op, [x.name], name)[0], x.shape)

    return export


def _embedding(b: _Builder, m: nn.Embedding, name: str, x: _Value) -> _Value:
    (out,) = b.node("Gather", [b.const(f"{name}.weight", m.weight.numpy()), x.name], name, axis=0)
    return _Value(out, _shape(m, x))


def _add(b: _Builder, m, name: str, *xs: _Value) -> _Value:
    shape = _shape(m, *xs)
    out = xs[0].name
    for i, x in enumerate(xs[1:]):
        (out,) = b.node("Add", [out, x.name], name if i == 0 else f"{name}/{i}")
    return _Value(out, shape)


def _concat(b: _Builder, m: Concat, name: str, *xs: _Value) -> _Value:
    shape = _shape(m, *xs)
    return _Value(b.node("Concat", [x.name for x in xs], name, axis=m.axis)[0], shape)


# --- recurrent layers (PyTorch's gate order -> ONNX's) ---------------------------------------
def _gates(w: np.ndarray, order: list[int], n: int) -> np.ndarray:
    """Reorder the ``n`` stacked gate blocks of a PyTorch weight along axis 0."""
    blocks = np.split(w, n, axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


# PyTorch LSTM gates i, f, g, o -> ONNX i, o, f, c; GRU r, z, n -> ONNX z, r, h.
LSTM_GATES, GRU_GATES = [0, 3, 1, 2], [1, 0, 2]


def _recurrent(op: str, order: list[int]) -> Callable:
    """An LSTM or GRU (any number of layers, one or two directions) as one ONNX node per layer."""
    return lambda b, m, name, x: _recurrent_layers(b, m, name, x, op, order)


def _recurrent_layers(b: _Builder, m, name: str, x: _Value, op: str, order: list[int]) -> _Value:
    n_gates = len(order)
    if x.shape is not None and (len(x.shape) != 2 or x.shape[-1] != m.input_size):
        raise ValueError(f"ONNX export: {name} ({type(m).__name__}) expected a per-sample input (T, "
                         f"{m.input_size}), received {x.shape}")
    state = m.state_arrays()
    dirs = 2 if m.bidirectional else 1
    hidden = m.hidden_size
    t = x.name
    if m.batch_first:  # ONNX recurrences run time-major: (T, N, C)
        (t,) = b.node("Transpose", [t], f"{name}/time_major", perm=[1, 0, 2])
    for layer in range(m.num_layers):
        sfx = [f"_l{layer}", f"_l{layer}_reverse"][:dirs]
        w = np.stack([_gates(state[f"weight_ih{s}"], order, n_gates) for s in sfx])
        r = np.stack([_gates(state[f"weight_hh{s}"], order, n_gates) for s in sfx])
        bias = np.stack([np.concatenate([_gates(state.get(f"bias_ih{s}", np.zeros(n_gates * hidden, np.float32)),
                                                order, n_gates),
                                         _gates(state.get(f"bias_hh{s}", np.zeros(n_gates * hidden, np.float32)),
                                                order, n_gates)]) for s in sfx])
        inputs = [t, b.const(f"{name}.W_l{layer}", w), b.const(f"{name}.R_l{layer}", r),
                  b.const(f"{name}.B_l{layer}", bias)]
        attrs = {"hidden_size": hidden, "direction": "bidirectional" if dirs == 2 else "forward"}
        if op == "GRU":
            attrs["linear_before_reset"] = 1  # PyTorch applies the reset gate after the product
        node_name = name if m.num_layers == 1 else f"{name}/l{layer}"
        (y,) = b.node(op, inputs, node_name, **attrs)  # Y: (T, dirs, N, H)
        (y,) = b.node("Transpose", [y], f"{node_name}/merge", perm=[0, 2, 1, 3])
        (t,) = b.node("Reshape", [y, b.const(f"{name}.shape_l{layer}", np.array([0, 0, dirs * hidden], np.int64))],
                      f"{node_name}/reshape")
    if m.batch_first:
        (t,) = b.node("Transpose", [t], f"{name}/batch_major", perm=[1, 0, 2])
    return _Value(t, _shape(m, x))


def _reduce_time(b: _Builder, op: str, name: str, y: str) -> str:
    """Reduce over the time axis 1 (axes became an input in opset 18)."""
    if b.opset >= 18:
        return b.node(op, [y, b.const(f"{name}.axes", np.array([1], np.int64))], name, keepdims=0)[0]
    return b.node(op, [y], name, axes=[1], keepdims=0)[0]


def _recurrent_summary(b: _Builder, m, name: str, x: _Value) -> _Value:
    """``nn.Recurrent``: the wrapped layer, then its summary of the steps (last, mean or max)."""
    inner = EXPORTERS.get(type(m.rnn))
    if inner is None:
        raise ValueError(f"ONNX export: {name} (Recurrent, cell={m.cell!r}): no ONNX form for its "
                         f"{type(m.rnn).__name__}; {NOT_EXPORTABLE.get(type(m.rnn), '')}")
    y = inner(b, m.rnn, f"{name}/rnn", x).name  # (N, T, dirs*H)
    if m.output == "sequence":
        pass
    elif m.output in ("mean", "max"):
        y = _reduce_time(b, "ReduceMean" if m.output == "mean" else "ReduceMax", name, y)
    else:  # last: the forward direction ends at step T-1, the backward one at step 0
        hidden = m.rnn.hidden_size
        (end,) = b.node("Gather", [y, b.const(f"{name}.end", np.array(-1, np.int64))], f"{name}/end", axis=1)
        if m.rnn.num_directions == 1:
            y = end
        else:
            (start,) = b.node("Gather", [y, b.const(f"{name}.start", np.array(0, np.int64))], f"{name}/start", axis=1)
            halves = []
            for tag, src, lo, hi in (("fwd", end, 0, hidden), ("bwd", start, hidden, 2 * hidden)):
                (half,) = b.node("Slice", [src, b.const(f"{name}.{tag}_lo", np.array([lo], np.int64)),
                                           b.const(f"{name}.{tag}_hi", np.array([hi], np.int64)),
                                           b.const(f"{name}.{tag}_axis", np.array([1], np.int64))], f"{name}/{tag}")
                halves.append(half)
            (y,) = b.node("Concat", halves, name, axis=1)
    return _Value(y, _shape(m, x))


EXPORTERS: dict[type, Callable] = {
    nn.Conv2d: _conv, nn.Linear: _linear,
    nn.MaxPool2d: _pool("MaxPool"),
    nn.AvgPool2d: _pool("AveragePool", count_include_pad=1),  # padded zeros count, as PyTorch's default
    nn.GlobalAvgPool2d: _global_pool,
    nn.BatchNorm1d: _batch_norm, nn.BatchNorm2d: _batch_norm, nn.Flatten: _flatten, nn.Dropout: _dropout,
    nn.ReLU: _elementwise("Relu"), nn.Sigmoid: _elementwise("Sigmoid"), nn.Tanh: _elementwise("Tanh"),
    nn.Identity: _elementwise("Identity"),
    nn.ReLU6: lambda b, m, name, x: _clip(b, name, x, 0.0, 6.0),
    nn.LeakyReLU: lambda b, m, name, x: _Value(b.node("LeakyRelu", [x.name], name, alpha=m.negative_slope)[0],
                                               x.shape),
    nn.Softmax: _along("Softmax"), nn.LogSoftmax: _along("LogSoftmax"), nn.Embedding: _embedding,
    nn.LocalResponseNorm: _lrn, nn.Upsample: _upsample,
    nn.LSTM: _recurrent("LSTM", LSTM_GATES), nn.GRU: _recurrent("GRU", GRU_GATES),
    nn.Recurrent: _recurrent_summary,
    Add: _add, Concat: _concat,
}
"""Module class -> ``fn(builder, module, name, *inputs) -> output`` (extend to export a new layer).
Plain ``Sequential`` and ``Graph`` containers are walked, not exported: see :data:`CONTAINERS`."""

CONTAINERS: tuple[type, ...] = (nn.Sequential, nn.Graph)
"""Containers whose children are exported in their place (when their forward is their own)."""

_STEP = ("one time step, its state passed in and out by the caller's loop (no ONNX operator takes a "
         "single step); export the sequence layer")
NOT_EXPORTABLE: dict[type, str] = {
    nn.Module: "the base class: a subclass's forward is arbitrary code; build networks from the exportable "
               "layers inside Sequential or Graph",
    nn.ModuleList: "a list of modules with no forward of its own: the network that holds it decides what runs",
    nn.ModuleDict: "a dict of modules with no forward of its own: the network that holds it decides what runs",
    nn.AdaptiveAvgPool2d: "its windows depend on the input size; use GlobalAvgPool2d (with Flatten) or AvgPool2d "
                          "for a network that is exported",
    **{loss: "a loss maps (prediction, target) to a training signal; it is not part of the network that runs"
       for loss in (nn.BCELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss, nn.HuberLoss, nn.KLDivLoss, nn.L1Loss,
                    nn.MSELoss, nn.NLLLoss, nn.SmoothL1Loss)},
    nn.RNN: "ONNX's RNN operator has no importer here yet, so an exported Elman RNN would not come back; use "
            "LSTM or GRU",
    nn.RNNCell: f"{_STEP} (RNN)", nn.LSTMCell: f"{_STEP} (LSTM)", nn.GRUCell: f"{_STEP} (GRU)",
    nn.EfficientNetLite0: "a network written in code: TensorFlow \"SAME\" padding that depends on the input "
                          "size (Conv2dSame) and residual blocks with drop-connect (MBConvBlock)",
}
"""Classes of :mod:`profondo.nn` that deliberately have no ONNX form, with the reason."""

INDEX_INPUTS: frozenset[type] = frozenset({nn.Embedding})
"""First layers that read integer indices: the graph's input is then int64, not float."""


def _export_layer(b: _Builder, m: nn.Module, path: str, xs: list[_Value]):
    try:
        return EXPORTERS[type(m)](b, m, path or type(m).__name__.lower(), *xs)
    except ValueError as e:
        raise ValueError(f"ONNX export: layer {path!r} ({type(m).__name__}): {e}") from e


def _name_outputs(b: _Builder, values: list[str], names: list[str]) -> None:
    """Rename the values the network returns to ``names`` (an Identity where a value is the input
    or is returned twice)."""
    onnx = _onnx()
    renamed: dict[str, str] = {}
    for value, name in zip(values, names):
        b.taken.add(name)
        if value == "input" or value in renamed:
            b.nodes.append(onnx.helper.make_node("Identity", [renamed.get(value, value)], [name],
                                                 name=b.unique(f"{name}/identity")))
        else:
            renamed[value] = name
    for node in b.nodes:
        for field in (node.input, node.output):
            for i, v in enumerate(field):
                if v in renamed:
                    field[i] = renamed[v]


def not_exportable_reasons(model: nn.Module) -> str:
    """Why the deliberately unexportable classes in ``model`` have no ONNX form (for error messages)."""
    found = {type(m) for m in model.modules()} & NOT_EXPORTABLE.keys()
    return "; ".join(f"{c.__name__}: {NOT_EXPORTABLE[c]}" for c in sorted(found, key=lambda c: c.__name__))


def _first_layer(model: nn.Module) -> nn.Module:
    while is_plain(model, nn.Sequential) and len(model):
        model = model[0]
    return model


def export_onnx(model: nn.Module, path: str | os.PathLike | None = None, input_shape: tuple[int, ...] | None = None,
                *, opset: int = DEFAULT_OPSET, dynamic_batch: bool = True, check: bool = True,
                doc: str | None = None) -> Any:
    """Write ``model`` as an ONNX model (returns the ``onnx.ModelProto``; saved when ``path`` is given).

    ``input_shape`` is the per-sample input shape (no batch axis); a network built from an
    architecture file knows its own (``model.spec.input``). The model is checked with
    ``onnx.checker`` (full check, with shape inference) unless ``check=False``. Raises
    ValueError listing every module that cannot be exported.

    >>> proto = export_onnx(profondo.architecture.zoo.load("mlp-mnist"), "mlp.onnx", opset=18)
    >>> [n.op_type for n in proto.graph.node][:3]
    ['Flatten', 'Gemm', 'Relu']
    """
    onnx = _onnx()
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"ONNX export: opset {opset} is not supported; expected {MIN_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()} (the installed onnx's latest)")
    missing = unsupported_modules(model, EXPORTERS)
    if missing:
        reasons = not_exportable_reasons(model)
        raise ValueError(f"ONNX export: no ONNX form for {len(missing)} module(s): {', '.join(missing)}; "
                         f"supported layers: {', '.join(sorted(c.__name__ for c in EXPORTERS))} "
                         "inside Sequential or Graph" + (f". {reasons}" if reasons else ""))
    spec = getattr(model, "spec", None)
    if input_shape is None:
        if spec is None:
            raise ValueError("ONNX export: this network was not built from an architecture file, so its input "
                             "shape is unknown: pass input_shape, the per-sample shape such as (1, 28, 28)")
        input_shape = spec.input
    input_shape = tuple(int(s) for s in input_shape)
    b = _Builder(opset)
    b.taken.add("input")
    out = walk_layers(model, [_Value("input", input_shape)], lambda m, path, xs: _export_layer(b, m, path, xs))
    outs = out if isinstance(out, list) else [out]
    names = ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]
    _name_outputs(b, [v.name for v in outs], names)

    batch = "N" if dynamic_batch else 1
    is_index = type(_first_layer(model)) in INDEX_INPUTS
    in_type = onnx.TensorProto.INT64 if is_index else onnx.TensorProto.FLOAT
    graph = onnx.helper.make_graph(
        b.nodes, getattr(spec, "name", None) or type(model).__name__.lower(),
        [onnx.helper.make_tensor_value_info("input", in_type, [batch, *input_shape])],
        [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None if v.shape is None else [batch, *v.shape])
         for n, v in zip(names, outs)])
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="profondo", doc_string=doc or "")
    for name, a in b.initializers.items():  # written in place: VGG-16's 550 MB are copied once, not four times
        t = proto.graph.initializer.add()
        t.name, t.data_type = name, onnx.helper.np_dtype_to_tensor_dtype(a.dtype)
        t.dims.extend(a.shape)
        t.raw_data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    proto.ir_version = onnx.helper.find_min_ir_version_for(proto.opset_import)
    from .. import __version__

    proto.producer_version = __version__
    meta = {"name": graph.name, "input": list(input_shape),
            "output_activation": getattr(spec, "output_activation", None)}
    onnx.helper.set_model_props(proto, {SPEC_KEY: json.dumps(meta)})
    if any(v.shape is None for v in outs):  # imported operators do not track shapes: ONNX infers them
        proto = onnx.shape_inference.infer_shapes(proto)
    if check:
        onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        onnx.save(proto, os.fspath(path))
    return proto


def quantize_onnx(proto, calibration: np.ndarray, path: str | os.PathLike | None = None, *,
                  batch: int = 64, per_channel: bool = True) -> Any:
    """A float ONNX model (as :func:`export_onnx` writes it) quantized to int8 in QDQ form
    (QuantizeLinear/DequantizeLinear pairs around each operator), which onnxruntime fuses into
    its integer kernels (QLinearConv, QGemm, QLinearMatMul, ...). The engine is
    ``onnxruntime.quantization.quantize_static``: weights int8 per output channel, activations
    uint8 (U8S8, the form onnxruntime's x86 kernels are fastest on) with ranges from running
    ``calibration`` (float32 inputs, batch axis first) through the model (min/max). Returns the quantized ``onnx.ModelProto`` (saved when ``path`` is given).

    >>> q = quantize_onnx(export_onnx(model), calibration_images, "lenet5-int8.onnx")
    """
    onnx = _onnx()
    try:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError:
        raise ImportError("int8 ONNX export needs onnxruntime: pip install onnxruntime") from None
    import tempfile

    calibration = np.asarray(calibration, np.float32)
    (input_name,) = [i.name for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    expected = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim][1:]
    if calibration.ndim < 1 or len(calibration) == 0 or list(calibration.shape[1:]) != expected:
        raise ValueError(f"quantize_onnx: expected calibration inputs of shape (n, {', '.join(map(str, expected))}), "
                         f"received {calibration.shape}")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(range(0, len(calibration), batch))

        def get_next(self):
            start = next(self.batches, None)
            return None if start is None else {input_name: calibration[start:start + batch]}

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "float.onnx"), os.path.join(tmp, "int8.onnx")
        onnx.save(proto, os.path.join(tmp, "export.onnx"))
        # onnxruntime's recommended first step: shape inference and graph optimisation (BN folding)
        quant_pre_process(os.path.join(tmp, "export.onnx"), src)
        quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        quantized = onnx.load(dst)
    if path is not None:
        onnx.save(quantized, os.fspath(path))
    return quantized


def integer_kernels(proto) -> dict[str, int]:
    """The operators onnxruntime's CPU provider runs for ``proto`` after its graph optimisations
    (count by type): a QDQ model fused into integer kernels shows QLinearConv, QGemm, ... here."""
    import tempfile

    import onnxruntime as ort

    onnx = _onnx()
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # not the warning that the optimised file is for this machine only
        options.optimized_model_filepath = os.path.join(tmp, "optimized.onnx")
        ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
        optimized = onnx.load(options.optimized_model_filepath)
    counts: dict[str, int] = {}
    for node in optimized.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
