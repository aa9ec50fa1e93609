"""Graph: named nodes run in topological order; Add and Concat; validation; gradients."""

from __future__ import annotations

import numpy as np
import pytest

import profondo
from profondo import nn
from profondo.nn.graph import Add, Concat, Graph, topological_order


def arr(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def residual_block(channels=3):
    return Graph([("conv", nn.Conv2d(channels, channels, 3, padding=1), ["input"]),
                  ("relu", nn.ReLU(), "conv"),
                  ("add", Add(), ["relu", "input"]),
                  ("cat", Concat(1), ["add", "conv"])], outputs=["cat"])


def test_residual_add_and_concat_forward_matches_the_computation_spelled_out():
    profondo.manual_seed(0)
    g = residual_block()
    x = profondo.tensor(arr(2, 3, 5, 5))
    c = g.conv(x)
    expected = np.concatenate([np.maximum(c.numpy(), 0) + x.numpy(), c.numpy()], axis=1)
    np.testing.assert_allclose(g(x).numpy(), expected, rtol=1e-6)
    assert g.output_shape((3, 5, 5)) == (6, 5, 5)
    assert list(g.state_dict()) == ["conv.weight", "conv.bias"]


def bind(module, name, value):
    """Read a parameter from a gradcheck input (float64) instead of the registered Parameter."""
    object.__setattr__(module, name, value)


def test_gradients_flow_through_both_branches_gradcheck():
    profondo.manual_seed(1)
    g = Graph([("fc", nn.Linear(4, 4), ["input"]),
               ("act", nn.Tanh(), ["fc"]),
               ("res", Add(), ["act", "input", "fc"]),  # input used twice, fc used twice: gradients accumulate
               ("cat", Concat(-1), ["res", "act"]),
               ("out", nn.Linear(8, 3), ["cat"])], outputs="out")
    w, b = g.fc.weight.numpy().astype(np.float64), g.fc.bias.numpy().astype(np.float64)
    w2, b2 = g.out.weight.numpy().astype(np.float64), g.out.bias.numpy().astype(np.float64)

    def run(x, w, b, w2, b2):
        bind(g.fc, "weight", w), bind(g.fc, "bias", b), bind(g.out, "weight", w2), bind(g.out, "bias", b2)
        return g(x)

    assert profondo.gradcheck(run, [arr(3, 4, seed=2, dtype=np.float64), w, b, w2, b2])
    assert g.fc.weight.dtype == g.out.bias.dtype == np.float64  # the checked inputs were the ones used


def test_parameter_gradients_reach_every_node():
    profondo.manual_seed(2)
    g = residual_block()
    g(profondo.tensor(arr(2, 3, 4, 4))).sum().backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in g.parameters())


def test_nodes_listed_out_of_order_run_in_topological_order():
    g = Graph([("b", nn.Tanh(), ["a"]), ("a", nn.ReLU(), ["input"])], outputs="b")
    x = arr(2, 3)
    np.testing.assert_allclose(g(profondo.tensor(x)).numpy(), np.tanh(np.maximum(x, 0)), rtol=1e-6)
    assert [n for n, _, _ in g.nodes] == ["b", "a"]  # as given
    assert topological_order({"b": ["a"], "a": ["input"], "c": ["input"]}) == ["a", "b", "c"]


def test_several_outputs_return_a_tuple():
    g = Graph([("a", nn.ReLU(), "input"), ("b", nn.Sigmoid(), "input")], outputs=["b", "a"])
    yb, ya = g(profondo.tensor(arr(2, 3)))
    assert ya.shape == yb.shape == (2, 3) and float(yb.numpy().min()) > 0
    assert g.output_shape((3,)) == ((3,), (3,))


def test_validation_errors():
    with pytest.raises(ValueError, match=r"node 's': unknown input 'nope'; expected 'input' or one of the nodes"):
        Graph([("a", nn.ReLU(), "input"), ("s", Add(), ["a", "nope"])], outputs="s")
    with pytest.raises(ValueError, match="the nodes form a cycle: a -> b -> a"):
        Graph([("a", nn.ReLU(), "b"), ("b", nn.ReLU(), "a")], outputs="b")
    with pytest.raises(ValueError, match="node name 'a' is used twice"):
        Graph([("a", nn.ReLU(), "input"), ("a", nn.ReLU(), "input")], outputs="a")
    for reserved in ("training", "forward", "outputs", "input", "a.b"):
        with pytest.raises(ValueError, match="node name"):
            Graph([(reserved, nn.ReLU(), "input")], outputs=reserved)
    with pytest.raises(ValueError, match="unknown output 'z'"):
        Graph([("a", nn.ReLU(), "input")], outputs="z")
    with pytest.raises(TypeError, match="node 'a' expected a Module, received function"):
        Graph([("a", profondo.relu, "input")], outputs="a")
    with pytest.raises(TypeError, match=r"\(name, module, inputs\) triples"):
        Graph([("a", nn.ReLU())], outputs="a")


def test_shape_errors_name_the_node_and_its_inputs():
    g = Graph([("down", nn.MaxPool2d(2), "input"), ("add", Add(), ["down", "input"])], outputs="add")
    with pytest.raises(ValueError, match=r"Graph node 'add' \(Add\) with inputs 'down' \[3, 2, 2\], 'input' "
                                         r"\[3, 4, 4\]: Add: expected two or more inputs of one shape"):
        g.output_shape((3, 4, 4))
    with pytest.raises(ValueError, match=r"Add: expected two or more inputs of one shape, received "
                                         r"\[\(1, 3, 2, 2\), \(1, 3, 4, 4\)\]"):
        g(profondo.tensor(arr(1, 3, 4, 4)))  # no silent broadcasting in a residual add


def test_concat_shapes():
    assert Concat(1).output_shape((2, 4, 4), (3, 4, 4)) == (5, 4, 4)
    assert Concat(-1).output_shape((2, 4), (2, 1)) == (2, 5)
    with pytest.raises(ValueError, match="0 is the batch"):
        Concat(0).output_shape((2,), (2,))
    with pytest.raises(ValueError, match="inputs must agree on every axis but 1"):
        Concat(1).output_shape((2, 4, 4), (3, 4, 5))


def test_config_round_trip_and_repr():
    profondo.manual_seed(3)
    g = residual_block()
    g2 = Graph.from_config(g.get_config())
    assert [(n, type(m), i) for n, m, i in g2.nodes] == [(n, type(m), i) for n, m, i in g.nodes]
    g2.load_state_dict(g.state_dict())
    x = profondo.tensor(arr(1, 3, 4, 4))
    np.testing.assert_array_equal(g2(x).numpy(), g(x).numpy())
    assert "(add): Add() <- relu, input" in repr(g) and "outputs=['cat']" in repr(g)


def test_graph_nested_in_sequential_trains_and_moves_modes():
    net = nn.Sequential(residual_block(2), nn.Dropout(0.5))
    net.eval()
    assert not net[0].conv.training
    assert [n for n, _ in net.named_parameters()] == ["0.conv.weight", "0.conv.bias"]
