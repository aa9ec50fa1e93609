"""Pixel observations through gymnasium's own wrappers: what a convolutional Q-network sees.

Three kinds of environment give frames, and :func:`pixel_env` stacks gymnasium's wrappers for
each (channels first, uint8, so a replay buffer keeps one byte a pixel):

- Atari (``ALE/...``, from ``ale-py``): ``AtariPreprocessing`` (no-op starts, frame skip with
  max-pooling of the last two frames, grayscale, resize) then ``FrameStackObservation``,
  as in Mnih et al. (2015): (stack, size, size).
- native image observations (H, W, C) such as MinAtar's (``MinAtar/...``: 10x10 grids with
  one boolean channel per kind of object): moved to (C, H, W), booleans to {0, 255};
  with ``stack > 1`` the last ``stack`` observations are concatenated along the channels.
- any other environment made with ``render_mode="rgb_array"`` (CartPole): its rendered frames
  through ``AddRenderObservation``, ``GrayscaleObservation``, ``ResizeObservation`` and
  ``FrameStackObservation``: (stack, size, size).

>>> env = pixel_env(make_env("CartPole-v1", render_mode="rgb_array"), size=84, stack=4)
>>> obs, info = env.reset(seed=0)            # (4, 84, 84) uint8
"""

from __future__ import annotations

import numpy as np

from .env import require_gymnasium


def is_image_space(space) -> bool:
    """An (H, W, C) observation space of uint8 or bool pixels (Atari's RGB screen, MinAtar's grids)."""
    shape = getattr(space, "shape", None) or ()
    return len(shape) == 3 and np.dtype(space.dtype) in (np.uint8, np.bool_)


def is_atari(env) -> bool:
    spec = getattr(env, "spec", None)
    return spec is not None and str(spec.id).startswith("ALE/")


def _channels_first(env):
    """(H, W, C) uint8/bool observations -> (C, H, W) uint8 (booleans as 0/255)."""
    gym = require_gymnasium()
    from gymnasium.wrappers import TransformObservation

    h, w, c = env.observation_space.shape
    boolean = np.dtype(env.observation_space.dtype) == np.bool_

    def move(obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs).transpose(2, 0, 1)
        return obs.astype(np.uint8) * np.uint8(255) if boolean else np.ascontiguousarray(obs)

    return TransformObservation(env, move, gym.spaces.Box(0, 255, (c, h, w), np.uint8))


def _merge_stack(env):
    """``FrameStackObservation``'s (stack, C, H, W) -> (stack * C, H, W), oldest first."""
    gym = require_gymnasium()
    from gymnasium.wrappers import TransformObservation

    s, c, h, w = env.observation_space.shape
    return TransformObservation(env, lambda obs: np.asarray(obs).reshape(s * c, h, w),
                                gym.spaces.Box(0, 255, (s * c, h, w), np.uint8))


def pixel_env(env, size: int = 84, stack: int = 4, grayscale: bool = True):
    """``env`` wrapped so that its observations are channels-first uint8 frame stacks (see the module).

    ``size`` (the side of the square resized frame) and ``grayscale`` apply to Atari screens and
    rendered frames; native small grids (MinAtar) keep their size and channels.
    """
    require_gymnasium()
    from gymnasium.wrappers import (
        AddRenderObservation,
        AtariPreprocessing,
        FrameStackObservation,
        GrayscaleObservation,
        ResizeObservation,
    )

    if stack < 1 or size < 1:
        raise ValueError(f"pixel_env: stack and size must be at least 1, received stack={stack}, size={size}")
    if is_atari(env):
        if getattr(env.unwrapped, "_frameskip", 1) != 1:
            raise ValueError(f"pixel_env: {env.spec.id} skips frames itself; make it with frameskip=1 so that "
                             "AtariPreprocessing skips 4 and max-pools the last two")
        env = AtariPreprocessing(env, frame_skip=4, screen_size=size, grayscale_obs=grayscale)
        if not grayscale:
            env = _channels_first(env)
        env = FrameStackObservation(env, stack)
        return _merge_stack(env) if not grayscale else env
    if is_image_space(env.observation_space):
        env = _channels_first(env)
        return env if stack == 1 else _merge_stack(FrameStackObservation(env, stack))
    if getattr(env, "render_mode", None) != "rgb_array":
        raise ValueError(f"pixel_env: observations {env.observation_space} are not images, so frames come from "
                         f"env.render(); make the environment with render_mode='rgb_array' "
                         f"(received render_mode={getattr(env, 'render_mode', None)!r})")
    env = AddRenderObservation(env, render_only=True)
    if grayscale:
        env = ResizeObservation(GrayscaleObservation(env), (size, size))
        return FrameStackObservation(env, stack)
    env = _channels_first(ResizeObservation(env, (size, size)))
    return _merge_stack(FrameStackObservation(env, stack))


