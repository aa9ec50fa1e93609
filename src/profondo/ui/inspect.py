"""Inspect a trained classifier: one image's top-5, the first layer's filters, every layer's
feature maps (DIGITS' "classify one"), and the confusion matrix with misclassified examples.

``net`` is a checkpoint's network as ``profondo predict`` loads it: ``.model``, ``.logits(x)``,
``.input_shape``, ``.classes``.
"""

from __future__ import annotations

import numpy as np

from ..train.monitor import feature_maps
from .images import png_data_uri

TOP = 5
MAX_MAPS = 64  # feature maps shown per layer
MISCLASSIFIED = 32


def _softmax(logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def _name(net, index: int) -> str:
    return str(net.classes[index]) if net.classes and index < len(net.classes) else str(index)


def _first_filters(model) -> dict | None:
    """The first convolution's filters as image tiles (one per output channel)."""
    from ..nn import Conv2d

    for name, module in model.named_modules():
        if isinstance(module, Conv2d):
            w = np.asarray(module.weight.data)
            scale = max(1, 48 // max(w.shape[-1], 1))
            # RGB filters as colour tiles, any other depth by its first channel
            tiles = [png_data_uri(f if f.shape[0] == 3 else f[:1], scale) for f in w]
            return {"layer": name, "shape": list(w.shape), "tiles": tiles}
    return None


def describe(net, x: np.ndarray, label: int | None = None) -> dict:
    """Top-5 of one image (C, H, W), the first layer's filters and the feature maps of each layer
    whose output is a volume."""
    x = np.asarray(x, np.float32).reshape(net.input_shape)
    probs = _softmax(net.logits(x[None])[0])
    top = np.argsort(probs)[::-1][:TOP]
    result = {"input": png_data_uri(x, max(1, 112 // max(x.shape[-1], 1))), "label": label,
              "label_name": None if label is None else _name(net, label),
              "top": [{"class": int(i), "name": _name(net, int(i)), "p": float(probs[i])} for i in top],
              "filters": _first_filters(net.model), "layers": []}
    for name, maps in feature_maps(net.model, x[None]):  # (1, C, H, W) each: one tile per channel
        maps = np.asarray(maps)[0]
        scale = max(1, 56 // max(maps.shape[-1], 1))
        result["layers"].append({"name": str(name), "shape": list(maps.shape), "count": int(maps.shape[0]),
                                 "maps": [png_data_uri(m, scale) for m in maps[:MAX_MAPS]]})
    return result


def confusion(net, test, limit: int = 2000) -> dict:
    """The confusion matrix over the first ``limit`` test images, and misclassified examples."""
    from ..train import confusion_matrix

    n = min(int(limit) or len(test), len(test))
    x, labels = np.asarray(test.x[:n], np.float32), np.asarray(test.y[:n])
    logits = np.concatenate([net.logits(x[i:i + 500]) for i in range(0, n, 500)])
    predicted = logits.argmax(axis=1)
    matrix = confusion_matrix(predicted, labels, logits.shape[1])
    wrong = np.flatnonzero(predicted != labels)[:MISCLASSIFIED]
    probs = _softmax(logits[wrong]) if len(wrong) else np.zeros((0, logits.shape[1]))
    examples = [{"index": int(i), "label": _name(net, int(labels[i])), "predicted": _name(net, int(predicted[i])),
                 "p": float(p[predicted[i]]), "image": png_data_uri(x[i], max(1, 56 // max(x.shape[-1], 1)))}
                for i, p in zip(wrong, probs)]
    return {"images": n, "accuracy": float((predicted == labels).mean()) if n else None,
            "classes": [_name(net, i) for i in range(logits.shape[1])], "matrix": matrix.tolist(),
            "misclassified": examples}
