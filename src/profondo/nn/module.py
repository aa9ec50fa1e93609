"""Module: the base of every layer and network (PyTorch's contract, Keras's config).

Parameters, buffers and sub-modules assigned as attributes are registered in order, so
``named_parameters()`` and ``state_dict()`` produce PyTorch's dotted keys
("features.0.weight") and a torch ``state_dict`` converted with ``.numpy()`` loads as is.
Values also live in the instance ``__dict__``, so reading ``self.weight`` in ``forward``
costs a plain attribute lookup.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from ..backend import CPU, array_module, move
from ..backend import device as parse_device
from ..tensor import Tensor
from .counts import LayerCounts, elements
from .parameter import Parameter

if TYPE_CHECKING:
    from .vocabulary import FileKind

_REGISTRIES = ("_parameters", "_buffers", "_modules")


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _shape(input_shape, where: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in input_shape)
    except TypeError:
        raise TypeError(f"{where}.output_shape: expected a per-sample shape such as (3, 32, 32), "
                        f"received {input_shape!r}") from None


def class_name(cls: type) -> str:
    """The name a config stores for a Module class: module and qualified class name
    (``"profondo.nn.recurrent.Recurrent"``), so two classes of one bare name never collide."""
    return f"{cls.__module__}.{cls.__qualname__}"


class ModuleRegistry:
    """Every Module subclass, keyed by :func:`class_name` (what configs store).

    A bare class name (what configs stored before) still reads profondo's own layer classes
    (``"Recurrent"`` is ``profondo.nn.Recurrent`` whatever else is named so), then any other
    profondo class of that name when there is exactly one.
    """

    def __init__(self) -> None:
        self._classes: dict[str, type[Module]] = {}  # a later definition of one name wins

    def add(self, cls: type[Module]) -> None:
        self._classes[class_name(cls)] = cls

    def remove(self, cls: type[Module]) -> None:
        """Forget ``cls`` (a class defined for a test, say), so it no longer takes part in lookups."""
        self._classes = {name: c for name, c in self._classes.items() if c is not cls}

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def values(self) -> list[type[Module]]:
        return list(self._classes.values())

    def __contains__(self, name: object) -> bool:
        return self.get(name) is not None

    def get(self, name: object, default: type[Module] | None = None) -> type[Module] | None:
        if not isinstance(name, str):
            return default
        if name in self._classes:
            return self._classes[name]
        bare = [c for c in self._classes.values() if c.__name__ == name and c.__module__.startswith("profondo.")]
        own = [c for c in bare if c.__module__.startswith("profondo.nn.")]
        if len(own) == 1:
            return own[0]
        return bare[0] if len(bare) == 1 else default

    def __getitem__(self, name: str) -> type[Module]:
        cls = self.get(name)
        if cls is None:
            raise KeyError(f"unknown layer class {name!r}: expected a registered Module class such as "
                           f"'profondo.nn.linear.Linear' (or a bare name of profondo's own, 'Linear')")
        return cls


class Module:
    """Base class of layers and networks.

    >>> class Net(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> [name for name, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    _registry = ModuleRegistry()  # lets containers rebuild children from configs
    # The architecture-file kinds that build this class (see nn.vocabulary); read from the class's
    # own body only, so a subclass that computes something else does not inherit the form.
    file_kinds: ClassVar[tuple[FileKind, ...]] = ()
    # What a class deliberately lacks, with the reason: "file_form", "counts", "output_shape".
    lacks: ClassVar[dict[str, str]] = {}
    # Forward hooks ({"pre": [...], "post": [...]}), in the instance once one is registered;
    # the class default keeps the call of a module without hooks one attribute read longer.
    _hooks: ClassVar[dict | None] = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        Module._registry.add(cls)

    def __init__(self) -> None:
        d = self.__dict__
        d["_parameters"], d["_buffers"], d["_modules"] = OrderedDict(), OrderedDict(), OrderedDict()
        d["training"] = True

    # --- registration ------------------------------------------------------------------------
    def _registries(self, name: str) -> tuple[OrderedDict, OrderedDict, OrderedDict]:
        try:
            return tuple(self.__dict__[r] for r in _REGISTRIES)
        except KeyError:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__(): call super().__init__() "
                                 f"first in {type(self).__name__}.__init__") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, (Parameter, Module)):
            self._register(name, value, 0 if isinstance(value, Parameter) else 2)
            return
        if "_parameters" in self.__dict__:
            params, buffers, modules = self._registries(name)
            if name in params:
                if value is not None:
                    raise TypeError(f"{type(self).__name__}.{name} is a parameter: assign a Parameter or None, "
                                    f"received {type(value).__name__}")
                params[name] = None
            elif name in buffers:
                value = self._as_buffer(name, value)
                buffers[name] = value
            elif name in modules:
                if value is not None:
                    raise TypeError(f"{type(self).__name__}.{name} is a sub-module: assign a Module or None, "
                                    f"received {type(value).__name__}")
                modules[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for r in _REGISTRIES:
            self.__dict__.get(r, {}).pop(name, None)
        object.__delattr__(self, name)

    def _as_buffer(self, name: str, value: Any) -> Tensor | None:
        if value is None:
            return None
        if isinstance(value, Tensor):
            return value if not value.requires_grad else Tensor(value.data)
        if hasattr(value, "dtype") and hasattr(value, "shape"):
            return Tensor(value)
        raise TypeError(f"{type(self).__name__}: buffer {name!r} must be a Tensor, an array or None, "
                        f"received {type(value).__name__}")

    def register_buffer(self, name: str, value: Any) -> None:
        """Register non-learnable state (running statistics) saved in ``state_dict``.

        >>> self.register_buffer("running_mean", np.zeros(16, np.float32))
        """
        params, buffers, modules = self._registries(name)
        if name in params or name in modules:
            raise KeyError(f"{type(self).__name__}: {name!r} is already a parameter or sub-module")
        value = self._as_buffer(name, value)
        buffers[name] = value
        object.__setattr__(self, name, value)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """``self.name = param``, allowing ``None`` (a disabled bias keeps its slot)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter({name!r}): expected a Parameter or None, "
                            f"received {type(param).__name__}")
        self._register(name, param, 0)

    def add_module(self, name: str, module: Module | None) -> None:
        """``self.name = module`` for names that are not identifiers ("0", "1" in Sequential)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module({name!r}): expected a Module, "
                            f"received {type(module).__name__}")
        self._register(name, module, 2)

    def _register(self, name: str, value, slot: int) -> None:
        """Put ``value`` in registry ``slot`` (0 parameters, 1 buffers, 2 modules), out of the others."""
        registries = self._registries(name)
        for r in registries:
            r.pop(name, None)
        registries[slot][name] = value
        object.__setattr__(self, name, value)

    # --- traversal ----------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo: set | None = None) -> Iterator[tuple[str, Module]]:
        """This module ("") and every descendant, each once, with dotted names."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named(self, registry: str) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        for prefix, m in self.named_modules():
            for name, t in m.__dict__[registry].items():
                if t is not None and id(t) not in seen:  # a shared tensor is listed once
                    seen.add(id(t))
                    yield (f"{prefix}.{name}" if prefix else name), t

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """("features.0.weight", Parameter) pairs, shared parameters once."""
        return self._named("_parameters")

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers")

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first) and on this module; returns self.

        >>> net.apply(lambda m: init.zeros_(m.bias) if isinstance(m, Linear) else None)
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- state ----------------------------------------------------------------------------------
    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        # PyTorch's order: a module's own parameters, then its buffers, then its children.
        for registry in ("_parameters", "_buffers"):
            for name, t in self.__dict__[registry].items():
                if t is not None:
                    yield prefix + name, t
        for name, m in self._modules.items():
            if m is not None:
                yield from m._state_items(f"{prefix}{name}.")

    def state_dict(self, *, keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and buffers under PyTorch's keys, as PyTorch: detached tensors that share
        memory with the module (``clone()`` them to keep a snapshot); ``keep_vars`` gives the
        Parameters themselves.

        >>> BatchNorm2d(4).state_dict().keys()
        odict_keys(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'])
        """
        return OrderedDict((name, t if keep_vars else Tensor(t.data)) for name, t in self._state_items())

    def state_arrays(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and buffers as NumPy arrays (copies, on the CPU), for files and other frameworks."""
        out = OrderedDict()
        for name, t in self._state_items():
            array = move(t.data, CPU)
            out[name] = array.copy() if array is t.data else array
        return out

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (NumPy, profondo or torch tensors) into the parameters and buffers, in place.

        Every name and shape is checked before anything is written. With ``strict`` missing and
        unexpected keys are errors; shape mismatches always are.

        >>> model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
        """
        targets = OrderedDict(self._state_items())
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        arrays, mismatched = {}, []
        for name, t in targets.items():
            if name not in state:
                continue
            value = state[name]
            value = value.data if isinstance(value, Tensor) else value
            if array_module(value) is np:
                value = np.asarray(value)
            if tuple(value.shape) != t.data.shape:
                mismatched.append(f"{name}: file has {tuple(value.shape)}, model has {t.data.shape}")
            arrays[name] = value
        if mismatched or (strict and (missing or unexpected)):
            lines = [f"error loading the state dict into {type(self).__name__}:"]
            if strict and missing:
                lines.append(f"  missing keys (in the model, not in the file): {missing}")
            if strict and unexpected:
                lines.append(f"  unexpected keys (in the file, not in the model): {unexpected}")
            lines += [f"  shape mismatch: {m}" for m in mismatched]
            raise RuntimeError("\n".join(lines))
        for name, value in arrays.items():
            t = targets[name]
            t.data[...] = move(value, t.device).astype(t.data.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # --- modes and devices --------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm on batch statistics); returns self."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def to(self, device) -> Module:
        """Move parameters, their gradients and buffers to ``device`` in place; returns self.

        The Parameter objects stay the same, so an optimizer built before still holds them.
        """
        dev = parse_device(device)
        for t in (*self.parameters(), *self.buffers()):
            t.data = move(t.data, dev)
            if t.grad is not None:
                t.grad.data = move(t.grad.data, dev)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Module:
        return self.to(f"cuda:{index}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (None, PyTorch 2's default), or zero it in place."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def _cast(self, dtype) -> Module:
        for t in (*self.parameters(), *self.buffers()):
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dtype)
        return self

    def float(self) -> Module:
        """Floating parameters and buffers to float32, in place; returns self."""
        return self._cast(np.float32)

    def double(self) -> Module:
        """Floating parameters and buffers to float64, in place; returns self."""
        return self._cast(np.float64)

    # --- hooks ---------------------------------------------------------------------------------
    def _hook_list(self, kind: str) -> list:
        hooks = self.__dict__.setdefault("_hooks", {"pre": [], "post": []})  # the instance's own
        return hooks[kind]

    def register_forward_pre_hook(self, hook: Callable):
        """Call ``hook(module, args)`` before forward; a value it returns replaces the args."""
        from ..autograd import RemovableHandle

        hooks = self._hook_list("pre")
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def register_forward_hook(self, hook: Callable):
        """Call ``hook(module, args, output)`` after forward; a value it returns replaces the output."""
        from ..autograd import RemovableHandle

        hooks = self._hook_list("post")
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def _call_with_hooks(self, hooks, args, kwargs):
        for hook in list(hooks["pre"]):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(hooks["post"]):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    # --- calling ---------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        hooks = self._hooks
        if hooks is not None:
            return self._call_with_hooks(hooks, args, kwargs)
        return self.forward(*args, **kwargs)

    # --- description ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of ``repr`` (layers list their arguments)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        if not children and "\n" not in extra:
            return f"{type(self).__name__}({extra})"
        lines = (extra.split("\n") if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-able dict; ``type(m)(**m.get_config())`` rebuilds ``m``.

        Read from the attributes named like the ``__init__`` arguments; an argument whose
        attribute holds a Parameter or None (``bias``) is a switch: True when the Parameter exists.

        >>> Linear(4, 2).get_config()
        {'in_features': 4, 'out_features': 2, 'bias': True, 'init': None}
        """
        config = {}
        for name, arg in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or arg.kind in (arg.VAR_POSITIONAL, arg.VAR_KEYWORD):
                continue
            if name not in self.__dict__:
                raise NotImplementedError(f"{type(self).__name__}.get_config: no attribute for the argument "
                                          f"{name!r}; store it as self.{name} or override get_config")
            value = self.__dict__[name]
            if name in self._parameters:
                value = value is not None
            config[name] = _jsonable(value)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Module:
        """Rebuild a module from :meth:`get_config` output. ``Conv2d.from_config(c)``"""
        return cls(**config)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The per-sample output shape for a per-sample input shape (no batch axis), computed
        without running the layer; raises with the size arithmetic when the input does not fit.

        >>> Conv2d(3, 16, 5).output_shape((3, 32, 32))
        (16, 28, 28)
        """
        raise NotImplementedError(f"{type(self).__name__} does not define output_shape()")

    def file_entry(self, input_shapes: list[tuple[int, ...]], at: str) -> tuple[str, dict[str, Any]]:
        """This module as (kind, fields) of an architecture file, every field given (defaults
        included), checked against the per-sample shapes it receives; ``at`` names it in errors.
        Only classes that declare ``file_kinds`` have a file form."""
        raise NotImplementedError(f"{type(self).__name__} does not define file_entry()")

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        """Neurons, connections and MACs for one sample (DESIGN.md's counting conventions).

        The rule for a module without one of its own: its output elements are neurons when it
        has weights, with no connections or MACs."""
        has_weights = any(True for _ in self.parameters())
        return LayerCounts(elements(output_shape) if has_weights else 0)

    def summary(self, input_shape: tuple[int, ...]):
        """Per-layer table of shapes, weights, connections and MACs (see profondo.analysis.summary)."""
        from .. import analysis

        return analysis.summary(self, input_shape)
