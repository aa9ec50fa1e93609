import io

import numpy as np

from profondo.train import ProgressBar, accuracy, confusion_matrix, format_confusion


def test_accuracy_and_confusion_matrix_by_hand():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 1.0, 0.5], [1.0, 0.0, 4.0]])
    labels = np.array([0, 1, 2, 2])
    assert accuracy(logits, labels) == 0.75
    m = confusion_matrix(logits.argmax(1), labels, 3)
    np.testing.assert_array_equal(m, [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    text = format_confusion(m, ["zero", "one", "two"])
    assert "recall" in text and "50.0%" in text and text.count("\n") == 3


def test_progress_bar_reports_values_rate_and_eta_in_logs():
    out = io.StringIO()  # not a terminal: a few plain lines
    bar = ProgressBar(8, "epoch 1/2", stream=out, log_lines=2)
    for _ in range(8):
        bar.update(1, 32, loss=0.5, acc=0.9)
    bar.close()
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 2  # one at half-way, one at the end
    assert "4/8" in lines[0] and "ETA" in lines[0] and "samples/s" in lines[0]
    assert "8/8" in lines[1] and "loss 0.5000" in lines[1] and "acc 0.9000" in lines[1]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


class _NotebookStream(io.StringIO):
    """What a Jupyter cell's sys.stderr looks like: an ipykernel stream, not a terminal."""


_NotebookStream.__module__ = "ipykernel.iostream"


def _drawn(stream) -> list[str]:
    """The lines a terminal shows after each redraw (``\\r`` returns, ``\\033[K`` erases)."""
    return [seg.replace("\033[K", "").rstrip("\n") for seg in stream.getvalue().split("\r") if seg.strip()]


def test_a_live_bar_never_wraps_an_80_column_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = _Terminal()
    bar = ProgressBar(860, "epoch 10/12", stream=out, run_eta=lambda fraction: 3600.0)
    for _ in range(860):
        bar.update(1, 64, loss=0.123456, acc=0.987654, lr=0.001)
        bar.last_draw = 0  # draw every update, as a slow epoch would
    bar.close()
    lines = _drawn(out)
    assert len(lines) > 800 and max(map(len, lines)) <= 79
    assert "loss 0.1235" in lines[-1] and "(run 1:00:00)" in lines[-1]  # the whole run's time left
    monkeypatch.setenv("COLUMNS", "40")
    out = _Terminal()
    bar = ProgressBar(10, "epoch 1/2", stream=out)
    bar.update(3, 96, loss=0.5)
    assert max(map(len, _drawn(out))) <= 39


def test_a_notebook_gets_a_live_bar_and_a_log_file_a_few_lines():
    out = _NotebookStream()
    bar = ProgressBar(100, "epoch 1/1", stream=out)
    for _ in range(100):
        bar.update(1)
    bar.close()
    assert bar.live and out.getvalue().startswith("\r") and max(map(len, _drawn(out))) <= 100
    log = io.StringIO()
    bar = ProgressBar(100, "epoch 1/1", stream=log, log_lines=4, leave=False)
    for _ in range(100):
        bar.update(1)
    bar.close()
    assert len(log.getvalue().splitlines()) == 3  # a quarter, half, three quarters; the caller prints the end


def test_training_progress_prints_one_line_per_epoch_with_the_run_eta():
    from profondo import nn, optim
    from profondo.data import DataLoader, TensorDataset
    from profondo.train import Trainer, TrainingProgress

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype(np.float32), rng.integers(0, 2, 64)
    loader = DataLoader(TensorDataset(x, y), 16)
    model = nn.Sequential(nn.Linear(4, 2))
    bars, lines = _Terminal(), io.StringIO()
    progress = TrainingProgress(len(loader), 3, 16, stream=bars, out=lines)
    Trainer(model, optim.SGD(model.parameters(), 0.1), callbacks=[progress], progress=False).fit(loader, 3)
    text = lines.getvalue().splitlines()
    assert [t.split(":")[0] for t in text] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert "loss " in text[0] and "accuracy " in text[0] and "ETA" in text[0] and "ETA" not in text[2]
    assert bars.getvalue().endswith("\r\033[K")  # the bar is erased; the result line stays
