"""Activation layers: element-wise non-linearities and (log-)softmax along an axis."""

from __future__ import annotations

from .. import functional as F
from .module import Module, _shape


class _Elementwise(Module):
    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return _shape(input_shape, type(self).__name__)


class Identity(_Elementwise):
    """Returns its input (a placeholder, e.g. for a removed classifier head)."""

    def forward(self, x):
        return x


class ReLU(_Elementwise):
    """max(x, 0). ``Sequential(Linear(4, 8), ReLU())``"""

    def forward(self, x):
        return F.relu(x)


class ReLU6(_Elementwise):
    """min(max(x, 0), 6)."""

    def forward(self, x):
        return F.relu6(x)


class LeakyReLU(_Elementwise):
    """x for x > 0, else negative_slope * x. ``LeakyReLU(0.1)``"""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(_Elementwise):
    def forward(self, x):
        return F.tanh(x)


class _AlongDim(_Elementwise):
    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = int(dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = super().output_shape(input_shape)
        n = len(shape) + 1  # with the batch axis
        if not -n <= self.dim < n:
            raise ValueError(f"{type(self).__name__}(dim={self.dim}): out of range for a batch of per-sample "
                             f"shape {shape} ({n} axes)")
        return shape


class Softmax(_AlongDim):
    """exp(x) / sum(exp(x)) along ``dim``. ``Softmax(dim=1)``"""

    def forward(self, x):
        return F.softmax(x, self.dim)


class LogSoftmax(_AlongDim):
    """log(softmax(x)) along ``dim``, computed stably (pair with nll_loss)."""

    def forward(self, x):
        return F.log_softmax(x, self.dim)
