"""Training-step and inference throughput of profondo against PyTorch, side by side.

Each workload is one training step (forward, cross-entropy, backward, SGD-momentum update)
on random float32 data of the right shape. The two frameworks alternate, repeat after
repeat, on the same machine in the same process, and the table reports medians. For the
convolutional rows W3 and W7 it also prints the FLOPs of a step against the SGEMM peak
measured in the same run (a 2048x2048 float32 matmul) and the algorithm each convolution
chose (``profondo.backend.conv``); W6 times inference of the training model and of its
frozen edge plan.

    bash benchmarks/run.sh            # unsets OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, then runs this
    python benchmarks/training_steps.py --rows W1,W5 --repeats 7
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from harness import limit_threads, side_by_side, write_report  # noqa: E402

import profondo  # noqa: E402
from profondo import functional as F  # noqa: E402
from profondo import nn, optim  # noqa: E402
from profondo.backend import conv as conv_settings  # noqa: E402


# --- the workloads, defined once for both frameworks ----------------------------------------
def mlp(lib, sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(lib.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(lib.ReLU())
    return lib.Sequential(*layers)


def lenet5(lib):
    return lib.Sequential(
        lib.Conv2d(1, 6, 5, padding=2), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(6, 16, 5), lib.ReLU(), lib.MaxPool2d(2), lib.Flatten(),
        lib.Linear(400, 120), lib.ReLU(), lib.Linear(120, 84), lib.ReLU(), lib.Linear(84, 10))


def convnet_cifar(lib):
    return lib.Sequential(
        lib.Conv2d(3, 16, 5, padding=2), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(16, 20, 5, padding=2), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(20, 20, 5, padding=2), lib.ReLU(), lib.MaxPool2d(2), lib.Flatten(),
        lib.Linear(320, 10))


def vgg_small(lib):
    """VGG-style: 3x3 convolutions with batch norm and ReLU, 64-64-pool-128-128-pool-256-pool."""
    def block(c_in, c_out):
        return [lib.Conv2d(c_in, c_out, 3, padding=1), lib.BatchNorm2d(c_out), lib.ReLU()]

    return lib.Sequential(
        *block(3, 64), *block(64, 64), lib.MaxPool2d(2),
        *block(64, 128), *block(128, 128), lib.MaxPool2d(2),
        *block(128, 256), lib.MaxPool2d(2), lib.Flatten(), lib.Linear(256 * 4 * 4, 10))


WORKLOADS = {
    "W1": ("MLP 784-256-256-10, batch 128", lambda lib: mlp(lib, [784, 256, 256, 10]), (784,), 10, 128),
    "W2": ("LeNet-5, batch 64", lenet5, (1, 28, 28), 10, 64),
    "W3": ("CIFAR-10 ConvNet, batch 64", convnet_cifar, (3, 32, 32), 10, 64),
    "W5": ("MLP 4-128-128-2, batch 64", lambda lib: mlp(lib, [4, 128, 128, 2]), (4,), 2, 64),
    "W7": ("VGG-style 3x3 net (BN), batch 32", vgg_small, (3, 32, 32), 10, 32),
}
CEILING_ROWS = ("W3", "W7")  # rows printed against the SGEMM peak, with each layer's algorithms


def profondo_step(model, shape, classes, batch):
    rng = np.random.default_rng(0)
    x = profondo.tensor(rng.standard_normal((batch, *shape), dtype=np.float32))
    y = rng.integers(0, classes, batch)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_step(model, shape, classes, batch):
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn((batch, *shape), generator=g)
    y = torch.randint(0, classes, (batch,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="W1,W2,W3,W5,W6,W7")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per measurement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default="benchmarks/results/training_steps.json")
    parser.add_argument("--conv-benchmark", choices=("on", "off"), default="on",
                        help="profondo.backend.conv.benchmark: measure each layer's algorithm (on, as here by "
                             "default) or take the fixed single-GEMM rule (off, profondo's default)")
    args = parser.parse_args()
    conv_settings.benchmark = args.conv_benchmark == "on"

    import torch

    blas = limit_threads(args.threads)
    profondo.manual_seed(0)
    torch.manual_seed(0)
    rows, notes = [], []
    peak = None
    for key in args.rows.split(","):
        if key == "W6":
            rows += inference_rows(args)
            continue
        title, build, shape, classes, batch = WORKLOADS[key]
        known = set(conv_settings.chosen())
        model = build(nn)
        p = profondo_step(model, shape, classes, batch)
        t = torch_step(build(torch.nn), shape, classes, batch)
        ours, theirs, _, _ = side_by_side(p, t, args.repeats, args.seconds)
        rows.append({"row": key, "workload": title, "unit": "steps/s", "profondo": ours, "pytorch": theirs,
                     "profondo_samples_per_s": ours * batch, "pytorch_samples_per_s": theirs * batch,
                     "ratio": ours / theirs})
        if key in CEILING_ROWS:
            peak = peak or sgemm_peak()
            flops = training_flops(model, shape) * batch
            rows[-1].update({"flops_per_step": flops, "sgemm_peak_gflops": peak / 1e9,
                             "profondo_fraction_of_ceiling": ours * flops / peak,
                             "pytorch_fraction_of_ceiling": theirs * flops / peak,
                             "algorithms": [{"layer": layer, **chosen} for layer, chosen
                                            in layer_algorithms(known, batch)]})
            notes.append(ceiling_note(rows[-1]))
        print_row(rows[-1])
    write_report(args.json, rows, blas, args.threads, args.repeats, args.seconds)
    for note in notes:
        print("\n" + note)
    print(f"\n(medians of {args.repeats} alternating repeats; ratio > 1 means profondo is faster; JSON: {args.json})")


def sgemm_peak(size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a large square float32 product (NumPy's BLAS, the threads set for the run): the best of a few."""
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, a, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best


def training_flops(model, shape) -> int:
    """FLOPs of one sample's training step in convolutions and dense layers: forward, the weight
    gradient, and the input gradient of every such layer but the first (its input needs none)."""
    from profondo.analysis import analyze

    weighted = [r for r in analyze(model, shape).layers if r.kind in ("Conv2d", "Linear")]
    return sum(2 * r.macs * (3 if i else 2) for i, r in enumerate(weighted))


def layer_algorithms(known: set, batch: int) -> list[tuple[str, dict]]:
    """The convolution shapes first run since ``known`` was taken, in layer order, and their algorithms."""
    out = []
    for shape, chosen in conv_settings.chosen().items():
        if shape not in known and shape[0] == batch:
            n, c, h, w, o, kh, kw = shape[:7]
            out.append((f"conv {c}->{o} {kh}x{kw} on {h}x{w}", chosen))
    return out


def ceiling_note(row: dict) -> str:
    lines = [f"{row['row']}: {row['flops_per_step'] / 1e9:.2f} GFLOP per step against a {row['sgemm_peak_gflops']:.0f} "
             f"GFLOPS SGEMM peak (2048x2048 float32 matmul): profondo at {row['profondo_fraction_of_ceiling']:.0%} of "
             f"that ceiling, PyTorch at {row['pytorch_fraction_of_ceiling']:.0%}. Algorithms (forward / input "
             "gradient / weight gradient):"]
    for a in row["algorithms"]:
        lines.append(f"  {a['layer']:<28} {a.get('forward', '-')} / {a.get('input_grad', '-')} / "
                     f"{a.get('weight_grad', '-')}")
    return "\n".join(lines)


def inference_rows(args) -> list[dict]:
    """W6: the CIFAR-10 ConvNet in inference, batch-1 latency and batch-256 throughput, as the
    training model under no_grad and as its frozen edge plan (batch norm folded, ReLU fused)."""
    import torch

    from profondo.edge import freeze

    model_p, model_t = convnet_cifar(nn).eval(), convnet_cifar(torch.nn).eval()
    frozen = freeze(model_p, (3, 32, 32))
    out = []
    for batch, unit in ((1, "ms/image"), (256, "images/s")):
        rng = np.random.default_rng(0)
        xp = profondo.tensor(rng.standard_normal((batch, 3, 32, 32), dtype=np.float32))
        xt = torch.from_numpy(xp.numpy().copy())
        xn = xp.numpy()

        def run_p(xp=xp):
            with profondo.no_grad():
                model_p(xp)

        def run_t(xt=xt):
            with torch.no_grad():
                model_t(xt)

        def run_frozen(xn=xn):
            frozen.run(xn, copy=False)

        for engine, run in (("", run_p), ("edge plan, ", run_frozen)):
            ours, theirs, _, _ = side_by_side(run, run_t, args.repeats, args.seconds)
            if batch == 1:
                row = {"row": "W6", "workload": f"CIFAR ConvNet inference, {engine}batch 1 latency", "unit": unit,
                       "profondo": 1000 / ours, "pytorch": 1000 / theirs, "ratio": ours / theirs}
            else:
                row = {"row": "W6", "workload": f"CIFAR ConvNet inference, {engine}batch 256", "unit": unit,
                       "profondo": ours * batch, "pytorch": theirs * batch, "ratio": ours / theirs}
            print_row(row)
            out.append(row)
    return out


_printed_header = False


def print_row(row: dict) -> None:
    global _printed_header
    if not _printed_header:
        print(f"{'row':<4} {'workload':<52} {'profondo':>12} {'pytorch':>12} {'unit':<9} {'ratio':>6}")
        _printed_header = True
    print(f"{row['row']:<4} {row['workload']:<52} {row['profondo']:>12,.1f} {row['pytorch']:>12,.1f} "
          f"{row['unit']:<9} {row['ratio']:>6.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
