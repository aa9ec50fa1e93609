"""A rank that fails ends the run: an exception on rank 1 only, or rank 1 killed by a signal,
ends both ranks within seconds (rank 0 is left waiting in an all-reduce, which would hang
forever without the abort)."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

from profondo.distributed import Communicator, guard, mpiexec_command
from profondo.distributed.launch import failure_message
from tests.distributed import worker

needs_mpi = pytest.mark.skipif(worker.mpi_missing() is not None, reason=str(worker.mpi_missing()))
WITHIN = 30  # seconds; the run itself takes about 3 (starting two Pythons), a hang takes forever


@needs_mpi
def test_an_exception_on_rank_one_ends_both_ranks_with_the_rank_and_the_error(tmp_path):
    started = time.perf_counter()
    done = worker.run_ranks(2, "fail", str(tmp_path / "w.npz"), "--how", "raise", timeout=120)
    elapsed = time.perf_counter() - started
    assert done.returncode != 0
    assert elapsed < WITHIN, f"the run took {elapsed:.0f} s to end"
    assert "profondo: rank 1 of 2 failed: RuntimeError: injected failure on rank 1" in done.stderr
    assert "Traceback" in done.stderr  # not a user's error: the traceback is kept
    assert not (tmp_path / "w.npz").exists()  # rank 0 never finished


@needs_mpi
def test_a_rank_killed_by_a_signal_ends_the_run(tmp_path):
    started = time.perf_counter()
    done = worker.run_ranks(2, "fail", str(tmp_path / "w.npz"), "--how", "kill", timeout=120)
    elapsed = time.perf_counter() - started
    assert done.returncode != 0
    assert elapsed < WITHIN, f"the run took {elapsed:.0f} s to end"
    assert not (tmp_path / "w.npz").exists()


class _Recorder(Communicator):
    rank, size = 1, 3

    def __init__(self) -> None:
        self.aborted = None

    def abort(self, code: int = 1) -> None:
        self.aborted = code


def test_guard_reports_the_rank_and_aborts(capsys):
    comm = _Recorder()
    with guard(comm, brief=(ValueError,)):
        raise ValueError("no such file")
    assert comm.aborted == 1
    err = capsys.readouterr().err
    assert err.strip() == "profondo: rank 1 of 3 failed: ValueError: no such file; ending every rank"
    with guard(comm):
        raise KeyboardInterrupt
    assert comm.aborted == 130


def test_guard_in_a_one_process_run_lets_the_exception_through():
    with pytest.raises(ZeroDivisionError), guard(Communicator()):
        raise ZeroDivisionError("on the only rank")


def test_failure_message_names_the_rank():
    assert failure_message(_Recorder(), OSError("disk full")) == \
        "profondo: rank 1 of 3 failed: OSError: disk full; ending every rank"


def test_mpiexec_command_for_open_mpi(monkeypatch, tmp_path):
    fake = tmp_path / "mpiexec"
    fake.write_text("#!/bin/sh\necho 'mpiexec (Open MPI) 5.0.11'\n")
    fake.chmod(0o755)
    line, env = mpiexec_command(3, [sys.executable, "-m", "profondo.cli", "train"], str(fake))
    assert line == [str(fake), "-n", "3", "--oversubscribe", sys.executable, "-m", "profondo.cli", "train"]
    assert env["OMPI_MCA_mpi_yield_when_idle"] == os.environ.get("OMPI_MCA_mpi_yield_when_idle", "1")
    if os.geteuid() == 0:
        assert env["OMPI_ALLOW_RUN_AS_ROOT"] == env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] == "1"
    with pytest.raises(ValueError, match="procs >= 1"):
        mpiexec_command(0, ["x"], str(fake))


def test_mpiexec_command_for_another_mpi(tmp_path):
    fake = tmp_path / "mpiexec"
    fake.write_text("#!/bin/sh\necho 'HYDRA build details:'\n")
    fake.chmod(0o755)
    line, _ = mpiexec_command(2, ["prog"], str(fake))
    assert line == [str(fake), "-n", "2", "prog"]


@needs_mpi
def test_profondo_train_procs_2_learns_what_one_process_learns(tmp_path, capsys):
    """The command line: ``--procs 2`` runs mpiexec; the same history as one process (the
    global batch stays 32), one progress bar and one report (rank 0's)."""
    import json
    import subprocess

    from profondo.cli import main
    from profondo.data import DatasetNotFoundError, load_dataset

    try:
        load_dataset("mnist", "test")
    except DatasetNotFoundError as e:
        pytest.skip(f"MNIST not installed: {e}")
    flags = ["train", "lenet5", "--data", "mnist", "--limit", "256", "--val", "64", "--epochs", "1",
             "--batch-size", "32", "--optimizer", "sgd", "--lr", "0.05", "--shift", "0"]
    env = {**os.environ, "PYTHONPATH": str(worker.SRC)}
    done = subprocess.run([sys.executable, "-m", "profondo.cli", *flags, "--procs", "2", "--out",
                           str(tmp_path / "two")], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("training lenet5 on mnist") == 1 and "(16 in each of 2 processes)" in done.stdout
    assert done.stdout.count("epoch 1/1: loss") == 1  # the epoch line of rank 0 alone
    assert main([*flags, "--out", str(tmp_path / "one"), "--quiet"]) == 0
    two, one = (json.loads((tmp_path / name / "history.json").read_text()) for name in ("two", "one"))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, err_msg=key)
    assert main([*flags, "--procs", "0"]) == 1
    assert "--procs expected a number of processes >= 1, received 0" in capsys.readouterr().err


def test_procs_under_mpiexec_is_refused(monkeypatch, capsys):
    from profondo.cli import main

    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert main(["train", "lenet5", "--procs", "2"]) == 1
    assert "--procs starts mpiexec itself" in capsys.readouterr().err


def test_the_excepthook_names_the_rank_and_aborts(monkeypatch, capsys):
    from profondo.distributed import install_excepthook

    comm = _Recorder()
    monkeypatch.setattr(sys, "excepthook", lambda *a: None)
    install_excepthook(comm)
    sys.excepthook(RuntimeError, RuntimeError("late"), None)
    assert comm.aborted == 1
    assert "profondo: rank 1 of 3 failed: RuntimeError: late" in capsys.readouterr().err
