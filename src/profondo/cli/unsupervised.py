"""``profondo rbm``, ``pretrain``, ``autoencoder`` and ``htm``: the unsupervised models of profondo.unsupervised.

    profondo rbm                                    # Bernoulli RBM on scikit-learn's digits
    profondo rbm --data mnist --hidden 500 --batch-size 100 --lr 0.05
    profondo pretrain dbn                           # MNIST: DBN 784-500-500-2000, then fine-tuning
    profondo pretrain sda --resume                  # stacked denoising autoencoder, continued
    profondo autoencoder --arch conv-autoencoder-mnist --corruption mask   # an architecture file's autoencoder
    profondo htm mnist                              # spatial pooler + SDR classifier on MNIST
    profondo htm sequence                           # next character of Shakespeare, beside an LSTM
    profondo htm anomaly --series co2               # anomaly score and likelihood of a real series

Each command calls a task function of ``profondo.unsupervised.tasks``; an option left out
takes that function's default, which ``--help`` shows. Every run writes checkpoints, PNGs
and ``results.json`` into ``--out``; ``--resume`` continues from the checkpoints there.
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable

from .common import HelpFormatter, add_compute_flags, add_flag

_NOT_TASK_OPTIONS = {"command", "run", "compute", "json", "quiet", "threads", "resumable", "task_fn", "htm_task", "debug",
                     "interrupted"}


def _option(p: argparse.ArgumentParser, fn: Callable, flag: str, text: str, **kwargs) -> None:
    """An option of a task function: None unless given, so the function's default applies."""
    name = flag.lstrip("-").replace("-", "_")
    parameter = inspect.signature(fn).parameters[name]
    shown = f" (default: {parameter.default!r})" if parameter.default not in (inspect.Parameter.empty, None) \
        and "(default" not in text else ""
    p.add_argument(flag, dest=name, default=None, help=text + shown, **kwargs)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace("x", ",").replace("-", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer sizes such as 500,500,2000, received {text!r}") from None


def _run(args: argparse.Namespace) -> int:
    options = {k: v for k, v in vars(args).items() if k not in _NOT_TASK_OPTIONS and v is not None}
    result = args.task_fn(progress=not args.quiet, **options)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)
    return 0


def _common(p: argparse.ArgumentParser, fn: Callable) -> None:
    _option(p, fn, "--seed", "seeds the weights, the shuffling and the sampling", type=int)
    _option(p, fn, "--out", "folder for checkpoints, pictures and results.json (default: runs/TASK-DATA)")
    resumable = "resume" in inspect.signature(fn).parameters  # runs of a few minutes have no checkpoints
    if resumable:
        _option(p, fn, "--resume", "continue from the checkpoints in --out", action="store_true")
    add_compute_flags(p)
    add_flag(p, "json")
    add_flag(p, "quiet")
    p.set_defaults(run=_run, task_fn=fn, resumable=resumable, interrupted=_interrupted)


def _interrupted(args: argparse.Namespace) -> str:
    """What Ctrl-C leaves: the checkpoints of the finished epochs, for the commands that write them."""
    if not args.resumable:
        return "this command keeps nothing while it runs (it takes minutes): run it again"
    where = f"in {args.out}" if args.out else "in its --out folder (default runs/TASK-DATA)"
    return f"the checkpoints of finished epochs are {where}: run the same command with --resume to continue"


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``rbm``, ``pretrain``, ``autoencoder`` and ``htm`` (mnist, sequence, anomaly)."""
    from ..unsupervised import tasks

    fn = tasks.rbm_task
    p = sub.add_parser("rbm", formatter_class=HelpFormatter, description=inspect.getdoc(fn),
                       help="train a restricted Boltzmann machine; filters, samples, pseudo-likelihood")
    _option(p, fn, "--data", "grey-image data set: digits, mnist or fashion-mnist")
    _option(p, fn, "--data-dir", "where the data files are")
    _option(p, fn, "--hidden", "hidden units", type=int)
    _option(p, fn, "--epochs", "passes over the training images", type=int)
    _option(p, fn, "--batch-size", "samples per update", type=int)
    _option(p, fn, "--lr", "learning rate", type=float)
    _option(p, fn, "--k", "Gibbs steps per update (CD-k)", type=int)
    _option(p, fn, "--persistent", "persistent CD (chains kept across updates)", action="store_true")
    _option(p, fn, "--momentum", "momentum (of the first 5 epochs, with --final-momentum)", type=float)
    _option(p, fn, "--final-momentum", "momentum after 5 epochs", type=float)
    _option(p, fn, "--weight-decay", "L2 penalty on the weights", type=float)
    _option(p, fn, "--train-limit", "train on the first N training images only", type=int)
    _option(p, fn, "--sample-steps", "Gibbs steps of the drawn samples", type=int)
    _common(p, fn)

    fn = tasks.pretrain_task
    p = sub.add_parser("pretrain", formatter_class=HelpFormatter, description=inspect.getdoc(fn),
                       help="greedy pre-training (DBN or stacked denoising autoencoder), then fine-tuning")
    p.add_argument("model", choices=("dbn", "sda"), help="dbn: stacked RBMs; sda: stacked denoising autoencoders")
    _option(p, fn, "--data", "grey-image data set: mnist, fashion-mnist or digits")
    _option(p, fn, "--data-dir", "where the data files are")
    _option(p, fn, "--hidden", "hidden layer sizes", type=_sizes)
    _option(p, fn, "--pretrain-epochs", "epochs per layer of pre-training", type=int)
    _option(p, fn, "--finetune-epochs", "epochs of fine-tuning", type=int)
    _option(p, fn, "--batch-size", "samples per update", type=int)
    _option(p, fn, "--lr", "pre-training learning rate (dbn 0.05, sda 1e-3 when not given)", type=float)
    _option(p, fn, "--finetune-lr", "SGD learning rate of fine-tuning and of the baseline", type=float)
    _option(p, fn, "--corruption", "sda: mask or gaussian", choices=("mask", "gaussian", "none"))
    _option(p, fn, "--noise", "sda: masked fraction or noise standard deviation", type=float)
    _option(p, fn, "--momentum", "dbn: momentum of the first 5 epochs", type=float)
    _option(p, fn, "--final-momentum", "dbn: momentum after 5 epochs", type=float)
    _option(p, fn, "--weight-decay", "dbn: L2 penalty on the weights", type=float)
    _option(p, fn, "--svm-labels", "labelled images for the linear SVM on codes and on pixels", type=int)
    _option(p, fn, "--svm-c", "the SVM's C", type=float)
    p.add_argument("--no-baseline", dest="baseline", action="store_false", default=None,
                   help="skip the same MLP trained from scratch for the same time")
    _option(p, fn, "--baseline-lr", "SGD learning rate of the from-scratch baseline (None: --finetune-lr)", type=float)
    _option(p, fn, "--train-limit", "train on the first N training images only", type=int)
    _common(p, fn)

    fn = tasks.conv_autoencoder_task
    p = sub.add_parser("autoencoder", formatter_class=HelpFormatter, description=inspect.getdoc(fn),
                       help="train the (convolutional) autoencoder of an architecture file to reconstruct images")
    _option(p, fn, "--arch", "architecture file, or zoo name, whose output has its input's shape")
    _option(p, fn, "--data", "grey-image data set: mnist, fashion-mnist or digits")
    _option(p, fn, "--data-dir", "where the data files are")
    _option(p, fn, "--epochs", "passes over the training images", type=int)
    _option(p, fn, "--batch-size", "samples per update", type=int)
    _option(p, fn, "--lr", "Adam's learning rate", type=float)
    _option(p, fn, "--loss", "bce (outputs in [0, 1]) or mse", choices=("bce", "mse"))
    _option(p, fn, "--corruption", "denoising: mask or gaussian (none: a plain autoencoder)",
            choices=("mask", "gaussian", "none"))
    _option(p, fn, "--noise", "masked fraction or noise standard deviation", type=float)
    _option(p, fn, "--train-limit", "train on the first N training images only", type=int)
    _option(p, fn, "--test-limit", "test on the first N test images only", type=int)
    _common(p, fn)

    p = sub.add_parser("htm", formatter_class=HelpFormatter,
                       help="Hierarchical Temporal Memory: MNIST, next character of Shakespeare, anomalies of a series")
    tasks_of = {"mnist": tasks.htm_mnist_task, "sequence": tasks.htm_sequence_task, "anomaly": tasks.htm_anomaly_task}
    htm = p.add_subparsers(dest="htm_task", required=True, metavar="TASK")
    helps = {"mnist": "spatial pooler + SDR classifier on MNIST digits",
             "sequence": "temporal memory predicting the next character of Shakespeare, beside an LSTM",
             "anomaly": "anomaly score and likelihood on a real series (statsmodels' co2, nile, sunspots)"}
    for name, fn in tasks_of.items():
        q = htm.add_parser(name, formatter_class=HelpFormatter, description=inspect.getdoc(fn), help=helps[name])
        if name == "mnist":
            _option(q, fn, "--data", "grey-image data set: mnist, fashion-mnist or digits")
            _option(q, fn, "--columns", "spatial-pooler columns", type=int)
            _option(q, fn, "--active-columns", "columns active per input", type=int)
            _option(q, fn, "--potential-pct", "share of the pixels in a column's potential pool", type=float)
            _option(q, fn, "--stimulus-threshold", "connected active inputs a column needs to compete", type=int)
            _option(q, fn, "--epochs", "passes over the training images", type=int)
            _option(q, fn, "--alpha", "SDR classifier learning rate", type=float)
            _option(q, fn, "--train-limit", "train on the first N training images only", type=int)
            _option(q, fn, "--test-limit", "test on the first N test images only", type=int)
        elif name == "sequence":
            _option(q, fn, "--train-chars", "characters learned (one online pass)", type=int)
            _option(q, fn, "--test-chars", "held-out characters predicted", type=int)
            _option(q, fn, "--lstm-hidden", "hidden units of the comparison LSTM", type=int)
        else:
            _option(q, fn, "--series", "co2, nile or sunspots", choices=("co2", "nile", "sunspots"))
            _option(q, fn, "--columns", "spatial-pooler columns", type=int)
            _option(q, fn, "--active-columns", "columns active per input", type=int)
            _option(q, fn, "--threshold", "anomaly likelihood that flags a point", type=float)
            _option(q, fn, "--learning-period", "steps before the likelihood is estimated", type=int)
            _option(q, fn, "--difference", "feed the change from the previous point, not the value",
                    action="store_true")
        if name != "anomaly":
            _option(q, fn, "--data-dir", "where the data files are")
        _common(q, fn)
