"""Reuse a LeNet-5 trained on MNIST digits for Fashion-MNIST clothes, with 1,000 labels.

Every method sees the same 1,000 randomly chosen Fashion-MNIST training images and is
scored on the full 10,000-image test set; the whole comparison is repeated for several
draws of the 1,000 images (``--seeds``):

- from scratch: LeNet-5 with fresh weights trained on the 1,000 images;
- fine-tuned: the MNIST network with a new output layer, all layers trained (and variants
  with the convolutions at a tenth of the learning rate, or frozen);
- features + classifier: the MNIST network's activations of one layer, fed to a linear SVM
  (scikit-learn) and to profondo's logistic regression;
- optionally (``--efficientnet SIZE``) EfficientNet-Lite0's ImageNet features, the images
  resized to SIZE x SIZE.

    PYTHONPATH=src python examples/transfer_mnist_to_fashion.py --checkpoint /tmp/lenet-mnist/best.ckpt

Without the checkpoint, LeNet-5 is first trained on MNIST for 3 epochs (as ``profondo train
lenet5 --epochs 3 --out /tmp/lenet-mnist`` does) and saved there.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import profondo
from profondo import architecture, optim, transfer
from profondo.data import DataLoader, Subset, load_dataset
from profondo.data.transforms import RandomShift
from profondo.io.model import load_model
from profondo.train import LRScheduler, ModelCheckpoint, Trainer


def pretrain_mnist(out: Path, epochs: int = 3, seed: int = 0) -> Path:
    """LeNet-5 on MNIST: 55,000 images (5,000 held out), Adam 1e-3, batch 64, shifts of 2 px."""
    profondo.manual_seed(seed)
    train = load_dataset("mnist", "train")
    order = np.random.default_rng(seed).permutation(len(train))
    model = architecture.zoo.load("lenet5")
    opt = optim.Adam(model.parameters(), 1e-3)
    schedule = LRScheduler(optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs))
    trainer = Trainer(model, opt, callbacks=[schedule, ModelCheckpoint(out, monitor="val_accuracy")], progress=False)
    trainer.metadata = {"classes": train.classes, "data": "mnist"}
    trainer.fit(DataLoader(Subset(train, np.sort(order[5000:])), 64, shuffle=True, seed=seed,
                           transform=RandomShift(2)), epochs, DataLoader(Subset(train, np.sort(order[:5000])), 500))
    return out / "best.ckpt"


def train_and_test(model, groups, train_loader, test_loader, epochs: int, lr: float) -> float:
    trainer = Trainer(model, optim.Adam(groups, lr), progress=False)
    trainer.fit(train_loader, epochs)
    return trainer.evaluate(test_loader)["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("/tmp/lenet-mnist/best.ckpt"))
    parser.add_argument("--labels", type=int, default=1000, help="labelled Fashion-MNIST training images")
    parser.add_argument("--epochs", type=int, default=30, help="epochs over the labelled images")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--layer", action="append", help="feature layers (default: pool2 and fc1)")
    parser.add_argument("--efficientnet", type=int, default=0, metavar="SIZE",
                        help="also EfficientNet-Lite0 ImageNet features at SIZE x SIZE (0: skip; slow on a CPU)")
    parser.add_argument("--seeds", type=int, default=3, help="repetitions: seed k draws its own labelled images "
                                                             "and initial weights")
    args = parser.parse_args()

    results: dict[str, list[tuple[float, float]]] = {}

    def record(method: str, accuracy: float, seconds: float) -> None:
        results.setdefault(method, []).append((accuracy, seconds))
        print(f"{method}: {accuracy:.2%} ({seconds:.1f} s)", flush=True)

    if not args.checkpoint.exists():
        started = time.perf_counter()
        args.checkpoint = pretrain_mnist(args.checkpoint.parent)
        print(f"pre-trained LeNet-5 on MNIST in {time.perf_counter() - started:.0f} s: {args.checkpoint}")

    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    test_loader = DataLoader(test, 1000)
    pretrained, _ = load_model(args.checkpoint)
    layers = args.layer or ["pool2", "fc1"]
    started = time.perf_counter()
    test_features = {layer: transfer.extract_features(pretrained, layer, test.x, progress=False) for layer in layers}
    test_seconds = (time.perf_counter() - started) / len(layers)
    if args.efficientnet:
        from profondo.io.pretrained import efficientnet_lite0
        from profondo.nn.efficientnet import preprocess

        net = efficientnet_lite0()

        def resize(x):
            return preprocess(x, args.efficientnet)

        started = time.perf_counter()
        net_test = transfer.extract_features(net, "_avg_pooling", test.x, 64, resize, progress=False)
        net_test_seconds = time.perf_counter() - started
        print(f"EfficientNet-Lite0 features of the {len(test)} test images in {net_test_seconds:.0f} s")

    for seed in range(args.seeds):
        idx = np.sort(np.random.default_rng(seed).permutation(len(train))[: args.labels])
        x_train, y_train = train.x[idx], train.y[idx]
        loader = DataLoader(Subset(train, idx), 32, shuffle=True, seed=seed)

        started = time.perf_counter()
        profondo.manual_seed(seed)
        scratch = architecture.zoo.load("lenet5")
        accuracy = train_and_test(scratch, scratch.parameters(), loader, test_loader, args.epochs, args.lr)
        record("LeNet-5 from scratch", accuracy, time.perf_counter() - started)

        for label, freeze, lr_mult in (("all layers", None, None), ("convolutions at lr x 0.1", None, {"conv*": 0.1}),
                                       ("frozen up to pool2", "pool2", None)):
            started = time.perf_counter()
            profondo.manual_seed(seed)
            model, _ = load_model(args.checkpoint)
            model, groups = transfer.prepare_finetune(model, 10, freeze=freeze, lr_mult=lr_mult)
            accuracy = train_and_test(model, groups, loader, test_loader, args.epochs, args.lr)
            record(f"MNIST LeNet-5 fine-tuned, {label}", accuracy, time.perf_counter() - started)

        heads = {"linear SVM": transfer.linear_svm, "logistic regression (profondo)": transfer.LogisticRegression}
        for layer in layers:
            started = time.perf_counter()
            f_train = transfer.extract_features(pretrained, layer, x_train, progress=False)
            extract = time.perf_counter() - started + test_seconds
            for head, make in heads.items():
                started = time.perf_counter()
                accuracy = make().fit(f_train, y_train).score(test_features[layer], test.y)
                record(f"MNIST LeNet-5 {layer} features ({f_train.shape[1]}) + {head}", accuracy,
                       extract + time.perf_counter() - started)

        if args.efficientnet:
            started = time.perf_counter()
            f_train = transfer.extract_features(net, "_avg_pooling", x_train, 64, resize, progress=False)
            extract = time.perf_counter() - started + net_test_seconds
            for head, make in heads.items():
                started = time.perf_counter()
                accuracy = make().fit(f_train, y_train).score(net_test, test.y)
                record(f"ImageNet EfficientNet-Lite0 features (1280, {args.efficientnet} px) + {head}", accuracy,
                       extract + time.perf_counter() - started)

    print(f"\nFashion-MNIST, {args.labels} labelled training images, accuracy on the {len(test):,} test images "
          f"(mean and spread over {args.seeds} draws of the labelled images and initial weights)\n")
    print("| method | test accuracy | wall time per run |\n| --- | ---: | ---: |")
    for method, runs in results.items():
        acc, seconds = np.array(runs).T
        spread = f" ± {acc.std(ddof=1):.1%}" if len(acc) > 1 else ""
        print(f"| {method} | {acc.mean():.1%}{spread} | {seconds.mean():.0f} s |")


if __name__ == "__main__":
    main()
