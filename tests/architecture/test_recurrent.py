"""Embedding and recurrent layers (lstm, gru, rnn) in architecture files: build, forward, write back, errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import profondo
from profondo import analysis, architecture, nn
from profondo.architecture import SpecError, zoo

pytest.importorskip("yaml")

TEXT = """
name: tagger
input: [7]
layers:
  - {name: emb, embedding: {vocab: 11, dim: 5, padding_idx: 0}}
  - {name: enc, lstm: {hidden: 6, layers: 2, bidirectional: true, dropout: 0.25, output: sequence}}
  - gru: {hidden: 4, output: sequence}
  - rnn: {hidden: 3, nonlinearity: relu, output: mean}
  - dense: {units: 2, activation: softmax}
"""


def ids(shape, vocab=11, seed=0):
    return profondo.from_numpy(np.random.default_rng(seed).integers(0, vocab, shape))


def build(text=TEXT):
    profondo.manual_seed(0)
    return architecture.loads(text)


def test_fields_reach_the_layers_and_forward_has_the_predicted_shapes():
    m = build()
    assert [type(c).__name__ for c in m] == ["Embedding", "Recurrent", "Recurrent", "Recurrent", "Linear"]
    assert (m.emb.num_embeddings, m.emb.embedding_dim, m.emb.padding_idx) == (11, 5, 0)
    lstm, gru, rnn = m.enc.rnn, m[2].rnn, m[3].rnn
    assert (type(lstm), lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bidirectional, lstm.dropout) == \
        (nn.LSTM, 5, 6, 2, True, 0.25)
    assert (type(gru), gru.input_size, gru.bidirectional, m[2].output) == (nn.GRU, 12, False, "sequence")
    assert (type(rnn), rnn.input_size, rnn.nonlinearity, m[3].output) == (nn.RNN, 4, "relu", "mean")
    # PyTorch's keys and shapes: 4 gates x 6 hidden; layer 1 reads both directions of layer 0 (2 x 6)
    state = m.state_dict()
    assert state["enc.rnn.weight_ih_l0"].shape == (24, 5) and state["enc.rnn.weight_hh_l1_reverse"].shape == (24, 6)
    assert state["enc.rnn.weight_ih_l1"].shape == (24, 12) and state["gru1.rnn.weight_ih_l0"].shape == (12, 12)
    shapes = [r.output_shape for r in analysis.analyze(m).layers]
    assert shapes == [(7, 5), (7, 12), (7, 4), (3,), (2,)] and m.spec.output_activation == "softmax"
    m.eval()
    y = m(ids((3, 7)))
    assert y.shape == (3, 2) and y.dtype == np.float32 and np.isfinite(y.numpy()).all()


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("output", ["last", "sequence", "mean", "max"])
def test_each_kind_and_output(kind, output):
    m = build(f"input: [6]\nlayers:\n  - embedding: {{vocab: 9, dim: 4}}\n  - {kind}: {{hidden: 5, output: {output}}}")
    expected = (6, 5) if output == "sequence" else (5,)
    assert m.output_shape((6,)) == expected
    y = m(ids((2, 6), 9))
    assert y.shape == (2, *expected)
    full, _ = m[1].rnn(m[0](ids((2, 6), 9)))  # the wrapped layer: (N, T, H), batch first
    summary = {"sequence": full, "last": full[:, -1], "mean": full.mean(axis=1), "max": full.amax(axis=1)}[output]
    np.testing.assert_allclose(y.numpy(), summary.numpy(), rtol=1e-6, atol=1e-6)


def test_dense_after_a_sequence_flattens_it():
    m = build("input: [7]\nlayers:\n  - embedding: {vocab: 11, dim: 5}\n  - gru: {hidden: 4, output: sequence}\n"
              "  - dense: {units: 3}")
    assert type(m[2]) is nn.Flatten and m[3].in_features == 7 * 4  # the whole sequence, not each step
    assert m(ids((2, 7))).shape == (2, 3)
    assert architecture.to_dict(m)["layers"][-1] == {"dense": {"units": 3}}


def test_round_trip_omits_defaults_and_keeps_the_weights():
    d = architecture.load_dict(TEXT)
    m = build()
    assert architecture.to_dict(m) == d
    with_defaults = copy.deepcopy(d)
    with_defaults["layers"][2]["gru"].update(layers=1, bidirectional=False, dropout=0.0)
    with_defaults["layers"][3]["rnn"]["layers"] = 1
    assert architecture.to_dict(architecture.from_dict(with_defaults)) == d
    again = architecture.loads(architecture.dumps(m))
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in m.state_dict().items()}
    again.load_state_dict(m.state_dict())
    m.eval(), again.eval()
    x = ids((2, 7), seed=1)
    np.testing.assert_array_equal(again(x).numpy(), m(x).numpy())


def test_hand_built_network_and_graph_form_are_written():
    net = nn.Sequential(nn.Embedding(20, 8, padding_idx=-1),
                        nn.Recurrent("rnn", 8, 4, output="sequence", nonlinearity="relu"), nn.Recurrent("gru", 4, 3))
    assert architecture.to_dict(net, input_shape=(5,))["layers"] == [
        {"embedding": {"vocab": 20, "dim": 8, "padding_idx": 19}},  # PyTorch's positive twin of -1
        {"rnn": {"hidden": 4, "output": "sequence", "nonlinearity": "relu"}}, {"gru": {"hidden": 3}}]
    graph = {"name": "g", "input": [5], "nodes": [
        {"name": "emb", "embedding": {"vocab": 20, "dim": 8}},
        {"name": "fwd", "lstm": {"hidden": 4}},
        {"name": "seq", "gru": {"hidden": 4, "output": "sequence"}, "inputs": ["emb"]},
        {"name": "pooled", "gru": {"hidden": 4, "output": "max"}},
        {"name": "both", "concat": {}, "inputs": ["fwd", "pooled"]}], "outputs": ["both"]}
    g = architecture.from_dict(graph)
    assert architecture.to_dict(g) == graph and g(ids((2, 5), 20)).shape == (2, 8)
    with pytest.raises(SpecError, match=r"module '1' \(Recurrent\): input_size=4 but the layer receives \[5, 8\]"):
        architecture.to_dict(nn.Sequential(nn.Embedding(20, 8), nn.Recurrent("lstm", 4, 3)), input_shape=(5,))


@pytest.mark.parametrize("shape, layers, message", [
    ([3, 8, 8], "[{conv: {filters: 16, size: 3, pad: 1}}, {lstm: {hidden: 8}}]",
     r"layer 1 \(lstm\): 'lstm' expects an input \[seq_len, features\] .*received \[16, 8, 8\]"),
    ([6, 4], "[{gru: {hidden: 8, output: last}}, {gru: {hidden: 8}}]",
     r"layer 1 \(gru\): 'gru' expects an input \[seq_len, features\] .*received \[8\]"),
    ([3, 8, 8], "[{embedding: {vocab: 5, dim: 2}}]",
     r"layer 0 \(embedding\): 'embedding' expects an input \[seq_len\] of token ids, received \[3, 8, 8\]"),
    ([6], "[{embedding: {vocab: 5, dim: 2, padding_idx: 5}}]",
     r"layer 0 \(embedding\): field 'padding_idx' expected null or a token id in \[0, 5\), received 5"),
    ([6], "[{embedding: {vocab: 5, dim: 2, padding_idx: -1}}]",
     r"field 'padding_idx' expected null or a token id in \[0, vocab\), received -1"),
    ([6], "[{embedding: {dim: 2}}]", r"missing field 'vocab' of 'embedding' \(expected a positive integer\)"),
    ([6], "[relu, {embedding: {vocab: 5, dim: 2}}]",
     r"layer 1 \(embedding\): 'embedding' reads token ids, the network input: it must be the first layer"),
    ([6, 4], "[{lstm: {hidden: 8, output: first}}]",
     r"field 'output' expected last, sequence, mean or max, received 'first'"),
    ([6, 4], "[{rnn: {hidden: 8, nonlinearity: sigmoid}}]",
     r"field 'nonlinearity' expected tanh or relu, received 'sigmoid'"),
    ([6, 4], "[{gru: {hidden: 8, nonlinearity: relu}}]", r"unknown field 'nonlinearity' for 'gru'; valid fields: hidden,"),
    ([6, 4], "[{lstm: {hidden: 8, dropout: 1}}]", r"field 'dropout' expected a probability in \[0, 1\)"),
    ([6, 4], "[{lstm: {hidden: 0}}]", r"layer 0 \(lstm\): field 'hidden' expected a positive integer, received 0"),
])
def test_errors_name_the_layer_the_field_and_what_was_received(shape, layers, message):
    with pytest.raises(SpecError, match=message):
        architecture.loads(f"input: {shape}\nlayers: {layers}")


def test_graph_embedding_reads_the_network_input():
    with pytest.raises(SpecError, match=r"node 1 \(emb\): 'embedding' reads token ids, the network input: expected "
                                        r"inputs \['input'\], received \['a'\]"):
        architecture.from_dict({"input": [5], "nodes": [{"name": "a", "identity": None},
                                                {"name": "emb", "embedding": {"vocab": 4, "dim": 2}}]})


def test_zoo_imdb_bigru():
    profondo.manual_seed(0)
    m = zoo.load("imdb-bigru")
    assert m.spec == architecture.Spec("imdb-bigru", (400,), "softmax") and "imdb-bigru" in zoo.names()
    assert architecture.to_dict(m) == architecture.load_dict(zoo.path("imdb-bigru"))
    assert m[0].weight.shape == (20002, 64) and not m[0].weight.numpy()[0].any()  # the padding row is zero
    m.eval()
    x = ids((2, 400), 20002)
    assert m(x).shape == (2, 2) and np.isfinite(m(x).numpy()).all()
