"""TensorBoard event files: CRC-32C and TFRecord framing checked by our own reader (so a file that
TensorBoard would refuse cannot pass), then the same file read by TensorBoard's EventAccumulator."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.data import ArrayDataset, DataLoader
from profondo.optim import SGD
from profondo.train import ModelCheckpoint, Trainer
from profondo.train.monitor import GradientMonitor
from profondo.train.tensorboard import (
    EventWriter,
    TensorBoard,
    crc32c,
    filters_image,
    masked_crc32c,
    png_bytes,
    read_events,
)


def test_crc32c_check_values():
    assert crc32c(b"123456789") == 0xE3069283  # the standard's check value (RFC 3720, B.4)
    assert crc32c(b"") == 0 and crc32c(bytes(32)) == 0x8A9136AA and crc32c(b"\xff" * 32) == 0x62A8AB43
    crc = crc32c(b"abc")
    assert masked_crc32c(b"abc") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_records_are_framed_and_read_back(tmp_path):
    w = EventWriter(tmp_path)
    w.add_scalar("loss", 0.25, 3)
    w.add_histogram("weights/fc", np.arange(10.0), 3, bins=5)
    w.add_image("filters/conv1", np.arange(12, dtype=np.uint8).reshape(3, 4), 3)
    w.close()
    data = w.path.read_bytes()
    # walk the frames by hand: length, its masked CRC, the data, its masked CRC
    offset, frames = 0, []
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        assert struct.unpack_from("<I", data, offset + 8)[0] == masked_crc32c(data[offset:offset + 8])
        body = data[offset + 12:offset + 12 + length]
        assert struct.unpack_from("<I", data, offset + 12 + length)[0] == masked_crc32c(body)
        frames.append(body)
        offset += 16 + length
    assert offset == len(data) and len(frames) == 4
    events = read_events(w.path)
    assert events[0]["file_version"] == "brain.Event:2" and events[0]["step"] == 0
    (loss,) = events[1]["values"]
    assert events[1]["step"] == 3 and loss == {"tag": "loss", "simple_value": 0.25}
    histo = events[2]["values"][0]["histo"]
    assert (histo["min"], histo["max"], histo["num"], histo["sum"], histo["sum_squares"]) == (0, 9, 10, 45, 285)
    assert histo["bucket"] == [2, 2, 2, 2, 2] and histo["bucket_limit"] == pytest.approx([1.8, 3.6, 5.4, 7.2, 9])
    image = events[3]["values"][0]["image"]
    assert (image["height"], image["width"], image["colorspace"]) == (3, 4, 1)
    assert image["encoded"] == png_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    # one flipped bit anywhere in a record is caught
    damaged = bytearray(data)
    damaged[len(frames[0]) + 16 + 14] ^= 1
    (tmp_path / "bad").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="data CRC of the record at byte"):
        read_events(tmp_path / "bad")
    (tmp_path / "cut").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="cut short"):
        read_events(tmp_path / "cut")


def test_png_bytes_decode():
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    png = png_bytes(image)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (length,) = struct.unpack(">I", png[8:12])
    assert png[12:16] == b"IHDR" and struct.unpack(">II", png[16:24]) == (7, 5)
    idat = png.index(b"IDAT")
    (size,) = struct.unpack(">I", png[idat - 4:idat])
    rows = np.frombuffer(zlib.decompress(png[idat + 4:idat + 4 + size]), np.uint8).reshape(5, 1 + 7 * 3)
    assert (rows[:, 0] == 0).all() and (rows[:, 1:].reshape(5, 7, 3) == image).all()
    pytest.importorskip("PIL")
    import io

    from PIL import Image

    assert (np.asarray(Image.open(io.BytesIO(png))) == image).all()


def test_filters_image_tiles_the_first_layer():
    w = np.zeros((6, 1, 5, 5), np.float32)
    w[:, 0, 2, 2] = 1  # a bright centre on each filter
    tile = filters_image(w)
    # 5x5 enlarged 5 times (at least 24 px), 3 columns and 2 rows with 1-pixel gaps
    assert tile.shape == (2 * 25 + 1, 3 * 25 + 2) and tile.dtype == np.uint8
    assert tile[12, 12] == 255 and tile[0, 0] == 0
    rgb = filters_image(np.random.default_rng(0).standard_normal((4, 3, 3, 3)))
    assert rgb.shape[2] == 3 and rgb.max() == 255
    dense = filters_image(np.ones((10, 64)), (1, 8, 8))
    assert dense.shape == (3 * 24 + 2, 4 * 24 + 3)
    assert filters_image(np.ones((10, 7))) is None


def _fit(tmp_path, epochs: int = 2, resume: bool = False) -> tuple[TensorBoard, GradientMonitor]:
    profondo.manual_seed(0)
    model = nn.Sequential({"conv1": nn.Conv2d(1, 4, 3), "relu": nn.ReLU(), "flat": nn.Flatten(),
                           "fc": nn.Linear(4 * 6 * 6, 3)})
    rng = np.random.default_rng(0)
    loader = DataLoader(ArrayDataset(rng.standard_normal((24, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 24)), 8)
    monitor, board = GradientMonitor(every=2), TensorBoard(tmp_path / "tb")
    trainer = Trainer(model, SGD(model.parameters(), 0.1), progress=False,
                      callbacks=[monitor, board, ModelCheckpoint(tmp_path / "run", monitor="loss")])
    if resume:
        trainer.resume(tmp_path / "run" / "last.ckpt")
    trainer.fit(loader, epochs, val_loader=loader)
    assert board._catch not in trainer.gradient_hooks
    return board, monitor


def test_the_callback_writes_scalars_histograms_and_filters(tmp_path):
    board, monitor = _fit(tmp_path)
    events = read_events(board.writer.path)
    values = [(e["step"], v) for e in events for v in e.get("values", [])]
    scalars = {(v["tag"], step): v["simple_value"] for step, v in values if "simple_value" in v}
    history = board.trainer.history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [scalars[(key, n)] for n in (1, 2)] == pytest.approx(history[key], rel=1e-6)
    for record in monitor.records:  # steps 2, 4, 6
        assert scalars[("gradient_norm/fc", record["step"])] == pytest.approx(record["norms"]["fc"], rel=1e-6)
    histos = {(v["tag"], step): v["histo"] for step, v in values if "histo" in v}
    assert {tag for tag, _ in histos} == {"weights/conv1", "weights/fc", "gradients/conv1", "gradients/fc"}
    assert histos[("weights/fc", 2)]["num"] == 4 * 6 * 6 * 3 + 3
    assert sum(histos[("gradients/conv1", 1)]["bucket"]) == 4 * 9 + 4
    images = [(step, v["tag"]) for step, v in values if "image" in v]
    assert images == [(0, "filters/conv1"), (1, "filters/conv1"), (2, "filters/conv1")]


def test_a_resumed_run_writes_only_its_own_steps(tmp_path):
    first, _ = _fit(tmp_path, epochs=1)
    second, monitor = _fit(tmp_path, epochs=2, resume=True)
    assert first.writer.path != second.writer.path and [r["step"] for r in monitor.records] == [2, 4, 6]

    def steps(board, tag):
        return [e["step"] for e in read_events(board.writer.path) for v in e.get("values", []) if v["tag"] == tag]

    assert steps(first, "gradient_norm/fc") == [2] and steps(second, "gradient_norm/fc") == [4, 6]
    assert steps(first, "loss") == [1] and steps(second, "loss") == [2]
    assert steps(first, "filters/conv1") == [0, 1] and steps(second, "filters/conv1") == [2]


def test_tensorboard_reads_the_file(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board, _ = _fit(tmp_path)
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"loss", "accuracy", "val_loss", "gradient_norm/conv1"} <= set(tags["scalars"])
    assert {"weights/conv1", "gradients/fc"} <= set(tags["histograms"]) and tags["images"] == ["filters/conv1"]
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == [1, 2]
    assert [e.value for e in loss] == pytest.approx(board.trainer.history["loss"], rel=1e-6)
    histo = acc.Histograms("weights/fc")[-1].histogram_value
    assert histo.num == 4 * 6 * 6 * 3 + 3 and len(histo.bucket) == 30
    image = acc.Images("filters/conv1")[0]
    # four 3x3 filters enlarged 8 times (24 px), two columns with a 1-pixel gap
    assert image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n" and image.width == image.height == 2 * 24 + 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="histogram_every expected a number of epochs >= 0"):
        TensorBoard("x", histogram_every=-1)
    with pytest.raises(ValueError, match=r"expected an \(H, W\) or \(H, W, 3\) image"):
        png_bytes(np.zeros((2, 2, 4), np.uint8))
