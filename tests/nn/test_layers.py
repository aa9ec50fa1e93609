"""Contract shared by every layer: config round trip, output_shape = forward's shape, repr."""

import json
from collections import OrderedDict

import numpy as np
import pytest

import profondo
from profondo import nn

# (layer, per-sample input shape, input dtype)
CASES = [
    (lambda: nn.Linear(5, 3), (5,), "float32"),
    (lambda: nn.Linear(5, 3, bias=False, init="glorot_uniform"), (4, 5), "float32"),
    (lambda: nn.Conv2d(3, 4, 3), (3, 9, 8), "float32"),
    (lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=2, groups=2, bias=False,
                       init="he_normal"), (4, 10, 9), "float32"),
    (lambda: nn.MaxPool2d(2), (2, 8, 7), "float32"),
    (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 9, 8), "float32"),
    (lambda: nn.AvgPool2d((2, 3), stride=(1, 2)), (2, 6, 7), "float32"),
    (lambda: nn.GlobalAvgPool2d(), (3, 5, 4), "float32"),
    (lambda: nn.Flatten(), (2, 3, 4), "float32"),
    (lambda: nn.Flatten(2, 3), (2, 3, 4, 5), "float32"),
    (lambda: nn.ReLU(), (3, 4), "float32"),
    (lambda: nn.ReLU6(), (7,), "float32"),
    (lambda: nn.LeakyReLU(0.2), (2, 3), "float32"),
    (lambda: nn.Sigmoid(), (4,), "float32"),
    (lambda: nn.Tanh(), (4,), "float32"),
    (lambda: nn.Softmax(dim=1), (5,), "float32"),
    (lambda: nn.LogSoftmax(), (2, 5), "float32"),
    (lambda: nn.Identity(), (3,), "float32"),
    (lambda: nn.Dropout(0.3), (6,), "float32"),
    (lambda: nn.BatchNorm1d(4), (4,), "float32"),
    (lambda: nn.BatchNorm1d(4, momentum=None, affine=False), (4, 6), "float32"),
    (lambda: nn.BatchNorm2d(3, eps=1e-3, track_running_stats=False), (3, 4, 4), "float32"),
    (lambda: nn.Embedding(10, 4, padding_idx=-1), (6,), "int64"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)), (1, 6, 6),
     "float32"),
    (lambda: nn.Sequential(OrderedDict(fc=nn.Linear(3, 2), act=nn.Tanh())), (3,), "float32"),
]
IDS = [f"{i}-{type(make()).__name__}" for i, (make, _, _) in enumerate(CASES)]


def _input(shape, dtype, batch=2):
    if dtype == "int64":
        return profondo.tensor(np.arange(batch * int(np.prod(shape))).reshape(batch, *shape) % 10)
    return profondo.randn(batch, *shape)


@pytest.mark.parametrize("make,shape,dtype", CASES, ids=IDS)
def test_output_shape_matches_forward(make, shape, dtype):
    profondo.manual_seed(0)
    layer = make()
    y = layer(_input(shape, dtype))
    assert layer.output_shape(shape) == y.shape[1:]
    assert layer.output_shape(list(shape)) == y.shape[1:]


@pytest.mark.parametrize("make,shape,dtype", CASES, ids=IDS)
def test_config_round_trip(make, shape, dtype):
    layer = make()
    config = layer.get_config()
    text = json.dumps(config)  # JSON-able
    rebuilt = type(layer).from_config(json.loads(text))
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == config
    assert repr(rebuilt) == repr(layer)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in layer.state_dict().items()}
    # an equivalent layer: with the same weights it computes the same function
    rebuilt.load_state_dict(layer.state_dict())
    layer.eval(), rebuilt.eval()
    x = _input(shape, dtype)
    np.testing.assert_array_equal(rebuilt(x).numpy(), layer(x).numpy())


def test_config_rejects_unknown_class():
    with pytest.raises(ValueError, match="unknown layer class 'Nope'"):
        nn.Sequential.from_config({"layers": [{"name": "0", "class_name": "Nope", "config": {}}]})


@pytest.mark.parametrize("layer,shape,message", [
    (nn.Conv2d(3, 8, 5), (3, 4, 9), r"Conv2d: H_out = \(4 - 5 \+ 2\*0\)/1 \+ 1 = 0: the window \(5\) is larger"),
    (nn.Conv2d(3, 8, 3, dilation=3), (3, 9, 6), r"Conv2d: W_out = \(6 - 7 \+ 2\*0\)/1 \+ 1 = 0"),
    (nn.Conv2d(3, 8, 5), (1, 32, 32), r"Conv2d\(3, 8\): expected a per-sample input \(3, H, W\), received \(1, 32, 32\)"),
    (nn.MaxPool2d(4), (2, 3, 8), r"MaxPool2d: H_out = \(3 - 4 \+ 2\*0\)/4 \+ 1"),
    (nn.AvgPool2d(2), (2, 3), r"AvgPool2d: expected a per-sample input \(C, H, W\), received \(2, 3\)"),
    (nn.Linear(4, 2), (5,), r"Linear\(4, 2\): expected a per-sample input whose last axis has 4 features, "
                            r"received shape \(5,\)"),
    (nn.BatchNorm2d(4), (3, 2, 2), r"BatchNorm2d\(4\): expected a per-sample input \(C, H, W\) with C = 4"),
    (nn.BatchNorm1d(4), (4, 2, 2), r"BatchNorm1d\(4\): expected a per-sample input \(C\) or \(C, L\)"),
    (nn.GlobalAvgPool2d(), (4, 2), r"GlobalAvgPool2d: expected a per-sample input \(C, H, W\)"),
    (nn.Softmax(dim=3), (4, 2), r"Softmax\(dim=3\): out of range"),
    (nn.Flatten(0), (4, 2), r"Flatten\(start_dim=0, end_dim=-1\): needs 1 <= start_dim"),
    (nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 4, 5)), (1, 10, 10),
     r"layer '2' \(Conv2d\): Conv2d: H_out = \(4 - 5 \+ 2\*0\)/1 \+ 1 = 0"),
])
def test_output_shape_errors_show_the_arithmetic(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer.output_shape(shape)


@pytest.mark.parametrize("make,message", [
    (lambda: nn.Linear(3, 2, init="lecun"), r"Linear: unknown init 'lecun': expected None \(PyTorch's default\) or "
                                            r"one of \['glorot_normal', 'glorot_uniform', 'he_normal'"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), r"groups=2 must divide both in_channels \(3\) and out_channels \(4\)"),
    (lambda: nn.Conv2d(3, 4, (3, 3, 3)), r"kernel_size must be an int or a pair of ints"),
    (lambda: nn.MaxPool2d(2, padding=2), r"padding between 0 and half the kernel"),
    (lambda: nn.Dropout(1.0), r"Dropout: p must be in \[0, 1\), received 1.0"),
    (lambda: nn.Embedding(5, 2, padding_idx=5), r"padding_idx must be within \[-5, 4\], received 5"),
])
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_forward_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\): expected input of shape \(N, C, H, W\) with C = 4, "
                                         r"received \(2, 3, 5, 5\)"):
        nn.BatchNorm2d(4)(profondo.randn(2, 3, 5, 5))


@pytest.mark.parametrize("name,ours,kwargs,x_shape", [
    ("ReLU", nn.ReLU, {}, (3, 4)), ("ReLU6", nn.ReLU6, {}, (3, 4)),
    ("LeakyReLU", nn.LeakyReLU, {"negative_slope": 0.2}, (3, 4)),
    ("Sigmoid", nn.Sigmoid, {}, (3, 4)), ("Tanh", nn.Tanh, {}, (3, 4)),
    ("Softmax", nn.Softmax, {"dim": 1}, (3, 4)), ("LogSoftmax", nn.LogSoftmax, {"dim": -1}, (3, 4)),
    ("MaxPool2d", nn.MaxPool2d, {"kernel_size": 3, "stride": 2, "padding": 1}, (2, 3, 7, 6)),
    ("AvgPool2d", nn.AvgPool2d, {"kernel_size": 2}, (2, 3, 6, 6)),
    ("Flatten", nn.Flatten, {}, (2, 3, 4)),
])
def test_stateless_layers_match_torch(name, ours, kwargs, x_shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32) * 4
    expected = getattr(torch.nn, name)(**kwargs)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(**kwargs)(profondo.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_embedding_matches_torch_with_padding_idx():
    torch = pytest.importorskip("torch")
    t = torch.nn.Embedding(7, 3, padding_idx=2)
    e = nn.Embedding(7, 3, padding_idx=2)
    np.testing.assert_array_equal(e.weight.data[2], 0)
    e.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    idx = np.array([[1, 2, 6], [2, 2, 0]])
    y_t = t(torch.from_numpy(idx))
    y = e(profondo.tensor(idx))
    np.testing.assert_array_equal(y.numpy(), y_t.detach().numpy())
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    y_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(e.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-6)
