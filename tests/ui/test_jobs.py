"""The job queue: one process per job, at most N at once; stop, resume, clone, crashes, restarts.

The job processes here are small Python programs that play a worker's part (write their status
into the store, or crash, or wait), so these tests take a second, not a training run."""

from __future__ import annotations

import os
import sys
import time

import pytest

from profondo.ui.jobs import LOG_NAME, JobQueue
from profondo.ui.store import JobStore

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def worker(body: str) -> list[str]:
    """A job process: ``body`` runs with ``store`` (the JobStore) and ``job`` (its id)."""
    code = (f"import sys, time; sys.path.insert(0, {SRC!r})\n"
            "from profondo.ui.store import JobStore\n"
            "store, job = JobStore(sys.argv[1]), int(sys.argv[2])\n") + body
    return [sys.executable, "-c", code]


def wait_for(test, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = test()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def status(store, job):
    return store.get(job)["status"]


def test_jobs_run_one_at_a_time_in_queue_order(tmp_path):
    store = JobStore(tmp_path)
    queue = JobQueue(store, worker("time.sleep(0.3); store.update(job, status='done')"), max_running=1)
    first, second = queue.submit("a", {}), queue.submit("b", {})
    assert status(store, first) == "running" and status(store, second) == "queued"
    wait_for(lambda: (queue.poll(), status(store, second) == "running")[1])
    assert status(store, first) == "done"
    wait_for(lambda: (queue.poll(), status(store, second) == "done")[1])
    queue.close()


def test_a_process_that_dies_is_a_failed_job_with_its_log(tmp_path):
    store = JobStore(tmp_path)
    queue = JobQueue(store, worker("print('loading data'); sys.exit(3)"))
    job = queue.submit("a", {})
    wait_for(lambda: (queue.poll(), status(store, job) == "failed")[1])
    record = store.get(job)
    assert "ended with status 3" in record["error"] and "loading data" in record["error"]
    assert (tmp_path / os.path.basename(record["run_dir"]) / LOG_NAME).exists()
    queue.close()


def test_stop_resume_and_clone(tmp_path):
    store = JobStore(tmp_path)
    queue = JobQueue(store, worker("time.sleep(60)"))
    job = queue.submit("a", {"epochs": 3})
    pid = wait_for(lambda: store.get(job)["pid"])
    queue.stop(job)
    assert status(store, job) == "stopped"
    with pytest.raises(ProcessLookupError):
        wait_for(lambda: os.kill(pid, 0), 5)  # the process is gone
    with pytest.raises(ValueError, match="only a running or queued job"):
        queue.stop(job)
    run_dir = store.get(job)["run_dir"]
    open(os.path.join(run_dir, "last.ckpt"), "wb").close()
    queue.resume(job)
    assert store.get(job)["resume"] is True and status(store, job) == "running"
    with pytest.raises(ValueError, match="only a stopped or failed job"):
        queue.resume(job)
    queue.stop(job)
    clone = queue.clone(job)
    assert clone != job and store.get(clone)["config"] == {"epochs": 3} and not store.get(clone)["resume"]
    with pytest.raises(LookupError):
        queue.stop(999)
    queue.close()
    assert status(store, clone) == "stopped"  # closing the server stops its jobs


def test_a_restart_marks_jobs_whose_process_is_gone_as_failed(tmp_path):
    store = JobStore(tmp_path)
    job = store.create("a", {})
    store.update(job, status="running", pid=2**22 + 12345)  # no such process
    JobQueue(store, worker("pass"))
    record = store.get(job)
    assert record["status"] == "failed" and "the server stopped while this job ran" in record["error"]


def test_a_job_that_cannot_start_is_failed_and_the_queue_goes_on(tmp_path):
    store = JobStore(tmp_path)
    queue = JobQueue(store, [str(tmp_path / "no-such-program")])
    job = queue.submit("a", {})
    assert status(store, job) == "failed" and "could not start the job process" in store.get(job)["error"]
    with pytest.raises(ValueError, match="at least 1"):
        JobQueue(store, ["x"], max_running=0)


def test_a_clone_takes_the_jobs_own_architecture_file(tmp_path):
    store = JobStore(tmp_path)
    queue = JobQueue(store, worker("store.update(job, status='done')"))
    job = store.create("mine", {"architecture": "architecture.yaml"})
    run_dir = store.get(job)["run_dir"]
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "architecture.yaml"), "w") as f:
        f.write("name: mine\n")
    store.update(job, status="done")
    clone = queue.clone(job)
    with open(os.path.join(store.get(clone)["run_dir"], "architecture.yaml")) as f:
        assert f.read() == "name: mine\n"
    wait_for(lambda: (queue.poll(), status(store, clone) == "done")[1])
    queue.close()
