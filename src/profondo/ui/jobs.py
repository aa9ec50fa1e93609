"""The job queue: each job a separate process, at most ``max_running`` at once.

The server never trains: a job runs as its own process (``worker_command + [runs, id]``), which
writes its status, metrics and checkpoints itself, so a job that crashes, diverges or is killed
leaves the server running. A watcher thread starts queued jobs while there is room and reaps the
processes that ended: one that ended without saying how (killed, out of memory) is marked failed
with the end of its log. Stop terminates the process; resume queues the job again to continue
from its ``last.ckpt``; clone queues a new job with the same configuration.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .store import JobStore

LOG_NAME = "log.txt"
ARCHITECTURE_FILE = "architecture.yaml"  # a job's own network (a file typed on the page), in its folder
OWN_FILES = (ARCHITECTURE_FILE,)  # what a job's folder holds before it starts, copied by clone
LOG_TAIL = 4000  # characters of a job's log shown with its failure


class JobQueue:
    """Start, watch, stop, resume and clone the jobs of ``store``."""

    def __init__(self, store: JobStore, worker_command: list[str], max_running: int = 1,
                 poll_seconds: float = 0.25) -> None:
        if max_running < 1:
            raise ValueError(f"max_running expected at least 1 job at a time, received {max_running}")
        self.store, self.worker_command = store, list(worker_command)
        self.max_running, self.poll_seconds = max_running, poll_seconds
        self.processes: dict[int, subprocess.Popen] = {}
        self.adopted: dict[int, int] = {}  # job -> pid: still running from before a restart of the server
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recover()

    def _recover(self) -> None:
        """After a restart: a job recorded as running whose process is gone did not finish."""
        for job in self.store.list():
            if job["status"] == "running" and _alive(job["pid"]):
                self.adopted[job["id"]] = job["pid"]
            elif job["status"] == "running":
                self.store.update(job["id"], status="failed", finished=time.time(),
                                  error=(job["error"] or "") + "the server stopped while this job ran; resume it "
                                        "to continue from its last checkpoint\n" + _log_tail(job))

    # --- the watcher ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="profondo-jobs", daemon=True)
            self._thread.start()

    def close(self, stop_jobs: bool = True) -> None:
        """Stop watching; with ``stop_jobs`` terminate the running jobs (marked stopped)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if stop_jobs:
            for job in list(self.processes):
                with contextlib.suppress(ValueError, LookupError):  # it ended meanwhile
                    self.stop(job)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as error:  # noqa: BLE001 - the watcher must outlive a locked or damaged database
                print(f"profondo ui: job watcher: {type(error).__name__}: {error}", file=sys.stderr)
            self._stop.wait(self.poll_seconds)

    def poll(self) -> None:
        """Reap ended processes, then start queued jobs while fewer than ``max_running`` run."""
        with self._lock:
            for job, proc in list(self.processes.items()):
                code = proc.poll()
                if code is None:
                    continue
                del self.processes[job]
                record = self.store.get(job)
                if record and record["status"] in ("running", "queued"):
                    self.store.update(job, status="failed", finished=time.time(),
                                      error=f"the job process ended with status {code} before finishing\n"
                                            + _log_tail(record))
            for job, pid in list(self.adopted.items()):
                if not _alive(pid):
                    del self.adopted[job]
                    record = self.store.get(job)
                    if record and record["status"] == "running":
                        self.store.update(job, status="failed", finished=time.time(),
                                          error="the job process ended before finishing\n" + _log_tail(record))
            room = self.max_running - len(self.processes) - len(self.adopted)
            for job in self.store.claim_queued(room):
                self._launch(job)

    def _launch(self, job: dict) -> None:
        run_dir = Path(job["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=True)
        # Running before the process exists: a job that fails at once then cannot be marked running after it.
        self.store.update(job["id"], status="running", pid=None, started=time.time(), finished=None, error=None)
        log = open(run_dir / LOG_NAME, "ab")
        try:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            proc = subprocess.Popen([*self.worker_command, str(self.store.runs), str(job["id"])],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)  # Ctrl-C on the server reaches the jobs through close()
        except OSError as error:
            self.store.update(job["id"], status="failed", finished=time.time(),
                              error=f"could not start the job process: {error}")
            return
        finally:
            log.close()
        self.processes[job["id"]] = proc
        self.store.update(job["id"], pid=proc.pid)

    # --- what the page asks -----------------------------------------------------------------
    def submit(self, name: str, config: dict, prepare: Callable[[Path], None] | None = None) -> int:
        """Queue a job (``prepare(folder)`` writes the files it starts with) and start it if there is room."""
        job = self.store.create(name, config, prepare)
        self.poll()
        return job

    def stop(self, job: int) -> dict:
        """Terminate a running job (status stopped) or take a queued one off the queue."""
        with self._lock:
            record = self._job(job)
            if record["status"] not in ("running", "queued"):
                raise ValueError(f"job {job} is {record['status']}: only a running or queued job can be stopped")
            # The status is written first: the process's end is then no failure to report.
            self.store.update(job, status="stopped", finished=time.time())
            proc = self.processes.pop(job, None)
            pid = self.adopted.pop(job, None)
        if proc is not None:
            _terminate(proc)
        elif pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        return self._job(job)

    def resume(self, job: int) -> dict:
        """Queue a stopped or failed job again: it continues from its last checkpoint if it has one."""
        with self._lock:
            record = self._job(job)
            if record["status"] not in ("stopped", "failed"):
                raise ValueError(f"job {job} is {record['status']}: only a stopped or failed job can be resumed")
            has_checkpoint = (Path(record["run_dir"]) / "last.ckpt").exists()
            self.store.update(job, status="queued", resume=has_checkpoint, error=None, finished=None)
        self.poll()
        return self._job(job)

    def clone(self, job: int) -> int:
        """A new queued job with the same configuration (and the same architecture file, if the
        job's network was a file of its own)."""
        record = self._job(job)

        def copy_own_files(run_dir: Path) -> None:
            for name in OWN_FILES:
                if (Path(record["run_dir"]) / name).is_file():
                    shutil.copyfile(Path(record["run_dir"]) / name, run_dir / name)

        return self.submit(record["name"], record["config"], copy_own_files)

    def _job(self, job: int) -> dict:
        record = self.store.get(job)
        if record is None:
            raise LookupError(f"no job {job}")
        return record


def _terminate(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the job's process group, SIGKILL it after ``grace`` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _log_tail(job: dict) -> str:
    path = Path(job["run_dir"]) / LOG_NAME
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-LOG_TAIL:]

