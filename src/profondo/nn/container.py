"""Containers: Sequential (a chain of layers), ModuleList (a registered list) and ModuleDict."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from .counts import LayerCounts, chain
from .module import Module, _shape, class_name
from .vocabulary import CONTAINER_FILE_FORM


def _layer_config(name: str, module: Module) -> dict[str, Any]:
    return {"name": name, "class_name": class_name(type(module)), "config": module.get_config()}


def _build(entry: dict[str, Any]) -> Module:
    cls = Module._registry.get(entry.get("class_name"))
    if cls is None:
        raise ValueError(f"unknown layer class {entry.get('class_name')!r} in config {entry!r}: expected one of "
                         f"{sorted(Module._registry)}")
    return cls.from_config(entry.get("config", {}))


class Sequential(Module):
    """Layers applied in order; children are named "0", "1", ... or by an OrderedDict's keys.

    >>> net = Sequential(Conv2d(1, 6, 5), ReLU(), MaxPool2d(2), Flatten(), Linear(6 * 12 * 12, 10))
    >>> net.output_shape((1, 28, 28))
    (10,)
    """

    lacks = {"file_form": CONTAINER_FILE_FORM}

    def __init__(self, *layers) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], dict):
            for name, m in layers[0].items():
                self.add_module(str(name), m)
        else:
            for i, m in enumerate(layers):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        try:
            return items[index][1]
        except IndexError:
            raise IndexError(f"Sequential index {index} is out of range for {len(items)} layers") from None

    def append(self, module: Module) -> Sequential:
        """Add a layer at the end (named by its position); returns self."""
        self.add_module(str(len(self._modules)), module)
        return self

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = _shape(input_shape, "Sequential")
        for name, m in self._modules.items():
            try:
                shape = m.output_shape(shape)
            except ValueError as e:
                raise ValueError(f"layer {name!r} ({type(m).__name__}): {e}") from e
        return shape

    def counts(self, input_shapes: list[tuple[int, ...]], output_shape: tuple[int, ...]) -> LayerCounts:
        return chain(self._modules.values(), input_shapes[0])

    def get_config(self) -> dict[str, Any]:
        """``{"layers": [{"name", "class_name", "config"}, ...]}``, rebuilt by :meth:`from_config`."""
        return {"layers": [_layer_config(name, m) for name, m in self._modules.items()]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        entries = config["layers"]
        if all(e.get("name") == str(i) for i, e in enumerate(entries)):
            return cls(*(_build(e) for e in entries))
        return cls(OrderedDict((e["name"], _build(e)) for e in entries))


class ModuleList(Module):
    """A list of modules whose parameters are registered (names "0", "1", ...); no forward.

    >>> blocks = ModuleList([Linear(8, 8) for _ in range(3)])
    >>> len(list(blocks.parameters()))
    6
    """

    lacks = {reason: "a ModuleList only holds modules for its owner's forward, which counts and shapes them"
             for reason in ("file_form", "counts", "output_shape")}

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _reset(self, modules: list[Module]) -> None:
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        try:
            return items[index]
        except IndexError:
            raise IndexError(f"ModuleList index {index} is out of range for {len(items)} modules") from None

    def __setitem__(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items[index] = module
        self._reset(items)

    def __delitem__(self, index: int | slice) -> None:
        items = list(self._modules.values())
        del items[index]
        self._reset(items)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, module)
        self._reset(items)

    def get_config(self) -> dict[str, Any]:
        """``{"modules": [{"name", "class_name", "config"}, ...]}``, rebuilt by :meth:`from_config`."""
        return {"modules": [_layer_config(name, m) for name, m in self._modules.items()]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModuleList:
        return cls([_build(e) for e in config["modules"]])


class ModuleDict(Module):
    """Modules registered under string keys, in insertion order (PyTorch's ModuleDict); no forward.

    >>> heads = ModuleDict({"digit": Linear(8, 10), "parity": Linear(8, 2)})
    >>> heads["digit"]
    """

    lacks = {reason: "a ModuleDict only holds modules for its owner's forward, which counts and shapes them"
             for reason in ("file_form", "counts", "output_shape")}

    def __init__(self, modules: dict[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]
        object.__delattr__(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key: str) -> Module:
        module = self._modules[key]
        del self[key]
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            del self[key]

    def update(self, modules) -> None:
        for key, module in (modules.items() if hasattr(modules, "items") else modules):
            self.add_module(str(key), module)

    def get_config(self) -> dict[str, Any]:
        return {"modules": [_layer_config(name, m) for name, m in self._modules.items()]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModuleDict:
        return cls([(e["name"], _build(e)) for e in config.get("modules", [])])
