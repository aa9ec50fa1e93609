"""``profondo ui``: the job settings checked by the train command's parser, a job's train
arguments, the worker's outcome in the store, and the server started as a command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from profondo.cli.ui import _loopback, check_config, job_argv, main, run_job, train_form

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def test_check_config_uses_the_train_commands_defaults_and_messages():
    config = check_config({"architecture": "mlp-mnist", "epochs": 3, "lr": "0.01", "flip": True})
    assert config["architecture"] == "mlp-mnist" and config["epochs"] == 3 and config["lr"] == 0.01
    assert config["flip"] is True and config["optimizer"] == "adam" and config["batch_size"] == 64
    with pytest.raises(ValueError, match="argument --optimizer: invalid choice: 'lbfgs'"):
        check_config({"optimizer": "lbfgs"})
    with pytest.raises(ValueError, match="--flip expected true or false"):
        check_config({"flip": "yes"})
    with pytest.raises(ValueError, match="no zoo network"):
        check_config({"architecture": "/etc/passwd"})  # a path is no zoo name: the page names files by their text
    from profondo.backend import cuda_available

    if not cuda_available():
        with pytest.raises(ValueError, match="--device cuda: no CUDA GPU is available here"):
            check_config({"device": "cuda"})


def test_a_jobs_train_arguments(tmp_path):
    job = {"config": check_config({"architecture_text": "name: t\ninput: [4]\nlayers:\n  - dense: {units: 2}\n",
                                   "epochs": 2}), "run_dir": str(tmp_path), "resume": False}
    job["config"].pop("architecture_text")
    job["config"]["architecture"] = "architecture.yaml"
    argv = job_argv(job)
    assert argv[0] == str(tmp_path / "architecture.yaml") and argv[argv.index("--epochs") + 1] == "2"
    assert argv[-4:] == ["--out", str(tmp_path), "--quiet", "--overwrite"]
    (tmp_path / "last.ckpt").write_bytes(b"")
    assert "--resume" in job_argv({**job, "resume": True}) and "--overwrite" not in job_argv({**job, "resume": True})
    assert "--resume" not in job_argv(job)  # resume only when asked
    assert "--tensorboard" not in argv
    tensorboard = job_argv({**job, "config": {**job["config"], "tensorboard": True}})
    assert tensorboard[tensorboard.index("--tensorboard") + 1] == str(tmp_path / "tensorboard")
    with pytest.raises(ValueError, match="tensorboard expected true or false"):
        check_config({"tensorboard": "please"})


def test_the_form_lists_every_field_with_a_kind():
    fields = train_form()
    assert [f["flag"] for f in fields][:3] == ["--data", "--epochs", "--batch-size"]
    assert fields[-1]["name"] == "tensorboard" and fields[-1]["kind"] == "bool"
    assert all(f["kind"] in ("int", "float", "bool", "str") for f in fields)


def test_a_worker_records_its_failure_in_the_store(tmp_path, capsys):
    from profondo.ui.store import JobStore

    store = JobStore(tmp_path)
    job = store.create("bad", {"architecture": "lenet5", "data": "no-such-data", "epochs": 1})
    assert run_job(str(tmp_path), job) == 1
    record = store.get(job)
    assert record["status"] == "failed" and "unknown dataset 'no-such-data'" in record["error"]
    assert main(["worker", str(tmp_path)]) == 2 and main(["worker", str(tmp_path), "999"]) == 1


def test_loopback_addresses():
    assert _loopback("127.0.0.1") and _loopback("localhost") and _loopback("::1")
    assert not _loopback("0.0.0.0") and not _loopback("192.168.1.4") and not _loopback("example.org")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_profondo_ui_serves_and_asks_for_a_token_beyond_this_machine(tmp_path, host):
    pytest.importorskip("uvicorn")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "profondo.cli", "ui", "--runs", str(tmp_path / "runs"),
                             "--host", host, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"profondo ui: http://{host}:{port}/"), line
        token = re.search(r"\?token=(\S+)", line)
        assert (token is None) == (host == "127.0.0.1")
        url = f"http://127.0.0.1:{port}/api/jobs"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + (f"?token={token.group(1)}" if token else ""), timeout=5) as r:
                    assert json.loads(r.read()) == {"jobs": []}
                break
            except urllib.error.HTTPError:
                raise
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        if token:
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url, timeout=5)
            assert refused.value.code == 403
        assert (tmp_path / "runs" / "jobs.sqlite").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
