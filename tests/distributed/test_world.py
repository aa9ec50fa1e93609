"""The run's world: a launcher is recognised by its variables; without one the world is a
single process and mpi4py is never imported."""

import subprocess
import sys

import numpy as np

from profondo.distributed import Communicator, get_world, is_main_process, launched_by_mpi


def test_launchers_are_recognised_by_their_variables():
    assert launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "2"})  # Open MPI's mpiexec
    assert launched_by_mpi({"PMI_RANK": "0", "PMI_SIZE": "4"})  # MPICH / Intel MPI (Hydra)
    assert launched_by_mpi({"PMIX_RANK": "3"})  # srun --mpi=pmix
    assert not launched_by_mpi({"SLURM_NTASKS": "4", "PATH": "/bin"})  # an allocation is not a launch


def test_a_plain_process_is_a_world_of_one_without_mpi():
    code = ("import sys; import profondo.distributed as d; w = d.get_world(); "
            "print(w.size, w.rank, 'mpi4py' in sys.modules)")
    env = {k: v for k, v in __import__("os").environ.items() if not launched_by_mpi({k: v})}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["1", "0", "False"]


def test_the_one_process_collectives_are_identities():
    world = Communicator()
    buffer = np.arange(3.0)
    world.allreduce_(buffer)
    world.broadcast_(buffer)
    assert buffer.tolist() == [0.0, 1.0, 2.0]
    assert world.sum([2, 3]).tolist() == [2.0, 3.0] and world.broadcast_object({"a": 1}) == {"a": 1}
    assert get_world().size == 1 and is_main_process()
