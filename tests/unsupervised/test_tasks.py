"""The runs behind ``profondo rbm`` and ``profondo pretrain``, on digits: results, pictures,
checkpoints, and resume that continues where a run stopped."""

from __future__ import annotations

import json

import numpy as np
import pytest

from profondo.io.checkpoint import read_checkpoint
from profondo.unsupervised.tasks import pretrain_task, rbm_task

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def test_rbm_task_writes_results_pictures_and_resumes_exactly(tmp_path):
    options = dict(hidden=16, sample_steps=20, progress=False)
    straight = rbm_task(epochs=3, out=str(tmp_path / "straight"), **options)
    rbm_task(epochs=2, out=str(tmp_path / "split"), **options)
    resumed = rbm_task(epochs=3, out=str(tmp_path / "split"), resume=True, **options)
    assert [row["epoch"] for row in resumed["history"]] == [1, 2, 3]
    assert resumed["test_pseudo_likelihood"] == straight["test_pseudo_likelihood"]
    a, b = (read_checkpoint(tmp_path / name / "last.ckpt").group("rbm") for name in ("straight", "split"))
    np.testing.assert_array_equal(a["weight"], b["weight"])
    assert straight["history"][-1]["pseudo_likelihood"] > straight["history"][0]["pseudo_likelihood"]
    for name in ("filters", "samples", "reconstructions"):
        assert (tmp_path / "straight" / f"{name}.png").stat().st_size > 1000
    assert json.loads((tmp_path / "straight" / "results.json").read_text())["epochs"] == 3
    with pytest.raises(FileNotFoundError, match="run once without --resume"):
        rbm_task(epochs=1, out=str(tmp_path / "nothing"), resume=True, **options)


@pytest.mark.parametrize("model", ["dbn", "sda"])
def test_pretrain_task_reports_both_transfer_routes_and_a_baseline(tmp_path, model):
    result = pretrain_task(model, data="digits", hidden=(24,), pretrain_epochs=2, finetune_epochs=2, batch_size=20,
                           svm_labels=300, finetune_lr=0.3, out=str(tmp_path), progress=False)
    assert result["sizes"] == [64, 24]
    for route in ("finetune", "scratch"):
        assert 0 <= result[route]["test_error"] < 0.5  # 10 classes: chance is 0.9
    assert result["scratch"]["seconds"] >= result["scratch"]["budget_seconds"]
    assert 0 <= result["svm"]["codes_test_error"] < 0.5 and 0 <= result["svm"]["pixels_test_error"] < 0.5
    assert (tmp_path / "filters.png").exists() and (tmp_path / "reconstructions.png").exists()
    assert (tmp_path / "finetune" / "last.ckpt").exists()
    if "architectures" in result:  # with pyyaml: the unrolled classifier as an architecture file
        from profondo.analysis import analyze
        from profondo.architecture import load

        assert analyze(load(tmp_path / "classifier.yaml")).weights == 64 * 24 + 24 + 24 * 10 + 10
    again = pretrain_task(model, data="digits", hidden=(24,), pretrain_epochs=2, finetune_epochs=2, batch_size=20,
                          svm_labels=300, finetune_lr=0.3, out=str(tmp_path), progress=False, resume=True,
                          baseline=False)
    # everything was done: resuming trains nothing more and finds the same fine-tuned network
    assert again["finetune"]["test_error"] == result["finetune"]["test_error"]
    with pytest.raises(ValueError, match="'dbn' or 'sda'"):
        pretrain_task("gan", data="digits", out=str(tmp_path))


def test_htm_mnist_task_learns_and_resumes(tmp_path):
    from profondo.unsupervised.tasks import htm_mnist_task

    options = dict(data="digits", columns=256, active_columns=16, potential_pct=0.5, stimulus_threshold=1,
                   train_limit=400, test_limit=200, alpha=0.05,
                   out=str(tmp_path), progress=False)
    first = htm_mnist_task(epochs=1, **options)
    assert first["test_error"] < 0.6  # 10 classes: chance 0.9
    again = htm_mnist_task(epochs=2, resume=True, **options)
    assert again["epochs"] == 2 and (tmp_path / "sp_filters.png").exists()


def test_htm_sequence_task_rejects_too_little_text(tmp_path):
    from profondo.unsupervised.tasks import htm_sequence_task

    with pytest.raises(ValueError, match="train_chars must be at least 2049"):
        htm_sequence_task(train_chars=100, test_chars=10, out=str(tmp_path), progress=False)
