"""Architecture files <-> Modules: building, shapes, names, output activation, round trips."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import profondo
from profondo import architecture, nn
from profondo.architecture import SpecError, from_dict, to_dict
from profondo.architecture.build import layer_names, upgrade_state_dict
from profondo.nn.graph import Add, Concat, Graph

pytest.importorskip("yaml")


def structure(m: nn.Module) -> list[tuple[str, str, tuple]]:
    """Every module's name, class and configuration-free signature, plus parameter shapes."""
    mods = [(n, type(c).__name__, ()) for n, c in m.named_modules()]
    return mods + [(n, "param", tuple(p.shape)) for n, p in m.named_parameters()]


def batch(shape, n=2, seed=0):
    return profondo.tensor(np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32))


CNN = {"name": "cnn", "input": [3, 16, 16], "layers": [
    {"conv": {"filters": 8, "size": 3, "pad": 1, "activation": "relu"}},
    {"pool": {"type": "max", "size": 2}},
    {"dense": {"units": 10, "activation": "softmax"}},
]}


def test_unnamed_layers_are_named_by_kind_and_count():
    m = from_dict(CNN)
    # conv + relu, pool, then the dense layer after a volume starts with a Flatten: the modules of
    # torch.nn.Sequential(Conv2d, ReLU, MaxPool2d, Flatten, Linear), named by kind, not "0", "1", ...
    assert [(n, type(c).__name__) for n, c in m.named_children()] == [
        ("conv1", "Conv2d"), ("conv1_relu", "ReLU"), ("pool1", "MaxPool2d"), ("dense1_flatten", "Flatten"),
        ("dense1", "Linear")]
    assert m[0].in_channels == 3 and m[4].in_features == 8 * 8 * 8  # inferred, never written
    assert list(m.state_dict()) == ["conv1.weight", "conv1.bias", "dense1.weight", "dense1.bias"]
    assert m(batch((3, 16, 16))).shape == (2, 10)


def test_final_softmax_is_metadata_and_the_module_outputs_logits():
    m = from_dict(CNN)
    assert m.spec == architecture.Spec("cnn", (3, 16, 16), "softmax")
    assert type(m[-1]) is nn.Linear  # logits: cross_entropy stays correct
    standalone = from_dict({**CNN, "layers": [*CNN["layers"][:2], {"dense": {"units": 10}}, "softmax"]})
    assert structure(standalone) == structure(m) and standalone.spec.output_activation == "softmax"
    middle = from_dict({"input": [4], "layers": [{"dense": {"units": 3, "activation": "softmax"}},
                                                  {"dense": {"units": 2}}]})
    assert type(middle[1]) is nn.Softmax and middle[1].dim == 1 and middle.spec.output_activation is None


def test_named_layers_name_their_modules_and_extras():
    m = from_dict({"input": [1, 8, 8], "layers": [
        {"name": "c1", "conv": {"filters": 2, "size": 3, "activation": "tanh"}},
        "relu",
        {"name": "fc", "dense": {"units": 4, "activation": "sigmoid"}}]})
    assert [n for n, _ in m.named_children()] == ["c1", "c1_tanh", "relu1", "fc_flatten", "fc", "fc_sigmoid"]


def test_generated_names_skip_the_names_a_file_gives():
    layers = [{"dense": {"units": 3}}, {"name": "dense2", "dense": {"units": 3}}, {"dense": {"units": 3}},
              {"name": "dense3_x", "dense": {"units": 3, "activation": "relu"}}, {"dense": {"units": 2}}, "relu"]
    m = from_dict({"input": [4], "layers": layers})
    # dense2 is given; dense3 is skipped as well, since a layer named dense3_x may add modules dense3_<...>
    assert [n for n, _ in m.named_children()] == ["dense1", "dense2", "dense4", "dense3_x", "dense3_x_relu",
                                                  "dense5", "relu1"]
    # a name given further down is skipped from the first layer on
    assert layer_names([("conv", None), ("pool", None), ("conv", "conv1"), ("conv", None)]) == [
        "conv2", "pool1", "conv1", "conv3"]


def test_round_trip_keeps_generated_and_given_names():
    d = {"name": "mix", "input": [1, 8, 8], "layers": [
        {"conv": {"filters": 2, "size": 3, "activation": "relu"}}, {"name": "conv3", "conv": {"filters": 2, "size": 3}},
        {"pool": {"type": "max", "size": 2}}, {"conv": {"filters": 2, "size": 1}}, {"dense": {"units": 3}}]}
    m = from_dict(d)
    names = [n for n, _ in m.named_children()]
    assert names == ["conv1", "conv1_relu", "conv3", "pool1", "conv2", "dense1_flatten", "dense1"]
    written = to_dict(m)
    assert [e.get("name") if isinstance(e, dict) else None for e in written["layers"]] == [
        None, "conv3", None, None, None]  # generated names are not spelled out
    rebuilt = from_dict(written)
    assert [n for n, _ in rebuilt.named_children()] == names
    rebuilt.load_state_dict(m.state_dict())
    # a module renamed in Python keeps its name through the file
    renamed = nn.Sequential(dict(zip(["conv2", "conv2_relu", "conv3", "pool1", "conv1", "dense1_flatten", "dense1"],
                                     m.children())))
    again = from_dict(to_dict(renamed, input_shape=(1, 8, 8)))
    assert [n for n, _ in again.named_children()] == [n for n, _ in renamed.named_children()]


def test_dense_on_a_vector_inserts_no_flatten_and_shorthand_fields():
    m = from_dict({"input": [6], "layers": [
        {"dense": {"units": 5, "bias": False, "init": "he_normal"}}, {"batchnorm": {"eps": 1e-3}},
        {"activation": {"type": "leaky_relu", "slope": 0.2}}, {"dropout": 0.25}, {"activation": "tanh"},
        {"dense": {"units": 2, "activation": "identity"}}]})
    assert [type(c).__name__ for c in m] == ["Linear", "BatchNorm1d", "LeakyReLU", "Dropout", "Tanh", "Linear"]
    assert m[0].bias is None and m[0].init == "he_normal" and m[1].eps == 1e-3
    assert m[2].negative_slope == 0.2 and m[3].p == 0.25
    d = to_dict(m)
    assert d["layers"][2] == {"leaky_relu": {"slope": 0.2}} and d["layers"][3] == {"dropout": {"rate": 0.25}}
    assert d["layers"][0] == {"dense": {"units": 5, "bias": False, "init": "he_normal"}}
    assert structure(from_dict(d)) == structure(m)


def test_exponents_without_a_dot_are_numbers():
    m = architecture.loads("input: [4]\nlayers:\n  - batchnorm: {eps: 1e-3, momentum: 5e-2}\n  - leaky_relu: {slope: 2e-1}")
    assert (m[0].eps, m[0].momentum, m[1].negative_slope) == (1e-3, 5e-2, 2e-1)
    with pytest.raises(SpecError, match="field 'eps' expected a positive number, received 'tiny'"):
        architecture.loads("input: [4]\nlayers:\n  - batchnorm: {eps: tiny}")


def test_round_floor_takes_pytorchs_size():
    layer = {"conv": {"filters": 4, "size": 3, "stride": 2, "pad": 1}}
    with pytest.raises(SpecError, match=r"H_out = \(32 - 3 \+ 2\*1\)/2 \+ 1 = 16\.5 is not an integer"):
        from_dict({"input": [3, 32, 32], "layers": [layer]})
    layer["conv"]["round"] = "floor"
    m = from_dict({"input": [3, 32, 32], "layers": [layer]})
    assert m.output_shape((3, 32, 32)) == (4, 16, 16)
    assert m(batch((3, 32, 32))).shape == (2, 4, 16, 16)
    assert to_dict(m)["layers"][0]["conv"]["round"] == "floor"


def test_rectangular_sizes_dilation_groups_and_avg_pool():
    m = from_dict({"input": [4, 9, 12], "layers": [
        {"conv": {"filters": 8, "size": [3, 1], "pad": [1, 0], "dilation": 2, "groups": 2, "round": "floor"}},
        {"pool": {"type": "avg", "size": [2, 3], "stride": [1, 3]}}, "global_pool"]})
    conv, pool = m[0], m[1]
    assert conv.kernel_size == (3, 1) and conv.dilation == (2, 2) and conv.groups == 2
    # H: (9 - 5 + 2)/1 + 1 = 7, W: (12 - 1 + 0)/1 + 1 = 12; pool H: (7 - 2)/1 + 1 = 6, W: (12 - 3)/3 + 1 = 4
    assert pool.output_shape(conv.output_shape((4, 9, 12))) == (8, 6, 4)
    assert m(batch((4, 9, 12))).shape == (2, 8)
    d = to_dict(m)
    assert d["layers"][0]["conv"] == {"filters": 8, "size": [3, 1], "pad": [1, 0], "dilation": 2, "groups": 2}
    assert d["layers"][1] == {"pool": {"type": "avg", "size": [2, 3], "stride": [1, 3]}}
    assert structure(from_dict(d)) == structure(m)


def test_hand_built_sequential_writes_a_file_that_rebuilds_it():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(8 * 4 * 4, 10), nn.Softmax(dim=1))
    d = to_dict(net, input_shape=(3, 8, 8), name="hand")
    assert d == {"name": "hand", "input": [3, 8, 8], "layers": [
        {"conv": {"filters": 8, "size": 3, "pad": 1, "activation": "relu"}},
        {"pool": {"type": "max", "size": 2}},
        {"dense": {"units": 10, "activation": "softmax"}}]}
    rebuilt = from_dict(d)
    # the trailing Softmax becomes the output activation (documented): everything else is identical,
    # but for the names: PyTorch's positions "0", "1" in Python, the kinds' names from the file
    assert [s[1:] for s in structure(rebuilt)] == [s[1:] for s in structure(net) if s[0] != "5"]
    assert [n for n, _ in rebuilt.named_children()] == ["conv1", "conv1_relu", "pool1", "dense1_flatten", "dense1"]
    assert rebuilt.spec.output_activation == "softmax"
    with pytest.raises(RuntimeError, match="missing keys"):
        rebuilt.load_state_dict(net.state_dict())
    # the Python network's weights load by position (as a checkpoint of the old naming does)
    rebuilt.load_state_dict(upgrade_state_dict(rebuilt, net.state_dict()))
    x = batch((3, 8, 8))
    np.testing.assert_allclose(rebuilt(x).numpy(), net[:5](x).numpy(), rtol=1e-6)


def test_hand_built_modules_that_have_no_file_form_are_refused():
    with pytest.raises(SpecError, match="pass input_shape"):
        to_dict(nn.Sequential(nn.Linear(4, 2)))
    with pytest.raises(SpecError, match=r"module '1' \(Linear\): in_features=5 but the layer receives \[3\]"):
        to_dict(nn.Sequential(nn.Linear(4, 3), nn.Linear(5, 2)), input_shape=(4,))
    with pytest.raises(SpecError, match=r"LSTM has no architecture-file form \(a file's lstm, gru or rnn layer is an "
                       r"nn.Recurrent, which wraps this layer\); supported: .*Conv2d, .*Recurrent"):
        to_dict(nn.Sequential(nn.LSTM(4, 4)), input_shape=(3, 4))
    with pytest.raises(SpecError, match="expected a Sequential or a Graph, received Linear"):
        to_dict(nn.Linear(4, 2), input_shape=(4,))


def test_a_separately_named_activation_stays_a_layer():
    net = nn.Sequential({"fc": nn.Linear(4, 3), "act": nn.ReLU(), "out": nn.Linear(3, 2)})
    d = to_dict(net, input_shape=(4,))
    assert d["layers"] == [{"name": "fc", "dense": {"units": 3}}, {"name": "act", "relu": {}},
                           {"name": "out", "dense": {"units": 2}}]
    assert structure(from_dict(d)) == structure(net)


RESIDUAL = {"name": "res", "input": [4, 8, 8], "nodes": [
    {"name": "c1", "conv": {"filters": 4, "size": 3, "pad": 1, "activation": "relu"}},
    {"name": "c2", "conv": {"filters": 4, "size": 3, "pad": 1}},
    {"name": "sum", "add": None, "inputs": ["c2", "input"]},
    {"name": "branch", "conv": {"filters": 2, "size": 1}, "inputs": ["c1"]},
    {"name": "cat", "concat": {"axis": 1}, "inputs": ["sum", "branch"]},
    {"name": "fc", "dense": {"units": 3, "activation": "softmax"}},
], "outputs": ["fc"]}


def test_graph_form_builds_a_graph_with_residual_add_and_concat():
    g = from_dict(RESIDUAL)
    assert type(g) is Graph and g.spec.output_activation == "softmax"
    assert [(n, type(m).__name__, i) for n, m, i in g.nodes] == [
        ("c1", "Conv2d", ["input"]), ("c1_relu", "ReLU", ["c1"]), ("c2", "Conv2d", ["c1_relu"]),
        ("sum", "Add", ["c2", "input"]), ("branch", "Conv2d", ["c1_relu"]), ("cat", "Concat", ["sum", "branch"]),
        ("fc_flatten", "Flatten", ["cat"]), ("fc", "Linear", ["fc_flatten"])]
    assert g.fc.in_features == 6 * 8 * 8
    x = batch((4, 8, 8))
    assert g(x).shape == (2, 3)
    # the same computation spelled out
    h = g.c1_relu(g.c1(x))
    expected = g.fc(g.fc_flatten(profondo.concat([g.c2(h) + x, g.branch(h)], axis=1)))
    np.testing.assert_allclose(g(x).numpy(), expected.numpy(), rtol=1e-6)


def test_graph_round_trip_folds_what_the_builder_expanded():
    g = from_dict(RESIDUAL)
    d = to_dict(g)
    assert d["nodes"] == [
        {"name": "c1", "conv": {"filters": 4, "size": 3, "pad": 1, "activation": "relu"}},
        {"name": "c2", "conv": {"filters": 4, "size": 3, "pad": 1}},
        {"name": "sum", "add": {}, "inputs": ["c2", "input"]},
        {"name": "branch", "conv": {"filters": 2, "size": 1}, "inputs": ["c1"]},
        {"name": "cat", "concat": {}, "inputs": ["sum", "branch"]},
        {"name": "fc", "dense": {"units": 3, "activation": "softmax"}}]
    assert d["outputs"] == ["fc"]
    g2 = from_dict(d)
    assert structure(g2) == structure(g) and to_dict(g2) == d


def test_graph_nodes_may_be_listed_before_their_inputs():
    d = {"input": [3], "nodes": [{"name": "b", "dense": {"units": 2}, "inputs": ["a"]},
                                 {"name": "a", "dense": {"units": 3}, "inputs": ["input"]}], "outputs": ["b"]}
    g = from_dict(d)
    assert g(batch((3,))).shape == (2, 2)
    assert [e["name"] for e in to_dict(g)["nodes"]] == ["a", "b"]  # written back in running order


def test_graph_output_softmax_node_and_several_outputs():
    g = from_dict({"input": [4], "nodes": [{"name": "h", "dense": {"units": 3}},
                                           {"name": "p", "softmax": None}]})
    assert g.outputs == ["h"] and g.spec.output_activation == "softmax"
    assert to_dict(g)["nodes"][-1] == {"name": "h", "dense": {"units": 3, "activation": "softmax"}}
    two = from_dict({"input": [4], "nodes": [{"name": "a", "dense": {"units": 3}},
                                             {"name": "b", "dense": {"units": 2}, "inputs": ["input"]}],
                     "outputs": ["a", "b"]})
    ya, yb = two(batch((4,)))
    assert ya.shape == (2, 3) and yb.shape == (2, 2) and two.output_shape((4,)) == ((3,), (2,))
    assert structure(from_dict(to_dict(two))) == structure(two)


def test_hand_built_graph_to_dict():
    g = Graph([("a", nn.Linear(4, 4), "input"), ("r", nn.ReLU(), "a"), ("s", Add(), ["r", "input"]),
               ("c", Concat(-1), ["s", "a"])], outputs="c")
    d = to_dict(g, input_shape=(4,))
    assert d["nodes"][1] == {"name": "r", "relu": {}}  # not named like a builder extra ("a_relu"): kept
    assert d["nodes"][3] == {"name": "c", "concat": {"axis": -1}, "inputs": ["s", "a"]}
    assert structure(from_dict(d)) == structure(g)


def test_yaml_text_file_and_dump(tmp_path):
    text = architecture.dumps(from_dict(CNN))
    assert text.splitlines() == [
        "name: cnn", "input: [3, 16, 16]", "layers:",
        "- {conv: {filters: 8, size: 3, pad: 1, activation: relu}}",
        "- {pool: {type: max, size: 2}}",
        "- {dense: {units: 10, activation: softmax}}"]
    path = architecture.dump(from_dict(RESIDUAL), tmp_path / "res.yaml")
    assert structure(architecture.load(path)) == structure(from_dict(RESIDUAL))
    assert structure(architecture.load(str(path))) == structure(architecture.loads(path.read_text()))
    assert structure(architecture.load(text)) == structure(from_dict(CNN))
    assert architecture.load_dict(path) == architecture.to_dict(architecture.load(path)) and architecture.load_dict(text) == architecture.to_dict(from_dict(CNN))
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        architecture.load(str(tmp_path / "missing.yaml"))


def test_spec_errors_from_a_file_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("input: [3]\nlayers:\n  - convv: {}\n")
    with pytest.raises(SpecError, match=r"bad\.yaml: layer 0 \(convv\): unknown layer kind 'convv'"):
        architecture.load(path)


def test_missing_pyyaml_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match="pip install pyyaml"):
        architecture.loads("input: [3]\nlayers: [relu]")


def test_torch_sequential_state_dict_loads_into_the_file_network():
    torch = pytest.importorskip("torch")
    m = architecture.zoo.load("convnetjs-cifar10")
    torch.manual_seed(0)
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 20, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(20, 20, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(320, 10))
    # PyTorch's keys are positions ("3.weight"); the file's layers are named by kind ("conv2.weight")
    m.load_state_dict(upgrade_state_dict(m, {k: v.numpy() for k, v in ref.state_dict().items()}))
    x = batch((3, 32, 32), n=3, seed=1)
    np.testing.assert_allclose(m(x).numpy(), ref(torch.from_numpy(x.numpy())).detach().numpy(),
                               atol=1e-5, rtol=1e-4)
