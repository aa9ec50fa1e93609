"""Stateless operators, one file per kind. Every function takes and returns Tensors."""

from types import ModuleType as _ModuleType

from .activation import elu, gelu, leaky_relu, log_softmax, relu, relu6, sigmoid, silu, softmax, softplus, tanh
from .arithmetic import (
                         abs,
                         add,
                         bmm,
                         cast,
                         clip,
                         div,
                         einsum,
                         exp,
                         floor_divide,
                         linear,
                         log,
                         masked_fill,
                         matmul,
                         maximum,
                         minimum,
                         mm,
                         mul,
                         neg,
                         pow,
                         remainder,
                         sqrt,
                         sub,
                         where,
)
from .conv import conv2d, output_size
from .dropout import dropout
from .embedding import embedding, one_hot
from .loss import (
                         binary_cross_entropy,
                         binary_cross_entropy_with_logits,
                         cross_entropy,
                         huber_loss,
                         kl_div,
                         l1_loss,
                         mse_loss,
                         nll_loss,
                         smooth_l1_loss,
)
from .normalization import batch_norm, local_response_norm
from .pooling import adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d
from .recurrent import gru_cell, gru_sequence, lstm_cell, lstm_sequence, rnn_cell, rnn_sequence
from .reduction import (
                         all,
                         amax,
                         amin,
                         any,
                         argmax,
                         argmin,
                         cumsum,
                         logsumexp,
                         max,
                         mean,
                         min,
                         norm,
                         prod,
                         std,
                         sum,
                         var,
)
from .shape import (
                         argsort,
                         broadcast_to,
                         cat,
                         chunk,
                         clone,
                         concat,
                         concatenate,
                         flatten,
                         flip,
                         gather,
                         getitem,
                         index_select,
                         pad,
                         permute,
                         repeat,
                         reshape,
                         sort,
                         split,
                         squeeze,
                         stack,
                         topk,
                         transpose,
                         unbind,
                         unsqueeze,
)
from .upsampling import interpolate

clamp = clip


__all__ = sorted(name for name, value in dict(globals()).items()
                 if not name.startswith("_") and not isinstance(value, _ModuleType) and name != "annotations")
