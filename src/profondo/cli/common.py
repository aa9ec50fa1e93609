"""What every ``profondo`` command shares: the flags (each defined once here), defaults read
from the library, the optimizer choice, and the error that ends a command with exit status 1.

Exit statuses: 0 the command did its work; 1 the user's error (a wrong name, a missing file,
options that do not fit), reported as one ``profondo: error: ...`` message without a traceback;
2 a usage error found by argparse (an unknown flag, a missing argument).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_USAGE = 2

# One BLAS thread: the fastest for the small matrices of these networks and on cores that
# other processes keep busy (a Python user chooses with profondo.set_num_threads).
DEFAULT_THREADS = 1
DEFAULT_SEED = 0
SGD_MOMENTUM = 0.9  # the command's SGD is Nesterov momentum; the library's SGD defaults to none
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")


class CommandError(Exception):
    """The user's mistake: ``profondo`` prints ``profondo: error: MESSAGE`` and exits with status 1."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` ends every option's line with its default, unless the text already says it.

    Options whose default is None (the value comes from elsewhere: a file, the task function)
    and switches that are off by default carry their default in their own text.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("(default" in text or default is None or default is argparse.SUPPRESS or default == []
                or (action.nargs == 0 and default is False) or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def library_default(owner: Callable | type, name: str) -> Any:
    """The default value of parameter or field ``name`` of a function, class or dataclass,
    so that a flag's default is the library's and cannot drift from it."""
    if dataclasses.is_dataclass(owner):
        fields = {f.name: f for f in dataclasses.fields(owner)}
        if name in fields:
            field = fields[name]
            if field.default is not dataclasses.MISSING:
                return field.default
            if field.default_factory is not dataclasses.MISSING:
                return field.default_factory()
    parameters = inspect.signature(owner).parameters
    if name not in parameters or parameters[name].default is inspect.Parameter.empty:
        raise TypeError(f"library_default: expected {getattr(owner, '__qualname__', owner)} to have a parameter "
                        f"{name!r} with a default, received parameters {list(parameters)}")
    return parameters[name].default


def with_default(text: str, value: Any) -> str:
    """Help text that names a default the parser itself cannot hold (the option stays None so
    that a run file or a task function can supply it)."""
    return f"{text} (default: {value})"


# --- argument types: a value out of range is a usage error (exit status 2) naming the flag -----------
def _number(kind: type, test: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
        return value

    convert.__name__ = expected  # argparse names the type in its messages
    return convert


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
positive_float = _number(float, lambda v: v > 0 and v != float("inf"), "a positive number")
non_negative_float = _number(float, lambda v: 0 <= v < float("inf"), "a non-negative number")
probability = _number(float, lambda v: 0 <= v < 1, "a probability in [0, 1)")
unit_interval = _number(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")


def existing_dir(text: str) -> str:
    """``--data-dir``: a folder that exists (a typo must not fall back to the installed data)."""
    import os

    if not os.path.isdir(os.path.expanduser(text)):
        what = "is a file, not a folder" if os.path.exists(os.path.expanduser(text)) else "does not exist"
        raise argparse.ArgumentTypeError(f"{text!r} {what}")
    return os.path.expanduser(text)


def device_name(text: str) -> str:
    """``--device``: cpu, cuda or cuda:N, checked before any work is done."""
    from ..backend import device

    try:
        device(text)
        return text.strip()
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, received {text!r}") from None


def check_device(name: str) -> None:
    """A cuda device must exist before a command reads data or writes a file."""
    from ..backend import cuda_available, device

    if device(name).type != "cpu" and not cuda_available():
        raise CommandError(f"--device {name}: no CUDA GPU is available here (CuPy missing or no GPU seen; "
                           "pip install 'profondo[gpu]' on a machine with a GPU), use --device cpu")


def resume_hint(args: argparse.Namespace) -> str:
    """What Ctrl-C leaves of a command that checkpoints into ``args.run_dir``."""
    run_dir = getattr(args, "run_dir", None)
    last = Path(run_dir) / "last.ckpt" if run_dir is not None else None
    if last is not None and last.exists():
        return f"{last} holds the last completed checkpoint (run the same command with --resume to continue)"
    return "nothing was saved: the run had not reached its first checkpoint"


# --- files the user names ---------------------------------------------------------------------------
_LOOKS_LIKE = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
               (b"\x93NUMPY", "a NumPy .npy array"), (b"\x80", "a Python pickle"))


def _looks_like(path: Path, head: bytes) -> str:
    for magic, kind in _LOOKS_LIKE:
        if head.startswith(magic):
            return kind
    if path.suffix.lower() == ".onnx" or head[:1] == b"\x08":  # a ModelProto starts with its ir_version field
        return "an ONNX model"
    if path.suffix.lower() in (".yaml", ".yml"):
        return "an architecture file"
    return "something else (not a zip archive)"


def check_model_file(path: str, edge: bool = False) -> Path:
    """``path`` names a profondo checkpoint (or, with ``edge``, an .edge plan): said clearly
    otherwise, before NumPy or the zip reader say something less useful."""
    p = Path(path)
    wanted = "a checkpoint (.ckpt) written by profondo train, finetune or import" + (" or an .edge plan" if edge
                                                                                     else "")
    if not p.exists():
        raise CommandError(f"{path} does not exist: expected {wanted}")
    if p.is_dir():
        hint = f" (such as {p / 'best.ckpt'})" if (p / "best.ckpt").exists() else ""
        raise CommandError(f"{path} is a folder: expected {wanted}{hint}")
    with p.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):  # checkpoints and edge plans are .npz (zip) archives
        return p
    kind = _looks_like(p, head)
    advice = {"an ONNX model": f": make it a checkpoint first with `profondo import {path} --out model.ckpt`",
              "an architecture file": f": train it first with `profondo train {path}`"}.get(kind, "")
    raise CommandError(f"{path} is not a profondo checkpoint: it looks like {kind}{advice}; expected {wanted}")


def prepare_run_folder(out: Path, resume: bool, overwrite: bool, files: Iterable[str]) -> None:
    """A run folder that already holds a run is continued (``--resume``), replaced
    (``--overwrite``: its run files are deleted first) or refused; checked before any work."""
    if resume:
        if not (out / "last.ckpt").exists():
            raise CommandError(f"--resume, but {out / 'last.ckpt'} does not exist")
        return
    found = [name for name in files if (out / name).exists()]
    if not found:
        return
    if not overwrite:
        raise CommandError(f"{out} already holds a run ({', '.join(found)}): continue it with --resume, write the "
                           f"new one elsewhere with --out DIR, or replace it with --overwrite")
    for name in found:
        (out / name).unlink()


# --- the shared flags ----------------------------------------------------------------------------
_FLAGS: dict[str, dict[str, Any]] = {
    "data": dict(help="data set: mnist, fashion-mnist, cifar10, digits, or the path of an image folder "
                      "(one sub-folder per class)"),
    "data_dir": dict(metavar="DIR", type=existing_dir, help="where the data files are (default: the installed package, then "
                                         "$PROFONDO_DATA or ~/.cache/profondo)"),
    "epochs": dict(type=positive_int, help="passes over the training data"),
    "batch_size": dict(type=positive_int, help="samples per update"),
    "lr": dict(type=positive_float, help="learning rate"),
    "weight_decay": dict(type=non_negative_float, help="L2 penalty on the weights"),
    "optimizer": dict(choices=OPTIMIZERS, help=f"sgd (momentum {SGD_MOMENTUM}, Nesterov), adam, adamw, rmsprop "
                                               "or adagrad"),
    "shift": dict(type=non_negative_int, help="augmentation: random shifts of up to N pixels (0: none)"),
    "device": dict(type=device_name, help="cpu, cuda or cuda:N"),
    "threads": dict(type=non_negative_int, help="CPU BLAS threads (1 is fastest for small networks and on busy cores; 0 leaves "
                                   "the BLAS default; needs threadpoolctl)"),
    "seed": dict(type=non_negative_int, help="seeds the weights, the shuffling and the sampling"),
    "out": dict(metavar="DIR", help="output folder"),
    "quiet": dict(action="store_true", help="no progress bars (the one-line result of each epoch stays)"),
    "resume": dict(action="store_true", help="continue from OUT/last.ckpt"),
    "overwrite": dict(action="store_true", help="replace the run already in OUT (without it, a second run into the "
                                                "same folder is refused)"),
    "json": dict(metavar="FILE", help="write the results as JSON to FILE"),
    "save": dict(metavar="FILE", help="write a checkpoint to FILE"),
}


def add_flag(parser: argparse.ArgumentParser, name: str, default: Any = None, **overrides: Any) -> None:
    """Add the shared flag ``name`` (``batch_size`` -> ``--batch-size``) with ``default``;
    ``overrides`` replace parts of its definition (``help``, ``required``, ``metavar``)."""
    options = {**_FLAGS[name], **overrides}
    if options.get("action") != "store_true":
        options["default"] = default
    parser.add_argument("--" + name.replace("_", "-"), dest=name, **options)


def add_flags(parser: argparse.ArgumentParser, names: Iterable[str], **defaults: Any) -> None:
    """Add several shared flags; ``defaults`` gives the defaults of those that have one."""
    for name in names:
        add_flag(parser, name, defaults.get(name))


def add_compute_flags(parser: argparse.ArgumentParser, threads: int | None = DEFAULT_THREADS) -> None:
    """Mark a command that computes (it gets the heap tuning) and add ``--threads``."""
    add_flag(parser, "threads", threads)
    parser.set_defaults(compute=True)


def device_default() -> str:
    """The library's default device ("cpu")."""
    from ..backend import device

    return str(device(None))


def adam_default(name: str) -> Any:
    """A default of the default optimizer (Adam): learning rate, weight decay."""
    from ..optim import Adam

    return library_default(Adam, name)


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0):
    """The optimizer ``--optimizer NAME`` means, over parameters or parameter groups."""
    from .. import optim

    name = name.lower()
    if name == "sgd":
        return optim.SGD(params, lr, momentum=SGD_MOMENTUM, nesterov=True, weight_decay=weight_decay)
    choices = {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}
    if name not in choices:
        raise CommandError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")
    return choices[name](params, lr, weight_decay=weight_decay)


def parse_shape(text: str, flag: str = "--input") -> tuple[int, ...]:
    """``3,32,32`` or ``3x32x32`` as a shape."""
    try:
        return tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise CommandError(f"{flag} expected a shape such as 3,32,32, received {text!r}") from None
