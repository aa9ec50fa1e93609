"""Model files: a network's architecture as a file form, and the model rebuilt from a checkpoint.

>>> model, ckpt = load_model("runs/lenet5-mnist/best.ckpt")     # architecture + weights
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

from ..backend.limits import FileFormatError, limited_growth, short_repr
from ..nn.vocabulary import SpecError
from .checkpoint import Checkpoint, read_checkpoint


def architecture_of(model) -> dict | None:
    """The model's architecture file as a dict, when it can be written as one."""
    from ..architecture import to_dict

    try:
        return to_dict(model)
    except Exception:  # a hand-written Module with no file form: weights only
        return None


def _class_names(config) -> Iterator[str]:
    """Every ``class_name`` in a module configuration, nested ones included."""
    if isinstance(config, dict):
        if isinstance(config.get("class_name"), str):
            yield config["class_name"]
        for value in config.values():
            yield from _class_names(value)
    elif isinstance(config, list):
        for value in config:
            yield from _class_names(value)


# The packages whose modules define layers a configuration may name: the only ones a file may make
# load_model import (any other module, profondo's command line included, is never imported for a file).
LAYER_PACKAGES = ("profondo.nn", "profondo.io.onnx_import", "profondo.nlp")


def _import_defining_modules(config: dict) -> None:
    """Import the profondo modules that define the classes a configuration names, so that the
    registry knows them (an imported ONNX network's OnnxOp lives in ``profondo.io.onnx_import``).
    Only modules of :data:`LAYER_PACKAGES`: loading a file must not run code from elsewhere."""
    from ..nn import Module

    for name in set(_class_names(config)):
        module = name.rpartition(".")[0]
        if name in Module._registry or not any(module == p or module.startswith(p + ".") for p in LAYER_PACKAGES):
            continue
        while module:  # a class nested in a module: the longest importable prefix
            try:
                importlib.import_module(module)
                break
            except ImportError:
                module = module.rpartition(".")[0]


def load_model(path: str | os.PathLike):
    """Rebuild the model stored in a checkpoint with its weights: from its architecture file,
    or, for an imported ONNX network that has none, from the module configuration that
    ``profondo import`` stores in ``extra['module']``. Returns ``(model, checkpoint)``.

    A checkpoint whose architecture, configuration or weights do not fit together raises
    :class:`~profondo.backend.limits.FileFormatError` (SpecError for a bad architecture)."""
    ckpt: Checkpoint = read_checkpoint(path)
    try:
        return _build(path, ckpt), ckpt
    except (FileFormatError, SpecError):
        raise
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, RecursionError, RuntimeError) as e:
        raise FileFormatError(f"{path}: the checkpoint's model cannot be rebuilt ({type(e).__name__}: "
                              f"{short_repr(str(e))})") from None


def _build(path, ckpt: Checkpoint):
    arch = ckpt.meta.get("architecture")
    config = ckpt.meta.get("extra", {}).get("module")
    if arch is not None:
        from ..architecture import from_dict

        if not isinstance(arch, dict):
            raise FileFormatError(f"{path}: the checkpoint's architecture is a {type(arch).__name__}, expected a map")
        model = from_dict(arch)
    elif config is not None:
        from ..architecture import Spec
        from ..nn import Module

        _import_defining_modules(config)
        if any(n not in Module._registry for n in _class_names(config)):  # bare names written by older versions
            importlib.import_module("profondo.io.onnx_import")
        if not isinstance(config, dict) or config.get("class_name") not in Module._registry:
            raise FileFormatError(f"{path}: the checkpoint names the module class "
                                  f"{short_repr(config.get('class_name') if isinstance(config, dict) else config)}, "
                                  "which is not a profondo layer")
        with limited_growth(f"{path}: its model"):
            model = Module._registry[config["class_name"]].from_config(config["config"])
        if "input" in config:
            model.spec = Spec(config.get("name", "model"), tuple(config["input"]), config.get("output_activation"))
    else:
        raise FileFormatError(f"{path} holds weights only (the model had no architecture file): build the "
                         "model in code and call load_state_dict(read_checkpoint(path).group('model'))")
    from ..architecture.build import upgrade_state_dict

    # A checkpoint written before unnamed layers were named by kind keys them by position ("0.weight"): rename.
    model.load_state_dict(upgrade_state_dict(model, ckpt.group("model")))
    return model
