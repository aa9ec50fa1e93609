"""One rank of the data-parallel tests, started by them under ``mpiexec -n 2`` (and imported by
them to run the one-process reference in the test's own process).

    python worker.py train OUT [--epochs E] [--batch B] [--ckpt DIR]   # LeNet-5, SGD momentum
    python worker.py fail OUT --how raise|kill                       # rank 1 fails at step 5
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

import profondo  # noqa: E402
from profondo import nn, optim  # noqa: E402
from profondo.data import ArrayDataset, DataLoader  # noqa: E402
from profondo.distributed import data_parallel, get_world, guard, shard_loader  # noqa: E402
from profondo.train import Callback, ModelCheckpoint, Trainer  # noqa: E402

SAMPLES = 800  # 50 steps of 16 per epoch
BATCH = 16
SEED = 3


def data(samples: int = SAMPLES) -> ArrayDataset:
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((samples, 1, 28, 28), dtype=np.float32)
    # Labels a fixed function of the image (learnable), so that the loss falls; random labels make
    # the trajectory chaotic, and float32 rounding differences grow to 1e-3 within 50 steps.
    y = (x.reshape(samples, -1) @ rng.standard_normal((784, 10), dtype=np.float32)).argmax(axis=1)
    return ArrayDataset(x, y)


def lenet5() -> nn.Sequential:
    """LeNet-5 as the zoo's lenet5.yaml has it (ReLU, max pooling, no dropout), built in code so
    that these tests do not need PyYAML."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def bn_net(sync: bool = False) -> nn.Sequential:
    """A small convolutional network with batch norm (SyncBatchNorm with ``sync``)."""
    from profondo.distributed import SyncBatchNorm

    profondo.manual_seed(SEED)
    model = nn.Sequential(nn.Conv2d(1, 4, 5, stride=2), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(144, 10))
    return SyncBatchNorm.convert_sync_batchnorm(model) if sync else model


def make_trainer(callbacks=(), model=None) -> Trainer:
    """LeNet-5 (no dropout in it) with SGD momentum 0.9, constant learning rate, seeded weights."""
    profondo.manual_seed(SEED)
    model = lenet5() if model is None else model
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Trainer(model, optimizer, callbacks=list(callbacks), progress=False)


def loader(batch: int = BATCH) -> DataLoader:
    return DataLoader(data(), batch, shuffle=True, seed=SEED, prefetch=0)


def weights(trainer: Trainer) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in trainer.model.state_dict().items()}  # copies: state_dict shares memory


class FailAt(Callback):
    """Rank 1 fails at step 5; rank 0 goes on into the next all-reduce."""

    def __init__(self, how: str) -> None:
        self.how = how

    def on_batch_end(self, step: int, logs: dict) -> None:
        if get_world().rank == 1 and step == 5:
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("injected failure on rank 1")


WORKER = Path(__file__).resolve()


def mpi_missing() -> str | None:
    """Why two MPI ranks cannot be started here (None when they can). CI sets
    PROFONDO_REQUIRE_MPI=1, which turns that reason into a failure instead of a skip."""
    import importlib.util

    reason = None
    if importlib.util.find_spec("mpi4py") is None:
        reason = "mpi4py is not installed (pip install 'profondo[mpi]')"
    else:
        from profondo.distributed import find_mpiexec

        try:
            find_mpiexec()
        except FileNotFoundError as error:
            reason = str(error)
    if reason and os.environ.get("PROFONDO_REQUIRE_MPI"):
        raise RuntimeError(f"PROFONDO_REQUIRE_MPI is set, but {reason}")
    return reason


def run_ranks(procs: int, *args: str, timeout: float = 120):
    """Run this worker as ``procs`` MPI ranks; the finished process (stdout, stderr, returncode)."""
    import subprocess

    from profondo.distributed import mpiexec_command

    line, env = mpiexec_command(procs, [sys.executable, str(WORKER), *args])
    env["PYTHONPATH"] = str(SRC)
    return subprocess.run(line, env=env, capture_output=True, text=True, timeout=timeout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("train", "fail", "syncbn", "nccl"))
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=BATCH, help="global batch")
    parser.add_argument("--ckpt")
    parser.add_argument("--how", default="raise")
    parser.add_argument("--resume", help="a checkpoint to continue from")
    args = parser.parse_args()
    from profondo.backend import blas_threads

    world = get_world()
    with guard(world), blas_threads(1):
        callbacks = [ModelCheckpoint(args.ckpt, monitor="loss")] if args.ckpt else []
        if args.mode == "fail":
            callbacks.append(FailAt(args.how))
        if args.mode == "nccl":  # one process per GPU (one rank is enough): gradients through NCCL
            from profondo.distributed import GradientAllReduce, broadcast_parameters
            from profondo.distributed.nccl import nccl_world

            comm = nccl_world()
            trainer = make_trainer()
            trainer.device = profondo.device(f"cuda:{comm.device}")
            trainer.model.to(trainer.device)
            broadcast_parameters(trainer.model, comm)
            trainer.gradient_hooks.append(GradientAllReduce(trainer.model.parameters(), comm))
            trainer.metric_reduce = comm.sum
            trainer.fit(shard_loader(loader(args.batch), comm), args.epochs)
            if comm.rank == 0:
                np.savez(args.out, **weights(trainer), steps=trainer.step)
            return
        if args.mode == "syncbn":  # batch norm per rank (the default) and synchronised, 20 steps each
            results = {}
            for sync in (False, True):
                trainer = make_trainer(model=bn_net(sync))
                data_parallel(trainer, world)
                trainer.fit(shard_loader(DataLoader(data(320), BATCH, shuffle=True, seed=SEED, prefetch=0)), 1)
                results.update({f"{sync}/{k}": v for k, v in weights(trainer).items()})
            if world.rank == 0:
                np.savez(args.out, **results)
            return
        trainer = make_trainer(callbacks)
        if args.resume:
            trainer.resume(args.resume)
        data_parallel(trainer, world)
        history = trainer.fit(shard_loader(loader(args.batch), world), args.epochs)
        if world.rank == 0:
            np.savez(args.out, **weights(trainer), history_loss=np.array(history["loss"]),
                     history_accuracy=np.array(history["accuracy"]), steps=trainer.step)


if __name__ == "__main__":
    main()
