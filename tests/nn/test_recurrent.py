"""Recurrent layers: PyTorch parity (weights loaded both ways, packed sequences), states in
and out, dropout between layers, layouts, configs and errors."""

import numpy as np
import pytest

import profondo
from profondo.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, sequence_mask


def _state(t):
    return {k: v.detach().numpy() for k, v in t.state_dict().items()}


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_layer_matches_torch_packed_sequences(name, batch_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ours_cls = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}[name]
    theirs = getattr(torch.nn, name)(4, 5, num_layers=2, bidirectional=True, batch_first=batch_first)
    ours = ours_cls(4, 5, num_layers=2, bidirectional=True, batch_first=batch_first)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(_state(theirs))
    rng = np.random.default_rng(0)
    lengths = [6, 4, 1]
    x = rng.standard_normal((3, 6, 4) if batch_first else (6, 3, 4)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    xp = profondo.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=batch_first, enforce_sorted=False)
    yt, ht = theirs(packed)
    yt, _ = torch.nn.utils.rnn.pad_packed_sequence(yt, batch_first=batch_first, total_length=6)
    yp, hp = ours(xp, lengths=lengths)
    finals = list(zip(hp, ht)) if name == "LSTM" else [(hp, ht)]
    np.testing.assert_allclose(yp.numpy(), yt.detach().numpy(), atol=1e-6)
    for p, t in finals:
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), atol=1e-6)
    g = rng.standard_normal(yp.shape).astype(np.float32)
    (yp * profondo.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xp.grad.numpy(), xt.grad.numpy(), atol=1e-6)
    for (k, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), atol=1e-5, err_msg=k)


@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells_match_torch_and_weights_load_both_ways(name):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    ours = {"LSTMCell": LSTMCell, "GRUCell": GRUCell, "RNNCell": RNNCell}[name](3, 4)
    theirs = getattr(torch.nn, name)(3, 4)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})  # profondo -> torch
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    p, t = ours(profondo.tensor(x)), theirs(torch.tensor(x))
    for a, b in zip(p if name == "LSTMCell" else [p], t if name == "LSTMCell" else [t]):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-6)


def test_initial_state_in_final_state_out_continues_the_sequence():
    profondo.manual_seed(0)
    lstm = LSTM(3, 4, num_layers=2)
    x = profondo.randn(7, 2, 3)
    y_full, (h_full, c_full) = lstm(x)
    y1, state = lstm(x[:4])
    y2, (h2, c2) = lstm(x[4:], state)
    np.testing.assert_allclose(np.concatenate([y1.numpy(), y2.numpy()]), y_full.numpy(), atol=1e-6)
    np.testing.assert_allclose(h2.numpy(), h_full.numpy(), atol=1e-6)
    np.testing.assert_allclose(c2.numpy(), c_full.numpy(), atol=1e-6)


def test_gradient_reaches_the_initial_state():
    gru = GRU(3, 4, num_layers=2, bidirectional=True)
    h0 = profondo.zeros(4, 2, 4, requires_grad=True)
    y, h = gru(profondo.randn(5, 2, 3), h0)
    (y.sum() + h.sum()).backward()
    assert h0.grad.shape == (4, 2, 4) and np.abs(h0.grad.numpy()).sum() > 0


def test_dropout_between_layers_only_while_training():
    profondo.manual_seed(0)
    lstm = LSTM(3, 8, num_layers=2, dropout=0.5)
    x = profondo.randn(4, 2, 3)
    a, b = lstm(x)[0].numpy(), lstm(x)[0].numpy()
    assert not np.allclose(a, b)  # a fresh dropout mask each call
    lstm.eval()
    np.testing.assert_array_equal(lstm(x)[0].numpy(), lstm(x)[0].numpy())
    single = LSTM(3, 8, num_layers=1, dropout=0.5)  # no layer after the only one: nothing dropped
    np.testing.assert_array_equal(single(x)[0].numpy(), single(x)[0].numpy())


def test_mask_in_the_input_layout_equals_lengths():
    profondo.manual_seed(0)
    rnn = RNN(3, 4, batch_first=True, bidirectional=True)
    x = profondo.randn(2, 5, 3)
    by_lengths = rnn(x, lengths=[5, 2])
    by_mask = rnn(x, mask=np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool))
    for a, b in zip(by_lengths, by_mask):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_unbatched_input():
    profondo.manual_seed(0)
    lstm = LSTM(3, 4)
    x = profondo.randn(5, 3)
    y, (h, c) = lstm(x)
    y_b, (h_b, c_b) = lstm(x.reshape(5, 1, 3))
    assert y.shape == (5, 4) and h.shape == (1, 4)
    np.testing.assert_allclose(y.numpy(), y_b.numpy()[:, 0], atol=1e-7)


def test_config_shapes_and_counts():
    lstm = LSTM(10, 20, num_layers=2, bidirectional=True, dropout=0.1, batch_first=True)
    rebuilt = LSTM.from_config(lstm.get_config())
    assert rebuilt.get_config() == lstm.get_config()
    assert list(rebuilt.state_dict()) == list(lstm.state_dict())
    assert lstm.output_shape((7, 10)) == (7, 40)
    # per step: layer 1 two directions of 4*20*(10+20), layer 2 two of 4*20*(40+20)
    assert lstm.macs_per_step() == 2 * 80 * 30 + 2 * 80 * 60
    assert RNN(3, 4, nonlinearity="relu").get_config()["nonlinearity"] == "relu"
    assert "nonlinearity='relu'" in repr(RNN(3, 4, nonlinearity="relu"))
    assert sum(p.numel() for p in GRU(3, 4).parameters()) == 3 * 4 * (3 + 4 + 2)
    assert GRUCell(3, 4, bias=False).bias_ih is None and len(GRUCell(3, 4, bias=False).state_dict()) == 2


def test_initialisation_is_uniform_in_one_over_sqrt_hidden():
    profondo.manual_seed(0)
    bound = 1 / np.sqrt(16)
    for p in LSTM(8, 16).parameters():
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.9 * bound


def test_sequence_mask():
    np.testing.assert_array_equal(sequence_mask([3, 1], 4), [[1, 1], [1, 0], [1, 0], [0, 0]])
    assert sequence_mask([2, 0], batch_first=True).tolist() == [[True, True], [False, False]]
    with pytest.raises(ValueError, match="exceeds the sequence length 2"):
        sequence_mask([3], 2)


def test_errors():
    lstm = LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\): expected an input of shape \(seq_len, batch, input_size\)"):
        lstm(profondo.randn(5, 2, 6))
    with pytest.raises(ValueError, match=r"initial state must be .* = \(2, 2, 4\), received \(1, 2, 4\)"):
        lstm(profondo.randn(5, 2, 3), (profondo.zeros(1, 2, 4), profondo.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="one length per sequence"):
        lstm(profondo.randn(5, 2, 3), lengths=[5])
    with pytest.raises(ValueError, match="give lengths or mask, not both"):
        lstm(profondo.randn(5, 2, 3), lengths=[5, 5], mask=np.ones((5, 2), bool))
    with pytest.raises(ValueError, match=r"GRUCell\(3, 4\): expected an input of shape \(batch, 3\)"):
        GRUCell(3, 4)(profondo.randn(2, 5))
    with pytest.raises(ValueError, match="dropout must be in"):
        GRU(3, 4, dropout=1.0)


def test_recurrent_wrapper_outputs_for_chains_of_layers():
    from profondo.nn import Embedding, Linear, Sequential
    from profondo.nn.recurrent import Recurrent

    profondo.manual_seed(0)
    x = profondo.randn(3, 5, 4)
    lengths = [5, 3, 2]
    block = Recurrent("lstm", 4, 6, bidirectional=True, output="last")
    y, (h, _) = block.rnn(x, lengths=lengths)
    np.testing.assert_allclose(block(x, lengths).numpy(), np.concatenate([h.numpy()[0], h.numpy()[1]], 1))
    block.output = "sequence"
    np.testing.assert_array_equal(block(x, lengths).numpy(), y.numpy())
    block.output = "mean"
    np.testing.assert_allclose(block(x, lengths).numpy()[1], y.numpy()[1, :3].mean(0), rtol=1e-6)
    block.output = "max"
    np.testing.assert_allclose(block(x, lengths).numpy()[2], y.numpy()[2, :2].max(0))
    net = Sequential(Embedding(50, 4), Recurrent("gru", 4, 8, num_layers=2), Linear(8, 2))
    assert net(np.zeros((2, 7), np.int64)).shape == (2, 2) and net.output_shape((7,)) == (2,)
    assert Recurrent("rnn", 4, 8, output="sequence").output_shape((7, 4)) == (7, 8)
    assert "rnn.weight_ih_l0" in Recurrent("rnn", 4, 8).state_dict()
    assert Recurrent.from_config(block.get_config()).get_config() == block.get_config()
    with pytest.raises(ValueError, match="output must be one of"):
        Recurrent("lstm", 4, 8, output="first")


def test_has_recurrent():
    from profondo.nn import Linear, Sequential
    from profondo.nn.recurrent import Recurrent, has_recurrent

    assert has_recurrent(Sequential(Recurrent("gru", 4, 8), Linear(8, 2))) and has_recurrent(LSTMCell(2, 3))
    assert not has_recurrent(Sequential(Linear(8, 2)))
