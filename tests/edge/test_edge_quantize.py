"""Post-training int8 quantization: per-channel weight codes, calibrated activations, exact
integer arithmetic, accuracy kept, files four times smaller."""

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.architecture import zoo
from profondo.edge import EdgeModel, PlanError, freeze, quantize
from profondo.edge.quantize import activation_params, quantize_weights
from profondo.functional import cross_entropy


def test_weights_get_one_symmetric_scale_per_output_channel():
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((6, 3, 5, 5)) * np.arange(1, 7)[:, None, None, None]).astype(np.float32)
    codes, scale = quantize_weights(w)
    assert codes.dtype == np.int8 and scale.shape == (6,) and scale.dtype == np.float32
    assert np.all(np.abs(codes.reshape(6, -1)).max(axis=1) == 127)  # each channel uses its full range
    np.testing.assert_allclose(scale, np.abs(w.reshape(6, -1)).max(axis=1) / 127, rtol=1e-6)
    error = np.abs(codes * scale[:, None, None, None] - w)
    assert np.all(error <= scale[:, None, None, None] / 2 + 1e-7)
    codes, scale = quantize_weights(np.zeros((2, 3), np.float32))  # an all-zero channel stays zero
    assert not codes.any() and np.all(scale == 1)


def test_activation_range_always_holds_zero_exactly():
    p = activation_params(0.0, 6.0)
    assert p["zero"] == 0 and p["scale"] == pytest.approx(6 / 255)
    p = activation_params(-1.0, 3.0)
    assert p["zero"] == 64 and p["scale"] == pytest.approx(4 / 255)
    p = activation_params(0.5, 2.0)  # widened down to 0
    assert p["zero"] == 0 and p["scale"] == pytest.approx(2 / 255)


def test_int8_linear_equals_integer_arithmetic():
    profondo.manual_seed(0)
    net = nn.Sequential(nn.Linear(40, 16), nn.ReLU(), nn.Linear(16, 5))
    rng = np.random.default_rng(1)
    calibration = rng.standard_normal((200, 40)).astype(np.float32)
    int8 = quantize(freeze(net, (40,)), calibration)
    first = int8.plan["steps"][0]
    codes, w_scale = int8.arrays[first["params"]["weight"]], int8.arrays[first["params"]["weight_scale"]]
    assert codes.dtype == np.int8 and first["act"] == {"kind": "relu"}
    q = first["quant"]
    assert q["scale"] == pytest.approx((calibration.max() - calibration.min()) / 255)
    x = rng.standard_normal((7, 40)).astype(np.float32)
    x_codes = np.clip(np.rint(x.astype(np.float64) / q["scale"]), -q["zero"], 255 - q["zero"]).astype(np.int64)
    accumulated = x_codes @ codes.astype(np.int64).T  # what an integer kernel computes
    expected = np.maximum(accumulated * (q["scale"] * w_scale.astype(np.float64)) + net[0].bias.numpy(), 0)
    hidden = int8.trace(x)[first["output"]]
    np.testing.assert_allclose(hidden, expected, rtol=1e-5, atol=1e-6)


def test_int8_conv_network_stays_close_to_float(tmp_path):
    profondo.manual_seed(2)
    model = zoo.load("resnet-small")  # grouped/strided convs, 1x1 projections, residual adds
    edge = freeze(model)
    x = np.random.default_rng(3).standard_normal((8, 3, 32, 32)).astype(np.float32)
    int8 = quantize(edge, x)
    assert int8.precision == "int8"
    reference, got = edge(x), int8(x)
    assert np.abs(got - reference).max() < 0.05 * np.abs(reference).max()
    int8.save(tmp_path / "r.edge")
    np.testing.assert_array_equal(EdgeModel.load(tmp_path / "r.edge")(x), got)


def test_int8_file_is_about_four_times_smaller(tmp_path):
    edge = freeze(zoo.load("lenet5"))
    float_size = edge.save(tmp_path / "f32.edge")
    int8 = quantize(edge, np.random.default_rng(0).random((64, 1, 28, 28), np.float32))
    int8_size = int8.save(tmp_path / "int8.edge")
    assert 3.3 < float_size / int8_size < 4.0
    with np.load(tmp_path / "int8.edge") as npz:
        assert npz["conv1.weight"].dtype == np.int8 and npz["fc1.weight"].dtype == np.int8


def test_accuracy_of_a_trained_classifier_survives_quantization():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((4, 16)) * 2
    y = rng.integers(0, 4, 1200)
    x = (centers[y] + rng.standard_normal((1200, 16)) * 1.2).astype(np.float32)
    profondo.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 4))
    optimizer = profondo.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(3):
        for i in range(0, 800, 50):
            optimizer.zero_grad()
            cross_entropy(net(profondo.tensor(x[i:i + 50])), y[i:i + 50]).backward()
            optimizer.step()
    edge = freeze(net.eval(), (16,))
    int8 = quantize(edge, x[:400])
    float_accuracy = (edge(x[800:]).argmax(1) == y[800:]).mean()
    int8_accuracy = (int8(x[800:]).argmax(1) == y[800:]).mean()
    assert float_accuracy > 0.8
    assert abs(float_accuracy - int8_accuracy) <= 0.01


def test_quantize_checks_its_inputs():
    edge = freeze(zoo.load("mlp-mnist"))
    with pytest.raises(PlanError, match=r"calibration inputs of shape \(N, 1, 28, 28\)"):
        quantize(edge, np.zeros((4, 784), np.float32))
    int8 = quantize(edge, np.zeros((4, 1, 28, 28), np.float32))
    with pytest.raises(PlanError, match="expected a float32 plan, received an? int8 one"):
        quantize(int8, np.zeros((4, 1, 28, 28), np.float32))
