"""``profondo rl``: ``q-learning ENV``, ``dqn ENV|FILE`` and ``eval CHECKPOINT`` on gymnasium environments.

``dqn`` takes an environment id or a run file (YAML) naming the environment and any option::

    env: CartPole-v1
    env_args: {}                  # keyword arguments of gymnasium.make
    network: my-qnet.yaml         # an architecture file (relative to the run file) or inline
    steps: 100000
    double: true

Options given on the command line override the file, which overrides the defaults. The
defaults of the agents' settings are those of the library (``DQNConfig``, ``EpsilonSchedule``,
``QLearning``, ``DQN.fit``, ``pixel_env``); ``--help`` shows them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..backend import blas_threads
from .common import (
    DEFAULT_SEED,
    DEFAULT_THREADS,
    CommandError,
    HelpFormatter,
    add_flag,
    library_default,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    resume_hint,
    unit_interval,
    with_default,
)

NETWORKS = Path(__file__).resolve().parent.parent / "rl" / "networks"  # packaged Q-networks
FINAL_SEED_OFFSET = 2_000_000  # final evaluations play episodes that training never saw

# The recipes of the commands (the README's FrozenLake, Taxi and CartPole results): run lengths
# and evaluation sizes, which the library leaves to its caller. Q-learning explores down to
# 0.01, below the library's 0.05, over half of the episodes.
Q_RECIPE = {"episodes": 20_000, "epsilon_end": 0.01, "epsilon_decay": None, "eval_episodes": 1000}
DQN_RECIPE = {"steps": 50_000, "network": None, "eval_every": 2_500, "eval_episodes": 10, "final_episodes": 100,
              "pixels": False, "frames": True, "threads": DEFAULT_THREADS}


def _epsilon_defaults(schedule) -> dict:
    return {"epsilon_start": schedule.start, "epsilon_end": schedule.end, "epsilon_decay": schedule.decay,
            "epsilon_schedule": schedule.kind}


def q_defaults() -> dict:
    """Every option of ``q-learning`` with its default: the library's, then the recipe's."""
    from ..rl.schedule import EpsilonSchedule
    from ..rl.tabular import QLearning

    library = {name: library_default(QLearning, name) for name in ("lr", "lr_end", "gamma")}
    return {**library, **_epsilon_defaults(EpsilonSchedule()), **Q_RECIPE}


def dqn_config_options() -> list[str]:
    """The ``DQNConfig`` fields that are options of ``dqn`` as they are (epsilon is four options)."""
    from ..rl.dqn import DQNConfig

    return [f.name for f in dataclasses.fields(DQNConfig) if f.name != "epsilon"]


def dqn_defaults() -> dict:
    """Every option of ``dqn`` (and of a run file) with its default: ``DQNConfig``'s, ``DQN.fit``'s,
    ``pixel_env``'s, then the recipe's."""
    from ..rl.dqn import DQN, DQNConfig
    from ..rl.preprocess import pixel_env

    config = DQNConfig()
    return {**{name: getattr(config, name) for name in dqn_config_options()}, **_epsilon_defaults(config.epsilon),
            "stop_return": library_default(DQN.fit, "stop_return"),
            "checkpoint_every": library_default(DQN.fit, "checkpoint_every"),
            "frame_size": library_default(pixel_env, "size"), "frame_stack": None, **DQN_RECIPE}


def _env_flags(p: argparse.ArgumentParser, resumable: bool = False) -> None:
    p.add_argument("--env-arg", action="append", metavar="KEY=VALUE",
                   help="keyword argument of gymnasium.make, e.g. is_slippery=False (repeatable)")
    if resumable:  # left None so that --resume can tell a seed given from the default
        add_flag(p, "seed", None, help=with_default("seeds the network, exploration and episodes",
                                                    f"{DEFAULT_SEED}; a resumed run keeps its own"))
    else:
        add_flag(p, "seed", DEFAULT_SEED, help="seeds the network, exploration and episodes")
    add_flag(p, "out", help="output folder (default: runs/rl/ALGORITHM-ENV)")
    add_flag(p, "quiet", help="no progress bar")


def _epsilon_flags(p: argparse.ArgumentParser, defaults: dict, unit: str) -> None:
    p.add_argument("--epsilon-start", type=unit_interval, help=with_default("exploration rate at the start",
                                                                   defaults["epsilon_start"]))
    p.add_argument("--epsilon-end", type=unit_interval, help=with_default("exploration rate after the decay",
                                                                 defaults["epsilon_end"]))
    decay = defaults["epsilon_decay"]
    p.add_argument("--epsilon-decay", type=positive_int, help=with_default(
        f"{unit} over which epsilon falls (exponential: e-folding time)",
        "half of --episodes" if decay is None else decay))
    p.add_argument("--epsilon-schedule", choices=["linear", "exponential"],
                   help=with_default("how epsilon falls", defaults["epsilon_schedule"]))


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``rl`` and its sub-commands."""
    rl = sub.add_parser("rl", formatter_class=HelpFormatter,
                        help="reinforcement learning on gymnasium environments (Q-learning, DQN)",
                        description="Tabular Q-learning and deep Q-learning on gymnasium environments "
                                    "(optional extra: pip install 'gymnasium==1.4.0').")
    rl_sub = rl.add_subparsers(dest="rl_command", required=True, metavar="{q-learning,dqn,eval}")

    q = q_defaults()
    p = rl_sub.add_parser("q-learning", formatter_class=HelpFormatter,
                          help="tabular Q-learning (Discrete observations and actions)",
                          description="Tabular Q-learning, then the greedy policy's mean return over evaluation "
                                      "episodes.")
    p.add_argument("env", help="gymnasium environment id, e.g. FrozenLake-v1, Taxi-v4")
    p.add_argument("--episodes", type=positive_int, help=with_default("training episodes", q["episodes"]))
    p.add_argument("--lr", type=positive_float, help=with_default("learning rate (step size of the Bellman update)", q["lr"]))
    p.add_argument("--lr-end", type=non_negative_float, help=with_default(
        "learning rate reached, linearly, when epsilon stops decaying", "constant lr" if q["lr_end"] is None
        else q["lr_end"]))
    p.add_argument("--gamma", type=unit_interval, help=with_default("discount factor", q["gamma"]))
    _epsilon_flags(p, q, "episodes")
    p.add_argument("--eval-episodes", type=positive_int, help=with_default("greedy evaluation episodes after training",
                                                                  q["eval_episodes"]))
    _env_flags(p)
    p.set_defaults(run=cmd_q_learning)

    d = dqn_defaults()
    p = rl_sub.add_parser("dqn", formatter_class=HelpFormatter,
                          help="deep Q-learning with replay, a target network and n-step returns",
                          description="Deep Q-learning. An option left out takes the run file's value, else the "
                                      "default shown.")
    p.add_argument("env", metavar="ENV|FILE", help="gymnasium environment id (CartPole-v1, MinAtar/Breakout-v1, "
                                                   "ALE/Pong-v5) or a run file (YAML), e.g. rl/recipes/minatar-breakout.yaml")
    p.add_argument("--network", help="architecture file of the Q-network (default, sized to the environment: "
                                     "networks/cartpole.yaml, cartpole_pixels.yaml with --pixels, minatar.yaml for "
                                     "MinAtar, atari.yaml for ALE)")
    options = [
        ("--steps", positive_int, "environment steps of training"),
        ("--lr", positive_float, "Adam learning rate"),
        ("--lr-end", non_negative_float, "learning rate reached linearly after --lr-decay steps (None: constant)"),
        ("--lr-decay", positive_int, "steps over which the learning rate falls to --lr-end (None: --steps)"),
        ("--lr-hold", unit_interval, "fraction of those steps spent at --lr before the fall begins"),
        ("--gamma", unit_interval, "discount factor"),
        ("--n-step", positive_int, "environment steps each stored transition spans (n-step returns)"),
        ("--batch-size", positive_int, "transitions per update"),
        ("--buffer-size", positive_int, "replay capacity (transitions)"),
        ("--learning-starts", non_negative_int, "steps of experience before the first update"),
        ("--train-every", positive_int, "environment steps between updates"),
        ("--gradient-steps", positive_int, "updates in a row every --train-every steps"),
        ("--target-update", positive_int, "steps between target-network updates"),
        ("--tau", unit_interval, "target <- tau*online + (1-tau)*target (1: hard copy)"),
        ("--double", None, "Double DQN targets"),
        ("--huber-delta", positive_float, "where the Huber loss turns from quadratic to linear"),
        ("--max-grad-norm", positive_float, "gradient clipping by global norm"),
    ]
    for flag, kind, text in options:
        default = d[flag[2:].replace("-", "_")]
        if kind is None:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=with_default(text, default))
        else:
            p.add_argument(flag, type=kind, help=with_default(text, default))
    _epsilon_flags(p, d, "steps")
    p.add_argument("--eval-every", type=non_negative_int, help=with_default(
        "steps between greedy evaluations (0: none); the best is kept", d["eval_every"]))
    p.add_argument("--eval-episodes", type=positive_int, help=with_default("episodes per evaluation during training",
                                                                  d["eval_episodes"]))
    p.add_argument("--final-episodes", type=positive_int, help=with_default(
        "episodes of the final evaluations of the last and of the best weights", d["final_episodes"]))
    p.add_argument("--stop-return", type=float, help=with_default(
        "stop once an evaluation reaches this mean return", "never" if d["stop_return"] is None else d["stop_return"]))
    p.add_argument("--pixels", action=argparse.BooleanOptionalAction, default=None,
                   help=with_default("learn from frames with a convolutional network, through gymnasium's "
                                     "wrappers: rendered frames (grayscale, resized, stacked); always on for image "
                                     "observations: Atari (ALE/..., AtariPreprocessing + frame stack) and MinAtar "
                                     "(MinAtar/..., its grids channels first). A transition keeps 2 x its "
                                     "observation's bytes, so size --buffer-size to the memory", d["pixels"]))
    p.add_argument("--frame-size", type=positive_int, help=with_default("side of the square resized frames", d["frame_size"]))
    p.add_argument("--frame-stack", type=positive_int, help=with_default("frames stacked per observation", "1 for MinAtar's grids, else 4"))
    p.add_argument("--frames", action=argparse.BooleanOptionalAction, default=None, help=with_default(
        "after training, draw 8 frames of one greedy episode of the final weights (frames.png)", d["frames"]))
    p.add_argument("--checkpoint-every", type=positive_int, help=with_default(
        "steps between checkpoints (written at episode ends)", d["checkpoint_every"]))
    add_flag(p, "threads", None, help=with_default("CPU BLAS threads (small Q-networks run fastest on one; 0 leaves "
                                                   "the BLAS default; needs threadpoolctl)", d["threads"]))
    add_flag(p, "resume")
    _env_flags(p, resumable=True)
    p.set_defaults(run=cmd_dqn, compute=True, interrupted=resume_hint)

    p = rl_sub.add_parser("eval", formatter_class=HelpFormatter,
                          help="greedy evaluation of a checkpoint written by q-learning or dqn")
    p.add_argument("checkpoint", help="q_table.ckpt, best.ckpt or last.ckpt of an rl run folder")
    p.add_argument("--episodes", type=positive_int, default=100, help="episodes played")
    add_flag(p, "seed", DEFAULT_SEED, help="seeds the episodes")
    p.set_defaults(run=cmd_eval)


# --- shared ----------------------------------------------------------------------------------------
def _options(args, defaults: dict, file_options: dict | None = None) -> dict:
    """Defaults < run file < command line (options left out on the command line are None)."""
    given = {k: v for k, v in vars(args).items() if k in defaults and v is not None}
    return {**defaults, **(file_options or {}), **given}


def _report(returns: np.ndarray) -> str:
    text = (f"mean return {returns.mean():.3f} +/- {returns.std():.3f} (min {returns.min():g}, "
            f"max {returns.max():g}) over {len(returns)} episodes")
    if np.isin(returns, (0.0, 1.0)).all():  # reward 1 for reaching the goal: the mean is a success rate
        text += f"; success rate {returns.mean():.1%}"
    return text


def _finish(out: Path, history, title: str, metrics: dict) -> None:
    from ..rl.history import plot_learning_curve

    (out / "history.json").write_text(json.dumps(history.to_dict()))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    try:
        plot_learning_curve(history, out / "learning_curve.png", title)
    except ImportError as e:
        print(f"profondo: {e}", file=sys.stderr)


def _progress(total: int, desc: str, quiet: bool):
    from ..train.progress import ProgressBar

    return ProgressBar(total, desc, enabled=not quiet, log_lines=10)


# --- q-learning --------------------------------------------------------------------------------------
def cmd_q_learning(args) -> int:
    """Train a tabular agent, evaluate its greedy policy, write checkpoint, curve and metrics."""
    from ..rl.env import evaluate, make_env, parse_env_args, require_gymnasium
    from ..rl.schedule import EpsilonSchedule
    from ..rl.tabular import QLearning

    try:
        require_gymnasium()
        env_args = parse_env_args(args.env_arg)
        o = _options(args, q_defaults())
        env, eval_env = make_env(args.env, **env_args), make_env(args.env, **env_args)
        epsilon = EpsilonSchedule(o["epsilon_start"], o["epsilon_end"],
                                  o["epsilon_decay"] or max(o["episodes"] // 2, 1), o["epsilon_schedule"])
        agent = QLearning.for_env(env, lr=o["lr"], lr_end=o["lr_end"], gamma=o["gamma"], epsilon=epsilon,
                                  seed=args.seed)
    except (ImportError, ValueError) as e:
        raise CommandError(str(e)) from None
    out = Path(args.out or f"runs/rl/q-learning-{args.env}")
    out.mkdir(parents=True, exist_ok=True)
    print(f"q-learning on {args.env}: {agent.q.shape[0]} states x {agent.q.shape[1]} actions, {o['episodes']} "
          f"episodes, lr {o['lr']}, gamma {o['gamma']}, epsilon {epsilon.start} -> {epsilon.end} over "
          f"{epsilon.decay} episodes, seed {args.seed}")
    bar = _progress(o["episodes"], f"q-learning {args.env}", args.quiet)
    started = time.perf_counter()
    history = agent.fit(env, o["episodes"], seed=args.seed, progress=bar)
    seconds = time.perf_counter() - started
    bar.close()
    returns = evaluate(eval_env, agent.greedy, o["eval_episodes"], seed=args.seed + FINAL_SEED_OFFSET)
    agent.save(out / "q_table.ckpt", env=args.env, env_args=env_args, seed=args.seed)
    print(f"greedy policy: {_report(returns)}; {seconds:.1f} s of training ({agent.steps} steps)")
    _finish(out, history, f"Q-learning on {args.env}", {
        "algorithm": "q-learning", "env": args.env, "env_args": env_args, "options": o, "seed": args.seed,
        "train_seconds": seconds, "steps": agent.steps, "episodes": agent.episodes,
        "eval_episodes": len(returns), "eval_mean_return": float(returns.mean()),
        "eval_std_return": float(returns.std())})
    print(f"Q-table, learning curve and metrics in {out}/")
    return 0


# --- dqn ------------------------------------------------------------------------------------------------
def _run_file(path: Path) -> tuple[str, dict, dict]:
    """(env id, env_args, options) of a run file; a relative ``network`` path is resolved against it."""
    from ..architecture import load_dict

    data = load_dict(path)
    if not isinstance(data, dict) or "env" not in data:
        raise ValueError(f"{path}: a run file is a YAML mapping with at least `env: ENV_ID`")
    options = {k.replace("-", "_"): v for k, v in data.items() if k not in ("env", "env_args")}
    unknown = sorted(set(options) - set(dqn_defaults()))
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {unknown}; expected env, env_args and {sorted(dqn_defaults())}")
    if isinstance(options.get("network"), str):
        options["network"] = str(path.parent / options["network"])
    return data["env"], dict(data.get("env_args") or {}), options


def _default_network(env_id: str, pixels: bool, native: bool) -> str:
    """The packaged Q-network for an environment: Mnih et al.'s CNN for Atari, Young and Tian's
    for MinAtar's grids, a small CNN for rendered frames, an MLP for state vectors."""
    if env_id.startswith("ALE/"):
        return "atari.yaml"
    if native:
        return "minatar.yaml"
    return "cartpole_pixels.yaml" if pixels else "cartpole.yaml"


def _architecture(network, default: str, obs_shape: tuple[int, ...], n_actions: int) -> dict:
    """The Q-network's architecture file: the one given (path or inline), or a packaged one
    whose input and output sizes are set to the environment's."""
    from ..architecture import load_dict

    if isinstance(network, dict):
        return network
    if network:
        return load_dict(Path(network))
    arch = load_dict(NETWORKS / default)
    arch["input"] = list(obs_shape)
    arch["layers"][-1]["dense"]["units"] = n_actions
    return arch


def _dqn_env(env_id: str, env_args: dict, o: dict, render_mode: str | None = None):
    """The environment, through :func:`~profondo.rl.preprocess.pixel_env` with ``pixels`` (which is
    switched on when the observations are images already: Atari, MinAtar). Sets ``o["native"]``
    and, when left out, ``o["frame_stack"]`` (1 for MinAtar's grids, else 4)."""
    from ..rl.env import make_env
    from ..rl.preprocess import is_image_space, pixel_env

    if env_id.startswith("ALE/"):
        env_args = {"frameskip": 1, **env_args}  # AtariPreprocessing skips the frames
    env = make_env(env_id, render_mode=render_mode, **env_args)
    native = is_image_space(env.observation_space)
    o["pixels"], o["native"] = bool(o["pixels"] or native), native
    if o["frame_stack"] is None:
        o["frame_stack"] = 1 if native and not env_id.startswith("ALE/") else 4
    if not o["pixels"]:
        return env
    if not native and render_mode != "rgb_array":
        env.close()
        env = make_env(env_id, render_mode="rgb_array", **env_args)
    return pixel_env(env, o["frame_size"], o["frame_stack"])


def _began_with(checkpoint: Path, env_id: str, env_args: dict, args) -> dict:
    """The options of the run that wrote ``checkpoint``, which a resumed run keeps (the command
    line may extend ``--steps``; a flag that would change the training is refused by
    :meth:`~profondo.rl.dqn.DQN.load`). Sets ``args.seed`` to the run's when it was left out."""
    from ..io.checkpoint import read_checkpoint_meta

    meta = read_checkpoint_meta(checkpoint)
    for name, mine in (("env", env_id), ("env_args", env_args), ("seed", args.seed)):
        theirs = meta.get(name)
        if name in meta and mine is not None and theirs != mine:
            raise ValueError(f"cannot resume from {checkpoint}: it is a run with {name} {theirs!r}, "
                             f"this command asks for {mine!r}")
    if args.seed is None:
        args.seed = meta.get("seed")
    return dict(meta.get("options") or {})  # none in files from before they were stored


def _dqn_setup(env_id: str, env_args: dict, o: dict, seed: int):
    """(train env, eval env, agent) for the options ``o``."""
    from .. import manual_seed
    from ..architecture import from_dict
    from ..rl.dqn import DQN, DQNConfig
    from ..rl.env import discrete_size
    from ..rl.schedule import EpsilonSchedule

    env, eval_env = _dqn_env(env_id, env_args, o), _dqn_env(env_id, env_args, o)
    space = env.observation_space
    if getattr(space, "shape", None) in (None, ()):
        raise ValueError(f"{env_id}: DQN needs vector or image (Box) observations, received {space}; "
                         "use `profondo rl q-learning` for Discrete observations")
    n_actions, _ = discrete_size(env.action_space, "action", env_id)
    obs_shape = tuple(space.shape)
    manual_seed(seed)  # the network's initial weights
    arch = _architecture(o["network"], _default_network(env_id, o["pixels"], o["native"]), obs_shape, n_actions)
    if tuple(arch.get("input") or ()) != obs_shape:
        raise ValueError(f"the Q-network's file declares input {arch.get('input')}, the {env_id} observations "
                         f"{'after preprocessing ' if o['pixels'] else ''}have shape {list(obs_shape)}")
    config = DQNConfig(**{name: o[name] for name in dqn_config_options()},
                       epsilon=EpsilonSchedule(o["epsilon_start"], o["epsilon_end"], o["epsilon_decay"],
                                               o["epsilon_schedule"]))
    agent = DQN(from_dict(arch), n_actions, obs_shape, space.dtype, config, seed=seed, architecture=arch)
    agent.run_info = {"env": env_id, "env_args": env_args, "pixels": bool(o["pixels"]),
                      "frame_size": o["frame_size"], "frame_stack": o["frame_stack"], "seed": seed,
                      "options": o}
    return env, eval_env, agent


def cmd_dqn(args) -> int:
    """Train a DQN agent, evaluate the best weights, write checkpoints, curve and metrics."""
    from ..rl.env import evaluate, parse_env_args, require_gymnasium
    from ..rl.history import History

    try:
        require_gymnasium()
        target = Path(args.env)
        if target.suffix in (".yaml", ".yml", ".json") or target.is_file():
            env_id, env_args, file_options = _run_file(target)
        else:
            env_id, env_args, file_options = args.env, {}, {}
        env_args = {**env_args, **parse_env_args(args.env_arg)}
        out = args.run_dir = Path(args.out or f"runs/rl/dqn-{env_id}")
        last, best = out / "last.ckpt", out / "best.ckpt"
        if args.resume and not last.exists():
            raise CommandError(f"--resume, but {last} does not exist")
        began = _began_with(last, env_id, env_args, args) if args.resume else {}
        args.seed = DEFAULT_SEED if args.seed is None else args.seed
        o = _options(args, dqn_defaults(), {**file_options, **began})
        env, eval_env, agent = _dqn_setup(env_id, env_args, o, args.seed)
    except (ImportError, ValueError, FileNotFoundError) as e:
        raise CommandError(str(e)) from None
    out.mkdir(parents=True, exist_ok=True)
    history = History()
    if args.resume:
        try:
            history = agent.load(last)
        except (ValueError, RuntimeError) as e:
            raise CommandError(f"cannot resume from {last}: {e}") from None
        print(f"resumed from {last} at step {agent.steps} ({agent.episodes} episodes)")
    c = agent.config
    print(f"dqn on {env_id}: observations {agent.buffer.obs_shape} {agent.buffer.obs.dtype}, {agent.n_actions} "
          f"actions, {o['steps']} steps, lr {c.lr}{'' if c.lr_end is None else f' -> {c.lr_end}'}, batch "
          f"{c.batch_size}, {c.gradient_steps} update(s) every {c.train_every} steps, replay {c.buffer_size}, target every "
          f"{c.target_update} steps (tau {c.tau}), {c.n_step}-step {'double ' if c.double else ''}DQN, epsilon {c.epsilon.start} -> "
          f"{c.epsilon.end} over {c.epsilon.decay} steps, seed {args.seed}")
    bar = _progress(o["steps"], f"dqn {env_id}", args.quiet)
    with blas_threads(o["threads"] or None):
        started = time.perf_counter()
        history = agent.fit(env, o["steps"], seed=args.seed, progress=bar, eval_env=eval_env,
                            eval_every=o["eval_every"], eval_episodes=o["eval_episodes"], stop_return=o["stop_return"],
                            checkpoint=last, checkpoint_every=o["checkpoint_every"], history=history)
        seconds = time.perf_counter() - started
        bar.close()
        # both the weights training ended with (last.ckpt) and the best evaluation's (best.ckpt)
        # play the same fresh episodes, never seen in training
        final_seed = args.seed + FINAL_SEED_OFFSET
        scores = {"last": evaluate(eval_env, agent.greedy, o["final_episodes"], seed=final_seed)}
        last_state = agent.online.state_arrays()
        if agent.best_state is not None or best.exists():
            from ..io.checkpoint import read_checkpoint

            agent.online.load_state_dict(agent.best_state or read_checkpoint(best).group("model"))
            scores["best"] = evaluate(eval_env, agent.greedy, o["final_episodes"], seed=final_seed)
            agent.online.load_state_dict(last_state)
    for weights, returns in scores.items():
        print(f"{weights} weights ({weights}.ckpt), greedy policy: {_report(returns)}")
    print(f"{seconds / 60:.1f} min of training ({agent.steps} steps, {agent.episodes} episodes, "
          f"{agent.updates} updates, {agent.steps / max(seconds, 1e-9):.0f} steps/s)")
    if o["frames"]:
        _frame_strip(env_id, env_args, o, agent, out, args.seed)
    last_returns = scores["last"]
    _finish(out, history, f"DQN on {env_id}", {
        "algorithm": "dqn", "env": env_id, "env_args": env_args, "options": o, "seed": args.seed,
        "train_seconds": seconds, "steps": agent.steps, "episodes": agent.episodes, "updates": agent.updates,
        "eval_episodes": len(last_returns), "eval_mean_return": float(last_returns.mean()),
        "eval_std_return": float(last_returns.std()),
        **{f"{w}_mean_return": float(r.mean()) for w, r in scores.items()},
        **{f"{w}_std_return": float(r.std()) for w, r in scores.items()},
        "steps_to_stop_return": _first_reaching(history, o["stop_return"])})
    print(f"checkpoints (last.ckpt, best.ckpt), learning curve, frame strip and metrics in {out}/")
    return 0


def _first_reaching(history, level: float | None) -> int | None:
    """The step of the first periodic evaluation whose mean return reached ``level``."""
    if level is None:
        return None
    return next((int(step) for step, mean, _ in history.evaluations if mean >= level), None)


def _frame_strip(env_id: str, env_args: dict, o: dict, agent, out: Path, seed: int) -> None:
    """frames.png: one greedy episode of the final weights, 8 rendered frames spread over it."""
    from ..rl.history import play_frames, plot_frame_strip

    try:
        env = _dqn_env(env_id, env_args, dict(o), render_mode="rgb_array")
        frames, total = play_frames(env, agent.greedy, seed=seed + FINAL_SEED_OFFSET)
        env.close()
        path = plot_frame_strip(frames, out / "frames.png", f"{env_id}, greedy, final weights: return {total:g}, "
                                f"{len(frames) - 1} steps")
        print(f"frame strip of one greedy episode (return {total:g}) in {path}")
    except (ImportError, ValueError) as e:
        print(f"profondo: no frame strip: {e}", file=sys.stderr)


# --- eval --------------------------------------------------------------------------------------------
def cmd_eval(args) -> int:
    """Play the greedy policy of a q-learning or dqn checkpoint."""
    from ..io.checkpoint import read_checkpoint
    from ..rl.env import evaluate, make_env, require_gymnasium

    try:
        require_gymnasium()
        meta = read_checkpoint(args.checkpoint).meta
        algorithm, env_id = meta.get("algorithm"), meta.get("env")
        if algorithm not in ("q-learning", "dqn") or not env_id:
            raise ValueError(f"{args.checkpoint} is not a checkpoint of `profondo rl` (algorithm {algorithm!r})")
        if algorithm == "q-learning":
            from ..rl.tabular import QLearning

            policy, env = QLearning.load(args.checkpoint).greedy, make_env(env_id, **meta.get("env_args", {}))
        else:
            o = {**dqn_defaults(), **{k: meta[k] for k in ("pixels", "frame_size", "frame_stack")},
                 "network": meta["architecture"], "batch_size": 1, "buffer_size": 1}
            env, _, agent = _dqn_setup(env_id, meta.get("env_args", {}), o, args.seed)
            agent.online.load_state_dict(read_checkpoint(args.checkpoint).group("model"))
            policy = agent.greedy
    except (ImportError, ValueError, FileNotFoundError) as e:
        raise CommandError(str(e)) from None
    returns = evaluate(env, policy, args.episodes, seed=args.seed + FINAL_SEED_OFFSET)
    print(f"{args.checkpoint} on {env_id}, greedy policy: {_report(returns)}")
    return 0


