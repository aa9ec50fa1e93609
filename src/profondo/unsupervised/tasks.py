"""Whole runs of the unsupervised models on a data set, with checkpoints, resume, pictures and
a dictionary of results: what ``profondo rbm`` and ``profondo pretrain`` call.

Every run writes into ``out``: ``last.ckpt`` after every epoch (``resume=True`` continues from
it exactly: weights, velocities, chains, generator states), the PNGs, and ``results.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data.datasets import load_dataset
from ..io.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from .plots import save_reconstructions, save_tiles
from .rbm import RBM


def _images(data: str, split: str, data_dir: str | None, limit: int | None) -> tuple[np.ndarray, np.ndarray,
                                                                                     tuple[int, int]]:
    ds = load_dataset(data, split, data_dir)
    x, y = ds.x, ds.y
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"the unsupervised tasks read grey images (N, 1, H, W); {data} has shape {x.shape[1:]}")
    return x.reshape(len(x), -1).astype(np.float32), y, (x.shape[2], x.shape[3])


def _resume_from(out: Path, resume: bool, kind: str) -> Checkpoint | None:
    last = out / "last.ckpt"
    if not resume:
        return None
    if not last.exists():
        raise FileNotFoundError(f"resume: {last} does not exist (run once without --resume first)")
    ckpt = read_checkpoint(last)
    if ckpt.meta.get("kind") != kind:
        raise ValueError(f"resume: {last} holds a {ckpt.meta.get('kind')!r} run, this command trains {kind!r}")
    return ckpt


def _write_results(out: Path, result: dict) -> dict:
    with open(out / "results.json", "w") as f:
        json.dump(result, f, indent=1, default=str)
    return result


def rbm_task(data: str = "digits", data_dir: str | None = None, hidden: int = 100, epochs: int = 10,
             batch_size: int = 10, lr: float = 0.06, k: int = 1, persistent: bool = False,
             momentum: float = 0.0, final_momentum: float | None = None, weight_decay: float = 0.0,
             train_limit: int | None = None, seed: int = 0, out: str | None = None, resume: bool = False,
             sample_steps: int = 1000, progress: bool = True) -> dict[str, Any]:
    """Train a Bernoulli RBM on a grey-image data set (pixels in [0, 1]) and report its
    pseudo-likelihood and reconstruction error on the test split. ``final_momentum``, when
    given, replaces ``momentum`` after 5 epochs (the guide's 0.5 then 0.9). Writes into ``out``
    (default ``runs/rbm-DATA``) ``filters.png`` (the weights of up to 100 hidden units),
    ``samples.png`` (Gibbs chains started from test images, ``sample_steps`` steps) and
    ``reconstructions.png``."""
    from ..train.progress import ProgressBar

    out = Path(out or f"runs/rbm-{data}")
    out.mkdir(parents=True, exist_ok=True)
    x, _, shape = _images(data, "train", data_dir, train_limit)
    x_test, _, _ = _images(data, "test", data_dir, None)
    ckpt = _resume_from(out, resume, "rbm")
    if ckpt is not None:
        rbm = RBM.from_state(ckpt.meta["config"], ckpt.group("rbm"))
        history = ckpt.meta["history"]
    else:
        rbm, history = RBM(x.shape[1], hidden, seed=seed), []
    eval_x = x_test[:500]
    bar = ProgressBar(epochs, f"RBM {rbm.n_visible}x{rbm.n_hidden}", enabled=progress)
    bar.update(rbm.epochs_done)
    started = time.perf_counter()

    def after_epoch(r: RBM, epoch: int) -> None:
        row = {"epoch": epoch, "pseudo_likelihood": float(r.pseudo_likelihood(eval_x).mean()),
               "reconstruction_error": r.reconstruction_error(eval_x)}
        history.append(row)
        write_checkpoint(out / "last.ckpt", Checkpoint({"rbm": r.state_dict()},
                                                       {"kind": "rbm", "config": r.config(), "history": history}))
        bar.update(1, len(x), pl=row["pseudo_likelihood"], recon=row["reconstruction_error"])

    rbm.fit(x, epochs, batch_size, lr, k, persistent, (momentum, momentum if final_momentum is None else final_momentum),
            weight_decay, callback=after_epoch)
    bar.close()
    seconds = time.perf_counter() - started
    pictures = {
        "filters": save_tiles(out / "filters.png", rbm.weight[:100], shape,
                              f"RBM {rbm.n_visible}x{rbm.n_hidden}: weights of the first {min(100, hidden)} hidden units"),
        # Chains started from test images, as in the Theano tutorial: a CD-1 model mixes poorly, and
        # chains started from noise mostly fall into the empty image.
        "samples": save_tiles(out / "samples.png", rbm.sample(50, sample_steps, start=x_test[:50]), shape,
                              f"Gibbs chains from 50 test images, after {sample_steps} steps", columns=10,
                              normalize=False),
        "reconstructions": save_reconstructions(
            out / "reconstructions.png", x_test[:30], rbm.visible_mean(rbm.hidden_probabilities(x_test[:30])), shape),
    }
    result = {"task": "rbm", "data": data, "hidden": hidden, "epochs": rbm.epochs_done, "seed": seed,
              "test_pseudo_likelihood": float(rbm.pseudo_likelihood(x_test).mean()),
              "test_reconstruction_error": rbm.reconstruction_error(x_test), "seconds_this_run": round(seconds, 1),
              "history": history, "pictures": {k: str(v) for k, v in pictures.items()}}
    if progress:
        print(f"test pseudo-likelihood {result['test_pseudo_likelihood']:.3f}, reconstruction error "
              f"{result['test_reconstruction_error']:.4f}; pictures in {out}")
    return _write_results(out, result)


def _svm_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                  C: float) -> float:
    from ..transfer import linear_svm

    return float(linear_svm(C).fit(train_x, train_y).score(test_x, test_y))


def _classifier_error(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    from ..autograd import no_grad
    from ..tensor import Tensor

    model.eval()
    with no_grad():
        predicted = np.concatenate([model(Tensor(x[s:s + batch_size])).numpy().argmax(1)
                                    for s in range(0, len(x), batch_size)])
    return float((predicted != y).mean())


def _fit_classifier(model, x: np.ndarray, y: np.ndarray, directory: Path, resume: bool, lr: float,
                    batch_size: int, seed: int, progress: bool, epochs: int | None = None,
                    seconds: float | None = None) -> dict[str, Any]:
    """Fine-tune (or train) ``model`` with the Trainer, SGD with momentum 0.9, a checkpoint in
    ``directory/last.ckpt`` after every epoch; for ``epochs`` epochs, or epoch by epoch (one at
    least) until ``seconds`` of training time are spent (the from-scratch baseline's budget)."""
    from ..data import ArrayDataset, DataLoader
    from ..optim import SGD
    from ..train import ModelCheckpoint, Trainer

    loader = DataLoader(ArrayDataset(x, y), batch_size=batch_size, shuffle=True, seed=seed)
    trainer = Trainer(model, SGD(model.parameters(), lr, momentum=0.9), progress=progress,
                      callbacks=[ModelCheckpoint(directory, monitor="loss", save_best=False)])
    if resume and (directory / "last.ckpt").exists():
        trainer.resume(directory / "last.ckpt")
    if epochs is not None:
        trainer.fit(loader, epochs)
    else:
        while trainer.epoch == 0 or sum(trainer.history.get("time", [])) < seconds:  # one epoch at least
            trainer.fit(loader, trainer.epoch + 1)
    return {"epochs": trainer.epoch, "seconds": round(sum(trainer.history.get("time", [])), 1),
            "train_loss": trainer.history["loss"][-1]}


def pretrain_task(model: str = "dbn", data: str = "mnist", data_dir: str | None = None,
                  hidden: tuple[int, ...] = (500, 500, 2000), pretrain_epochs: int = 5, finetune_epochs: int = 5,
                  batch_size: int = 100, lr: float | None = None, finetune_lr: float = 0.1,
                  corruption: str = "mask", noise: float = 0.25, momentum: float = 0.5, final_momentum: float = 0.9,
                  weight_decay: float = 2e-4, svm_labels: int = 1000, svm_c: float = 0.01, baseline: bool = True,
                  baseline_lr: float | None = None,
                  train_limit: int | None = None, seed: int = 0, out: str | None = None, resume: bool = False,
                  progress: bool = True) -> dict[str, Any]:
    """Pre-train a DBN (``model="dbn"``: RBMs with CD-1, momentum ``momentum`` then
    ``final_momentum`` after 5 epochs, ``weight_decay``; ``lr`` default 0.05) or a stacked
    denoising autoencoder (``"sda"``: tied sigmoid layers, cross-entropy, ``corruption`` with
    ``noise``; Adam, ``lr`` default 1e-3) on the training images, layer by layer; then

    - a linear SVM on the top codes of the first ``svm_labels`` training images, beside one on
      their raw pixels (the feature-reuse route);
    - fine-tune the unrolled classifier (sigmoid MLP ``input``-``hidden``-10) for
      ``finetune_epochs`` with SGD (momentum 0.9, ``finetune_lr``);
    - with ``baseline``, the same MLP from random (Glorot) weights, trained with SGD at
      ``baseline_lr`` (default ``finetune_lr``) for as long as the pre-training and fine-tuning
      took together (epoch by epoch: it may overrun by part of an epoch).

    Test errors on the test split. Writes ``filters.png`` (the first layer's weights) and
    ``reconstructions.png``, the unrolled networks as architecture files (``classifier.yaml``,
    for a DBN ``autoencoder.yaml``); checkpoints in ``out`` (default ``runs/MODEL-DATA``: ``pretrain.ckpt`` or ``sda-layerN.ckpt``,
    ``finetune/``, ``scratch/``), which ``resume=True`` continues from.
    """
    from .. import random as prandom
    from ..nn import Linear, Sequential, Sigmoid

    if model not in ("dbn", "sda"):
        raise ValueError(f"pretrain: model must be 'dbn' or 'sda', received {model!r}")
    out = Path(out or f"runs/{model}-{data}")
    out.mkdir(parents=True, exist_ok=True)
    prandom.manual_seed(seed)
    x, y, shape = _images(data, "train", data_dir, train_limit)
    x_test, y_test, _ = _images(data, "test", data_dir, None)
    sizes = [x.shape[1], *hidden]
    if model == "dbn":
        net, pretrain_info = _pretrain_dbn(x, sizes, out, resume, pretrain_epochs, batch_size, lr or 0.05,
                                           momentum, final_momentum, weight_decay, seed, progress)
        first = net.rbms[0].weight
        recon = net.autoencoder()
    else:
        net, pretrain_info = _pretrain_sda(x, sizes, out, resume, pretrain_epochs, batch_size, lr or 1e-3,
                                           corruption, noise, seed, progress)
        first = net.layers[0].encoder.weight.numpy()
        recon = net.layers[0]
    pretrain_seconds = pretrain_info["seconds"]  # all runs of a resumed pre-training
    from ..autograd import no_grad
    from ..tensor import Tensor

    with no_grad():
        recon.eval()
        reconstructed = recon(Tensor(x_test[:30])).numpy()
    label = "DBN" if model == "dbn" else "SdA"
    pictures = {
        "filters": save_tiles(out / "filters.png", first[:100], shape,
                              f"{label} first layer: weights of 100 of its {sizes[1]} units"),
        "reconstructions": save_reconstructions(out / "reconstructions.png", x_test[:30], reconstructed, shape,
                                                f"{label}: test inputs (odd rows), reconstructions (even rows)"),
    }
    result: dict[str, Any] = {"task": "pretrain", "model": model, "data": data, "sizes": sizes, "seed": seed,
                              "pretrain": pretrain_info, "pictures": {k: str(v) for k, v in pictures.items()}}
    # Feature reuse: a linear SVM on few labels, pre-trained codes against raw pixels.
    n = min(svm_labels, len(x))
    codes, codes_test = net.transform(x[:n]), net.transform(x_test)
    result["svm"] = {"labels": n, "C": svm_c,
                     "codes_test_error": 1 - _svm_accuracy(codes, y[:n], codes_test, y_test, svm_c),
                     "pixels_test_error": 1 - _svm_accuracy(x[:n], y[:n], x_test, y_test, svm_c)}
    # Fine-tuning route: the encoder with a new output layer, also written as an architecture file
    # (`profondo summary OUT/classifier.yaml` counts its layers).
    classifier = net.classifier(10)
    _write_architecture(classifier, out / "classifier.yaml", sizes[0], result)
    if model == "dbn":
        _write_architecture(recon, out / "autoencoder.yaml", sizes[0], result)
    tuned = _fit_classifier(classifier, x, y, out / "finetune", resume, finetune_lr, batch_size, seed, progress,
                            epochs=finetune_epochs)
    result["finetune"] = {**tuned, "test_error": _classifier_error(classifier, x_test, y_test), "lr": finetune_lr}
    spent = pretrain_seconds + tuned["seconds"]
    if baseline:
        prandom.manual_seed(seed)
        layers: list = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [Linear(a, b, init="glorot_uniform"), Sigmoid()]
        scratch = Sequential(*layers, Linear(sizes[-1], 10))
        lr_scratch = finetune_lr if baseline_lr is None else baseline_lr
        trained = _fit_classifier(scratch, x, y, out / "scratch", resume, lr_scratch, batch_size, seed, progress,
                                  seconds=spent)
        result["scratch"] = {**trained, "test_error": _classifier_error(scratch, x_test, y_test),
                             "budget_seconds": round(spent, 1), "lr": lr_scratch}
    if progress:
        line = f"{label} fine-tuned: test error {100 * result['finetune']['test_error']:.2f} %"
        if baseline:
            line += f"; same MLP from scratch, same time: {100 * result['scratch']['test_error']:.2f} %"
        svm = result["svm"]
        line += (f"; linear SVM on {n} labels: codes {100 * svm['codes_test_error']:.2f} %, pixels "
                 f"{100 * svm['pixels_test_error']:.2f} %")
        print(line)
    return _write_results(out, result)


def conv_autoencoder_task(arch: str = "conv-autoencoder-mnist", data: str = "mnist", data_dir: str | None = None,
                          epochs: int = 3, batch_size: int = 64, lr: float = 1e-3, loss: str = "bce",
                          corruption: str = "none", noise: float = 0.25, train_limit: int | None = None,
                          test_limit: int | None = None, seed: int = 0, out: str | None = None,
                          progress: bool = True) -> dict[str, Any]:
    """Train the autoencoder of an architecture file (``arch``: a path, or a zoo name such as
    ``conv-autoencoder-mnist``; its output must have its input's shape) to reconstruct the
    training images, with :func:`~profondo.unsupervised.autoencoder.fit_reconstruction` (Adam at
    ``lr``, ``loss`` bce or mse; ``corruption`` mask or gaussian with ``noise`` makes it a
    denoising autoencoder). Reports the test reconstruction error (mean squared error per pixel)
    beside the mean training image's (the baseline that knows no input). Writes
    ``reconstructions.png`` (test inputs beside their reconstructions), the trained weights
    ``model.ckpt`` and ``results.json`` into ``out`` (default ``runs/autoencoder-DATA``)."""
    from .. import architecture
    from .. import random as prandom
    from ..architecture import zoo
    from ..train.state import save_training_state
    from .autoencoder import fit_reconstruction, reconstruct, reconstruction_error

    if not Path(arch).exists() and arch not in zoo.names():
        raise FileNotFoundError(f"no architecture file {arch!r}, and no zoo model of that name "
                                f"(zoo: {', '.join(zoo.names())})")
    spec = architecture.load_dict(Path(arch) if Path(arch).exists() else zoo.path(arch))
    out = Path(out or f"runs/autoencoder-{data}")
    out.mkdir(parents=True, exist_ok=True)
    x, _, shape = _images(data, "train", data_dir, train_limit)
    x_test, _, _ = _images(data, "test", data_dir, test_limit)
    x, x_test = x.reshape(len(x), 1, *shape), x_test.reshape(len(x_test), 1, *shape)
    prandom.manual_seed(seed)
    model = architecture.from_dict(spec)
    if model.output_shape(model.spec.input) != model.spec.input:
        raise ValueError(f"{arch}: an autoencoder's output has its input's shape {tuple(model.spec.input)}, this "
                         f"network's is {model.output_shape(model.spec.input)}")
    history: list[dict] = []
    started = time.perf_counter()
    losses = fit_reconstruction(model, x, epochs, batch_size, lr, loss, corruption, noise, seed=seed, progress=progress,
                                desc=model.spec.name,
                                callback=lambda m, e, value: history.append({"epoch": e, "train_loss": value}))
    seconds = time.perf_counter() - started
    test_error = reconstruction_error(model, x_test)
    mean_image_error = float(np.mean((x_test - x.mean(axis=0)) ** 2, dtype=np.float64))
    pictures = {"reconstructions": save_reconstructions(
        out / "reconstructions.png", x_test[:30].reshape(30, -1), reconstruct(model, x_test[:30]).reshape(30, -1),
        shape, f"{model.spec.name}: test inputs (odd rows), reconstructions (even rows)")}
    save_training_state(out / "model.ckpt", model, epoch=epochs)  # profondo.io.load_model reads it back
    result = {"task": "autoencoder", "arch": arch, "data": data, "train_images": len(x), "test_images": len(x_test),
              "epochs": epochs, "batch_size": batch_size, "lr": lr, "loss": loss, "corruption": corruption,
              "noise": noise if corruption != "none" else 0.0, "seed": seed, "seconds": round(seconds, 1),
              "train_losses": losses, "history": history, "test_reconstruction_mse": test_error,
              "mean_image_mse": mean_image_error, "pictures": {k: str(v) for k, v in pictures.items()}}
    if progress:
        print(f"test reconstruction error (MSE per pixel) {test_error:.4f}, mean training image "
              f"{mean_image_error:.4f}; {seconds:.0f} s; pictures in {out}")
    return _write_results(out, result)


def _write_architecture(module, path: Path, inputs: int, result: dict) -> None:
    from .. import architecture

    try:
        architecture.dump(module, path, (inputs,))
    except ImportError:  # the architecture file needs pyyaml; the run does not
        return
    result.setdefault("architectures", []).append(str(path))


def _pretrain_dbn(x, sizes, out, resume, epochs, batch_size, lr, momentum, final_momentum, weight_decay, seed,
                  progress):
    from .dbn import DBN

    path = out / "pretrain.ckpt"
    dbn = DBN(sizes, seed=seed)
    seconds = 0.0
    if resume and path.exists():
        ckpt = read_checkpoint(path)
        if ckpt.meta.get("kind") != "dbn" or ckpt.meta.get("sizes") != sizes:
            raise ValueError(f"resume: {path} holds {ckpt.meta.get('kind')} {ckpt.meta.get('sizes')}, "
                             f"this run is dbn {sizes}")
        dbn.rbms = [RBM.from_state(config, ckpt.group(f"rbm{i}")) for i, config in enumerate(ckpt.meta["rbms"])]
        seconds = ckpt.meta.get("seconds", 0.0)
    started = time.perf_counter()

    def save(*_):
        write_checkpoint(path, Checkpoint({f"rbm{i}": r.state_dict() for i, r in enumerate(dbn.rbms)},
                                          {"kind": "dbn", "sizes": sizes, "rbms": [r.config() for r in dbn.rbms],
                                           "seconds": seconds + time.perf_counter() - started}))

    dbn.pretrain(x, epochs, progress=progress, callback=save, batch_size=batch_size, lr=lr,
                 momentum=(momentum, final_momentum), weight_decay=weight_decay)
    codes, errors = x[:2000], []
    for rbm in dbn.rbms:
        errors.append(rbm.reconstruction_error(codes))
        codes = rbm.transform(codes)
    return dbn, {"epochs_per_layer": epochs, "lr": lr, "batch_size": batch_size, "k": 1,
                 "momentum": [momentum, final_momentum], "weight_decay": weight_decay,
                 "reconstruction_error_per_layer": errors,
                 "seconds": round(seconds + time.perf_counter() - started, 1)}


def _pretrain_sda(x, sizes, out, resume, epochs, batch_size, lr, corruption, noise, seed, progress):
    from ..optim import Adam
    from ..train.state import restore_training_state, save_training_state
    from .autoencoder import StackedDenoisingAutoencoder

    sda = StackedDenoisingAutoencoder(sizes, corruption=corruption, noise=noise)
    codes, losses, seconds = x, [], 0.0
    for i, dae in enumerate(sda.layers):
        path = out / f"sda-layer{i + 1}.ckpt"
        optimizer = Adam(dae.parameters(), lr)
        done, before = 0, 0.0  # epochs done and seconds spent on this layer by earlier runs
        if resume and path.exists():
            meta = restore_training_state(path, dae, optimizer).meta
            done, before = int(meta["epoch"]), float(meta["metrics"].get("seconds", 0.0))
        started = time.perf_counter()

        def save(m, epoch, loss, path=path, optimizer=optimizer, before=before, started=started):
            save_training_state(path, m, optimizer, epoch=epoch + 1,
                                metrics={"loss": loss, "seconds": before + time.perf_counter() - started})

        layer_losses = dae.fit(codes, epochs, batch_size, optimizer=optimizer, seed=seed + i, progress=progress,
                               desc=f"DAE {i + 1}/{len(sda.layers)} {dae.n_visible}x{dae.n_hidden}",
                               callback=save, start_epoch=done)
        losses.append(layer_losses)
        seconds += before + time.perf_counter() - started
        codes = dae.transform(codes)
    return sda, {"epochs_per_layer": epochs, "lr": lr, "optimizer": "adam", "batch_size": batch_size,
                 "corruption": corruption, "noise": noise, "loss_per_epoch_this_run": losses,
                 "seconds": round(seconds, 1)}


# --- Hierarchical Temporal Memory --------------------------------------------------------------------


def htm_mnist_task(data: str = "mnist", data_dir: str | None = None, columns: int = 4096, active_columns: int = 400,
                   potential_pct: float = 0.1, stimulus_threshold: int = 6, epochs: int = 1,
                   train_limit: int | None = None, test_limit: int | None = None, alpha: float = 0.02, seed: int = 0,
                   out: str | None = None, resume: bool = False, progress: bool = True) -> dict:
    """A spatial pooler on binarised images (pixel > 0.5) and an SDR classifier on its active
    columns (htm.core's MNIST example; its parameters but global inhibition: potential pool
    ``potential_pct`` of the pixels, ``stimulus_threshold`` 6, increments 0.14 and 0.02,
    connected at 0.5, boost strength 7). Each epoch, the pooler learns on every training image,
    then the classifier learns on the codes of the pooler as it now is (a classifier that
    learns while the pooler still moves fits codes that no longer exist); tested with learning
    off. Writes ``sp_filters.png`` (connected synapses of 100 columns) and a checkpoint after
    every epoch (``resume`` continues)."""
    from ..train.progress import ProgressBar
    from .htm import SDRClassifier, SpatialPooler

    out = Path(out or f"runs/htm-{data}")
    out.mkdir(parents=True, exist_ok=True)
    x, y, shape = _images(data, "train", data_dir, train_limit)
    x_test, y_test, _ = _images(data, "test", data_dir, test_limit)
    x, x_test = x > 0.5, x_test > 0.5
    sp = SpatialPooler(x.shape[1], columns, active_columns, potential_pct=potential_pct, connected=0.5,
                       increment=0.14, decrement=0.02, stimulus_threshold=stimulus_threshold, boost_strength=7.0,
                       duty_cycle_period=1402, min_pct_overlap_duty_cycle=0.2, seed=seed)
    classifier = SDRClassifier(columns, 10, alpha)
    done, seconds = 0, 0.0
    ckpt = _resume_from(out, resume, "htm-mnist")
    if ckpt is not None:
        arrays = ckpt.group("htm")
        sp.load_permanence(arrays["permanence"])
        for name in ("active_duty", "overlap_duty", "boost"):
            getattr(sp, name)[...] = arrays[name]
        classifier.weight[...] = arrays["classifier"]
        sp.iterations, done, seconds = ckpt.meta["iterations"], ckpt.meta["epochs"], ckpt.meta["seconds"]
    order_rng = np.random.default_rng(seed)
    orders = [order_rng.permutation(len(x)) for _ in range(epochs)]
    for epoch in range(done, epochs):
        started = time.perf_counter()
        bar = ProgressBar(2 * len(x), f"epoch {epoch + 1}/{epochs}: pooler, then classifier", enabled=progress)
        for i, j in enumerate(orders[epoch]):
            sp.compute(x[j], learn=True)
            if i % 100 == 99:
                bar.update(100, 100)
        correct = 0
        for i, j in enumerate(orders[epoch]):
            p = classifier.learn(sp.compute(x[j], learn=False), int(y[j]))
            correct += int(p.argmax() == y[j])
            if i % 100 == 99:
                bar.update(100, 100, acc=correct / (i + 1))
        bar.close()
        seconds += time.perf_counter() - started
        write_checkpoint(out / "last.ckpt", Checkpoint(
            {"htm": {"permanence": sp.permanence, "active_duty": sp.active_duty, "overlap_duty": sp.overlap_duty,
                     "boost": sp.boost, "classifier": classifier.weight}},
            {"kind": "htm-mnist", "iterations": sp.iterations, "epochs": epoch + 1, "seconds": seconds}))
    started = time.perf_counter()
    predicted = np.array([classifier.infer(sp.compute(image, learn=False)).argmax() for image in x_test])
    error = float((predicted != y_test).mean())
    connected = (sp.permanence[:100] >= sp.connected).astype(np.float32)
    picture = save_tiles(out / "sp_filters.png", connected, shape,
                         f"spatial pooler: connected synapses of 100 of its {columns} columns")
    result = {"task": "htm-mnist", "columns": columns, "active_columns": active_columns, "epochs": epochs,
              "train_images": len(x), "test_images": len(x_test), "test_error": error, "seed": seed,
              "train_seconds": round(seconds, 1), "test_seconds": round(time.perf_counter() - started, 1),
              "pictures": {"sp_filters": str(picture)}}
    if progress:
        print(f"spatial pooler + SDR classifier: test error {100 * error:.2f} % ({len(x_test)} images)")
    return _write_results(out, result)


def _character_tm(vocabulary: str, seed: int):
    from .htm import CategoryEncoder, SDRClassifier, TemporalMemory

    encoder = CategoryEncoder(vocabulary, active_bits=10)
    tm = TemporalMemory(encoder.size, cells_per_column=16, activation_threshold=7, min_threshold=5,
                        new_synapse_count=10, max_synapses_per_segment=16, max_segments_per_cell=64,
                        predicted_segment_decrement=0.01, seed=seed)
    return encoder, tm, SDRClassifier(tm.cells, len(vocabulary) + 1, alpha=0.05)


def htm_sequence_task(train_chars: int = 20000, test_chars: int = 5000, data_dir: str | None = None,
                      lstm_hidden: int = 128, seed: int = 0, out: str | None = None, progress: bool = True) -> dict:
    """Next-character prediction on the works of Shakespeare: a temporal memory (one block of
    10 columns per character, 16 cells per column) read by an SDR classifier from its active
    cells, trained online in one pass over the first ``train_chars`` characters, tested on the
    first ``test_chars`` held-out characters with learning off; beside a character LSTM
    (embedding 16, ``lstm_hidden`` units) trained on the same characters for the same time.
    Top-1 accuracy; chance is the most frequent character's share."""
    from .. import functional as F
    from .. import random as prandom
    from ..autograd import no_grad
    from ..nlp.datasets import load_shakespeare
    from ..nlp.models import CharLM
    from ..optim import Adam
    from ..tensor import Tensor
    from ..train.progress import ProgressBar
    from ..train.step import TrainStep

    seq_len, streams = 64, 32  # the LSTM's truncated-BPTT chunks and parallel streams
    if train_chars <= seq_len * streams:
        raise ValueError(f"htm sequence: train_chars must be at least {seq_len * streams + 1} for the LSTM's "
                         f"{streams} streams of {seq_len} steps, received {train_chars}")
    out = Path(out or "runs/htm-shakespeare")
    out.mkdir(parents=True, exist_ok=True)
    train_text, val_text = load_shakespeare(data_dir)
    train_text, test_text = train_text[:train_chars], val_text[:test_chars]
    vocabulary = "".join(sorted(set(train_text)))
    encoder, tm, classifier = _character_tm(vocabulary, seed)
    ids = lambda text: np.array([encoder.bucket(c) for c in text], np.int64)  # noqa: E731  (0: unseen)
    train_ids, test_ids = ids(train_text), ids(test_text)
    started = time.perf_counter()
    bar = ProgressBar(len(train_ids) - 1, "temporal memory", enabled=progress)
    correct = 0
    for t in range(len(train_ids) - 1):
        tm.compute(np.flatnonzero(encoder.encode(train_text[t])))
        p = classifier.learn(np.flatnonzero(tm.active_cells), int(train_ids[t + 1]))
        correct += int(p.argmax() == train_ids[t + 1])
        if t % 500 == 499:
            bar.update(500, 500, acc=correct / (t + 1), segments=tm.n_segments)
    bar.close()
    htm_seconds = time.perf_counter() - started
    hits = 0
    for t in range(len(test_ids) - 1):
        tm.compute(np.flatnonzero(encoder.encode(test_text[t])), learn=False)
        hits += int(classifier.infer(np.flatnonzero(tm.active_cells)).argmax() == test_ids[t + 1])
    htm_accuracy = hits / (len(test_ids) - 1)
    # The LSTM: same characters, same training time, truncated BPTT over 32 parallel streams.
    prandom.manual_seed(seed)
    model = CharLM(len(vocabulary) + 1, embedding_dim=16, hidden_size=lstm_hidden)
    step = TrainStep(lambda inputs: model(inputs)[0], Adam(model.parameters(), 3e-3),
                     lambda logits, target: F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1)),
                     max_grad_norm=1.0, parameters=model.parameters())
    usable = (len(train_ids) - 1) // (seq_len * streams) * seq_len * streams
    xs = train_ids[:usable].reshape(streams, -1).T
    ys = train_ids[1:usable + 1].reshape(streams, -1).T
    started, updates = time.perf_counter(), 0
    bar = ProgressBar(1, f"LSTM for {htm_seconds:.0f} s", enabled=progress)
    while time.perf_counter() - started < htm_seconds:
        for s in range(0, len(xs), seq_len):
            loss, _, _ = step(Tensor(xs[s:s + seq_len]), target=Tensor(ys[s:s + seq_len]))
            updates += 1
        bar.values.update(loss=loss.item(), updates=updates)
    bar.close()
    lstm_seconds = time.perf_counter() - started
    model.eval()
    with no_grad():
        logits, _ = model(Tensor(test_ids[:-1, None]))
    lstm_accuracy = float((logits.numpy()[:, 0].argmax(1) == test_ids[1:]).mean())
    chance = float(np.bincount(test_ids[1:]).max() / (len(test_ids) - 1))
    lstm_weights = sum(p.data.size for p in model.parameters())
    result = {"task": "htm-shakespeare", "train_chars": len(train_ids), "test_chars": len(test_ids), "seed": seed,
              "htm": {"test_accuracy": htm_accuracy, "train_online_accuracy": correct / (len(train_ids) - 1),
                      "seconds": round(htm_seconds, 1), "synapses": tm.synapses, "segments": tm.n_segments,
                      "cells": tm.cells, "classifier_weights": classifier.weight.size},
              "lstm": {"test_accuracy": lstm_accuracy, "seconds": round(lstm_seconds, 1), "updates": updates,
                       "weights": lstm_weights, "hidden": lstm_hidden},
              "most_frequent_character_accuracy": chance}
    if progress:
        print(f"next character, {len(test_ids)} held-out characters: HTM {100 * htm_accuracy:.1f} %, LSTM "
              f"{100 * lstm_accuracy:.1f} %, most frequent character {100 * chance:.1f} %")
    return _write_results(out, result)


def load_series(name: str) -> tuple[np.ndarray, list]:
    """A real series shipped by statsmodels: "co2" (weekly CO2 at Mauna Loa, 1958-2001, gaps
    interpolated), "nile" (annual Nile flow, 1871-1970) or "sunspots" (annual, 1700-2008);
    (values, dates)."""
    import datetime as dt

    try:
        import statsmodels.api as sm
    except ImportError:
        raise ImportError("the HTM anomaly series come from statsmodels: pip install statsmodels") from None
    if name == "co2":
        frame = sm.datasets.co2.load_pandas().data.interpolate()
        return frame["co2"].to_numpy(np.float64), [d.to_pydatetime() for d in frame.index]
    if name == "nile":
        frame = sm.datasets.nile.load_pandas().data
        return frame["volume"].to_numpy(np.float64), [dt.datetime(int(y), 1, 1) for y in frame["year"]]
    if name == "sunspots":
        frame = sm.datasets.sunspots.load_pandas().data
        return frame["SUNACTIVITY"].to_numpy(np.float64), [dt.datetime(int(y), 1, 1) for y in frame["YEAR"]]
    raise ValueError(f"unknown series {name!r}: expected co2, nile or sunspots")


def htm_anomaly_task(series: str = "co2", columns: int = 2048, active_columns: int = 40, threshold: float = 0.9999,
                     learning_period: int = 288, difference: bool = False, seed: int = 0, out: str | None = None,
                     progress: bool = True) -> dict:
    """NuPIC's anomaly-detection model on a real series: value (scalar encoder over the series'
    range) and season (date encoder) -> spatial pooler -> temporal memory -> raw anomaly score
    -> anomaly likelihood. ``difference`` feeds the change from the previous point instead of
    the value (a trend keeps bringing values never seen before, which no memory predicts).
    Writes ``anomaly.png`` (the series, its score, its likelihood, the points at or above
    ``threshold``) and lists those points."""
    from ..train.progress import ProgressBar
    from .htm import AnomalyLikelihood, DateEncoder, ScalarEncoder, SpatialPooler, TemporalMemory
    from .plots import save_series

    out = Path(out or f"runs/htm-{series}")
    out.mkdir(parents=True, exist_ok=True)
    values, dates = load_series(series)
    if difference:
        values, dates = np.diff(values), dates[1:]
    margin = 0.05 * (values.max() - values.min())
    value_encoder = ScalarEncoder(values.min() - margin, values.max() + margin, size=400, active_bits=21)
    date_encoder = DateEncoder(time_of_day=False, day_of_week=False, weekend=False, season=True, active_bits=21)
    sp = SpatialPooler(value_encoder.size + date_encoder.size, columns, active_columns, potential_pct=0.8,
                       increment=0.003, decrement=0.0005, boost_strength=0.0, seed=seed)
    tm = TemporalMemory(columns, cells_per_column=32, max_segments_per_cell=128, predicted_segment_decrement=0.0,
                        seed=seed)
    likelihood = AnomalyLikelihood(learning_period=learning_period, estimation_samples=100)
    scores, likelihoods = [], []
    started = time.perf_counter()
    bar = ProgressBar(len(values), f"HTM on {series}", enabled=progress)
    for value, when in zip(values, dates):
        sdr = np.concatenate([value_encoder.encode(value), date_encoder.encode(when)])
        scores.append(tm.compute(sp.compute(sdr)))
        likelihoods.append(likelihood.update(scores[-1]))
        bar.update(1, 1)
    bar.close()
    flagged = [{"index": i, "date": dates[i].date().isoformat(), "value": float(values[i]), "likelihood": lk}
               for i, lk in enumerate(likelihoods) if lk >= threshold]
    picture = save_series(out / "anomaly.png", values, scores, likelihoods, threshold=threshold,
                          title=f"HTM anomaly score and likelihood: {series}{' changes' if difference else ''} "
                                f"({len(values)} points)",
                          labels=(f"{series} change" if difference else series, "anomaly score", "anomaly likelihood"))
    after = np.asarray(scores[learning_period:])
    result = {"task": "htm-anomaly", "series": series, "difference": difference, "points": len(values), "seed": seed,
              "seconds": round(time.perf_counter() - started, 1),
              "mean_score_first_100": float(np.mean(scores[:100])),
              "mean_score_after_learning_period": float(after.mean()) if len(after) else None,
              "threshold": threshold, "flagged": flagged, "pictures": {"anomaly": str(picture)}}
    if progress:
        print(f"{series}: mean anomaly score {result['mean_score_first_100']:.3f} over the first 100 points, "
              f"{result['mean_score_after_learning_period']:.3f} after; {len(flagged)} points with likelihood >= "
              f"{threshold}: {[f['date'] for f in flagged][:10]}")
    return _write_results(out, result)
