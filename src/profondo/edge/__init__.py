"""Inference on small devices: frozen NumPy-only plans, int8 quantization.

>>> from profondo.edge import freeze, quantize, EdgeModel
>>> edge = freeze(profondo.architecture.zoo.load("lenet5"))  # batch norm folded, dropout gone
>>> int8 = quantize(edge, calibration_images)               # per-channel int8 weights
>>> int8.save("lenet5-int8.edge"); EdgeModel.load("lenet5-int8.edge")(x)
"""

from .freeze import freeze
from .quantize import quantize
from .runtime import EdgeModel, PlanError

__all__ = ["EdgeModel", "PlanError", "freeze", "quantize"]
