"""The bucketed gradient all-reduce, in one process against a stand-in for the other rank:
means written back, buckets by size in reverse parameter order, and buckets started while
backward is still computing the first layers' gradients."""

import numpy as np
import pytest

import profondo
from profondo import nn, optim
from profondo.distributed import Communicator, GradientAllReduce
from profondo.train import TrainStep


class OtherRank(Communicator):
    """Rank 0 of 2; the other rank's gradient is ``other`` times this one's (a fixed rule, so
    the mean is known). Records, at each start, whether the first layer has its gradient yet."""

    rank, size = 0, 2

    def __init__(self, model, other: float = 3.0) -> None:
        self.model, self.other, self.starts, self.waits = model, other, [], 0

    def iallreduce_(self, buffer):
        buffer *= 1 + self.other
        self.starts.append((buffer.size, self.model[0].weight.grad is not None))
        return len(self.starts)

    def wait(self, requests: list) -> None:
        self.waits += 1


def _model():
    profondo.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 40), nn.ReLU(), nn.Linear(40, 5))


def _grads(model):
    x = profondo.tensor(np.random.default_rng(0).standard_normal((8, 20), dtype=np.float32))
    model(x).sum().backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def test_gradients_become_the_mean_over_ranks():
    model = _model()
    expected = _grads(model)
    for p in model.parameters():
        p.grad = None
    comm = OtherRank(model)
    reducer = GradientAllReduce(model.parameters(), comm, bucket_cap_mb=0.001)
    _grads(model)
    reducer()
    for p, g in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.grad.numpy(), g * (1 + comm.other) / 2, rtol=1e-6)
    assert comm.waits == 1 and reducer.steps == 1
    reducer.remove()


def test_buckets_hold_parameters_in_reverse_order_up_to_the_cap():
    model = _model()
    # 0.004 MiB = 4194 bytes: the last Linear (40x5 + 5 floats = 820 B) and 2.bias (160 B)
    # fill one bucket before 2.weight (4800 B) opens the next.
    reducer = GradientAllReduce(model.parameters(), OtherRank(model), bucket_cap_mb=0.004)
    sizes = [[p.data.size for p in b.params] for b in reducer.buckets]
    assert sizes == [[5, 200, 40], [1200], [30, 600]]
    assert reducer.gradient_bytes == sum(p.data.nbytes for p in model.parameters())
    reducer.remove()


def test_buckets_start_while_backward_is_still_running():
    model = _model()
    comm = OtherRank(model)
    reducer = GradientAllReduce(model.parameters(), comm, bucket_cap_mb=0.004)
    _grads(model)
    # the first two buckets were started before the first layer's gradient existed
    assert [ready for _, ready in comm.starts] == [False, False, True]
    reducer()
    assert len(comm.starts) == 3  # nothing sent twice
    reducer.remove()


def test_without_overlap_everything_is_sent_after_backward():
    model = _model()
    comm = OtherRank(model)
    reducer = GradientAllReduce(model.parameters(), comm, bucket_cap_mb=0.004, overlap=False)
    _grads(model)
    assert comm.starts == []
    reducer()
    assert [ready for _, ready in comm.starts] == [True, True, True]


def test_in_a_train_step_and_a_second_backward_is_refused():
    model = _model()
    comm = OtherRank(model, other=1.0)  # both ranks the same gradient: the mean is this one
    reducer = GradientAllReduce(model.parameters(), comm)
    reference = _model()
    x = profondo.tensor(np.ones((4, 20), np.float32))
    y = profondo.tensor(np.array([0, 1, 2, 3]))
    TrainStep(model, optim.SGD(model.parameters(), 0.1), gradient_hooks=[reducer])(x, target=y)
    TrainStep(reference, optim.SGD(reference.parameters(), 0.1))(x, target=y)
    for a, b in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    model(x).sum().backward()
    with pytest.raises(RuntimeError, match="a second backward before the gradients were averaged"):
        model(x).sum().backward()
    reducer.remove()


def test_bad_arguments():
    model = _model()
    with pytest.raises(ValueError, match="no parameter that requires grad"):
        GradientAllReduce([], OtherRank(model))
    with pytest.raises(ValueError, match="bucket_cap_mb must be > 0"):
        GradientAllReduce(model.parameters(), OtherRank(model), bucket_cap_mb=0)
