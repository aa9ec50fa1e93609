"""Optimizer: parameter groups, per-parameter state, and a checkpointable state dict.

A parameter group is a dict ``{"params": [...], "lr": ..., "lr_mult": 1.0, "frozen": False,
...}``. The effective learning rate of a group is ``lr * lr_mult`` (schedulers set ``lr``,
so a backbone group with ``lr_mult=0.1`` follows the schedule at a tenth of the rate); a
frozen group is skipped by ``step()`` entirely (no update, no weight decay, no state).

``step()`` updates ``p.data`` in place and never writes into ``p.grad`` (a gradient array
may be shared between tensors). Scratch arrays are kept per (shape, dtype) and reused, so a
step allocates nothing after the first one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..backend import CPU, array_module, move
from ..tensor import Tensor

_GROUP_DEFAULTS = {"lr_mult": 1.0, "frozen": False}


class Optimizer:
    """Base class: subclasses implement ``step()`` with PyTorch's update rule.

    >>> opt = SGD([{"params": backbone.parameters(), "lr_mult": 0.1},
    ...            {"params": head.parameters()}], lr=0.01, momentum=0.9)
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], **defaults: Any) -> None:
        self.defaults = {**_GROUP_DEFAULTS, **defaults}
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self._scratch_arrays: dict[tuple, Any] = {}
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Parameters or of dicts, "
                            "received a single Tensor: wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group (e.g. a newly unfrozen backbone); missing hyperparameters take the defaults."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry, received {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: params must be Parameters (e.g. model.parameters()), received "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: cannot optimize a non-leaf tensor (shape {tuple(p.shape)})")
        held = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in held for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears in more than one group (or twice in one group)")
        full = {**self.defaults, **group, "params": params}
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters (subclasses extend it)."""
        for key in ("lr", "lr_mult", "weight_decay"):
            if key in group and not group[key] >= 0:
                raise ValueError(f"{type(self).__name__}: {key} must be >= 0, received {group[key]!r}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (None, PyTorch 2's default), or zero it in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def _active_groups(self):
        """(group, effective lr, parameters that have a gradient) for every group not frozen:
        the one place where ``frozen``, ``lr_mult`` and missing gradients are honoured."""
        for group in self.param_groups:
            if not group["frozen"]:
                yield group, group["lr"] * group["lr_mult"], [p for p in group["params"] if p.grad is not None]

    def _scratch(self, like, slot: int = 0):
        """A reusable work array shaped like ``like`` (one per shape, dtype and slot)."""
        key = (type(like), like.shape, like.dtype, slot)
        buf = self._scratch_arrays.get(key)
        if buf is None:
            buf = self._scratch_arrays[key] = array_module(like).empty_like(like)
        return buf

    def _decayed(self, g, w, weight_decay: float):
        """g + weight_decay * w in scratch slot 0 (the gradient itself is left untouched)."""
        out = self._scratch(w, 0)
        array_module(w).multiply(w, weight_decay, out=out)
        out += g
        return out

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; returns ``closure()`` when one is given."""
        raise NotImplementedError(f"{type(self).__name__} does not define step()")

    @staticmethod
    def _call(closure):
        if closure is None:
            return None
        from ..autograd import enable_grad

        with enable_grad():
            return closure()

    # --- state dict --------------------------------------------------------------------------
    def _index(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: value}}, "param_groups": [...]}`` with PyTorch's layout.

        Parameters are numbered across groups in order. ``state`` holds NumPy arrays (copies,
        on the CPU) and Python scalars (``step``); ``param_groups`` is JSON-able (tuples such as
        ``betas`` become lists; ``params`` lists indices), so a checkpoint stores the arrays in
        npz/safetensors and the rest as JSON.
        """
        index = {id(p): i for i, p in enumerate(self._index())}
        state = {}
        for p, st in self.state.items():
            state[index[id(p)]] = {k: (np.array(move(v, CPU)) if hasattr(v, "shape") else v) for k, v in st.items()}
        groups = []
        for g in self.param_groups:
            entry = {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items() if k != "params"}
            entry["params"] = [index[id(p)] for p in g["params"]]
            groups.append(entry)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by :meth:`state_dict`.

        Group and parameter counts and every array's shape are checked before anything changes;
        state keys may be ints or their strings (as JSON writes them).
        """
        name = type(self).__name__
        groups, saved_groups = self.param_groups, state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(f"{name}.load_state_dict: the file has {len(saved_groups)} parameter groups, "
                             f"the optimizer has {len(groups)}")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has {len(s['params'])} parameters in the file, "
                                 f"{len(g['params'])} in the optimizer")
        params = self._index()
        new_state = {}
        for key, entry in state_dict["state"].items():
            i = int(key)
            if not 0 <= i < len(params):
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, but the optimizer has "
                                 f"{len(params)} parameters")
            p = params[i]
            values = {}
            for k, v in entry.items():
                if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0:
                    if tuple(v.shape) != p.shape:
                        raise ValueError(f"{name}.load_state_dict: parameter {i} state {k!r}: file has "
                                         f"{tuple(v.shape)}, parameter has {p.shape}")
                    v = move(np.asarray(v), p.device).astype(p.dtype, copy=True)
                elif hasattr(v, "shape"):
                    v = v.item()
                values[k] = v
            new_state[p] = values
        for g, s in zip(groups, saved_groups):
            for k, v in s.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(self.defaults.get(k), tuple) else v
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
