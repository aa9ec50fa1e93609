"""NCCL between GPUs. Without CuPy (CI) only what the CPU can check runs: the clear error, the
dtype table and the local rank; on a GPU machine (.ci/gpu-distributed-check) one process per GPU
trains LeNet-5 with gradients through NCCL and must match the CPU run of the same global batch."""

import importlib.util

import numpy as np
import pytest

from profondo.backend import blas_threads
from profondo.distributed.nccl import NCCL_TYPES, import_nccl, local_rank, nccl_type
from tests.distributed import worker

HAS_CUPY = importlib.util.find_spec("cupy") is not None


def _gpus() -> int:
    if not HAS_CUPY:
        return 0
    import profondo

    if not profondo.cuda_available():
        return 0
    import cupy

    return cupy.cuda.runtime.getDeviceCount()


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed: the error for its absence cannot be seen")
def test_without_cupy_the_error_says_what_to_install():
    from profondo.distributed.nccl import NCCLCommunicator

    with pytest.raises(ImportError, match=r"NCCL needs CuPy.*profondo\[gpu\]"):
        NCCLCommunicator()
    with pytest.raises(ImportError, match="NCCL needs CuPy"):
        import_nccl()


def test_dtypes_and_local_rank():
    assert nccl_type(np.dtype("float32")) == "NCCL_FLOAT32" and nccl_type("int64") == "NCCL_INT64"
    with pytest.raises(TypeError, match="NCCL reduces .* received an array of dtype bool"):
        nccl_type(np.dtype(bool))
    assert set(NCCL_TYPES) >= {"float16", "float32", "float64"}
    assert local_rank({"OMPI_COMM_WORLD_LOCAL_RANK": "3"}) == 3 and local_rank({"SLURM_LOCALID": "1"}) == 1
    assert local_rank({}) == 0


@pytest.mark.skipif(_gpus() == 0 or worker.mpi_missing() is not None, reason="needs CuPy, a GPU and MPI")
def test_cuda_nccl_one_process_per_gpu_equals_the_cpu_run(tmp_path):
    gpus = _gpus()
    procs = 2 if gpus >= 2 else 1
    done = worker.run_ranks(procs, "nccl", str(tmp_path / "w.npz"), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    gpu = dict(np.load(tmp_path / "w.npz"))
    assert int(gpu["steps"]) == 50
    with blas_threads(1):
        trainer = worker.make_trainer()
        trainer.fit(worker.loader(), 1)
    for name, expected in worker.weights(trainer).items():
        # float32 on two devices (cuDNN's convolution algorithms against im2col), 50 steps
        np.testing.assert_allclose(gpu[name], expected, rtol=0, atol=1e-4, err_msg=name)


@pytest.mark.skipif(_gpus() == 0 or worker.mpi_missing() is not None, reason="needs CuPy, a GPU and MPI")
def test_cuda_nccl_collectives_on_one_rank():
    import cupy

    from profondo.distributed.nccl import nccl_world

    world = nccl_world()
    buffer = cupy.arange(5, dtype=cupy.float32)
    world.allreduce_(buffer)
    request = world.iallreduce_(buffer)
    world.wait([request])
    world.broadcast_(buffer, 0)
    assert cupy.asnumpy(buffer).tolist() == [float(world.size**2 * i) for i in range(5)]
    assert world.sum([1.0]).tolist() == [float(world.size)]
