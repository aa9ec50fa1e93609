"""Losses: cross-entropy fused with log-softmax, NLL, MSE, BCE with logits, smooth L1/Huber."""

from __future__ import annotations

import numpy as np

from ..autograd import Function, unwrap


def _check_labels(name, logits, labels, ignore_index=None):
    """Check dtype, shape and range of the labels; returns where they count (None: all of them)."""
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: labels must be integers (int64 class indices), received dtype {labels.dtype}")
    expected = (logits.shape[0],) + logits.shape[2:]
    if labels.shape != expected:
        raise ValueError(f"{name}: logits of shape {tuple(logits.shape)} need labels of shape {expected}, "
                         f"received {tuple(labels.shape)}")
    if not labels.size:
        return None
    low, high = int(labels.min()), int(labels.max())
    # The usual case costs two reductions: no label equals ignore_index when it lies outside [low, high].
    keep = None if ignore_index is None or not low <= ignore_index <= high else labels != ignore_index
    if keep is not None:
        valid = labels[keep]
        low, high = (int(valid.min()), int(valid.max())) if valid.size else (0, 0)
    if low < 0 or high >= logits.shape[1]:
        bad = low if low < 0 else high
        raise ValueError(f"{name}: label {bad} is out of range for {logits.shape[1]} classes (expected 0..{logits.shape[1] - 1})")
    return keep


def _reduce(losses, weights, reduction, count):
    if reduction == "none":
        return losses
    total = losses.sum()
    return total if reduction == "sum" else total / max(count, 1)


def _picked_nll(logp, labels, ignore_index):
    """-logp at the labels along axis 1, zero where a label is ``ignore_index`` (on Tensors), and
    the mask of the labels kept (None when nothing is ignored)."""
    from .shape import gather

    xp = logp.xp
    keep = labels != ignore_index if ignore_index is not None else None
    safe = xp.where(keep, labels, 0) if keep is not None else labels
    nll = -gather(logp, 1, xp.expand_dims(safe, 1)).reshape(safe.shape)
    return nll, keep


def _one_hot_axis1(xp, labels, n_classes, dtype):
    """One-hot along axis 1 for labels of shape (N, d1, ...)."""
    eye = xp.eye(n_classes, dtype=dtype)[labels]  # (N, d1, ..., C)
    return xp.moveaxis(eye, -1, 1)


class CrossEntropy(Function):
    """Softmax + negative log-likelihood in one operator: the gradient is softmax - target."""

    def __init__(self, labels, reduction, label_smoothing, ignore_index) -> None:
        self.labels, self.reduction = labels, reduction
        self.label_smoothing, self.ignore_index = label_smoothing, ignore_index

    def forward(self, logits):
        xp = self.xp
        if logits.ndim < 2:
            raise ValueError(f"cross_entropy: logits must be (N, C) or (N, C, d1, ...), received {tuple(logits.shape)}")
        labels = self.labels
        keep = _check_labels("cross_entropy", logits, labels, self.ignore_index)
        n_classes = logits.shape[1]
        logp = logits - logits.max(axis=1, keepdims=True)
        logp -= xp.log(xp.exp(logp).sum(axis=1, keepdims=True))  # in place: logp is this operator's own array
        safe = xp.where(keep, labels, 0) if keep is not None else labels
        if logp.ndim == 2:  # plain indexing: take_along_axis costs more than the arithmetic here
            nll = -logp[xp.arange(logp.shape[0]), safe]
        else:
            nll = -xp.take_along_axis(logp, xp.expand_dims(safe, 1), axis=1)[:, 0]
        eps = self.label_smoothing
        if eps:
            nll = (1 - eps) * nll - (eps / n_classes) * logp.sum(axis=1)
        if keep is not None:
            nll = nll * keep
        self.count = int(keep.sum()) if keep is not None else labels.size
        self.save_for_backward(logp, safe, keep)
        return xp.asarray(_reduce(nll, None, self.reduction, self.count), dtype=logits.dtype)

    def backward(self, gy):
        xp = self.xp
        logp, safe, keep = self.saved
        n_classes = logp.shape[1]
        grad = xp.exp(logp)
        eps = self.label_smoothing
        if logp.ndim == 2:
            target_scale = 1 - eps
            grad[xp.arange(logp.shape[0]), safe] -= target_scale
        else:
            grad -= (1 - eps) * _one_hot_axis1(xp, safe, n_classes, logp.dtype)
        if eps:
            grad -= eps / n_classes
        if keep is not None:
            grad *= xp.expand_dims(keep, 1)
        if self.reduction == "none":
            return grad * xp.expand_dims(gy, 1)
        grad *= gy if self.reduction == "sum" else gy / max(self.count, 1)  # grad is a fresh array
        return grad

    def composite(self, logits):
        from .activation import log_softmax

        logp = log_softmax(logits, axis=1)
        nll, keep = _picked_nll(logp, self.labels, self.ignore_index)
        eps = self.label_smoothing
        if eps:
            nll = (1 - eps) * nll - (eps / logits.shape[1]) * logp.sum(axis=1)
        if keep is not None:
            nll = nll * keep
        return _reduce(nll, None, self.reduction, self.count)


class NLL(Function):
    """Negative log-likelihood of log-probabilities (use after log_softmax)."""

    def __init__(self, labels, reduction, ignore_index) -> None:
        self.labels, self.reduction, self.ignore_index = labels, reduction, ignore_index

    def forward(self, logp):
        xp = self.xp
        keep = _check_labels("nll_loss", logp, self.labels, self.ignore_index)
        safe = xp.where(keep, self.labels, 0) if keep is not None else self.labels
        losses = -xp.take_along_axis(logp, xp.expand_dims(safe, 1), axis=1)[:, 0]
        if keep is not None:
            losses = losses * keep
        self.count = int(keep.sum()) if keep is not None else safe.size
        self.shape, self.dtype = logp.shape, logp.dtype
        self.save_for_backward(safe, keep)
        return xp.asarray(_reduce(losses, None, self.reduction, self.count), dtype=logp.dtype)

    def backward(self, gy):
        xp = self.xp
        safe, keep = self.saved
        grad = -_one_hot_axis1(xp, safe, self.shape[1], self.dtype)
        if keep is not None:
            grad = grad * xp.expand_dims(keep, 1)
        if self.reduction == "none":
            return grad * xp.expand_dims(gy, 1)
        return grad * (gy if self.reduction == "sum" else gy / max(self.count, 1))

    def composite(self, logp):
        nll, keep = _picked_nll(logp, self.labels, self.ignore_index)
        return _reduce(nll if keep is None else nll * keep, None, self.reduction, self.count)


class MSE(Function):
    def __init__(self, reduction) -> None:
        self.reduction = reduction

    def forward(self, prediction, target):
        if prediction.shape != target.shape:
            raise ValueError(f"mse_loss: prediction of shape {tuple(prediction.shape)} and target of shape "
                             f"{tuple(target.shape)} must match")
        diff = prediction - target
        self.save_for_backward(diff)
        return self.xp.asarray(_reduce(diff * diff, None, self.reduction, diff.size), dtype=diff.dtype)

    def backward(self, gy):
        (diff,) = self.saved
        scale = gy if self.reduction != "mean" else gy / max(diff.size, 1)
        g = 2 * diff * scale
        return g, (-g if self.needs_input_grad[1] else None)

    def composite(self, prediction, target):
        diff = prediction - target
        return _reduce(diff * diff, None, self.reduction, diff.numel())


class BCEWithLogits(Function):
    """Binary cross-entropy on logits: max(x,0) - x*t + log(1 + exp(-|x|))."""

    def __init__(self, reduction, pos_weight=None) -> None:
        self.reduction, self.pos_weight = reduction, pos_weight

    def forward(self, x, t):
        if x.shape != t.shape:
            raise ValueError(f"binary_cross_entropy_with_logits: logits {tuple(x.shape)} and targets "
                             f"{tuple(t.shape)} must have the same shape")
        xp = self.xp
        softplus = xp.log1p(xp.exp(-xp.abs(x)))
        losses = xp.maximum(x, 0) - x * t + softplus
        self.save_for_backward(x, t)
        return xp.asarray(_reduce(losses, None, self.reduction, x.size), dtype=x.dtype)

    def backward(self, gy):
        x, t = self.saved
        xp = self.xp
        p = xp.tanh(x * 0.5) * 0.5 + 0.5
        scale = gy if self.reduction != "mean" else gy / max(x.size, 1)
        gx = (p - t) * scale if self.needs_input_grad[0] else None
        gt = -x * scale if self.needs_input_grad[1] else None
        return gx, gt

    def composite(self, x, t):
        from .reduction import logsumexp
        from .shape import stack

        # softplus(x) = log(exp(0) + exp(x)), smooth at 0 (max(x, 0) + log1p(exp(-|x|)) has kinks
        # whose one-sided derivatives are wrong there); logsumexp keeps it stable for large |x|.
        softplus = logsumexp(stack([x.xp.zeros(x.shape, x.dtype), x]), axis=0)
        return _reduce(softplus - x * t, None, self.reduction, x.numel())


class SmoothL1(Function):
    """Huber loss with threshold ``beta``; ``delta`` scales it to PyTorch's HuberLoss."""

    def __init__(self, reduction, beta, scale) -> None:
        self.reduction, self.beta, self.scale = reduction, beta, scale

    def forward(self, prediction, target):
        if prediction.shape != target.shape:
            raise ValueError(f"smooth_l1_loss: prediction {tuple(prediction.shape)} and target "
                             f"{tuple(target.shape)} must have the same shape")
        xp = self.xp
        diff = prediction - target
        a = xp.abs(diff)
        beta = self.beta
        losses = xp.where(a < beta, 0.5 * diff * diff / beta, a - 0.5 * beta) if beta > 0 else a
        self.save_for_backward(diff)
        return xp.asarray(_reduce(losses * self.scale, None, self.reduction, diff.size), dtype=diff.dtype)

    def backward(self, gy):
        (diff,) = self.saved
        xp = self.xp
        beta = self.beta
        g = xp.clip(diff / beta, -1, 1) if beta > 0 else xp.sign(diff)
        g = g * (self.scale * (gy if self.reduction != "mean" else gy / max(diff.size, 1)))
        return g, (-g if self.needs_input_grad[1] else None)

    def composite(self, prediction, target):
        from .arithmetic import where

        diff = prediction - target
        a = abs(diff)
        beta = self.beta
        losses = where(a.data < beta, 0.5 * diff * diff / beta, a - 0.5 * beta) if beta > 0 else a
        return _reduce(losses * self.scale, None, self.reduction, diff.numel())


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, received {reduction!r}")


def _labels(labels):
    data = unwrap(labels)
    return data if hasattr(data, "dtype") else np.asarray(data)


def _weighted_nll(name, logp, labels, weight, ignore_index, reduction):
    """PyTorch's class-weighted NLL, composed of differentiable operators: each loss scaled by
    its label's weight, the mean divided by the sum of those weights."""
    from ..tensor import Tensor
    from .shape import gather, squeeze

    keep = _check_labels(name, logp.data, labels, ignore_index)
    xp = logp.xp
    safe = xp.where(keep, labels, 0) if keep is not None else labels
    w = unwrap(weight)
    w = xp.asarray(w, dtype=logp.dtype)
    if w.shape != (logp.shape[1],):
        raise ValueError(f"{name}: weight must have one entry per class ({logp.shape[1]}), received shape {tuple(w.shape)}")
    scale = w[safe] if keep is None else w[safe] * keep
    losses = -squeeze(gather(logp, 1, xp.expand_dims(safe, 1)), 1) * Tensor(scale)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / float(scale.sum())


def cross_entropy(logits, labels, weight=None, *, ignore_index: int | None = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Cross-entropy of raw scores against integer class labels, fused with log-softmax.
    As PyTorch, labels equal to ``ignore_index`` (-100) count for nothing, and the mean is over
    the others.

    >>> loss = cross_entropy(model(x), y)            # logits (N, C), labels (N,) int64
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1), received {label_smoothing}")
    if weight is not None:
        if label_smoothing:
            raise NotImplementedError("cross_entropy: weight= together with label_smoothing is not implemented")
        from .activation import log_softmax

        return _weighted_nll("cross_entropy", log_softmax(logits, 1), _labels(labels), weight, ignore_index, reduction)
    return CrossEntropy(_labels(labels), reduction, label_smoothing, ignore_index).apply(logits)


def nll_loss(log_probs, labels, weight=None, *, ignore_index: int | None = -100, reduction: str = "mean"):
    """Negative log-likelihood of log-probabilities (``log_softmax`` output) at the labels;
    labels equal to ``ignore_index`` (-100) count for nothing, as PyTorch."""
    _check_reduction("nll_loss", reduction)
    if weight is not None:
        return _weighted_nll("nll_loss", log_probs, _labels(labels), weight, ignore_index, reduction)
    return NLL(_labels(labels), reduction, ignore_index).apply(log_probs)


def mse_loss(prediction, target, *, reduction: str = "mean"):
    """Mean squared error. ``mse_loss(y_hat, y)``"""
    _check_reduction("mse_loss", reduction)
    return MSE(reduction).apply(prediction, target)


def binary_cross_entropy_with_logits(logits, targets, weight=None, *, reduction: str = "mean", pos_weight=None):
    """Sigmoid + binary cross-entropy, stable for large logits."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    if weight is None and pos_weight is None:
        return BCEWithLogits(reduction).apply(logits, targets)
    # weighted form, composed: pos_weight scales the positive term, weight every element
    from .activation import softplus

    losses = softplus(-logits) * targets * (1.0 if pos_weight is None else pos_weight) + softplus(logits) * (1 - targets)
    if weight is not None:
        losses = losses * weight
    return _reduce_tensor(losses, reduction)


def _reduce_tensor(losses, reduction):
    return losses if reduction == "none" else (losses.sum() if reduction == "sum" else losses.mean())


class BinaryCrossEntropy(Function):
    """Element-wise -(t log p + (1 - t) log(1 - p)), each log clamped at -100, with PyTorch's
    gradient: finite at p = 0 and p = 1 (a sigmoid that saturates in float32), where the
    derivative of the clamped logs would be 0 x inf."""

    differentiable_backward = True

    def forward(self, p, t):
        self.save_for_backward(p, t)
        xp = self.xp
        with np.errstate(divide="ignore"):
            logs = t * xp.maximum(xp.log(p), -100.0) + (1 - t) * xp.maximum(xp.log(1 - p), -100.0)
        return (-logs).astype(p.dtype, copy=False)

    def backward(self, gy):
        p, t = self.saved
        xp = self.xp
        gp = gy * (p - t) / xp.maximum((1 - p) * p, 1e-12) if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):  # unclamped, as PyTorch's: infinite at p = 0 or 1
                gt = gy * (xp.log(1 - p) - xp.log(p))
        return gp, gt


def binary_cross_entropy(probabilities, targets, weight=None, *, reduction: str = "mean"):
    """Binary cross-entropy of probabilities (after a sigmoid); each log is clamped at -100, as PyTorch."""
    _check_reduction("binary_cross_entropy", reduction)
    losses = BinaryCrossEntropy().apply(probabilities, targets)
    if weight is not None:
        losses = losses * weight
    return _reduce_tensor(losses, reduction)


def l1_loss(prediction, target, *, reduction: str = "mean"):
    """Mean absolute error. ``l1_loss(y_hat, y)``"""
    from .arithmetic import abs as _abs

    _check_reduction("l1_loss", reduction)
    return _reduce_tensor(_abs(prediction - target), reduction)


def kl_div(log_input, target, *, reduction: str = "mean", log_target: bool = False):
    """KL divergence with PyTorch's convention: ``input`` holds log-probabilities, ``target``
    probabilities (log-probabilities with ``log_target``). ``reduction="batchmean"`` divides by N."""
    from .arithmetic import exp, log, where

    if reduction not in (*_REDUCTIONS, "batchmean"):
        raise ValueError(f"kl_div: reduction must be one of {(*_REDUCTIONS, 'batchmean')}, received {reduction!r}")
    if log_target:
        losses = exp(target) * (target - log_input)
    else:
        losses = where(target > 0, target * (log(where(target > 0, target, 1.0)) - log_input), 0.0)
    if reduction == "batchmean":
        return losses.sum() / log_input.shape[0]
    return _reduce_tensor(losses, reduction)


def smooth_l1_loss(prediction, target, *, reduction: str = "mean", beta: float = 1.0):
    """Quadratic below ``beta``, linear above (PyTorch's SmoothL1Loss)."""
    _check_reduction("smooth_l1_loss", reduction)
    return SmoothL1(reduction, beta, 1.0).apply(prediction, target)


def huber_loss(prediction, target, *, reduction: str = "mean", delta: float = 1.0):
    """Huber loss (PyTorch's HuberLoss): delta * smooth_l1 with beta = delta."""
    _check_reduction("huber_loss", reduction)
    return SmoothL1(reduction, delta, delta).apply(prediction, target)
