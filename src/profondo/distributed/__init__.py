"""Data-parallel training over MPI (mpi4py) between processes and machines, and NCCL (CuPy)
between GPUs: one process per CPU share or GPU, the same model in each, each a share of every
batch, gradients averaged by a bucketed all-reduce that overlaps backward.

    mpiexec -n 4 profondo train lenet5 --data mnist      # or: profondo train lenet5 --procs 4

In Python: ``world = get_world()``, ``shard_loader(loader, world)``, ``data_parallel(trainer,
world)``, under ``with guard(world):`` so that a failing rank ends the run.
"""

from .launch import find_mpiexec, guard, install_excepthook, mpiexec_command, run_under_mpiexec
from .parallel import broadcast_parameters, data_parallel, shard_dataset, shard_eval_loader, shard_loader
from .reducer import GradientAllReduce
from .sync_batchnorm import SyncBatchNorm
from .world import Communicator, MPICommunicator, get_world, is_main_process, launched_by_mpi

__all__ = [
    "Communicator",
    "GradientAllReduce",
    "MPICommunicator",
    "broadcast_parameters",
    "data_parallel",
    "find_mpiexec",
    "get_world",
    "guard",
    "install_excepthook",
    "is_main_process",
    "launched_by_mpi",
    "mpiexec_command",
    "run_under_mpiexec",
    "shard_dataset",
    "shard_eval_loader",
    "shard_loader",
    "SyncBatchNorm",
]
