"""A tiny inference runtime on NumPy alone: a plan of kernels over preallocated arrays.

This file imports nothing but NumPy and the standard library (no autograd, no profondo),
so it can be copied next to an ``.edge`` file onto a device that has only NumPy::

    from runtime import EdgeModel
    model = EdgeModel.load("lenet5.edge")
    logits = model(images)                  # (N, 1, 28, 28) float32 -> (N, 10)

A plan is a list of steps (conv, linear, pools, activations, add, concat, ...) reading and
writing numbered value slots; slot 0 is the input. On the first call for a batch size every
step allocates its output and scratch arrays (padded input, im2col columns, GEMM result) and
binds a closure that fills them in place, so later calls of that size allocate nothing but
the returned copy of the outputs. Convolution copies the windows of the padded input into
one column matrix (one strided view, one copy) and does one GEMM with the batch folded in.

Precision ``int8`` plans keep conv and linear weights as int8 with one float32 scale per
output channel, and quantize each such layer's input to 8 bits (``scale``, ``zero`` from
calibration). The integer products are summed by the float32 BLAS GEMM: every product of
two 8-bit integers is exact in float32 and sums stay exact below 2**24, so the results are
those of an integer kernel up to float rounding of very long sums (NumPy has no int8 GEMM).

The file format is an ``.npz`` archive: the arrays, plus the plan as JSON under ``__plan__``
(read with ``allow_pickle=False``: loading a file runs no code).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

import numpy as np

FORMAT = "profondo-edge"
VERSION = 1
ACTIVATIONS = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax")
OPS = ("conv", "linear", "maxpool", "avgpool", "global_avgpool", "flatten", "scale_shift", "act", "add", "concat",
       "lrn", "upsample")


class PlanError(ValueError):
    """A malformed plan or an input that does not fit it."""


# --- activations, applied in place ---------------------------------------------------------------
def _activation(act: dict | None) -> Callable[[np.ndarray], None] | None:
    if not act:
        return None
    kind = act["kind"]
    if kind == "relu":
        return lambda y: np.maximum(y, 0, out=y)
    if kind == "relu6":
        return lambda y: np.clip(y, 0, 6, out=y)
    if kind == "leaky_relu":
        slope = np.float32(act.get("slope", 0.01))
        return lambda y: np.maximum(y, y * slope, out=y) if slope <= 1 else np.minimum(y, y * slope, out=y)
    if kind == "tanh":
        return lambda y: np.tanh(y, out=y)
    if kind == "sigmoid":  # 0.5 * tanh(x / 2) + 0.5: stable for large |x|, all in place
        def sigmoid(y):
            np.multiply(y, np.float32(0.5), out=y)
            np.tanh(y, out=y)
            np.multiply(y, np.float32(0.5), out=y)
            np.add(y, np.float32(0.5), out=y)
        return sigmoid
    if kind in ("softmax", "log_softmax"):
        axis = act.get("dim", 1)

        def softmax(y):
            np.subtract(y, y.max(axis=axis, keepdims=True), out=y)
            if kind == "log_softmax":
                np.subtract(y, np.log(np.exp(y).sum(axis=axis, keepdims=True)), out=y)
            else:
                np.exp(y, out=y)
                np.divide(y, y.sum(axis=axis, keepdims=True), out=y)
        return softmax
    raise PlanError(f"unknown activation {kind!r}; expected one of {', '.join(ACTIVATIONS)}")


# --- kernels: factory(step, arrays, input shapes, slots) -> (output shape, bind(out) -> run) ------------
def _out_size(n: int, k: int, s: int, p: int, d: int, where: str) -> int:
    size = (n + 2 * p - d * (k - 1) - 1) // s + 1
    if size < 1:
        raise PlanError(f"{where}: input size {n} with kernel {k}, stride {s}, padding {p} gives no output")
    return size


def _windows(padded: np.ndarray, kh: int, kw: int, oh: int, ow: int, stride, dilation) -> np.ndarray:
    """View (C, KH, KW, N, OH, OW) over a padded (N, C, H, W) array, no copy."""
    n, c = padded.shape[:2]
    sn, sc, sh, sw = padded.strides
    return np.lib.stride_tricks.as_strided(
        padded, (c, kh, kw, n, oh, ow),
        (sc, dilation[0] * sh, dilation[1] * sw, sn, stride[0] * sh, stride[1] * sw), writeable=False)


class _Quantizer:
    """x -> clip(rint(x / scale), -zero, 255 - zero): an 8-bit code minus its zero point."""

    def __init__(self, quant: dict | None) -> None:
        self.on = quant is not None
        if self.on:
            self.inv = np.float32(1.0 / quant["scale"])
            self.low, self.high = np.float32(-quant["zero"]), np.float32(255 - quant["zero"])
            self.scale = np.float32(quant["scale"])

    def into(self, dst: np.ndarray, x: np.ndarray) -> None:
        if self.on:
            np.multiply(x, self.inv, out=dst)
            np.rint(dst, out=dst)
            np.clip(dst, self.low, self.high, out=dst)
        else:
            np.copyto(dst, x)


def _weights(step: dict, arrays: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The float32 weight (int8 codes widened once) and the per-output-channel scale (1 for float)."""
    w = arrays[step["params"][name]]
    scale = step["params"].get(f"{name}_scale")
    if scale is None:
        return w, np.ones(w.shape[0], np.float32)
    return w.astype(np.float32), arrays[scale]


def _conv(step, arrays, shapes, slots):
    (n, c, h, w), a = shapes[0], step["attrs"]
    weight, w_scale = _weights(step, arrays, "weight")
    o, cg, kh, kw = weight.shape
    g = a["groups"]
    if c != cg * g:
        raise PlanError(f"step {step['name']!r} (conv): expected {cg * g} input channels, received {c}")
    (sh, sw), (ph, pw), (dh, dw) = a["stride"], a["padding"], a["dilation"]
    oh, ow = _out_size(h, kh, sh, ph, dh, step["name"]), _out_size(w, kw, sw, pw, dw, step["name"])
    quant = _Quantizer(step.get("quant"))
    scale = (w_scale * (quant.scale if quant.on else np.float32(1))).astype(np.float32)[:, None]
    bias = arrays[step["params"]["bias"]][:, None] if "bias" in step["params"] else None
    w_mat = np.ascontiguousarray(weight.reshape(g, o // g, cg * kh * kw))
    # Unpadded float input: windows straight over the input; else over a zero-bordered copy
    # (the quantized codes, for int8), whose borders stay zero from call to call.
    direct = not quant.on and (ph, pw) == (0, 0)
    padded = None if direct else np.zeros((n, c, h + 2 * ph, w + 2 * pw), np.float32)
    interior = None if direct else padded[:, :, ph:ph + h, pw:pw + w]
    windows = None if direct else _windows(padded, kh, kw, oh, ow, (sh, sw), (dh, dw))
    cols = np.empty((g, cg * kh * kw, n * oh * ow), np.float32)
    cols_view = cols.reshape(c, kh, kw, n, oh, ow)
    acc = np.empty((g, o // g, n * oh * ow), np.float32)
    acc2 = acc.reshape(o, n * oh * ow)
    act, src = _activation(step.get("act")), step["inputs"][0]
    rescale = quant.on or not np.all(w_scale == 1)
    # A float plan without groups may also run as the training kernels' batch blocks over the
    # worker threads; which form runs is measured on the first call (see profondo.backend.conv).
    blockable = CONV_BLOCKS is not None and not rescale and g == 1 and n > 0
    bias_nchw = None if bias is None else bias.reshape(1, o, 1, 1)

    def bind(out):
        out_view = out.reshape(n, o, oh, ow)
        acc_nchw = acc.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)

        def blocked():
            CONV_BLOCKS["forward"](slots[src], weight, (sh, sw), (ph, pw), (dh, dw), (oh, ow), out=out_view)
            if bias_nchw is not None:
                np.add(out_view, bias_nchw, out=out_view)
            if act is not None:
                act(out_view)

        def gemm():
            if direct:
                np.copyto(cols_view, _windows(slots[src], kh, kw, oh, ow, (sh, sw), (dh, dw)))
            else:
                quant.into(interior, slots[src])
                np.copyto(cols_view, windows)
            np.matmul(w_mat, cols, out=acc)
            if rescale:
                np.multiply(acc2, scale, out=acc2)
            if bias is not None:
                np.add(acc2, bias, out=acc2)
            if act is not None:
                act(acc2)
            np.copyto(out_view, acc_nchw)
        if not blockable:
            return gemm
        return _measured_choice({"im2col": gemm, "im2col-blocked": blocked})

    return (n, o, oh, ow), bind


# Set by ``profondo.edge`` when this file runs inside profondo: the training kernels' batch-block
# convolution (``forward``) and the algorithm switch (``settings``: () -> (forced form, benchmark)).
# A copy of this file on its own has neither and runs every convolution as one GEMM.
CONV_BLOCKS: dict | None = None


def _measured_choice(forms: dict[str, Callable[[], None]]) -> Callable[[], None]:
    """A step that runs the form ``profondo.backend.conv.forward`` forces or, at "auto", times
    every form on its first three calls in turn and keeps the fastest (each call's output is
    right whichever form ran)."""
    forced, benchmark = CONV_BLOCKS["settings"]()
    if forced in forms:
        return forms[forced]
    if not benchmark:
        return forms["im2col"]
    best = dict.fromkeys(forms, float("inf"))
    state = {"calls": 0, "run": None}

    def run():
        if state["run"] is not None:
            return state["run"]()
        name = list(forms)[state["calls"] % len(forms)]
        start = time.perf_counter()
        forms[name]()
        best[name] = min(best[name], time.perf_counter() - start)
        state["calls"] += 1
        if state["calls"] == 3 * len(forms):
            state["run"] = forms[min(best, key=best.get)]
    return run


def _linear(step, arrays, shapes, slots):
    shape = shapes[0]
    weight, w_scale = _weights(step, arrays, "weight")
    if shape[-1] != weight.shape[1]:
        raise PlanError(f"step {step['name']!r} (linear): expected {weight.shape[1]} input features, received "
                        f"shape {shape}")
    w_t = np.ascontiguousarray(weight.T)
    quant = _Quantizer(step.get("quant"))
    scale = (w_scale * (quant.scale if quant.on else np.float32(1))).astype(np.float32)
    rescale = quant.on or not np.all(w_scale == 1)
    bias = arrays[step["params"]["bias"]] if "bias" in step["params"] else None
    codes = np.empty(shape, np.float32) if quant.on else None
    act, src = _activation(step.get("act")), step["inputs"][0]

    def bind(out):
        def run():
            x = slots[src]
            if codes is not None:
                quant.into(codes, x)
                x = codes
            np.matmul(x, w_t, out=out)
            if rescale:
                np.multiply(out, scale, out=out)
            if bias is not None:
                np.add(out, bias, out=out)
            if act is not None:
                act(out)
        return run

    return (*shape[:-1], weight.shape[0]), bind


def _pool(step, arrays, shapes, slots):
    (n, c, h, w), a = shapes[0], step["attrs"]
    (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["padding"]
    oh, ow = _out_size(h, kh, sh, ph, 1, step["name"]), _out_size(w, kw, sw, pw, 1, step["name"])
    is_max = step["op"] == "maxpool"
    act, src = _activation(step.get("act")), step["inputs"][0]
    # Padding: a bordered copy (-inf for max; zeros for the mean, which counts them as PyTorch does).
    padded = np.full((n, c, h + 2 * ph, w + 2 * pw), -np.inf if is_max else 0, np.float32) if ph or pw else None
    offsets = [(i, j) for i in range(kh) for j in range(kw)]
    combine = np.maximum if is_max else np.add
    inv_area = np.float32(1.0 / (kh * kw))

    def bind(out):
        def run():
            x = slots[src]
            if padded is not None:
                padded[:, :, ph:ph + h, pw:pw + w] = x
                x = padded
            # One strided slice per kernel offset, combined in place: kh*kw vectorised passes
            # over the output instead of a reduction over a strided window view.
            for k, (i, j) in enumerate(offsets):
                window = x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
                if k == 0:
                    np.copyto(out, window)
                else:
                    combine(out, window, out=out)
            if not is_max:
                np.multiply(out, inv_area, out=out)
            if act is not None:
                act(out)
        return run

    return (n, c, oh, ow), bind


def _global_avgpool(step, arrays, shapes, slots):
    n, c = shapes[0][:2]
    act, src = _activation(step.get("act")), step["inputs"][0]

    def bind(out):
        def run():
            np.mean(slots[src], axis=(2, 3), out=out)
            if act is not None:
                act(out)
        return run

    return (n, c), bind


def _scale_shift(step, arrays, shapes, slots):
    shape = shapes[0]
    bshape = (1, -1) + (1,) * (len(shape) - 2)
    scale = arrays[step["params"]["scale"]].reshape(bshape)
    shift = arrays[step["params"]["shift"]].reshape(bshape)
    act, src = _activation(step.get("act")), step["inputs"][0]

    def bind(out):
        def run():
            np.multiply(slots[src], scale, out=out)
            np.add(out, shift, out=out)
            if act is not None:
                act(out)
        return run

    return shape, bind


def _act(step, arrays, shapes, slots):
    act, src = _activation(step["act"]), step["inputs"][0]

    def bind(out):
        def run():
            np.copyto(out, slots[src])
            act(out)
        return run

    return shapes[0], bind


def _add(step, arrays, shapes, slots):
    if any(s != shapes[0] for s in shapes):
        raise PlanError(f"step {step['name']!r} (add): inputs of different shapes {shapes}")
    act, (first, *rest) = _activation(step.get("act")), step["inputs"]

    def bind(out):
        def run():
            np.add(slots[first], slots[rest[0]], out=out)
            for r in rest[1:]:
                np.add(out, slots[r], out=out)
            if act is not None:
                act(out)
        return run

    return shapes[0], bind


def _concat(step, arrays, shapes, slots):
    axis = step["attrs"]["axis"] % len(shapes[0])
    if any(len(s) != len(shapes[0]) or s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]
           for s in shapes):
        raise PlanError(f"step {step['name']!r} (concat): inputs {shapes} differ on an axis other than {axis}")
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    act, srcs = _activation(step.get("act")), step["inputs"]

    def bind(out):
        def run():
            np.concatenate([slots[s] for s in srcs], axis=axis, out=out)
            if act is not None:
                act(out)
        return run

    return tuple(shape), bind


def _lrn(step, arrays, shapes, slots):
    """Local response normalisation across channels (PyTorch's window: size // 2 channels in front)."""
    a = step["attrs"]
    size, alpha, beta, k = int(a["size"]), float(a["alpha"]), float(a["beta"]), float(a["k"])
    front, back = size // 2, (size - 1) // 2
    act, src, shape = _activation(step.get("act")), step["inputs"][0], shapes[0]
    widths = [(0, 0), (front + 1, back)] + [(0, 0)] * (len(shape) - 2)
    c = shape[1]

    def bind(out):
        def run():
            x = slots[src]
            cum = np.cumsum(np.pad(x * x, widths), axis=1)
            window = cum[:, size:size + c] - cum[:, :c]
            np.multiply(window, np.float32(alpha / size), out=out)
            np.add(out, np.float32(k), out=out)
            np.power(out, np.float32(-beta), out=out)
            np.multiply(out, x, out=out)
            if act is not None:
                act(out)
        return run

    return shape, bind


def _nearest_rows(n_in: int, n_out: int, factor: float | None) -> np.ndarray:
    """PyTorch's nearest source rows: floor(dst * scale) in float32 (profondo.functional.interpolate's rule)."""
    scale = np.float32(1.0 / factor) if factor is not None else np.float32(n_in / n_out)
    return np.minimum(np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64), n_in - 1)


def _upsample(step, arrays, shapes, slots):
    """Nearest-neighbour resizing of H and W: two takes of precomputed source rows and columns."""
    a, (n, c, h, w) = step["attrs"], shapes[0]
    factors = a.get("scale") or (None, None)
    size = a.get("size") or (int(np.floor(h * factors[0])), int(np.floor(w * factors[1])))
    rows, cols = _nearest_rows(h, size[0], factors[0]), _nearest_rows(w, size[1], factors[1])
    act, src = _activation(step.get("act")), step["inputs"][0]

    def bind(out):
        def run():
            np.take(np.take(slots[src], rows, axis=2), cols, axis=3, out=out)
            if act is not None:
                act(out)
        return run

    return (n, c, *size), bind


KERNELS = {"lrn": _lrn, "conv": _conv, "linear": _linear, "maxpool": _pool, "avgpool": _pool, "global_avgpool": _global_avgpool,
           "scale_shift": _scale_shift, "act": _act, "add": _add, "concat": _concat,
           "upsample": _upsample}


class EdgeModel:
    """A frozen network: ``model(x)`` runs its plan on a float32 batch and returns the output(s).

    >>> model = EdgeModel.load("lenet5.edge")
    >>> model(np.zeros((1, 1, 28, 28), np.float32)).shape
    (1, 10)
    """

    def __init__(self, plan: dict, arrays: dict[str, np.ndarray]) -> None:
        _validate(plan, arrays)
        self.plan = plan
        self.arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        self.input_shape = tuple(plan["input"]["shape"])
        self._bound: dict[int, tuple[list, list[np.ndarray]]] = {}  # batch size -> (closures, slots)

    @property
    def precision(self) -> str:
        return self.plan.get("precision", "float32")

    def _bind(self, n: int):
        """Allocate every buffer for batch size ``n`` and bind the kernels to them."""
        slots: list = [None] * self.plan["n_slots"]
        shapes = {0: (n, *self.input_shape)}
        runs = []
        for step in self.plan["steps"]:
            in_shapes = [shapes[i] for i in step["inputs"]]
            if step["op"] == "flatten":  # a view of the input's buffer: no step to run
                shape = in_shapes[0]
                s, e = step["attrs"]["start_dim"] % len(shape), step["attrs"]["end_dim"] % len(shape)
                shapes[step["output"]] = (*shape[:s], int(np.prod(shape[s:e + 1])), *shape[e + 1:])
                src = step["inputs"][0]
                if src == 0:  # the caller's array: reshaped on every call
                    runs.append(_flatten_run(slots, src, step["output"], shapes[step["output"]]))
                else:  # a view of a buffer that lives as long as the binding
                    slots[step["output"]] = slots[src].reshape(shapes[step["output"]])
                continue
            try:
                shape, bind = KERNELS[step["op"]](step, self.arrays, in_shapes, slots)
            except PlanError:
                raise
            except (ValueError, KeyError, IndexError) as e:
                raise PlanError(f"step {step['name']!r} ({step['op']}) with input shapes {in_shapes}: {e}") from e
            out = np.empty(shape, np.float32)
            slots[step["output"]] = out
            shapes[step["output"]] = shape
            runs.append(bind(out))
        self._bound[n] = (runs, slots)
        return self._bound[n]

    def run(self, x: np.ndarray, copy: bool = True):
        """The output array(s) for a batch ``x``; ``copy=False`` returns the internal buffers,
        which the next call of the same batch size overwrites."""
        x = np.asarray(x, np.float32)
        if x.shape[1:] != self.input_shape:
            raise PlanError(f"expected input of shape (N, {', '.join(map(str, self.input_shape))}), "
                            f"received {x.shape}")
        bound = self._bound.get(x.shape[0]) or self._bind(x.shape[0])
        runs, slots = bound
        slots[0] = x
        for run in runs:
            run()
        outs = [slots[i] for i in self.plan["outputs"]]
        if copy:
            outs = [o.copy() for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    __call__ = run

    def trace(self, x: np.ndarray) -> list[np.ndarray]:
        """Every slot's value after running ``x`` (views of the buffers): what calibration reads."""
        self.run(x, copy=False)
        return self._bound[np.asarray(x).shape[0]][1]

    def release(self) -> None:
        """Free the buffers of every batch size seen so far."""
        self._bound.clear()

    def save(self, path: str | os.PathLike) -> int:
        """Write the plan and its arrays to ``path`` (atomically); returns the file size in bytes."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        # Not mkstemp: its 0600 would stick to the plan; a new file gets 0666 less the umask, like any other.
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.urandom(4).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, __plan__=np.frombuffer(json.dumps(self.plan).encode(), np.uint8), **self.arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return os.path.getsize(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> EdgeModel:
        """Read a file written by :meth:`save` (no pickle)."""
        try:
            with np.load(os.fspath(path), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as e:
            raise PlanError(f"{os.fspath(path)} is not an edge model file (an .npz archive): {e}") from None
        if "__plan__" not in arrays:
            raise PlanError(f"{os.fspath(path)} has no __plan__ entry: not an edge model file")
        plan = json.loads(arrays.pop("__plan__").tobytes().decode())
        return cls(plan, arrays)

    def __repr__(self) -> str:
        ops = ", ".join(s["op"] + ("+" + s["act"]["kind"] if s.get("act") else "") for s in self.plan["steps"])
        return f"EdgeModel({self.plan.get('name', '')!r}, {self.precision}, input {self.input_shape}: {ops})"


def _flatten_run(slots: list, src: int, dst: int, shape: tuple) -> Callable[[], None]:
    def run():
        slots[dst] = slots[src].reshape(shape)
    return run


def _validate(plan: dict, arrays: dict) -> None:
    if plan.get("format") != FORMAT or plan.get("version") != VERSION:
        raise PlanError(f"expected a {FORMAT} plan version {VERSION}, received format {plan.get('format')!r} "
                        f"version {plan.get('version')!r}")
    defined = {0}
    for k, step in enumerate(plan["steps"]):
        where = f"step {k} ({step.get('name')!r})"
        if step.get("op") not in OPS:
            raise PlanError(f"{where}: unknown op {step.get('op')!r}; expected one of {', '.join(OPS)}")
        missing = [i for i in step["inputs"] if i not in defined]
        if missing:
            raise PlanError(f"{where}: reads slots {missing} before any step writes them")
        for name in step.get("params", {}).values():
            if name not in arrays:
                raise PlanError(f"{where}: array {name!r} is missing from the file")
        defined.add(step["output"])
    if any(o not in defined for o in plan["outputs"]):
        raise PlanError(f"outputs {plan['outputs']} name slots that no step writes")
