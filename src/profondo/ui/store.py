"""The workbench's job store: one SQLite database (``jobs.sqlite``) in the runs folder.

A job is a training run the page started: its configuration (the flags of ``profondo train``),
its status (queued, running, done, failed, stopped), its process id, its error (a traceback)
and its folder (``runs/<job>/``, the layout ``profondo train`` writes, so ``--resume`` works).
What it measures while it trains lands in three tables: ``metrics`` (per batch and per epoch),
``gradients`` (per-layer gradient norms over steps) and ``histograms`` (weights and activations
per epoch). The server and the job processes write the same file: WAL mode lets the page read
while a job writes, and each connection waits up to ``TIMEOUT`` seconds for a lock.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

DB_NAME = "jobs.sqlite"
TIMEOUT = 30.0
STATUSES = ("queued", "running", "done", "failed", "stopped")
FINISHED = ("done", "failed", "stopped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    pid INTEGER,
    error TEXT,
    run_dir TEXT NOT NULL DEFAULT '',
    resume INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER,
    result TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    job INTEGER NOT NULL,
    scope TEXT NOT NULL,      -- 'batch' or 'epoch'
    step INTEGER NOT NULL,    -- optimizer steps taken (batch) or epochs completed (epoch)
    epoch INTEGER NOT NULL,
    time REAL NOT NULL,       -- seconds since the job started
    values_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_job ON metrics (job, scope, step);
CREATE TABLE IF NOT EXISTS gradients (
    job INTEGER NOT NULL,
    step INTEGER NOT NULL,
    norms_json TEXT NOT NULL  -- {layer: gradient norm}
);
CREATE INDEX IF NOT EXISTS gradients_job ON gradients (job, step);
CREATE TABLE IF NOT EXISTS histograms (
    job INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    kind TEXT NOT NULL,       -- 'weights' or 'activations'
    data_json TEXT NOT NULL   -- {layer: {"counts": [...], "edges": [...]}}
);
CREATE INDEX IF NOT EXISTS histograms_job ON histograms (job, kind, epoch);
"""


class JobStore:
    """The jobs of one runs folder. Every method opens its own short connection, so one store is
    safe to share between the server's threads, and a job process opens the same file."""

    def __init__(self, runs: str | os.PathLike) -> None:
        self.runs = Path(runs).resolve()
        self.runs.mkdir(parents=True, exist_ok=True)
        self.path = self.runs / DB_NAME
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=TIMEOUT, isolation_level=None)
        db.row_factory = sqlite3.Row
        # WAL with NORMAL sync: a commit is not fsynced one by one (a power cut may lose the last
        # points, never corrupt the file); a job writes a row every few steps.
        db.execute("PRAGMA synchronous=NORMAL")
        return _Closing(db)

    # --- jobs ------------------------------------------------------------------------------
    def create(self, name: str, config: dict, prepare: Callable[[Path], None] | None = None) -> int:
        """A new queued job; its folder is ``runs/<id>-<name>``. ``prepare(folder)`` puts the files
        the job starts with there (its architecture file) before any other connection, such as the
        queue's, can see the job."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                cur = db.execute("INSERT INTO jobs (name, config, status, created) VALUES (?, ?, 'queued', ?)",
                                 (name, json.dumps(config), time.time()))
                job = int(cur.lastrowid)
                run_dir = self.runs / f"{job}-{_safe(name)}"
                db.execute("UPDATE jobs SET run_dir = ? WHERE id = ?", (str(run_dir), job))
                if prepare is not None:
                    run_dir.mkdir(parents=True, exist_ok=True)
                    prepare(run_dir)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return job

    def get(self, job: int) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job,)).fetchone()
        return _job(row) if row else None

    def list(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY id DESC").fetchall()
        return [_job(r) for r in rows]

    def update(self, job: int, **fields) -> None:
        """Set columns of a job (status, pid, started, finished, error, resume, total_steps, result)."""
        allowed = {"status", "pid", "started", "finished", "error", "resume", "total_steps", "result"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"JobStore.update: unknown job fields {sorted(unknown)}; expected some of {sorted(allowed)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"job status must be one of {STATUSES}, received {fields['status']!r}")
        if "result" in fields and not isinstance(fields["result"], (str, type(None))):
            fields["result"] = json.dumps(fields["result"], default=float)
        with self._connect() as db:
            db.execute(f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                       (*fields.values(), job))

    def claim_queued(self, limit: int) -> list[dict]:
        """The oldest queued jobs, at most ``limit``, in the order they were queued."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM jobs WHERE status = 'queued' ORDER BY id LIMIT ?",
                              (max(limit, 0),)).fetchall()
        return [_job(r) for r in rows]

    def delete_metrics(self, job: int) -> None:
        """Forget what a job measured (a job started again from scratch)."""
        with self._connect() as db:
            for table in ("metrics", "gradients", "histograms"):
                db.execute(f"DELETE FROM {table} WHERE job = ?", (job,))

    # --- what a job measures ---------------------------------------------------------------
    def add_metrics(self, job: int, scope: str, step: int, epoch: int, seconds: float, values: dict) -> None:
        if scope not in ("batch", "epoch"):
            raise ValueError(f"metric scope must be 'batch' or 'epoch', received {scope!r}")
        with self._connect() as db:
            db.execute("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                       (job, scope, step, epoch, seconds, json.dumps(values, default=float)))

    def forget_after(self, job: int, epoch: int) -> None:
        """A resumed job starts again after the last checkpoint's ``epoch``: what was measured
        after it (a stopped epoch's batches) is dropped, so no point is repeated."""
        with self._connect() as db:
            db.execute("DELETE FROM metrics WHERE job = ? AND ((scope = 'batch' AND epoch >= ?) OR "
                       "(scope = 'epoch' AND step > ?))", (job, epoch, epoch))
            db.execute("DELETE FROM histograms WHERE job = ? AND epoch > ?", (job, epoch))
            last = db.execute("SELECT MAX(step) FROM metrics WHERE job = ? AND scope = 'batch'", (job,)).fetchone()[0]
            db.execute("DELETE FROM gradients WHERE job = ? AND step > ?", (job, last or 0))

    def metrics(self, job: int, scope: str, after: int = -1) -> list[dict]:
        """``scope`` metrics of a job with ``step > after``, in step order."""
        with self._connect() as db:
            rows = db.execute("SELECT step, epoch, time, values_json FROM metrics WHERE job = ? AND scope = ? "
                              "AND step > ? ORDER BY step", (job, scope, after)).fetchall()
        return [{"step": r["step"], "epoch": r["epoch"], "time": r["time"], **json.loads(r["values_json"])}
                for r in rows]

    def add_gradients(self, job: int, step: int, norms: dict) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO gradients VALUES (?, ?, ?)", (job, step, json.dumps(norms, default=float)))

    def gradients(self, job: int, after: int = -1) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT step, norms_json FROM gradients WHERE job = ? AND step > ? ORDER BY step",
                              (job, after)).fetchall()
        return [{"step": r["step"], "norms": json.loads(r["norms_json"])} for r in rows]

    def add_histograms(self, job: int, epoch: int, kind: str, data: dict) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO histograms VALUES (?, ?, ?, ?)",
                       (job, epoch, kind, json.dumps(data, default=_jsonable)))

    def histograms(self, job: int, kind: str) -> dict | None:
        """The latest epoch's histograms of ``kind``: {"epoch": n, "layers": {...}} or None."""
        with self._connect() as db:
            row = db.execute("SELECT epoch, data_json FROM histograms WHERE job = ? AND kind = ? "
                             "ORDER BY epoch DESC, rowid DESC LIMIT 1", (job, kind)).fetchone()
        return {"epoch": row["epoch"], "layers": json.loads(row["data_json"])} if row else None


class _Closing:
    """A sqlite3 connection whose ``with`` block closes it (sqlite3's own ``with`` only commits)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.close()

    def execute(self, *args):
        return self.db.execute(*args)


def _job(row: sqlite3.Row) -> dict:
    job = dict(row)
    job["config"] = json.loads(job["config"])
    job["result"] = json.loads(job["result"]) if job.get("result") else None
    job["resume"] = bool(job["resume"])
    return job


def _safe(name: str) -> str:
    """A folder name from a job's name: letters, digits, '-', '_' and '.' only."""
    text = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".-") or "job"
    return text[:60]


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-able: {type(value).__name__}")

