import copy
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest

import profondo
from profondo import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.register_buffer("scale", np.ones(2, np.float32))

    def forward(self, x):
        return self.bn(self.conv(x)) * self.scale.reshape(1, 2, 1, 1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(Block(), nn.ReLU())
        self.head = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def test_named_parameters_and_buffers_use_pytorch_dotted_keys():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "features.0.conv.weight", "features.0.conv.bias", "features.0.bn.weight", "features.0.bn.bias",
        "head.weight", "head.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "features.0.scale", "features.0.bn.running_mean", "features.0.bn.running_var",
        "features.0.bn.num_batches_tracked"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert not any(b.requires_grad for b in net.buffers())
    assert [n for n, _ in net.named_children()] == ["features", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0", "features.0.conv",
                                                   "features.0.bn", "features.1", "head"]
    # PyTorch's order: a module's own parameters and buffers, then its children's
    assert list(net.state_dict()) == [
        "features.0.scale", "features.0.conv.weight", "features.0.conv.bias", "features.0.bn.weight",
        "features.0.bn.bias", "features.0.bn.running_mean", "features.0.bn.running_var",
        "features.0.bn.num_batches_tracked", "head.weight", "head.bias"]


def test_shared_parameter_listed_once_and_reassignment_updates_registry():
    net = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    net[1].weight = net[0].weight
    assert len(list(net.parameters())) == 3
    assert "1.weight" in net.state_dict()
    layer = nn.Linear(2, 2)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    assert layer(profondo.randn(1, 2)).shape == (1, 2)
    with pytest.raises(TypeError, match=r"Linear.weight is a parameter: assign a Parameter or None"):
        layer.weight = np.zeros((2, 2))
    del layer.weight
    assert list(layer.state_dict()) == []


def test_assigning_before_super_init_is_explained():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first in Bad.__init__"):
        Bad()


def test_state_dict_shares_memory_as_pytorch_and_round_trips():
    profondo.manual_seed(0)
    a = Net()
    x = profondo.randn(2, 1, 6, 6)
    a.train()(x)  # moves the running statistics away from their initial values
    state = a.state_dict()
    assert all(isinstance(v, profondo.Tensor) and not v.requires_grad for v in state.values())
    assert state["features.0.bn.num_batches_tracked"].dtype == np.int64
    with profondo.no_grad():
        state["head.bias"][...] = 123.0  # detached, but the same memory (as PyTorch): the module sees it
    assert np.all(a.head.bias.data == 123.0)
    arrays = a.state_arrays()  # copies, for files
    arrays["head.bias"][...] = 0.0
    assert np.all(a.head.bias.data == 123.0) and isinstance(arrays["head.bias"], np.ndarray)
    state = {k: v.clone() for k, v in a.state_dict().items()}
    profondo.manual_seed(1)
    b = Net()
    weight = b.head.weight
    result = b.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.head.weight is weight  # loaded in place: optimizers keep their references
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, state[k])


def test_load_state_dict_reports_missing_unexpected_and_shapes_and_writes_nothing():
    net = nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.Linear(4, 2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    bad = net.state_dict()
    bad["0.weight"] = np.zeros((6, 1, 5, 5), np.float32)
    bad["2.bias"] = np.zeros(2, np.float32) + 7
    del bad["2.weight"]
    bad["3.weight"] = np.zeros(1)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(bad)
    text = str(err.value)
    assert "0.weight: file has (6, 1, 5, 5), model has (6, 3, 5, 5)" in text
    assert "missing keys (in the model, not in the file): ['2.weight']" in text
    assert "unexpected keys (in the file, not in the model): ['3.weight']" in text
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    # strict=False tolerates missing and unexpected keys, never shape mismatches
    bad["0.weight"] = before["0.weight"]
    result = net.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["2.weight"] and result.unexpected_keys == ["3.weight"]
    np.testing.assert_array_equal(net[2].bias.data, 7)
    bad["0.bias"] = np.zeros(5)
    with pytest.raises(RuntimeError, match=r"0.bias: file has \(5,\), model has \(6,\)"):
        net.load_state_dict(bad, strict=False)


def test_load_state_dict_casts_to_the_model_dtype():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": np.eye(2), "bias": [1, 2]})
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.data, [1, 2])


def test_train_eval_switch_reaches_every_submodule():
    net = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(4)))
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    x = profondo.randn(8, 4)
    np.testing.assert_array_equal(net[1][0](x).numpy(), x.numpy())  # dropout is the identity in eval
    net.train()
    assert all(m.training for m in net.modules())
    profondo.manual_seed(0)
    assert np.mean(net[1][0](profondo.ones(1000)).numpy() == 0) == pytest.approx(0.5, abs=0.06)


def test_zero_grad_to_apply_requires_grad_and_deepcopy():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    net(profondo.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    params = list(net.parameters())
    assert net.to("cpu") is net and list(net.parameters())[0] is params[0]
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Linear", "Sequential"]
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    clone = copy.deepcopy(net)
    clone[0].weight.data[...] = 0
    assert np.any(net[0].weight.data != 0)
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]


def test_repr_is_pytorch_like():
    net = nn.Sequential(OrderedDict(conv=nn.Conv2d(3, 8, 3, padding=1, bias=False), act=nn.ReLU(),
                                    head=nn.Sequential(nn.Flatten(), nn.Linear(8, 2, init="he_normal"))))
    assert repr(net) == (
        "Sequential(\n"
        "  (conv): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)\n"
        "  (act): ReLU()\n"
        "  (head): Sequential(\n"
        "    (0): Flatten(start_dim=1, end_dim=-1)\n"
        "    (1): Linear(in_features=8, out_features=2, bias=True, init='he_normal')\n"
        "  )\n"
        ")")


def test_custom_module_without_forward_or_output_shape_says_so():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty does not define forward"):
        Empty()(1)
    with pytest.raises(NotImplementedError, match="Empty does not define output_shape"):
        Empty().output_shape((3,))


def test_summary_delegates_to_analysis(monkeypatch):
    calls = []
    fake = types.ModuleType("profondo.analysis")
    fake.summary = lambda model, shape: calls.append((model, shape)) or "table"
    monkeypatch.setitem(sys.modules, "profondo.analysis", fake)
    monkeypatch.setattr(profondo, "analysis", fake, raising=False)
    net = nn.Linear(3, 2)
    assert net.summary((3,)) == "table"
    assert calls == [(net, (3,))]
