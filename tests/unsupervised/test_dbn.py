"""DBN: greedy pre-training on a slice of digits, the two unrollings, fine-tuning through
TrainStep."""

from __future__ import annotations

import numpy as np
import pytest

import profondo
from profondo import Tensor, nn
from profondo.autograd import no_grad
from profondo.optim import SGD
from profondo.train import TrainStep
from profondo.unsupervised.dbn import DBN


@pytest.fixture(scope="module")
def trained():
    pytest.importorskip("sklearn")
    from profondo.data.datasets import digits

    data = digits("train")
    x, y = data.x.reshape(-1, 64)[:600], data.y[:600]
    dbn = DBN([64, 32, 16], seed=0)
    dbn.pretrain(x, epochs=5, lr=0.05, batch_size=10, momentum=(0.5, 0.9))
    return dbn, x, y


def test_greedy_pretraining_lowers_every_layers_reconstruction_error(trained):
    dbn, x, _ = trained
    assert all(rbm.epochs_done == 5 for rbm in dbn.rbms)
    codes = x
    for rbm in dbn.rbms:  # against an untrained RBM on the same inputs (measured: 0.3 and 0.76 of it)
        assert rbm.reconstruction_error(codes) < 0.9 * type(rbm)(rbm.n_visible, rbm.n_hidden).reconstruction_error(codes)
        codes = rbm.transform(codes)


def test_unrolled_networks_compute_the_dbn(trained):
    dbn, x, _ = trained
    with no_grad():
        codes = dbn.encoder()(Tensor(x)).numpy()
        reconstruction = dbn.autoencoder()(Tensor(x)).numpy()
    np.testing.assert_allclose(codes, dbn.transform(x), rtol=1e-5, atol=1e-6)
    expected = x
    for rbm in dbn.rbms:
        expected = rbm.transform(expected)
    for rbm in reversed(dbn.rbms):
        expected = rbm.visible_mean(expected)
    np.testing.assert_allclose(reconstruction, expected, rtol=1e-4, atol=1e-5)
    assert ((reconstruction - x) ** 2).mean() < ((x - x.mean()) ** 2).mean()


def test_fine_tuned_classifier_learns(trained):
    dbn, x, y = trained
    profondo.manual_seed(0)  # the new output layer's weights
    model = dbn.classifier(10)
    assert [type(m) for m in model] == [nn.Linear, nn.Sigmoid, nn.Linear, nn.Sigmoid, nn.Linear]
    step = TrainStep(model, SGD(model.parameters(), 0.3, momentum=0.9))
    for _ in range(10):
        for s in range(0, len(x), 20):
            step(Tensor(x[s:s + 20]), target=Tensor(y[s:s + 20]))
    with no_grad():
        accuracy = (model(Tensor(x)).numpy().argmax(1) == y).mean()
    assert accuracy > 0.85, accuracy  # measured: 0.957 (training accuracy, 600 digits)
    # the classifier holds copies: the DBN's own weights are untouched by fine-tuning
    np.testing.assert_allclose(dbn.encoder()(Tensor(x[:5])).numpy(), dbn.transform(x[:5]), rtol=1e-5, atol=1e-6)


def test_gaussian_first_layer_and_errors():
    dbn = DBN([6, 4, 2], visible="gaussian")
    assert [r.visible for r in dbn.rbms] == ["gaussian", "bernoulli"]
    assert not isinstance(list(dbn.autoencoder())[-1], nn.Sigmoid)  # linear reconstructions of real data
    with pytest.raises(ValueError, match="at least two layer sizes"):
        DBN([6])
