"""SyncBatchNorm: on 2 real ranks it trains as BatchNorm2d with the global batch in one process
(per-rank batch norm does not); its function is batch norm when there is one rank."""

import numpy as np
import pytest

import profondo
from profondo import functional as F
from profondo import gradcheck, nn
from profondo.backend import blas_threads
from profondo.distributed import Communicator, SyncBatchNorm
from profondo.distributed.sync_batchnorm import SyncBatchNormFunction
from tests.distributed import worker

needs_mpi = pytest.mark.skipif(worker.mpi_missing() is not None, reason=str(worker.mpi_missing()))


@needs_mpi
def test_synchronised_statistics_give_the_single_process_training(tmp_path):
    done = worker.run_ranks(2, "syncbn", str(tmp_path / "w.npz"))
    assert done.returncode == 0, done.stderr[-3000:]
    two = dict(np.load(tmp_path / "w.npz"))
    with blas_threads(1):
        trainer = worker.make_trainer(model=worker.bn_net())
        trainer.fit(profondo.data.DataLoader(worker.data(320), worker.BATCH, shuffle=True, seed=worker.SEED,
                                             prefetch=0), 1)
    reference = worker.weights(trainer)
    for name, expected in reference.items():
        np.testing.assert_allclose(two[f"True/{name}"], expected, rtol=1e-4, atol=2e-5, err_msg=name)
    # Per-rank statistics (the default) train a different network: the check above has teeth.
    differs = max(np.abs(two[f"False/{k}"] - v).max() for k, v in reference.items() if v.dtype.kind == "f")
    assert differs > 1e-3


def test_the_function_is_batch_norm_on_one_rank_forward_and_backward():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    outs = []
    for sync in (False, True):
        xs, ws, bs = (profondo.tensor(a, requires_grad=True) for a in (x, w, b))
        rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
        if sync:
            y = SyncBatchNormFunction(Communicator(), rm, rv, 0.1, 1e-5).apply(xs, ws, bs)
        else:
            y = F.batch_norm(xs, rm, rv, ws, bs, training=True, momentum=0.1, eps=1e-5)
        y.backward(gy)
        outs.append([y.numpy(), xs.grad.numpy(), ws.grad.numpy(), bs.grad.numpy(), rm, rv])
    for ours, plain in zip(*outs):
        np.testing.assert_allclose(ours, plain, rtol=1e-4, atol=1e-5)


def test_gradcheck_in_float64():
    rng = np.random.default_rng(1)
    inputs = [profondo.tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 2, 4), (2,), (2,))]
    assert gradcheck(lambda x, w, b: SyncBatchNormFunction(Communicator(), None, None, 0.1, 1e-5).apply(x, w, b),
                     inputs)


def test_convert_keeps_the_parameters_and_statistics_and_the_file_form():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.BatchNorm1d(8))
    model[1].running_mean.data[...] = 3.0
    weight = model[1].weight
    converted = SyncBatchNorm.convert_sync_batchnorm(model)
    assert [type(m).__name__ for m in converted] == ["Conv2d", "SyncBatchNorm", "Flatten", "SyncBatchNorm"]
    assert converted[1].weight is weight and (converted[1].running_mean.numpy() == 3).all()
    assert converted[1].get_config() == {"num_features": 2, "eps": 1e-5, "momentum": 0.1, "affine": True,
                                         "track_running_stats": True}
    x = profondo.tensor(np.random.default_rng(0).standard_normal((4, 1, 4, 4)).astype(np.float32))
    assert converted(x).shape == (4, 8)  # one process: plain batch norm
