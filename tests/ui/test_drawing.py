"""The network drawing: its boxes carry analysis's shapes and counts, every zoo file lays out and
renders, large ranges switch to a log scale, SVG parses and PNG is written."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from profondo import nn
from profondo.analysis import analyze
from profondo.architecture import zoo
from profondo.ui.drawing import LOG_RANGE, network_layout, render_svg, save_drawing

pytest.importorskip("yaml")


@pytest.fixture(scope="module")
def lenet():
    return network_layout("lenet5")


def _groups(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "layer"]


def test_lenet5_boxes_are_the_analysis_rows(lenet):
    a = analyze(zoo.load("lenet5"))
    rows = lenet["layers"]
    assert rows[0]["name"] == "input" and rows[0]["shape"] == [1, 28, 28] and rows[0]["neurons"] == 784
    assert [r["name"] for r in rows[1:]] == [r.name for r in a.layers]
    for drawn, r in zip(rows[1:], a.layers):
        assert tuple(drawn["shape"]) == r.output_shape
        assert (drawn["neurons"], drawn["connections"], drawn["weights"], drawn["macs"]) == \
            (r.neurons, r.connections, r.weights, r.macs)
    assert lenet["totals"]["weights"] == a.weights == 61_706
    assert lenet["totals"]["connections"] == a.connections and lenet["totals"]["macs"] == a.macs


def test_lenet5_labels_kernels_and_receptive_fields(lenet):
    by = {r["name"]: r for r in lenet["layers"]}
    assert [by[n]["label"] for n in ("conv1", "pool1", "conv2", "pool2", "fc1")] == \
        ["6@28x28", "6@14x14", "16@10x10", "16@5x5", "120"]
    assert by["conv1"]["kernel"] == {"size": [5, 5], "stride": [1, 1], "padding": [2, 2], "dilation": [1, 1]}
    # r = r_in + (F - 1) * j_in, j = j_in * S: 5, 5+1=6, 6+4*2=14, 14+1*2=16, then dense: the whole 28x28
    assert [by[n]["receptive_field"] for n in ("conv1", "pool1", "conv2", "pool2", "fc1")] == \
        [[5, 5], [6, 6], [14, 14], [16, 16], [28, 28]]
    # the kernel box of conv2 sits on pool1's volume, F/W of its width, as deep as pool1 (every channel)
    kb, pool1 = by["conv2"]["kernel_box"], by["pool1"]["box"]
    assert kb["on"] == "pool1" and kb["w"] == pytest.approx(pool1["w"] * 5 / 14, abs=0.01)
    assert kb["d"] == pool1["d"]
    assert by["pool1"]["kernel_box"]["d"] == pytest.approx(by["conv1"]["box"]["d"] / 6, abs=0.01)  # one channel
    # element-wise layers are written under their box, not drawn as one
    assert by["conv1_relu"]["role"] == "op" and by["conv1_relu"]["on"] == "conv1" and by["conv1_relu"]["box"] is None
    assert by["fc1_flatten"]["on"] == "pool2"
    # to scale (linear): 28 wide is twice 14 wide, 16 channels deeper than 6
    assert lenet["scale"]["spatial"] == "linear"
    assert by["conv1"]["box"]["w"] == pytest.approx(2 * by["pool1"]["box"]["w"])
    assert by["conv2"]["box"]["d"] == pytest.approx(by["conv1"]["box"]["d"] * 16 / 6)


def test_svg_groups_carry_the_counts(lenet):
    svg = render_svg(lenet)
    groups = {g.get("data-name"): g for g in _groups(svg)}
    a = analyze(zoo.load("lenet5"))
    assert set(groups) == {"input", *(r.name for r in a.layers)}
    for r in a.layers:
        g = groups[r.name]
        assert g.get("data-shape") == "x".join(map(str, r.output_shape))
        assert [int(g.get(f"data-{k}")) for k in ("neurons", "connections", "weights", "macs")] == \
            [r.neurons, r.connections, r.weights, r.macs]
    assert groups["conv1"].get("data-kind") == "conv2d" and groups["conv1"].get("data-shape") == "6x28x28"
    texts = "".join(groups["conv1"].itertext())
    assert "6@28x28" in texts and "117,600 connections" in texts and "156 weights" in texts


@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_file_lays_out_and_renders(name, tmp_path):
    layout = network_layout(name)
    assert json.loads(json.dumps(layout)) == layout  # JSON-able as it is
    groups = _groups(render_svg(layout))
    assert len(groups) == len(layout["layers"])
    for row in layout["layers"]:
        if row["role"] != "op":
            b = row["box"]
            assert b["w"] > 0 and b["h"] > 0 and b["d"] > 0
            assert 0 <= b["x"] and b["x"] + b["w"] + b["d"] * layout["oblique"][0] <= layout["width"]
            assert 0 <= b["y"] - b["d"] * layout["oblique"][1] and b["y"] + b["h"] <= layout["height"]
    if name in ("lenet5", "resnet-small"):  # the PNG renderer on a chain and on a graph
        pytest.importorskip("matplotlib")
        path = save_drawing(layout, tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_vgg16_is_drawn_on_a_log_scale():
    layout = network_layout("vgg16")
    by = {r["name"]: r for r in layout["layers"]}
    assert 224 / 7 > LOG_RANGE and layout["scale"]["spatial"] == "log" and layout["scale"]["depth"] == "log"
    assert "log scale" in layout["scale"]["note"] and "7 to 224" in layout["scale"]["note"]
    # log: each halving of the side takes the same length off the box
    w = [by[n]["box"]["w"] for n in ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")]
    steps = [a - b for a, b in zip(w, w[1:])]
    assert max(steps) - min(steps) < 0.05 and min(steps) > 0
    assert "log scale" in render_svg(layout)


def test_residual_inputs_are_edges():
    layout = network_layout("resnet-small")
    assert ["stem_out", "s1_add"] not in layout["edges"]  # stem_out is written under stem's box
    assert ["stem", "s1_add"] in layout["edges"] and ["s1_add", "s2_proj"] in layout["edges"]


def test_sources_module_yaml_and_file(tmp_path):
    text = "name: tiny\ninput: [2, 8, 8]\nlayers:\n  - conv: {filters: 3, size: 3}\n  - dense: {units: 4}\n"
    from_text = network_layout(text)
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    assert network_layout(str(path)) == from_text == network_layout(path)
    module = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(108, 4))
    built = network_layout(module, (2, 8, 8))
    assert [r["weights"] for r in built["layers"]] == [0, 57, 0, 436]
    assert [r["label"] for r in built["layers"]] == ["2@8x8", "3@6x6", "108", "4"]
    with pytest.raises(ValueError, match="no architecture file 'nope'"):
        network_layout("nope")
    with pytest.raises(TypeError, match="received int"):
        network_layout(3)


def test_save_drawing_by_suffix(tmp_path, lenet):
    svg = save_drawing(lenet, tmp_path / "net.svg")
    ET.parse(svg)
    with pytest.raises(ValueError, match=r"expected a file name ending in \.svg or \.png, received '.*net\.pdf'"):
        save_drawing(lenet, tmp_path / "net.pdf")


def test_receptive_fields_through_upsampling():
    rows = {r["name"]: r for r in network_layout("conv-autoencoder-mnist")["layers"]}
    # 3, +1*1 = 4, +2*2 = 8, +1*2 = 10, +2*4 = 18 (jump 4); upsampling by 2 halves the jump: +2*2 = 22, +2*1 = 24
    assert [rows[n]["receptive_field"] for n in ("enc1", "pool1", "enc2", "pool2", "dec1", "up1", "dec2", "up2",
                                                 "out")] == [[3, 3], [4, 4], [8, 8], [10, 10], [18, 18], [18, 18],
                                                             [22, 22], [22, 22], [24, 24]]
    assert network_layout("imdb-bigru")["layers"][1]["receptive_field"] is None  # a sequence has no image field


def test_svg_and_png_draw_the_same_geometry(lenet):
    pytest.importorskip("matplotlib")
    from profondo.ui.drawing import png_figure

    root = ET.fromstring(render_svg(lenet))
    polygons = [[tuple(map(float, xy.split(","))) for xy in p.get("points").split()]
                for p in root.iter("{http://www.w3.org/2000/svg}polygon")]
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    ax = png_figure(lenet).axes[0]
    patches = [[tuple(v) for v in p.get_xy()[:-1]] for p in ax.patches]  # matplotlib closes each polygon
    assert len(patches) == len(polygons) > 3 * 8
    # the SVG groups them by layer, the PNG draws them in one list: the same shapes, in another order
    for svg, png in zip(sorted(polygons), sorted(patches)):
        assert np.allclose(svg, png, atol=0.06)  # the SVG writes one decimal
    assert sorted(t.get_text() for t in ax.texts) == sorted(texts)
