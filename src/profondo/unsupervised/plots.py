"""The pictures of the unsupervised models, as PNG files: weights as image tiles, inputs beside
their reconstructions, model samples, a series with its anomaly score.

Drawn with :mod:`profondo.train.plots` (a Figure on its own Agg canvas, so the caller's matplotlib
backend is left as it was; written atomically). Needs matplotlib.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..train.plots import figure as new_figure
from ..train.plots import save


def tile_images(images: np.ndarray, shape: tuple[int, int], columns: int | None = None,
                normalize: bool = True) -> np.ndarray:
    """(N, H*W) rows as one grey image of tiles separated by 1-pixel lines; each tile scaled to
    [0, 1] on its own when ``normalize`` (filters), else clipped (pixels)."""
    images = np.asarray(images, np.float64).reshape(len(images), *shape)
    n = len(images)
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    h, w = shape
    canvas = np.ones((rows * (h + 1) + 1, columns * (w + 1) + 1))
    for i, image in enumerate(images):
        if normalize:
            low, high = image.min(), image.max()
            image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        r, c = divmod(i, columns)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = np.clip(image, 0, 1)
    return canvas


def save_tiles(path: str | os.PathLike, images: np.ndarray, shape: tuple[int, int], title: str = "",
               columns: int | None = None, normalize: bool = True) -> Path:
    """A PNG of ``images`` as tiles (first-layer filters: one row of the weight per hidden unit)."""
    canvas = tile_images(images, shape, columns, normalize)
    scale = 6 / max(canvas.shape)
    figure = new_figure((canvas.shape[1] * scale + 0.4, canvas.shape[0] * scale + (0.6 if title else 0.3)))
    ax = figure.add_subplot(1, 1, 1)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return save(figure, path)


def save_reconstructions(path: str | os.PathLike, inputs: np.ndarray, reconstructions: np.ndarray,
                         shape: tuple[int, int], title: str = "", columns: int = 10) -> Path:
    """Inputs (odd rows) above their reconstructions (even rows)."""
    n = min(len(inputs), len(reconstructions))
    rows = []
    for s in range(0, n, columns):
        rows += [inputs[s:s + columns], reconstructions[s:s + columns]]
    stacked = np.concatenate([np.asarray(r).reshape(len(r), -1) for r in rows])
    return save_tiles(path, stacked, shape, title or "inputs (odd rows) and reconstructions (even rows)",
                      columns=columns, normalize=False)


def save_series(path: str | os.PathLike, values: Sequence[float], scores: Sequence[float],
                likelihood: Sequence[float] | None = None, title: str = "", threshold: float | None = None,
                labels: Sequence[str] = ("value", "anomaly score", "anomaly likelihood")) -> Path:
    """A series above its anomaly score (and likelihood, with the threshold that flags a point)."""
    panels = 3 if likelihood is not None else 2
    figure = new_figure((10, 2.2 * panels))
    axes = [figure.add_subplot(panels, 1, i + 1) for i in range(panels)]
    t = np.arange(len(values))
    axes[0].plot(t, values, lw=0.8, color="black")
    axes[0].set_ylabel(labels[0])
    axes[1].plot(t, scores, lw=0.6, color="tab:orange")
    axes[1].set_ylabel(labels[1])
    axes[1].set_ylim(-0.02, 1.02)
    if likelihood is not None:
        axes[2].plot(t, likelihood, lw=0.8, color="tab:red")
        axes[2].set_ylabel(labels[2])
        axes[2].set_ylim(-0.02, 1.02)
        if threshold is not None:
            axes[2].axhline(threshold, ls="--", lw=0.8, color="gray")
            flagged = np.flatnonzero(np.asarray(likelihood) >= threshold)
            axes[0].scatter(flagged, np.asarray(values)[flagged], s=12, color="tab:red", zorder=3,
                            label=f"likelihood >= {threshold}")
            if len(flagged):
                axes[0].legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel("time step")
    if title:
        axes[0].set_title(title, fontsize=10)
    figure.tight_layout()
    return save(figure, path)
