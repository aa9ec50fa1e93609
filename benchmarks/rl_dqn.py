"""DQN on CartPole-v1: profondo's agent beside Stable-Baselines3's, and profondo's ablations.

Both frameworks train for the same number of environment steps from the same seeds, one BLAS
thread each, and are measured by the same code (:func:`profondo.rl.evaluate`):

- every ``--eval-every`` steps the greedy policy plays ``--eval-episodes`` episodes (the same
  seeded episodes each time); "steps to 475" is the first evaluation whose mean reaches 475;
- after training the **final** weights (no selection) play 100 fresh episodes;
- wall time (and the process's CPU time, which a busy machine inflates less) is that of training
  alone (the periodic evaluations are timed and taken out).

SB3 runs with the rl-baselines3-zoo hyper-parameters for DQN on CartPole-v1 (``hyperparams/dqn.yml``):
lr 2.3e-3, batch 64, buffer 100k, learning_starts 1000, gamma 0.99, target_update_interval 10,
train_freq 256, gradient_steps 128, exploration_fraction 0.16, exploration_final_eps 0.04,
net_arch [256, 256], 5e4 steps. profondo runs ``profondo rl dqn``'s defaults, or a named variant
(``--variant``, the ablations; ``sb3-zoo`` is profondo with SB3's settings).

    PYTHONPATH=src python benchmarks/rl_dqn.py --framework both --seeds 0 1 2 --json benchmarks/results/rl_dqn.json
    PYTHONPATH=src python benchmarks/rl_dqn.py --framework profondo --variant no-double --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

EVAL_SEED_OFFSET, FINAL_SEED_OFFSET = 1_000_000, 2_000_000  # those of DQN.fit and `profondo rl dqn`
SOLVED = 475.0

# profondo variants: overrides of `profondo rl dqn`'s options
VARIANTS: dict[str, dict] = {
    "default": {},
    "no-double": {"double": False},
    "mse": {"huber_delta": 1e6},  # the Huber loss never turns linear: 0.5 * squared error
    "polyak": {"target_update": 1, "tau": 0.005},
    "lr-decay": {"lr_end": 0.0},
    "no-lr-decay": {"lr_end": None},
    "no-clip": {"max_grad_norm": None},
    "hard-500": {"target_update": 500, "tau": 1.0},
    "train-every-2": {"train_every": 2},
    "train-every-4": {"train_every": 4},
    "lr-decay-polyak": {"lr_end": 0.0, "target_update": 1, "tau": 0.005},
    "lr-decay-no-double": {"lr_end": 0.0, "double": False},
    "lr-decay-mse": {"lr_end": 0.0, "huber_delta": 1e6},
    "lr-decay-eps-0.01": {"lr_end": 0.0, "epsilon_end": 0.01},
    "sb3-zoo": {"lr": 2.3e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1000, "gamma": 0.99,
                "train_every": 256, "gradient_steps": 128, "target_update": 10, "tau": 1.0, "double": False, "huber_delta": 1.0, "max_grad_norm": 10.0,
                "epsilon_start": 1.0, "epsilon_end": 0.04, "epsilon_decay": 8000, "lr_end": None, "lr_hold": 0.0, "n_step": 1,
                "network": {"name": "sb3-mlp", "input": [4], "layers": [{"dense": {"units": 256, "activation": "relu"}},
                                                                         {"dense": {"units": 256, "activation": "relu"}},
                                                                         {"dense": {"units": 2}}]}},
}
# The sweep that chose the defaults' lr_hold=0.5 with Double DQN (then the defaults): lr held at 2.3e-3 for a
# fraction of the run, then decayed to 0, without Double DQN (lr-hold-0.0: the defaults before).
for hold in (0.0, 0.3, 0.5, 0.7):
    VARIANTS[f"lr-hold-{hold}"] = {"lr_hold": hold, "double": False}
VARIANTS["lr-hold-0.5-gradient-steps-64"] = {"lr_hold": 0.5, "double": False, "gradient_steps": 64}
# Updates spread thinner: the same half an update per environment step, in shorter bursts.
for every in (16, 64, 128):
    VARIANTS[f"train-every-{every}-gradient-steps-{every // 2}"] = {"train_every": every, "gradient_steps": every // 2}
VARIANTS["train-every-64-gradient-steps-32-target-256"] = {"train_every": 64, "gradient_steps": 32, "target_update": 256}
VARIANTS["train-every-64-gradient-steps-32-lr-hold-0.3"] = {"train_every": 64, "gradient_steps": 32, "lr_hold": 0.3}
VARIANTS["lr-4e-3"] = {"lr": 4e-3}
for n in (2, 3, 5):
    VARIANTS[f"n-step-{n}"] = {"n_step": n}
VARIANTS["n-step-2-lr-4e-3"] = {"n_step": 2, "lr": 4e-3}
VARIANTS["n-step-2-no-double"] = {"n_step": 2, "double": False}
VARIANTS["n-step-2-no-double-lr-4e-3"] = {"n_step": 2, "double": False, "lr": 4e-3}
VARIANTS["n-step-3-no-double"] = {"n_step": 3, "double": False}
VARIANTS["zoo-double"] = {**VARIANTS["sb3-zoo"], "double": True}
VARIANTS["zoo-mse"] = {**VARIANTS["sb3-zoo"], "huber_delta": 1e6}
VARIANTS["zoo-lr-decay"] = {**VARIANTS["sb3-zoo"], "lr_end": 0.0}
VARIANTS["zoo-lr-decay-double"] = {**VARIANTS["sb3-zoo"], "lr_end": 0.0, "double": True}
VARIANTS["zoo-lr-decay-polyak"] = {**VARIANTS["sb3-zoo"], "lr_end": 0.0, "target_update": 1, "tau": 0.05}
# Every ablation above was measured against the defaults before 2-step returns without Double DQN
# (the n-step sweep chose those): each pins the two settings it ran with, so that it still runs as it
# ran; "1-step-double" is those earlier defaults.
EARLIER_DEFAULTS = {"n_step": 1, "double": True}
VARIANTS = {name: v if name == "default" else {**EARLIER_DEFAULTS, **v} for name, v in VARIANTS.items()}
VARIANTS["1-step-double"] = dict(EARLIER_DEFAULTS)


def _timed(fn, clock: list[float]):
    """``fn`` adding its wall and CPU seconds to ``clock[0]`` and ``clock[1]``."""
    def wrapped(*args, **kwargs):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            clock[0] += time.perf_counter() - start
            clock[1] += time.process_time() - cpu
    return wrapped


def run_profondo(seed: int, steps: int, eval_every: int, eval_episodes: int, variant: str) -> dict:
    import profondo.rl.dqn as dqn_module
    from profondo.cli.rl import _dqn_setup, dqn_defaults
    from profondo.rl.env import evaluate

    o = {**dqn_defaults(), **VARIANTS[variant], "steps": steps}
    env, eval_env, agent = _dqn_setup("CartPole-v1", {}, o, seed)
    clock = [0.0, 0.0]
    dqn_module.evaluate = _timed(evaluate, clock)  # the periodic evaluations' time, taken out below
    try:
        start, cpu = time.perf_counter(), time.process_time()
        history = agent.fit(env, steps, seed=seed, eval_env=eval_env, eval_every=eval_every,
                            eval_episodes=eval_episodes)
        seconds, cpu = time.perf_counter() - start - clock[0], time.process_time() - cpu - clock[1]
    finally:
        dqn_module.evaluate = evaluate
    final = evaluate(eval_env, agent.greedy, 100, seed=seed + FINAL_SEED_OFFSET)
    return _row("profondo", variant, seed, seconds, [(s, m) for s, m, _ in history.evaluations], final,
                updates=agent.updates, train_cpu_seconds=round(cpu, 1), overrides=VARIANTS[variant])


def run_sb3(seed: int, steps: int, eval_every: int, eval_episodes: int) -> dict:
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    from profondo.rl.env import evaluate

    torch.set_num_threads(1)
    eval_env = gym.make("CartPole-v1")
    model = DQN("MlpPolicy", gym.make("CartPole-v1"), learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
                learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
                exploration_fraction=0.16, exploration_final_eps=0.04, policy_kwargs={"net_arch": [256, 256]},
                seed=seed, device="cpu", verbose=0)

    def greedy(obs) -> int:
        return int(model.predict(obs, deterministic=True)[0])

    evaluations, clock = [], [0.0, 0.0]

    class Evaluate(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every == 0:
                returns = _timed(evaluate, clock)(eval_env, greedy, eval_episodes, seed=seed + EVAL_SEED_OFFSET)
                evaluations.append((self.num_timesteps, float(returns.mean())))
            return True

    start, cpu = time.perf_counter(), time.process_time()
    model.learn(steps, callback=Evaluate())
    seconds, cpu = time.perf_counter() - start - clock[0], time.process_time() - cpu - clock[1]
    final = evaluate(eval_env, greedy, 100, seed=seed + FINAL_SEED_OFFSET)
    return _row("stable-baselines3", "rl-zoo", seed, seconds, evaluations, final, updates=model._n_updates,
                train_cpu_seconds=round(cpu, 1))


def _row(framework: str, variant: str, seed: int, seconds: float, evaluations, final: np.ndarray, **extra) -> dict:
    reached = next((int(s) for s, m in evaluations if m >= SOLVED), None)
    return {"framework": framework, "variant": variant, "seed": seed, "train_seconds": round(seconds, 1),
            "steps_to_475": reached, "final_mean_return": float(final.mean()), "final_std_return": float(final.std()),
            "final_min_return": float(final.min()), "evaluations": [[int(s), float(m)] for s, m in evaluations],
            **extra}


def plot(report: dict, path: str) -> None:
    """The periodic greedy evaluations of every run, one colour per framework/variant."""
    from profondo.train.plots import figure, save

    fig = figure((8, 4.5))
    ax = fig.subplots()
    colours = {}
    for run in report["runs"]:
        key = f"{run['framework']} ({run['variant']})"
        first = key not in colours
        colour = colours.setdefault(key, f"C{len(colours)}")
        ev = np.asarray(run["evaluations"], dtype=float)
        ax.plot(ev[:, 0], ev[:, 1], "-", color=colour, alpha=0.8, lw=1.2, label=key if first else None)
        ax.plot(ev[-1, 0], run["final_mean_return"], "o", color=colour, ms=5)
    ax.axhline(SOLVED, color="gray", ls="--", lw=1, label="475")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"greedy return (mean of {report['protocol']['eval_episodes']} episodes)")
    ax.set_title("DQN on CartPole-v1: periodic evaluations; dots: final weights over 100 episodes")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    save(fig, path)


def plot_checkpoint(checkpoint: str, path: str, levels: list[str]) -> None:
    """The learning curve of a ``profondo rl dqn`` run from its checkpoint's history (a run cut short
    keeps its curve there), with labelled levels ``LABEL=VALUE``."""
    from profondo.io.checkpoint import read_checkpoint
    from profondo.rl.history import History, plot_learning_curve

    meta = read_checkpoint(checkpoint).meta
    lines = {label: float(value) for label, _, value in (item.rpartition("=") for item in levels)}
    plot_learning_curve(History.from_dict(meta["history"]), path, f"DQN on {meta['env']} (seed {meta['seed']}), "
                        f"{meta['steps']:,} steps", levels=lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--framework", choices=["profondo", "sb3", "both"], default="both")
    p.add_argument("--variant", default="default", choices=sorted(VARIANTS), help="profondo's settings")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=50_000)
    p.add_argument("--eval-every", type=int, default=2_500)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--json", help="append the rows to this JSON file (a list)")
    p.add_argument("--plot", nargs=2, metavar=("JSON", "PNG"), help="draw the runs of a results file and exit")
    p.add_argument("--curve", nargs=2, metavar=("CKPT", "PNG"), help="draw a run's learning curve from its checkpoint")
    p.add_argument("--level", action="append", default=[], metavar="LABEL=VALUE", help="a level on --curve")
    a = p.parse_args()
    if a.curve:
        plot_checkpoint(*a.curve, a.level)
        return
    if a.plot:
        plot(json.loads(Path(a.plot[0]).read_text()), a.plot[1])
        return

    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(1):
        for seed in a.seeds:
            if a.framework in ("profondo", "both"):
                rows.append(run_profondo(seed, a.steps, a.eval_every, a.eval_episodes, a.variant))
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "evaluations"}), flush=True)
            if a.framework in ("sb3", "both"):
                rows.append(run_sb3(seed, a.steps, a.eval_every, a.eval_episodes))
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "evaluations"}), flush=True)
    if a.json:
        path = Path(a.json)
        report = json.loads(path.read_text()) if path.exists() else {}  # its notes and earlier runs are kept
        path.parent.mkdir(parents=True, exist_ok=True)
        report.update({"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
                       "protocol": {"steps": a.steps, "eval_every": a.eval_every, "eval_episodes": a.eval_episodes,
                                    "final_episodes": 100, "threads": 1}, "runs": report.get("runs", []) + rows})
        path.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
