"""The workbench's SQLite job store: jobs, their measurements, and a restart that keeps them."""

from __future__ import annotations

import sqlite3

import pytest

from profondo.ui.store import DB_NAME, JobStore


def test_a_job_survives_reopening_the_store(tmp_path):
    store = JobStore(tmp_path)
    job = store.create("lenet5-mnist", {"architecture": "lenet5", "epochs": 2})
    store.update(job, status="running", pid=1234, started=10.0)
    again = JobStore(tmp_path).get(job)  # a new server over the same folder
    assert again["name"] == "lenet5-mnist" and again["status"] == "running" and again["pid"] == 1234
    assert again["config"] == {"architecture": "lenet5", "epochs": 2}
    assert again["run_dir"] == str(tmp_path.resolve() / f"{job}-lenet5-mnist")
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_jobs_list_newest_first_and_queue_oldest_first(tmp_path):
    store = JobStore(tmp_path)
    ids = [store.create(f"job{i}", {}) for i in range(3)]
    assert [j["id"] for j in store.list()] == ids[::-1]
    store.update(ids[0], status="running")
    assert [j["id"] for j in store.claim_queued(5)] == ids[1:]
    assert [j["id"] for j in store.claim_queued(1)] == ids[1:2]
    assert store.claim_queued(0) == []


def test_update_refuses_unknown_fields_and_statuses(tmp_path):
    store = JobStore(tmp_path)
    job = store.create("x", {})
    with pytest.raises(ValueError, match="unknown job fields"):
        store.update(job, config="{}")
    with pytest.raises(ValueError, match="job status must be one of"):
        store.update(job, status="paused")
    store.update(job, result={"test_accuracy": 0.5})
    assert store.get(job)["result"] == {"test_accuracy": 0.5}


def test_folder_names_keep_only_safe_characters(tmp_path):
    store = JobStore(tmp_path)
    job = store.create("../../etc/passwd", {})
    run_dir = store.get(job)["run_dir"]
    assert run_dir.startswith(str(tmp_path.resolve()) + "/") and ".." not in run_dir and run_dir.count("/") == \
        str(tmp_path.resolve()).count("/") + 1


def test_metrics_are_read_after_a_step_in_order(tmp_path):
    store = JobStore(tmp_path)
    job, other = store.create("a", {}), store.create("b", {})
    for step in (3, 1, 2):
        store.add_metrics(job, "batch", step, 0, step * 0.5, {"loss": 1.0 / step})
    store.add_metrics(other, "batch", 1, 0, 0.1, {"loss": 9.0})
    store.add_metrics(job, "epoch", 1, 0, 2.0, {"loss": 0.4, "val_loss": 0.5})
    assert [m["step"] for m in store.metrics(job, "batch")] == [1, 2, 3]
    assert [m["loss"] for m in store.metrics(job, "batch", after=1)] == [0.5, 1 / 3]
    assert store.metrics(job, "epoch") == [{"step": 1, "epoch": 0, "time": 2.0, "loss": 0.4, "val_loss": 0.5}]
    with pytest.raises(ValueError, match="scope"):
        store.add_metrics(job, "minute", 1, 0, 0.0, {})


def test_a_resumed_job_forgets_what_came_after_its_checkpoint(tmp_path):
    store = JobStore(tmp_path)
    job = store.create("a", {})
    for step in range(1, 7):  # 3 steps an epoch; stopped during epoch 2 (steps 4-5) after checkpointing epoch 1
        store.add_metrics(job, "batch", step, (step - 1) // 3, float(step), {"loss": 1.0})
        store.add_gradients(job, step, {"fc1": 0.1 * step})
    store.add_metrics(job, "epoch", 1, 0, 3.0, {"loss": 1.0})
    store.add_metrics(job, "epoch", 2, 1, 6.0, {"loss": 1.0})
    store.add_histograms(job, 1, "weights", {"fc1": {"counts": [1], "edges": [0, 1]}})
    store.add_histograms(job, 2, "weights", {"fc1": {"counts": [2], "edges": [0, 1]}})
    store.forget_after(job, 1)
    assert [m["step"] for m in store.metrics(job, "batch")] == [1, 2, 3]
    assert [m["step"] for m in store.metrics(job, "epoch")] == [1]
    assert [g["step"] for g in store.gradients(job)] == [1, 2, 3]
    assert store.histograms(job, "weights") == {"epoch": 1, "layers": {"fc1": {"counts": [1], "edges": [0, 1]}}}


def test_histograms_latest_epoch_and_numpy_values(tmp_path):
    np = pytest.importorskip("numpy")
    store = JobStore(tmp_path)
    job = store.create("a", {})
    assert store.histograms(job, "activations") is None
    store.add_histograms(job, 0, "activations", {"conv1": {"counts": np.array([1, 2]), "edges": np.float32(0.5)}})
    assert store.histograms(job, "activations") == {"epoch": 0, "layers": {"conv1": {"counts": [1, 2], "edges": 0.5}}}
    store.delete_metrics(job)
    assert store.histograms(job, "activations") is None
