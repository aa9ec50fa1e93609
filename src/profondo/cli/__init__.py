"""The ``profondo`` command: describe, count, train and use neural networks.

One module per command group (``train``: summary, train, eval, predict; ``edge``: export,
import, bench; ``transfer``: finetune, features; ``nlp``: lm, sentiment, seq2seq; ``rl``; ``draw``),
the flags they share in ``common``. Exit statuses: 0 done, 1 the user's error (one
``profondo: error: ...`` message, no traceback; ``--debug`` or ``PROFONDO_DEBUG=1`` shows it), 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys

from .common import EXIT_OK, EXIT_USER_ERROR, CommandError, HelpFormatter

__all__ = ["CommandError", "build_parser", "main"]

# What a command raises for a mistake of its user (a wrong name, a missing, unreadable or damaged
# file, a value out of range, a missing optional package, a network whose loss diverged).
USER_ERRORS = (CommandError, ValueError, TypeError, RuntimeError, OSError, ImportError, EOFError, LookupError,
               ArithmeticError)
INTERRUPTED = 130  # the shell's status for a process stopped by Ctrl-C (128 + SIGINT)


def _message(error: BaseException) -> str:
    """One line that says what went wrong, for any exception a command lets through."""
    import pickle

    text = (error.args[0] if isinstance(error, KeyError) and error.args else str(error)).strip()
    if isinstance(error, MemoryError):
        return f"out of memory{': ' + text if text else ''} (a smaller --batch-size or input may fit)"
    if isinstance(error, RecursionError):
        return "the input is nested too deeply to read"
    if isinstance(error, pickle.UnpicklingError):
        return f"not a file profondo reads (a pickle it refuses to load): {text}"
    if isinstance(error, EOFError):
        return f"a file ended early (truncated or damaged){': ' + text if text else ''}"
    if isinstance(error, IsADirectoryError):
        return f"expected a file, received a folder: {error.filename or text}"
    if not text:
        return type(error).__name__
    if not isinstance(error, USER_ERRORS) or type(error).__module__.startswith(("onnx", "google")):
        return f"{type(error).__name__}: {text}"
    return text


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``profondo`` command (heavy modules load only when a command runs)."""
    from .. import __version__
    from . import draw, edge, nlp, rl, train, transfer, ui, unsupervised

    parser = argparse.ArgumentParser(prog="profondo", formatter_class=HelpFormatter,
                                     description="Describe, count, train and use neural networks.")
    parser.add_argument("--version", action="version", version=f"profondo {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error "
                        "(also PROFONDO_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (train, transfer, edge, nlp, rl, unsupervised, draw, ui):
        group.add_parsers(sub)
    _add_debug(sub)
    parser.set_defaults(compute=False, interrupted=None)
    return parser


def _add_debug(sub: argparse._SubParsersAction) -> None:
    """``--debug`` after the command name too (``profondo train --debug``)."""
    for command in sub.choices.values():
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_debug(action)


def _quiet_broken_pipe() -> int:
    """``profondo ... | head``: the reader left; stop without a traceback, as other tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
    except (OSError, ValueError):
        pass
    return EXIT_USER_ERROR


def run(args: argparse.Namespace) -> int:
    """Run a parsed command under the command line's process settings; its exit status."""
    from ..backend import blas_threads, keep_freed_memory

    try:
        if args.compute:
            keep_freed_memory()  # training allocates the same large arrays every step
        threads = getattr(args, "threads", None) if args.compute else None
        with blas_threads(threads or None):
            return args.run(args)
    except KeyboardInterrupt:
        # Each command says what an interruption leaves (a checkpoint to resume, or nothing).
        hint = f": {args.interrupted(args)}" if args.interrupted else ""
        print(f"\nprofondo: interrupted{hint}", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except Exception as e:  # noqa: BLE001 - every error ends in one line; --debug shows the traceback
        if getattr(args, "debug", False) or os.environ.get("PROFONDO_DEBUG"):
            raise
        print(f"profondo: error: {_message(e)}", file=sys.stderr)
        return EXIT_USER_ERROR


def main(argv: list[str] | None = None) -> int:
    """``profondo ARGS...``: parse, run, and return the exit status (0, 1 or 2)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help and --version (0), usage errors (2): argparse has printed them
        return EXIT_OK if done.code is None else int(done.code)
    if "argv" in vars(args):  # a command that runs itself again (`train --procs N`, under mpiexec)
        args.argv = list(sys.argv[1:] if argv is None else argv)
    return run(args)
