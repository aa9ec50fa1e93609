"""``profondo summary``, ``train``, ``eval`` and ``predict``: image classifiers from architecture files.

    profondo summary lenet5
    profondo train my_net.yaml --data fashion-mnist --epochs 6 --optimizer sgd --lr 0.05
    profondo eval runs/lenet5-mnist/best.ckpt
    profondo predict runs/lenet5-mnist/best.ckpt digit.png --invert
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
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
    device_default,
    make_optimizer,
    parse_shape,
)

DEFAULT_ARCHITECTURE = "lenet5"
DEFAULT_DATA = "mnist"
# The recipe of `profondo train` (LeNet-5 on MNIST, 99.2 % in the README); no library counterpart.
TRAIN_RECIPE = {"epochs": 12, "batch_size": 64, "optimizer": "adam", "shift": 2, "val": 5000, "limit": 0}
EVAL_BATCH = 500


def resolve_architecture(name_or_path: str) -> dict:
    """An architecture file path, or the name of a file in the zoo."""
    from .. import architecture
    from ..architecture import zoo

    path = Path(name_or_path)
    if path.exists():
        return architecture.load_dict(path)
    if name_or_path in zoo.names():
        return architecture.load_dict(zoo.path(name_or_path))
    raise CommandError(f"no architecture file {name_or_path!r}, and no zoo model of that name "
                       f"(zoo: {', '.join(zoo.names())})")


def cmd_summary(args: argparse.Namespace) -> int:
    from .. import architecture
    from ..analysis import summary

    arch = resolve_architecture(args.file)
    model = architecture.from_dict(arch)
    summary(model, parse_shape(args.input) if args.input else tuple(arch["input"]))  # prints the table
    return 0


def _loaders(args: argparse.Namespace, input_shape: tuple[int, ...]):
    from ..data import DataLoader, Subset, load_dataset
    from ..data.transforms import RandomShift

    train = load_dataset(args.data, "train", root=args.data_dir)
    test = load_dataset(args.data, "test", root=args.data_dir)
    if tuple(train.x.shape[1:]) != tuple(input_shape):
        raise CommandError(f"the network expects inputs of shape {tuple(input_shape)}, "
                           f"{args.data} has images of shape {tuple(train.x.shape[1:])}")
    order = np.random.default_rng(args.seed).permutation(len(train))
    val_n = min(args.val, len(train) // 5)
    train_idx, val_idx = order[val_n:], order[:val_n]
    if args.limit:
        train_idx = train_idx[: args.limit]
        test = Subset(test, np.arange(min(args.limit, len(test))))
    augment = RandomShift(args.shift) if args.shift else None
    train_loader = DataLoader(Subset(train, np.sort(train_idx)), args.batch_size, shuffle=True, seed=args.seed,
                              transform=augment)
    val_loader = DataLoader(Subset(train, np.sort(val_idx)), EVAL_BATCH) if val_n else None
    test_loader = DataLoader(test, EVAL_BATCH)
    return train_loader, val_loader, test_loader, getattr(train, "classes", None)


def cmd_train(args: argparse.Namespace) -> int:
    """Train in this process or, under mpiexec, as one rank of a data-parallel run (``--procs N``
    starts that run: mpiexec on this machine)."""
    from ..distributed import get_world, guard

    if args.procs != 1:
        return launch_procs(args)
    world = get_world()
    with contextlib.ExitStack() as stack:
        stack.enter_context(guard(world, brief=_user_errors()))  # a failing rank ends every rank
        if world.rank != 0:  # rank 0 alone prints
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
        return train_one(args, world)


def _user_errors() -> tuple:
    from . import USER_ERRORS

    return USER_ERRORS


def launch_procs(args: argparse.Namespace) -> int:
    """``--procs N``: the same command as N processes under mpiexec (on this machine)."""
    from ..distributed import launched_by_mpi, run_under_mpiexec

    if args.procs < 1:
        raise CommandError(f"--procs expected a number of processes >= 1, received {args.procs}")
    if launched_by_mpi():
        raise CommandError("--procs starts mpiexec itself: under mpiexec (or srun), leave --procs out")
    argv, skip = [], False
    for item in getattr(args, "argv", None) or sys.argv[1:]:
        if skip or item == "--procs" or item.startswith("--procs="):
            skip = item == "--procs"
            continue
        argv.append(item)
    return run_under_mpiexec(args.procs, [sys.executable, "-m", "profondo.cli", *argv])


def train_one(args: argparse.Namespace, world) -> int:
    """The training command in one process of ``world`` (of one process, usually)."""
    from .. import architecture, manual_seed, optim
    from ..analysis import summary
    from ..distributed import data_parallel, shard_eval_loader, shard_loader
    from ..train import CSVLogger, JSONLogger, LRScheduler, ModelCheckpoint, PlotCurves, Trainer

    if args.batch_size % world.size:
        raise CommandError(f"--batch-size {args.batch_size} (the batch of one update, over all processes) "
                           f"does not split over {world.size} processes")
    manual_seed(args.seed)
    arch = resolve_architecture(args.file or DEFAULT_ARCHITECTURE)
    model = architecture.from_dict(arch)
    input_shape = tuple(arch["input"])
    train_loader, val_loader, test_loader, classes = _loaders(args, input_shape)  # bad data fails first
    out = Path(args.out or f"runs/{arch.get('name', 'model')}-{args.data}")
    out.mkdir(parents=True, exist_ok=True)
    text = summary(model, input_shape)  # also printed
    if world.rank == 0:
        (out / "summary.txt").write_text(text + "\n")
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    callbacks = [LRScheduler(schedule), ModelCheckpoint(out, monitor="val_accuracy" if val_loader else "loss"),
                 CSVLogger(out / "history.csv"), JSONLogger(out / "history.json")]
    try:
        import matplotlib  # noqa: F401

        callbacks.append(PlotCurves(out / "curves.png"))
    except ImportError:
        print("matplotlib is not installed: no learning-curve PNG (pip install matplotlib)", file=sys.stderr)
    trainer = Trainer(model, optimizer, device=args.device, callbacks=callbacks, progress=not args.quiet)
    trainer.metadata = {"classes": classes, "data": args.data}
    if world.size > 1:  # each rank a share of every batch; rank 0 alone prints and writes
        train_loader, test_loader = shard_loader(train_loader, world), shard_eval_loader(test_loader, world)
        val_loader = val_loader and shard_eval_loader(val_loader, world)
        data_parallel(trainer, world)
    if args.resume:
        last = out / "last.ckpt"
        if not last.exists():
            raise CommandError(f"--resume, but {last} does not exist")
        done = trainer.resume(last)
        print(f"resumed from {last}: {done} epochs completed")
    per_process = f" ({args.batch_size // world.size} in each of {world.size} processes)" if world.size > 1 else ""
    print(f"training {arch.get('name')} on {args.data}: {len(train_loader.dataset)} images, "
          f"{args.epochs} epochs, batch {args.batch_size}{per_process}, {args.optimizer} lr {args.lr}, "
          f"device {args.device}")
    started = time.perf_counter()
    trainer.fit(train_loader, args.epochs, val_loader)
    elapsed = time.perf_counter() - started
    result = trainer.evaluate(test_loader, desc="test")
    report = {"architecture": arch.get("name"), "data": args.data, "epochs": trainer.epoch,
              "test_accuracy": result["accuracy"], "test_loss": result["loss"], "train_seconds": elapsed,
              "classes": classes}
    if world.rank == 0:
        (out / "metrics.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"test accuracy {result['accuracy']:.2%} (loss {result['loss']:.4f}) after {trainer.epoch} epochs, "
          f"{elapsed / 60:.1f} min of training; checkpoints, curves and logs in {out}/")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ..data import DataLoader, load_dataset
    from ..io.model import load_model
    from ..train import Trainer, confusion_matrix, format_confusion

    model, _ = load_model(args.checkpoint)
    test = load_dataset(args.data, args.split, root=args.data_dir)
    trainer = Trainer(model, device=args.device, progress=not args.quiet)
    logits = trainer.predict(DataLoader(test, EVAL_BATCH))
    predicted = logits.argmax(axis=1)
    n_classes = logits.shape[1]
    print(f"{args.data} {args.split}: accuracy {(predicted == test.y).mean():.2%} on {len(test)} images")
    print(format_confusion(confusion_matrix(predicted, test.y, n_classes), getattr(test, "classes", None)))
    return 0


def read_image(path: str, shape: tuple[int, ...], invert: bool) -> np.ndarray:
    """An image file (or .npy) as a float32 (C, H, W) array in [0, 1] of the network's input size."""
    if path.endswith(".npy"):
        img = np.load(path, allow_pickle=False).astype(np.float32)
        img = img / 255.0 if img.max() > 1.0 else img
        if img.size != int(np.prod(shape)):
            raise CommandError(f"{path}: expected {int(np.prod(shape))} values for the network's input "
                               f"{tuple(shape)}, received an array of shape {img.shape}")
        return img.reshape(shape)
    try:
        from PIL import Image
    except ImportError:
        raise CommandError("reading image files needs Pillow (pip install pillow), or pass .npy files") from None
    c, h, w = shape
    with Image.open(path) as im:
        im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
        img = np.asarray(im, dtype=np.float32) / 255.0
    img = img[None] if c == 1 else img.transpose(2, 0, 1)
    return 1.0 - img if invert else img


def cmd_predict(args: argparse.Namespace) -> int:
    from ..autograd import no_grad
    from ..functional import softmax
    from ..io.model import load_model
    from ..tensor import Tensor

    model, ckpt = load_model(args.checkpoint)
    model.eval()
    shape = tuple(ckpt.meta["architecture"]["input"])
    batch = np.stack([read_image(p, shape, args.invert) for p in args.images])
    with no_grad():
        probs = softmax(model(Tensor(batch)), axis=1).numpy()
    classes = ckpt.meta.get("extra", {}).get("classes")
    for path, p in zip(args.images, probs):
        top = np.argsort(p)[::-1][: args.top]
        best = ", ".join(f"{classes[i] if classes else i} {p[i]:.1%}" for i in top)
        print(f"{path}: {best}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``summary``, ``train``, ``eval`` and ``predict``."""
    p = sub.add_parser("summary", formatter_class=HelpFormatter,
                       help="per-layer neurons, connections, weights and MACs of an architecture file")
    p.add_argument("file", help="architecture file (YAML) or zoo name")
    p.add_argument("--input", help="input shape, e.g. 3,32,32 (default: the file's)")
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("train", formatter_class=HelpFormatter, help="train a network (default: LeNet-5 on MNIST)")
    p.add_argument("file", nargs="?", help=f"architecture file or zoo name (default: {DEFAULT_ARCHITECTURE})")
    add_flag(p, "data", DEFAULT_DATA)
    add_flag(p, "data_dir")
    add_flags(p, ("epochs", "batch_size"), **TRAIN_RECIPE)
    add_flag(p, "lr", adam_default("lr"))
    add_flag(p, "weight_decay", adam_default("weight_decay"))
    add_flags(p, ("optimizer", "shift"), **TRAIN_RECIPE)
    p.add_argument("--val", type=int, default=TRAIN_RECIPE["val"], help="training images held out for validation")
    p.add_argument("--limit", type=int, default=TRAIN_RECIPE["limit"],
                   help="train on only the first N images, test on the first N (0: all)")
    add_flag(p, "device", device_default())
    add_compute_flags(p)
    add_flag(p, "seed", DEFAULT_SEED)
    add_flag(p, "out", help="output folder (default: runs/NAME-DATA)")
    add_flags(p, ("resume", "quiet"))
    p.add_argument("--procs", type=int, default=1, metavar="N",
                   help="run as N processes on this machine (data parallel over MPI: mpiexec -n N); "
                        "--batch-size stays the batch of one update, split over the processes")
    p.set_defaults(run=cmd_train, resumable=True, argv=None)

    p = sub.add_parser("eval", formatter_class=HelpFormatter,
                       help="accuracy and confusion matrix of a checkpoint on a dataset")
    p.add_argument("checkpoint")
    add_flag(p, "data", DEFAULT_DATA)
    add_flag(p, "data_dir")
    p.add_argument("--split", default="test", help="the part of the data set: train or test")
    add_flag(p, "device", device_default())
    add_compute_flags(p)
    add_flag(p, "quiet")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("predict", formatter_class=HelpFormatter,
                       help="classify image files (PNG/JPEG via Pillow, or .npy)")
    p.add_argument("checkpoint")
    p.add_argument("images", nargs="+")
    p.add_argument("--top", type=int, default=3, help="classes shown per image")
    p.add_argument("--invert", action="store_true", help="dark strokes on a light background (MNIST is the reverse)")
    p.set_defaults(run=cmd_predict)
