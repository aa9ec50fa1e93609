"""The checkpoint file: named arrays plus JSON metadata in one ``.npz``, written atomically.

Loading never unpickles (``allow_pickle=False``), so opening a file cannot run code.
Array names are namespaced (``model/conv1.weight``, ``optimizer/3/exp_avg``); the
metadata (architecture, epoch, step, RNG state, metrics, optimizer hyperparameters) is
one JSON document stored as bytes under ``__meta__``.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """What a checkpoint holds: ``arrays`` grouped by namespace and ``meta`` (JSON)."""

    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def group(self, name: str) -> dict[str, np.ndarray]:
        return self.arrays.get(name, {})


def write_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write atomically: a temporary file in the same folder, fsync, then rename over ``path``.

    A crash at any moment leaves either the previous file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {}
    for group, arrays in checkpoint.arrays.items():
        for name, array in arrays.items():
            flat[f"{group}/{name}"] = np.asarray(array)
    meta = dict(checkpoint.meta, format_version=FORMAT_VERSION)
    flat["__meta__"] = np.frombuffer(json.dumps(meta, default=_json_default).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **flat)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`write_checkpoint` (no pickle: data only)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            flat = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise ValueError(f"{path} is not a profondo checkpoint (an .npz archive): {e}") from None
    if "__meta__" not in flat:
        raise ValueError(f"{path} has no __meta__ entry: not a profondo checkpoint")
    meta = json.loads(flat.pop("__meta__").tobytes().decode())
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for key, array in flat.items():
        group, _, name = key.partition("/")
        arrays.setdefault(group, {})[name] = array
    return Checkpoint(arrays, meta)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"checkpoint metadata: cannot store a {type(value).__name__} as JSON")
