"""The zoo: every reference architecture loads, round-trips, and runs with the shapes analysis predicts."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import profondo
from profondo import analysis, architecture
from profondo.architecture import zoo

yaml = pytest.importorskip("yaml")

NAMES = ["alexnet", "conv-autoencoder-mnist", "convnetjs-cifar10", "fashion-mnist-cnn", "lenet5", "mlp-mnist", "resnet-small", "vgg16"]
LARGE = {"alexnet", "vgg16"}  # a forward pass at 224x224 would be slow on a CPU: shapes only


def slim(d: dict) -> dict:
    """The same architecture 16 times narrower (the last layer kept): fast to build, same arithmetic."""
    d = copy.deepcopy(d)
    for entry in d["layers"][:-1]:
        for kind, field in (("conv", "filters"), ("dense", "units")):
            if isinstance(entry, dict) and kind in entry:
                entry[kind][field] //= 16
    return d


@pytest.fixture(scope="module")
def models():
    """Every zoo network, alexnet and vgg16 slimmed (tests/test_analysis.py checks them full size)."""
    profondo.manual_seed(0)
    files = {name: yaml.safe_load(zoo.path(name).read_text()) for name in NAMES}
    return {name: architecture.from_dict(slim(d) if name in LARGE else d) for name, d in files.items()}


def signature(m):
    return ([(n, type(c).__name__) for n, c in m.named_modules()]
            + [(n, tuple(v.shape)) for n, v in m.state_dict().items()])


def test_zoo_load_builds_the_file():
    m = zoo.load("lenet5")
    assert m.spec == architecture.Spec("lenet5", (1, 28, 28), "softmax") and m.conv1.out_channels == 6


def test_names_and_paths():
    assert zoo.names() == sorted([*NAMES, "imdb-bigru"])  # the token model is tested in test_spec_recurrent
    assert zoo.path("lenet5").name == "lenet5.yaml"
    with pytest.raises(KeyError, match="no architecture 'resnet50' in the zoo; available: alexnet,"):
        zoo.path("resnet50")


def test_convnetjs_file_is_the_one_in_the_design_notes():
    assert yaml.safe_load(zoo.path("convnetjs-cifar10").read_text()) == {
        "name": "convnetjs-cifar10", "input": [3, 32, 32], "layers": [
            {"conv": {"filters": 16, "size": 5, "stride": 1, "pad": 2, "activation": "relu"}},
            {"pool": {"type": "max", "size": 2, "stride": 2}},
            {"conv": {"filters": 20, "size": 5, "stride": 1, "pad": 2, "activation": "relu"}},
            {"pool": {"type": "max", "size": 2, "stride": 2}},
            {"conv": {"filters": 20, "size": 5, "stride": 1, "pad": 2, "activation": "relu"}},
            {"pool": {"type": "max", "size": 2, "stride": 2}},
            {"dense": {"units": 10, "activation": "softmax"}}]}


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_through_dict_and_yaml(models, name):
    m = models[name]
    d = architecture.to_dict(m)
    assert d["name"] == name and tuple(d["input"]) == m.spec.input
    again = architecture.from_dict(d)
    assert signature(again) == signature(m)
    assert again.spec == m.spec
    assert architecture.to_dict(again) == d
    from_text = architecture.loads(architecture.dumps(m))
    assert signature(from_text) == signature(m) and architecture.to_dict(from_text) == d
    again.load_state_dict(m.state_dict())  # a checkpoint of one loads into the other


@pytest.mark.parametrize("name", NAMES)
def test_forward_shape_is_the_one_analysis_predicts(models, name):
    m = models[name]
    predicted = analysis.analyze(m).output_shape
    classes = (1000,) if name in LARGE else (10,)
    assert predicted == m.output_shape(m.spec.input) == (m.spec.input if name == "conv-autoencoder-mnist" else classes)
    if name in LARGE:
        return
    m.eval()
    x = profondo.tensor(np.random.default_rng(0).standard_normal((2, *m.spec.input)).astype(np.float32))
    y = m(x)
    assert y.shape == (2, *predicted) and y.dtype == np.float32
    assert np.isfinite(y.numpy()).all()


def test_grouped_convolutions_and_floor_rounding_are_kept(models):
    alex = models["alexnet"]
    assert [getattr(alex, n).groups for n in ("conv1", "conv2", "conv3", "conv4", "conv5")] == [1, 2, 1, 2, 2]
    assert alex.fc6.in_features == 6 * 6 * (256 // 16)  # 227 -> 55 -> 27 -> 27 -> 13 -> 13 -> 6
    floored = [e["name"] for e in architecture.to_dict(models["resnet-small"])["nodes"]
               if e.get("conv", {}).get("round") == "floor"]
    assert floored == ["s2_conv1", "s2_proj", "s3_conv1", "s3_proj"]
    assert models["resnet-small"].shapes((3, 32, 32))["s3_add"] == (64, 8, 8)
