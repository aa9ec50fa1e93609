"""The pictures: PNG files drawn without touching the caller's matplotlib backend."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from profondo.unsupervised.plots import save_reconstructions, save_series, save_tiles, tile_images

PNG = b"\x89PNG\r\n\x1a\n"


def test_tiles_lay_images_on_a_grid():
    images = np.arange(6 * 4, dtype=np.float32).reshape(6, 4)
    canvas = tile_images(images, (2, 2), columns=3, normalize=False)
    assert canvas.shape == (2 * 3 + 1, 3 * 3 + 1)
    np.testing.assert_array_equal(canvas[1:3, 1:3], np.clip(images[0].reshape(2, 2), 0, 1))
    scaled = tile_images(images, (2, 2), columns=3)
    assert scaled[1:3, 1:3].min() == 0 and scaled[1:3, 1:3].max() == 1  # each filter scaled on its own


def test_pngs_leave_the_backend_alone(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    before = matplotlib.get_backend()
    rng = np.random.default_rng(0)
    paths = [save_tiles(tmp_path / "filters.png", rng.random((10, 16)), (4, 4), "filters"),
             save_reconstructions(tmp_path / "recon.png", rng.random((5, 16)), rng.random((5, 16)), (4, 4)),
             save_series(tmp_path / "series.png", rng.random(50), rng.random(50), rng.random(50), "a", 0.9)]
    for path in paths:
        assert path.read_bytes()[:8] == PNG
    assert matplotlib.get_backend() == before
    assert "matplotlib.pyplot" not in sys.modules or before == matplotlib.get_backend()
