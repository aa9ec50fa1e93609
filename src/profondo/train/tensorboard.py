"""TensorBoard event files written without TensorFlow: the :class:`TensorBoard` callback.

An event file (``events.out.tfevents.<time>.<host>.<pid>.<n>``) is a sequence of TFRecords, each
one serialized ``Event`` protocol buffer::

    uint64 length | uint32 masked CRC-32C of length | data | uint32 masked CRC-32C of data

(little-endian; the mask is ``((crc >> 15) | (crc << 17)) + 0xa282ead8``). The first event holds
``file_version: "brain.Event:2"``; the others a ``Summary`` of values: a scalar
(``simple_value``), a histogram (``HistogramProto``) or an image (PNG bytes). The few protocol
buffer fields this needs are encoded by hand below (field numbers from TensorFlow's
``event.proto`` and ``summary.proto``), and :func:`read_events` decodes them again, checking
every CRC, so that a file can be read back without TensorBoard::

    trainer = Trainer(model, optimizer, callbacks=[GradientMonitor(), TensorBoard("runs/tb")])
    trainer.fit(loader, epochs=5)          # then: tensorboard --logdir runs/tb
"""

from __future__ import annotations

import math
import os
import socket
import struct
import time
import zlib
from pathlib import Path

import numpy as np

from .callbacks import Callback
from .monitor import GradientMonitor, _host, _layers

__all__ = ["EventWriter", "TensorBoard", "crc32c", "filters_image", "masked_crc32c", "png_bytes", "read_events"]


# --- CRC-32C (Castagnoli), as TFRecord frames use it ----------------------------------------------------

def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # the reflected Castagnoli polynomial
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data``. ``crc32c(b"123456789") == 0xE3069283`` (the check value of the standard)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The CRC a TFRecord stores: rotated right by 15 bits plus a constant, so that a CRC of data
    that itself holds CRCs does not degenerate."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _frame(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


# --- protocol buffer encoding (the fields events use) --------------------------------------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _bytes_field(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _double(field: int, value: float) -> bytes:
    return _key(field, 1) + struct.pack("<d", value)


def _float(field: int, value: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", value)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(int(value))


def _event(wall_time: float, step: int, *, file_version: str | None = None, values: list[bytes] = ()) -> bytes:
    """An ``Event``: wall_time (1, double), step (2, int64), file_version (3) or summary (5)."""
    out = _double(1, wall_time) + _int(2, step)
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if values:
        out += _bytes_field(5, b"".join(_bytes_field(1, v) for v in values))  # Summary.value (1), repeated
    return out


def _scalar_value(tag: str, value: float) -> bytes:
    """``Summary.Value``: tag (1), simple_value (2, float)."""
    return _bytes_field(1, tag.encode()) + _float(2, value)


def _histogram_value(tag: str, values: np.ndarray, bins: int) -> bytes:
    """``Summary.Value``: tag (1), histo (5) = HistogramProto: min (1), max (2), num (3), sum (4),
    sum_squares (5), bucket_limit (6, packed doubles: each bucket's upper edge), bucket (7, counts)."""
    values = np.asarray(values, np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        values = np.zeros(1)
    counts, edges = np.histogram(values, bins=bins)
    limits = edges[1:].copy()
    limits[-1] = max(limits[-1], values.max())
    histo = (_double(1, values.min()) + _double(2, values.max()) + _double(3, float(values.size))
             + _double(4, float(values.sum())) + _double(5, float((values * values).sum()))
             + _bytes_field(6, struct.pack(f"<{len(limits)}d", *limits))
             + _bytes_field(7, struct.pack(f"<{len(counts)}d", *counts.astype(np.float64))))
    return _bytes_field(1, tag.encode()) + _bytes_field(5, histo)


def _image_value(tag: str, image: np.ndarray) -> bytes:
    """``Summary.Value``: tag (1), image (4) = Image: height (1), width (2), colorspace (3: 1 gray,
    3 RGB), encoded_image_string (4, PNG)."""
    h, w = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    img = _int(1, h) + _int(2, w) + _int(3, channels) + _bytes_field(4, png_bytes(image))
    return _bytes_field(1, tag.encode()) + _bytes_field(4, img)


def png_bytes(image: np.ndarray) -> bytes:
    """A PNG file of a uint8 image, (H, W) gray or (H, W, 3) RGB (zlib alone, no imaging library)."""
    image = np.ascontiguousarray(image, np.uint8)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"png_bytes: expected an (H, W) or (H, W, 3) image, received shape {image.shape}")
    h, w = image.shape[:2]
    colour = 0 if image.ndim == 2 else 2
    rows = image.reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


# --- reading back -------------------------------------------------------------------------------------

def _fields(data: bytes):
    """(field number, wire type, value) of a protocol buffer message."""
    i, n = 0, len(data)

    def varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            if i >= n:
                raise ValueError("a varint runs past the end of the message")
            byte = data[i]
            i += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while i < n:
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            yield field, wire, varint()
        elif wire == 1:
            yield field, wire, data[i:i + 8]
            i += 8
        elif wire == 2:
            size = varint()
            yield field, wire, data[i:i + size]
            i += size
        elif wire == 5:
            yield field, wire, data[i:i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported protocol buffer wire type {wire}")
        if i > n:
            raise ValueError("a field runs past the end of the message")


def _decode_value(data: bytes) -> dict:
    value: dict = {}
    for field, _, raw in _fields(data):
        if field == 1:
            value["tag"] = raw.decode()
        elif field == 2:
            value["simple_value"] = struct.unpack("<f", raw)[0]
        elif field == 4:
            img = {}
            for f, _, r in _fields(raw):
                img[{1: "height", 2: "width", 3: "colorspace", 4: "encoded"}.get(f, f)] = r
            value["image"] = img
        elif field == 5:
            histo: dict = {}
            for f, _, r in _fields(raw):
                name = {1: "min", 2: "max", 3: "num", 4: "sum", 5: "sum_squares", 6: "bucket_limit", 7: "bucket"}[f]
                histo[name] = list(struct.unpack(f"<{len(r) // 8}d", r)) if f >= 6 else struct.unpack("<d", r)[0]
            value["histo"] = histo
    return value


def read_events(path: str | os.PathLike) -> list[dict]:
    """Every event of an event file, checking each record's framing and both CRCs:
    ``{"wall_time", "step", "file_version"}`` or ``{"wall_time", "step", "values": [{"tag",
    "simple_value" | "histo" | "image"}]}``. A damaged or truncated record is a ValueError naming
    its offset."""
    data = Path(path).read_bytes()
    events, offset = [], 0
    while offset < len(data):
        if offset + 12 > len(data):
            raise ValueError(f"{path}: a record header at byte {offset} is cut short")
        length = struct.unpack_from("<Q", data, offset)[0]
        if struct.unpack_from("<I", data, offset + 8)[0] != masked_crc32c(data[offset:offset + 8]):
            raise ValueError(f"{path}: the length CRC of the record at byte {offset} does not match")
        body = data[offset + 12:offset + 12 + length]
        if len(body) != length or offset + 16 + length > len(data):
            raise ValueError(f"{path}: the record at byte {offset} is cut short")
        if struct.unpack_from("<I", data, offset + 12 + length)[0] != masked_crc32c(body):
            raise ValueError(f"{path}: the data CRC of the record at byte {offset} does not match")
        event: dict = {}
        for field, _, raw in _fields(body):
            if field == 1:
                event["wall_time"] = struct.unpack("<d", raw)[0]
            elif field == 2:
                event["step"] = raw
            elif field == 3:
                event["file_version"] = raw.decode()
            elif field == 5:
                event["values"] = [_decode_value(v) for f, _, v in _fields(raw) if f == 1]
        events.append(event)
        offset += 16 + length
    return events


# --- writing ------------------------------------------------------------------------------------------

class EventWriter:
    """Append events to a new event file in ``log_dir``: ``add_scalar``, ``add_histogram``,
    ``add_image``, then ``flush`` (each call writes whole records; ``flush`` makes them visible)."""

    _count = 0

    def __init__(self, log_dir: str | os.PathLike) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        EventWriter._count += 1
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{EventWriter._count}"
        self.path = self.log_dir / name
        self._file = open(self.path, "ab")
        self._write(_event(time.time(), 0, file_version="brain.Event:2"))

    def _write(self, event: bytes) -> None:
        self._file.write(_frame(event))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self._write(_event(time.time(), step, values=[_scalar_value(tag, float(value))]))

    def add_histogram(self, tag: str, values: np.ndarray, step: int, bins: int = 30) -> None:
        self._write(_event(time.time(), step, values=[_histogram_value(tag, values, bins)]))

    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        """``image``: uint8 (H, W) gray or (H, W, 3) RGB."""
        self._write(_event(time.time(), step, values=[_image_value(tag, image)]))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def filters_image(weight: np.ndarray, input_shape: tuple[int, ...] | None = None, limit: int = 64,
                  min_size: int = 24) -> np.ndarray | None:
    """The first layer's filters as one uint8 tile: a conv weight (out, in, kh, kw) shows each
    filter as an RGB patch (3 input channels) or gray (the mean over other channel counts); a dense
    weight (out, features) whose features are an image ``input_shape`` (C, H, W) shows each row as
    that image. Each filter is scaled to [0, 255] on its own, enlarged to ``min_size`` pixels at
    least, at most ``limit`` of them, on a grid with 1-pixel gaps. None when the weight is no image."""
    w = np.asarray(weight, np.float64)
    if w.ndim == 2 and input_shape is not None and len(input_shape) == 3 and math.prod(input_shape) == w.shape[1]:
        w = w.reshape(w.shape[0], *input_shape)
    if w.ndim != 4:
        return None
    w = w[:limit]
    w = w.transpose(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(axis=1)
    low = w.reshape(len(w), -1).min(axis=1).reshape(-1, *[1] * (w.ndim - 1))
    high = w.reshape(len(w), -1).max(axis=1).reshape(-1, *[1] * (w.ndim - 1))
    w = (w - low) / np.where(high > low, high - low, 1.0) * 255
    scale = max(1, math.ceil(min_size / max(w.shape[1], w.shape[2])))
    w = w.repeat(scale, axis=1).repeat(scale, axis=2)
    n, fh, fw = w.shape[:3]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    tile = np.zeros((rows * (fh + 1) - 1, cols * (fw + 1) - 1, *w.shape[3:]), np.float64)
    for i in range(n):
        r, c = divmod(i, cols)
        tile[r * (fh + 1):r * (fh + 1) + fh, c * (fw + 1):c * (fw + 1) + fw] = w[i]
    return tile.round().astype(np.uint8)


class TensorBoard(Callback):
    """Write a run as TensorBoard event files into ``log_dir``.

    - scalars: every value of the epoch logs (loss, accuracy, val_*, lr, time) at step = the
      epochs completed; with a :class:`~profondo.train.monitor.GradientMonitor` among the
      trainer's callbacks, also each layer's gradient norm (``gradient_norm/<layer>``) at the
      optimizer step it was recorded;
    - histograms, every ``histogram_every`` epochs: each layer's parameters (``weights/<layer>``)
      and, with a GradientMonitor, the gradients of the last step it recorded in the epoch
      (``gradients/<layer>``);
    - images (``images=True``): the first layer's filters as one tile (``filters/<layer>``) after
      each histogram epoch, and before training.

    Each ``fit`` writes a new file (TensorBoard reads every file of the folder); a resumed run
    continues the steps where the checkpoint left them.
    """

    def __init__(self, log_dir: str | os.PathLike, histogram_every: int = 1, images: bool = True,
                 bins: int = 30) -> None:
        if not isinstance(histogram_every, int) or isinstance(histogram_every, bool) or histogram_every < 0:
            raise ValueError(f"TensorBoard: histogram_every expected a number of epochs >= 0 (0: none), "
                             f"received {histogram_every!r}")
        self.log_dir, self.histogram_every, self.images, self.bins = Path(log_dir), histogram_every, images, bins
        self.writer: EventWriter | None = None
        self._monitor: GradientMonitor | None = None
        self._written: int | None = 0  # records of the monitor already written
        self._gradients: dict[str, np.ndarray] = {}

    def on_train_begin(self) -> None:
        self.writer = EventWriter(self.log_dir)
        monitors = [cb for cb in self.trainer.callbacks if isinstance(cb, GradientMonitor)]
        self._monitor = monitors[0] if monitors else None
        self._written = None  # counted when the first epoch begins: a resumed monitor gets its records after this
        if self._monitor is not None and self.histogram_every and self._catch not in self.trainer.gradient_hooks:
            self.trainer.gradient_hooks.append(self._catch)
        if self.images and self.trainer.epoch == 0:
            self._filters(0)
        self.writer.flush()

    def on_epoch_begin(self, epoch: int) -> None:
        if self._written is None:
            self._written = len(self._monitor.records) if self._monitor is not None else 0

    def _catch(self, parameters) -> None:
        """At the steps the monitor records, in epochs that write histograms: keep the gradients."""
        step, epoch = self.trainer.step + 1, self.trainer.epoch
        if step % self._monitor.every or (epoch + 1) % self.histogram_every:
            return
        self._gradients = {}
        for layer, params in _layers(self.trainer.model).items():
            grads = [_host(p.grad.data).ravel() for p in params if p.grad is not None]
            if grads:
                self._gradients[layer] = np.concatenate(grads)

    def _filters(self, step: int) -> None:
        for name, p in self.trainer.model.named_parameters():
            if p.data.ndim >= 2:
                spec = getattr(self.trainer.model, "spec", None)
                tile = filters_image(_host(p.data), spec.input if spec is not None else None)
                if tile is not None:
                    self.writer.add_image(f"filters/{name.rpartition('.')[0] or name}", tile, step)
                return

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        w, done = self.writer, epoch + 1
        for key, value in logs.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                w.add_scalar(key, value, done)
        if self._monitor is not None:
            for record in self._monitor.records[self._written:]:
                for layer, norm in record["norms"].items():
                    w.add_scalar(f"gradient_norm/{layer}", norm, record["step"])
            self._written = len(self._monitor.records)
        if self.histogram_every and done % self.histogram_every == 0:
            for layer, params in _layers(self.trainer.model).items():
                w.add_histogram(f"weights/{layer}", np.concatenate([_host(p.data).ravel() for p in params]), done,
                                self.bins)
            for layer, grads in self._gradients.items():
                w.add_histogram(f"gradients/{layer}", grads, done, self.bins)
            self._gradients = {}
            if self.images:
                self._filters(done)
        w.flush()

    def on_train_end(self, logs: dict) -> None:
        if self._catch in self.trainer.gradient_hooks:
            self.trainer.gradient_hooks.remove(self._catch)
        if self.writer is not None:
            self.writer.close()
