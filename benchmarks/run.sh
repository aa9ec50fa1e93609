#!/usr/bin/env bash
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines for old OpenBLAS builds) slow a
# current NumPy: unset both, for this command only, then time profondo against PyTorch.
cd "$(dirname "$0")/.." && exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/training_steps.py "$@"
