"""NCCL between GPUs (through CuPy): one process per GPU, started by mpiexec as on the CPU.

MPI starts the processes and carries what is small and on the host (the NCCL communicator's id
from rank 0, metric sums, barriers, Abort); NCCL all-reduces and broadcasts what is on the GPU
(gradient buckets, weights). A non-blocking all-reduce is queued on a communication stream that
first waits for the compute stream (so it reads finished gradients) and the step's wait makes
the compute stream wait for it in turn: the host never blocks, and the reduction of a bucket
runs on the GPU while backward queues the kernels of the earlier layers.

    world = nccl_world()              # under mpiexec -n <GPUs>; each rank takes GPU local_rank
"""

from __future__ import annotations

import os

from .world import Communicator, MPICommunicator, get_world

CUPY_MISSING = "NCCL needs CuPy with its NCCL bindings: pip install 'profondo[gpu]' on a machine with NVIDIA GPUs"

# NumPy dtype names -> NCCL's data type names (cupy.cuda.nccl constants).
NCCL_TYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
              "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint8": "NCCL_UINT8", "int8": "NCCL_INT8"}


def import_nccl():
    """``(cupy, cupy.cuda.nccl)``, or an ImportError that says what is missing."""
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError as error:
        raise ImportError(f"{CUPY_MISSING} ({error})") from None
    if not getattr(nccl, "available", True):
        raise ImportError(f"{CUPY_MISSING} (this CuPy was built without NCCL)")
    return cupy, nccl


def local_rank(environ=None) -> int:
    """This process's index among the processes of its machine (the GPU it takes)."""
    environ = os.environ if environ is None else environ
    for name in ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                 "LOCAL_RANK"):
        if name in environ:
            return int(environ[name])
    return 0


def nccl_type(dtype) -> str:
    """The NCCL data type name of a NumPy/CuPy dtype (a TypeError names the ones NCCL has)."""
    name = str(dtype)
    if name not in NCCL_TYPES:
        raise TypeError(f"NCCL reduces {sorted(NCCL_TYPES)}, received an array of dtype {name}")
    return NCCL_TYPES[name]


class NCCLCommunicator(Communicator):
    """Device arrays (CuPy) through NCCL, host arrays and objects through ``mpi`` (default: the
    MPI world). Each process uses GPU ``device`` (default: its local rank modulo the GPUs)."""

    backend = "nccl"

    def __init__(self, mpi: MPICommunicator | None = None, device: int | None = None) -> None:
        self.cupy, self.nccl = import_nccl()
        self.mpi = get_world() if mpi is None else mpi
        self.rank, self.size = self.mpi.rank, self.mpi.size
        self.device = local_rank() % self.cupy.cuda.runtime.getDeviceCount() if device is None else device
        self.cupy.cuda.Device(self.device).use()
        uid = self.nccl.get_unique_id() if self.rank == 0 else None
        uid = self.mpi.broadcast_object(uid, 0)  # the communicator id passed over MPI
        self.comm = self.nccl.NcclCommunicator(self.size, uid, self.rank)
        self.stream = self.cupy.cuda.Stream(non_blocking=True)

    def _on_device(self, buffer) -> bool:
        return isinstance(buffer, self.cupy.ndarray)

    def _allreduce(self, buffer, stream) -> None:
        kind = getattr(self.nccl, nccl_type(buffer.dtype))
        self.comm.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, kind, self.nccl.NCCL_SUM, stream.ptr)

    def allreduce_(self, buffer) -> None:
        if not self._on_device(buffer):
            return self.mpi.allreduce_(buffer)
        self._allreduce(buffer, self.cupy.cuda.get_current_stream())

    def iallreduce_(self, buffer):
        if not self._on_device(buffer):
            return self.mpi.iallreduce_(buffer)
        compute = self.cupy.cuda.get_current_stream()
        self.stream.wait_event(compute.record())  # the bucket's gradients are computed
        self._allreduce(buffer, self.stream)
        return self.stream.record()

    def test(self, requests: list) -> None:
        pass  # the GPU progresses NCCL by itself

    def wait(self, requests: list) -> None:
        compute = self.cupy.cuda.get_current_stream()
        host = [r for r in requests if not isinstance(r, self.cupy.cuda.Event)]
        for event in requests:
            if isinstance(event, self.cupy.cuda.Event):
                compute.wait_event(event)  # the update reads the means only after the reduction
        self.mpi.wait(host)

    def broadcast_(self, buffer, root: int = 0) -> None:
        if not self._on_device(buffer):
            return self.mpi.broadcast_(buffer, root)
        kind = getattr(self.nccl, nccl_type(buffer.dtype))
        stream = self.cupy.cuda.get_current_stream()
        self.comm.bcast(buffer.data.ptr, buffer.size, kind, root, stream.ptr)

    def broadcast_object(self, value, root: int = 0):
        return self.mpi.broadcast_object(value, root)

    def barrier(self) -> None:
        self.cupy.cuda.get_current_stream().synchronize()
        self.mpi.barrier()

    def abort(self, code: int = 1) -> None:
        try:
            self.comm.abort()
        finally:
            self.mpi.abort(code)


def nccl_world(device: int | None = None) -> NCCLCommunicator:
    """The world's processes, one GPU each, with NCCL for device arrays (see NCCLCommunicator)."""
    return NCCLCommunicator(get_world(), device)
