"""Image observations for convolutional Q-networks: grayscale, resize, frame stacking.

Pure NumPy. :class:`FramePreprocessor` turns each RGB frame (H, W, 3) into a stack of the
last ``stack`` grayscale frames of ``size``, shaped (stack, h, w) as Conv2d expects, kept
as uint8 so a replay buffer of frames costs one byte a pixel.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, as PIL and OpenCV


def to_grayscale(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (H, W) luminance, float32 in the input's range.

    >>> float(to_grayscale(np.full((2, 2, 3), 255, np.uint8))[0, 0])
    255.0
    """
    if frame.ndim != 3 or frame.shape[-1] not in (3, 4):
        raise ValueError(f"to_grayscale: expected an (H, W, 3) RGB frame, received shape {frame.shape}")
    return frame[..., :3].astype(np.float32) @ _LUMA


@lru_cache(maxsize=16)
def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: output pixel i averages the input interval [i, i+1) * n_in/n_out."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W) or (H, W, C) image to ``size = (h, w)`` by area averaging (float32).

    Each output pixel is the mean of the input area it covers (fractional overlaps weighted),
    as two small matrix products; upscaling repeats pixels.

    >>> resize(np.arange(16.0).reshape(4, 4), (2, 2))
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    h, w = (int(s) for s in size)
    if image.ndim not in (2, 3) or h < 1 or w < 1:
        raise ValueError(f"resize: expected an (H, W) or (H, W, C) image and a positive (h, w), received "
                         f"image shape {image.shape} and size {size}")
    rows, cols = _area_matrix(image.shape[0], h), _area_matrix(image.shape[1], w)
    image = image.astype(np.float32, copy=False)
    if image.ndim == 2:
        return rows @ image @ cols.T
    return np.einsum("hH,HWc,wW->hwc", rows, image, cols, optimize=True)


class FramePreprocessor:
    """RGB frames -> (stack, h, w) uint8 stacks of the latest grayscale, resized frames.

    ``reset(frame)`` starts an episode (the stack is filled with copies of the first frame);
    ``step(frame)`` shifts the newest frame in. With ``grayscale=False`` the channels of each
    frame are kept: (stack * 3, h, w).

    >>> pre = FramePreprocessor(size=(84, 84), stack=4)
    >>> pre.reset(np.zeros((400, 600, 3), np.uint8)).shape
    (4, 84, 84)
    """

    def __init__(self, size: tuple[int, int] = (84, 84), stack: int = 4, grayscale: bool = True) -> None:
        if stack < 1:
            raise ValueError(f"FramePreprocessor: stack must be at least 1, received {stack}")
        self.size, self.stack, self.grayscale = (int(size[0]), int(size[1])), int(stack), grayscale
        self.channels = 1 if grayscale else 3
        self.frames = np.zeros((self.stack * self.channels, *self.size), np.uint8)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.frames.shape

    def process(self, frame: np.ndarray) -> np.ndarray:
        """One frame -> (channels, h, w) uint8."""
        if frame.ndim != 3:
            raise ValueError(f"FramePreprocessor: expected an (H, W, C) frame, received shape {frame.shape}")
        image = to_grayscale(frame) if self.grayscale else frame[..., :3]
        out = resize(image, self.size)
        out = out[None] if self.grayscale else out.transpose(2, 0, 1)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def reset(self, frame: np.ndarray) -> np.ndarray:
        self.frames[...] = np.tile(self.process(frame), (self.stack, 1, 1))
        return self.frames.copy()

    def step(self, frame: np.ndarray) -> np.ndarray:
        c = self.channels
        self.frames[:-c] = self.frames[c:]
        self.frames[-c:] = self.process(frame)
        return self.frames.copy()


class PixelObservation:
    """An environment wrapper whose observations are preprocessed frame stacks.

    The frames are the environment's own image observations (an (H, W, 3) uint8 Box, as in
    Atari) or, for any other environment made with ``render_mode="rgb_array"``, its rendered
    frames, so a vector-state task such as CartPole can be learnt from pixels.

    >>> env = PixelObservation(make_env("CartPole-v1", render_mode="rgb_array"), size=(84, 84), stack=4)
    >>> obs, info = env.reset(seed=0)            # (4, 84, 84) uint8
    """

    def __init__(self, env, size: tuple[int, int] = (84, 84), stack: int = 4, grayscale: bool = True) -> None:
        from .env import require_gymnasium

        self.env, self.preprocessor = env, FramePreprocessor(size, stack, grayscale)
        space = env.observation_space
        self.from_render = not (len(getattr(space, "shape", None) or ()) == 3 and space.dtype == np.uint8)
        if self.from_render and getattr(env, "render_mode", None) != "rgb_array":
            raise ValueError(f"PixelObservation: observations {space} are not images, so frames come from "
                             f"env.render(); make the environment with render_mode='rgb_array' "
                             f"(received render_mode={getattr(env, 'render_mode', None)!r})")
        self.observation_space = require_gymnasium().spaces.Box(0, 255, self.preprocessor.shape, np.uint8)
        self.action_space = env.action_space

    def _frame(self, obs) -> np.ndarray:
        return self.env.render() if self.from_render else obs

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return self.preprocessor.reset(self._frame(obs)), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.preprocessor.step(self._frame(obs)), reward, terminated, truncated, info

    def __getattr__(self, name: str):  # spec, unwrapped, np_random, close, render: the wrapped env's
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)
