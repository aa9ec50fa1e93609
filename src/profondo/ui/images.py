"""Arrays as small PNG images for the page (data URIs), and what an upload must look like."""

from __future__ import annotations

import base64
import io

import numpy as np

# What an upload may be, by its first bytes (the name and the declared type are the sender's word).
IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg", b"\x93NUMPY": ".npy"}


def upload_suffix(data: bytes) -> str | None:
    """The file type of an upload (".png", ".jpg" or ".npy") from its first bytes, or None."""
    for magic, suffix in IMAGE_MAGIC.items():
        if data.startswith(magic):
            return suffix
    return None


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An (H, W), (1, H, W) or (3, H, W) array scaled from its own range to 0-255, as (H, W) or (H, W, 3)."""
    a = np.asarray(image, np.float32)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    low, high = float(a.min()), float(a.max())
    a = (a - low) / (high - low) if high > low else np.zeros_like(a)
    return (a * 255).round().astype(np.uint8)


def png_data_uri(image: np.ndarray, scale: int = 1) -> str:
    """A data: URI of the PNG of ``image`` (see :func:`to_uint8`), each pixel ``scale`` x ``scale``."""
    from PIL import Image

    a = to_uint8(image)
    if scale > 1:
        a = np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(a).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
