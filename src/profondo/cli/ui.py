"""``profondo ui``: the browser workbench (networks, data, jobs, inspect), served on this machine.

    profondo ui                       # http://127.0.0.1:8000, jobs in ./runs
    profondo ui --runs runs --port 8080 --data ~/images
    profondo ui --host 0.0.0.0        # reachable from other machines: asks for a token

A job the page starts is ``profondo train`` in its own process (``python -m profondo.cli.ui
worker RUNS JOB``), with the flags the page chose and a recorder that writes its measurements
into ``RUNS/jobs.sqlite``; its files are those of ``profondo train --out RUNS/<job>``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import ipaddress
import json
import secrets
import sys
import time
import traceback
from pathlib import Path

from .common import CommandError, HelpFormatter, existing_dir, positive_int

# The flags of `profondo train` the new-job form offers (the rest keep the command's defaults).
FORM_FIELDS = ("data", "epochs", "batch_size", "optimizer", "lr", "schedule", "weight_decay", "shift", "flip",
               "val", "limit", "test_limit", "device", "seed", "threads")
DEFAULT_PORT = 8000
# A switch of the form that is a folder flag of `profondo train`: the job's event files go into its folder.
TENSORBOARD = {"name": "tensorboard", "flag": "--tensorboard", "default": False, "choices": None, "kind": "bool",
               "help": "also write TensorBoard event files (scalars, histograms, filters) into the job's "
                       "folder, tensorboard/ (view them with: tensorboard --logdir RUNS)"}
TENSORBOARD_DIR = "tensorboard"


def _train_parser() -> argparse.ArgumentParser:
    from . import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def train_form() -> list[dict]:
    """The new-job form's fields: name, flag, default, choices, kind and help, from ``profondo train``'s parser."""
    actions = {a.dest: a for a in _train_parser()._actions}
    fields = []
    for name in FORM_FIELDS:
        a = actions[name]
        kind = "bool" if a.nargs == 0 else ("int" if "integer" in getattr(a.type, "__name__", "")
                                            else "float" if "number" in getattr(a.type, "__name__", "") else "str")
        fields.append({"name": name, "flag": a.option_strings[0], "default": a.default,
                       "choices": list(a.choices) if a.choices else None, "kind": kind,
                       "help": (a.help or "").replace("%(default)s", str(a.default))})
    return [*fields, TENSORBOARD]


def _flags(config: dict) -> list[str]:
    argv = []
    for field in train_form()[:-1]:  # the train command's own flags (the tensorboard switch is the job's)
        if field["name"] not in config or config[field["name"]] in (None, ""):
            continue
        value = config[field["name"]]
        if field["kind"] == "bool":
            if value not in (True, False):
                raise ValueError(f"{field['flag']} expected true or false, received {value!r}")
            argv += [field["flag"]] if value else []
        else:
            argv += [field["flag"], str(value)]
    return argv


def _parse_train(argv: list[str]) -> argparse.Namespace:
    """``profondo train ARGV`` parsed by the command's own parser; its usage error as a ValueError."""
    from . import build_parser

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return build_parser().parse_args(["train", *argv])
    except SystemExit:
        lines = [line for line in errors.getvalue().splitlines() if "error:" in line]
        raise ValueError(lines[-1].split("error:", 1)[1].strip() if lines else errors.getvalue().strip()) from None


def check_config(config: dict) -> dict:
    """A job's settings from the page, checked as ``profondo train`` checks its flags: the
    architecture (a zoo name, or ``architecture_text``: a file's text) and the form's fields."""
    from ..architecture import zoo

    if not isinstance(config, dict):
        raise ValueError(f"a job's settings must be a JSON object, received {type(config).__name__}")
    unknown = set(config) - {*FORM_FIELDS, "architecture", "architecture_text", "name", "tensorboard"}
    if unknown:
        raise ValueError(f"unknown job settings {sorted(unknown)}; expected some of "
                         f"{['name', 'architecture', 'architecture_text', *FORM_FIELDS, 'tensorboard']}")
    text = config.get("architecture_text")
    out: dict = {}
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("architecture_text must be an architecture file's text")
        from ..architecture import loads

        try:
            loads(text)
        except Exception as e:  # noqa: BLE001 - any error in the file is the user's, reported on the page
            raise ValueError(f"the architecture file does not build: {e}") from None
        out["architecture_text"] = text
    else:
        name = config.get("architecture") or "lenet5"
        if name not in zoo.names():
            raise ValueError(f"no zoo network {name!r}: expected one of {', '.join(zoo.names())}, or architecture_text")
        out["architecture"] = name
    args = _parse_train(["lenet5", *_flags(config)])
    out.update({name: getattr(args, name) for name in FORM_FIELDS})
    if config.get("tensorboard") not in (None, True, False):
        raise ValueError(f"tensorboard expected true or false, received {config['tensorboard']!r}")
    out["tensorboard"] = bool(config.get("tensorboard"))
    from .common import check_device

    try:
        check_device(out["device"])
    except CommandError as e:
        raise ValueError(str(e)) from None
    return out


def job_argv(job: dict) -> list[str]:
    """``profondo train``'s arguments for a job: its network, its flags, its folder."""
    from ..ui.jobs import ARCHITECTURE_FILE

    config, run_dir = job["config"], Path(job["run_dir"])
    architecture = config["architecture"]
    if architecture == ARCHITECTURE_FILE:  # the job's own file, in its folder
        architecture = str(run_dir / ARCHITECTURE_FILE)
    resume = job["resume"] and (run_dir / "last.ckpt").exists()
    tensorboard = ["--tensorboard", str(run_dir / TENSORBOARD_DIR)] if config.get("tensorboard") else []
    return [architecture, *_flags(config), *tensorboard, "--out", str(run_dir), "--quiet",
            "--resume" if resume else "--overwrite"]


def run_job(runs: str, job_id: int) -> int:
    """One job, in this process: ``profondo train`` with the store recorder; the outcome in the store."""
    from ..backend import blas_threads, keep_freed_memory
    from ..distributed import get_world
    from ..ui.record import recorder_callbacks
    from ..ui.store import JobStore
    from .train import train_one

    store = JobStore(runs)
    job = store.get(job_id)
    if job is None:
        print(f"profondo ui worker: no job {job_id} in {store.path}", file=sys.stderr)
        return 1
    try:
        argv = job_argv(job)
        print(f"profondo train {' '.join(argv)}", flush=True)
        args = _parse_train(argv)
        args.callbacks = lambda loader: recorder_callbacks(store, job_id, args.epochs, loader)
        keep_freed_memory()
        with blas_threads(args.threads or None):
            train_one(args, get_world())
        metrics = Path(job["run_dir"]) / "metrics.json"
        result = json.loads(metrics.read_text()) if metrics.exists() else None
        store.update(job_id, status="done", finished=time.time(), result=result)
        return 0
    except Exception as e:  # noqa: BLE001 - any failure of a job is reported on its page
        text = f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}"
        print(text, file=sys.stderr, flush=True)
        store.update(job_id, status="failed", finished=time.time(), error=text)
        return 1


def build_app(runs: str, data_dir: str | None = None, token: str | None = None, max_jobs: int = 1,
              start_queue: bool = True):
    """The workbench application, lent the train command's parser, predict's loaders and export."""
    from ..architecture import zoo
    from ..ui.app import Services, create_app
    from .train import Classifier, read_image

    def quiet_read_image(path, shape, invert, centre):  # predict's note on inverted images goes to its log
        with contextlib.redirect_stderr(io.StringIO()):
            return read_image(path, shape, invert, centre)

    services = Services(check_config=check_config, train_form=train_form(),
                        worker_command=[sys.executable, "-m", "profondo.cli.ui", "worker"],
                        export_command=[sys.executable, "-m", "profondo.cli", "export"],
                        classifier=Classifier, read_image=quiet_read_image, zoo=zoo.names)
    return create_app(runs, services, data_dir=data_dir, token=token, max_jobs=max_jobs, start_queue=start_queue)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_ui(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise CommandError("profondo ui needs its web packages: pip install 'profondo[ui]'") from None
    token = args.token
    if not _loopback(args.host) and not token:
        token = secrets.token_urlsafe(24)  # beyond this machine, as Jupyter does: every request shows it
    app = build_app(args.runs, args.data, token, args.jobs)
    url = f"http://{args.host}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"profondo ui: {url}  (jobs in {Path(args.runs).resolve()}; Ctrl-C stops the server and its jobs)",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``ui``."""
    p = sub.add_parser("ui", formatter_class=HelpFormatter, help="the browser workbench: draw networks, train "
                       "and inspect them without programming",
                       description="Serve the workbench on this machine: the zoo and your architecture files drawn\n"
                                   "to scale, the data sets, training jobs with live curves, and the inspection of\n"
                                   "a trained network. Jobs and their metrics are kept in RUNS/jobs.sqlite.")
    p.add_argument("--runs", default="runs", help="the folder of the jobs (created if missing)")
    p.add_argument("--data", type=existing_dir, help="a folder of image folders (one sub-folder per class) to show")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on; any other than this machine's "
                   "asks for a token")
    p.add_argument("--port", type=positive_int, default=DEFAULT_PORT, help="the port to listen on")
    p.add_argument("--token", help="the token every request must show (default: none on 127.0.0.1, a random one "
                   "elsewhere)")
    p.add_argument("--jobs", type=positive_int, default=1, help="jobs that train at the same time (the rest wait)")
    p.set_defaults(run=cmd_ui)


def main(argv: list[str]) -> int:
    """``python -m profondo.cli.ui worker RUNS JOB``: the process of one job."""
    if len(argv) != 3 or argv[0] != "worker" or not argv[2].isdigit():
        print("usage: python -m profondo.cli.ui worker RUNS JOB", file=sys.stderr)
        return 2
    return run_job(argv[1], int(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
