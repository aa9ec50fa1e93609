"""DistributedSampler: each rank's share of an epoch, PyTorch's padding and interleaving, and
shards whose union is the DataLoader's own single-process epoch."""

import numpy as np
import pytest

from profondo.data import ArrayDataset, DataLoader, DistributedSampler
from profondo.data.sampler import epoch_order


def _data(n: int) -> ArrayDataset:
    return ArrayDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n))


@pytest.mark.parametrize("size,replicas", [(12, 2), (12, 3), (13, 4), (5, 8)])
def test_without_shuffling_it_matches_pytorch(size, replicas):
    torch = pytest.importorskip("torch")
    for drop_last in (False, True):
        for rank in range(replicas):
            ours = list(DistributedSampler(_data(size), replicas, rank, shuffle=False, drop_last=drop_last))
            theirs = list(torch.utils.data.DistributedSampler(range(size), replicas, rank, shuffle=False,
                                                              drop_last=drop_last))
            assert ours == theirs, (rank, drop_last)


@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
def test_shards_are_disjoint_and_make_up_the_single_process_epoch(replicas):
    data = _data(24)
    for epoch in (0, 1, 5):
        shards = []
        for rank in range(replicas):
            sampler = DistributedSampler(data, replicas, rank, seed=7)
            sampler.set_epoch(epoch)
            shards.append(sampler.indices())
        joined = np.concatenate(shards)
        assert len(set(joined.tolist())) == len(joined) == 24
        single = epoch_order(7, epoch, 24)
        loader = DataLoader(data, 24, shuffle=True, seed=7, prefetch=0)
        loader.set_epoch(epoch)
        assert (next(iter(loader))[1] == single).all()
        # batch j of b samples on every rank holds the single-process batch j of replicas * b
        b = 2
        for j in range(24 // (replicas * b)):
            together = np.concatenate([s[j * b:(j + 1) * b] for s in shards])
            assert sorted(together.tolist()) == sorted(single[j * replicas * b:(j + 1) * replicas * b].tolist())
    assert not (epoch_order(7, 0, 24) == epoch_order(7, 1, 24)).all()


def test_padding_gives_every_rank_the_same_number_of_batches():
    data = _data(13)
    lengths = {len(DataLoader(data, 2, sampler=DistributedSampler(data, 4, r, seed=0))) for r in range(4)}
    assert lengths == {2}  # 4 samples each (3 padded from the start of the epoch)
    assert len(DistributedSampler(data, 4, 0, drop_last=True)) == 3


def test_the_loader_follows_its_epoch_and_refuses_shuffle_with_a_sampler():
    data = _data(10)
    sampler = DistributedSampler(data, 2, 1, seed=3)
    loader = DataLoader(data, 5, sampler=sampler, prefetch=0)
    loader.set_epoch(4)
    assert next(iter(loader))[1].tolist() == epoch_order(3, 4, 10)[1::2].tolist()
    assert sampler.epoch == 4
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(data, 5, shuffle=True, sampler=sampler)


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match=r"rank in \[0, 1\]"):
        DistributedSampler(_data(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas >= 1"):
        DistributedSampler(_data(4), 0, 0)
    with pytest.raises(ValueError, match="needs num_replicas and rank"):
        DistributedSampler(_data(4))
