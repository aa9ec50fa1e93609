"""What a training checkpoint holds and how it is put back: model, optimizer, scheduler,
epoch and step, RNG state, metrics and the architecture file. (``load_model`` and
``architecture_of`` live in :mod:`profondo.io.model`; they are re-exported here.)"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import numpy as np

from .. import random as prandom
from ..architecture.build import upgrade_state_dict
from ..io.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from ..io.model import architecture_of, load_model

__all__ = ["architecture_of", "load_model", "restore_training_state", "save_training_state"]


def _split_optimizer_state(state: dict) -> tuple[dict, dict]:
    arrays, scalars = {}, {}
    for index, entries in state.get("state", {}).items():
        for name, value in entries.items():
            if isinstance(value, np.ndarray) or hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
                arrays[f"{index}/{name}"] = np.asarray(value)
            else:
                scalars.setdefault(str(index), {})[name] = value.item() if hasattr(value, "item") else value
    return arrays, {"scalars": scalars, "param_groups": state.get("param_groups", [])}


def _join_optimizer_state(arrays: dict, meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, array in arrays.items():
        index, _, name = key.partition("/")
        state.setdefault(int(index), {})[name] = array
    for index, entries in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    return {"state": state, "param_groups": meta.get("param_groups", [])}


def save_training_state(path: str | os.PathLike, model, optimizer=None, scheduler=None, epoch: int = 0,
                        step: int = 0, metrics: dict | None = None, extra: dict | None = None,
                        extra_arrays: dict[str, dict] | None = None) -> Path:
    """Write everything needed to resume training exactly, atomically (``extra_arrays``: more
    groups of arrays, such as a callback's)."""
    arrays = {"model": {k: np.asarray(v) for k, v in model.state_arrays().items()}, **(extra_arrays or {})}
    meta = {"epoch": epoch, "step": step, "metrics": metrics or {}, "rng": prandom.get_state(),
            "architecture": architecture_of(model), "extra": extra or {}}
    if optimizer is not None:
        arrays["optimizer"], meta["optimizer"] = _split_optimizer_state(optimizer.state_dict())
        meta["optimizer_class"] = type(optimizer).__name__
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()
    return write_checkpoint(path, Checkpoint(arrays, meta))


def _restore_schedule(scheduler, state: dict) -> None:
    """The checkpoint's position (epoch, rates) with the live scheduler's settings (the arguments it
    was built with: ``T_max``, ``gamma``, ...), which the caller chose for this run's length."""
    names = [n for n in inspect.signature(type(scheduler).__init__).parameters if n not in ("self", "optimizer")]
    settings = {n: getattr(scheduler, n) for n in names if n in vars(scheduler)}
    scheduler.load_state_dict(state)
    if any(state.get(n, value) != value for n, value in settings.items()):
        vars(scheduler).update(settings)
        if hasattr(scheduler, "lr_at") and hasattr(scheduler, "last_epoch"):
            scheduler._set(scheduler.lr_at(scheduler.last_epoch))


def restore_training_state(path: str | os.PathLike, model, optimizer=None, scheduler=None) -> Checkpoint:
    """Load weights, optimizer and scheduler state and the RNG state; returns the checkpoint
    (``meta['epoch']`` is the last completed epoch)."""
    ckpt = read_checkpoint(path)
    # A checkpoint written before unnamed layers were named by kind keys them by position ("0.weight"): rename.
    model.load_state_dict(upgrade_state_dict(model, ckpt.group("model")))
    if optimizer is not None and "optimizer" in ckpt.meta:
        optimizer.load_state_dict(_join_optimizer_state(ckpt.group("optimizer"), ckpt.meta["optimizer"]))
    if scheduler is not None and "scheduler" in ckpt.meta:
        _restore_schedule(scheduler, ckpt.meta["scheduler"])
    if "rng" in ckpt.meta:
        prandom.set_state(ckpt.meta["rng"])
    return ckpt
