"""Per-operator overhead: one MLP training step in profondo, in hand-written NumPy and in PyTorch.

The hand-written step does the same arithmetic as profondo's (x W^T + b, ReLU, fused
softmax cross-entropy, the same backward products, SGD with momentum in place) with no
graph, no Tensor and no checks, so the gap between it and profondo is the engine's own
cost per operator and per step. The three alternate, repeat after repeat, in one process.

    python benchmarks/overhead.py                       # W1 and W5
    python benchmarks/overhead.py --rows W5 --profile   # and a cProfile of profondo's step
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from harness import limit_threads, rate  # noqa: E402
from training_steps import mlp, profondo_step, torch_step  # noqa: E402

import profondo  # noqa: E402
from profondo import nn  # noqa: E402

ROWS = {"W1": ([784, 256, 256, 10], 128), "W5": ([4, 128, 128, 2], 64)}


def numpy_step(sizes: list[int], batch: int, lr: float = 0.01, momentum: float = 0.9):
    """The MLP's training step written directly on arrays, buffers reused across steps."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch)
    ws = [rng.uniform(-a ** -0.5, a ** -0.5, (b, a)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    params = [p for pair in zip(ws, bs) for p in pair]
    bufs = [None] * len(params)
    rows = np.arange(batch)

    def step():
        acts = [x]
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = acts[-1] @ w.T
            h += b
            if i < len(ws) - 1:
                np.maximum(h, 0, out=h)
            acts.append(h)
        z = acts[-1]
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        s = e.sum(1, keepdims=True)
        loss = float(np.log(s).mean() - z[rows, y].mean())
        g = e / s
        g[rows, y] -= 1
        g *= np.float32(1 / batch)
        grads = []
        for i in range(len(ws) - 1, -1, -1):
            grads.append(g.sum(0))
            grads.append(g.T @ acts[i])
            if i:
                g = g @ ws[i]
                g *= acts[i] > 0
        grads.reverse()  # w0, b0, w1, b1, ...
        for k, (p, gr) in enumerate(zip(params, grads)):
            if bufs[k] is None:
                bufs[k] = gr.copy()
            else:
                bufs[k] *= momentum
                bufs[k] += gr
            p -= lr * bufs[k]
        return loss

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="W1,W5")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of profondo's step per row")
    args = parser.parse_args()

    import torch

    limit_threads(args.threads)
    profondo.manual_seed(0)
    torch.manual_seed(0)
    print(f"{'row':<4} {'profondo':>10} {'numpy':>10} {'pytorch':>10}  steps/s   profondo/pytorch  numpy/pytorch")
    for key in args.rows.split(","):
        sizes, batch = ROWS[key]
        steps = {"profondo": profondo_step(mlp(nn, sizes), (sizes[0],), sizes[-1], batch),
                 "numpy": numpy_step(sizes, batch),
                 "pytorch": torch_step(mlp(torch.nn, sizes), (sizes[0],), sizes[-1], batch)}
        rates: dict[str, list[float]] = {k: [] for k in steps}
        for _ in range(args.repeats):
            for name, fn in steps.items():
                rates[name].append(rate(fn, args.seconds))
        med = {k: statistics.median(v) for k, v in rates.items()}
        print(f"{key:<4} {med['profondo']:>10,.0f} {med['numpy']:>10,.0f} {med['pytorch']:>10,.0f}"
              f"            {med['profondo'] / med['pytorch']:>6.2f}         {med['numpy'] / med['pytorch']:>6.2f}")
        sys.stdout.flush()
        if args.profile:
            import cProfile
            import pstats

            fn = steps["profondo"]
            cProfile.runctx("for _ in range(2000): fn()", {"fn": fn}, {}, "/tmp/overhead.prof")
            pstats.Stats("/tmp/overhead.prof").sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
