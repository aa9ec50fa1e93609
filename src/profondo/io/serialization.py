"""``profondo.save`` / ``profondo.load``: PyTorch's two calls, in a file that holds only data.

What can be saved: tensors, NumPy arrays and scalars, numbers, strings, None, and dicts,
lists and tuples of them (a ``state_dict()``, an optimizer's state, a dict with an epoch and
a loss). The file is an ``.npz`` archive: the arrays, plus one JSON document that describes
the structure. Loading never unpickles, so opening a file cannot run code; a whole Module
(PyTorch pickles its class) is refused with the way to save its state instead.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import CPU, move
from ..backend import device as parse_device
from ..tensor import Tensor

_TREE = "__tree__"


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if isinstance(obj, Tensor):
        key = f"a{len(arrays)}"
        arrays[key] = move(obj.data, CPU)
        return {"tensor": key, "requires_grad": bool(obj.requires_grad and obj.is_leaf)}
    if isinstance(obj, (np.ndarray, np.generic)):
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(obj)
        return {"ndarray" if isinstance(obj, np.ndarray) else "scalar": key}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, dict):
        return {"dict": [[_encode(k, arrays, where), _encode(v, arrays, f"{where}[{k!r}]")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
        return {"list" if isinstance(obj, list) else "tuple": items}
    hint = " (save model.state_dict(), and load it into a model built by code)" if hasattr(obj, "state_dict") else ""
    raise TypeError(f"save: cannot store {where}, a {type(obj).__name__}, as data{hint}; profondo files hold tensors, "
                    "arrays, numbers, strings, None and dicts/lists/tuples of them, never pickled objects")


def _decode(node: Any, arrays, device) -> Any:
    (kind, value), = ((k, v) for k, v in node.items() if k != "requires_grad")
    if kind == "tensor":
        data = arrays[value]
        return Tensor(move(data, device) if device.type != "cpu" else data, node.get("requires_grad", False))
    if kind == "ndarray":
        return arrays[value]
    if kind == "scalar":
        return arrays[value][()]
    if kind == "value":
        return value
    if kind == "dict":
        return {_decode(k, arrays, device): _decode(v, arrays, device) for k, v in value}
    items = [_decode(v, arrays, device) for v in value]
    return items if kind == "list" else tuple(items)


def save(obj: Any, f: str | os.PathLike) -> None:
    """Write ``obj`` (a tensor, a state dict, a dict of them ...) to ``f``, as ``torch.save``.

    >>> profondo.save(model.state_dict(), "model.pt")
    """
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays, "the object")
    arrays[_TREE] = np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8)
    path = Path(f)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:  # np.savez on a path would append ".npz"
        np.savez(out, **arrays)
    os.replace(tmp, path)


def load(f: str | os.PathLike, map_location=None, weights_only: bool = True) -> Any:
    """Read what :func:`save` wrote, or the weights of a PyTorch ``torch.save`` file (read by
    :mod:`profondo.io.torch_legacy` without running its code); tensors come back as Tensors,
    on ``map_location`` ("cuda" puts them on the GPU). ``weights_only`` is accepted for
    PyTorch's sake: nothing here ever runs code from a file."""
    device = parse_device(map_location) if map_location is not None else CPU
    path = Path(f)
    if not path.is_file():
        raise FileNotFoundError(f"load: no such file: {path}")
    if not _is_profondo_file(path):
        from .torch_legacy import load as load_torch_file

        return _as_tensors(load_torch_file(path), device)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise ValueError(f"load: {path} is not a file written by profondo.save (an .npz archive): {e}") from None
    tree = json.loads(arrays.pop(_TREE).tobytes().decode())
    return _decode(tree, arrays, device)


def _is_profondo_file(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    if f"{_TREE}.npy" in names:
        return True
    if names and all(n.endswith(".npy") for n in names):
        raise ValueError(f"load: {path} is a NumPy .npz archive without profondo's outline ({_TREE}); "
                         "read it with numpy.load, or write it with profondo.save")
    return False


def _as_tensors(obj: Any, device) -> Any:
    """A PyTorch file's contents with its arrays as Tensors, as torch.load returns them."""
    if isinstance(obj, np.ndarray):
        return Tensor(move(obj, device) if device.type != "cpu" else obj)
    if isinstance(obj, dict):
        return type(obj)((k, _as_tensors(v, device)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_as_tensors(v, device) for v in obj)
    return obj
