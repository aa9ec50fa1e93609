"""Fused recurrent operators: one Function per cell step, and one per layer over a sequence.

Cells (``rnn_cell``, ``lstm_cell``, ``gru_cell``) take the input and state of one time step
and compute every gate with ONE matrix product over the concatenated ``[x, h]`` and weights
``[W_ih, W_hh]``, followed by fused element-wise gate math, with a hand-written backward.

Sequence operators (``rnn_sequence``, ``lstm_sequence``, ``gru_sequence``) run a whole layer
in one direction over a time-first sequence ``(T, N, input_size)``: the input projection of
every step is one GEMM up front, each step adds one GEMM ``h @ W_hh^T`` and fused gate math,
and backward walks the steps in reverse doing one GEMM per step, then forms ``dW_ih``,
``dW_hh`` and ``dx`` as one GEMM each over the whole sequence. A step mask ``(T, N)`` makes
masked steps leave the state unchanged and emit zeros, so padding changes neither outputs
nor gradients; ``reverse=True`` runs from the last step to the first (the backward half of
a bidirectional layer).

Weights follow PyTorch: ``W_ih`` is ``(G*H, input_size)``, ``W_hh`` is ``(G*H, H)`` with gates
stacked in PyTorch's order (LSTM: i, f, g, o; GRU: r, z, n), so state dicts load both ways.

Sigmoid gates use sigmoid(a) = 0.5 * tanh(a / 2) + 0.5: the forward pre-scales the sigmoid
rows of the weights by 0.5 once per call, so one tanh covers all gates of a step.
"""

from __future__ import annotations

from ..autograd import Function

_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


# --- checks --------------------------------------------------------------------------------
def _check(name: str, kind: str, x, states, w_ih, w_hh, biases, mask=None, step: bool = False) -> None:
    """Shapes and dtypes of a recurrent operator's inputs, with errors naming the operator."""
    gates = _GATES[kind]
    want = 2 if step else 3
    if x.ndim != want:
        layout = "(batch, input_size)" if step else "(seq_len, batch, input_size)"
        raise ValueError(f"{name}: input must be {layout}, received shape {tuple(x.shape)}")
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{name}: weight_hh must be ({gates}*hidden_size, hidden_size), received {tuple(w_hh.shape)}")
    hidden = w_hh.shape[1]
    if w_ih.shape != (gates * hidden, x.shape[-1]):
        raise ValueError(f"{name}: weight_ih must be ({gates * hidden}, {x.shape[-1]}) for input_size {x.shape[-1]} "
                         f"and hidden_size {hidden}, received {tuple(w_ih.shape)}")
    batch = x.shape[-2]
    for label, s in states:
        if s.shape != (batch, hidden):
            raise ValueError(f"{name}: {label} must be (batch, hidden_size) = ({batch}, {hidden}), received {tuple(s.shape)}")
    for label, b in zip(("bias_ih", "bias_hh"), biases):
        if b.shape != (gates * hidden,):
            raise ValueError(f"{name}: {label} must be ({gates * hidden},), received {tuple(b.shape)}")
    for label, a in (("input", x), *states, ("weight_ih", w_ih), ("weight_hh", w_hh), *zip(("bias_ih", "bias_hh"), biases)):
        if a.dtype != x.dtype or a.dtype.kind != "f":
            raise TypeError(f"{name}: {label} has dtype {a.dtype}; every input must share one floating dtype "
                            f"(the input has {x.dtype})")
    if mask is not None and mask.shape != x.shape[:2]:
        raise ValueError(f"{name}: mask must be (seq_len, batch) = {tuple(x.shape[:2])}, received {tuple(mask.shape)}")


def _sigmoid_scale(xp, kind: str, hidden: int, dtype):
    """Row scale that turns sigmoid gates into tanh(a/2): 0.5 on sigmoid rows, 1 on tanh rows."""
    s = xp.full(_GATES[kind] * hidden, 0.5, dtype)
    if kind == "lstm":
        s[2 * hidden:3 * hidden] = 1
    elif kind == "gru":
        s[2 * hidden:] = 1
    else:
        s[:] = 1
    return s


# --- LSTM kernels ----------------------------------------------------------------------------
def _lstm_forward(xp, gx, h0, c0, whh_t, mask):
    """Run the LSTM over pre-scaled input gates ``gx`` (T, N, 4H), in place.

    Returns the states ``sh``, ``sc`` (T+1, N, H) with the initial state at index 0, the
    gate activations (``gx`` itself, now holding i, f, g, o) and tanh(c) (T, N, H).
    """
    steps, batch, four_h = gx.shape
    hidden = four_h // 4
    dtype = gx.dtype
    a = xp.full(four_h, 0.5, dtype)
    a[2 * hidden:3 * hidden] = 1
    b = xp.full(four_h, 0.5, dtype)
    b[2 * hidden:3 * hidden] = 0
    sh = xp.empty((steps + 1, batch, hidden), dtype)
    sc = xp.empty((steps + 1, batch, hidden), dtype)
    tc = xp.empty((steps, batch, hidden), dtype)
    sh[0], sc[0] = h0, c0
    for k in range(steps):
        g = gx[k]
        if whh_t is not None:
            g += sh[k] @ whh_t
        xp.tanh(g, out=g)
        g *= a
        g += b  # now i, f, g, o
        c = sc[k + 1]
        xp.multiply(g[:, hidden:2 * hidden], sc[k], out=c)
        c += g[:, :hidden] * g[:, 2 * hidden:3 * hidden]
        xp.tanh(c, out=tc[k])
        xp.multiply(g[:, 3 * hidden:], tc[k], out=sh[k + 1])
        if mask is not None:  # masked rows keep their previous state
            keep = ~mask[k][:, None]
            xp.copyto(c, sc[k], where=keep)
            xp.copyto(sh[k + 1], sh[k], where=keep)
    return sh, sc, gx, tc


def _lstm_backward(xp, gy, gh, gc, sc, acts, tc, w_hh, mask):
    """Gradients w.r.t. the gate pre-activations (T, N, 4H), h0 and c0.

    Per step, on arrays small enough to stay in cache: dh arrives from the output and the
    next step; dc' = dc + dh * o * (1 - tanh(c')^2); the gate gradients are
    (dc' g, dc' c, dc' i, dh tanh(c')) times the activation derivatives, which are
    y(1-y) for the sigmoid gates and 1-y^2 for g, i.e. (1-y)(y+e) with e = 1 on g only.
    """
    steps, batch, four_h = acts.shape
    hidden = four_h // 4
    e = xp.zeros(four_h, acts.dtype)
    e[2 * hidden:3 * hidden] = 1
    dg = xp.empty_like(acts)
    deriv, shifted = xp.empty((batch, four_h), acts.dtype), xp.empty((batch, four_h), acts.dtype)
    tmp = xp.empty((batch, hidden), acts.dtype)
    dh, dc = gh.copy(), gc.copy()
    for k in range(steps - 1, -1, -1):
        a, d, t = acts[k], dg[k], tc[k]
        dhn = dh + gy[k]
        if mask is not None:
            m = mask[k][:, None]
            dhn *= m
        xp.multiply(t, t, out=tmp)
        xp.subtract(1, tmp, out=tmp)
        tmp *= a[:, 3 * hidden:]
        tmp *= dhn
        dcn = dc * m if mask is not None else dc
        dcn = dcn + tmp
        xp.multiply(dcn, a[:, 2 * hidden:3 * hidden], out=d[:, :hidden])
        xp.multiply(dcn, sc[k], out=d[:, hidden:2 * hidden])
        xp.multiply(dcn, a[:, :hidden], out=d[:, 2 * hidden:3 * hidden])
        xp.multiply(dhn, t, out=d[:, 3 * hidden:])
        xp.subtract(1, a, out=deriv)
        xp.add(a, e, out=shifted)
        deriv *= shifted
        d *= deriv
        dc_prev = dcn * a[:, hidden:2 * hidden]
        dh_prev = d @ w_hh if w_hh is not None else xp.zeros_like(dh)
        if mask is not None:  # masked rows pass the incoming gradient straight through
            dc_prev += dc * ~m
            dh_prev += dh * ~m
        dh, dc = dh_prev, dc_prev
    return dg, dh, dc


# --- GRU kernels -----------------------------------------------------------------------------
def _gru_forward(xp, gi, h0, whh_t, bhh, mask):
    """Run the GRU over pre-scaled input gates ``gi`` (T, N, 3H), in place.

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr); z likewise; n = tanh(W_in x + b_in + r * (W_hn h + b_hn));
    h' = (1 - z) * n + z * h. ``whh_t`` None means ``gi`` already holds the hidden part of r
    and z, with ``bhh`` (T, N, H) holding W_hn h + b_hn (the one-matmul cell).
    """
    steps, batch, three_h = gi.shape
    hidden = three_h // 3
    dtype = gi.dtype
    sh = xp.empty((steps + 1, batch, hidden), dtype)
    sh[0] = h0
    gh = xp.empty((steps, batch, three_h), dtype) if whh_t is not None else None
    ghn = gh[..., 2 * hidden:] if gh is not None else bhh
    for k in range(steps):
        rz, n = gi[k][:, :2 * hidden], gi[k][:, 2 * hidden:]
        if whh_t is not None:
            xp.matmul(sh[k], whh_t, out=gh[k])
            gh[k] += bhh
            rz += gh[k][:, :2 * hidden]
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        n += rz[:, :hidden] * ghn[k]
        xp.tanh(n, out=n)
        h = sh[k + 1]
        xp.subtract(sh[k], n, out=h)
        h *= rz[:, hidden:]
        h += n
        if mask is not None:
            xp.copyto(h, sh[k], where=~mask[k][:, None])
    return sh, gi, ghn


def _gru_backward(xp, gy, gh, sh, acts, ghn, w_hh, mask):
    """Gradients w.r.t. the input pre-activations (T, N, 3H), the hidden ones (T, N, 3H) and h0."""
    steps, batch, three_h = acts.shape
    hidden = three_h // 3
    r, z, n = acts[..., :hidden], acts[..., hidden:2 * hidden], acts[..., 2 * hidden:]
    p1 = (1 - z) * (1 - n * n)  # dh -> d(n pre-activation)
    qrz = xp.stack([p1 * ghn * r * (1 - r), (sh[:-1] - n) * z * (1 - z)], axis=2)  # dh -> dr, dz pre-activations
    dgh = xp.empty_like(acts)
    dgh4 = dgh.reshape(steps, batch, 3, hidden)
    dn = xp.empty((steps, batch, hidden), acts.dtype)
    dh = gh.copy()
    for k in range(steps - 1, -1, -1):
        dhn = dh + gy[k]
        if mask is not None:
            m = mask[k][:, None]
            dhn *= m
        xp.multiply(dhn[:, None, :], qrz[k], out=dgh4[k, :, :2])
        xp.multiply(dhn, p1[k], out=dn[k])
        xp.multiply(dn[k], r[k], out=dgh4[k, :, 2])
        dh_prev = dhn * z[k]
        if w_hh is not None:
            dh_prev += dgh[k] @ w_hh
        if mask is not None:
            dh_prev += dh * ~m
        dh = dh_prev
    dgi = xp.concatenate([dgh[..., :2 * hidden], dn], axis=-1)
    return dgi, dgh, dh


# --- Elman RNN kernels -----------------------------------------------------------------------
def _rnn_forward(xp, gx, h0, whh_t, relu, mask):
    steps, batch, hidden = gx.shape
    sh = xp.empty((steps + 1, batch, hidden), gx.dtype)
    sh[0] = h0
    for k in range(steps):
        h = sh[k + 1]
        if whh_t is not None:
            xp.matmul(sh[k], whh_t, out=h)
            h += gx[k]
        else:
            h[...] = gx[k]
        if relu:
            xp.maximum(h, 0, out=h)
        else:
            xp.tanh(h, out=h)
        if mask is not None:
            xp.copyto(h, sh[k], where=~mask[k][:, None])
    return sh


def _rnn_backward(xp, gy, gh, sh, w_hh, relu, mask):
    out = sh[1:]
    deriv = (out > 0).astype(out.dtype) if relu else 1 - out * out
    da = xp.empty_like(out)
    dh = gh.copy()
    for k in range(out.shape[0] - 1, -1, -1):
        dhn = dh + gy[k]
        if mask is not None:
            m = mask[k][:, None]
            dhn *= m
        xp.multiply(dhn, deriv[k], out=da[k])
        dh_prev = da[k] @ w_hh if w_hh is not None else xp.zeros_like(dh)
        if mask is not None:
            dh_prev += dh * ~m
        dh = dh_prev
    return da, dh


# --- the same steps written with operators (the composites that create_graph differentiates) ---
def _affine(x, h, w_ih, w_hh, biases):
    """x W_ih^T + b_ih and h W_hh^T + b_hh, on Tensors."""
    gi, gh = x @ w_ih.T, h @ w_hh.T
    return (gi + biases[0], gh + biases[1]) if biases else (gi, gh)


def _lstm_step(x, h, c, w_ih, w_hh, biases):
    from .activation import sigmoid, tanh

    gi, gh = _affine(x, h, w_ih, w_hh, biases)
    g, n = gi + gh, w_hh.shape[1]
    c = sigmoid(g[:, n:2 * n]) * c + sigmoid(g[:, :n]) * tanh(g[:, 2 * n:3 * n])
    return sigmoid(g[:, 3 * n:]) * tanh(c), c


def _gru_step(x, h, w_ih, w_hh, biases):
    from .activation import sigmoid, tanh

    gi, gh = _affine(x, h, w_ih, w_hh, biases)
    n = w_hh.shape[1]
    r = sigmoid(gi[:, :n] + gh[:, :n])
    z = sigmoid(gi[:, n:2 * n] + gh[:, n:2 * n])
    new = tanh(gi[:, 2 * n:] + r * gh[:, 2 * n:])
    return (1 - z) * new + z * h


def _rnn_step(x, h, w_ih, w_hh, biases, relu: bool):
    from .activation import relu as relu_
    from .activation import tanh

    gi, gh = _affine(x, h, w_ih, w_hh, biases)
    return relu_(gi + gh) if relu else tanh(gi + gh)


def _run_steps(fn, step, x, states):
    """Apply ``step(x_t, *states) -> states`` over time as the fused sequence operator does:
    masked steps carry the state and emit zeros, reverse runs from the last step."""
    from .arithmetic import where
    from .shape import stack

    mask = fn.mask
    if mask is not None and fn.reverse:
        mask = mask[::-1]  # forward stored the mask in processing order
    steps = x.shape[0]
    outputs = [None] * steps
    for k in (range(steps - 1, -1, -1) if fn.reverse else range(steps)):
        new = step(x[k], *states)
        new = new if isinstance(new, tuple) else (new,)
        if mask is not None:
            m = mask[k][:, None]
            new = tuple(where(m, s_new, s) for s_new, s in zip(new, states))
            outputs[k] = new[0] * m
        else:
            outputs[k] = new[0]
        states = new
    return (stack(outputs, 0), *states)


# --- sequence operators ------------------------------------------------------------------------
class _Sequence(Function):
    """Shared plumbing: reverse the time axis, project the inputs, reduce the weight gradients."""

    kind = "lstm"

    def __init__(self, mask, reverse: bool, has_bias: bool) -> None:
        self.mask, self.reverse, self.has_bias = mask, reverse, has_bias

    def _prepare(self, x, w_ih, w_hh, biases):
        xp = self.xp
        if self.reverse:
            x = x[::-1]
            if self.mask is not None:
                self.mask = self.mask[::-1]
        steps, batch, features = x.shape
        hidden = w_hh.shape[1]
        s = _sigmoid_scale(xp, self.kind, hidden, x.dtype)[:, None]
        x2 = xp.ascontiguousarray(x).reshape(steps * batch, features)
        gx = (x2 @ (w_ih * s).T).reshape(steps, batch, -1)
        whh_t = xp.ascontiguousarray((w_hh * s).T)
        return x2, gx, whh_t, s[:, 0]

    def _output(self, sh):
        xp = self.xp
        y = sh[1:]
        if self.mask is not None:
            y = y * self.mask[..., None]
        return xp.ascontiguousarray(y[::-1]) if self.reverse else y

    def _grad_y(self, gy):
        return gy[::-1] if self.reverse else gy

    def _weight_grads(self, x2, w_ih, dgi, dgh, sh):
        """dx, dW_ih, dW_hh, db_ih, db_hh from the pre-activation gradients of every step."""
        needs = self.needs_input_grad
        steps, batch, width = dgi.shape
        dgi2, dgh2 = dgi.reshape(-1, width), dgh.reshape(-1, width)
        dx = None
        if needs[0]:
            dx = (dgi2 @ w_ih).reshape(steps, batch, -1)
            if self.reverse:
                dx = dx[::-1]
        n = len(needs)
        dw_ih = dgi2.T @ x2 if needs[n - (4 if self.has_bias else 2)] else None
        dw_hh = dgh2.T @ sh[:-1].reshape(steps * batch, -1) if needs[n - (3 if self.has_bias else 1)] else None
        grads = (dx, dw_ih, dw_hh)
        if self.has_bias:
            db_ih = dgi2.sum(0) if needs[-2] else None
            db_hh = (db_ih if dgh is dgi and db_ih is not None else dgh2.sum(0)) if needs[-1] else None
            grads += (db_ih, db_hh)
        return grads


class LSTMSequence(_Sequence):
    kind = "lstm"

    def forward(self, x, h0, c0, w_ih, w_hh, *biases):
        _check("lstm", "lstm", x, (("h0", h0), ("c0", c0)), w_ih, w_hh, biases, self.mask)
        x2, gx, whh_t, s = self._prepare(x, w_ih, w_hh, biases)
        if biases:
            gx += (biases[0] + biases[1]) * s
        sh, sc, acts, tc = _lstm_forward(self.xp, gx, h0, c0, whh_t, self.mask)
        self.save_for_backward(x2, w_ih, w_hh, sh, sc, acts, tc)
        return self._output(sh), sh[-1], sc[-1]

    def backward(self, gy, gh, gc):
        x2, w_ih, w_hh, sh, sc, acts, tc = self.saved
        dg, dh0, dc0 = _lstm_backward(self.xp, self._grad_y(gy), gh, gc, sc, acts, tc, w_hh, self.mask)
        dx, *rest = self._weight_grads(x2, w_ih, dg, dg, sh)
        return (dx, dh0, dc0, *rest)

    def composite(self, x, h0, c0, w_ih, w_hh, *biases):
        return _run_steps(self, lambda xt, h, c: _lstm_step(xt, h, c, w_ih, w_hh, biases), x, (h0, c0))


class GRUSequence(_Sequence):
    kind = "gru"

    def forward(self, x, h0, w_ih, w_hh, *biases):
        _check("gru", "gru", x, (("h0", h0),), w_ih, w_hh, biases, self.mask)
        x2, gi, whh_t, s = self._prepare(x, w_ih, w_hh, biases)
        bhh = biases[1] * s if biases else self.xp.zeros(w_ih.shape[0], x.dtype)
        if biases:
            gi += biases[0] * s
        sh, acts, ghn = _gru_forward(self.xp, gi, h0, whh_t, bhh, self.mask)
        self.save_for_backward(x2, w_ih, w_hh, sh, acts, ghn)
        return self._output(sh), sh[-1]

    def backward(self, gy, gh):
        x2, w_ih, w_hh, sh, acts, ghn = self.saved
        dgi, dgh, dh0 = _gru_backward(self.xp, self._grad_y(gy), gh, sh, acts, ghn, w_hh, self.mask)
        dx, *rest = self._weight_grads(x2, w_ih, dgi, dgh, sh)
        return (dx, dh0, *rest)

    def composite(self, x, h0, w_ih, w_hh, *biases):
        return _run_steps(self, lambda xt, h: _gru_step(xt, h, w_ih, w_hh, biases), x, (h0,))


class RNNSequence(_Sequence):
    kind = "rnn_tanh"

    def __init__(self, mask, reverse: bool, has_bias: bool, nonlinearity: str) -> None:
        super().__init__(mask, reverse, has_bias)
        self.relu = nonlinearity == "relu"

    def forward(self, x, h0, w_ih, w_hh, *biases):
        _check("rnn", "rnn_tanh", x, (("h0", h0),), w_ih, w_hh, biases, self.mask)
        x2, gx, whh_t, _ = self._prepare(x, w_ih, w_hh, biases)
        if biases:
            gx += biases[0] + biases[1]
        sh = _rnn_forward(self.xp, gx, h0, whh_t, self.relu, self.mask)
        self.save_for_backward(x2, w_ih, w_hh, sh)
        return self._output(sh), sh[-1]

    def backward(self, gy, gh):
        x2, w_ih, w_hh, sh = self.saved
        da, dh0 = _rnn_backward(self.xp, self._grad_y(gy), gh, sh, w_hh, self.relu, self.mask)
        dx, *rest = self._weight_grads(x2, w_ih, da, da, sh)
        return (dx, dh0, *rest)

    def composite(self, x, h0, w_ih, w_hh, *biases):
        return _run_steps(self, lambda xt, h: _rnn_step(xt, h, w_ih, w_hh, biases, self.relu), x, (h0,))


# --- cell operators (one step, one matmul over [x, h]) ------------------------------------------
class _Cell(Function):
    kind = "lstm"

    def _gates(self, x, h, w_ih, w_hh, biases):
        """Pre-scaled gates (1, N, G*H) from one matmul of [x, h] with [W_ih, W_hh]."""
        xp = self.xp
        s = _sigmoid_scale(xp, self.kind, w_hh.shape[1], x.dtype)
        xh = xp.concatenate([x, h], axis=1)
        w = xp.concatenate([w_ih, w_hh], axis=1)
        gates = xh @ (w * s[:, None]).T
        if biases:
            gates += (biases[0] + biases[1]) * s
        return xh, w, gates[None]

    def _grads(self, xh, w, dg, dh_direct=None):
        """dx, dh and the gradient of the stacked weight from the pre-activation gradient (N, rows)."""
        features = xh.shape[1] - self.hidden
        dxh = dg @ w
        if dh_direct is not None:
            dxh[:, features:] += dh_direct
        return dxh[:, :features], dxh[:, features:], dg.T @ xh, features

    def _split(self, xh, w, dg):
        """Gradients of every input when the stacked weight is [W_ih, W_hh] (LSTM, RNN)."""
        dx, dh, dw, features = self._grads(xh, w, dg)
        grads = (dx, dh, dw[:, :features], dw[:, features:])
        if len(self.needs_input_grad) > len(grads) + self.n_states - 1:
            db = dg.sum(0)
            grads += (db, db)
        return grads


class LSTMCellFn(_Cell):
    kind, n_states = "lstm", 2

    def forward(self, x, h, c, w_ih, w_hh, *biases):
        _check("lstm_cell", "lstm", x, (("h", h), ("c", c)), w_ih, w_hh, biases, step=True)
        self.hidden = w_hh.shape[1]
        xh, w, gates = self._gates(x, h, w_ih, w_hh, biases)
        sh, sc, acts, tc = _lstm_forward(self.xp, gates, h, c, None, None)
        self.save_for_backward(xh, w, sc, acts, tc)
        return sh[1], sc[1]

    def backward(self, gh, gc):
        xh, w, sc, acts, tc = self.saved
        zero = self.xp.zeros((1,) + gh.shape, gh.dtype)
        dg, _, dc = _lstm_backward(self.xp, zero, gh, gc, sc, acts, tc, None, None)
        dx, dh, *rest = self._split(xh, w, dg[0])
        return (dx, dh, dc, *rest)

    def composite(self, x, h, c, w_ih, w_hh, *biases):
        return _lstm_step(x, h, c, w_ih, w_hh, biases)


class RNNCellFn(_Cell):
    kind, n_states = "rnn_tanh", 1

    def __init__(self, nonlinearity: str) -> None:
        self.relu = nonlinearity == "relu"

    def forward(self, x, h, w_ih, w_hh, *biases):
        _check("rnn_cell", "rnn_tanh", x, (("h", h),), w_ih, w_hh, biases, step=True)
        self.hidden = w_hh.shape[1]
        xh, w, gates = self._gates(x, h, w_ih, w_hh, biases)
        sh = _rnn_forward(self.xp, gates, h, None, self.relu, None)
        self.save_for_backward(xh, w, sh)
        return sh[1]

    def backward(self, gh):
        xh, w, sh = self.saved
        xp = self.xp
        da, _ = _rnn_backward(xp, xp.zeros((1,) + gh.shape, gh.dtype), gh, sh, None, self.relu, None)
        return self._split(xh, w, da[0])

    def composite(self, x, h, w_ih, w_hh, *biases):
        return _rnn_step(x, h, w_ih, w_hh, biases, self.relu)


class GRUCellFn(_Cell):
    kind = "gru"

    def forward(self, x, h, w_ih, w_hh, *biases):
        """One matmul of [x, h] with the block matrix [[W_ir, W_hr], [W_iz, W_hz], [W_in, 0], [0, W_hn]]
        gives r, z, the input part of n and the hidden part of n (which r gates on its own)."""
        _check("gru_cell", "gru", x, (("h", h),), w_ih, w_hh, biases, step=True)
        xp = self.xp
        hidden = self.hidden = w_hh.shape[1]
        features = x.shape[1]
        w = xp.zeros((4 * hidden, features + hidden), x.dtype)
        w[:3 * hidden, :features] = w_ih
        w[:2 * hidden, features:] = w_hh[:2 * hidden]
        w[3 * hidden:, features:] = w_hh[2 * hidden:]
        s = xp.ones(4 * hidden, x.dtype)
        s[:2 * hidden] = 0.5
        xh = xp.concatenate([x, h], axis=1)
        gates = xh @ (w * s[:, None]).T
        if biases:
            gates[:, :3 * hidden] += biases[0] * s[:3 * hidden]
            gates[:, :2 * hidden] += biases[1][:2 * hidden] * s[:2 * hidden]
            gates[:, 3 * hidden:] += biases[1][2 * hidden:]
        sh, acts, ghn = _gru_forward(xp, gates[None, :, :3 * hidden].copy(), h, None, gates[None, :, 3 * hidden:], None)
        self.save_for_backward(xh, w, sh, acts, ghn)
        return sh[1]

    def backward(self, gh):
        xh, w, sh, acts, ghn = self.saved
        xp = self.xp
        hidden = self.hidden
        dgi, dgh, dh = _gru_backward(xp, xp.zeros((1,) + gh.shape, gh.dtype), gh, sh, acts, ghn, None, None)
        dg = xp.concatenate([dgi[0], dgh[0, :, 2 * hidden:]], axis=1)  # one row block per block of w
        dx, dh, dw, features = self._grads(xh, w, dg, dh)
        grads = (dx, dh, dw[:3 * hidden, :features], xp.concatenate([dw[:2 * hidden, features:], dw[3 * hidden:, features:]]))
        if len(self.needs_input_grad) > 4:
            db = dg.sum(0)
            grads += (db[:3 * hidden], xp.concatenate([db[:2 * hidden], db[3 * hidden:]]))
        return grads

    def composite(self, x, h, w_ih, w_hh, *biases):
        return _gru_step(x, h, w_ih, w_hh, biases)


# --- public functions ------------------------------------------------------------------------------
def _mask_array(mask, x):
    if mask is None:
        return None
    m = getattr(mask, "data", mask)
    xp = x.xp if hasattr(x, "xp") else __import__("numpy")
    m = xp.asarray(m)
    if m.dtype != bool:
        m = m != 0
    return m


def _biases(b_ih, b_hh, name):
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{name}: give both bias_ih and bias_hh, or neither")
    return () if b_ih is None else (b_ih, b_hh)


def lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse: bool = False):
    """One LSTM layer in one direction over a time-first sequence, as one fused operator.

    For each step t (PyTorch's equations and gate order i, f, g, o)::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g                             h' = o * tanh(c')

    x: (T, N, I); h0, c0: (N, H); mask: optional (T, N) booleans, False where a step is
    padding (the state is carried through unchanged and the output there is 0).
    Returns (outputs (T, N, H), h_n, c_n).

    >>> y, h, c = lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    """
    fn = LSTMSequence(_mask_array(mask, x), reverse, b_ih is not None)
    return fn.apply(x, h0, c0, w_ih, w_hh, *_biases(b_ih, b_hh, "lstm"))


def gru_sequence(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse: bool = False):
    """One GRU layer in one direction over a time-first sequence, as one fused operator.

    PyTorch's equations and gate order r, z, n::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)     z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h

    Returns (outputs (T, N, H), h_n); ``mask`` as in :func:`lstm_sequence`.

    >>> y, h = gru_sequence(x, h0, w_ih, w_hh, b_ih, b_hh)
    """
    fn = GRUSequence(_mask_array(mask, x), reverse, b_ih is not None)
    return fn.apply(x, h0, w_ih, w_hh, *_biases(b_ih, b_hh, "gru"))


def rnn_sequence(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh", mask=None,
                 reverse: bool = False):
    """One Elman RNN layer over a time-first sequence: h' = tanh(W_ih x + b_ih + W_hh h + b_hh).

    ``nonlinearity`` is "tanh" or "relu". Returns (outputs (T, N, H), h_n).

    >>> y, h = rnn_sequence(x, h0, w_ih, w_hh, b_ih, b_hh)
    """
    _check_nonlinearity(nonlinearity, "rnn")
    fn = RNNSequence(_mask_array(mask, x), reverse, b_ih is not None, nonlinearity)
    return fn.apply(x, h0, w_ih, w_hh, *_biases(b_ih, b_hh, "rnn"))


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step (equations of :func:`lstm_sequence`); x (N, I), h and c (N, H) -> (h', c').

    >>> h, c = lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)
    """
    return LSTMCellFn().apply(x, h, c, w_ih, w_hh, *_biases(b_ih, b_hh, "lstm_cell"))


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (equations of :func:`gru_sequence`); x (N, I), h (N, H) -> h'.

    >>> h = gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)
    """
    return GRUCellFn().apply(x, h, w_ih, w_hh, *_biases(b_ih, b_hh, "gru_cell"))


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh"):
    """One Elman RNN step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu).

    >>> h = rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh)
    """
    _check_nonlinearity(nonlinearity, "rnn_cell")
    return RNNCellFn(nonlinearity).apply(x, h, w_ih, w_hh, *_biases(b_ih, b_hh, "rnn_cell"))


def _check_nonlinearity(nonlinearity: str, name: str) -> None:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', received {nonlinearity!r}")
