"""Inference on small devices: frozen NumPy-only plans, int8 quantization.

>>> from profondo.edge import freeze, quantize, EdgeModel
>>> edge = freeze(profondo.architecture.zoo.load("lenet5"))  # batch norm folded, dropout gone
>>> int8 = quantize(edge, calibration_images)               # per-channel int8 weights
>>> int8.save("lenet5-int8.edge"); EdgeModel.load("lenet5-int8.edge")(x)
"""

from ..backend import conv as _conv_settings
from ..kernels import cpu_conv as _cpu_conv
from . import runtime as _runtime
from .freeze import freeze
from .quantize import quantize
from .runtime import EdgeModel, PlanError

# Inside profondo a frozen plan's convolutions may also run as the CPU kernels' batch blocks.
_runtime.CONV_BLOCKS = {"forward": _cpu_conv.forward_blocked,
                        "settings": lambda: (_conv_settings.forward, _conv_settings.benchmark)}

__all__ = ["EdgeModel", "PlanError", "freeze", "quantize"]
