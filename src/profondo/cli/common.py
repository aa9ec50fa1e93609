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


# --- the shared flags ----------------------------------------------------------------------------
_FLAGS: dict[str, dict[str, Any]] = {
    "data": dict(help="data set: mnist, fashion-mnist, cifar10 or digits"),
    "data_dir": dict(metavar="DIR", help="where the data files are (default: the installed package, then "
                                         "$PROFONDO_DATA or ~/.cache/profondo)"),
    "epochs": dict(type=int, help="passes over the training data"),
    "batch_size": dict(type=int, help="samples per update"),
    "lr": dict(type=float, help="learning rate"),
    "weight_decay": dict(type=float, help="L2 penalty on the weights"),
    "optimizer": dict(choices=OPTIMIZERS, help=f"sgd (momentum {SGD_MOMENTUM}, Nesterov), adam, adamw, rmsprop "
                                               "or adagrad"),
    "shift": dict(type=int, help="augmentation: random shifts of up to N pixels (0: none)"),
    "device": dict(help="cpu, cuda or cuda:N"),
    "threads": dict(type=int, help="CPU BLAS threads (1 is fastest for small networks and on busy cores; 0 leaves "
                                   "the BLAS default; needs threadpoolctl)"),
    "seed": dict(type=int, help="seeds the weights, the shuffling and the sampling"),
    "out": dict(metavar="DIR", help="output folder"),
    "quiet": dict(action="store_true", help="no progress bars"),
    "resume": dict(action="store_true", help="continue from OUT/last.ckpt"),
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
