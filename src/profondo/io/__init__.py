"""File formats: checkpoints (npz + JSON metadata, never pickle), model loading
(:mod:`profondo.io.model`), ONNX export and import, legacy PyTorch weight files and pretrained
networks (:mod:`profondo.io.pretrained`). ONNX modules are imported on use: they need ``onnx``."""

from .checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from .model import architecture_of, load_model

__all__ = ["Checkpoint", "architecture_of", "load_model", "read_checkpoint", "write_checkpoint"]
