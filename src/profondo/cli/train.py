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
    make_optimizer,
    non_negative_int,
    parse_shape,
    positive_int,
    prepare_run_folder,
    resume_hint,
)

DEFAULT_ARCHITECTURE = "lenet5"
DEFAULT_DATA = "mnist"
# The recipe of `profondo train` (LeNet-5 on MNIST, 99.2 % in the README); no library counterpart.
TRAIN_RECIPE = {"epochs": 12, "batch_size": 64, "optimizer": "adam", "shift": 2, "val": 5000, "limit": 0,
                "schedule": "cosine", "early_stopping": 0}
SCHEDULES = ("cosine", "step", "plateau", "none")
EVAL_BATCH = 500
# What a run writes into its folder: a second run there would mix with the first.
RUN_FILES = ("last.ckpt", "best.ckpt", "history.csv", "history.json", "metrics.json", "curves.png", "summary.txt")


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
    from ..data.transforms import Compose, RandomHorizontalFlip, RandomShift

    train = load_dataset(args.data, "train", root=args.data_dir)
    test = load_dataset(args.data, "test", root=args.data_dir)
    if tuple(train.x.shape[1:]) != tuple(input_shape):
        raise CommandError(f"the network expects inputs of shape {tuple(input_shape)}, "
                           f"{args.data} has images of shape {tuple(train.x.shape[1:])}")
    val_n = min(args.val, len(train) // 5)  # at most a fifth (the default, 5,000, suits MNIST's 60,000)
    order = np.random.default_rng(args.seed).permutation(len(train))
    train_idx, val_idx = order[val_n:], order[:val_n]
    if args.limit:
        train_idx = train_idx[: args.limit]
    if args.test_limit:
        test = Subset(test, np.arange(min(args.test_limit, len(test))))
    augment = [RandomShift(args.shift)] if args.shift else []
    if args.flip:
        augment.append(RandomHorizontalFlip())
    train_loader = DataLoader(Subset(train, np.sort(train_idx)), args.batch_size, shuffle=True, seed=args.seed,
                              transform=Compose(augment) if len(augment) > 1 else (augment or [None])[0])
    val_loader = DataLoader(Subset(train, np.sort(val_idx)), EVAL_BATCH) if val_n else None
    return train_loader, val_loader, test_loader_of(test), getattr(train, "classes", None)


def test_loader_of(data):
    from ..data import DataLoader

    return DataLoader(data, EVAL_BATCH)


def make_schedule(name: str, optimizer, epochs: int):
    """The learning-rate schedule ``--schedule NAME`` means, stepped once per epoch."""
    from ..optim import lr_scheduler

    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "step":
        return lr_scheduler.StepLR(optimizer, max(epochs // 3, 1), gamma=0.1)
    if name == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, patience=2)
    return None


def epoch_callbacks(out: Path, trainer_epochs: int, loader, batch_size: int, quiet: bool, title: str,
                    monitor: str) -> list:
    """What every image-classifier run writes per epoch: checkpoints, CSV and JSON history,
    curves (with matplotlib), and the progress bar and result line."""
    from ..train import CSVLogger, JSONLogger, ModelCheckpoint, PlotCurves, TrainingProgress

    callbacks = [ModelCheckpoint(out, monitor=monitor), CSVLogger(out / "history.csv"),
                 JSONLogger(out / "history.json"),
                 TrainingProgress(len(loader), trainer_epochs, batch_size, bars=not quiet)]
    try:
        import matplotlib  # noqa: F401

        callbacks.append(PlotCurves(out / "curves.png", title))
    except ImportError:
        print("matplotlib is not installed: no learning-curve PNG (pip install matplotlib)", file=sys.stderr)
    return callbacks


def monitor_callbacks(args: argparse.Namespace) -> list:
    """``--monitor gradients`` (the gradient norms of each layer, a line per epoch, recorded every
    ``--monitor-every`` steps) and ``--tensorboard DIR`` (event files for TensorBoard)."""
    from ..train.monitor import GradientMonitor, PrintGradientNorms

    callbacks: list = []
    monitor = None
    if getattr(args, "monitor", None) == "gradients":
        monitor = GradientMonitor(every=args.monitor_every)
        callbacks += [monitor, PrintGradientNorms(monitor)]
    if getattr(args, "tensorboard", None):
        from ..train.tensorboard import TensorBoard

        callbacks.append(TensorBoard(args.tensorboard))
    return callbacks


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
    from .. import architecture, manual_seed
    from ..analysis import summary
    from ..distributed import data_parallel, shard_eval_loader, shard_loader
    from ..train import EarlyStopping, LRScheduler, Trainer

    check_device(args.device)

    if args.batch_size % world.size:
        raise CommandError(f"--batch-size {args.batch_size} (the batch of one update, over all processes) "
                           f"does not split over {world.size} processes")
    manual_seed(args.seed)
    arch = resolve_architecture(args.file or DEFAULT_ARCHITECTURE)
    model = architecture.from_dict(arch)
    input_shape = tuple(arch["input"])
    name = arch.get("name", "model")
    out = Path(args.out or f"runs/{name}-{args.data}")
    prepare_run_folder(out, args.resume, False, ())  # --resume needs last.ckpt, before the data is read
    train_loader, val_loader, test_loader, classes = _loaders(args, input_shape)  # bad data fails first
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    schedule = make_schedule(args.schedule, optimizer, args.epochs)
    monitor = "val_accuracy" if val_loader else "loss"
    if args.early_stopping and not val_loader:
        raise CommandError("--early-stopping watches the validation loss: it needs --val N > 0")
    if world.rank == 0:  # everything checked: now files change (rank 0 alone writes them)
        prepare_run_folder(out, args.resume, args.overwrite, RUN_FILES)
    args.run_dir = out
    out.mkdir(parents=True, exist_ok=True)
    text = summary(model, input_shape)  # also printed
    if world.rank == 0:
        (out / "summary.txt").write_text(text + "\n")
    callbacks = epoch_callbacks(out, args.epochs, train_loader, args.batch_size, args.quiet,
                                f"{name} on {args.data} ({out})", monitor)
    if schedule is not None:
        callbacks.append(LRScheduler(schedule, monitor="val_loss"))
    if args.early_stopping:
        callbacks.append(EarlyStopping("val_loss", patience=args.early_stopping))
    callbacks += monitor_callbacks(args)
    if getattr(args, "callbacks", None):  # more callbacks from the caller (the workbench's job recorder)
        callbacks.extend(args.callbacks(train_loader))
    trainer = Trainer(model, optimizer, device=args.device, callbacks=callbacks, progress=False)
    trainer.metadata = {"classes": classes, "data": args.data}
    if world.size > 1:  # each rank a share of every batch; rank 0 alone prints and writes
        train_loader, test_loader = shard_loader(train_loader, world), shard_eval_loader(test_loader, world)
        val_loader = val_loader and shard_eval_loader(val_loader, world)
        data_parallel(trainer, world)
    if args.resume:
        done = trainer.resume(out / "last.ckpt")
        print(f"resumed from {out / 'last.ckpt'}: {done} epochs completed")
    per_process = f" ({args.batch_size // world.size} in each of {world.size} processes)" if world.size > 1 else ""
    print(f"training {name} on {args.data}: {len(train_loader.dataset)} images ({len(val_loader.dataset) if val_loader else 0} "
          f"held out), {args.epochs} epochs, batch {args.batch_size}{per_process}, {args.optimizer} lr {args.lr} "
          f"({args.schedule} schedule), device {args.device}")
    trainer.fit(train_loader, args.epochs, val_loader)
    elapsed = trainer.train_seconds  # every session's epochs: a resumed run adds to the first one's time
    result = trainer.evaluate(test_loader, desc="test")
    report = {"architecture": name, "data": args.data, "epochs": trainer.epoch,
              "test_accuracy": result["accuracy"], "test_loss": result["loss"], "test_images": len(test_loader.dataset),
              "train_seconds": elapsed, "classes": classes}
    if world.rank == 0:
        (out / "metrics.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"test accuracy {result['accuracy']:.2%} (loss {result['loss']:.4f}) on {len(test_loader.dataset)} images "
          f"after {trainer.epoch} epochs, {elapsed / 60:.1f} min of training; checkpoints, curves and logs in {out}/")
    return 0


class Classifier:
    """A checkpoint's network or an .edge plan, as eval and predict use it: logits for a batch,
    the per-sample input shape, and what the run recorded (data set, class names)."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        check_model_file(path, edge=True)
        if path.endswith(".edge"):
            from ..edge import EdgeModel

            self.edge = EdgeModel.load(path)
            self.model = None
            self.input_shape = tuple(self.edge.input_shape)
            self.meta = dict(self.edge.plan.get("extra", {}))
        else:
            from ..io.model import load_model

            self.model, ckpt = load_model(path)
            self.model.eval()
            arch = ckpt.meta.get("architecture") or ckpt.meta.get("extra", {}).get("module") or {}
            if "input" not in arch:
                raise CommandError(f"{path} does not record its input shape (no architecture file)")
            self.input_shape = tuple(arch["input"])
            self.meta = dict(ckpt.meta.get("extra", {}))
            if device != "cpu":
                self.model.to(device)
        self.device = device
        self.data, self.classes = self.meta.get("data"), self.meta.get("classes")

    def logits(self, x: np.ndarray) -> np.ndarray:
        if self.model is None:
            return self.edge(np.ascontiguousarray(x, np.float32))
        from ..autograd import no_grad
        from ..backend import device, move
        from ..tensor import Tensor

        with no_grad():
            dev = device(self.device)
            out = self.model(Tensor(move(x, dev) if dev.type != "cpu" else x))
            return np.asarray(move(out.data, device("cpu")))


def cmd_eval(args: argparse.Namespace) -> int:
    from ..data import load_dataset
    from ..train import confusion_matrix, format_confusion
    from ..train.progress import ProgressBar

    check_device(args.device)
    net = Classifier(args.checkpoint, args.device)
    data = args.data or net.data
    if data is None:
        raise CommandError(f"{args.checkpoint} does not record the data set it was trained on: pass --data NAME")
    if args.data and net.data and args.data != net.data:
        print(f"note: {args.checkpoint} was trained on {net.data}; evaluating on {args.data} as asked",
              file=sys.stderr)
    test = load_dataset(data, args.split, root=args.data_dir)
    if tuple(test.x.shape[1:]) != net.input_shape:
        raise CommandError(f"the network expects inputs of shape {net.input_shape}, {data} has images of shape "
                           f"{tuple(test.x.shape[1:])}")
    bar = ProgressBar((len(test) + EVAL_BATCH - 1) // EVAL_BATCH, "evaluate", enabled=not args.quiet, leave=False)
    outputs = []
    for start in range(0, len(test), EVAL_BATCH):
        outputs.append(net.logits(np.asarray(test.x[start:start + EVAL_BATCH], np.float32)))
        bar.update(1, len(outputs[-1]))
    bar.close()
    logits = np.concatenate(outputs)
    labels = np.asarray(test.y)
    if labels.max() >= logits.shape[1]:
        raise CommandError(f"{data} has {labels.max() + 1} classes, the network outputs {logits.shape[1]}")
    predicted = logits.argmax(axis=1)
    classes = net.classes or getattr(test, "classes", None)
    print(f"{data} {args.split}: accuracy {(predicted == labels).mean():.2%} on {len(test)} images")
    print(format_confusion(confusion_matrix(predicted, labels, logits.shape[1]), classes))
    return 0


def _centre_like_mnist(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """MNIST's preprocessing of a light-on-dark stroke image: the strokes' bounding box scaled
    to fit a 20x20 box (of 28x28), placed so that their centre of mass is the image centre."""
    from PIL import Image

    ink = img > 0.2 * img.max() if img.max() > 0 else np.zeros(img.shape, bool)
    if not ink.any():
        return np.asarray(Image.fromarray(img).resize((out_w, out_h), Image.BILINEAR), np.float32)
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    box_h, box_w = max(round(out_h * 20 / 28), 1), max(round(out_w * 20 / 28), 1)
    scale = min(box_h / crop.shape[0], box_w / crop.shape[1])
    size = (max(round(crop.shape[1] * scale), 1), max(round(crop.shape[0] * scale), 1))
    small = np.asarray(Image.fromarray(crop).resize(size, Image.LANCZOS), np.float32).clip(0, None)
    canvas = np.zeros((out_h, out_w), np.float32)
    total = small.sum()
    cy = (small.sum(1) @ np.arange(small.shape[0])) / total if total else small.shape[0] / 2
    cx = (small.sum(0) @ np.arange(small.shape[1])) / total if total else small.shape[1] / 2
    top = int(np.clip(round((out_h - 1) / 2 - cy), 0, out_h - small.shape[0]))
    left = int(np.clip(round((out_w - 1) / 2 - cx), 0, out_w - small.shape[1]))
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    return canvas


def read_image(path: str, shape: tuple[int, ...], invert: bool | None = None, centre: bool = False) -> np.ndarray:
    """An image file (or .npy) as a float32 (C, H, W) array in [0, 1] of the network's input size.

    For one-channel networks, ``invert=None`` inverts an image whose border is light (dark
    strokes on paper; MNIST's digits are light on black), and ``centre`` centres the strokes
    as MNIST's preprocessing did."""
    if not Path(path).is_file():
        raise CommandError(f"{path}: no such image file")
    if path.endswith(".npy"):
        img = np.load(path, allow_pickle=False).astype(np.float32)
        img = img / 255.0 if img.max() > 1.0 else img
        if img.size != int(np.prod(shape)):
            raise CommandError(f"{path}: expected {int(np.prod(shape))} values for the network's input "
                               f"{tuple(shape)}, received an array of shape {img.shape}")
        return img.reshape(shape)
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise CommandError("reading image files needs Pillow (pip install pillow), or pass .npy files") from None
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise CommandError(f"{path}: image files fit networks with inputs of shape (1 or 3, H, W); this one takes "
                           f"{tuple(shape)}: pass a .npy array")
    c, h, w = shape
    try:
        with Image.open(path) as im:
            im = im.convert("L" if c == 1 else "RGB")
            if c == 1:
                full = np.asarray(im, dtype=np.float32) / 255.0
            else:
                img = np.asarray(im.resize((w, h), Image.BILINEAR), dtype=np.float32).transpose(2, 0, 1) / 255.0
    except UnidentifiedImageError:
        raise CommandError(f"{path} is not an image file Pillow can read (PNG, JPEG, ...), nor a .npy array") \
            from None
    if c == 3:
        return 1.0 - img if invert else img
    border = np.concatenate([full[0], full[-1], full[:, 0], full[:, -1]]).mean()
    if invert is None:
        invert = bool(border > 0.5)
        if invert:
            print(f"{path}: light background (border mean {border:.2f}): inverted to light strokes on dark, as "
                  "the network was trained (--no-invert keeps it as it is)", file=sys.stderr)
    if invert:
        full = 1.0 - full
    if centre:
        return _centre_like_mnist(full, h, w)[None]
    from PIL import Image

    return np.asarray(Image.fromarray(full).resize((w, h), Image.BILINEAR), np.float32)[None]


def cmd_predict(args: argparse.Namespace) -> int:
    net = Classifier(args.checkpoint)
    centre = args.centre if args.centre is not None else net.data == "mnist"
    batch = np.stack([read_image(p, net.input_shape, args.invert, centre) for p in args.images])
    logits = net.logits(batch)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    for path, p in zip(args.images, probs):
        top = np.argsort(p)[::-1][: args.top]
        best = ", ".join(f"{net.classes[i] if net.classes else i} {p[i]:.1%}" for i in top)
        print(f"{path}: {best}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``summary``, ``train``, ``eval`` and ``predict``."""
    p = sub.add_parser("summary", formatter_class=HelpFormatter,
                       help="per-layer neurons, connections, weights and MACs of an architecture file")
    p.add_argument("file", help="architecture file (YAML) or zoo name")
    p.add_argument("--input", help="input shape, e.g. 3,32,32 (default: the file's)")
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("train", formatter_class=HelpFormatter, help="train a network (default: LeNet-5 on MNIST)",
                       description="Train an image classifier. Writes into OUT: last.ckpt (every epoch, for\n"
                                   "--resume), best.ckpt (best validation accuracy), history.csv and .json,\n"
                                   "curves.png, summary.txt and metrics.json. A folder that holds a run is\n"
                                   "refused unless --resume or --overwrite says what to do with it.")
    p.add_argument("file", nargs="?", help=f"architecture file or zoo name (default: {DEFAULT_ARCHITECTURE})")
    add_flag(p, "data", DEFAULT_DATA)
    add_flag(p, "data_dir")
    add_flags(p, ("epochs", "batch_size"), **TRAIN_RECIPE)
    add_flag(p, "lr", adam_default("lr"))
    add_flag(p, "weight_decay", adam_default("weight_decay"))
    add_flags(p, ("optimizer",), **TRAIN_RECIPE)
    p.add_argument("--schedule", choices=SCHEDULES, default=TRAIN_RECIPE["schedule"],
                   help="learning rate per epoch: cosine (from --lr to 0 over --epochs), step (x0.1 after each third "
                        "of the epochs), plateau (x0.1 when the validation loss stalls 2 epochs) or none")
    p.add_argument("--early-stopping", metavar="PATIENCE", type=non_negative_int,
                   default=TRAIN_RECIPE["early_stopping"],
                   help="stop when the validation loss has not improved for PATIENCE epochs (0: never)")
    add_flags(p, ("shift",), **TRAIN_RECIPE)
    p.add_argument("--flip", action="store_true", help="augmentation: random horizontal flips (not for digits)")
    p.add_argument("--val", type=non_negative_int, default=TRAIN_RECIPE["val"],
                   help="training images held out (chosen at random with --seed) for validation and best.ckpt")
    p.add_argument("--limit", type=non_negative_int, default=TRAIN_RECIPE["limit"],
                   help="train on only N of the remaining training images (0: all)")
    p.add_argument("--test-limit", type=non_negative_int, default=0,
                   help="test on only the first N test images (0: all)")
    add_flag(p, "device", device_default())
    add_compute_flags(p)
    add_flag(p, "seed", DEFAULT_SEED)
    add_flag(p, "out", help="output folder (default: runs/NAME-DATA)")
    add_flags(p, ("resume", "overwrite", "quiet"))
    p.add_argument("--monitor", choices=("gradients",),
                   help="gradients: print the L2 norm of each layer's gradient, averaged over the epoch, after "
                        "each epoch (a vanishing gradient shows as a first/last ratio far below 1)")
    p.add_argument("--monitor-every", type=positive_int, default=10, metavar="N",
                   help="with --monitor: record the norms every N optimizer steps")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="write TensorBoard event files into DIR: the epoch metrics, weight (and, with --monitor "
                        "gradients, gradient) histograms and the first layer's filters")
    p.add_argument("--procs", type=int, default=1, metavar="N",
                   help="run as N processes on this machine (data parallel over MPI: mpiexec -n N); "
                        "--batch-size stays the batch of one update, split over the processes")
    p.set_defaults(run=cmd_train, interrupted=resume_hint, argv=None)

    p = sub.add_parser("eval", formatter_class=HelpFormatter,
                       help="accuracy and confusion matrix of a checkpoint or .edge plan on a data set")
    p.add_argument("checkpoint", help="a .ckpt written by profondo train, finetune or import, or an .edge plan")
    add_flag(p, "data", help="data set: mnist, fashion-mnist, cifar10, digits or an image folder's path "
                             "(default: the one the checkpoint was trained on)")
    add_flag(p, "data_dir")
    p.add_argument("--split", default="test", choices=("train", "test"), help="the part of the data set")
    add_flag(p, "device", device_default())
    add_compute_flags(p)
    add_flag(p, "quiet")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("predict", formatter_class=HelpFormatter,
                       help="classify image files (PNG/JPEG via Pillow, or .npy) with a checkpoint or .edge plan")
    p.add_argument("checkpoint", help="a .ckpt written by profondo train, finetune or import, or an .edge plan")
    p.add_argument("images", nargs="+", help="image files (resized to the network's input) or .npy arrays")
    p.add_argument("--top", type=positive_int, default=3, help="classes shown per image")
    p.add_argument("--invert", action=argparse.BooleanOptionalAction, default=None,
                   help="invert gray images: dark strokes on a light background become light on dark, as in MNIST "
                        "(default: when the image's border is light)")
    p.add_argument("--centre", action=argparse.BooleanOptionalAction, default=None,
                   help="centre gray strokes as MNIST did (scaled into 20x20 of 28x28, centre of mass in the middle; "
                        "default: for networks trained on mnist)")
    p.set_defaults(run=cmd_predict)
