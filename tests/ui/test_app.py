"""The workbench's HTTP API against a live server: jobs that train for real (a tiny network on
scikit-learn's digits), their measurements, inspection, downloads, and the refusals."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("sklearn")

from profondo.ui.app import MAX_UPLOAD  # noqa: E402

from .conftest import LiveServer  # noqa: E402

DIGITS_NET = """name: digits-cnn
input: [1, 8, 8]
layers:
  - {name: conv1, conv: {filters: 8, size: 3, stride: 1, pad: 1, activation: relu}}
  - {name: pool1, pool: {type: max, size: 2, stride: 2}}
  - {name: fc1, dense: {units: 32, activation: relu}}
  - {name: fc2, dense: {units: 10}}
"""
TINY_JOB = {"architecture_text": DIGITS_NET, "data": "digits", "epochs": 2, "batch_size": 16, "limit": 400,
            "lr": 0.01, "shift": 0}


def call(server, path: str, body=None, method: str | None = None, data: bytes | None = None, headers=None):
    """(status, JSON or bytes) of one request."""
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(server.url + path, data=data, method=method or ("POST" if data is not None
                                                                                      else "GET"),
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw, kind = response.status, response.read(), response.headers.get("content-type", "")
    except urllib.error.HTTPError as e:
        status, raw, kind = e.code, e.read(), e.headers.get("content-type", "")
    return status, json.loads(raw) if "json" in kind else raw


def wait_done(server, job: int, seconds: float = 90.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = call(server, f"/api/jobs/{job}")[1]
        if record["status"] in ("done", "failed", "stopped"):
            return record
        time.sleep(0.2)
    raise AssertionError(f"job {job} did not finish in {seconds} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    for cls in ("cat", "dog"):
        (data / "pets" / cls).mkdir(parents=True)
    from PIL import Image

    for i in range(3):
        Image.new("RGB", (10, 12), (40 * i, 0, 0)).save(data / "pets" / "cat" / f"{i}.png")
    Image.new("RGB", (10, 12)).save(data / "pets" / "dog" / "0.png")
    (data / "pets" / "dog" / "notes.txt").write_text("not an image")
    with LiveServer(tmp_path_factory.mktemp("runs"), data_dir=str(data)) as live:
        yield live


@pytest.fixture(scope="module")
def trained(server):
    status, job = call(server, "/api/jobs", TINY_JOB)
    assert status == 201, job
    record = wait_done(server, job["id"])
    assert record["status"] == "done", record["error"]
    return record


def test_the_form_is_the_train_commands(server):
    from profondo.cli.train import TRAIN_RECIPE

    fields = {f["name"]: f for f in call(server, "/api/form")[1]["fields"]}
    assert fields["epochs"]["default"] == TRAIN_RECIPE["epochs"] and fields["epochs"]["kind"] == "int"
    assert fields["optimizer"]["choices"] == ["sgd", "adam", "adamw", "rmsprop", "adagrad"]
    assert fields["flip"]["kind"] == "bool" and fields["lr"]["kind"] == "float"


def test_bad_settings_are_refused_with_the_train_commands_message(server):
    status, body = call(server, "/api/jobs", {"architecture": "lenet5", "epochs": 0})
    assert status == 400 and "--epochs: expected a positive integer, received '0'" in body["error"]
    status, body = call(server, "/api/jobs", {"architecture": "no-such-net"})
    assert status == 400 and "no zoo network 'no-such-net'" in body["error"]
    status, body = call(server, "/api/jobs", {"architecture": "lenet5", "rm": "-rf"})
    assert status == 400 and "unknown job settings ['rm']" in body["error"]
    status, body = call(server, "/api/jobs", {"architecture_text": "layers: [{conv: {filters: 2}}]"})
    assert status == 400 and "does not build" in body["error"]


def test_a_job_trains_and_records_its_curves(server, trained):
    job = trained["id"]
    metrics = call(server, f"/api/jobs/{job}/metrics")[1]
    steps_per_epoch = trained["total_steps"] // 2
    assert steps_per_epoch == 25  # 400 images in batches of 16
    assert [m["step"] for m in metrics["batch"]] == list(range(1, 51))
    assert [m["step"] for m in metrics["epoch"]] == [1, 2]
    last = metrics["epoch"][-1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"} <= set(last)
    assert metrics["batch"][-1]["eta"] == pytest.approx(0.0, abs=1e-9)
    assert trained["result"]["epochs"] == 2 and 0.0 <= trained["result"]["test_accuracy"] <= 1.0
    history = call(server, f"/api/jobs/{job}/files/history.json")[1]  # what profondo train wrote
    assert history["val_accuracy"] == [m["val_accuracy"] for m in metrics["epoch"]]
    assert {"best.ckpt", "last.ckpt", "metrics.json", "log.txt", "architecture.yaml"} <= set(trained["files"])


def test_the_event_stream_sends_the_points_and_ends(server, trained):
    with urllib.request.urlopen(server.url + f"/api/jobs/{trained['id']}/events", timeout=30) as stream:
        text = stream.read().decode()
    first = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
    assert len(first["batch"]) == 50 and len(first["epoch"]) == 2 and first["job"]["status"] == "done"
    assert "event: end" in text


def test_inspect_one_test_image_and_the_confusion_matrix(server, trained):
    status, result = call(server, f"/api/jobs/{trained['id']}/inspect?index=5", method="POST", data=b"")
    assert status == 200, result
    assert len(result["top"]) == 5 and sum(t["p"] for t in result["top"]) <= 1.0 + 1e-6
    assert result["filters"]["layer"] == "conv1" and len(result["filters"]["tiles"]) == 8
    from profondo.data import load_dataset

    assert result["label"] == int(load_dataset("digits", "test").y[5])
    status, c = call(server, f"/api/jobs/{trained['id']}/confusion?limit=100")
    assert status == 200 and c["images"] == 100 and sum(map(sum, c["matrix"])) == 100
    wrong = 100 - sum(c["matrix"][i][i] for i in range(10))
    assert len(c["misclassified"]) == min(wrong, 32) and c["accuracy"] == pytest.approx(1 - wrong / 100)


def test_an_uploaded_image_is_classified_and_bad_uploads_refused(server, trained):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (32, 32), 255).save(buffer, format="PNG")
    path = f"/api/jobs/{trained['id']}/inspect"
    status, result = call(server, path, data=buffer.getvalue())
    assert status == 200 and result["label"] is None and len(result["top"]) == 5
    status, body = call(server, path, data=b"#!/bin/sh\nrm -rf /\n")
    assert status == 415 and "PNG, JPEG or .npy" in body["error"]
    status, body = call(server, path, data=b"\x89PNG\r\n\x1a\n" + bytes(MAX_UPLOAD))
    assert status == 413 and "at most" in body["error"]


def test_onnx_export_download(server, trained):
    status, data = call(server, f"/api/jobs/{trained['id']}/files/model.onnx")
    if status == 422 and b"onnx" in json.dumps(data).encode().lower():
        pytest.skip("onnx is not installed")
    assert status == 200 and len(data) > 1000


@pytest.mark.parametrize("path", ["/api/jobs/1/files/..%2F..%2Fjobs.sqlite", "/api/jobs/1/files/../jobs.sqlite",
                                  "/api/jobs/1/files/%2e%2e/%2e%2e/etc/passwd", "/static/..%2F..%2Fapp.py",
                                  "/api/data/..%2F..%2Fetc", "/api/data/pets%2F..%2F..%2F..",
                                  "/api/jobs/1/files/history.json%00.png"])
def test_no_request_reads_outside_the_runs_and_data_folders(server, trained, path):
    status, body = call(server, path)
    assert status in (403, 404), (status, body)
    assert b"root:" not in (body if isinstance(body, bytes) else json.dumps(body).encode())


def test_an_image_folder_shows_its_classes(server):
    data = call(server, "/api/data")[1]
    assert data["folders"] == ["pets"]
    detail = call(server, "/api/data/pets")[1]
    assert detail["classes"] == ["cat", "dog"] and detail["counts"] == [3, 1] and len(detail["samples"]) == 4


def test_a_builtin_data_set_shows_counts_and_samples(server):
    detail = call(server, "/api/data/digits?split=test")[1]
    import numpy as np

    from profondo.data import load_dataset

    assert detail["counts"] == np.bincount(load_dataset("digits", "test").y).tolist()
    assert len(detail["samples"]) == 24 and detail["samples"][0]["image"].startswith("data:image/png;base64,")


def test_a_failing_job_shows_its_error_and_the_server_goes_on(server):
    status, job = call(server, "/api/jobs", {"architecture": "lenet5", "data": "digits", "epochs": 1})
    assert status == 201
    record = wait_done(server, job["id"])
    assert record["status"] == "failed"
    assert "the network expects inputs of shape (1, 28, 28), digits has images of shape (1, 8, 8)" in record["error"]
    assert call(server, "/api/jobs")[0] == 200
    status, body = call(server, f"/api/jobs/{job['id']}/resume", method="POST", data=b"")
    assert status == 200 and body["status"] in ("queued", "running")
    assert wait_done(server, job["id"])["status"] == "failed"
    status, body = call(server, f"/api/jobs/{job['id']}/stop", method="POST", data=b"")
    assert status == 409 and "only a running or queued job" in body["error"]


def test_stop_then_resume_continues_from_the_checkpoint(server):
    status, job = call(server, "/api/jobs", {**TINY_JOB, "epochs": 30, "limit": 200})
    job = job["id"]
    deadline = time.monotonic() + 60
    while "last.ckpt" not in call(server, f"/api/jobs/{job}")[1]["files"]:  # an epoch is checkpointed
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert call(server, f"/api/jobs/{job}/stop", method="POST", data=b"")[1]["status"] == "stopped"
    done = len(call(server, f"/api/jobs/{job}/metrics")[1]["epoch"])
    assert done >= 1
    call(server, f"/api/jobs/{job}/resume", method="POST", data=b"")
    deadline = time.monotonic() + 60
    while len(call(server, f"/api/jobs/{job}/metrics")[1]["epoch"]) <= done:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    log = call(server, f"/api/jobs/{job}/files/log.txt")[1].decode()
    assert "--resume" in log and "resumed from" in log
    epochs = [m["step"] for m in call(server, f"/api/jobs/{job}/metrics")[1]["epoch"]]
    assert epochs == list(range(1, len(epochs) + 1))  # no epoch twice, none missing
    steps = [m["step"] for m in call(server, f"/api/jobs/{job}/metrics")[1]["batch"]]
    assert steps == sorted(set(steps))  # the stopped epoch's batches were replaced, not repeated
    call(server, f"/api/jobs/{job}/stop", method="POST", data=b"")


def test_the_architecture_check_reports_the_size_arithmetic(server):
    bad = DIGITS_NET.replace("size: 3, stride: 1, pad: 1", "size: 11, stride: 1, pad: 1")
    result = call(server, "/api/validate", {"text": bad})[1]
    assert result["ok"] is False and result["errors"][0]["line"] == 4
    assert "H_out = (8 - 11 + 2*1)/1 + 1 = 0" in result["errors"][0]["message"]
    good = call(server, "/api/validate", {"text": DIGITS_NET})[1]
    assert good["ok"] and good["svg"].startswith("<svg") and good["layout"]["layers"][1]["name"] == "conv1"


def test_a_job_can_also_write_tensorboard_event_files(server):
    status, job = call(server, "/api/jobs", {**TINY_JOB, "epochs": 1, "limit": 64, "tensorboard": True})
    assert status == 201 and job["config"]["tensorboard"] is True
    record = wait_done(server, job["id"])
    assert record["status"] == "done", record["error"]
    from pathlib import Path

    events = list((Path(record["run_dir"]) / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0


def test_the_job_list_survives_a_restart(tmp_path):
    with LiveServer(tmp_path) as first:
        job = call(first, "/api/jobs", {"architecture": "lenet5", "data": "digits", "epochs": 1})[1]["id"]
        failed = wait_done(first, job)
    with LiveServer(tmp_path) as second:  # a new server over the same runs folder
        jobs = call(second, "/api/jobs")[1]["jobs"]
        assert [j["id"] for j in jobs] == [job] and jobs[0]["status"] == "failed"
        assert jobs[0]["error"] == failed["error"] and "(1, 8, 8)" in jobs[0]["error"]


def test_a_token_guards_every_request(tmp_path):
    with LiveServer(tmp_path, token="s3cret") as live:
        assert call(live, "/api/jobs")[0] == 403
        assert call(live, "/api/jobs?token=wrong")[0] == 403
        assert call(live, "/api/jobs?token=s3cret")[0] == 200
        assert call(live, "/api/jobs", headers={"Authorization": "token s3cret"})[0] == 200
        assert call(live, "/static/app.js")[0] == 403


def test_a_job_trains_on_an_image_folder_of_the_data_dir(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    for label, name in enumerate(("dark", "light")):
        (data / "tones" / name).mkdir(parents=True)
        for i in range(10):
            Image.fromarray((rng.integers(0, 100, (8, 8)) + 150 * label).astype(np.uint8)).save(
                data / "tones" / name / f"{i}.png")
    (data / "outside").mkdir()
    net = DIGITS_NET.replace("units: 10", "units: 2")
    with LiveServer(tmp_path / "runs", data_dir=str(data)) as live:
        assert "tones" in call(live, "/api/form")[1]["data"]
        status, job = call(live, "/api/jobs", {"architecture_text": net, "data": "tones", "epochs": 1,
                                               "batch_size": 4, "val": 0, "shift": 0})
        assert status == 201, job
        assert job["config"]["data"] == str((data / "tones").resolve()) and job["name"] == "digits-cnn-tones"
        record = wait_done(live, job["id"])
        assert record["status"] == "done", record["error"]
        status, result = call(live, f"/api/jobs/{job['id']}/inspect?index=0", method="POST", data=b"")
        assert status == 200 and result["label"] in (0, 1), result
        status, confusion = call(live, f"/api/jobs/{job['id']}/confusion")
        assert status == 200 and confusion["classes"] == ["dark", "light"], confusion
        assert call(live, "/api/jobs", {"architecture_text": net, "data": "../runs"})[0] == 403
        assert call(live, "/api/jobs", {"architecture_text": net, "data": str(tmp_path / "runs")})[0] == 403
        assert call(live, "/api/jobs", {"architecture_text": net, "data": "nothing"})[0] == 404
        status, body = call(live, "/api/jobs", {"architecture_text": net, "data": "outside"})
        assert status == 422 and "no class sub-folders" in body["error"]
