"""Data parallel on 2 real MPI ranks equals one process: the same weights after 50 SGD-momentum
steps of LeNet-5, and a 2-rank run resumed on 1 rank equals an uninterrupted 1-rank run."""

from __future__ import annotations

import numpy as np
import pytest

from profondo.backend import blas_threads
from profondo.data import ArrayDataset, DataLoader
from profondo.distributed import Communicator, broadcast_parameters, data_parallel, shard_dataset, shard_loader
from tests.distributed import worker

# Two float32 summation orders (a mean of two half-batch means against one mean of the batch),
# compounded over 50-100 steps: measured 6e-8 at most; the weights themselves move by 0.2.
ATOL = 1e-5

needs_mpi = pytest.mark.skipif(worker.mpi_missing() is not None, reason=str(worker.mpi_missing()))


@pytest.fixture(scope="module")
def two_rank_epoch(tmp_path_factory):
    """One epoch (50 steps, 8 samples per rank) on 2 ranks, checkpointed by rank 0."""
    folder = tmp_path_factory.mktemp("two-ranks")
    done = worker.run_ranks(2, "train", str(folder / "weights.npz"), "--ckpt", str(folder / "ckpt"))
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, dict(np.load(folder / "weights.npz"))


@pytest.fixture(scope="module")
def one_rank():
    """The reference: the same training in one process, batch 16; weights after 1 and 2 epochs."""
    with blas_threads(1):
        trainer = worker.make_trainer()
        first = {k: list(v) for k, v in trainer.fit(worker.loader(), 1).items()}
        after_one = worker.weights(trainer)
        trainer.fit(worker.loader(), 2)
    return after_one, worker.weights(trainer), first, trainer.step


@needs_mpi
def test_two_ranks_with_half_batches_equal_one_rank_after_50_steps(two_rank_epoch, one_rank):
    _, two = two_rank_epoch
    after_one, _, history, _ = one_rank
    assert int(two["steps"]) == 50
    initial = worker.weights(worker.make_trainer())
    for name, expected in after_one.items():
        assert np.abs(expected - initial[name]).max() > 100 * ATOL, f"{name} did not move: the test would prove nothing"
        np.testing.assert_allclose(two[name], expected, rtol=0, atol=ATOL, err_msg=name)
    # The epoch's loss and accuracy are reduced over the ranks: the one-process figures.
    np.testing.assert_allclose(two["history_loss"], history["loss"], rtol=1e-6)
    np.testing.assert_allclose(two["history_accuracy"], history["accuracy"])


@needs_mpi
def test_two_rank_run_resumed_on_one_rank_equals_an_uninterrupted_run(two_rank_epoch, one_rank):
    folder, _ = two_rank_epoch
    _, uninterrupted, _, steps = one_rank
    with blas_threads(1):
        resumed = worker.make_trainer()
        assert resumed.resume(folder / "ckpt" / "last.ckpt") == 1
        resumed.fit(worker.loader(), 2)
    assert resumed.step == steps == 100
    for name, expected in uninterrupted.items():
        np.testing.assert_allclose(worker.weights(resumed)[name], expected, rtol=0, atol=ATOL, err_msg=name)


@needs_mpi
def test_one_rank_run_resumed_on_two_ranks_equals_an_uninterrupted_run(tmp_path, one_rank):
    from profondo.train import ModelCheckpoint

    _, uninterrupted, _, _ = one_rank
    with blas_threads(1):
        worker.make_trainer([ModelCheckpoint(tmp_path / "ckpt", monitor="loss")]).fit(worker.loader(), 1)
    done = worker.run_ranks(2, "train", str(tmp_path / "w.npz"), "--epochs", "2", "--resume",
                            str(tmp_path / "ckpt" / "last.ckpt"))
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = dict(np.load(tmp_path / "w.npz"))
    assert int(resumed["steps"]) == 100
    for name, expected in uninterrupted.items():
        np.testing.assert_allclose(resumed[name], expected, rtol=0, atol=ATOL, err_msg=name)


class _Fake(Communicator):
    """Rank 1 of 2, as seen from one process: the 'other' rank sends fixed values."""

    rank, size = 1, 2

    def __init__(self, other: float = 5.0) -> None:
        self.other = other

    def broadcast_(self, buffer, root: int = 0) -> None:
        buffer[...] = self.other

    def allreduce_(self, buffer) -> None:
        buffer += self.other


def test_broadcast_parameters_overwrites_parameters_and_buffers():
    from profondo import nn

    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    broadcast_parameters(model, _Fake(7.0))
    for name, value in model.state_dict().items():
        assert (value == 7).all(), name


def test_data_parallel_keeps_file_writers_on_rank_zero_only(tmp_path):
    from profondo.train import CSVLogger, EarlyStopping, ModelCheckpoint

    trainer = worker.make_trainer([ModelCheckpoint(tmp_path), CSVLogger(tmp_path / "h.csv"), EarlyStopping()])
    reducer = data_parallel(trainer, _Fake())
    assert [type(cb) for cb in trainer.callbacks] == [EarlyStopping]
    assert trainer.progress is False and reducer in trainer.gradient_hooks
    assert trainer.metric_reduce([1.0, 2.0]).tolist() == [6.0, 7.0]
    reducer.remove()


def test_a_one_process_world_changes_nothing():
    trainer = worker.make_trainer()
    assert data_parallel(trainer, Communicator()) is None
    assert trainer.gradient_hooks == [] and trainer.metric_reduce is None


def test_shard_loader_splits_each_global_batch_and_refuses_an_uneven_batch():
    data = ArrayDataset(np.arange(12, dtype=np.float32)[:, None], np.arange(12))
    loader = DataLoader(data, 4, shuffle=True, seed=1, prefetch=0)
    shards = []
    for rank in (0, 1):
        comm = _Fake()
        comm.rank = rank
        shards.append(list(shard_loader(loader, comm)))
    for whole, a, b in zip(loader, *shards):
        assert sorted(whole[1].tolist()) == sorted(a[1].tolist() + b[1].tolist())
        assert len(a[1]) == len(b[1]) == 2
    with pytest.raises(ValueError, match="does not split over 2 processes"):
        shard_loader(DataLoader(data, 5), _Fake())


def test_shard_dataset_gives_disjoint_shares_that_cover_the_data():
    data = ArrayDataset(np.zeros((7, 1), np.float32), np.arange(7))
    parts = []
    for rank in (0, 1):
        comm = _Fake()
        comm.rank = rank
        parts.append(shard_dataset(data, comm).indices.tolist())
    assert parts == [[0, 2, 4, 6], [1, 3, 5]]
