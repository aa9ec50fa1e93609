"""The autograd engine: accumulation, retain_graph, no_grad/enable_grad, detach, retain_grad,
graph ordering, multi-output operators, user-defined Functions and memory release."""

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import profondo
import profondo.functional as F
from profondo import Function

try:
    import torch
except ImportError:  # the PyTorch comparison skips without it
    torch = None


def _leaf(*values):
    return profondo.tensor(np.array(values, np.float32), requires_grad=True)


def test_gradients_accumulate_across_backward_calls():
    x = _leaf(1.0, 2.0)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.zero_grad()
    assert x.grad is None


def test_second_backward_without_retain_graph_raises():
    x = _leaf(1.0, 2.0)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through \w+ a second time: .*pass retain_graph=True"):
        y.backward()


def test_retain_graph_keeps_the_graph_and_gradients_double():
    x = _leaf(0.5, -1.0)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)
    np.testing.assert_allclose(first, np.exp([0.5, -1.0]) * (1 + np.array([0.5, -1.0])), rtol=1e-6)


def test_no_grad_records_nothing():
    x = _leaf(1.0)
    with profondo.no_grad():
        assert not profondo.is_grad_enabled()
        y = x * 2
    assert profondo.is_grad_enabled()
    assert not y.requires_grad and y.creator is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_enable_grad_inside_no_grad_and_state_restored_after_errors():
    x = _leaf(1.0)
    with profondo.no_grad():
        with profondo.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad
    with pytest.raises(KeyError), profondo.no_grad():
        {}["missing"]
    assert profondo.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators():
    """With parentheses or bare, as in PyTorch."""
    @profondo.no_grad()
    def frozen(t):
        return t * 2, profondo.is_grad_enabled()

    @profondo.enable_grad
    def recorded(t):
        return t * 2

    x = _leaf(1.0)
    y, enabled = frozen(x)
    assert not y.requires_grad and not enabled and profondo.is_grad_enabled()
    with profondo.no_grad():
        assert recorded(x).requires_grad
    assert frozen.__name__ == "frozen"


def test_detach_shares_data_and_cuts_the_graph():
    x = _leaf(1.0, 2.0)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4])  # d is a constant
    x2 = x.detach()
    x2.data[0] = 10.0
    assert x.data[0] == 10.0


def test_requires_grad_propagation():
    a, b = profondo.ones(2), _leaf(1.0, 1.0)
    assert not (a * 2).requires_grad
    c = a + b
    assert c.requires_grad and not c.is_leaf and c.grad_fn is not None and b.is_leaf
    with pytest.raises(TypeError, match="requires_grad=True needs a floating dtype"):
        profondo.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="use detach"):
        c.requires_grad_(False)
    assert profondo.ones(2).requires_grad_().requires_grad


def test_retain_grad_on_intermediates_and_root():
    x = _leaf(1.0, 2.0)
    h = x * 3
    h.retain_grad()
    other = x * 2  # not retained
    y = (h * h + other).sum()
    y.retain_grad()
    y.backward()
    np.testing.assert_allclose(h.grad.numpy(), [6, 12])
    np.testing.assert_allclose(x.grad.numpy(), [18 + 2, 36 + 2])
    assert y.grad.item() == 1.0 and other.grad is None


def test_non_scalar_backward_needs_an_explicit_gradient():
    x = _leaf(1.0, 2.0)
    y = x * x
    with pytest.raises(RuntimeError, match=r"non-scalar tensor of shape \(2,\) needs an explicit gradient"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) given for a tensor of shape \(2,\)"):
        y.backward(np.ones(3, np.float32))
    y.backward(np.array([1.0, 0.5], np.float32))
    np.testing.assert_allclose(x.grad.numpy(), [2, 2])


def test_backward_of_a_leaf():
    x = _leaf(1.0, 2.0)
    x.backward(np.array([3.0, 4.0], np.float32))
    np.testing.assert_allclose(x.grad.numpy(), [3, 4])


def test_split_with_only_some_outputs_used():
    x = profondo.tensor(np.arange(8, dtype=np.float32).reshape(4, 2), requires_grad=True)
    a, b, c, d = F.chunk(x, 4)
    (b * 2 + d * b).sum().backward()
    expected = np.zeros((4, 2), np.float32)
    expected[1] = 2 + x.numpy()[3]
    expected[3] = x.numpy()[1]
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_graph_order_when_a_consumer_is_reached_late():
    """y feeds both exp(y) and the sum: its backward must wait for exp's gradient."""
    x = _leaf(1.0, 2.0)
    y = x * 2
    (y + y.exp()).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 + 2 * np.exp([2.0, 4.0]), rtol=1e-6)


def test_diamond_and_long_chain():
    x = _leaf(0.5)
    h = x * 1.0
    for _ in range(3000):  # deeper than Python's recursion limit
        h = h + x * 0.001
    left, right = h.sigmoid(), h.tanh()
    (left * right).backward()
    s, t = 1 / (1 + np.exp(-2.0)), np.tanh(2.0)  # h = x * (1 + 3000 * 0.001) = 4x = 2
    ds = s * (1 - s) * t + s * (1 - t * t)
    np.testing.assert_allclose(x.grad.item(), ds * 4, rtol=1e-4)


def test_leaf_gradients_own_their_arrays():
    """Optimizers update .grad in place: no read-only views, no array shared with another leaf or the caller."""
    a, b = _leaf(1.0, 2.0), _leaf(3.0, 4.0)
    (a + b).sum().backward()
    a.grad.data *= 2
    np.testing.assert_array_equal(b.grad.numpy(), [1, 1])
    g = np.ones(2, np.float32)
    c, d = _leaf(1.0, 2.0), _leaf(1.0, 2.0)
    (c + d.reshape(2)).backward(g)
    c.grad.data += 1
    d.grad.data += 2
    np.testing.assert_array_equal(g, [1, 1])
    assert c.grad.numpy().tolist() == [2, 2] and d.grad.numpy().tolist() == [3, 3]


def test_zero_dimensional_leaf_gets_an_array_gradient():
    s = profondo.tensor(2.0, requires_grad=True)
    (profondo.ones(3) * s).sum().backward()
    assert isinstance(s.grad.data, np.ndarray) and s.grad.shape == () and s.grad.item() == 3.0


class Cube(Function):
    """A user-defined operator: y = x ** 3 * c, c a constant second input."""

    def forward(self, x, c):
        self.save_for_backward(x, c)
        return x**3 * c

    def backward(self, gy):
        x, c = self.saved
        return gy * 3 * x**2 * c, None


def test_user_defined_function():
    x, c = _leaf(1.0, -2.0), profondo.tensor([2.0, 3.0])
    y = Cube().apply(x, c)
    assert y.requires_grad and isinstance(y.creator, Cube) and y.creator.needs_input_grad == (True, False)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6, 36])


def test_saved_arrays_and_inputs_released_after_backward():
    x = _leaf(1.0, 2.0)
    mul = (x * x.exp())
    fn = mul.creator
    assert fn.saved and fn.inputs
    saved = weakref.ref(fn.inputs[1].creator)  # the Exp operator, reachable only through the graph
    mul.sum().backward()
    assert fn.saved == () and fn.inputs is None
    gc.collect()
    assert saved() is None


def test_retain_graph_keeps_saved_arrays():
    x = _leaf(1.0)
    y = x * x
    y.backward(retain_graph=True)
    assert y.creator.saved and y.creator.inputs


def test_no_grad_results_hold_no_graph():
    x = _leaf(1.0)
    with profondo.no_grad():
        y = x * x
    assert y.creator is None


def test_memory_flat_over_1000_training_steps():
    """A 2-layer MLP trained by hand: every step's graph and saved arrays are freed."""
    rng = np.random.default_rng(0)
    x, labels = profondo.tensor(rng.standard_normal((32, 8)).astype(np.float32)), rng.integers(0, 4, 32)
    params = [profondo.tensor(rng.standard_normal(s).astype(np.float32) * 0.3, requires_grad=True)
              for s in ((16, 8), (16,), (4, 16), (4,))]

    def step():
        w1, b1, w2, b2 = params
        loss = F.cross_entropy(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2), labels)
        loss.backward()
        with profondo.no_grad():
            for p in params:
                p.data -= 0.1 * p.grad.data
                p.grad = None
        return loss.item()

    tracemalloc.start()
    try:
        first = [step() for _ in range(50)][0]
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        last = [step() for _ in range(1000)][-1]
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert last < first  # it trained
    assert growth < 64 * 1024, f"memory grew by {growth} bytes over 1,000 steps"


def test_grad_mode_is_per_thread():
    """no_grad in one thread leaves another recording, as in PyTorch; new threads start on."""
    import threading

    x = _leaf(1.0)
    inside, seen = threading.Event(), {}

    def worker():
        with profondo.no_grad():
            inside.set()
            seen["release"].wait(5)
            seen["worker"] = (x * 2).requires_grad

    seen["release"] = threading.Event()
    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(5)
    seen["main"] = (x * 2).requires_grad  # the worker is inside no_grad right now
    seen["release"].set()
    thread.join(5)
    assert seen["main"] is True and seen["worker"] is False

    with profondo.no_grad():
        fresh = []
        t = threading.Thread(target=lambda: fresh.append(profondo.is_grad_enabled()))
        t.start()
        t.join(5)
    assert fresh == [True]


def test_set_grad_enabled_as_call_context_and_decorator():
    x = _leaf(1.0)
    profondo.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        profondo.set_grad_enabled(True)
    with profondo.set_grad_enabled(False):
        assert not profondo.is_grad_enabled()
    assert profondo.is_grad_enabled()

    @profondo.set_grad_enabled(False)
    def frozen(t):
        return t * 2

    assert profondo.is_grad_enabled()  # decorating does not switch the mode
    assert not frozen(x).requires_grad and profondo.is_grad_enabled()
    with pytest.raises(TypeError, match="set_grad_enabled expected a bool, received str"):
        profondo.set_grad_enabled("no")


# --- post-accumulate-grad hooks (what data-parallel training starts its all-reduce from) -------
def test_post_accumulate_grad_hook_runs_once_with_the_final_gradient_as_in_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    seen = {}

    def run(lib, make):
        x, w = make(a), make(b)
        for name, t in (("x", x), ("w", w)):
            t.register_post_accumulate_grad_hook(lambda t, name=name: seen.setdefault(lib, []).append(
                (name, np.array(t.grad.detach().numpy() if lib == "torch" else t.grad.numpy()))))
        # x used three times (twice in one product), w broadcast and used twice
        ((x * x + x * w).sum() + (w * w).sum()).backward()

    run("profondo", lambda v: profondo.tensor(v, requires_grad=True))
    run("torch", lambda v: torch.tensor(v, requires_grad=True))
    assert sorted(n for n, _ in seen["profondo"]) == sorted(n for n, _ in seen["torch"]) == ["w", "x"]
    ours, theirs = dict(seen["profondo"]), dict(seen["torch"])
    for name in ("x", "w"):
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-6, atol=1e-6)


def test_post_accumulate_grad_hooks_fire_from_the_output_side_first_and_can_be_removed():
    from profondo import nn

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    order, handles = [], []
    for name, p in model.named_parameters():
        handles.append(p.register_post_accumulate_grad_hook(lambda p, name=name: order.append(name)))
    x = profondo.tensor(np.ones((2, 3), np.float32))
    model(x).sum().backward()
    # the last layer's gradients are final while the first layer's are still being computed
    assert order.index("2.weight") < order.index("0.weight") and len(order) == 4
    for handle in handles:
        handle.remove()
    order.clear()
    model(x).sum().backward()
    assert order == []


def test_post_accumulate_grad_hook_only_on_leaves():
    x = profondo.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="only be registered on leaf tensors"):
        (x * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(TypeError, match="expected a callable"):
        x.register_post_accumulate_grad_hook(3)


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_a_post_accumulate_hook_sees_the_gradient_its_tensor_hook_made_as_in_pytorch():
    """A leaf with both hooks: the tensor hook changes the gradient, then the post-accumulate
    hook sees it accumulated (in PyTorch's order), not before accumulation."""
    seen = {}
    for lib in (profondo, torch):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        x.register_hook(lambda g: g * 2)
        def record(t, lib=lib):
            seen[lib] = t.grad.detach().numpy().copy()

        x.register_post_accumulate_grad_hook(record)
        (x * x + x).sum().backward()
    np.testing.assert_allclose(seen[profondo], seen[torch], rtol=1e-6)
