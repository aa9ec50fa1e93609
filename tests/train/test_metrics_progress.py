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
