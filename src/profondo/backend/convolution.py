"""Which algorithm the CPU convolution uses, per layer shape and direction (``profondo.backend.conv``).

Like ``torch.backends.cudnn.benchmark``, off by default: with ``benchmark = True`` a direction
left at ``"auto"`` is measured once for each new layer shape (every candidate run on the real
data, the fastest kept) and the choice is cached for the rest of the process. The choice can
differ from run to run, and with it the float32 rounding; off, every run takes the same
algorithms (one im2col GEMM per layer, the input gradient by col2im), so a seed gives the same
numbers every time, as the README's results were measured. A user can force
one algorithm per direction::

    profondo.backend.conv.forward = "im2col"          # or "im2col-blocked", "auto"
    profondo.backend.conv.input_grad = "col2im"       # or "col2im-blocked", "correlation-blocked"
    profondo.backend.conv.weight_grad = "im2col-blocked"
    profondo.backend.conv.chosen()                    # what each layer shape ran, per direction

With ``benchmark = False`` (the default) "auto" takes that fixed rule.
Every algorithm computes the same convolution; they differ in float32 rounding only.
"""

from __future__ import annotations

ALGORITHMS: dict[str, tuple[str, ...]] = {
    # im2col: one window copy and one GEMM with the whole batch folded in (BLAS threads).
    # im2col-blocked: the batch in cache-sized blocks, one block per worker thread (BLAS at one
    # thread inside each), the window copy of each block made where its product runs.
    "forward": ("auto", "im2col", "im2col-blocked"),
    "weight_grad": ("auto", "im2col", "im2col-blocked"),
    # col2im: the window gradients by one GEMM, added back by kernel-offset slices.
    # correlation-blocked: the input gradient as the correlation of the padded output gradient
    # with the flipped, transposed filters (stride 1 only; else col2im-blocked runs).
    "input_grad": ("auto", "col2im", "col2im-blocked", "correlation-blocked"),
}


class ConvSettings:
    """The convolution algorithm switch and the cache of measured choices."""

    __slots__ = ("_algorithms", "benchmark", "_chosen", "measured")

    def __init__(self) -> None:
        object.__setattr__(self, "_algorithms", dict.fromkeys(ALGORITHMS, "auto"))
        object.__setattr__(self, "benchmark", False)
        object.__setattr__(self, "_chosen", {})
        # (direction, layer shape) -> the algorithm "auto" measured fastest there
        object.__setattr__(self, "measured", {})

    def __getattr__(self, name: str) -> str:
        algorithms = object.__getattribute__(self, "_algorithms")
        if name in algorithms:
            return algorithms[name]
        raise AttributeError(f"profondo.backend.conv has no setting {name!r}: expected one of "
                             f"{', '.join(sorted([*ALGORITHMS, 'benchmark']))}")

    def __setattr__(self, name: str, value) -> None:
        if name == "measured":
            raise AttributeError("profondo.backend.conv.measured is the cache of measured choices: "
                                 "empty it with profondo.backend.conv.clear()")
        if name == "benchmark":
            if not isinstance(value, bool):
                raise TypeError(f"profondo.backend.conv.benchmark: expected True or False, received {value!r}")
            object.__setattr__(self, name, value)
            return
        if name not in ALGORITHMS:
            raise AttributeError(f"profondo.backend.conv has no setting {name!r}: expected one of "
                                 f"{', '.join(sorted([*ALGORITHMS, 'benchmark']))}")
        if value not in ALGORITHMS[name]:
            raise ValueError(f"profondo.backend.conv.{name}: expected one of {', '.join(ALGORITHMS[name])}, "
                             f"received {value!r}")
        self._algorithms[name] = value

    def chosen(self) -> dict[tuple, dict[str, str]]:
        """Per layer shape ``(N, C, H, W, O, KH, KW, stride, padding, dilation, groups, dtype)``
        the algorithm each direction ran last: ``{"forward": ..., "input_grad": ..., "weight_grad": ...}``."""
        return {key: dict(value) for key, value in self._chosen.items()}

    def record(self, key: tuple, direction: str, algorithm: str) -> None:
        """Note what ran (the kernels call this)."""
        self._chosen.setdefault(key, {})[direction] = algorithm

    def clear(self) -> None:
        """Forget every measured choice: the next call of each shape measures again."""
        self._chosen.clear()
        self.measured.clear()

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._algorithms.items())
        return f"profondo.backend.conv({settings}, benchmark={self.benchmark}, {len(self._chosen)} shapes chosen)"


conv = ConvSettings()
