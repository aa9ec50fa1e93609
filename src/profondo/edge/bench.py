"""Inference benchmark: profondo's frozen float32 and int8 plans against PyTorch and onnxruntime.

For each network: batch-1 latency (ms) and batch-256 throughput (samples/s) from the median
call of each repeat (30 and 5 calls), of profondo eager (the autograd engine
under no_grad), the frozen float32 plan, the int8 plan, PyTorch (``inference_mode``),
onnxruntime on the float32 ONNX export and on its int8 QDQ form (integer kernels), on the CPU with two threads each (``torch.set_num_threads(2)``,
``intra_op_num_threads=2``, NumPy's BLAS limited by threadpoolctl). The engines alternate,
repeat after repeat, in one process; the table reports the medians over repeats. Before
timing, every engine's outputs are checked against the frozen float32 plan. With
``evaluate`` (a dataset name), the int8 engines of the models given a checkpoint are
calibrated on 2,000 of its training images and every engine's accuracy on its test set is
reported; otherwise they are calibrated on random normal inputs.

    profondo bench                               # lenet5, mlp-mnist, convnetjs-cifar10, resnet-small
    profondo bench --models lenet5 --checkpoint lenet5=runs/lenet5-mnist/best.ckpt --json bench.json
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from .. import nn
from ..nn.graph import Add, Concat, Graph
from .freeze import freeze
from .quantize import quantize

DEFAULT_MODELS = ("lenet5", "mlp-mnist", "convnetjs-cifar10", "resnet-small")
ENGINES = ("profondo-eager", "profondo-f32", "profondo-int8", "torch", "onnxruntime", "onnxruntime-int8")


# --- the same network in PyTorch ---------------------------------------------------------------
def _torch_graph(tnn, torch):
    class TorchGraph(tnn.Module):
        def __init__(self, nodes, outputs):
            super().__init__()
            self.order = [(n, ins) for n, _, ins in nodes]
            self.outs = outputs
            for n, m, _ in nodes:
                self.add_module(n, m)

        def forward(self, x):
            values = {"input": x}
            for n, ins in self.order:
                values[n] = getattr(self, n)(*[values[i] for i in ins])
            return values[self.outs[0]] if len(self.outs) == 1 else tuple(values[o] for o in self.outs)

    return TorchGraph


def _torch_add(tnn, torch):
    class TorchAdd(tnn.Module):
        def forward(self, *xs):
            return sum(xs[1:], xs[0])

    return TorchAdd()


def _torch_concat(tnn, torch, axis: int):
    class TorchConcat(tnn.Module):
        def __init__(self):
            super().__init__()
            self.axis = axis

        def forward(self, *xs):
            return torch.cat(xs, self.axis)

    return TorchConcat()


def _same(name: str) -> Callable:
    """A layer with no settings, of the same name in ``torch.nn``."""
    return lambda tnn, torch, m, convert: getattr(tnn, name)()


def _batch_norm(name: str) -> Callable:
    return lambda tnn, torch, m, convert: getattr(tnn, name)(m.num_features, m.eps, m.momentum, m.affine,
                                                             m.track_running_stats)


TORCH_LAYERS: dict[type, Callable] = {
    nn.Sequential: lambda tnn, torch, m, convert: tnn.Sequential(
        OrderedDict((k, convert(c)) for k, c in m.named_children())),
    Graph: lambda tnn, torch, m, convert: _torch_graph(tnn, torch)(
        [(n, convert(c), ins) for n, c, ins in m.ordered_nodes()], m.outputs),
    nn.Conv2d: lambda tnn, torch, m, convert: tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                                                         m.padding, m.dilation, m.groups, m.bias is not None),
    nn.Linear: lambda tnn, torch, m, convert: tnn.Linear(m.in_features, m.out_features, m.bias is not None),
    nn.MaxPool2d: lambda tnn, torch, m, convert: tnn.MaxPool2d(m.kernel_size, m.stride, m.padding),
    nn.AvgPool2d: lambda tnn, torch, m, convert: tnn.AvgPool2d(m.kernel_size, m.stride, m.padding),
    nn.GlobalAvgPool2d: lambda tnn, torch, m, convert: tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten()),
    nn.BatchNorm1d: _batch_norm("BatchNorm1d"), nn.BatchNorm2d: _batch_norm("BatchNorm2d"),
    nn.Flatten: lambda tnn, torch, m, convert: tnn.Flatten(m.start_dim, m.end_dim),
    nn.Dropout: lambda tnn, torch, m, convert: tnn.Dropout(m.p),
    nn.LeakyReLU: lambda tnn, torch, m, convert: tnn.LeakyReLU(m.negative_slope),
    nn.Softmax: lambda tnn, torch, m, convert: tnn.Softmax(m.dim),
    nn.LogSoftmax: lambda tnn, torch, m, convert: tnn.LogSoftmax(m.dim),
    nn.ReLU: _same("ReLU"), nn.ReLU6: _same("ReLU6"), nn.Sigmoid: _same("Sigmoid"), nn.Tanh: _same("Tanh"),
    nn.Identity: _same("Identity"),
    nn.LocalResponseNorm: lambda tnn, torch, m, convert: tnn.LocalResponseNorm(m.size, m.alpha, m.beta, m.k),
    nn.Upsample: lambda tnn, torch, m, convert: tnn.Upsample(m.size, m.scale_factor, m.mode),
    Add: lambda tnn, torch, m, convert: _torch_add(tnn, torch),
    Concat: lambda tnn, torch, m, convert: _torch_concat(tnn, torch, m.axis),
}
"""Layer class -> ``fn(torch.nn, torch, module, convert) -> torch module`` (the benchmark's PyTorch
counterpart, same state-dict keys; ``convert`` turns a child). Exactly the classes of
:data:`profondo.edge.freeze.LAYERS`, plus the containers, so that every frozen network is timed."""


def to_torch(model: nn.Module):
    """A PyTorch copy of a profondo Sequential/Graph of standard layers (same state-dict keys)."""
    import torch

    tnn = torch.nn

    def convert(m):
        make = TORCH_LAYERS.get(type(m))
        if make is None:
            raise ValueError(f"to_torch: no PyTorch counterpart for {type(m).__name__}; expected one of "
                             f"{', '.join(sorted(c.__name__ for c in TORCH_LAYERS))}")
        return make(tnn, torch, m, convert)

    out = convert(model)
    out.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()}, strict=False)
    return out.eval()


# --- engines: name -> callable(x) -> numpy output --------------------------------------------------
def _engines(model: nn.Module, input_shape: tuple[int, ...], threads: int, calibration: np.ndarray,
             only: tuple[str, ...]) -> dict[str, Callable]:
    from .. import no_grad
    from ..tensor import Tensor

    model.eval()
    frozen = freeze(model, input_shape)
    engines: dict[str, Callable] = OrderedDict()

    def eager(x):
        with no_grad():
            return model(Tensor(x)).numpy()

    engines["profondo-eager"] = eager
    engines["profondo-f32"] = frozen.run
    engines["profondo-int8"] = quantize(frozen, calibration).run
    try:
        import torch

        torch.set_num_threads(threads)
        tmodel = to_torch(model)

        def run_torch(x):
            with torch.inference_mode():
                return tmodel(torch.from_numpy(x)).numpy()

        engines["torch"] = run_torch
    except ImportError:
        pass
    try:
        import onnxruntime as ort

        from ..io.onnx_export import export_onnx, quantize_onnx

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        proto = export_onnx(model, input_shape=input_shape)
        for engine, p in (("onnxruntime", proto), ("onnxruntime-int8", quantize_onnx(proto, calibration)
                                                   if "onnxruntime-int8" in only else None)):
            if p is not None:
                session = ort.InferenceSession(p.SerializeToString(), options, providers=["CPUExecutionProvider"])
                engines[engine] = lambda x, s=session: s.run(None, {"input": x})[0]
    except ImportError:
        pass
    return OrderedDict((k, v) for k, v in engines.items() if k in only)


def _median_call(fn: Callable, x: np.ndarray, calls: int) -> float:
    """The median of ``calls`` individually timed calls, in seconds: one call that waits for a core
    taken by another process does not move it."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_benchmark(models=DEFAULT_MODELS, checkpoints: dict[str, str] | None = None, repeats: int = 7,
                  threads: int = 2, batch: int = 256, latency_calls: int = 30, batch_calls: int = 5, engines=ENGINES,
                  seed: int = 0, pause: float = 0.2, log: Callable[[str], None] = print,
                  evaluate: str | None = None, data_dir: str | None = None) -> dict:
    """Time every engine on every model; returns the results (see :func:`format_table`). With
    ``evaluate`` (a dataset name), also every engine's accuracy on that dataset's test set, for
    the models given trained weights in ``checkpoints``."""
    from ..architecture import zoo
    from ..io.model import load_model

    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(threads)
    except ImportError:  # BLAS then uses its default thread count (the machine's cores)
        limiter = None
    rng = np.random.default_rng(seed)
    rows = []
    load_before = os.getloadavg()
    try:
        for name in models:
            path = (checkpoints or {}).get(name)
            model = load_model(path)[0] if path else zoo.load(name)
            shape = model.spec.input
            scored = bool(evaluate and path)  # test accuracy of trained weights only
            if scored:
                from ..data import load_dataset

                train = load_dataset(evaluate, "train", root=data_dir)
                pick = np.sort(np.random.default_rng(0).permutation(len(train.x))[:2000])  # as `profondo export`
                calibration = np.asarray(train.x[pick], np.float32)
            else:
                calibration = rng.standard_normal((256, *shape)).astype(np.float32)
            fns = _engines(model, shape, threads, calibration, tuple(engines))
            if scored:  # real test images: the int8 engines see the inputs they were calibrated for
                test = load_dataset(evaluate, "test", root=data_dir)
                xb = np.asarray(test.x[:batch], np.float32)
                x1 = xb[:1].copy()
            else:
                x1 = rng.standard_normal((1, *shape)).astype(np.float32)
                xb = rng.standard_normal((batch, *shape)).astype(np.float32)
            reference = fns["profondo-f32"](xb) if "profondo-f32" in fns else None
            check = {}
            for engine, fn in fns.items():
                fn(x1)  # warm up: binds buffers, first-call allocations
                if reference is not None:
                    check[engine] = float(np.abs(fn(xb) - reference).max())
            latency = {e: [] for e in fns}
            throughput = {e: [] for e in fns}
            for _ in range(repeats):  # alternate the engines, repeat after repeat
                for engine, fn in fns.items():
                    # A pause first: the previous engine's idle threads (OpenMP, BLAS) spin for a while
                    # after their last call and would steal the cores from this one.
                    time.sleep(pause)
                    latency[engine].append(_median_call(fn, x1, latency_calls) * 1e3)
                    time.sleep(pause)
                    throughput[engine].append(batch / _median_call(fn, xb, batch_calls))
            accuracy = {}
            if scored:
                for engine, fn in fns.items():
                    hits = sum(int((fn(np.asarray(test.x[i:i + 500], np.float32)).argmax(1) == test.y[i:i + 500]).sum())
                               for i in range(0, len(test.x), 500))
                    accuracy[engine] = hits / len(test.x)
            row = {"model": name, "input": list(shape), "weights": path or "random (zoo init)",
                   "test_accuracy": accuracy, "test_data": evaluate if scored else None,
                   "max_abs_diff_vs_f32": check,
                   "latency_ms_batch1": {e: statistics.median(v) for e, v in latency.items()},
                   "throughput_batch": batch,
                   "throughput_per_s": {e: statistics.median(v) for e, v in throughput.items()},
                   "best_latency_ms_batch1": {e: min(v) for e, v in latency.items()},
                   "best_throughput_per_s": {e: max(v) for e, v in throughput.items()},
                   "raw": {"latency_ms": latency, "throughput_per_s": throughput}}
            rows.append(row)
            log(f"{name}: done")
    finally:
        if limiter is not None:
            limiter.unregister()
    import importlib

    versions = {}
    for module in ("numpy", "torch", "onnxruntime"):
        try:
            versions[module] = importlib.import_module(module).__version__
        except ImportError:
            pass
    return {"rows": rows, "repeats": repeats, "threads": threads, "latency_calls_per_repeat": latency_calls,
            "batch_calls_per_repeat": batch_calls, "pause_s": pause,
            "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                        "load_average_1min": [load_before[0], os.getloadavg()[0]],
                        "python": platform.python_version(), **versions}}


def format_table(results: dict) -> str:
    """Batch-1 latency and batch-N throughput per engine, with the ratio to PyTorch."""
    rows = results["rows"]
    engines = [e for e in ENGINES if any(e in r["latency_ms_batch1"] for r in rows)]
    width = max(12, *(len(e) + 2 for e in engines))
    lines = []
    for title, key, unit, fmt in (("batch-1 latency", "latency_ms_batch1", "ms, lower is better", "{:.3f}"),
                                  (f"batch-{rows[0]['throughput_batch'] if rows else ''} throughput",
                                   "throughput_per_s", "samples/s, higher is better", "{:,.0f}")):
        lines.append(f"{title} ({unit}; median of {results['repeats']}, {results['threads']} threads)")
        lines.append(f"{'model':<20}" + "".join(f"{e:>{width}}" for e in engines))
        for r in rows:
            values = r[key]
            cells = [fmt.format(values[e]) if e in values else "-" for e in engines]
            lines.append(f"{r['model']:<20}" + "".join(f"{c:>{width}}" for c in cells))
            if "torch" in values:
                ratio = [(values[e] / values["torch"]) if e in values else None for e in engines]
                label = "  x torch"
                lines.append(f"{label:<20}" + "".join(f"{'-' if v is None else f'{v:.2f}':>{width}}" for v in ratio))
        lines.append("")
    if any(r.get("test_accuracy") for r in rows):
        lines.append("test accuracy")
        lines.append(f"{'model':<20}" + "".join(f"{e:>{width}}" for e in engines))
        for r in (r for r in rows if r.get("test_accuracy")):
            acc = r["test_accuracy"]
            cells = [f"{acc[e]:.2%}" if e in acc else "-" for e in engines]
            lines.append(f"{r['model'] + ' (' + r['test_data'] + ')':<20}" + "".join(f"{c:>{width}}" for c in cells))
        lines.append("")
    m = results["machine"]
    lines.append(f"{m['cpus']} CPUs, 1-minute load average {m['load_average_1min'][0]:.1f} before and "
                 f"{m['load_average_1min'][1]:.1f} after (other processes share the cores: above the thread "
                 "count, timings are noisy)")
    lines.append("max |output - frozen float32| on the benchmark batch: " + "; ".join(
        f"{r['model']}: " + ", ".join(f"{e} {d:.1e}" for e, d in r["max_abs_diff_vs_f32"].items()) for r in rows))
    return "\n".join(lines)
