"""The ``profondo`` command: summary, train, eval, predict."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_ARCHITECTURE = "lenet5"
DEFAULT_DATA = "mnist"


def _resolve_architecture(name_or_path: str) -> dict:
    """An architecture file path, or the name of a file in the zoo."""
    from . import spec
    from .spec import zoo

    path = Path(name_or_path)
    if path.exists():
        return spec.load_dict(path)
    if name_or_path in zoo.names():
        return spec.load_dict(zoo.path(name_or_path))
    raise SystemExit(f"profondo: no architecture file {name_or_path!r}, and no zoo model of that name "
                     f"(zoo: {', '.join(zoo.names())})")


def _input_shape(arch: dict, override: str | None) -> tuple[int, ...]:
    if override:
        return tuple(int(v) for v in override.replace("x", ",").split(","))
    return tuple(arch["input"])


def cmd_summary(args) -> int:
    from . import spec
    from .analysis import summary

    arch = _resolve_architecture(args.file)
    model = spec.from_dict(arch)
    summary(model, _input_shape(arch, args.input))  # prints the table
    return 0


def _optimizer(name: str, params, lr: float, weight_decay: float):
    from . import optim

    name = name.lower()
    if name == "sgd":
        return optim.SGD(params, lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    choices = {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}
    if name not in choices:
        raise SystemExit(f"profondo: unknown optimizer {name!r}: expected sgd, {', '.join(choices)}")
    return choices[name](params, lr, weight_decay=weight_decay)


def _loaders(args, input_shape):
    from .data import DataLoader, Subset, load_dataset
    from .data.transforms import RandomShift

    train = load_dataset(args.data, "train", root=args.data_dir)
    test = load_dataset(args.data, "test", root=args.data_dir)
    if tuple(train.x.shape[1:]) != tuple(input_shape):
        raise SystemExit(f"profondo: the network expects inputs of shape {tuple(input_shape)}, "
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
    val_loader = DataLoader(Subset(train, np.sort(val_idx)), 500) if val_n else None
    test_loader = DataLoader(test, 500)
    return train_loader, val_loader, test_loader, getattr(train, "classes", None)


def cmd_train(args) -> int:
    from . import manual_seed, optim, spec
    from .analysis import summary
    from .backend import blas_threads
    from .train import CSVLogger, JSONLogger, LRScheduler, ModelCheckpoint, PlotCurves, Trainer

    manual_seed(args.seed)
    arch = _resolve_architecture(args.file or DEFAULT_ARCHITECTURE)
    model = spec.from_dict(arch)
    input_shape = _input_shape(arch, None)
    train_loader, val_loader, test_loader, classes = _loaders(args, input_shape)  # bad data fails first
    out = Path(args.out or f"runs/{arch.get('name', 'model')}-{args.data}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.txt").write_text(summary(model, input_shape) + "\n")  # also printed
    optimizer = _optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
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
    if args.resume:
        last = out / "last.ckpt"
        if not last.exists():
            raise SystemExit(f"profondo: --resume, but {last} does not exist")
        done = trainer.resume(last)
        print(f"resumed from {last}: {done} epochs completed")
    print(f"training {arch.get('name')} on {args.data}: {len(train_loader.dataset)} images, "
          f"{args.epochs} epochs, batch {args.batch_size}, {args.optimizer} lr {args.lr}, device {args.device}")
    started = time.perf_counter()
    with blas_threads(args.threads or None):
        trainer.fit(train_loader, args.epochs, val_loader)
        elapsed = time.perf_counter() - started
        result = trainer.evaluate(test_loader, desc="test")
    report = {"architecture": arch.get("name"), "data": args.data, "epochs": trainer.epoch,
              "test_accuracy": result["accuracy"], "test_loss": result["loss"], "train_seconds": elapsed,
              "classes": classes}
    (out / "metrics.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"test accuracy {result['accuracy']:.2%} (loss {result['loss']:.4f}) after {trainer.epoch} epochs, "
          f"{elapsed / 60:.1f} min of training; checkpoints, curves and logs in {out}/")
    return 0


def cmd_eval(args) -> int:
    from .data import DataLoader, load_dataset
    from .train import Trainer, confusion_matrix, format_confusion
    from .train.state import load_model

    model, _ = load_model(args.checkpoint)
    test = load_dataset(args.data, args.split, root=args.data_dir)
    trainer = Trainer(model, device=args.device, progress=not args.quiet)
    logits = trainer.predict(DataLoader(test, 500))
    predicted = logits.argmax(axis=1)
    n_classes = logits.shape[1]
    print(f"{args.data} {args.split}: accuracy {(predicted == test.y).mean():.2%} on {len(test)} images")
    print(format_confusion(confusion_matrix(predicted, test.y, n_classes), getattr(test, "classes", None)))
    return 0


def _read_image(path: str, shape: tuple[int, ...], invert: bool) -> np.ndarray:
    """An image file (or .npy) as a float32 (C, H, W) array in [0, 1] of the network's input size."""
    if path.endswith(".npy"):
        img = np.load(path, allow_pickle=False).astype(np.float32)
        img = img / 255.0 if img.max() > 1.0 else img
        return img.reshape(shape)
    try:
        from PIL import Image
    except ImportError:
        raise SystemExit("profondo predict: reading image files needs Pillow (pip install pillow), or pass .npy") from None
    c, h, w = shape
    with Image.open(path) as im:
        im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
        img = np.asarray(im, dtype=np.float32) / 255.0
    img = img[None] if c == 1 else img.transpose(2, 0, 1)
    return 1.0 - img if invert else img


def cmd_predict(args) -> int:
    from .autograd import no_grad
    from .functional import softmax
    from .tensor import Tensor
    from .train.state import load_model

    model, ckpt = load_model(args.checkpoint)
    model.eval()
    shape = tuple(ckpt.meta["architecture"]["input"])
    batch = np.stack([_read_image(p, shape, args.invert) for p in args.images])
    with no_grad():
        probs = softmax(model(Tensor(batch)), axis=1).numpy()
    classes = ckpt.meta.get("extra", {}).get("classes")
    for path, p in zip(args.images, probs):
        top = np.argsort(p)[::-1][: args.top]
        best = ", ".join(f"{classes[i] if classes else i} {p[i]:.1%}" for i in top)
        print(f"{path}: {best}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="profondo", description="Describe, count, train and use neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("summary", help="per-layer neurons, connections, weights and MACs of an architecture file")
    p.add_argument("file", help="architecture file (YAML) or zoo name")
    p.add_argument("--input", help="input shape, e.g. 3,32,32 (default: the file's)")
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("train", help="train a network (default: LeNet-5 on MNIST)")
    p.add_argument("file", nargs="?", help=f"architecture file or zoo name (default: {DEFAULT_ARCHITECTURE})")
    p.add_argument("--data", default=DEFAULT_DATA, help="mnist, fashion-mnist, cifar10 or digits")
    p.add_argument("--data-dir", help="where the dataset files are (default: installed packages, cache)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--optimizer", default="adam", help="sgd (momentum 0.9, Nesterov), adam, adamw, rmsprop, adagrad")
    p.add_argument("--shift", type=int, default=2, help="augmentation: random shifts of up to N pixels (0: none)")
    p.add_argument("--val", type=int, default=5000, help="training images held out for validation")
    p.add_argument("--limit", type=int, default=0, help="train on only the first N images (quick tries)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU BLAS threads (default 1: fastest for small networks and on busy cores; 0 leaves "
                        "the BLAS default; needs threadpoolctl)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default: runs/NAME-DATA)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("eval", help="accuracy and confusion matrix of a checkpoint on a dataset")
    p.add_argument("checkpoint")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--data-dir")
    p.add_argument("--split", default="test")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("predict", help="classify image files (PNG/JPEG via Pillow, or .npy)")
    p.add_argument("checkpoint")
    p.add_argument("images", nargs="+")
    p.add_argument("--top", type=int, default=3)
    p.add_argument("--invert", action="store_true", help="dark strokes on a light background (MNIST is the reverse)")
    p.set_defaults(run=cmd_predict)

    from .edge_cli import add_edge_parser
    from .nlp.cli import add_nlp_parser
    from .rl.cli import add_rl_parser
    from .transfer_cli import add_transfer_parser

    add_transfer_parser(sub)
    add_edge_parser(sub)
    add_nlp_parser(sub)
    add_rl_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: the last completed epoch's checkpoint is kept (use --resume)", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, FileNotFoundError, ImportError) as e:
        if os.environ.get("PROFONDO_DEBUG"):
            raise
        # A user's mistake or a missing file: the message, not a traceback (PROFONDO_DEBUG=1 shows it).
        print(f"profondo {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
