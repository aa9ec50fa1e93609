"""Training-step and inference throughput of profondo against PyTorch, side by side.

Each workload is one training step (forward, cross-entropy, backward, SGD-momentum update)
on random float32 data of the right shape. The two frameworks alternate, repeat after
repeat, on the same machine in the same process, and the table reports medians.

    bash benchmarks/run.sh            # unsets OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, then runs this
    python benchmarks/training_steps.py --rows W1,W5 --repeats 7
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from harness import limit_threads, side_by_side, write_report  # noqa: E402

import profondo  # noqa: E402
from profondo import functional as F  # noqa: E402
from profondo import nn, optim  # noqa: E402


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


WORKLOADS = {
    "W1": ("MLP 784-256-256-10, batch 128", lambda lib: mlp(lib, [784, 256, 256, 10]), (784,), 10, 128),
    "W2": ("LeNet-5, batch 64", lenet5, (1, 28, 28), 10, 64),
    "W3": ("CIFAR-10 ConvNet, batch 64", convnet_cifar, (3, 32, 32), 10, 64),
    "W5": ("MLP 4-128-128-2, batch 64", lambda lib: mlp(lib, [4, 128, 128, 2]), (4,), 2, 64),
}


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
    parser.add_argument("--rows", default="W1,W2,W3,W5,W6")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per measurement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default="benchmarks/results/training_steps.json")
    args = parser.parse_args()

    import torch

    blas = limit_threads(args.threads)
    profondo.manual_seed(0)
    torch.manual_seed(0)
    rows = []
    for key in args.rows.split(","):
        if key == "W6":
            rows += inference_rows(args)
            continue
        title, build, shape, classes, batch = WORKLOADS[key]
        p = profondo_step(build(nn), shape, classes, batch)
        t = torch_step(build(torch.nn), shape, classes, batch)
        ours, theirs, _, _ = side_by_side(p, t, args.repeats, args.seconds)
        rows.append({"row": key, "workload": title, "unit": "steps/s", "profondo": ours, "pytorch": theirs,
                     "profondo_samples_per_s": ours * batch, "pytorch_samples_per_s": theirs * batch,
                     "ratio": ours / theirs})
        print_row(rows[-1])
    write_report(args.json, rows, blas, args.threads, args.repeats, args.seconds)
    print(f"\n(medians of {args.repeats} alternating repeats; ratio > 1 means profondo is faster; JSON: {args.json})")


def inference_rows(args) -> list[dict]:
    """W6: the CIFAR-10 ConvNet in inference, batch-1 latency and batch-256 throughput."""
    import torch

    model_p, model_t = convnet_cifar(nn).eval(), convnet_cifar(torch.nn).eval()
    out = []
    for batch, unit in ((1, "ms/image"), (256, "images/s")):
        rng = np.random.default_rng(0)
        xp = profondo.tensor(rng.standard_normal((batch, 3, 32, 32), dtype=np.float32))
        xt = torch.from_numpy(xp.numpy().copy())

        def run_p(xp=xp):
            with profondo.no_grad():
                model_p(xp)

        def run_t(xt=xt):
            with torch.no_grad():
                model_t(xt)

        ours, theirs, _, _ = side_by_side(run_p, run_t, args.repeats, args.seconds)
        if batch == 1:
            row = {"row": "W6", "workload": "CIFAR ConvNet inference, batch 1 latency", "unit": unit,
                   "profondo": 1000 / ours, "pytorch": 1000 / theirs, "ratio": ours / theirs}
        else:
            row = {"row": "W6", "workload": "CIFAR ConvNet inference, batch 256", "unit": unit,
                   "profondo": ours * batch, "pytorch": theirs * batch, "ratio": ours / theirs}
        print_row(row)
        out.append(row)
    return out


_printed_header = False


def print_row(row: dict) -> None:
    global _printed_header
    if not _printed_header:
        print(f"{'row':<4} {'workload':<44} {'profondo':>12} {'pytorch':>12} {'unit':<9} {'ratio':>6}")
        _printed_header = True
    print(f"{row['row']:<4} {row['workload']:<44} {row['profondo']:>12,.1f} {row['pytorch']:>12,.1f} "
          f"{row['unit']:<9} {row['ratio']:>6.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
