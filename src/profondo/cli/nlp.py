"""``profondo lm``, ``sentiment`` and ``seq2seq``: the language tasks of profondo.nlp.

    profondo lm --data-dir ~/Downloads --steps 2000           # Shakespeare, then a sample
    profondo sentiment --epochs 3                             # IMDB reviews
    profondo seq2seq dates                                    # dates to ISO 8601
    profondo seq2seq words                                    # English -> French words (FreeDict)

Each command calls a task function of ``profondo.nlp.tasks``; an option left out takes that
function's default, which ``--help`` shows.
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable
from pathlib import Path

from .common import (
    CommandError,
    HelpFormatter,
    add_compute_flags,
    add_flag,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_run_folder,
    probability,
)

_RENAME = {"hidden": "hidden_size", "embedding": "embedding_dim", "layers": "num_layers"}
_NOT_TASK_OPTIONS = {"command", "run", "compute", "json", "quiet", "data_dir", "task", "threads", "interrupted",
                     "debug", "out", "overwrite", "run_dir"}


def _defaults(fns: dict[str, Callable], name: str) -> str:
    """The default of parameter ``name`` in each task function that has it, for ``--help``."""
    found = {}
    for label, fn in fns.items():
        parameter = inspect.signature(fn).parameters.get(_RENAME.get(name, name))
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            found[label] = parameter.default
    values = set(map(repr, found.values()))
    if not found:
        return ""
    if len(values) == 1:
        return f"default: {next(iter(found.values()))!r}"
    return "default: " + ", ".join(f"{label} {value!r}" for label, value in found.items())


def _option(p: argparse.ArgumentParser, fns: dict[str, Callable], flag: str, text: str, **kwargs) -> None:
    """An option of the task functions: None unless given, so the function's default applies."""
    name = kwargs.pop("dest", flag.lstrip("-").replace("-", "_"))
    shown = _defaults(fns, name)
    p.add_argument(flag, dest=name, default=None, help=f"{text} ({shown})" if shown else text, **kwargs)


def _task_flags(p: argparse.ArgumentParser, fns: dict[str, Callable], data: bool = True) -> None:
    """The options every language command shares."""
    if data:
        add_flag(p, "data_dir")
    _option(p, fns, "--cell", "recurrent cell", choices=("lstm", "gru", "rnn"))
    _option(p, fns, "--hidden", "hidden units per recurrent layer", type=positive_int)
    _option(p, fns, "--embedding", "embedding size", type=positive_int)
    _option(p, fns, "--lr", "Adam learning rate", type=positive_float)
    _option(p, fns, "--batch-size", "samples per update", type=positive_int)
    _option(p, fns, "--dropout", "dropout rate", type=probability)
    _option(p, fns, "--seed", "seeds the weights, the shuffling and the sampling", type=non_negative_int)
    add_compute_flags(p)
    add_flag(p, "save", help="write the checkpoint (weights, configuration, vocabularies) to FILE (default: "
                             "OUT/model.ckpt)")
    add_flag(p, "json", help="write the results as JSON to FILE (default: OUT/metrics.json)")
    add_flag(p, "out", help="run folder for what --save and --json do not name (default: runs/COMMAND)")
    add_flag(p, "overwrite")
    add_flag(p, "quiet")


def _outputs(args: argparse.Namespace, name: str) -> None:
    """The checkpoint and results go to the run folder unless --save/--json name files; a folder
    that holds a run is refused (before any work) unless --overwrite."""
    out = Path(args.out or f"runs/{name}")
    defaults = []
    if args.save is None:
        args.save = str(out / "model.ckpt")
        defaults.append("model.ckpt")
    if args.json is None:
        args.json = str(out / "metrics.json")
        defaults.append("metrics.json")
    for flag, path in (("--save", args.save), ("--json", args.json)):
        if Path(path).is_dir():
            raise CommandError(f"{flag} {path} is a folder: expected a file name")
    prepare_run_folder(out, False, args.overwrite, defaults)


def _call(fn: Callable, args: argparse.Namespace, *positional) -> dict:
    """Run a task function with every option given, under the function's argument names."""
    _outputs(args, args.command + (f"-{args.task}" if getattr(args, "task", None) else ""))
    options = {_RENAME.get(k, k): v for k, v in vars(args).items() if k not in _NOT_TASK_OPTIONS and v is not None}
    accepted = inspect.signature(fn).parameters
    unused = [k for k in options if k not in accepted]
    if unused:
        flags = ", ".join("--" + next((a for a, b in _RENAME.items() if b == k), k).replace("_", "-") for k in unused)
        raise CommandError(f"{flags} does not apply to {fn.__name__}")
    return fn(*positional, progress=not args.quiet, **options)


def _nothing_saved(args: argparse.Namespace) -> str:
    """Ctrl-C's message: these tasks keep no checkpoint while they train."""
    return (f"nothing was saved ({args.command} writes --save and --json only when it finishes, and cannot "
            "resume; run it again)")


def _finish(args: argparse.Namespace, result: dict) -> int:
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)
        print(f"results in {args.json}" + (f", checkpoint in {args.save}" if args.save else ""))
    return 0


def cmd_lm(args: argparse.Namespace) -> int:
    from ..nlp.tasks import language_model_task

    return _finish(args, _call(language_model_task, args, args.data_dir))


def cmd_sentiment(args: argparse.Namespace) -> int:
    from ..nlp.tasks import sentiment_task

    return _finish(args, _call(sentiment_task, args, args.data_dir))


def cmd_seq2seq(args: argparse.Namespace) -> int:
    from ..nlp.tasks import dates_task, translation_task

    if args.task == "dates":
        return _finish(args, _call(dates_task, args))
    return _finish(args, _call(translation_task, args, args.data_dir))


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``lm``, ``sentiment`` and ``seq2seq``."""
    from ..nlp.tasks import dates_task, language_model_task, sentiment_task, translation_task

    fns = {"lm": language_model_task}
    p = sub.add_parser("lm", formatter_class=HelpFormatter,
                       help="character-level language model of Shakespeare, then a sample")
    _task_flags(p, fns)
    _option(p, fns, "--steps", "truncated-BPTT updates (0 to only evaluate --load)", type=non_negative_int)
    _option(p, fns, "--seq-len", "steps per BPTT chunk", type=positive_int)
    _option(p, fns, "--layers", "recurrent layers", type=positive_int)
    _option(p, fns, "--eval-every", "updates between validations", type=positive_int)
    _option(p, fns, "--lr-decay", "learning-rate factor after each validation", type=positive_float)
    _option(p, fns, "--val-chars", "validate on the first N held-out characters only (None: all)", type=positive_int)
    _option(p, fns, "--temperature", "sampling temperature", type=positive_float)
    _option(p, fns, "--sample-length", "characters to generate", type=non_negative_int)
    _option(p, fns, "--prime", "text the sample starts from")
    _option(p, fns, "--load", "start from a checkpoint written by --save")
    p.set_defaults(run=cmd_lm, interrupted=_nothing_saved)

    fns = {"sentiment": sentiment_task}
    p = sub.add_parser("sentiment", formatter_class=HelpFormatter,
                       help="IMDB movie-review sentiment with a recurrent classifier")
    _task_flags(p, fns)
    _option(p, fns, "--epochs", "passes over the training reviews", type=positive_int)
    _option(p, fns, "--max-len", "tokens kept per review", type=positive_int)
    _option(p, fns, "--vocab-size", "most frequent words kept", type=positive_int)
    _option(p, fns, "--min-freq", "minimum count of a kept word", type=positive_int)
    _option(p, fns, "--test-size", "held-out reviews", type=positive_int)
    _option(p, fns, "--train-limit", "train on the first N training reviews only (None: all)", type=positive_int)
    p.set_defaults(run=cmd_sentiment, interrupted=_nothing_saved)

    fns = {"dates": dates_task, "words": translation_task}
    p = sub.add_parser("seq2seq", formatter_class=HelpFormatter,
                       help="encoder-decoder with attention: dates to ISO form, or word translation")
    p.add_argument("task", choices=("dates", "words"), help="dates: written dates -> ISO 8601; words: FreeDict "
                                                             "English -> French")
    _task_flags(p, fns)
    _option(p, fns, "--epochs", "passes over the training pairs", type=positive_int)
    _option(p, fns, "--attention", "attention score", choices=("general", "dot", "none"))
    _option(p, fns, "--beam", "beam width reported besides greedy decoding", type=positive_int)
    _option(p, {"dates": dates_task}, "--n-train", "dates: training pairs", type=positive_int)
    _option(p, {"dates": dates_task}, "--n-test", "dates: held-out pairs", type=positive_int)
    _option(p, {"words": translation_task}, "--dictionary", "words: FreeDict pair such as eng-fra or eng-deu")
    _option(p, {"words": translation_task}, "--test-fraction", "words: share of the word list held out", type=probability)
    p.set_defaults(run=cmd_seq2seq, interrupted=_nothing_saved)
