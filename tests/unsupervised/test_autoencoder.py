"""Denoising autoencoders: gradients by central differences, corruption, learning on a slice of
digits for each variant, exact resume, and the two transfer routes of a pre-trained stack."""

from __future__ import annotations

import numpy as np
import pytest

import profondo
from profondo import Tensor, nn
from profondo.gradcheck import gradcheck
from profondo.optim import SGD
from profondo.train import TrainStep
from profondo.unsupervised.autoencoder import DenoisingAutoencoder, StackedDenoisingAutoencoder, corrupt


def _digits(n: int) -> np.ndarray:
    pytest.importorskip("sklearn")
    from profondo.data.datasets import digits

    return digits("train").x.reshape(-1, 64)[:n]


def _slots(dae: DenoisingAutoencoder) -> list[tuple[nn.Module, str]]:
    decoder = [(dae, "decoder_bias")] if dae.tied else [(dae.decoder, "weight"), (dae.decoder, "bias")]
    return [(dae.encoder, "weight"), (dae.encoder, "bias"), *decoder]


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("activation, loss", [("sigmoid", "cross_entropy"), ("relu", "squared")])
def test_reconstruction_loss_gradients(tied, activation, loss):
    """gradcheck through the module's own encode/decode: its parameters are swapped for the
    float64 tensors gradcheck varies (a tied weight is used twice: encoder and decoder)."""
    dae = DenoisingAutoencoder(5, 3, activation, tied, loss)
    slots = _slots(dae)
    rng = np.random.default_rng(0)
    params = [Tensor(rng.standard_normal(getattr(m, n).shape) * 0.5, requires_grad=True) for m, n in slots]
    target = rng.random((4, 5))
    noisy = target * (rng.random((4, 5)) > 0.3)

    def loss_of(x, *ps):
        for (m, n), p in zip(slots, ps):
            object.__setattr__(m, n, p)
        return dae.reconstruction_loss(dae.decode_logits(dae.encode(x)), Tensor(target))

    assert gradcheck(loss_of, [Tensor(noisy, requires_grad=True), *params])


def test_corruption():
    rng = np.random.default_rng(0)
    x = np.ones((200, 50), np.float32)
    masked = corrupt(x, "mask", 0.3, rng)
    assert set(np.unique(masked)) == {0.0, 1.0} and abs((masked == 0).mean() - 0.3) < 0.02
    noisy = corrupt(x, "gaussian", 0.5, rng)
    assert abs((noisy - x).std() - 0.5) < 0.02 and noisy.dtype == np.float32
    assert corrupt(x, "none", 0.5, rng) is x
    with pytest.raises(ValueError, match="expected one of"):
        corrupt(x, "salt", 0.1, rng)
    with pytest.raises(ValueError, match="probability"):
        DenoisingAutoencoder(4, 2, corruption="mask", noise=1.5)


@pytest.mark.parametrize("options", [
    dict(), dict(tied=False), dict(corruption="gaussian", noise=0.2),
    dict(activation="relu", loss="squared", corruption="gaussian", noise=0.1),
], ids=["tied-mask-ce", "untied", "gaussian", "relu-squared"])
def test_reconstruction_error_falls(options):
    x = _digits(600)
    dae = DenoisingAutoencoder(64, 32, **options)
    before = dae.error(x)
    losses = dae.fit(x, epochs=4, batch_size=20, lr=3e-3)
    assert losses[-1] < losses[0]
    assert dae.error(x) < 0.75 * before


def test_fit_resumes_exactly_at_an_epoch():
    from profondo.optim import Adam

    x = _digits(200)
    profondo.manual_seed(1)
    straight = DenoisingAutoencoder(64, 8)
    straight_losses = straight.fit(x, epochs=3, optimizer=Adam(straight.parameters(), 1e-3), seed=5)
    profondo.manual_seed(1)
    split = DenoisingAutoencoder(64, 8)
    optimizer = Adam(split.parameters(), 1e-3)
    first = split.fit(x, epochs=1, optimizer=optimizer, seed=5)
    rest = split.fit(x, epochs=3, optimizer=optimizer, seed=5, start_epoch=1)
    assert first + rest == pytest.approx(straight_losses, rel=1e-6)
    for (name, a), b in zip(straight.state_dict().items(), split.state_dict().values()):
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=name)


def test_stack_pretrains_each_layer_on_the_codes_below():
    x = _digits(400)
    sda = StackedDenoisingAutoencoder([64, 24, 12], noise=0.2)
    history = sda.pretrain(x, epochs=3, lr=3e-3)
    assert [len(h) for h in history] == [3, 3] and all(h[-1] < h[0] for h in history)
    codes = sda.transform(x)
    assert codes.shape == (400, 12)
    encoder = sda.encoder()
    np.testing.assert_allclose(encoder(Tensor(x)).numpy(), codes, rtol=1e-5, atol=1e-6)
    # a copy: fine-tuning the classifier leaves the pre-trained stack as it was
    before = sda.state_dict()
    model = sda.classifier(10)
    assert isinstance(model, nn.Sequential) and model[-1].out_features == 10
    y = np.random.default_rng(0).integers(0, 10, 400)
    step = TrainStep(model, SGD(model.parameters(), 0.5))
    losses = [step(Tensor(x), target=Tensor(y)).loss.item() for _ in range(20)]
    assert losses[-1] < losses[0]
    for name, value in sda.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    restored = StackedDenoisingAutoencoder([64, 24, 12])
    restored.load_state_dict(before)
    np.testing.assert_array_equal(restored.transform(x), codes)


def test_stack_errors():
    with pytest.raises(ValueError, match="at least two sizes"):
        StackedDenoisingAutoencoder([64])
    with pytest.raises(ValueError, match="expected samples of 64 features"):
        StackedDenoisingAutoencoder([64, 8]).transform(np.zeros((2, 10)))


SMALL_CONV_AUTOENCODER = {  # 8x8 digits -> 4x4x8 code -> 8x8, as the zoo's MNIST one at a quarter of the size
    "name": "conv-autoencoder-digits", "input": [1, 8, 8],
    "layers": [{"conv": {"filters": 8, "size": 3, "pad": 1, "activation": "relu"}}, {"pool": {"type": "max", "size": 2}},
               {"conv": {"filters": 8, "size": 3, "pad": 1, "activation": "relu"}}, {"upsample": 2},
               {"conv": {"filters": 1, "size": 3, "pad": 1, "activation": "sigmoid"}}]}


@pytest.mark.parametrize("corruption, noise", [("none", 0.0), ("mask", 0.25)], ids=["plain", "denoising"])
def test_a_conv_autoencoder_from_a_file_learns_to_reconstruct_digits(corruption, noise):
    from profondo import architecture
    from profondo.unsupervised.autoencoder import fit_reconstruction, reconstruct, reconstruction_error

    x = _digits(512).reshape(-1, 1, 8, 8)
    held_out = _digits(612)[512:].reshape(-1, 1, 8, 8)
    profondo.manual_seed(0)
    net = architecture.from_dict(SMALL_CONV_AUTOENCODER)
    before = reconstruction_error(net, held_out)
    losses = fit_reconstruction(net, x, epochs=6, batch_size=32, lr=3e-3, corruption=corruption, noise=noise)
    after = reconstruction_error(net, held_out)
    mean_image = float(np.mean((held_out - x.mean(axis=0)) ** 2))
    assert losses[-1] < 0.8 * losses[0], losses
    assert after < 0.5 * before and after < 0.7 * mean_image, (before, after, mean_image)
    assert reconstruct(net, held_out[:3]).shape == (3, 1, 8, 8)


def test_fit_reconstruction_says_what_it_expected():
    from profondo import architecture
    from profondo.unsupervised.autoencoder import fit_reconstruction

    net = architecture.from_dict(SMALL_CONV_AUTOENCODER)
    with pytest.raises(ValueError, match=r"reads samples of shape \(1, 8, 8\), received a batch of shape \(4, 64\)"):
        fit_reconstruction(net, np.zeros((4, 64), np.float32), epochs=1)
    with pytest.raises(ValueError, match="loss must be one of"):
        fit_reconstruction(net, np.zeros((4, 1, 8, 8), np.float32), loss="l2")
