"""The language commands of ``profondo``: ``lm``, ``sentiment`` and ``seq2seq``.

    profondo lm --data-dir ~/Downloads --steps 2000           # Shakespeare, then a sample
    profondo sentiment --epochs 3                             # IMDB reviews
    profondo seq2seq dates                                    # dates to ISO 8601
    profondo seq2seq words                                    # English -> French words (FreeDict)

The main ``profondo`` command hooks these in with :func:`add_nlp_parser`; ``python -m
profondo.nlp.cli`` runs them on their own.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys

from ..backend import blas_threads
from ..data import DatasetNotFoundError


def _common(p: argparse.ArgumentParser, data: bool = True) -> None:
    if data:
        p.add_argument("--data-dir", default=None, help="where the data files are (default: the installed package, "
                                                         "then $PROFONDO_DATA or ~/.cache/profondo)")
    p.add_argument("--cell", choices=("lstm", "gru", "rnn"), help="recurrent cell")
    p.add_argument("--hidden", type=int, help="hidden units per recurrent layer")
    p.add_argument("--embedding", type=int, help="embedding size")
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--dropout", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="CPU BLAS threads (default 1: fastest for these small "
                                                           "matrices and on busy cores; 0 leaves the BLAS default)")
    p.add_argument("--save", help="write a checkpoint (weights, configuration, vocabularies) to this path")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


_RENAME = {"hidden": "hidden_size", "embedding": "embedding_dim"}
_SKIP = {"command", "run", "json", "quiet", "data_dir", "task", "threads"}


def _call(fn, args, *positional) -> dict:
    """Run a task function with every option given, under the function's argument names."""
    options = {_RENAME.get(k, k): v for k, v in vars(args).items() if k not in _SKIP and v is not None}
    accepted = inspect.signature(fn).parameters
    unused = [k for k in options if k not in accepted]
    if unused:
        flags = ", ".join("--" + next((a for a, b in _RENAME.items() if b == k), k).replace("_", "-") for k in unused)
        raise SystemExit(f"profondo {args.command}: {flags} does not apply to {fn.__name__}")
    with blas_threads(args.threads or None):
        return fn(*positional, progress=not args.quiet, **options)


def _finish(args, result: dict) -> int:
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)
    return 0


def _guard(fn):
    def run(args) -> int:
        try:
            return fn(args)
        except DatasetNotFoundError as e:
            print(f"profondo {args.command}: {e}", file=sys.stderr)
            return 2

    return run


@_guard
def cmd_lm(args) -> int:
    from .tasks import language_model_task

    return _finish(args, _call(language_model_task, args, args.data_dir))


@_guard
def cmd_sentiment(args) -> int:
    from .tasks import sentiment_task

    return _finish(args, _call(sentiment_task, args, args.data_dir))


@_guard
def cmd_seq2seq(args) -> int:
    from .tasks import dates_task, translation_task

    if args.task == "dates":
        return _finish(args, _call(dates_task, args))
    return _finish(args, _call(translation_task, args, args.data_dir))


def add_nlp_parser(subparsers) -> None:
    """Register ``lm``, ``sentiment`` and ``seq2seq`` on an argparse sub-parser collection."""
    p = subparsers.add_parser("lm", help="character-level language model of Shakespeare, then a sample")
    _common(p)
    p.add_argument("--steps", type=int, help="truncated-BPTT updates (default 2000; 0 to only evaluate --load)")
    p.add_argument("--seq-len", type=int, help="steps per BPTT chunk (default 64)")
    p.add_argument("--layers", dest="num_layers", type=int, help="recurrent layers (default 1)")
    p.add_argument("--eval-every", type=int, help="updates between validations (default 500)")
    p.add_argument("--lr-decay", type=float, help="learning-rate factor after each validation (default 1)")
    p.add_argument("--val-chars", type=int, help="validate on the first N held-out characters only")
    p.add_argument("--temperature", type=float, help="sampling temperature (default 0.8)")
    p.add_argument("--sample-length", type=int, help="characters to generate (default 500)")
    p.add_argument("--prime", help="text the sample starts from (default a newline)")
    p.add_argument("--load", help="start from a checkpoint written by --save")
    p.set_defaults(run=cmd_lm)

    p = subparsers.add_parser("sentiment", help="IMDB movie-review sentiment with a recurrent classifier")
    _common(p)
    p.add_argument("--epochs", type=int, help="passes over the training reviews (default 3)")
    p.add_argument("--max-len", type=int, help="tokens kept per review (default 400)")
    p.add_argument("--vocab-size", type=int, help="most frequent words kept (default 20000)")
    p.add_argument("--min-freq", type=int, help="minimum count of a kept word (default 2)")
    p.add_argument("--test-size", type=int, help="held-out reviews (default 5000)")
    p.add_argument("--train-limit", type=int, help="train on the first N training reviews only")
    p.set_defaults(run=cmd_sentiment)

    p = subparsers.add_parser("seq2seq", help="encoder-decoder with attention: dates to ISO form, or word translation")
    p.add_argument("task", choices=("dates", "words"), help="dates: written dates -> ISO 8601; words: FreeDict "
                                                             "English -> French")
    _common(p)
    p.add_argument("--epochs", type=int)
    p.add_argument("--attention", choices=("general", "dot", "none"))
    p.add_argument("--beam", type=int, help="beam width reported besides greedy decoding")
    p.add_argument("--n-train", type=int, help="dates: training pairs (default 20000)")
    p.add_argument("--n-test", type=int, help="dates: held-out pairs (default 2000)")
    p.add_argument("--dictionary", help="words: FreeDict pair such as eng-fra (default), eng-deu")
    p.add_argument("--test-fraction", type=float, help="words: share of the word list held out (default 0.1)")
    p.set_defaults(run=cmd_seq2seq)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="profondo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_nlp_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
