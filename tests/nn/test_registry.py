"""The Module registry: configs name classes by module and class, so equal bare names never collide."""

from __future__ import annotations

import numpy as np
import pytest

from profondo import nn
from profondo.nn.module import Module, class_name


def _bigru() -> nn.Sequential:
    return nn.Sequential(nn.Embedding(50, 8, padding_idx=0), nn.Recurrent("gru", 8, 6, bidirectional=True),
                         nn.Linear(12, 2))


def test_a_config_round_trip_survives_another_class_named_recurrent():
    pytest.importorskip("onnx")
    import profondo.io.onnx_import  # noqa: F401  (defines classes of its own, once named Recurrent)

    pytest.importorskip("yaml")
    from profondo.architecture import zoo

    net = zoo.load("imdb-bigru")
    rebuilt = nn.Sequential.from_config(net.get_config())
    assert [type(m) for m in rebuilt] == [type(m) for m in net]
    assert type(rebuilt[1]) is nn.Recurrent
    rebuilt.load_state_dict(net.state_dict())
    tokens = np.array([[3, 7, 9, 0], [1, 2, 0, 0]])
    np.testing.assert_allclose(rebuilt.eval()(tokens).numpy(), net.eval()(tokens).numpy(), rtol=1e-6)


def test_a_class_of_the_same_bare_name_elsewhere_does_not_replace_nn_s():
    class Recurrent(Module):  # a user's own class with nn's bare name
        def forward(self, x):
            return x

    try:
        assert class_name(Recurrent) != class_name(nn.Recurrent)
        config = _bigru().get_config()
        assert config["layers"][1]["class_name"] == "profondo.nn.recurrent.Recurrent"
        assert type(nn.Sequential.from_config(config)[1]) is nn.Recurrent
        assert Module._registry[class_name(Recurrent)] is Recurrent
    finally:
        Module._registry.remove(Recurrent)


def test_configs_with_bare_class_names_still_load():
    """Checkpoints written before configs stored qualified names name profondo's classes bare."""
    config = _bigru().get_config()
    for entry in config["layers"]:
        entry["class_name"] = entry["class_name"].rsplit(".", 1)[1]
    assert [e["class_name"] for e in config["layers"]] == ["Embedding", "Recurrent", "Linear"]
    rebuilt = nn.Sequential.from_config(config)
    assert [type(m) for m in rebuilt] == [nn.Embedding, nn.Recurrent, nn.Linear]
    graph = nn.Graph([("fc", nn.Linear(4, 4), "input"), ("sum", nn.Add(), ["fc", "input"])], "sum")
    graph_config = graph.get_config()
    for node in graph_config["nodes"]:
        node["class_name"] = node["class_name"].rsplit(".", 1)[1]
    assert [type(m) for _, m, _ in nn.Graph.from_config(graph_config).nodes] == [nn.Linear, nn.Add]


def test_an_unknown_class_name_is_an_error_naming_it():
    with pytest.raises(KeyError, match="unknown layer class 'profondo.nn.Nope'"):
        Module._registry["profondo.nn.Nope"]
