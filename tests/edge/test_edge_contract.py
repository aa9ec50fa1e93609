"""Contract: every Module class in ``profondo.nn.__all__`` has a frozen (edge) form that computes
what the layer computes in eval mode, and a PyTorch counterpart for the benchmark, or is
declared in ``edge.freeze.NOT_FREEZABLE`` with its reason."""

import inspect

import numpy as np
import pytest
from tests.conftest import nn_module_classes, randomize_batch_norms

import profondo
from profondo import nn
from profondo.edge.bench import TORCH_LAYERS, to_torch
from profondo.edge.freeze import LAYERS, NOT_FREEZABLE, freeze
from profondo.nn.graph import Add, Concat, Graph

CONTAINERS = (nn.Sequential, Graph)  # walked by the planner: their children are frozen in their place



# class -> (a small network using it, per-sample input shape)
EXAMPLES = {
    nn.Conv2d: lambda: (nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2), (4, 7, 7)),
    nn.Linear: lambda: (nn.Linear(5, 3), (5,)),
    nn.MaxPool2d: lambda: (nn.MaxPool2d(3, stride=2, padding=1), (2, 7, 7)),
    nn.AvgPool2d: lambda: (nn.AvgPool2d(3, stride=1, padding=1), (2, 5, 5)),
    nn.GlobalAvgPool2d: lambda: (nn.GlobalAvgPool2d(), (3, 4, 4)),
    nn.BatchNorm1d: lambda: (nn.Sequential(nn.Linear(4, 5), randomize_batch_norms(nn.BatchNorm1d(5)), nn.Tanh(),
                                           randomize_batch_norms(nn.BatchNorm1d(5))), (4,)),  # folded, then standalone
    nn.BatchNorm2d: lambda: (nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), randomize_batch_norms(nn.BatchNorm2d(3))), (3, 4, 4)),
    nn.Flatten: lambda: (nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), (3, 2, 2)),
    nn.Dropout: lambda: (nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.3)), (4,)),
    nn.Identity: lambda: (nn.Sequential(nn.Linear(4, 3), nn.Identity()), (4,)),
    nn.ReLU: lambda: (nn.Sequential(nn.Linear(4, 6), nn.ReLU()), (4,)),
    nn.ReLU6: lambda: (nn.Sequential(nn.Linear(4, 4), nn.ReLU6()), (4,)),
    nn.LeakyReLU: lambda: (nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.2)), (4,)),
    nn.Sigmoid: lambda: (nn.Sequential(nn.Linear(4, 6), nn.Sigmoid()), (4,)),
    nn.Tanh: lambda: (nn.Sequential(nn.Linear(4, 6), nn.Tanh()), (4,)),
    nn.Softmax: lambda: (nn.Sequential(nn.Linear(4, 6), nn.Softmax(1)), (4,)),
    nn.LogSoftmax: lambda: (nn.Sequential(nn.Linear(4, 6), nn.LogSoftmax(-1)), (4,)),
    Add: lambda: (Graph([("fc", nn.Linear(4, 4), ["input"]), ("add", Add(), ["fc", "input"])], ["add"]), (4,)),
    Concat: lambda: (Graph([("fc", nn.Linear(4, 3), ["input"]), ("cat", Concat(1), ["fc", "input"])], ["cat"]),
                     (4,)),
    nn.Sequential: lambda: (nn.Sequential(nn.Linear(4, 3), nn.Tanh()), (4,)),
    nn.Upsample: lambda: (nn.Sequential(nn.Conv2d(2, 3, 3), nn.Upsample(scale_factor=(2, 3)), nn.ReLU(),
                                        nn.Upsample(size=(9, 20))), (2, 5, 6)),
    nn.LocalResponseNorm: lambda: (nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.LocalResponseNorm(4, 0.5, 0.6, 2.0)),
                                   (3, 5, 5)),
    Graph: lambda: (Graph([("a", nn.Linear(4, 3), ["input"]), ("b", nn.Sigmoid(), ["a"]), ("c", nn.Tanh(), ["a"])],
                          ["b", "c"]), (4,)),
}



def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("cls", nn_module_classes(), ids=lambda c: c.__name__)
def test_every_nn_class_freezes_to_the_same_outputs_or_says_why_not(cls):
    if cls in NOT_FREEZABLE:
        reason = NOT_FREEZABLE[cls]
        assert isinstance(reason, str) and len(reason) > 20, f"{cls.__name__}: the reason must be a sentence"
        assert cls not in LAYERS, f"{cls.__name__} is declared not freezable but has an edge form"
        return
    assert cls in LAYERS or cls in CONTAINERS, (
        f"{cls.__name__} (in profondo.nn.__all__) has no edge form in edge.freeze.LAYERS and is not declared "
        "in edge.freeze.NOT_FREEZABLE with a reason")
    assert cls in TORCH_LAYERS, f"{cls.__name__} freezes but has no PyTorch counterpart in edge.bench.TORCH_LAYERS"
    assert cls in EXAMPLES, f"{cls.__name__}: add a small instance to EXAMPLES in this test"
    profondo.manual_seed(0)
    model, shape = EXAMPLES[cls]()
    assert any(type(m) is cls for m in model.modules()), f"{cls.__name__}: the example does not use the class"
    model.eval()
    x = np.random.default_rng(1).standard_normal((3, *shape)).astype(np.float32)
    with profondo.no_grad():
        expected = [o.numpy() for o in _as_list(model(profondo.tensor(x)))]
    got = _as_list(freeze(model, shape).run(x))
    assert len(got) == len(expected), f"{cls.__name__}: {len(expected)} outputs eager, {len(got)} frozen"
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5, err_msg=f"{cls.__name__}: frozen output differs")
    torch = pytest.importorskip("torch")
    with torch.inference_mode():
        theirs = _as_list(to_torch(model)(torch.from_numpy(x)))
    for t, e in zip(theirs, expected):
        np.testing.assert_allclose(t.numpy(), e, rtol=1e-5, atol=1e-5,
                                   err_msg=f"{cls.__name__}: the PyTorch counterpart differs")


def test_declared_classes_are_refused_with_their_reason():
    with pytest.raises(ValueError, match=r"0 \(Embedding\).*a table lookup of integer indices"):
        freeze(nn.Sequential(nn.Embedding(10, 4), nn.Flatten()), (3,))


def test_the_tables_name_only_real_layers_and_agree():
    for table in (LAYERS, NOT_FREEZABLE, TORCH_LAYERS):
        for cls in table:
            assert inspect.isclass(cls) and issubclass(cls, nn.Module), f"{cls!r} is not a Module class"
    assert not LAYERS.keys() & NOT_FREEZABLE.keys()
    assert set(TORCH_LAYERS) == set(LAYERS) | set(CONTAINERS), "every frozen layer needs its benchmark counterpart"
