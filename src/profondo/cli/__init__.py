"""The ``profondo`` command: describe, count, train and use neural networks.

One module per command group (``train``: summary, train, eval, predict; ``edge``: export,
import, bench; ``transfer``: finetune, features; ``nlp``: lm, sentiment, seq2seq; ``rl``),
the flags they share in ``common``. Exit statuses: 0 done, 1 the user's error (one
``profondo: error: ...`` message, no traceback; ``PROFONDO_DEBUG=1`` shows it), 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys

from .common import EXIT_OK, EXIT_USER_ERROR, CommandError, HelpFormatter

__all__ = ["CommandError", "build_parser", "main"]

# What a command raises for a mistake of its user (a wrong name, a missing or unreadable file,
# a value out of range, a missing optional package); anything else is a bug and keeps its traceback.
USER_ERRORS = (CommandError, ValueError, TypeError, RuntimeError, OSError, ImportError)
INTERRUPTED = 130  # the shell's status for a process stopped by Ctrl-C (128 + SIGINT)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``profondo`` command (heavy modules load only when a command runs)."""
    from .. import __version__
    from . import edge, nlp, rl, train, transfer, unsupervised

    parser = argparse.ArgumentParser(prog="profondo", formatter_class=HelpFormatter,
                                     description="Describe, count, train and use neural networks.")
    parser.add_argument("--version", action="version", version=f"profondo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (train, transfer, edge, nlp, rl, unsupervised):
        group.add_parsers(sub)
    parser.set_defaults(compute=False, resumable=False)
    return parser


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
        hint = ": the last completed checkpoint is kept (use --resume)" if args.resumable else ""
        print(f"\nprofondo: interrupted{hint}", file=sys.stderr)
        return INTERRUPTED
    except USER_ERRORS as e:
        if os.environ.get("PROFONDO_DEBUG"):
            raise
        print(f"profondo: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR


def main(argv: list[str] | None = None) -> int:
    """``profondo ARGS...``: parse, run, and return the exit status (0, 1 or 2)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help and --version (0), usage errors (2): argparse has printed them
        return EXIT_OK if done.code is None else int(done.code)
    return run(args)
