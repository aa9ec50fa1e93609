"""Layers and networks: Module, Parameter, containers, layers and initialisers (PyTorch's names).

>>> import profondo.nn as nn
>>> net = nn.Sequential(nn.Linear(2, 32, init="he_normal"), nn.ReLU(), nn.Linear(32, 2))
"""

from . import functional, init, utils
from .activation import Identity, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .efficientnet import EfficientNetLite0, efficientnet_lite0
from .embedding import Embedding
from .flatten import Flatten
from .graph import Add, Concat, Graph
from .linear import Linear
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .lrn import LocalResponseNorm
from .module import IncompatibleKeys, Module
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, Recurrent, RNNCell, has_recurrent, sequence_mask
from .upsampling import Upsample

__all__ = ["Add", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Concat", "Conv2d", "Dropout", "Embedding", "Flatten",
           "GlobalAvgPool2d", "Graph", "Identity", "IncompatibleKeys", "LeakyReLU", "Linear", "LogSoftmax", "MaxPool2d",
           "Module", "ModuleList", "Parameter", "ReLU", "ReLU6", "Sequential", "Sigmoid", "Softmax", "Tanh", "init",
           "GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "Recurrent", "RNNCell", "has_recurrent", "sequence_mask",
           "EfficientNetLite0", "efficientnet_lite0", "ModuleDict", "AdaptiveAvgPool2d", "functional", "utils",
           "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss", "NLLLoss",
           "SmoothL1Loss", "LocalResponseNorm", "Upsample"]
