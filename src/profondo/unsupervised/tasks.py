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
    given, replaces ``momentum`` after 5 epochs (the guide's 0.5 then 0.9). Writes
    into ``out`` (default ``runs/rbm-DATA``) ``filters.png`` (the weights of up to 100 hidden units), ``samples.png`` (Gibbs chains
    started from noise, ``sample_steps`` steps) and ``reconstructions.png``."""
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
        "samples": save_tiles(out / "samples.png", rbm.sample(50, sample_steps), shape,
                              f"50 samples after {sample_steps} Gibbs steps from noise", columns=10, normalize=False),
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
    ``directory/last.ckpt`` after every epoch; for ``epochs`` epochs, or epoch by epoch until
    ``seconds`` of training time are spent (the from-scratch baseline's budget)."""
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
        while sum(trainer.history.get("time", [])) < seconds:
            trainer.fit(loader, trainer.epoch + 1)
    return {"epochs": trainer.epoch, "seconds": round(sum(trainer.history.get("time", [])), 1),
            "train_loss": trainer.history["loss"][-1]}


def pretrain_task(model: str = "dbn", data: str = "mnist", data_dir: str | None = None,
                  hidden: tuple[int, ...] = (500, 500, 2000), pretrain_epochs: int = 5, finetune_epochs: int = 5,
                  batch_size: int = 100, lr: float | None = None, finetune_lr: float = 0.1,
                  corruption: str = "mask", noise: float = 0.25, momentum: float = 0.5, final_momentum: float = 0.9,
                  weight_decay: float = 2e-4, svm_labels: int = 1000, svm_c: float = 0.01, baseline: bool = True,
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
    - with ``baseline``, the same MLP from random weights, trained for as long as the
      pre-training and fine-tuning took together.

    Test errors on the test split. Writes ``filters.png`` (the first layer's weights) and
    ``reconstructions.png``; checkpoints in ``out`` (default ``runs/MODEL-DATA``: ``pretrain.ckpt`` or ``sda-layerN.ckpt``,
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
    started = time.perf_counter()
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
    pretrain_seconds = time.perf_counter() - started
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
    # Fine-tuning route: the encoder with a new output layer.
    classifier = net.classifier(10)
    tuned = _fit_classifier(classifier, x, y, out / "finetune", resume, finetune_lr, batch_size, seed, progress,
                            epochs=finetune_epochs)
    result["finetune"] = {**tuned, "test_error": _classifier_error(classifier, x_test, y_test)}
    spent = pretrain_seconds + tuned["seconds"]
    if baseline:
        prandom.manual_seed(seed)
        layers: list = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [Linear(a, b, init="glorot_uniform"), Sigmoid()]
        scratch = Sequential(*layers, Linear(sizes[-1], 10))
        trained = _fit_classifier(scratch, x, y, out / "scratch", resume, finetune_lr, batch_size, seed, progress,
                                  seconds=spent)
        result["scratch"] = {**trained, "test_error": _classifier_error(scratch, x_test, y_test),
                             "budget_seconds": round(spent, 1)}
    if progress:
        line = f"{label} fine-tuned: test error {100 * result['finetune']['test_error']:.2f} %"
        if baseline:
            line += f"; same MLP from scratch, same time: {100 * result['scratch']['test_error']:.2f} %"
        svm = result["svm"]
        line += (f"; linear SVM on {n} labels: codes {100 * svm['codes_test_error']:.2f} %, pixels "
                 f"{100 * svm['pixels_test_error']:.2f} %")
        print(line)
    return _write_results(out, result)


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
    codes, losses = x, []
    started = time.perf_counter()
    for i, dae in enumerate(sda.layers):
        path = out / f"sda-layer{i + 1}.ckpt"
        optimizer = Adam(dae.parameters(), lr)
        done = 0
        if resume and path.exists():
            done = int(restore_training_state(path, dae, optimizer).meta["epoch"])

        def save(m, epoch, loss, path=path, optimizer=optimizer):
            save_training_state(path, m, optimizer, epoch=epoch + 1, metrics={"loss": loss})

        layer_losses = dae.fit(codes, epochs, batch_size, optimizer=optimizer, seed=seed + i, progress=progress,
                               desc=f"DAE {i + 1}/{len(sda.layers)} {dae.n_visible}x{dae.n_hidden}",
                               callback=save, start_epoch=done)
        losses.append(layer_losses)
        codes = dae.transform(codes)
    return sda, {"epochs_per_layer": epochs, "lr": lr, "optimizer": "adam", "batch_size": batch_size,
                 "corruption": corruption, "noise": noise, "loss_per_epoch": losses,
                 "seconds_this_run": round(time.perf_counter() - started, 1)}
