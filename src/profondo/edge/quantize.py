"""Post-training int8 quantization of a frozen plan (NumPy only, like the runtime).

Weights of every conv and linear step become int8 codes with one scale per output channel
(symmetric: ``scale = max|w| / 127``). The input of each such step is quantized to 8 bits
with a scale and zero point calibrated on sample inputs: the float plan runs on them, and the
range of each step's input (min/max over the calibration set, widened to contain 0 so that
zero padding is exact) sets ``scale = (max - min) / 255``. Biases stay float32, and so do
the values between layers (pooling, activations, additions): each quantized layer reads
float32, quantizes, multiplies the integer codes and rescales.

>>> int8 = quantize(freeze(model), train_images[:1000])
>>> int8.save("model-int8.edge")
"""

from __future__ import annotations

import copy

import numpy as np

from .runtime import EdgeModel, PlanError

QUANTIZED_OPS = ("conv", "linear")


def quantize_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 codes and scales: ``w ~= codes * scale[:, None, ...]``.

    >>> codes, scale = quantize_weights(np.array([[0.5, -1.0], [0.2, 0.1]], np.float32))
    >>> codes
    array([[  64, -127], [ 127,   64]], dtype=int8)
    """
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    peak = np.abs(flat).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0)
    codes = np.clip(np.rint(flat / scale[:, None]), -127, 127).astype(np.int8)
    return codes.reshape(w.shape), scale.astype(np.float32)


def activation_params(low: float, high: float) -> dict[str, float]:
    """Asymmetric 8-bit parameters for values in [low, high] (0 always representable exactly)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = (high - low) / 255.0 if high > low else 1.0
    return {"scale": scale, "zero": int(round(-low / scale))}


def quantize(model: EdgeModel, calibration: np.ndarray, batch_size: int = 256) -> EdgeModel:
    """An int8 copy of a float32 :class:`EdgeModel`, its activation ranges calibrated on
    ``calibration`` (a few hundred to a few thousand representative inputs).

    >>> int8 = quantize(freeze(net), x_train[:2000])
    >>> (int8(x_test).argmax(1) == y_test).mean()
    """
    if model.precision != "float32":
        raise PlanError(f"quantize: expected a float32 plan, received an {model.precision} one")
    calibration = np.asarray(calibration, np.float32)
    if calibration.ndim != len(model.input_shape) + 1 or calibration.shape[1:] != model.input_shape or \
            not len(calibration):
        raise PlanError(f"quantize: expected calibration inputs of shape (N, {', '.join(map(str, model.input_shape))})"
                        f" with N >= 1, received {calibration.shape}")
    steps = [s for s in model.plan["steps"] if s["op"] in QUANTIZED_OPS]
    watched = sorted({s["inputs"][0] for s in steps})
    low = dict.fromkeys(watched, np.inf)
    high = dict.fromkeys(watched, -np.inf)
    for start in range(0, len(calibration), batch_size):
        slots = model.trace(calibration[start:start + batch_size])
        for i in watched:
            low[i] = min(low[i], float(slots[i].min()))
            high[i] = max(high[i], float(slots[i].max()))
    model.release()

    plan = copy.deepcopy(model.plan)
    arrays = dict(model.arrays)
    for s in plan["steps"]:
        if s["op"] not in QUANTIZED_OPS:
            continue
        name = s["params"]["weight"]
        codes, scale = quantize_weights(model.arrays[name])
        arrays[name] = codes
        arrays[f"{name}_scale"] = scale
        s["params"]["weight_scale"] = f"{name}_scale"
        s["quant"] = activation_params(low[s["inputs"][0]], high[s["inputs"][0]])
    plan["precision"] = "int8"
    return EdgeModel(plan, arrays)
