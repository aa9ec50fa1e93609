"""The workbench's web application (Starlette): the page, its JSON API and its live updates.

Pages (one HTML file, plain JavaScript): networks (the zoo and the user's file drawn as the
lecture draws them, with an editor that re-validates as the user types), data (the built-in sets
and image folders), new job, the job list, a job's page (live curves pushed by server-sent
events, gradient norms, histograms, downloads), inspect (top-5, filters, feature maps, confusion
matrix, misclassified examples) and the comparison of two runs.

Safety: the server reads and writes only the runs folder, the data folder and its own static
files (a job's files are named from a fixed list; a data folder's path is resolved and must stay
inside the data folder), uploads are limited in size and must be PNG, JPEG or .npy by their
bytes, a token guards every request when one is set, and every failure becomes a JSON error
(status 4xx/5xx) for the page to show, never the server's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .images import png_data_uri, upload_suffix
from .jobs import ARCHITECTURE_FILE, LOG_NAME, JobQueue
from .store import JobStore

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 4 * 1024 * 1024  # bytes: an image to classify, or an architecture file
DRAIN = 16 * MAX_UPLOAD  # an oversized body up to this size is read to its end before the refusal
MAX_TEXT = 256 * 1024  # characters of an architecture file typed in the editor
SAMPLES = 24  # sample images shown per data set
EVENT_SECONDS = 0.5  # how often the live stream looks for new points
# A job's files the page may download, by name (nothing else in a run folder is served).
DOWNLOADS = {"best.ckpt": "application/octet-stream", "last.ckpt": "application/octet-stream",
             "model.onnx": "application/octet-stream", "model.edge": "application/octet-stream",
             "history.csv": "text/csv", "history.json": "application/json", "metrics.json": "application/json",
             "summary.txt": "text/plain", "curves.png": "image/png", LOG_NAME: "text/plain",
             ARCHITECTURE_FILE: "text/plain"}
EXPORTS = {"model.onnx": "--onnx", "model.edge": "--edge"}
BUILTIN_DATA = ("digits", "mnist", "fashion-mnist", "cifar10")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm")


@dataclass
class Services:
    """What the command line lends the application, so that the page runs the same code as
    ``profondo train``, ``export`` and ``predict`` (those live above the workbench).

    ``check_config(config) -> config``: the job's settings checked by the train command's own
    parser (raises ValueError with argparse's message). ``train_form``: the fields of the new-job
    form with the train command's defaults and choices. ``worker_command``: the process that runs
    one job. ``export_command``: ``profondo export``. ``classifier(path)``: a checkpoint's network
    as ``profondo predict`` loads it; ``read_image(path, shape, invert, centre)``: an image file as
    predict reads it.
    """

    check_config: Callable[[dict], dict]
    train_form: list[dict]
    worker_command: list[str]
    export_command: list[str]
    classifier: Callable
    read_image: Callable
    zoo: Callable[[], list[str]] = field(default=lambda: [])


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class TokenMiddleware(BaseHTTPMiddleware):
    """Every request carries the token (``?token=``, the cookie set by the first page, or an
    ``Authorization: token ...`` header), as Jupyter asks when it listens beyond this machine."""

    def __init__(self, app, token: str) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next):
        given = (request.query_params.get("token") or request.cookies.get("profondo_token")
                 or request.headers.get("authorization", "").removeprefix("token ").strip())
        if not given or not hmac.compare_digest(given, self.token):
            return error(403, "this workbench asks for its token: open the address `profondo ui` printed "
                              "(it ends with ?token=...)")
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie("profondo_token", self.token, httponly=True, samesite="strict")
        return response


def create_app(runs: str | os.PathLike, services: Services, data_dir: str | os.PathLike | None = None,
               token: str | None = None, max_jobs: int = 1, start_queue: bool = True) -> Starlette:
    """The workbench over the runs folder ``runs`` (jobs.sqlite and one folder per job) and the
    image folders under ``data_dir``."""
    store = JobStore(runs)
    queue = JobQueue(store, services.worker_command, max_running=max_jobs)
    data_root = Path(data_dir).resolve() if data_dir else None
    api = _Api(store, queue, services, data_root)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if start_queue:
            queue.start()
        try:
            yield
        finally:
            queue.close(stop_jobs=True)

    routes = [
        Route("/", api.index),
        Route("/api/zoo", api.zoo),
        Route("/api/networks/{name}", api.network),
        Route("/api/validate", api.validate, methods=["POST"]),
        Route("/api/draw", api.draw, methods=["POST"]),
        Route("/api/form", api.form),
        Route("/api/data", api.data_list),
        Route("/api/data/{name:path}", api.data_detail),
        Route("/api/jobs", api.jobs, methods=["GET", "POST"]),
        Route("/api/jobs/{job:int}", api.job),
        Route("/api/jobs/{job:int}/metrics", api.metrics),
        Route("/api/jobs/{job:int}/events", api.events),
        Route("/api/jobs/{job:int}/histograms", api.histograms),
        Route("/api/jobs/{job:int}/files/{name:path}", api.download),
        Route("/api/jobs/{job:int}/inspect", api.inspect, methods=["POST"]),
        Route("/api/jobs/{job:int}/confusion", api.confusion),
        Route("/api/jobs/{job:int}/{action:str}", api.job_action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TokenMiddleware, token=token)] if token else []
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.state.store, app.state.queue, app.state.api = store, queue, api
    return app


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return error(exc.status_code, str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    print(f"profondo ui: {request.url.path}: {''.join(traceback.format_exception(exc))}", file=sys.stderr)
    return error(500, f"{type(exc).__name__}: {exc}")


def _json_safe(value):
    """NaN and infinities as None: JSON has no such numbers and the page's parser refuses them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _ok(value, status: int = 200) -> JSONResponse:
    return JSONResponse(_json_safe(value), status_code=status)


class _Api:
    def __init__(self, store: JobStore, queue: JobQueue, services: Services, data_root: Path | None) -> None:
        self.store, self.queue, self.services, self.data_root = store, queue, services, data_root

    # --- pages and networks -------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        return HTMLResponse((STATIC / "index.html").read_text())

    async def zoo(self, request: Request) -> Response:
        return _ok({"names": self.services.zoo()})

    async def network(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.services.zoo():
            return error(404, f"no zoo network {name!r} (zoo: {', '.join(self.services.zoo())})")
        from ..architecture import zoo

        text = Path(zoo.path(name)).read_text()
        return _ok({"name": name, "text": text, **_drawn(text, None)})

    async def validate(self, request: Request) -> Response:
        body = await _json_body(request)
        text = body.get("text")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            return error(400, f"expected {{\"text\": an architecture file of at most {MAX_TEXT} characters}}")
        try:
            from .validate import validate_architecture_text
        except ImportError:  # without the checker, the drawing's own error
            drawn = await asyncio.to_thread(_drawn, text, _shape(body.get("input")))
            return _ok({"ok": not drawn["errors"], **drawn})
        result = await asyncio.to_thread(validate_architecture_text, text, _shape(body.get("input")))
        if result.get("ok") and result.get("layout") is not None:
            result["svg"] = _svg(result["layout"])
        return _ok(result)

    async def draw(self, request: Request) -> Response:
        body = await _json_body(request)
        text = body.get("text")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            return error(400, f"expected {{\"text\": an architecture file of at most {MAX_TEXT} characters}}")
        return _ok(await asyncio.to_thread(_drawn, text, _shape(body.get("input"))))

    async def form(self, request: Request) -> Response:
        # A job trains on a built-in set or on an image folder of --data (named as the data list names it).
        folders = await asyncio.to_thread(self._folders)
        return _ok({"fields": self.services.train_form, "zoo": self.services.zoo(),
                    "data": [*BUILTIN_DATA, *folders]})

    # --- data -------------------------------------------------------------------------------
    def _folders(self) -> list[str]:
        if self.data_root is None or not self.data_root.is_dir():
            return []
        return sorted(str(p.relative_to(self.data_root)) for p in self.data_root.iterdir()
                      if p.is_dir() and _class_folders(p))

    async def data_list(self, request: Request) -> Response:
        return _ok({"builtin": list(BUILTIN_DATA), "folders": await asyncio.to_thread(self._folders),
                    "data_dir": str(self.data_root) if self.data_root else None})

    async def data_detail(self, request: Request) -> Response:
        name = request.path_params["name"]
        split = request.query_params.get("split", "train")
        if split not in ("train", "test"):
            return error(400, f"split must be 'train' or 'test', received {split!r}")
        if name in BUILTIN_DATA:
            return _ok(await asyncio.to_thread(_builtin_detail, name, split))
        folder = self._data_folder(name)
        return _ok(await asyncio.to_thread(_folder_detail, folder, name))

    def _data_folder(self, name: str) -> Path:
        if self.data_root is None:
            raise HTTPException(404, f"no data set {name!r}: built-in sets are {', '.join(BUILTIN_DATA)}, and no "
                                     "data folder was given (profondo ui --data DIR)")
        folder = (self.data_root / name).resolve()
        if not folder.is_relative_to(self.data_root):
            raise HTTPException(403, f"{name!r} is outside the data folder")
        if not folder.is_dir():
            raise HTTPException(404, f"no image folder {name!r} in {self.data_root}")
        return folder

    # --- jobs -------------------------------------------------------------------------------
    async def jobs(self, request: Request) -> Response:
        if request.method == "GET":
            return _ok({"jobs": [self._public(j) for j in self.store.list()]})
        body = await _json_body(request)
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, str) and data and _canonical(data) not in map(_canonical, BUILTIN_DATA):
            # A folder under --data, named as the data list names it; the job reads it by its resolved
            # path (kept inside the data folder by _data_folder), so moving the server's cwd changes nothing.
            folder = self._data_folder(data)
            if not _class_folders(folder):
                return error(422, f"{data!r} holds no class sub-folders (expected one folder per class, images inside)")
            body = {**body, "data": str(folder)}
        try:
            config = self.services.check_config(body)
        except ValueError as e:
            return error(400, str(e))
        text = config.pop("architecture_text", None)
        if text is not None:
            config["architecture"] = ARCHITECTURE_FILE
            config["network"] = _file_name(text)
        network = config.get("network") or config["architecture"]
        shown = data if isinstance(data, str) and data else config.get("data", "")  # a folder by its short name
        name = str(body.get("name") or f"{network}-{shown}")[:60]
        write = None if text is None else (lambda run_dir: (run_dir / ARCHITECTURE_FILE).write_text(text))
        job = await asyncio.to_thread(self.queue.submit, name, config, write)
        return _ok(self._public(self.store.get(job)), 201)

    def _job(self, request: Request) -> dict:
        job = self.store.get(request.path_params["job"])
        if job is None:
            raise HTTPException(404, f"no job {request.path_params['job']}")
        return job

    def _public(self, job: dict) -> dict:
        run_dir = Path(job["run_dir"])
        files = [name for name in DOWNLOADS if (run_dir / name).is_file()]
        return {**job, "files": files, "can_export": (run_dir / "best.ckpt").is_file()}

    async def job(self, request: Request) -> Response:
        return _ok(self._public(self._job(request)))

    async def job_action(self, request: Request) -> Response:
        job, action = self._job(request)["id"], request.path_params["action"]
        actions = {"stop": self.queue.stop, "resume": self.queue.resume}
        try:
            if action == "clone":
                return _ok(self._public(self.store.get(await asyncio.to_thread(self.queue.clone, job))), 201)
            if action not in actions:
                return error(404, f"no job action {action!r}: expected stop, resume or clone")
            return _ok(self._public(await asyncio.to_thread(actions[action], job)))
        except ValueError as e:
            return error(409, str(e))

    async def metrics(self, request: Request) -> Response:
        job = self._job(request)["id"]
        return _ok({"batch": self.store.metrics(job, "batch"), "epoch": self.store.metrics(job, "epoch"),
                    "gradients": self.store.gradients(job)})

    async def histograms(self, request: Request) -> Response:
        job = self._job(request)["id"]
        return _ok({"weights": self.store.histograms(job, "weights"),
                    "activations": self.store.histograms(job, "activations")})

    async def events(self, request: Request) -> Response:
        """Server-sent events: the job's record and every new point, until the job ends."""
        job = self._job(request)["id"]
        store = self.store

        async def stream():
            last = {"batch": -1, "epoch": -1, "gradients": -1}
            sent_status = None
            while True:
                record = store.get(job)
                update = {"batch": store.metrics(job, "batch", last["batch"]),
                          "epoch": store.metrics(job, "epoch", last["epoch"]),
                          "gradients": store.gradients(job, last["gradients"])}
                for key, rows in update.items():
                    if rows:
                        last[key] = rows[-1]["step"]
                changed = any(update.values()) or record["status"] != sent_status
                if changed:
                    update["job"] = self._public(record)
                    sent_status = record["status"]
                    yield f"data: {json.dumps(_json_safe(update))}\n\n"
                if record["status"] in ("done", "failed", "stopped") and not any(update.values()):
                    yield "event: end\ndata: {}\n\n"
                    return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(EVENT_SECONDS)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def download(self, request: Request) -> Response:
        job, name = self._job(request), request.path_params["name"]
        if name not in DOWNLOADS:
            return error(403, f"{name!r} is not a file of a job (a job's files: {', '.join(DOWNLOADS)})")
        run_dir = Path(job["run_dir"])
        path = run_dir / name
        if name in EXPORTS and not path.is_file():
            if not (run_dir / "best.ckpt").is_file():
                return error(409, f"job {job['id']} has no best.ckpt yet: nothing to export")
            done = await asyncio.to_thread(
                subprocess.run, [*self.services.export_command, str(run_dir / "best.ckpt"), EXPORTS[name], str(path)],
                capture_output=True, text=True, timeout=600)
            if done.returncode:
                return error(422, f"profondo export failed: {(done.stderr or done.stdout).strip()[-2000:]}")
        if not path.is_file():
            return error(404, f"job {job['id']} has no {name} (yet)")
        return FileResponse(path, media_type=DOWNLOADS[name], filename=f"{job['id']}-{name}")

    # --- inspect ----------------------------------------------------------------------------
    def _checkpoint(self, job: dict) -> Path:
        run_dir = Path(job["run_dir"])
        for name in ("best.ckpt", "last.ckpt"):
            if (run_dir / name).is_file():
                return run_dir / name
        raise HTTPException(409, f"job {job['id']} has no checkpoint yet: inspect it after its first epoch")

    async def inspect(self, request: Request) -> Response:
        """Classify one image (an upload, or the ``index``-th test image) and show what every layer made of it."""
        job = self._job(request)
        ckpt = self._checkpoint(job)
        index = request.query_params.get("index")
        if index is not None:
            if not index.isdigit():
                return error(400, f"index must be a test image's number, received {index!r}")
            return _ok(await asyncio.to_thread(self._inspect, ckpt, None, int(index)))
        data = await _upload(request)
        suffix = upload_suffix(data)
        if suffix is None:
            return error(415, "an image to classify must be a PNG, JPEG or .npy file")
        return _ok(await asyncio.to_thread(self._inspect, ckpt, (data, suffix), None))

    def _inspect(self, ckpt: Path, upload: tuple[bytes, str] | None, index: int | None) -> dict:
        net = self.services.classifier(str(ckpt))
        if upload is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"upload{upload[1]}"
                path.write_bytes(upload[0])
                try:
                    x = self.services.read_image(str(path), net.input_shape, None, net.data == "mnist")
                except Exception as e:  # noqa: BLE001 - the reader's message is for the page
                    raise HTTPException(422, f"the image cannot be read: {e}") from None
            label = None
        else:
            test = _dataset(net.data, "test")
            if index >= len(test):
                raise HTTPException(400, f"index {index} is past the last of {len(test)} test images")
            x, label = np.asarray(test.x[index], np.float32), int(test.y[index])
        from .inspect import describe

        return {"checkpoint": ckpt.name, **describe(net, x, label)}

    async def confusion(self, request: Request) -> Response:
        job = self._job(request)
        ckpt = self._checkpoint(job)
        limit = request.query_params.get("limit", "2000")
        if not limit.isdigit():
            return error(400, f"limit must be a number of test images, received {limit!r}")
        from .inspect import confusion

        net = await asyncio.to_thread(self.services.classifier, str(ckpt))
        return _ok(await asyncio.to_thread(confusion, net, _dataset(net.data, "test"), int(limit)))


def _drawn(text: str, input_shape) -> dict:
    """``drawing.network_layout`` and its SVG, or the architecture's errors."""
    try:
        from .drawing import network_layout
    except ImportError as e:
        return {"layout": None, "svg": None, "errors": [{"line": None, "column": None,
                                                         "message": f"the drawing is not available here ({e})"}]}
    try:
        layout = network_layout(text, input_shape)
    except Exception as e:  # noqa: BLE001 - a bad file is the user's, shown on the page
        return {"layout": None, "svg": None, "errors": [{"line": None, "column": None, "message": str(e)}]}
    return {"layout": layout, "svg": _svg(layout), "errors": []}


def _file_name(text: str) -> str:
    """The ``name`` an architecture file gives its network (``custom`` if none)."""
    from ..architecture import load_dict

    try:
        return str(load_dict(text).get("name") or "custom")[:60]
    except Exception:  # noqa: BLE001 - the file was checked before; a name is only a label
        return "custom"


def _svg(layout: dict) -> str | None:
    from .drawing import render_svg

    return render_svg(layout)


def _shape(value) -> tuple[int, ...] | None:
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        value = [v for v in value.replace("x", ",").split(",") if v.strip()]
    try:
        shape = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise HTTPException(400, f"input shape expected numbers like 1,28,28, received {value!r}") from None
    if not shape or any(v <= 0 for v in shape):
        raise HTTPException(400, f"input shape expected positive numbers like 1,28,28, received {value!r}")
    return shape


async def _json_body(request: Request) -> dict:
    data = await _upload(request)
    try:
        body = json.loads(data or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HTTPException(400, f"expected a JSON body: {e}") from None
    if not isinstance(body, dict):
        raise HTTPException(400, f"expected a JSON object, received {type(body).__name__}")
    return body


async def _upload(request: Request) -> bytes:
    """The request's body, refused past ``MAX_UPLOAD`` bytes. Nothing past the limit is kept; a
    body of up to ``DRAIN`` bytes is read to its end (and dropped) so that the sender, still
    sending, receives the refusal instead of a broken connection; a larger one is cut off."""
    declared = request.headers.get("content-length")
    declared = int(declared) if declared and declared.isdigit() else None
    refusal = HTTPException(413, f"the upload is {'over ' if declared is None else ''}"
                                 f"{(declared or MAX_UPLOAD):,} bytes; at most {MAX_UPLOAD:,} are accepted")
    if declared is not None and declared > DRAIN:
        raise refusal
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN:
            raise refusal
        if size <= MAX_UPLOAD:
            chunks.append(chunk)
    if size > MAX_UPLOAD:
        raise refusal
    return b"".join(chunks)


def _dataset(name: str | None, split: str):
    from ..data import load_dataset

    if name is None:
        raise HTTPException(409, "the checkpoint does not record the data set it was trained on")
    return load_dataset(name, split)


def _builtin_detail(name: str, split: str) -> dict:
    from ..data import DatasetNotFoundError

    try:
        data = _dataset(name, split)
    except (DatasetNotFoundError, ImportError, OSError) as e:
        return {"name": name, "available": False, "error": str(e)}
    labels = np.asarray(data.y)
    classes = getattr(data, "classes", None) or [str(i) for i in range(int(labels.max()) + 1)]
    counts = np.bincount(labels, minlength=len(classes)).tolist()
    rng = np.random.default_rng(0)
    picks = np.sort(rng.choice(len(data), min(SAMPLES, len(data)), replace=False))
    scale = max(1, 56 // max(data.x.shape[-1], 1))
    samples = [{"label": classes[int(labels[i])], "image": png_data_uri(data.x[i], scale)} for i in picks]
    return {"name": name, "available": True, "split": split, "size": len(data), "shape": list(data.x.shape[1:]),
            "classes": classes, "counts": counts, "samples": samples}


def _canonical(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")  # as load_dataset reads a name


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _folder_detail(folder: Path, name: str) -> dict:
    """An image folder in DIGITS' layout: one sub-folder per class, its images inside."""
    from PIL import Image, UnidentifiedImageError

    classes, counts, samples = [], [], []
    for sub in _class_folders(folder):
        images = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        classes.append(sub.name)
        counts.append(len(images))
        for path in images[: max(1, SAMPLES // max(len(_class_folders(folder)), 1))]:
            try:
                with Image.open(path) as im:
                    im.thumbnail((64, 64))
                    samples.append({"label": sub.name, "image": png_data_uri(np.asarray(im.convert("RGB"))
                                                                              .transpose(2, 0, 1))})
            except (UnidentifiedImageError, OSError):
                continue
    if not classes:
        raise HTTPException(422, f"{name!r} holds no class sub-folders (expected one folder per class, images inside)")
    return {"name": name, "available": True, "size": sum(counts), "classes": classes, "counts": counts,
            "samples": samples, "folder": True}
