"""File formats: checkpoints (npz + JSON metadata, never pickle)."""

from .checkpoint import Checkpoint, read_checkpoint, write_checkpoint
