"""Stateless operators, one file per kind. Every function takes and returns Tensors."""

from .activation import leaky_relu, log_softmax, relu, relu6, sigmoid, softmax, tanh
from .arithmetic import (
                         abs,
                         add,
                         cast,
                         clip,
                         div,
                         exp,
                         linear,
                         log,
                         matmul,
                         maximum,
                         minimum,
                         mul,
                         neg,
                         pow,
                         sqrt,
                         sub,
                         where,
)
from .conv import conv2d, output_size
from .dropout import dropout
from .embedding import embedding
from .loss import binary_cross_entropy_with_logits, cross_entropy, huber_loss, mse_loss, nll_loss, smooth_l1_loss
from .normalization import batch_norm, local_response_norm
from .pooling import avg_pool2d, global_avg_pool2d, max_pool2d
from .recurrent import gru_cell, gru_sequence, lstm_cell, lstm_sequence, rnn_cell, rnn_sequence
from .reduction import argmax, argmin, logsumexp, max, mean, min, sum, var
from .shape import (
                         broadcast_to,
                         cat,
                         chunk,
                         concat,
                         flatten,
                         gather,
                         getitem,
                         pad,
                         permute,
                         reshape,
                         split,
                         squeeze,
                         stack,
                         transpose,
                         unsqueeze,
)

clamp = clip


__all__ = ["gru_cell", "gru_sequence", "lstm_cell", "lstm_sequence", "rnn_cell", "rnn_sequence", 'abs', 'add', 'argmax', 'argmin', 'avg_pool2d', 'batch_norm', 'binary_cross_entropy_with_logits', 'broadcast_to', 'cast', 'cat', 'chunk', 'clamp', 'clip', 'concat', 'conv2d', 'cross_entropy', 'div', 'dropout', 'embedding', 'exp', 'flatten', 'gather', 'getitem', 'global_avg_pool2d', 'huber_loss', 'leaky_relu', 'linear', 'local_response_norm', 'log', 'log_softmax', 'logsumexp', 'matmul', 'max', 'max_pool2d', 'maximum', 'mean', 'min', 'minimum', 'mse_loss', 'mul', 'neg', 'nll_loss', 'output_size', 'pad', 'permute', 'pow', 'relu', 'relu6', 'reshape', 'sigmoid', 'smooth_l1_loss', 'softmax', 'split', 'sqrt', 'squeeze', 'stack', 'sub', 'sum', 'tanh', 'transpose', 'unsqueeze', 'var', 'where']
