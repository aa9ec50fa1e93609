"""Learning curves: drawn without switching the user's matplotlib backend, whole epochs on the
axis, titled with the run."""

import pytest

matplotlib = pytest.importorskip("matplotlib")

from profondo.train import plot_history  # noqa: E402
from profondo.train.plots import history_figure  # noqa: E402


def test_plotting_leaves_the_backend_and_pyplot_alone(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("matplotlib.use() switches the backend of the user's notebook or script")

    monkeypatch.setattr(matplotlib, "use", refuse)
    backend = matplotlib.get_backend()
    path = plot_history({"loss": [0.5], "accuracy": [0.9], "val_loss": [0.6]}, tmp_path / "c.png", "lenet5 on mnist")
    assert path.read_bytes().startswith(b"\x89PNG") and matplotlib.get_backend() == backend
    if "matplotlib.pyplot" in __import__("sys").modules:
        assert not __import__("matplotlib.pyplot").pyplot.get_fignums()  # no figure left open in pyplot


def test_one_epoch_has_whole_epoch_ticks_and_the_run_in_its_title():
    fig = history_figure({"loss": [0.5], "accuracy": [0.9]}, "lenet5 on mnist (runs/lenet5-mnist)")
    assert fig._suptitle.get_text() == "lenet5 on mnist (runs/lenet5-mnist)"
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
