"""PyTorch's ``torch.utils`` paths: ``profondo.utils.data`` is :mod:`profondo.data`."""

from . import data

__all__ = ["data"]
