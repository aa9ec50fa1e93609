"""The workbench in a real browser (headless Chromium driven by Playwright) against a live server.

Skipped where Chromium or Playwright is missing, unless PROFONDO_REQUIRE_BROWSER=1 (as CI sets),
which turns the skip into a failure. PROFONDO_SCREENSHOTS=DIR also saves each page's screenshot there.
"""

from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("sklearn")

from profondo.analysis import analyze  # noqa: E402
from profondo.architecture import load, loads, zoo  # noqa: E402

from .test_app import DIGITS_NET, call, wait_done  # noqa: E402

TIMEOUT_MS = 30_000
SHOTS = os.environ.get("PROFONDO_SCREENSHOTS")


def shoot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"ui-{name}.png"), full_page=True)


def box_of(page, layer: str) -> dict:
    """The drawn front face (its first polygon) of a layer's box: width and height on the page."""
    return page.eval_on_selector(f'#drawing g.layer[data-name="{layer}"] polygon',
                                 "p => { const b = p.getBBox(); return {w: b.width, h: b.height}; }")


def test_lenet5_is_drawn_with_the_analysis_numbers(page, live_server):
    page.goto(live_server.url + "/#/networks/lenet5")
    page.wait_for_selector("#drawing svg g.layer", timeout=TIMEOUT_MS)
    drawn = page.eval_on_selector_all("#drawing g.layer", "gs => gs.map(g => ({...g.dataset}))")
    a = analyze(load(zoo.path("lenet5")))
    assert [d["name"] for d in drawn] == ["input", *(r.name for r in a.layers)]
    for d, r in zip(drawn[1:], a.layers):
        assert d["shape"] == "x".join(map(str, r.output_shape)), r.name
        assert (int(d["neurons"]), int(d["connections"]), int(d["weights"]), int(d["macs"])) == \
            (r.neurons, r.connections, r.weights, r.macs), r.name
    assert sum(int(d["weights"]) for d in drawn) == 61_706  # LeNet-5's weights, as analysis counts them
    # Volumes to scale: each box's front face is W x H in one unit (LeNet-5 is drawn on a linear scale).
    volumes = [(d["name"], *map(int, d["shape"].split("x"))) for d in drawn if d["role"] == "volume"]
    assert [v[0] for v in volumes] == ["input", "conv1", "pool1", "conv2", "pool2"]
    units = [(box_of(page, n)["w"] / w, box_of(page, n)["h"] / h) for n, _, h, w in volumes]
    for uw, uh in units:
        assert uw == pytest.approx(units[0][0], rel=0.02) and uh == pytest.approx(units[0][1], rel=0.02)
    rows = page.eval_on_selector_all("#layer-table tr[data-name]", "rs => rs.map(r => r.dataset.name)")
    assert rows == [d["name"] for d in drawn]
    shoot(page, "networks")


def test_an_invalid_layer_shows_the_size_arithmetic(page, live_server, tmp_path):
    page.goto(live_server.url + "/#/networks/custom")
    page.wait_for_selector("#editor", timeout=TIMEOUT_MS)
    page.fill("#editor", DIGITS_NET)
    page.wait_for_selector('#drawing g.layer[data-name="fc1"]', timeout=TIMEOUT_MS)  # this file's names
    bad = DIGITS_NET.replace("size: 3, stride: 1, pad: 1", "size: 11, stride: 1, pad: 1")
    page.fill("#editor", bad)
    error = page.wait_for_selector(".error-line", timeout=TIMEOUT_MS)
    assert error.get_attribute("data-line") == "4"
    assert "H_out = (8 - 11 + 2*1)/1 + 1 = 0" in error.text_content()
    assert page.eval_on_selector("#editor", "e => e.classList.contains('invalid')")
    assert page.is_visible("#stale")  # the drawing left is the last file that built, and says so
    shoot(page, "editor-error")
    good = tmp_path / "digits.yaml"
    good.write_text(DIGITS_NET)
    page.set_input_files("#open-file", str(good))  # corrected from a file: the error goes, the drawing comes back
    page.wait_for_selector("#check .ok", timeout=TIMEOUT_MS)
    assert page.query_selector(".error-line") is None and not page.is_visible("#stale")
    assert page.get_attribute('#drawing g.layer[data-name="conv1"]', "data-shape") == "8x8x8"


JOB = {}  # the digits job the browser starts, for the inspection test


def test_a_job_started_from_the_page_shows_its_curve_growing(page, live_server):
    page.goto(live_server.url + "/#/new")
    page.wait_for_selector("#start", timeout=TIMEOUT_MS)
    page.select_option("#f-architecture", "custom")
    page.fill("#custom-text", DIGITS_NET)
    page.select_option("#f-data", "digits")
    for field, value in {"epochs": "3", "batch_size": "8", "limit": "600", "lr": "0.01", "shift": "0"}.items():
        page.fill(f"#f-{field}", value)
    shoot(page, "new-job")
    page.click("#start")
    page.wait_for_url("**/#/job/*", timeout=TIMEOUT_MS)
    JOB["id"] = int(page.url.rsplit("/", 1)[1])
    seen, deadline = [], time.monotonic() + 90
    while time.monotonic() < deadline:
        status = page.text_content("#job-status")
        points = int(page.get_attribute("#loss-chart", "data-points") or 0)
        if status == "running" and (not seen or points != seen[-1]):
            seen.append(points)
        if status in ("done", "failed"):
            break
        time.sleep(0.1)
    assert status == "done", page.text_content("#job-error")
    # While it trained the page received the points in several pushes, each adding some.
    assert len([p for p in seen if p > 0]) >= 3 and seen == sorted(seen), seen
    page.wait_for_function("document.querySelector('#progress').textContent.includes('test accuracy')",
                           timeout=TIMEOUT_MS)
    final = int(page.get_attribute("#loss-chart", "data-points"))
    assert final == 3 * 75 + 3 + 3  # one point a batch (600 images / 8), train and validation each epoch
    shoot(page, "job")


def test_the_inspect_view_shows_feature_maps_of_every_layer(page, live_server):
    job = JOB.get("id")
    if job is None:  # this test alone: train the same job through the API
        job = call(live_server, "/api/jobs", {"architecture_text": DIGITS_NET, "data": "digits", "epochs": 1,
                                              "limit": 200})[1]["id"]
        wait_done(live_server, job)
    page.goto(live_server.url + f"/#/inspect/{job}")
    page.wait_for_selector("#top5 tr + tr", timeout=TIMEOUT_MS)
    assert len(page.query_selector_all("#top5 tr")) == 1 + 5
    page.wait_for_selector(".fmap-layer", timeout=TIMEOUT_MS)
    layers = page.eval_on_selector_all(".fmap-layer", "ls => ls.map(l => ({...l.dataset, "
                                       "tiles: [...l.querySelectorAll('img')].map(i => [i.naturalWidth, i.naturalHeight])}))")
    shapes = {r.name: r.output_shape for r in analyze(loads(DIGITS_NET)).layers}
    by_name = {entry["name"]: entry for entry in layers}
    conv = by_name["conv1"]
    assert tuple(map(int, conv["shape"].split(","))) == shapes["conv1"] == (8, 8, 8)
    assert int(conv["count"]) == 8 and len(conv["tiles"]) == 8
    assert all(w == h and w % 8 == 0 for w, h in conv["tiles"])  # each map 8 x 8, scaled by a whole factor
    pool = by_name["pool1"]
    assert tuple(map(int, pool["shape"].split(","))) == shapes["pool1"] == (8, 4, 4) and len(pool["tiles"]) == 8
    assert all(w == h and w % 4 == 0 for w, h in pool["tiles"])
    for entry in layers:
        assert tuple(map(int, entry["shape"].split(","))) == tuple(shapes[entry["name"]]), entry["name"]
    assert len(page.query_selector_all("#filters img")) == 8
    page.wait_for_selector("#confusion-table", timeout=TIMEOUT_MS)
    assert len(page.query_selector_all("#confusion-table tr")) == 11
    shoot(page, "inspect")


def test_the_page_refuses_traversal_and_oversized_uploads(page, live_server, tmp_path):
    page.goto(live_server.url + "/#/jobs")
    page.wait_for_selector("h1", timeout=TIMEOUT_MS)
    statuses = page.evaluate("""async () => Promise.all([
        '/api/jobs/1/files/..%2F..%2Fjobs.sqlite', '/static/..%2F..%2Fapp.py', '/api/data/..%2F..%2Fetc',
      ].map(async p => (await fetch(p)).status))""")
    assert all(s in (403, 404) for s in statuses), statuses
    job = JOB.get("id")
    if job is None:
        pytest.skip("needs the job of the curve test")
    page.goto(live_server.url + f"/#/inspect/{job}")
    page.wait_for_selector("#upload", timeout=TIMEOUT_MS)
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(5 * 1024 * 1024))
    page.set_input_files("#upload", str(big))
    page.wait_for_function("document.querySelector('#inspect-error').textContent.includes('at most')",
                           timeout=TIMEOUT_MS)
    fake = tmp_path / "digit.png"
    fake.write_bytes(b"<script>alert(1)</script>")
    page.set_input_files("#upload", str(fake))
    page.wait_for_function("document.querySelector('#inspect-error').textContent.includes('PNG, JPEG or .npy')",
                           timeout=TIMEOUT_MS)


def test_with_a_token_the_page_works_once_opened_with_it(page, tmp_path):
    from .conftest import LiveServer

    with LiveServer(tmp_path, token="class-of-2026") as server:
        response = page.goto(server.url + "/#/networks/lenet5")
        assert response.status == 403
        page.goto(server.url + "/?token=class-of-2026#/networks/lenet5")  # the address profondo ui prints
        page.wait_for_selector("#drawing svg g.layer", timeout=TIMEOUT_MS)  # later requests carry the cookie
        page.goto(server.url + "/#/data/digits")
        page.wait_for_selector("#samples img", timeout=TIMEOUT_MS)


def test_the_data_page_shows_counts_and_samples(page, live_server):
    page.goto(live_server.url + "/#/data/digits")
    page.wait_for_selector("#samples img", timeout=TIMEOUT_MS)
    counts = page.eval_on_selector_all("#class-counts tr td:nth-child(2)", "ts => ts.map(t => t.textContent)")
    assert len(counts) == 10 and sum(int(c.replace(",", "")) for c in counts) == 1348
    assert len(page.query_selector_all("#samples img")) == 24
    shoot(page, "data")


def _start_from_the_page(page, server, settings: dict, text: str | None = None, architecture: str | None = None,
                         name: str | None = None) -> int:
    page.goto(server.url + "/#/new")
    page.wait_for_selector("#start", timeout=TIMEOUT_MS)
    if text is not None:
        page.select_option("#f-architecture", "custom")
        page.fill("#custom-text", text)
    else:
        page.select_option("#f-architecture", architecture)
    page.select_option("#f-data", settings.pop("data"))
    for field, value in settings.items():
        page.fill(f"#f-{field}", str(value))
    if name:
        page.fill("#f-name", name)
    page.click("#start")
    page.wait_for_url("**/#/job/*", timeout=TIMEOUT_MS)
    return int(page.url.rsplit("/", 1)[1])


def _wait_on_the_page(page, seconds: float) -> str:
    page.wait_for_function("['done', 'failed'].includes(document.querySelector('#job-status')?.textContent)",
                           timeout=seconds * 1000)
    return page.text_content("#job-status")


@pytest.mark.skipif(not os.environ.get("PROFONDO_UI_MNIST"), reason="trains LeNet-5 on MNIST for an epoch "
                    "from the page (about a minute): PROFONDO_UI_MNIST=1")
def test_lenet5_on_mnist_from_the_page(page, live_server):
    """The newcomer's path: LeNet-5 on MNIST from the page without code, watched, inspected; then the
    vanishing gradient (sigmoid against ReLU) compared."""
    from profondo.data import DatasetNotFoundError, load_dataset

    try:
        load_dataset("mnist", "test")
    except (DatasetNotFoundError, ImportError, OSError) as e:
        pytest.skip(f"MNIST is not available: {e}")
    started = time.monotonic()
    job = _start_from_the_page(page, live_server, {"data": "mnist", "epochs": 1}, architecture="lenet5",
                               name="lenet5-mnist")
    page.wait_for_function("+(document.querySelector('#grad-chart')?.dataset.points || 0) > 20", timeout=600_000)
    shoot(page, "job-live")
    assert _wait_on_the_page(page, 1200) == "done", page.text_content("#job-error")
    wall = time.monotonic() - started
    page.wait_for_function("document.querySelector('#progress').textContent.includes('test accuracy')",
                           timeout=TIMEOUT_MS)
    page.wait_for_selector("#histograms canvas", timeout=TIMEOUT_MS)
    record = call(live_server, f"/api/jobs/{job}")[1]
    print(f"\nLeNet-5 on MNIST, 1 epoch from the page: test accuracy {record['result']['test_accuracy']:.4f} on "
          f"{record['result']['test_images']} images, {record['result']['train_seconds']:.1f} s of training, "
          f"{wall:.1f} s from the click to the result")
    assert record["result"]["test_accuracy"] > 0.9
    shoot(page, "job")
    page.goto(live_server.url + f"/#/inspect/{job}")
    page.wait_for_selector("#confusion-table", timeout=120_000)
    page.wait_for_selector(".fmap-layer", timeout=TIMEOUT_MS)
    assert [e.get_attribute("data-count") for e in page.query_selector_all(".fmap-layer")][:3] == ["6", "6", "6"]
    shoot(page, "inspect")
    jobs = []
    for net in ("sigmoid", "relu"):
        text = open(os.path.join(os.path.dirname(__file__), "..", "..", "examples", f"deep-mlp-{net}.yaml")).read()
        jobs.append(_start_from_the_page(page, live_server, {"data": "digits", "epochs": 5, "batch_size": 32,
                                                             "shift": 0}, text=text, name=f"deep-mlp-{net}"))
        assert _wait_on_the_page(page, 600) == "done"
    page.goto(live_server.url + f"/#/compare/{jobs[0]}/{jobs[1]}")
    page.wait_for_selector("#cmp-grad .uplot", timeout=TIMEOUT_MS)
    shoot(page, "compare")
    page.goto(live_server.url + "/#/jobs")
    page.wait_for_selector("#jobs", timeout=TIMEOUT_MS)
    shoot(page, "jobs")
