"""Errors in architecture files name the layer, the field, what was expected and what was received."""

from __future__ import annotations

import re

import pytest

from profondo.architecture import SpecError, from_dict, loads
from tests.memory import peak_growth

pytest.importorskip("yaml")


def error(d) -> str:
    with pytest.raises(SpecError) as info:
        from_dict(d)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def layers(*entries, input=(3, 16, 16)):
    return {"name": "t", "input": list(input), "layers": list(entries)}


def test_unknown_layer_kind_lists_the_valid_ones():
    msg = error(layers("relu", {"name": "c", "convolution": {"filters": 2}}))
    assert msg.startswith("layer 1 (c): unknown layer kind 'convolution'; valid kinds: activation, add,")
    assert "conv, dense, dropout" in msg


def test_unknown_field_lists_the_valid_ones():
    msg = error(layers({"conv": {"filters": 4, "size": 3, "padding": 1}}))
    assert msg == ("layer 0 (conv): unknown field 'padding' for 'conv'; valid fields: filters, size, stride, pad, "
                   "dilation, groups, bias, activation, init, round")
    assert "valid fields: none" in error(layers({"relu": {"slope": 1}}))


def test_missing_and_badly_typed_fields():
    assert error(layers({"pool": {"type": "max", "size": 2}}, {"conv": {"size": 3}})) == \
        "layer 1 (conv): missing field 'filters' of 'conv' (expected a positive integer)"
    assert error(layers({"name": "c1", "conv": {"filters": 4, "size": "five"}})) == \
        "layer 0 (c1): field 'size' expected a positive integer or [height, width], received 'five'"
    assert "field 'rate' expected a probability in [0, 1), received 1.5" in error(layers({"dropout": 1.5}))
    assert "field 'activation' expected null or one of relu, relu6" in \
        error(layers({"dense": {"units": 2, "activation": "swish"}}))
    assert "field 'init' expected null (PyTorch's default) or one of" in \
        error(layers({"dense": {"units": 2, "init": "zeros"}}))
    assert "field 'type' expected max or avg, received 'min'" in error(layers({"pool": {"type": "min", "size": 2}}))
    assert "missing field 'type' of 'activation'" in error(layers({"activation": {"slope": 0.1}}))


def test_non_dividing_size_rule_shows_the_arithmetic():
    # H: (15 - 5 + 2*1)/2 + 1 = 7 divides; W: (16 - 5 + 2*1)/2 + 1 = 7.5 does not
    msg = error(layers("relu", "relu", "relu", {"name": "conv2", "conv": {"filters": 4, "size": 5, "stride": 2,
                                                                           "pad": 1}}, input=(3, 15, 16)))
    assert msg.startswith("layer 3 (conv2): W_out = (16 - 5 + 2*1)/2 + 1 = 7.5 is not an integer")
    assert "`round: floor`" in msg and "take 7 as PyTorch does" in msg
    msg = error(layers({"pool": {"type": "max", "size": 3, "stride": 2}}, input=(3, 8, 8)))
    assert msg.startswith("layer 0 (pool): H_out = (8 - 3 + 2*0)/2 + 1 = 3.5 is not an integer")
    msg = error(layers({"conv": {"filters": 2, "size": 7, "round": "floor"}}, input=(3, 5, 5)))
    assert msg == "layer 0 (conv): H_out = (5 - 7 + 2*0)/1 + 1 = -1: the window (7) is larger than the padded input (5)"
    msg = error(layers({"conv": {"filters": 2, "size": 3, "dilation": 2}}, input=(3, 4, 4)))
    assert "H_out = (4 - 5 + 2*0)/1 + 1 = 0" in msg  # the dilated window spans 2*(3-1)+1 = 5


def test_shape_errors_between_layers():
    assert error(layers({"dense": {"units": 8}}, {"conv": {"filters": 2, "size": 1}})) == \
        "layer 1 (conv): 'conv' expects an input volume [channels, height, width], received [8]"
    assert error(layers({"conv": {"filters": 6, "size": 1, "groups": 4}})) == \
        ("layer 0 (conv): field 'groups' expected a divisor of the input depth (3) and of filters (6), "
         "received 4")
    assert "field 'pad' expected at most half the size (2), received 2" in \
        error(layers({"pool": {"type": "max", "size": 2, "pad": 2}}))


def test_entry_shape_errors():
    assert "expected exactly one layer kind, received several (conv, relu)" in \
        error(layers({"conv": {"filters": 1, "size": 1}, "relu": None}))
    assert "expected exactly one layer kind, received none" in error(layers({"name": "x"}))
    assert "layer 0: expected a layer kind or a map" in error(layers(5))
    assert "field 'name' expected a non-empty string without '.'" in error(layers({"name": "a.b", "relu": None}))
    assert "expected a map of fields for 'conv'" in error(layers({"conv": 3}))
    assert "module name 'x' is already taken by layer 0" in \
        error(layers({"name": "x", "relu": None}, {"name": "x", "relu": None}))
    assert "'inputs' belongs to the graph form" in error(layers({"inputs": ["a"]}))
    assert "layer 0 (forward): the name 'forward' is taken by a Module attribute" in \
        error(layers({"name": "forward", "relu": None}))
    assert "the name 'spec' is taken" in error(nodes({"name": "spec", "relu": None}))


def test_add_and_concat_need_the_graph_form():
    assert "layer 0 (add): 'add' joins several inputs: write the network in the graph form" in error(layers("add"))


def test_top_level_errors():
    assert error({"layers": ["relu"]}).startswith("missing field 'input'")
    assert "received [3, 0]" in error({"input": [3, 0], "layers": ["relu"]})
    assert "unknown top-level field 'layer'; valid fields: name, input, layers, nodes, outputs" in \
        error({"input": [3], "layer": ["relu"]})
    assert "exactly one of 'layers'" in error({"input": [3], "layers": ["relu"], "nodes": []})
    assert "received neither" in error({"input": [3]})
    assert "field 'layers' expected a non-empty list of layers" in error({"input": [3], "layers": []})
    assert "'outputs' belongs to the graph form" in error({"input": [3], "layers": ["relu"], "outputs": ["x"]})
    assert "received list" in error([1, 2])


def nodes(*entries, outputs=None, input=(4, 8, 8)):
    d = {"input": list(input), "nodes": list(entries)}
    return d if outputs is None else {**d, "outputs": outputs}


def test_graph_unknown_input_names():
    msg = error(nodes({"name": "a", "conv": {"filters": 4, "size": 1}},
                      {"name": "s", "add": None, "inputs": ["a", "b"]}))
    assert msg == "node 1 (s): unknown input 'b'; expected 'input' (the network input) or one of the nodes ['a', 's']"
    assert "field 'outputs' expected a list of node names out of ['a']" in \
        error(nodes({"name": "a", "relu": None}, outputs=["z"]))


def test_graph_cycle_is_reported_with_its_nodes():
    msg = error(nodes({"name": "a", "relu": None, "inputs": ["c"]}, {"name": "b", "relu": None},
                      {"name": "c", "add": None, "inputs": ["b", "input"]}))
    assert re.search(r"nodes: the nodes form a cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)$", msg)


def test_graph_add_and_concat_shape_mismatches_name_the_inputs():
    msg = error(nodes({"name": "down", "conv": {"filters": 8, "size": 2, "stride": 2}},
                      {"name": "res", "add": None, "inputs": ["down", "input"]}))
    assert msg.startswith("node 1 (res): input 'down' [8, 4, 4], 'input' [4, 8, 8]: Add: expected two or more "
                          "inputs of one shape")
    msg = error(nodes({"name": "down", "pool": {"type": "max", "size": 2}},
                      {"name": "cat", "concat": 1, "inputs": ["down", "input"]}))
    assert "node 1 (cat): input 'down' [4, 4, 4], 'input' [4, 8, 8]: Concat(axis=1): inputs must agree" in msg
    assert "'add' joins two or more inputs, received 1" in error(nodes({"name": "s", "add": None}))
    assert "'relu' takes one input, received 2" in error(nodes({"name": "r", "relu": None,
                                                                "inputs": ["input", "input"]}))


def test_graph_node_names():
    assert "node 0 (relu): missing field 'name'" in error(nodes("relu"))
    assert "node name 'a' is used twice (also by node 0)" in \
        error(nodes({"name": "a", "relu": None}, {"name": "a", "tanh": None}))
    assert "the module 'a_relu' it adds clashes with a node of that name" in \
        error(nodes({"name": "a", "conv": {"filters": 1, "size": 1, "activation": "relu"}},
                    {"name": "a_relu", "tanh": None}))
    assert "field 'inputs' expected a list of node names" in error(nodes({"name": "a", "relu": None, "inputs": []}))


def test_invalid_yaml():
    with pytest.raises(SpecError, match="not valid YAML") as info:
        loads("input: [3\nlayers: -")
    assert str(info.value) == ("not valid YAML at line 2, column 7: while parsing a flow sequence, expected ',' or "
                               "']', but got ':'")
    assert (info.value.line, info.value.column) == (2, 7)


def test_a_size_rule_after_the_first_layer_says_where_its_input_came_from():
    msg = error(layers({"name": "conv1", "conv": {"filters": 6, "size": 5}}, {"pool": {"type": "max", "size": 2}},
                       {"name": "conv2", "conv": {"filters": 16, "size": 5}}, input=(1, 12, 12)))
    assert msg == ("layer 2 (conv2): H_out = (4 - 5 + 2*0)/1 + 1 = 0: the window (5) is larger than the padded input "
                   "(4); its input [6, 4, 4] is the output of layer 1 (pool1)")
    msg = error(nodes({"name": "a", "conv": {"filters": 4, "size": 3}}, {"name": "b", "pool": {"type": "max", "size": 4}}))
    assert msg.endswith("= 1.5 is not an integer: change size, stride or pad, or add `round: floor` to the layer to "
                        "take 1 as PyTorch does; its input [4, 6, 6] is the output of node 0 (a)")
    assert error({"input": [3]} | {"layers": None}).startswith("field 'layers' expected a list")
    assert "received nothing (an empty file)" in error(None)


# --- hostile files: refused quickly, in bounded memory, with short messages -------------------------

def _alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [relu, relu, relu, relu, relu, relu, relu, relu, relu]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\ninput: [4]\nlayers: *a{levels - 1}\n"


def test_an_alias_bomb_is_refused_at_once():
    import time

    text = _alias_bomb()
    assert len(text) < 600
    started = time.perf_counter()
    with pytest.raises(SpecError, match="expands to more than 100000 YAML nodes"):
        loads(text)
    assert time.perf_counter() - started < 2.0


def test_aliases_within_the_limits_still_work():
    net = loads("input: [1, 8, 8]\nlayers: [&c {conv: {filters: 2, size: 3, pad: 1}}, *c, relu]\n")
    assert len(net) == 3


def test_deep_nesting_and_recursive_aliases_are_spec_errors():
    with pytest.raises(SpecError, match="nested more than 64 levels deep"):
        loads("input: [4]\nlayers: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SpecError, match="an alias refers to a node that contains it"):
        loads("input: [4]\nlayers: &l [relu, *l]\n")


def test_bytes_that_are_not_utf8_name_the_line(tmp_path):
    from profondo.architecture import load

    path = tmp_path / "net.yaml"
    path.write_bytes(b"name: t\ninput: [4]\nlayers:\n  - dense: {units: 3}\xff\n")
    with pytest.raises(SpecError, match=r"net.yaml: line 4: byte b'\\xff' is not UTF-8 text"):
        load(path)


@pytest.mark.parametrize("entry, input", [
    ({"dense": {"units": 10**12}}, (4,)),
    ({"dense": {"units": 2**20}}, (2**20,)),
    ({"conv": {"filters": 2**16, "size": 1}}, (2**16, 1, 1)),
    ({"embedding": {"vocab": 2**40, "dim": 8}}, (4,)),
], ids=["dense-1e12", "dense-4TiB", "conv-16GiB", "embedding"])
def test_sizes_past_the_cap_are_refused_before_allocation(entry, input):
    from profondo.backend.limits import set_max_file_bytes

    previous = set_max_file_bytes(64 * 2**20)
    try:
        with peak_growth() as grown:
            msg = error(layers(entry, input=input))
    finally:
        set_max_file_bytes(previous)
    assert (grown() or 0) < 16 * 2**20
    assert re.match(r"layer 0 \((dense|conv|embedding)\): its weights needs more memory than the limit of 64 MiB",
                    msg), msg


def test_messages_show_a_bounded_part_of_what_they_received():
    msg = error(layers({"dense": {"units": list(range(10**5))}}))
    assert "received [0, 1, 2, 3, 4, 5, ...]" in msg and len(msg) < 300
