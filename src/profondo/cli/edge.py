"""``profondo export``, ``import`` and ``bench``: networks out to ONNX and frozen edge plans, and back.

    profondo export runs/lenet5-mnist/best.ckpt --onnx lenet5.onnx
    profondo export runs/lenet5-mnist/best.ckpt --edge lenet5.edge --int8 --calibrate mnist
    profondo export runs/lenet5-mnist/best.ckpt --onnx lenet5-int8.onnx --int8 --calibrate mnist
    profondo import model.onnx --out model.ckpt
    profondo bench --models lenet5,resnet-small --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from .common import (
    CommandError,
    HelpFormatter,
    add_compute_flags,
    add_flag,
    check_model_file,
    library_default,
    parse_shape,
    positive_int,
)

CALIBRATION_SIZE = 2000  # calibration images drawn from --calibrate
EVAL_BATCH = 500


def _calibration(args: argparse.Namespace, shape: tuple[int, ...]) -> np.ndarray:
    if args.calibrate is None:
        raise CommandError("--int8 needs calibration inputs: --calibrate DATASET (e.g. mnist) or --calibrate FILE.npy")
    if args.calibrate.endswith(".npy"):
        x = np.load(args.calibrate, allow_pickle=False).astype(np.float32)
    else:
        from ..data import load_dataset

        x = load_dataset(args.calibrate, "train", root=args.data_dir).x
    order = np.random.default_rng(0).permutation(len(x))[: args.calibration_size]
    x = np.asarray(x[np.sort(order)], np.float32)
    if x.shape[1:] != tuple(shape):
        raise CommandError(f"calibration inputs have shape {x.shape[1:]}, the network expects {tuple(shape)}")
    return x


def cmd_export(args: argparse.Namespace) -> int:
    if not (args.onnx or args.edge):
        raise CommandError("export: say what to write: --onnx FILE and/or --edge FILE")
    from ..io.model import load_model

    check_model_file(args.checkpoint)
    model, ckpt = load_model(args.checkpoint)
    model.eval()
    shape = parse_shape(args.input) if args.input else None
    if args.onnx:
        from ..io.onnx_export import export_onnx, integer_kernels, quantize_onnx

        proto = export_onnx(model, None if args.int8 else args.onnx, shape, opset=args.opset)
        if args.int8:  # QDQ int8, which onnxruntime fuses into its integer kernels
            spec_shape = shape or model.spec.input
            proto = quantize_onnx(proto, _calibration(args, spec_shape), args.onnx)
            fused = {k: v for k, v in integer_kernels(proto).items() if k.startswith("QLinear") or k == "QGemm"}
            kernels = ", ".join(f"{k} x{v}" for k, v in sorted(fused.items())) or "none"
        print(f"wrote {args.onnx}: ONNX opset {args.opset}, {len(proto.graph.node)} nodes, "
              f"{os.path.getsize(args.onnx):,} bytes" + (f", int8 QDQ (onnxruntime's integer kernels: {kernels})"
                                                         if args.int8 else " (checked with onnx.checker)"))
        if args.evaluate:
            _evaluate_onnx(args, model, proto)
    if args.edge:
        from ..edge import freeze, quantize

        edge = freeze(model, shape)
        if args.int8:
            edge = quantize(edge, _calibration(args, edge.input_shape))
        extra = ckpt.meta.get("extra", {})  # eval and predict read the data set and class names of a plan
        edge.plan["extra"] = {k: extra[k] for k in ("data", "classes") if extra.get(k) is not None}
        size = edge.save(args.edge)
        print(f"wrote {args.edge}: {edge.precision} plan of {len(edge.plan['steps'])} steps, {size:,} bytes")
        if args.evaluate:
            _evaluate(args, model, edge)
    return 0


def _evaluate(args: argparse.Namespace, model, edge) -> None:
    """Test accuracy of the network (autograd engine, eval mode) and of the written plan."""
    from ..autograd import no_grad
    from ..data import load_dataset
    from ..tensor import Tensor

    test = load_dataset(args.evaluate, "test", root=args.data_dir)
    eager, planned = [], []
    with no_grad():
        for start in range(0, len(test.x), EVAL_BATCH):
            x = np.asarray(test.x[start:start + EVAL_BATCH], np.float32)
            eager.append(model(Tensor(x)).numpy().argmax(1))
            planned.append(edge(x).argmax(1))
    a = float((np.concatenate(eager) == test.y).mean())
    b = float((np.concatenate(planned) == test.y).mean())
    print(f"{args.evaluate} test accuracy on {len(test.y)} images: network {a:.2%}, {edge.precision} plan {b:.2%} "
          f"({(b - a) * 100:+.2f} points)")


def _evaluate_onnx(args: argparse.Namespace, model, proto) -> None:
    """Test accuracy of the network and of the written ONNX model run by onnxruntime."""
    import onnxruntime as ort

    from ..autograd import no_grad
    from ..data import load_dataset
    from ..tensor import Tensor

    test = load_dataset(args.evaluate, "test", root=args.data_dir)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    eager, ran = [], []
    with no_grad():
        for start in range(0, len(test.x), EVAL_BATCH):
            x = np.asarray(test.x[start:start + EVAL_BATCH], np.float32)
            eager.append(model(Tensor(x)).numpy().argmax(1))
            ran.append(session.run(None, {"input": x})[0].argmax(1))
    a, b = (float((np.concatenate(p) == test.y).mean()) for p in (eager, ran))
    kind = "int8 ONNX" if args.int8 else "ONNX"
    print(f"{args.evaluate} test accuracy on {len(test.y)} images: network {a:.2%}, {kind} (onnxruntime) {b:.2%} "
          f"({(b - a) * 100:+.2f} points)")


def cmd_import(args: argparse.Namespace) -> int:
    from ..io.model import architecture_of
    from ..io.onnx_import import import_onnx
    from ..train.state import save_training_state

    classes = [c.strip() for c in args.class_names.split(",")] if args.class_names else None
    if not os.path.isfile(args.file):
        raise CommandError(f"{args.file} is {'a folder' if os.path.isdir(args.file) else 'not there'}: expected an "
                           "ONNX model file")
    model = import_onnx(args.file)  # a file that is not a model: OnnxImportError, naming it
    extra = {"source": os.path.abspath(args.file), "data": args.data, "classes": classes}
    if architecture_of(model) is None:  # no architecture-file form: keep the module configuration
        spec = getattr(model, "spec", None)
        extra["module"] = {"class_name": type(model).__name__, "config": model.get_config()}
        if spec is not None:
            extra["module"].update(name=spec.name, input=list(spec.input), output_activation=spec.output_activation)
    path = save_training_state(args.out, model, extra=extra)
    n = sum(p.numel() for p in model.parameters())
    form = "architecture file" if "module" not in extra else "module configuration (no architecture-file form)"
    print(f"imported {args.file}: {type(model).__name__} of {len(list(model.children()))} layers, {n:,} trainable "
          f"weights; wrote {path} with its {form}")
    return 0


def _pairs(items: list[str] | None) -> dict[str, str]:
    pairs = {}
    for item in items or ():
        name, sep, path = item.partition("=")
        if not (sep and name and path):
            raise CommandError(f"--checkpoint expected NAME=CKPT (e.g. lenet5=runs/lenet5-mnist/best.ckpt), "
                               f"received {item!r}")
        pairs[name] = path
    return pairs


def cmd_bench(args: argparse.Namespace) -> int:
    from ..edge.bench import DEFAULT_MODELS, ENGINES, format_table, run_benchmark

    models = args.models.split(",") if args.models else list(DEFAULT_MODELS)
    engines = args.engines.split(",") if args.engines else list(ENGINES)
    results = run_benchmark(models, _pairs(args.checkpoint), repeats=args.repeats, threads=args.engine_threads,
                            batch=args.batch, engines=engines, evaluate=args.evaluate, data_dir=args.data_dir)
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
        print(f"results in {args.json}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``export``, ``import`` and ``bench``."""
    from ..edge.bench import DEFAULT_MODELS, ENGINES, run_benchmark
    from ..io.onnx_export import DEFAULT_OPSET

    p = sub.add_parser("export", formatter_class=HelpFormatter,
                       help="write a checkpoint's network as ONNX and/or a frozen edge plan")
    p.add_argument("checkpoint", help="a .ckpt written by profondo train, finetune or import")
    p.add_argument("--onnx", metavar="FILE", help="ONNX file to write")
    p.add_argument("--opset", type=positive_int, default=DEFAULT_OPSET, help="ONNX opset")
    p.add_argument("--input", help="per-sample input shape, e.g. 3,32,32 (default: the checkpoint's)")
    p.add_argument("--edge", metavar="FILE", help="frozen NumPy-only plan to write (.edge)")
    p.add_argument("--int8", action="store_true", help="quantize to int8 (needs --calibrate): the edge plan, and the "
                   "ONNX file as QDQ (onnxruntime's integer kernels)")
    p.add_argument("--calibrate", metavar="DATA", help="calibration inputs: a dataset name (its training split) "
                   "or a .npy file")
    p.add_argument("--calibration-size", type=positive_int, default=CALIBRATION_SIZE, help="calibration inputs used")
    p.add_argument("--evaluate", metavar="DATA", help="report the test accuracy of the network and of what was "
                   "written (edge plan, ONNX model) on a dataset (e.g. mnist)")
    add_flag(p, "data_dir")
    add_compute_flags(p)
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("import", formatter_class=HelpFormatter,
                       help="turn an ONNX model into a trainable profondo checkpoint")
    p.add_argument("file", help="ONNX model file")
    p.add_argument("--out", required=True, metavar="CHECKPOINT", help="the checkpoint to write")
    add_flag(p, "data", help="the data set the model was trained on, recorded for eval and predict (e.g. mnist)")
    p.add_argument("--class-names", metavar="A,B,...", help="the class names in output order, recorded for predict")
    p.set_defaults(run=cmd_import)

    p = sub.add_parser("bench", formatter_class=HelpFormatter,
                       help="inference latency and throughput: frozen float32/int8 plans against PyTorch and "
                            "onnxruntime (float32 and int8 QDQ)")
    p.add_argument("--models", help=f"comma-separated zoo names (default: {','.join(DEFAULT_MODELS)})")
    p.add_argument("--checkpoint", action="append", metavar="NAME=CKPT",
                   help="trained weights for a model (repeatable; default: freshly initialised weights)")
    p.add_argument("--engines", help=f"comma-separated subset of {','.join(ENGINES)} (default: all)")
    p.add_argument("--repeats", type=positive_int, default=library_default(run_benchmark, "repeats"),
                   help="alternating rounds; the medians are reported")
    p.add_argument("--threads", dest="engine_threads", type=positive_int, default=library_default(run_benchmark, "threads"),
                   help="CPU threads of every engine")
    p.add_argument("--batch", type=positive_int, default=library_default(run_benchmark, "batch"),
                   help="batch size of the throughput measurement")
    p.add_argument("--evaluate", metavar="DATA", help="also every engine's test accuracy on a dataset (e.g. mnist) for "
                   "the models given a --checkpoint, their int8 engines calibrated on its training images")
    add_flag(p, "data_dir")
    add_flag(p, "json")
    p.set_defaults(run=cmd_bench, compute=True)
