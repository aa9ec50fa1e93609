"""``profondo summary``, ``train``, ``eval`` and ``predict``, run as a user runs them."""

import csv
import json

import numpy as np
import pytest

from profondo.cli import main


def test_summary_of_a_zoo_file_counts_lenet5(capsys):
    assert main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "61,706" in out


def test_summary_of_a_user_file_names_unnamed_layers_by_kind(tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ninput: [1, 8, 8]\nlayers:\n  - conv: {filters: 2, size: 3, activation: relu}\n"
                    "  - pool: {type: max, size: 2}\n  - conv: {filters: 2, size: 1}\n  - dense: {units: 3}\n")
    assert main(["summary", str(path)]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line[:1].isalpha()]
    assert rows[rows.index("input") + 1:][:6] == ["conv1", "conv1_relu", "pool1", "conv2", "dense1_flatten", "dense1"]


def test_unknown_architecture_is_a_user_error_that_lists_the_zoo(capsys):
    assert main(["summary", "no-such-net"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("profondo: error: no architecture file 'no-such-net'") and "lenet5" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_bad_input_shape_is_a_user_error(capsys):
    assert main(["summary", "lenet5", "--input", "1,twenty"]) == 1
    assert "--input expected a shape such as 3,32,32, received '1,twenty'" in capsys.readouterr().err


def test_train_eval_predict_on_a_slice_of_mnist(tmp_path, capsys):
    from profondo.data import DatasetNotFoundError, load_dataset

    try:
        test = load_dataset("mnist", "test")
    except DatasetNotFoundError as e:
        pytest.skip(f"MNIST not installed: {e}")
    out = tmp_path / "run"
    assert main(["train", "mlp-mnist", "--epochs", "2", "--limit", "2000", "--val", "500", "--out", str(out),
                 "--quiet", "--shift", "0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["test_accuracy"] > 0.8
    assert (out / "last.ckpt").exists() and (out / "history.csv").exists() and (out / "summary.txt").exists()
    # resuming a finished run trains nothing more and keeps the epoch count
    assert main(["train", "mlp-mnist", "--epochs", "2", "--limit", "2000", "--val", "500", "--out", str(out),
                 "--quiet", "--resume", "--shift", "0"]) == 0
    capsys.readouterr()
    assert main(["eval", str(out / "last.ckpt"), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "recall" in text
    np.save(tmp_path / "digit.npy", test.x[0])
    assert main(["predict", str(out / "last.ckpt"), str(tmp_path / "digit.npy")]) == 0
    line = capsys.readouterr().out
    assert line.startswith(str(tmp_path / "digit.npy")) and "%" in line


def test_resume_without_a_checkpoint_is_a_user_error(tmp_path, capsys):
    from profondo.data import DatasetNotFoundError, load_dataset

    try:
        load_dataset("digits", "train")
    except (DatasetNotFoundError, ImportError) as e:
        pytest.skip(f"digits not available: {e}")
    (tmp_path / "net.yaml").write_text("input: [1, 8, 8]\nlayers:\n  - dense: {units: 10}\n")
    code = main(["train", str(tmp_path / "net.yaml"), "--data", "digits", "--out", str(tmp_path / "run"),
                 "--resume", "--quiet"])
    assert code == 1
    assert f"profondo: error: --resume, but {tmp_path / 'run' / 'last.ckpt'} does not exist" in capsys.readouterr().err


def test_a_missing_checkpoint_is_a_user_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "none.ckpt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("profondo: error: ") and "none.ckpt" in err and "Traceback" not in err


# --- a new user's first runs (digits: scikit-learn's 8x8 images, in memory, seconds to train) -----------
NET = "name: tiny\ninput: [1, 8, 8]\nlayers:\n  - flatten\n  - dense: {units: 10, activation: softmax}\n"


@pytest.fixture
def digits_net(tmp_path):
    from profondo.data import DatasetNotFoundError, load_dataset

    try:
        load_dataset("digits", "train")
    except (DatasetNotFoundError, ImportError) as e:
        pytest.skip(f"digits not available: {e}")
    path = tmp_path / "net.yaml"
    path.write_text(NET)
    return str(path)


def _train(net, out, *extra):
    return main(["train", net, "--data", "digits", "--epochs", "2", "--val", "200", "--shift", "0", "--out", str(out),
                 "--quiet", *extra])


def test_a_second_run_into_the_same_folder_is_refused(digits_net, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(digits_net, out) == 0
    best, rows = (out / "best.ckpt").read_bytes(), (out / "history.csv").read_text()
    capsys.readouterr()
    assert _train(digits_net, out, "--limit", "50") == 1
    err = capsys.readouterr().err
    assert f"profondo: error: {out} already holds a run (last.ckpt, best.ckpt" in err and "--overwrite" in err
    assert (out / "best.ckpt").read_bytes() == best and (out / "history.csv").read_text() == rows
    assert _train(digits_net, out, "--limit", "50", "--epochs", "1", "--overwrite") == 0
    assert len((out / "history.csv").read_text().splitlines()) == 2  # header and the new run's one epoch
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1


def test_eval_predict_and_finetune_use_the_data_set_the_checkpoint_records(digits_net, tmp_path, capsys):
    from profondo.data import load_dataset

    out = tmp_path / "run"
    assert _train(digits_net, out) == 0
    capsys.readouterr()
    assert main(["eval", str(out / "best.ckpt"), "--quiet"]) == 0  # not MNIST: the checkpoint says digits
    text = capsys.readouterr().out
    assert text.startswith("digits test: accuracy ") and "on 449 images" in text
    assert main(["export", str(out / "best.ckpt"), "--edge", str(tmp_path / "tiny.edge")]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "tiny.edge"), "--quiet"]) == 0  # an .edge plan runs too
    assert capsys.readouterr().out.splitlines()[0] == text.splitlines()[0]
    np.save(tmp_path / "x.npy", load_dataset("digits", "test").x[0])
    assert main(["predict", str(tmp_path / "tiny.edge"), str(tmp_path / "x.npy")]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'x.npy'}: ")
    ft = tmp_path / "ft"
    assert main(["finetune", str(out / "best.ckpt"), "--data", "digits", "--classes", "10", "--epochs", "1",
                 "--out", str(ft), "--quiet"]) == 0
    assert (ft / "history.json").exists() and (ft / "history.csv").exists()
    assert main(["eval", str(ft / "best.ckpt"), "--quiet"]) == 0
    assert capsys.readouterr().out.count("digits test: accuracy") == 1
    pytest.importorskip("onnx")
    assert main(["export", str(out / "best.ckpt"), "--onnx", str(tmp_path / "tiny.onnx")]) == 0
    assert main(["import", str(tmp_path / "tiny.onnx"), "--out", str(tmp_path / "imported.ckpt"), "--data", "digits",
                 "--class-names", ",".join("zero one two three four five six seven eight nine".split())]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "imported.ckpt"), "--quiet"]) == 0
    out_text = capsys.readouterr().out
    assert out_text.startswith("digits test: accuracy") and "seven" in out_text  # its class names label the matrix


def test_quiet_keeps_one_result_line_per_epoch_on_stdout(digits_net, tmp_path, capsys):
    assert _train(digits_net, tmp_path / "run") == 0
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "val_accuracy" in lines[0] and "ETA" in lines[0] and "ETA" not in lines[1]
    assert "epoch" not in err  # no bars with --quiet


def test_arguments_are_checked_before_anything_is_written(digits_net, tmp_path, capsys):
    out = tmp_path / "run"
    for extra in (["--optimizer", "adm"], ["--epochs", "0"], ["--device", "cuda:x"], ["--data", "nosuch"]):
        assert _train(digits_net, out, *extra) in (1, 2), extra
        assert not out.exists(), extra
        assert "Model:" not in capsys.readouterr().out, extra  # the summary is not printed first
    import profondo

    if not profondo.cuda_available():
        assert _train(digits_net, out, "--device", "cuda") == 1
        assert "--device cuda: no CUDA GPU is available" in capsys.readouterr().err and not out.exists()


def test_schedule_and_early_stopping_options(digits_net, tmp_path):
    out = tmp_path / "step"
    assert _train(digits_net, out, "--epochs", "3", "--schedule", "step") == 0
    rows = list(csv.DictReader((out / "history.csv").open()))
    np.testing.assert_allclose([float(r["lr"]) for r in rows], [1e-3, 1e-4, 1e-5])  # x0.1 after each third
    out = tmp_path / "stop"
    assert _train(digits_net, out, "--epochs", "30", "--early-stopping", "1", "--lr", "1") == 0
    assert json.loads((out / "metrics.json").read_text())["epochs"] < 30
    out = tmp_path / "none"
    assert _train(digits_net, out, "--schedule", "none") == 0
    assert "lr" not in next(csv.DictReader((out / "history.csv").open()))


def test_limit_cuts_the_training_set_and_test_limit_the_test_set(digits_net, tmp_path):
    out = tmp_path / "run"
    assert _train(digits_net, out, "--limit", "100") == 0
    assert json.loads((out / "metrics.json").read_text())["test_images"] == 449  # the whole test set
    assert _train(digits_net, out, "--test-limit", "100", "--overwrite") == 0
    assert json.loads((out / "metrics.json").read_text())["test_images"] == 100


def test_predict_inverts_and_centres_a_photo_of_a_dark_digit(tmp_path, capsys):
    from PIL import Image

    from profondo.cli.train import read_image

    digit = np.zeros((28, 28), np.float32)  # a light ring on black, centred as MNIST's digits are
    yy, xx = np.mgrid[:28, :28]
    digit[(np.hypot(yy - 13.5, xx - 13.5) > 5) & (np.hypot(yy - 13.5, xx - 13.5) < 9)] = 1.0
    paper = np.ones((150, 200), np.float32)  # a photo: dark ink on white, small and off-centre
    ring = np.asarray(Image.fromarray(digit[4:24, 4:24]).resize((60, 60), Image.BILINEAR))
    paper[20:80, 110:170] = 1.0 - ring
    Image.fromarray((paper * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    img = read_image(str(tmp_path / "photo.png"), (1, 28, 28), invert=None, centre=True)[0]
    assert "light background" in capsys.readouterr().err
    assert np.corrcoef(img.ravel(), digit.ravel())[0, 1] > 0.8
    kept = read_image(str(tmp_path / "photo.png"), (1, 28, 28), invert=False)[0]
    assert np.corrcoef(kept.ravel(), digit.ravel())[0, 1] < 0.2


def test_train_and_eval_on_an_image_folder(tmp_path, capsys):
    image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    folder = tmp_path / "shapes"
    for label, name in enumerate(("dark", "light")):  # two classes a linear model separates
        (folder / name).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 100, (8, 8)) + 150 * label
            image.fromarray(pixels.astype(np.uint8)).save(folder / name / f"{i}.png")
    net = tmp_path / "net.yaml"
    net.write_text("input: [1, 8, 8]\nlayers:\n  - dense: {units: 2}\n")
    out = tmp_path / "run"
    assert main(["train", str(net), "--data", str(folder), "--epochs", "1", "--batch-size", "4", "--val", "0",
                 "--shift", "0", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["classes"] == ["dark", "light"]
    capsys.readouterr()
    assert main(["eval", str(out / "last.ckpt"), "--quiet"]) == 0  # reads the folder the run recorded
    assert "dark" in capsys.readouterr().out
    (tmp_path / "wide.yaml").write_text("input: [1, 16, 16]\nlayers:\n  - dense: {units: 2}\n")
    assert main(["train", str(tmp_path / "wide.yaml"), "--data", str(folder), "--out", str(tmp_path / "r2"),
                 "--quiet"]) == 1
    assert f"the network expects inputs of shape (1, 16, 16), {folder} has images of shape (1, 8, 8)" \
        in capsys.readouterr().err
