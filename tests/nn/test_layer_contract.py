"""The layer contract: every class in ``nn.__all__`` declares, next to its definition, what the rest
of the framework needs to know about it (Keras's ``run_layer_test``, one table of examples).

For each class: an example instance, a config round trip, an output shape computed without
running that matches forward, counts (DESIGN.md's conventions), and an architecture-file form
(that rebuilds the same layer) - or, for each thing it lacks, a declared reason in ``cls.lacks``.
A new layer is picked up by architecture files and the analysis with no other edits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.analysis import analyze
from profondo.nn.counts import LayerCounts
from profondo.nn.module import Module
from tests.conftest import nn_module_classes

Shape = tuple[int, ...]

# class -> (a small instance, the per-sample shapes of its inputs)
EXAMPLES: dict[type, Callable[[], tuple[Module, list[Shape]]]] = {
    nn.Add: lambda: (nn.Add(), [(4,), (4,)]),
    nn.AvgPool2d: lambda: (nn.AvgPool2d(2), [(3, 6, 6)]),
    nn.BatchNorm1d: lambda: (nn.BatchNorm1d(4, eps=1e-3, momentum=0.2), [(4,)]),
    nn.BatchNorm2d: lambda: (nn.BatchNorm2d(3), [(3, 5, 5)]),
    nn.Concat: lambda: (nn.Concat(1), [(2, 3), (2, 3)]),
    nn.Conv2d: lambda: (nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False), [(3, 7, 7)]),
    nn.Dropout: lambda: (nn.Dropout(0.3), [(4,)]),
    nn.Embedding: lambda: (nn.Embedding(10, 4, padding_idx=0), [(6,)]),
    nn.Flatten: lambda: (nn.Flatten(), [(2, 3, 3)]),
    nn.GlobalAvgPool2d: lambda: (nn.GlobalAvgPool2d(), [(3, 4, 4)]),
    nn.Graph: lambda: (nn.Graph([("fc", nn.Linear(4, 4), "input"), ("sum", nn.Add(), ["fc", "input"])], "sum"),
                       [(4,)]),
    nn.Identity: lambda: (nn.Identity(), [(4,)]),
    nn.LeakyReLU: lambda: (nn.LeakyReLU(0.2), [(4,)]),
    nn.Linear: lambda: (nn.Linear(4, 3, init="he_normal"), [(4,)]),
    nn.LogSoftmax: lambda: (nn.LogSoftmax(-1), [(4,)]),
    nn.MaxPool2d: lambda: (nn.MaxPool2d(3, stride=2, padding=1), [(3, 7, 7)]),
    nn.ModuleList: lambda: (nn.ModuleList([nn.Linear(2, 2)]), [(2,)]),
    nn.ReLU: lambda: (nn.ReLU(), [(4,)]),
    nn.ReLU6: lambda: (nn.ReLU6(), [(4,)]),
    nn.Sequential: lambda: (nn.Sequential(nn.Linear(4, 3), nn.ReLU()), [(4,)]),
    nn.Sigmoid: lambda: (nn.Sigmoid(), [(4,)]),
    nn.Softmax: lambda: (nn.Softmax(-1), [(4,)]),
    nn.Tanh: lambda: (nn.Tanh(), [(4,)]),
    nn.GRU: lambda: (nn.GRU(4, 3, batch_first=True), [(5, 4)]),
    nn.LSTM: lambda: (nn.LSTM(4, 3, num_layers=2, batch_first=True, bidirectional=True), [(5, 4)]),
    nn.RNN: lambda: (nn.RNN(4, 3, nonlinearity="relu", batch_first=True), [(5, 4)]),
    nn.GRUCell: lambda: (nn.GRUCell(4, 3), [(4,)]),
    nn.LSTMCell: lambda: (nn.LSTMCell(4, 3), [(4,)]),
    nn.RNNCell: lambda: (nn.RNNCell(4, 3), [(4,)]),
    nn.Recurrent: lambda: (nn.Recurrent("gru", 4, 3, bidirectional=True, output="mean"), [(5, 4)]),
    nn.LocalResponseNorm: lambda: (nn.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=2.0), [(5, 4, 4)]),
    nn.EfficientNetLite0: lambda: (nn.EfficientNetLite0(num_classes=5), [(3, 32, 32)]),
    nn.ModuleDict: lambda: (nn.ModuleDict({"head": nn.Linear(2, 2)}), [(2,)]),
    nn.AdaptiveAvgPool2d: lambda: (nn.AdaptiveAvgPool2d((2, 3)), [(3, 5, 7)]),
    nn.Upsample: lambda: (nn.Upsample(scale_factor=(2, 3)), [(3, 4, 5)]),
    nn.CrossEntropyLoss: lambda: (nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1), [(4,), ()]),
    nn.NLLLoss: lambda: (nn.NLLLoss(reduction="sum"), [(4,), ()]),
    nn.MSELoss: lambda: (nn.MSELoss(), [(4,), (4,)]),
    nn.L1Loss: lambda: (nn.L1Loss(reduction="none"), [(4,), (4,)]),
    nn.SmoothL1Loss: lambda: (nn.SmoothL1Loss(beta=0.5), [(4,), (4,)]),
    nn.HuberLoss: lambda: (nn.HuberLoss(delta=2.0), [(4,), (4,)]),
    nn.BCELoss: lambda: (nn.BCELoss(), [(4,), (4,)]),
    nn.BCEWithLogitsLoss: lambda: (nn.BCEWithLogitsLoss(pos_weight=[2.0, 1.0, 1.0, 1.0]), [(4,), (4,)]),
    nn.KLDivLoss: lambda: (nn.KLDivLoss(reduction="batchmean"), [(4,), (4,)]),
}

LAYER_CLASSES = [cls for cls in nn_module_classes() if cls is not Module]


def _overrides(cls: type, method: str) -> bool:
    return getattr(cls, method) is not getattr(Module, method)


def _declared_reason(cls: type, capability: str) -> bool:
    reason = cls.lacks.get(capability)
    return isinstance(reason, str) and len(reason) > 10


def _example(cls: type) -> tuple[Module, list[Shape]]:
    if cls not in EXAMPLES:
        pytest.fail(f"{cls.__name__} has no example in EXAMPLES of tests/nn/test_layer_contract.py: add a small "
                    "instance and its per-sample input shapes")
    module, shapes = EXAMPLES[cls]()
    assert type(module) is cls, f"the example of {cls.__name__} builds a {type(module).__name__}"
    return module, shapes


def _batch(shape: Shape, integer: bool) -> profondo.Tensor:
    rng = np.random.default_rng(0)
    if integer:
        return profondo.tensor(rng.integers(0, 10, (2, *shape)))
    return profondo.tensor(rng.standard_normal((2, *shape)).astype(np.float32))


def test_every_class_in_nn_all_has_an_example():
    missing = [cls.__name__ for cls in LAYER_CLASSES if cls not in EXAMPLES]
    assert not missing, f"classes in nn.__all__ without an example in the contract test: {missing}"


@pytest.mark.parametrize("cls", LAYER_CLASSES, ids=lambda c: c.__name__)
def test_config_round_trip(cls):
    module, _ = _example(cls)
    config = module.get_config()
    json.dumps(config)  # a config is JSON data
    rebuilt = cls.from_config(config)
    assert type(rebuilt) is cls and rebuilt.get_config() == config, \
        f"{cls.__name__}: from_config(get_config()) does not give back the same config"


@pytest.mark.parametrize("cls", LAYER_CLASSES, ids=lambda c: c.__name__)
def test_output_shape_without_running_matches_forward(cls):
    if _declared_reason(cls, "output_shape"):
        return
    assert _overrides(cls, "output_shape"), \
        f"{cls.__name__} lacks output_shape (or a reason under lacks['output_shape'])"
    module, shapes = _example(cls)
    predicted = module.output_shape(*shapes)
    out = module.eval()(*[_batch(s, integer=cls is nn.Embedding) for s in shapes])
    out = out[0] if isinstance(out, tuple) else out  # recurrent layers also return their states
    assert tuple(out.shape[1:]) == tuple(predicted), \
        f"{cls.__name__}.output_shape{tuple(shapes)} = {predicted}, forward gives {tuple(out.shape[1:])}"


@pytest.mark.parametrize("cls", LAYER_CLASSES, ids=lambda c: c.__name__)
def test_counts_are_declared(cls):
    if _declared_reason(cls, "counts"):
        return
    assert _overrides(cls, "counts"), f"{cls.__name__} lacks counts (or a reason under lacks['counts'])"
    module, shapes = _example(cls)
    counts = module.counts(shapes, module.output_shape(*shapes))
    assert isinstance(counts, LayerCounts), f"{cls.__name__}.counts returned {type(counts).__name__}"
    values = (counts.neurons, counts.connections, counts.macs)
    assert all(isinstance(v, int) and v >= 0 for v in values), f"{cls.__name__}.counts: {counts}"
    if any(p.requires_grad for p in module.parameters()) and module.lacks.get("file_form") is None:
        assert counts.macs > 0 or counts.neurons > 0, f"{cls.__name__} has weights but counts nothing: {counts}"


@pytest.mark.parametrize("cls", LAYER_CLASSES, ids=lambda c: c.__name__)
def test_architecture_file_form(cls):
    pytest.importorskip("yaml")
    from profondo.architecture import dumps, from_dict, loads, to_dict

    if _declared_reason(cls, "file_form"):
        assert not cls.__dict__.get("file_kinds"), f"{cls.__name__} declares file kinds and a reason to lack them"
        return
    assert cls.__dict__.get("file_kinds"), \
        f"{cls.__name__} lacks an architecture-file form: declare file_kinds in its class body (or a reason " \
        "under lacks['file_form'])"
    assert _overrides(cls, "file_entry"), f"{cls.__name__} declares file_kinds but no file_entry to write itself"
    module, shapes = _example(cls)
    kind = cls.__dict__["file_kinds"][0]
    if kind.merging:  # a graph whose branches all read the network input
        assert len(set(shapes)) == 1, f"the example of {cls.__name__} must take inputs of one shape"
        branches = [(f"in{i}", nn.Identity(), "input") for i in range(len(shapes))]
        net = nn.Graph([*branches, ("main", module, [name for name, _, _ in branches])], "main")
        d = to_dict(net, input_shape=shapes[0])
        rebuilt = from_dict(d)._modules["main"]
    else:
        d = to_dict(nn.Sequential(module), input_shape=shapes[0])
        rebuilt = loads(dumps(from_dict(d)))[0]
    assert type(rebuilt) is cls and rebuilt.get_config() == module.get_config(), \
        f"{cls.__name__}: its architecture-file form {d} rebuilds {rebuilt!r}, not {module!r}"


# --- a layer defined outside profondo joins files and analysis by declaring itself -----------------

def _scale_from_file(p, shapes, at):
    from profondo.nn.vocabulary import SpecError

    if len(shapes[0]) != 1:
        raise SpecError(f"{at}: 'scale' expects [features], received {list(shapes[0])}")
    return [("", Scale(shapes[0][0], p["factor"]))]


def _scale_class():
    from profondo.nn.vocabulary import Field, FileKind, real

    class Scale(Module):
        """y = factor * w * x: one weight per feature."""

        file_kinds = (FileKind("scale", {"factor": Field(real, "a number", 1.0, True)}, _scale_from_file),)

        def __init__(self, features: int, factor: float = 1.0) -> None:
            super().__init__()
            self.features, self.factor = features, factor
            self.weight = nn.Parameter(np.ones(features, np.float32))

        def forward(self, x):
            return x * self.weight * self.factor

        def output_shape(self, input_shape):
            return tuple(input_shape)

        def counts(self, input_shapes, output_shape):
            n = math.prod(output_shape)
            return LayerCounts(n, n, n)  # each output reads its input once, one multiply-accumulate

        def file_entry(self, input_shapes, at):
            return "scale", {"factor": self.factor}

    return Scale


Scale = None


@pytest.fixture
def scale_layer():
    global Scale
    Scale = _scale_class()
    try:
        yield Scale
    finally:
        Module._registry.remove(Scale)
        Scale = None


def test_a_new_layer_is_picked_up_by_files_and_analysis(scale_layer):
    pytest.importorskip("yaml")
    from profondo.architecture import SpecError, from_dict, loads, to_dict

    net = loads("input: [4]\nlayers:\n  - dense: {units: 3}\n  - scale: {factor: 2.5}\n")
    assert type(net[1]) is scale_layer and net[1].factor == 2.5 and net[1].features == 3
    assert to_dict(net)["layers"] == [{"dense": {"units": 3}}, {"scale": {"factor": 2.5}}]
    assert to_dict(from_dict(to_dict(net))) == to_dict(net)
    assert to_dict(loads("input: [4]\nlayers: [{dense: {units: 3}}, scale]"))["layers"][1] == "scale"
    row = analyze(net).layers[1]
    assert (row.kind, row.neurons, row.connections, row.macs, row.weights) == ("Scale", 3, 3, 3, 3)
    with pytest.raises(SpecError, match=r"layer 1 \(scale\): field 'factor' expected a number, received 'x'"):
        loads("input: [4]\nlayers: [{dense: {units: 3}}, {scale: {factor: x}}]")
    with pytest.raises(SpecError, match=r"valid kinds: .*relu6, rnn, scale, sigmoid"):
        loads("input: [4]\nlayers: [nope]")


def test_a_removed_layer_leaves_the_vocabulary():
    pytest.importorskip("yaml")
    from profondo.architecture import SpecError, loads

    with pytest.raises(SpecError, match=r"valid kinds: .*relu6, rnn, sigmoid") as error:
        loads("input: [4]\nlayers: [scale]")
    assert "unknown layer kind 'scale'" in str(error.value)
