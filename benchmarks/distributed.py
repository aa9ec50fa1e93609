"""Data-parallel training steps: profondo over MPI against PyTorch DistributedDataParallel (gloo),
2 processes x 1 thread, and each framework in 1 process x 2 threads, in one run.

W2 (LeNet-5) and W3 (the CIFAR-10 ConvNet) of training_steps.py, with the same global batch of
64 in every configuration (32 per process with 2 processes), SGD momentum, random data. Per
configuration and workload:

- steps/s of the whole step (forward, loss, backward, gradient all-reduce, update);
- steps/s of the same step with communication off (profondo: no all-reduce hook; PyTorch:
  ``ddp.no_sync()``), both processes computing, so the machine is as loaded as with it;
- the all-reduce time per step: every gradient bucket all-reduced alone, blocking, between steps;
- exposed communication per step = 1/(steps/s) - 1/(steps/s without communication), and the
  fraction of the all-reduce hidden behind backward = 1 - exposed / all-reduce time (clamped to
  [0, 1]). profondo also reports the time its step waited for the all-reduce after backward,
  a direct measure of the exposed part.

The configurations alternate, repeat after repeat, each in fresh processes; the table gives
medians. On a shared 2-core machine the figures are noisy: read the spread in the JSON.

    python benchmarks/distributed.py --repeats 5          # needs mpi4py, mpiexec and torch
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

GLOBAL_BATCH = 64
STEPS = {"W2": 60, "W3": 24}  # per measurement (a fixed count: every rank must take the same steps)
CONFIGS = {  # name: (framework, processes, threads per process, bucket cap in MiB)
    "profondo 1x2": ("profondo", 1, 2, None),
    "profondo 2x1": ("profondo", 2, 1, 1.0),
    "profondo 2x1 64K": ("profondo", 2, 1, 0.0625),
    "pytorch 1x2": ("torch", 1, 2, None),
    "pytorch DDP 2x1": ("torch", 2, 1, 25.0),
}


# --- one process of one configuration -----------------------------------------------------------
def _data(shape, classes, batch, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, *shape), dtype=np.float32), rng.integers(0, classes, batch)


def _time(step, steps: int, barrier) -> float:
    step()
    barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    barrier()
    return steps / (time.perf_counter() - start)


def run_profondo(key: str, threads: int, cap: float | None) -> dict:
    from training_steps import WORKLOADS

    import profondo
    from profondo import functional as F
    from profondo import nn, optim
    from profondo.backend import blas_threads, keep_freed_memory
    from profondo.distributed import GradientAllReduce, broadcast_parameters, get_world
    from profondo.train import TrainStep

    keep_freed_memory()
    world = get_world()
    _, build, shape, classes, _ = WORKLOADS[key]
    profondo.manual_seed(0)
    model = build(nn)
    broadcast_parameters(model, world)
    x, y = _data(shape, classes, GLOBAL_BATCH // world.size, world.rank)
    x, y = profondo.tensor(x), profondo.tensor(y)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    out = {}
    with blas_threads(threads):
        local = TrainStep(model, opt, F.cross_entropy)
        if world.size == 1:
            out["steps_per_s"] = _time(lambda: local(x, target=y), STEPS[key], world.barrier)
            return out
        reducer = GradientAllReduce(model.parameters(), world, bucket_cap_mb=cap)
        step = TrainStep(model, opt, F.cross_entropy, gradient_hooks=[reducer])
        out["steps_per_s"] = _time(lambda: step(x, target=y), STEPS[key], world.barrier)
        out["wait_ms"] = 1000 * reducer.wait_seconds / reducer.steps
        reducer.remove()  # the engine hooks off: the step without communication
        out["local_steps_per_s"] = _time(lambda: local(x, target=y), STEPS[key], world.barrier)
        out["allreduce_ms"] = 1000 / _time(lambda: [world.allreduce_(b.buffer) for b in reducer.buckets],
                                           STEPS[key], world.barrier)
        out["buckets"], out["gradient_bytes"] = len(reducer.buckets), reducer.gradient_bytes
    return out


def run_torch(key: str, threads: int, cap: float | None) -> dict:
    import torch
    import torch.distributed as dist
    from training_steps import WORKLOADS

    torch.set_num_threads(threads)
    size = int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
    _, build, shape, classes, _ = WORKLOADS[key]
    torch.manual_seed(0)
    model = build(torch.nn)
    x, y = _data(shape, classes, GLOBAL_BATCH // size, rank)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    out = {}

    def make_step(net, opt):
        def step():
            loss = torch.nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    if size == 1:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        out["steps_per_s"] = _time(make_step(model, opt), STEPS[key], lambda: None)
        return out
    if not dist.is_initialized():
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{os.environ['BENCH_PORT']}",
                                rank=rank, world_size=size)
    ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=cap)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    step = make_step(ddp, opt)
    out["steps_per_s"] = _time(step, STEPS[key], dist.barrier)
    with ddp.no_sync():
        out["local_steps_per_s"] = _time(step, STEPS[key], dist.barrier)
    flat = torch.zeros(sum(p.numel() for p in model.parameters()))
    out["allreduce_ms"] = 1000 / _time(lambda: dist.all_reduce(flat), STEPS[key], dist.barrier)
    out["gradient_bytes"] = flat.numel() * 4
    return out


def worker(args) -> None:
    run = run_profondo if args.framework == "profondo" else run_torch
    results = {key: run(key, args.threads, args.cap) for key in args.rows.split(",")}
    if int(os.environ.get("OMPI_COMM_WORLD_RANK", "0")) == 0:
        print("RESULT " + json.dumps(results), flush=True)


# --- the driver -----------------------------------------------------------------------------------
def launch(name: str, rows: str, port: int) -> dict:
    from profondo.distributed import mpiexec_command

    framework, procs, threads, cap = CONFIGS[name]
    command = [sys.executable, __file__, "--worker", "--framework", framework, "--threads", str(threads),
               "--rows", rows] + (["--cap", str(cap)] if cap is not None else [])
    env = {**os.environ, "BENCH_PORT": str(port), "PYTHONPATH": str(ROOT / "src"),
           "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if procs > 1:
        command, mpi_env = mpiexec_command(procs, command)
        env = {**mpi_env, **env}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def summarise(samples: list[dict]) -> dict:
    row = {}
    for field in samples[0]:
        values = [s[field] for s in samples]
        row[field] = statistics.median(values)
        row[field + "_all"] = values
    if "local_steps_per_s" in row:
        exposed = [1000 / s["steps_per_s"] - 1000 / s["local_steps_per_s"] for s in samples]
        hidden = [min(max(1 - e / s["allreduce_ms"], 0.0), 1.0) for e, s in zip(exposed, samples)]
        row["exposed_ms"], row["hidden"], row["hidden_all"] = statistics.median(exposed), statistics.median(hidden), hidden
        if "wait_ms" in row:
            direct = [min(max(1 - s["wait_ms"] / s["allreduce_ms"], 0.0), 1.0) for s in samples]
            row["hidden_by_wait"], row["hidden_by_wait_all"] = statistics.median(direct), direct
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="W2,W3")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--json", default=str(ROOT / "benchmarks/results/distributed.json"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--framework", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--cap", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import platform

    import torch

    names = args.configs.split(",")
    samples: dict[str, list[dict]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        for i, name in enumerate(names):
            samples[name].append(launch(name, args.rows, 29500 + 10 * repeat + i))
        print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    rows = []
    for key in args.rows.split(","):
        for name in names:
            row = {"row": key, "config": name, **summarise([s[key] for s in samples[name]])}
            rows.append(row)
    print_table(rows)
    report = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
              "global_batch": GLOBAL_BATCH, "steps_per_measurement": STEPS, "repeats": args.repeats,
              "configs": {n: CONFIGS[n] for n in names}, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"\n(medians of {args.repeats} alternating repeats, global batch {GLOBAL_BATCH}; JSON: {args.json})")


def _cell(row: dict, field: str, fmt: str, width: int) -> str:
    return format(row[field], fmt).rjust(width) if field in row else "-".rjust(width)


def print_table(rows: list[dict]) -> None:
    print(f"{'row':<4} {'configuration':<18} {'steps/s':>8} {'no comm':>8} {'allreduce':>11} {'exposed':>9} "
          f"{'hidden':>7} {'hidden(wait)':>12}")
    for r in rows:
        print(f"{r['row']:<4} {r['config']:<18} {_cell(r, 'steps_per_s', '.1f', 8)} "
              f"{_cell(r, 'local_steps_per_s', '.1f', 8)} {_cell(r, 'allreduce_ms', '.3f', 8)} ms "
              f"{_cell(r, 'exposed_ms', '.2f', 6)} ms {_cell(r, 'hidden', '.0%', 7)} {_cell(r, 'hidden_by_wait', '.0%', 12)}")


if __name__ == "__main__":
    main()
