"""Loss modules, PyTorch's names and arguments, each a thin shell over its function in
:mod:`profondo.functional` (``nn.CrossEntropyLoss()(logits, labels)``)."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from .module import Module

_LOSS_LACKS = {reason: "a loss maps (prediction, target) to a training signal, outside the network a file, "
                       "the analysis or an exported model describe"
               for reason in ("file_form", "counts", "output_shape")}


def _listed(value) -> list | None:
    """A weight tensor as a JSON list for the config (None stays None)."""
    if value is None:
        return None
    return [float(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]


class _Loss(Module):
    lacks = _LOSS_LACKS

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', received {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C, ...) against class indices (N, ...); labels equal
    to ``ignore_index`` count for nothing."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {"weight": _listed(self.weight), "ignore_index": self.ignore_index, "reduction": self.reduction,
                "label_smoothing": self.label_smoothing}


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (after LogSoftmax) at the class indices."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {"weight": _listed(self.weight), "ignore_index": self.ignore_index, "reduction": self.reduction}


class MSELoss(_Loss):
    """Mean squared error."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """delta * SmoothL1 with beta = delta."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (after a Sigmoid)."""

    def __init__(self, weight=None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {"weight": _listed(self.weight), "reduction": self.reduction}


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one, stable for large logits; ``pos_weight`` scales the positives."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None) -> None:
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)

    def get_config(self) -> dict[str, Any]:
        return {"weight": _listed(self.weight), "reduction": self.reduction, "pos_weight": _listed(self.pos_weight)}


class KLDivLoss(_Loss):
    """KL divergence; the input holds log-probabilities (PyTorch's convention)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        Module.__init__(self)
        if reduction not in ("mean", "sum", "none", "batchmean"):
            raise ValueError(f"KLDivLoss: reduction must be 'mean', 'sum', 'none' or 'batchmean', received {reduction!r}")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
