"""Optimizers (PyTorch's update rules), learning-rate schedules and gradient clipping.

>>> opt = profondo.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> sched = profondo.optim.lr_scheduler.StepLR(opt, step_size=10)
"""

from ..nn.utils import clip_grad_norm_, clip_grad_value_  # their home is nn.utils, as in PyTorch
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearWarmup,
    LRScheduler,
    ReduceLROnPlateau,
    StepLR,
)
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LinearWarmup",
           "Optimizer", "RMSprop", "ReduceLROnPlateau", "StepLR", "clip_grad_norm_", "clip_grad_value_",
           "lr_scheduler"]
