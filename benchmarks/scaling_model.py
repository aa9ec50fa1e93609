"""The ring all-reduce cost model of data-parallel training, on paper: where LeNet-5, the CIFAR-10
ConvNet and VGG-16 stop scaling on 10 Gb/s and 100 Gb/s links.

One step of N machines with a fixed global batch (profondo's --batch-size) costs
    T(N) = T1 / N  +  2 (N - 1) / N * G / bandwidth
(compute shared N ways; a ring all-reduce sends and receives 2 (N-1)/N of the G gradient bytes
on every link; per-message latency left out). Communication equals computation at
    N_half = T1 * bandwidth / (2 G) + 1,
where the efficiency without overlap is 50 %, and with perfect overlap adding machines stops
shortening the step. T1 is profondo's own training step for a batch of 64 on this machine
(benchmarks/results/training_steps.json: W2 for LeNet-5, W3 for the ConvNet); VGG-16 at 224x224
was not timed here: its T1 is its training FLOPs (3 x 2 x MACs x 64, from profondo's analysis)
at the FLOP rate profondo reached on W3.

    python benchmarks/scaling_model.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

BATCH = 64
LINKS = {"10 Gb/s": 10e9 / 8, "100 Gb/s": 100e9 / 8}  # bytes per second


def main() -> None:
    from profondo import analysis, architecture
    from profondo.architecture import zoo

    steps = {r["row"]: r["profondo"] for r in json.loads((ROOT / "benchmarks/results/training_steps.json")
                                                         .read_text())["rows"] if r["unit"] == "steps/s"}
    models = {}
    for name, row in (("lenet5", "W2"), ("convnetjs-cifar10", "W3"), ("vgg16", None)):
        arch = architecture.load_dict(zoo.path(name))
        stats = analysis.analyze(architecture.from_dict(arch), tuple(arch["input"]))
        models[name] = {"weights": stats.weights, "macs": stats.macs, "row": row}
    w3 = models["convnetjs-cifar10"]
    rate = 6 * w3["macs"] * BATCH * steps["W3"]  # training FLOP/s profondo reached on W3
    print(f"{'model':<18} {'weights':>12} {'gradient':>10} {'T1 (batch 64)':>16} "
          + " ".join(f"{'2G/bw ' + k:>18} {'N_half ' + k:>16}" for k in LINKS))
    for name, m in models.items():
        grad = 4 * m["weights"]
        t1 = 1 / steps[m["row"]] if m["row"] else 6 * m["macs"] * BATCH / rate
        source = f"measured {m['row']}" if m["row"] else f"{rate / 1e9:.1f} GFLOP/s"
        cells = []
        for bandwidth in LINKS.values():
            floor = 2 * grad / bandwidth
            cells.append(f"{floor * 1e3:>15.3f} ms {t1 / floor + 1:>16,.0f}")
        print(f"{name:<18} {m['weights']:>12,} {grad / 2**20:>7.2f} MiB {t1 * 1e3:>9,.1f} ms ({source}) "
              + " ".join(cells))
    print(f"\n(N_half above {BATCH} means the batch of {BATCH} runs out first: below one sample per machine)")


if __name__ == "__main__":
    main()
