"""TrainStep: the one training step. Its order (forward, loss, backward, gradient hooks,
clipping, update), its metrics, results bit-identical to the hand-written loop it replaced,
and every training loop of the library going through it."""

import ast
from pathlib import Path

import numpy as np
import pytest

import profondo
from profondo import functional as F
from profondo import nn, optim
from profondo.data import ArrayDataset, DataLoader
from profondo.optim import clip_grad_norm_
from profondo.tensor import Tensor
from profondo.train import StepOutput, Trainer, TrainStep

ROOT = Path(__file__).resolve().parents[2]


def _net(seed=0):
    profondo.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))


def _batch(seed=0, n=12):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal((n, 5)).astype(np.float32)), Tensor(rng.integers(0, 3, n))


def _weights(model):
    return [p.data.copy() for p in model.parameters()]


def _grads(model):
    return [p.grad.data.copy() for p in model.parameters()]


# --- order ---------------------------------------------------------------------------------------
def test_a_hook_sees_the_gradients_after_backward_and_before_the_update():
    model = _net()
    x, y = _batch()
    seen = {}

    def hook(params):
        seen["grads"] = [p.grad.data.copy() for p in params]
        seen["weights"] = [p.data.copy() for p in params]

    before = _weights(model)
    TrainStep(model, optim.SGD(model.parameters(), 0.1), gradient_hooks=[hook])(x, target=y)
    reference = _net()
    F.cross_entropy(reference(x), y).backward()
    for got, want in zip(seen["grads"], _grads(reference)):
        np.testing.assert_array_equal(got, want)  # backward has run
    for got, want in zip(seen["weights"], before):
        np.testing.assert_array_equal(got, want)  # the update has not
    assert any(not np.array_equal(a, b) for a, b in zip(_weights(model), before))


@pytest.mark.parametrize("make_optimizer", [lambda p: optim.SGD(p, 0.1), lambda p: optim.Adam(p, 1e-2)])
def test_a_hook_that_zeroes_the_gradients_leaves_the_weights_unchanged(make_optimizer):
    model = _net()
    before = _weights(model)

    def zero(params):
        for p in params:
            p.grad.data[...] = 0

    step = TrainStep(model, make_optimizer(model.parameters()), gradient_hooks=[zero])
    for seed in range(3):
        x, y = _batch(seed)
        step(x, target=y)
    for got, want in zip(_weights(model), before):
        np.testing.assert_array_equal(got, want)


def test_averaging_with_a_fake_peer_changes_the_update_as_expected():
    x, y = _batch(0)
    peer_model = _net(seed=3)  # another process's replica sees other weights, hence other gradients
    F.cross_entropy(peer_model(x), y).backward()
    peer = _grads(peer_model)

    def all_reduce_mean(params):
        for p, g in zip(params, peer):
            p.grad.data = (p.grad.data + g) / np.float32(2)

    model = _net()
    before = _weights(model)
    step = TrainStep(model, optim.SGD(model.parameters(), 0.5))
    step.gradient_hooks.append(all_reduce_mean)  # added after construction, as data-parallel code does
    step(x, target=y)
    alone = _net()
    F.cross_entropy(alone(x), y).backward()
    for w, w0, g, gp in zip(_weights(model), before, _grads(alone), peer):
        np.testing.assert_allclose(w, w0 - 0.5 * (g + gp) / 2, rtol=1e-6, atol=1e-7)


def test_reduce_gradients_can_be_overridden_and_runs_before_clipping():
    calls = []

    class Amplified(TrainStep):
        __slots__ = ()

        def reduce_gradients(self):
            calls.append("reduce")
            for p in self.parameters:
                p.grad.data = p.grad.data * np.float32(1000)

    model = _net()
    before = _weights(model)
    x, y = _batch()
    out = Amplified(model, optim.SGD(model.parameters(), 1.0), max_grad_norm=1.0)(x, target=y)
    # the clip saw the amplified gradients and brought them back to norm 1: lr 1 moves the weights by 1
    moved = np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(_weights(model), before)))
    assert calls == ["reduce"] and moved == pytest.approx(1.0, rel=1e-4)
    assert out.grad_norm.item() > 100


def test_stale_gradients_are_dropped_before_backward():
    model, fresh = _net(), _net()
    x, y = _batch()
    for p in model.parameters():
        p.grad = Tensor(np.full(p.shape, 7.0, np.float32))  # left over from something else
    TrainStep(model, optim.SGD(model.parameters(), 0.1))(x, target=y)
    TrainStep(fresh, optim.SGD(fresh.parameters(), 0.1))(x, target=y)
    for a, b in zip(_weights(model), _weights(fresh)):
        np.testing.assert_array_equal(a, b)


# --- metrics ---------------------------------------------------------------------------------------
def test_the_step_returns_the_loss_output_and_gradient_norm_as_tensors():
    model = _net()
    x, y = _batch()
    with profondo.no_grad():
        expected_out = model(x).data.copy()
    expected_loss = F.cross_entropy(Tensor(expected_out), y).item()
    reference = _net()
    F.cross_entropy(reference(x), y).backward()
    expected_norm = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in _grads(reference)))

    out = TrainStep(model, optim.SGD(model.parameters(), 0.1), max_grad_norm=1e6)(x, target=y)
    assert isinstance(out, StepOutput) and isinstance(out.loss, Tensor) and isinstance(out.grad_norm, Tensor)
    assert out.loss.data.dtype == np.float32 and out.loss.item() == pytest.approx(expected_loss, rel=1e-6)
    np.testing.assert_array_equal(out.output.data, expected_out)  # the forward before the update
    assert out.grad_norm.item() == pytest.approx(expected_norm, rel=1e-5)
    assert TrainStep(model, optim.SGD(model.parameters(), 0.1))(x, target=y).grad_norm is None


def test_a_pluggable_loss_and_multiple_inputs():
    profondo.manual_seed(0)
    linear = nn.Linear(2, 1)

    def model(a, b):
        return linear(a * b)

    seen = []

    def loss_fn(output, target):
        seen.append(target)
        return F.mse_loss(output, target)

    a, b = Tensor(np.ones((4, 2), np.float32)), Tensor(np.full((4, 2), 2.0, np.float32))
    target = Tensor(np.zeros((4, 1), np.float32))
    step = TrainStep(model, optim.SGD(linear.parameters(), 0.01), loss_fn)
    assert step.parameters == list(linear.parameters())  # a plain function: the optimizer's parameters
    first = step(a, b, target=target).loss.item()
    assert seen == [target] and step(a, b, target=target).loss.item() < first


def test_errors_say_what_was_expected():
    model = _net()
    with pytest.raises(ValueError, match=r"max_grad_norm must be > 0 .* received -1"):
        TrainStep(model, optim.SGD(model.parameters(), 0.1), max_grad_norm=-1)


# --- bit for bit -----------------------------------------------------------------------------------
def test_results_are_bit_identical_to_the_hand_written_loop():
    stepped, manual = _net(), _net()
    step = TrainStep(stepped, optim.Adam(stepped.parameters(), 1e-2), max_grad_norm=0.5)
    opt = optim.Adam(manual.parameters(), 1e-2)
    for seed in range(5):
        x, y = _batch(seed)
        loss = step(x, target=y).loss
        manual_loss = F.cross_entropy(manual(x), y)
        opt.zero_grad()
        manual_loss.backward()
        clip_grad_norm_(manual.parameters(), 0.5)
        opt.step()
        assert loss.item() == manual_loss.item()
    for a, b in zip(_weights(stepped), _weights(manual)):
        np.testing.assert_array_equal(a, b)


def test_the_trainer_is_bit_identical_to_the_hand_written_loop():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((96, 5)).astype(np.float32), rng.integers(0, 3, 96)
    trained = _net()
    Trainer(trained, optim.SGD(trained.parameters(), 0.1, momentum=0.9), grad_clip=1.0,
            progress=False).fit(DataLoader(ArrayDataset(x, y), 32, shuffle=True, seed=1), epochs=2)
    manual = _net()
    opt = optim.SGD(manual.parameters(), 0.1, momentum=0.9)
    loader = DataLoader(ArrayDataset(x, y), 32, shuffle=True, seed=1)
    for epoch in range(2):
        loader.set_epoch(epoch)
        for xb, yb in loader:
            loss = F.cross_entropy(manual(Tensor(xb)), Tensor(yb))
            opt.zero_grad()
            loss.backward()
            clip_grad_norm_(manual.parameters(), 1.0)
            opt.step()
    for a, b in zip(_weights(trained), _weights(manual)):
        np.testing.assert_array_equal(a, b)


def test_the_language_model_loop_is_bit_identical_to_the_hand_written_one():
    from profondo.nlp import CharLM, batchify, bptt_chunks, detach_state, train_language_model

    stream = batchify(np.tile([0, 1, 2, 3, 2, 1], 20), 4)
    profondo.manual_seed(0)
    trained = CharLM(4, 6, 10)
    train_language_model(trained, stream, seq_len=5, steps=8, lr=0.01, progress=False, log=lambda s: None)
    profondo.manual_seed(0)
    manual = CharLM(4, 6, 10)
    opt, state, step = optim.Adam(manual.parameters(), lr=0.01), None, 0
    while step < 8:
        state = None
        for xb, yb in bptt_chunks(stream, 5):
            logits, state = manual(xb, detach_state(state))
            loss = F.cross_entropy(logits.reshape(-1, 4), yb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            clip_grad_norm_(manual.parameters(), 1.0)
            opt.step()
            step += 1
            if step == 8:
                break
    for a, b in zip(_weights(trained), _weights(manual)):
        np.testing.assert_array_equal(a, b)


# --- every training loop goes through TrainStep ---------------------------------------------------
@pytest.fixture
def step_calls(monkeypatch):
    calls = []
    call = TrainStep.__call__

    def counted(self, *inputs, target=None):
        calls.append(self)
        return call(self, *inputs, target=target)

    monkeypatch.setattr(TrainStep, "__call__", counted)
    return calls


def test_the_trainer_steps_through_train_step(step_calls):
    x, y = _batch(0, 40)
    model = _net()
    Trainer(model, optim.SGD(model.parameters(), 0.1), progress=False).fit(
        DataLoader(ArrayDataset(x.data, y.data), 16), epochs=2)
    assert len(step_calls) == 6  # 3 batches per epoch


def test_fine_tuning_steps_through_train_step(step_calls):
    from profondo import transfer

    model, groups = transfer.prepare_finetune(_net(), num_classes=2, freeze="0")
    x, y = _batch(0, 20)
    Trainer(model, optim.Adam(groups, 1e-3), progress=False).fit(DataLoader(ArrayDataset(x.data, y.data % 2), 10), 1)
    assert len(step_calls) == 2
    features = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    transfer.LogisticRegression(epochs=2, batch_size=10).fit(features, np.arange(30) % 3)
    assert len(step_calls) == 2 + 6


def test_the_language_loops_step_through_train_step(step_calls):
    from profondo.nlp import CharLM, SentimentClassifier, Seq2Seq, batchify, train_classifier, train_language_model
    from profondo.nlp.train import train_seq2seq

    quiet = {"progress": False, "log": lambda s: None}
    profondo.manual_seed(0)
    train_language_model(CharLM(4, 4, 6), batchify(np.tile([0, 1, 2, 3], 20), 2), seq_len=10, steps=5, **quiet)
    assert len(step_calls) == 5
    ids, labels = [[2, 3, 4], [5, 6], [2, 2, 2, 2]] * 4, np.array([0, 1, 0] * 4)
    train_classifier(SentimentClassifier(8, 4, 4), (ids, labels), epochs=2, batch_size=4, **quiet)
    assert len(step_calls) == 5 + 6
    train_seq2seq(Seq2Seq(8, 8, embedding_dim=4, hidden_size=6), ids, ids, sos_id=2, eos_id=3, epochs=1,
                  batch_size=6, **quiet)
    assert len(step_calls) == 5 + 6 + 2


def test_the_dqn_update_steps_through_train_step(step_calls):
    from profondo.rl import DQN, DQNConfig

    agent = DQN(_net(), 3, (5,), config=DQNConfig(batch_size=4, buffer_size=8, learning_starts=4,
                                                           train_every=1, gradient_steps=1, n_step=1), seed=0)
    rng = np.random.default_rng(0)
    for _ in range(6):
        agent.observe(rng.standard_normal(5), int(rng.integers(3)), 1.0, rng.standard_normal(5), False)
    assert len(step_calls) == agent.updates == 3 and all(s is agent.gradient_step for s in step_calls)


def _hand_written_loops(path: Path) -> list[str]:
    """Functions that call both ``.backward()`` and an optimizer's ``.step()``: a training loop."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            body = [s for s in node.body if not isinstance(s, (ast.FunctionDef, ast.ClassDef))] \
                if isinstance(node, ast.Module) else [node]  # a script's top level counts as one function
            called = {n.func.attr for b in body for n in ast.walk(b)
                      if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
            if {"backward", "step"} <= called:
                found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'name', '<module>')}")
    return found


def test_no_training_loop_of_its_own_outside_train_step():
    allowed = {ROOT / "src/profondo/train/step.py"}
    files = [p for p in [*(ROOT / "src/profondo").rglob("*.py"), *(ROOT / "examples").rglob("*.py")]
             if p not in allowed and "optim" not in p.relative_to(ROOT).parts]
    assert len(files) > 50
    loops = [loop for path in files for loop in _hand_written_loops(path)]
    assert not loops, f"these functions update weights by hand; call profondo.train.TrainStep instead: {loops}"


def test_the_loop_finder_finds_a_hand_written_loop():
    loops = _hand_written_loops(Path(__file__).resolve())  # this file writes reference loops by hand
    assert "tests/train/test_step.py:test_results_are_bit_identical_to_the_hand_written_loop" in loops
    assert "tests/train/test_step.py:test_stale_gradients_are_dropped_before_backward" not in loops
