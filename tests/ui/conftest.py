"""A live workbench server on a free port over a temporary runs folder, and a headless Chromium page."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest

CHROMIUM = os.environ.get("PROFONDO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``profondo ui`` served by uvicorn in a thread of the test process."""

    def __init__(self, runs, token: str | None = None, data_dir=None) -> None:
        import uvicorn

        from profondo.cli.ui import build_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = build_app(str(runs), data_dir=data_dir, token=token)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the workbench server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    with LiveServer(tmp_path_factory.mktemp("runs")) as server:
        yield server


def _browser_missing(reason: str):
    if os.environ.get("PROFONDO_REQUIRE_BROWSER"):
        pytest.fail(f"PROFONDO_REQUIRE_BROWSER is set, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_missing("playwright is not installed (pip install 'profondo[ui]')")
    if not os.path.exists(CHROMIUM):
        _browser_missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
