"""Learning-curve figures, drawn without touching matplotlib's global state: a ``Figure`` with its
own Agg canvas, so a notebook's or a script's backend stays the one its user chose."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def figure(figsize: tuple[float, float]):
    """A matplotlib ``Figure`` on its own Agg canvas (pyplot and the backend are left alone); every
    PNG profondo draws (learning curves, RL curves, the unsupervised models' pictures) starts here."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("drawing figures needs matplotlib: pip install matplotlib") from None
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG (its folder is created), atomically: a viewer never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, dpi=dpi, format="png")
    os.replace(tmp, path)
    return path


def history_figure(history: dict[str, list[float]], title: str = ""):
    """Loss and accuracy against epochs (whole numbers on the axis), train and validation."""
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    fig = figure((10, 4))
    axes = fig.subplots(1, 2)
    for ax, key in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                ax.plot(epochs[: len(values)], values, style, marker="o", label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # no epoch 0.5
        if len(epochs):
            ax.set_xlim(0.5, len(epochs) + 0.5)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history: dict[str, list[float]], path: str | os.PathLike, title: str = "") -> Path:
    """Loss and accuracy against epochs, train and validation, as a PNG titled ``title``."""
    return save(history_figure(history, title), path)
