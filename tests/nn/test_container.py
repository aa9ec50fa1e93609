from collections import OrderedDict

import numpy as np
import pytest

import profondo
from profondo import nn


def test_sequential_indexing_len_iteration_and_append():
    layers = [nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:]
    assert [n for n, _ in sub.named_children()] == ["1", "2"]  # PyTorch keeps the names
    assert seq.append(nn.Softmax()) is seq and len(seq) == 4
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    y = seq(profondo.randn(5, 4))
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1, rtol=1e-5)
    with pytest.raises(IndexError, match="Sequential index 4 is out of range for 4 layers"):
        seq[4]


def test_sequential_from_ordered_dict_keeps_names():
    seq = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["conv.weight", "conv.bias"]
    assert seq.conv is seq[0]
    rebuilt = nn.Sequential.from_config(seq.get_config())
    assert [n for n, _ in rebuilt.named_children()] == ["conv", "act"]


def test_module_list_registers_and_renumbers():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    first = ml[0]
    ml.insert(0, nn.Linear(2, 3))
    assert ml[1] is first and ml[0].out_features == 3
    del ml[0]
    assert ml[0] is first and len(ml) == 3
    ml[2] = nn.Tanh()
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert isinstance(ml[:2], nn.ModuleList) and len(ml[:2]) == 2
    ml.extend([nn.ReLU()])
    assert len(ml) == 4
    rebuilt = nn.ModuleList.from_config(ml.get_config())
    assert [type(m).__name__ for m in rebuilt] == ["Linear", "Linear", "Tanh", "ReLU"]
    with pytest.raises(NotImplementedError, match="ModuleList does not define forward"):
        ml(profondo.randn(1, 2))


def _torch_cnn(torch):
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Conv2d(3, 8, 3, padding=1), tnn.BatchNorm2d(8), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(8, 8, 3, groups=2), tnn.ReLU(), tnn.Flatten(), tnn.Linear(8 * 2 * 2, 5))


def _cnn():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, groups=2), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 2 * 2, 5))


def test_small_cnn_loads_torch_weights_and_matches_train_and_eval():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = _torch_cnn(torch)
    net = _cnn()
    assert list(net.state_dict()) == list(t.state_dict())
    assert repr(net) == repr(t).replace(", dilation=1, ceil_mode=False", "").replace("affine=True, bias=True", "affine=True")
    net.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    labels = np.array([0, 3, 1, 4])
    loss_t = torch.nn.functional.cross_entropy(t(torch.from_numpy(x)), torch.from_numpy(labels))
    loss = profondo.functional.cross_entropy(net(profondo.tensor(x)), profondo.tensor(labels))
    assert loss.item() == pytest.approx(loss_t.item(), rel=1e-5)
    loss_t.backward()
    loss.backward()
    torch_grads = {n: p.grad.numpy() for n, p in t.named_parameters()}
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), torch_grads[name], rtol=1e-3, atol=1e-5, err_msg=name)
    t.eval(), net.eval()
    np.testing.assert_allclose(net(profondo.tensor(x)).numpy(), t(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    # and back: profondo weights load into torch
    t2 = _torch_cnn(torch)
    t2.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in net.state_dict().items()})
    t2.eval()
    np.testing.assert_allclose(net(profondo.tensor(x)).numpy(), t2(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
