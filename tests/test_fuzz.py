"""Fuzzed files: mutations of genuine architecture files, checkpoints, PyTorch weight files and ONNX
models. The only exceptions a reader may raise are profondo's own (FileFormatError and its kin,
SpecError), every input finishes within a deadline, and memory stays bounded (the cap is set
to 64 MiB, and the growth of the process's peak resident memory is measured).

Seeded (derandomized) and small by default; ``PROFONDO_FUZZ=N`` runs N inputs per format:

    PROFONDO_FUZZ=10000 nice -n 10 python -m pytest -q -p no:cacheprovider tests/test_fuzz.py
"""

from __future__ import annotations

import io
import os
import random
import re
import zipfile
from datetime import timedelta

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.architecture import SpecError, load, zoo
from profondo.backend.limits import FileFormatError, set_max_file_bytes
from tests.memory import peak_growth

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXAMPLES = int(os.environ.get("PROFONDO_FUZZ", "0")) or 60
CAP = 64 * 2**20
PEAK = 512 * 2**20  # the peak resident memory may grow by this much over a whole run, at most
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=timedelta(seconds=5),
                suppress_health_check=list(HealthCheck), print_blob=True)
OWN = (FileFormatError, SpecError)  # FileFormatError covers ResourceLimitError and OnnxImportError
COUNTS: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module", autouse=True)
def small_cap():
    previous = set_max_file_bytes(CAP)
    with peak_growth() as grown:
        yield
    set_max_file_bytes(previous)
    for name, counts in COUNTS.items():
        print(f"\nfuzz {name}: {counts}")
    assert (grown() or 0) < PEAK, f"peak resident memory grew by {grown() / 2**20:.0f} MiB during the fuzz run"


# --- mutations --------------------------------------------------------------------------------------
BIG = [b"0", b"-1", b"4294967296", b"1099511627776", b"99999999999999999999", b"-9223372036854775808", b"nan"]
TOKENS = [b"&a ", b"*a", b"[", b"]", b"{", b"}", b"\xff", b"\x00", b"\n  ", b": ", b"- ", b"!!python/object ",
          b"\x80\x02", b"b", b"R", b"o", b"\x81", b"c", b"h\x00", b"\x8a\x08" + b"\xff" * 8, b"PK\x03\x04"]


def _mutate(data: bytearray, rng: random.Random, times: int) -> bytearray:
    for _ in range(times):
        kind = rng.randrange(7)
        i = rng.randrange(len(data) + 1)
        if kind == 0 and data:
            data[min(i, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[i:i + rng.randrange(1, 16)] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif kind == 2:
            del data[i:i + rng.randrange(1, 64)]
        elif kind == 3:
            j = rng.randrange(len(data) + 1)
            data[j:j] = data[i:i + rng.randrange(1, 64)] * rng.randrange(1, 8)
        elif kind == 4:
            data[i:i] = rng.choice(TOKENS)
        elif kind == 5:
            numbers = list(re.finditer(rb"\d+", bytes(data)))
            if numbers:
                m = rng.choice(numbers)
                data[m.start():m.end()] = rng.choice(BIG)
        else:
            del data[i:]
    return data


def _mutate_member(seed: bytes, rng: random.Random, times: int) -> bytes:
    """A zip archive (checkpoint, torch >= 1.6 file) with one member mutated and the archive rebuilt,
    CRCs right: what reaches the readers past zipfile's own checks."""
    with zipfile.ZipFile(io.BytesIO(seed)) as z:
        members = [(info.filename, z.read(info)) for info in z.infolist()]
    k = rng.randrange(len(members))
    members[k] = (members[k][0], bytes(_mutate(bytearray(members[k][1]), rng, times)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(name, data)
    return out.getvalue()


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A seed with a few mutations: byte flips, runs of bytes overwritten, cut or repeated, tokens
    inserted, numbers replaced by huge or negative ones, truncation; for a zip archive, most often
    inside one of its members."""
    seed = draw(st.sampled_from(seeds))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    times = draw(st.integers(1, 4))
    if seed[:4] == b"PK\x03\x04" and rng.random() < 0.8:
        return _mutate_member(seed, rng, times)
    return bytes(_mutate(bytearray(seed), rng, times))


def _count(name: str, outcome: str) -> None:
    counts = COUNTS.setdefault(name, {"inputs": 0})
    counts["inputs"] += 1
    counts[outcome] = counts.get(outcome, 0) + 1


def _check(name: str, read) -> None:
    try:
        read()
    except OWN as e:
        _count(name, type(e).__name__)
        assert len(str(e)) < 2000, f"an unbounded message: {str(e)[:200]}..."
    else:
        _count(name, "read")


# --- seeds ------------------------------------------------------------------------------------------
def _zoo_seeds() -> list[bytes]:
    return [zoo.path(n).read_bytes() for n in ("lenet5", "mlp-mnist", "resnet-small", "vgg16", "imdb-bigru")]


def _tiny_net():
    profondo.manual_seed(0)
    return profondo.architecture.loads("name: tiny\ninput: [1, 6, 6]\nlayers:\n"
                                       "  - conv: {filters: 2, size: 3, activation: relu}\n"
                                       "  - pool: {type: max, size: 2}\n  - dense: {units: 3}\n")


@pytest.fixture(scope="module")
def checkpoint_seeds(tmp_path_factory) -> list[bytes]:
    from profondo.train.state import save_training_state

    folder = tmp_path_factory.mktemp("ckpt")
    net = _tiny_net()
    save_training_state(folder / "a.ckpt", net, profondo.optim.Adam(net.parameters()), epoch=2,
                        metrics={"loss": 0.5}, extra={"history": {"loss": [1.0, 0.5]}})
    return [(folder / "a.ckpt").read_bytes()]


@pytest.fixture(scope="module")
def legacy_seeds() -> list[bytes]:
    from tests.io.test_torch_legacy import legacy_file

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(12).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    seeds = [legacy_file({"w": ("0", 0, (3, 4), (4, 1)), "w_t": ("0", 0, (4, 3), (1, 4)), "b": ("1", 0, (3,), (1,))},
                         {"0": a, "1": b})]
    try:
        import torch
    except ImportError:
        return seeds
    state = {"w": torch.arange(12, dtype=torch.float32).reshape(3, 4), "b": torch.ones(3, dtype=torch.float16),
             "n": torch.tensor(7)}
    for zip_layout in (False, True):
        buffer = io.BytesIO()
        torch.save(state, buffer, _use_new_zipfile_serialization=zip_layout)
        seeds.append(buffer.getvalue())
    return seeds


@pytest.fixture(scope="module")
def onnx_seeds() -> list[bytes]:
    pytest.importorskip("onnx")
    from profondo.io.onnx_export import export_onnx

    mlp = nn.Sequential(nn.Flatten(), nn.Linear(16, 5), nn.ReLU(), nn.Linear(5, 3))
    return [export_onnx(_tiny_net()).SerializeToString(), export_onnx(mlp, input_shape=(1, 4, 4)).SerializeToString()]


# --- the fuzz tests ---------------------------------------------------------------------------------
def test_fuzzed_architecture_files(tmp_path):
    path = tmp_path / "fuzz.yaml"

    @FUZZ
    @given(text=mutated(_zoo_seeds()))
    def run(text):
        path.write_bytes(text)
        _check("architecture", lambda: load(path))

    run()


def test_fuzzed_checkpoints(checkpoint_seeds, tmp_path):
    from profondo.io.model import load_model

    path = tmp_path / "fuzz.ckpt"

    @FUZZ
    @given(blob=mutated(checkpoint_seeds))
    def run(blob):
        path.write_bytes(blob)
        _check("checkpoint", lambda: load_model(path))

    run()


def test_fuzzed_legacy_weight_files(legacy_seeds, tmp_path):
    from profondo.io.torch_legacy import load

    path = tmp_path / "fuzz.pth"

    @FUZZ
    @given(blob=mutated(legacy_seeds))
    def run(blob):
        path.write_bytes(blob)
        _check("legacy weights", lambda: load(path))

    run()


def test_fuzzed_onnx_files(onnx_seeds):
    from profondo.io.onnx_import import import_onnx

    @FUZZ
    @given(blob=mutated(onnx_seeds))
    def run(blob):
        _check("onnx", lambda: import_onnx(blob))

    run()


def test_the_mutations_reach_the_readers_past_their_first_check():
    """A fuzz run that only ever hit "not a file of this kind" would prove little."""
    assert COUNTS, "run with the fuzz tests above"
    for name, counts in COUNTS.items():
        assert counts.get("read", 0) > 0 and counts["inputs"] - counts.get("read", 0) > 0, (name, counts)
