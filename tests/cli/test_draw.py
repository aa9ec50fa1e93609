"""``profondo draw``: an SVG or PNG by the suffix, the per-layer table, one message for a mistake."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from profondo.cli import main

pytest.importorskip("yaml")


def test_draw_writes_svg_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "lenet5.svg"
    assert main(["draw", "lenet5", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "conv1        Conv2d     6@28x28   5x5 /1  5x5                4,704      117,600      156  117,600" in text
    assert "total: 8,878 neurons, 422,824 connections, 61,706 weights, 416,520 MACs" in text
    names = [g.get("data-name") for g in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}g")
             if g.get("class") == "layer"]
    assert names[:3] == ["input", "conv1", "conv1_relu"]


def test_draw_a_file_at_another_input_shape_as_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    net = tmp_path / "net.yaml"
    net.write_text("name: t\ninput: [1, 8, 8]\nlayers:\n  - conv: {filters: 2, size: 3}\n  - dense: {units: 3}\n")
    out = tmp_path / "net.png"
    assert main(["draw", str(net), "-o", str(out), "--input-shape", "1,12,12", "--quiet"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["draw", "lenet5", "-o", "net.pdf"], "-o expected a file name ending in .svg or .png, received 'net.pdf'"),
    (["draw", "nonet", "-o", "n.svg"], "no architecture file 'nonet', and no zoo model of that name"),
    (["draw", "lenet5", "-o", "n.svg", "--input-shape", "a,b"], "--input-shape expected a shape such as 3,32,32"),
])
def test_draw_mistakes(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    assert message in capsys.readouterr().err
