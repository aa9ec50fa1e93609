"""Inference latency (batch 1) and throughput (batch 256) of profondo's frozen float32 and int8
plans against PyTorch and onnxruntime on the CPU, side by side in one process.

The engines alternate, repeat after repeat; the table reports medians and the ratio to PyTorch.
Each engine gets two threads (torch.set_num_threads(2), onnxruntime intra_op_num_threads=2, the
BLAS behind NumPy limited to 2 by threadpoolctl). The same as ``profondo bench``.

    python benchmarks/inference.py                                   # lenet5, mlp-mnist, convnetjs-cifar10, resnet-small
    python benchmarks/inference.py --models lenet5 --checkpoint lenet5=/tmp/lenet-edge/best.ckpt \\
        --json benchmarks/inference.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from profondo.cli import main as profondo  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return profondo(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
