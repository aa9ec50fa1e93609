"""Reference architectures shipped as files: ``zoo.names()``, ``zoo.path(name)``, ``zoo.load(name)``.

mlp-mnist, lenet5, convnetjs-cifar10, alexnet, vgg16, resnet-small, fashion-mnist-cnn and
imdb-bigru (a bidirectional GRU over token ids).

>>> net = profondo.architecture.zoo.load("lenet5")
>>> net.spec.input
(1, 28, 28)
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def names() -> list[str]:
    """The names of the architectures in the zoo, sorted."""
    return sorted(p.stem for p in _HERE.glob("*.yaml"))


def path(name: str) -> Path:
    """The file of a zoo architecture. ``path("vgg16").read_text()``"""
    p = _HERE / f"{name}.yaml"
    if not p.is_file():
        raise KeyError(f"no architecture {name!r} in the zoo; available: {', '.join(names())}")
    return p


def load(name: str):
    """Build a zoo architecture (fresh weights). ``load("resnet-small")``"""
    from .. import load as load_file

    return load_file(path(name))
