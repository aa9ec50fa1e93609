"""Fused recurrent operators: gradcheck, against PyTorch's nn.LSTM / nn.GRU / nn.RNN (and their cells)
with the same weights, against the same cell composed of elementary operators, and masking."""

import numpy as np
import pytest

import profondo
from profondo import functional as F
from profondo.functional import recurrent as R
from tests.conftest import randn
from tests.functional.harness import Case, operator_tests

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def _weights(rng, kind, features, hidden, scale=0.5):
    g = GATES[kind] * hidden
    return [randn(rng, g, features, scale=scale), randn(rng, g, hidden, scale=scale), randn(rng, g, scale=scale),
            randn(rng, g, scale=scale)]


def _sequence(kind, mask=None, reverse=False):
    """The operator as a function of (x, h0, [c0], w_ih, w_hh, b_ih, b_hh), outputs as a tuple."""
    if kind == "lstm":
        return lambda x, h, c, *w: R.lstm_sequence(x, h, c, *w, mask=mask, reverse=reverse)
    if kind == "gru":
        return lambda x, h, *w: R.gru_sequence(x, h, *w, mask=mask, reverse=reverse)
    return lambda x, h, *w: R.rnn_sequence(x, h, *w, nonlinearity=kind[4:], mask=mask, reverse=reverse)


def _inputs(rng, kind, steps=3, batch=2, features=3, hidden=2):
    states = [randn(rng, batch, hidden) for _ in range(2 if kind == "lstm" else 1)]
    return [randn(rng, steps, batch, features), *states, *_weights(rng, kind, features, hidden)]


def _torch_module(kind, features, hidden, cell=False):
    import torch

    if cell:
        cls = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}.get(kind, torch.nn.RNNCell)
    else:
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(kind, torch.nn.RNN)
    options = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    return cls(features, hidden, **options)


def _torch_sequence(kind, reverse):
    """PyTorch's nn.LSTM / nn.GRU / nn.RNN run with the same weights, as a function like _sequence."""
    n_states = 2 if kind == "lstm" else 1

    def torch_fn(x, *rest):
        from torch.func import functional_call

        states, weights = rest[:n_states], rest[n_states:]
        module = _torch_module(kind, x.shape[2], states[0].shape[1])
        params = dict(zip(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"], weights))
        hx = tuple(s[None] for s in states) if kind == "lstm" else states[0][None]
        y, final = functional_call(module, params, (x.flip(0) if reverse else x, hx))
        finals = final if kind == "lstm" else (final,)
        return (y.flip(0) if reverse else y, *(f[0] for f in finals))

    return torch_fn


def _torch_cell(kind):
    n_states = 2 if kind == "lstm" else 1

    def torch_fn(x, *rest):
        from torch.func import functional_call

        module = _torch_module(kind, x.shape[1], rest[0].shape[1], cell=True)
        params = dict(zip(["weight_ih", "weight_hh", "bias_ih", "bias_hh"], rest[n_states:]))
        return functional_call(module, params, (x, tuple(rest[:n_states]) if kind == "lstm" else rest[0]))

    return torch_fn


def _cell(kind):
    return {"lstm": R.lstm_cell, "gru": R.gru_cell, "rnn_tanh": lambda *a: R.rnn_cell(*a, nonlinearity="tanh"),
            "rnn_relu": lambda *a: R.rnn_cell(*a, nonlinearity="relu")}[kind]


def _cell_inputs(kind):
    def make(rng):
        states = [randn(rng, 3, 4) for _ in range(2 if kind == "lstm" else 1)]
        return [randn(rng, 3, 5), *states, *_weights(rng, kind, 5, 4)]

    return make


MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1]], bool)  # (T, N): lengths 2, 1, 3
CASES = [
    *[Case(f"{kind}_sequence{'_reverse' if reverse else ''}", _sequence(kind, reverse=reverse),
           _torch_sequence(kind, reverse), lambda rng, kind=kind: _inputs(rng, kind, steps=6, batch=3, features=5, hidden=4))
      for kind in GATES for reverse in (False, True)],
    # PyTorch has no mask: padding is checked against each sequence alone below.
    *[Case(f"{kind}_sequence_masked_reverse", _sequence(kind, mask=MASK, reverse=True), None,
           lambda rng, kind=kind: _inputs(rng, kind, batch=3), seed=1) for kind in ("lstm", "gru", "rnn_tanh")],
    *[Case(f"{kind}_cell", _cell(kind), _torch_cell(kind), _cell_inputs(kind), seed=2) for kind in GATES],
]
test_gradcheck, test_parity, test_float32 = operator_tests(CASES)


# --- the fused operators against the same equations written with elementary operators ------------
def _composed_lstm(x, h, c, w_ih, w_hh, b_ih, b_hh):
    outs = []
    for t in range(x.shape[0]):
        gates = F.linear(x[t], w_ih, b_ih) + F.linear(h, w_hh, b_hh)
        i, f, g, o = F.chunk(gates, 4, axis=1)
        c = F.sigmoid(f) * c + F.sigmoid(i) * F.tanh(g)
        h = F.sigmoid(o) * F.tanh(c)
        outs.append(h)
    return F.stack(outs), h, c


def _composed_gru(x, h, w_ih, w_hh, b_ih, b_hh):
    outs = []
    for t in range(x.shape[0]):
        ir, iz, i_n = F.chunk(F.linear(x[t], w_ih, b_ih), 3, axis=1)
        hr, hz, hn = F.chunk(F.linear(h, w_hh, b_hh), 3, axis=1)
        r, z = F.sigmoid(ir + hr), F.sigmoid(iz + hz)
        n = F.tanh(i_n + r * hn)
        h = (1 - z) * n + z * h
        outs.append(h)
    return F.stack(outs), h


def _composed_rnn(x, h, w_ih, w_hh, b_ih, b_hh):
    outs = []
    for t in range(x.shape[0]):
        h = F.tanh(F.linear(x[t], w_ih, b_ih) + F.linear(h, w_hh, b_hh))
        outs.append(h)
    return F.stack(outs), h


@pytest.mark.parametrize("kind,composed", [("lstm", _composed_lstm), ("gru", _composed_gru),
                                           ("rnn_tanh", _composed_rnn)])
def test_fused_sequence_matches_composed_operators(kind, composed):
    rng = np.random.default_rng(3)
    arrays = [a.astype(np.float64) for a in _inputs(rng, kind, steps=5, batch=3, features=4, hidden=6)]
    results = []
    for fn in (_sequence(kind), composed):
        inputs = [profondo.tensor(a, requires_grad=True) for a in arrays]
        outs = fn(*inputs)
        weights = np.random.default_rng(9)
        loss = sum(((o * profondo.tensor(weights.standard_normal(o.shape))).sum() for o in outs), start=0)
        loss.backward()
        results.append(([o.numpy() for o in outs], [t.grad.numpy() for t in inputs]))
    for fused, reference in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        np.testing.assert_allclose(fused, reference, rtol=1e-10, atol=1e-12)


# --- masking: padding changes neither outputs nor gradients ----------------------------------------
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("reverse", [False, True])
def test_masked_batch_equals_each_sequence_alone(kind, reverse):
    rng = np.random.default_rng(6)
    lengths = [5, 3, 1]
    arrays = [a.astype(np.float64) for a in _inputs(rng, kind, steps=5, batch=3, features=3, hidden=4)]
    mask = np.arange(5)[:, None] < np.array(lengths)[None, :]
    arrays[0][~mask] = 1e3  # garbage in the padding must not leak anywhere
    n_states = 2 if kind == "lstm" else 1
    g_out = rng.standard_normal((5, 3, 4))
    g_states = [rng.standard_normal((3, 4)) for _ in range(n_states)]

    def run(arrs, m, rows, steps):
        inputs = [profondo.tensor(a, requires_grad=True) for a in arrs]
        y, *finals = _sequence(kind, mask=m, reverse=reverse)(*inputs)
        loss = (y * profondo.tensor(g_out[:steps, rows])).sum()
        for f, g in zip(finals, g_states):
            loss = loss + (f * profondo.tensor(g[rows])).sum()
        loss.backward()
        return y.numpy(), [f.numpy() for f in finals], [t.grad.numpy() for t in inputs]

    y, finals, grads = run(arrays, mask, slice(None), 5)
    assert np.all(y[~mask] == 0)
    assert np.all(grads[0][~mask] == 0)
    weight_grads = [np.zeros_like(w) for w in arrays[1 + n_states:]]
    for b, n in enumerate(lengths):
        alone = [arrays[0][:n, b:b + 1]] + [s[b:b + 1] for s in arrays[1:1 + n_states]] + arrays[1 + n_states:]
        y_b, finals_b, grads_b = run(alone, None, slice(b, b + 1), n)
        np.testing.assert_allclose(y[:n, b:b + 1], y_b, atol=1e-12)
        for f, f_b in zip(finals, finals_b):
            np.testing.assert_allclose(f[b:b + 1], f_b, atol=1e-12)
        np.testing.assert_allclose(grads[0][:n, b:b + 1], grads_b[0], atol=1e-12)
        for s in range(1, 1 + n_states):
            np.testing.assert_allclose(grads[s][b:b + 1], grads_b[s], atol=1e-12)
        weight_grads = [a + g for a, g in zip(weight_grads, grads_b[1 + n_states:])]
    for g, expected in zip(grads[1 + n_states:], weight_grads):
        np.testing.assert_allclose(g, expected, atol=1e-11)


def test_no_bias_and_inputs_without_gradients():
    rng = np.random.default_rng(7)
    x, h, c = (profondo.tensor(randn(rng, *s)) for s in ((4, 2, 3), (2, 5), (2, 5)))
    w_ih = profondo.tensor(randn(rng, 20, 3), requires_grad=True)
    w_hh = profondo.tensor(randn(rng, 20, 5), requires_grad=True)
    y, hn, cn = R.lstm_sequence(x, h, c, w_ih, w_hh)
    (y.sum() + cn.sum()).backward()
    assert w_ih.grad.shape == (20, 3) and w_hh.grad.shape == (20, 5)
    assert x.grad is None and h.grad is None


def test_errors_name_the_operator_and_the_shapes():
    rng = np.random.default_rng(8)
    x, h, c = randn(rng, 4, 2, 3), randn(rng, 2, 5), randn(rng, 2, 5)
    w_ih, w_hh, b = randn(rng, 20, 3), randn(rng, 20, 5), randn(rng, 20)
    with pytest.raises(ValueError, match=r"lstm: weight_ih must be \(20, 4\)"):
        R.lstm_sequence(randn(rng, 4, 2, 4), h, c, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"lstm: input must be \(seq_len, batch, input_size\)"):
        R.lstm_sequence(x[0], h, c, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"gru: weight_hh must be \(3\*hidden_size, hidden_size\)"):
        R.gru_sequence(x, h, randn(rng, 15, 3), w_hh)
    with pytest.raises(ValueError, match=r"lstm: c0 must be \(batch, hidden_size\) = \(2, 5\), received \(3, 5\)"):
        R.lstm_sequence(x, h, randn(rng, 3, 5), w_ih, w_hh)
    with pytest.raises(ValueError, match=r"lstm: mask must be \(seq_len, batch\) = \(4, 2\)"):
        R.lstm_sequence(x, h, c, w_ih, w_hh, mask=np.ones((2, 4), bool))
    with pytest.raises(TypeError, match="lstm_cell: weight_hh has dtype float64"):
        R.lstm_cell(x[0], h, c, w_ih, w_hh.astype(np.float64))
    with pytest.raises(ValueError, match="give both bias_ih and bias_hh"):
        R.lstm_sequence(x, h, c, w_ih, w_hh, b)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        R.rnn_sequence(x, h, randn(rng, 5, 3), randn(rng, 5, 5), nonlinearity="sigmoid")
