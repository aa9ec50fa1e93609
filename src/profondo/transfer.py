"""Transfer learning: fine-tune a trained network on new classes, or reuse its activations.

Fine-tuning replaces the output layer with a fresh one for the new classes, optionally
freezes the layers up to a named one (frozen batch-norm layers keep normalising with, and
keep, their running statistics) and gives layers learning-rate multipliers through the
optimizer's parameter groups::

    model, _ = profondo.io.model.load_model("runs/lenet5-mnist/best.ckpt")
    model, groups = prepare_finetune(model, num_classes=10, freeze="conv1", lr_mult={"conv2": 0.1})
    Trainer(model, profondo.optim.Adam(groups, lr=1e-3)).fit(loader, epochs=5)

Feature reuse runs a network up to a named layer and trains a classifier on the
activations: :class:`LogisticRegression` (profondo's own) or :func:`linear_svm` (scikit-learn)::

    x_train = extract_features(model, "fc1", train_images)
    head = LogisticRegression().fit(x_train, train_labels)
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from . import functional as F
from .autograd import no_grad, unwrap
from .nn import BatchNorm1d, BatchNorm2d, Linear, Module
from .nn.graph import Graph
from .tensor import Tensor

# --- finding and replacing layers ------------------------------------------------------------


def layer_names(model: Module) -> list[str]:
    """Dotted names of every layer and block of ``model``, in registration order.

    >>> layer_names(architecture.zoo.load("lenet5"))[:3]
    ['conv1', 'conv1_relu', 'pool1']
    """
    return [name for name, _ in model.named_modules() if name]


def _unknown(model: Module, name: str, what: str | None = None) -> KeyError:
    names = layer_names(model)
    shown = ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40 else "")
    return KeyError(f"{what or f'no layer named {name!r}'} in the {type(model).__name__}; its layers: {shown}")


def get_layer(model: Module, name: str) -> Module:
    """The sub-module called ``name`` ("fc1", "_blocks.3._bn1"), with an error listing the names.

    >>> get_layer(net, "fc3").out_features
    10
    """
    modules = dict(model.named_modules())
    if not name or name not in modules:
        raise _unknown(model, name)
    return modules[name]


def replace_layer(model: Module, name: str, new: Module) -> Module:
    """Put ``new`` in place of the layer ``name``; returns the model (a new object only when the
    layer is a node of a root Graph, which is rebuilt with the same nodes and outputs).

    >>> model = replace_layer(model, "fc3", Linear(84, 5))
    """
    get_layer(model, name)
    parent_name, _, child = name.rpartition(".")
    parent = get_layer(model, parent_name) if parent_name else model
    if isinstance(parent, Graph):  # a Graph keeps its run order with the modules: rebuild it
        rebuilt = Graph([(n, new if n == child else m, ins) for n, m, ins in parent.nodes], parent.outputs)
        if hasattr(parent, "spec"):
            rebuilt.spec = parent.spec
        rebuilt.train(parent.training)
        return rebuilt if not parent_name else replace_layer(model, parent_name, rebuilt)
    parent.add_module(child, new)
    return model


def head_name(model: Module) -> str:
    """The name of the output layer: the last Linear in registration order.

    >>> head_name(architecture.zoo.load("lenet5"))
    'fc3'
    """
    linears = [name for name, m in model.named_modules() if name and isinstance(m, Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear layer to use as the output layer: pass head=NAME")
    return linears[-1]


def replace_head(model: Module, num_classes: int, head: str | None = None) -> Module:
    """Swap the output layer (default: the last Linear) for a randomly initialised Linear with
    ``num_classes`` outputs and the same inputs, bias and initialisation scheme; every other
    weight is kept as it is. Returns the model (see :func:`replace_layer`).

    >>> model = replace_head(model, 5)          # LeNet-5: fc3 becomes Linear(84, 5)
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"replace_head: num_classes must be a positive integer, received {num_classes!r}")
    head = head or head_name(model)
    old = get_layer(model, head)
    if not isinstance(old, Linear):
        raise TypeError(f"replace_head: layer {head!r} is a {type(old).__name__}, expected a Linear output layer")
    new = Linear(old.in_features, int(num_classes), old.bias is not None, old.init)
    new.to(old.weight.device)
    new.train(old.training)
    return replace_layer(model, head, new)


# --- freezing ----------------------------------------------------------------------------


def _leaves(model: Module) -> list[tuple[str, Module]]:
    return [(name, m) for name, m in model.named_modules() if not m._modules]


def freeze_until(model: Module, layer: str, inclusive: bool = True) -> list[str]:
    """Freeze every layer from the input up to ``layer`` (a layer or a block; included unless
    ``inclusive=False``): their parameters stop requiring gradients, and batch-norm layers
    among them compute in evaluation mode from then on, even after ``model.train()``, so
    their running statistics stay as trained. Returns the frozen layers' names.

    >>> freeze_until(model, "conv2")
    ['conv1', 'conv1_relu', 'pool1', 'conv2']
    """
    leaves = _leaves(model)
    hits = [i for i, (name, _) in enumerate(leaves) if name == layer or name.startswith(layer + ".")]
    if not layer or not hits:
        raise _unknown(model, layer)
    last = hits[-1] if inclusive else hits[0] - 1
    frozen = leaves[: last + 1]
    frozen_ids = {id(p) for _, m in frozen for p in m.parameters()}
    if all(id(p) in frozen_ids or not p.requires_grad for p in model.parameters()):
        raise ValueError(f"freezing up to {layer!r} leaves no parameter to train; freeze fewer layers")
    for _, m in frozen:
        for p in m.parameters():
            p.requires_grad = False
        if isinstance(m, (BatchNorm1d, BatchNorm2d)):
            m.frozen_stats = True
    return [name for name, _ in frozen]


def unfreeze(model: Module) -> None:
    """Undo :func:`freeze_until`: every parameter trains again, batch norm follows train()/eval()."""
    for m in model.modules():
        for p in m._parameters.values():
            if p is not None:
                p.requires_grad = True
        if isinstance(m, (BatchNorm1d, BatchNorm2d)):
            m.frozen_stats = False


# --- learning-rate multipliers and parameter groups ---------------------------------------


def _layer_of(param_name: str) -> str:
    return param_name.rpartition(".")[0]


def _matches(layer: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(layer, pattern) or layer.startswith(pattern + ".")


def param_groups(model: Module, lr_mult: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """Optimizer parameter groups: one per (learning-rate multiplier, frozen) pair.

    ``lr_mult`` maps layer names or shell patterns ("conv*", "_blocks.1*") to multipliers of
    the optimizer's ``lr``; a later entry overrides an earlier one, unmatched layers get 1.
    Parameters that do not require gradients (frozen) form groups with ``frozen: True``,
    which the optimizer skips.

    >>> opt = profondo.optim.SGD(param_groups(model, {"conv*": 0.1}), lr=0.01, momentum=0.9)
    """
    lr_mult = dict(lr_mult or {})
    named = list(model.named_parameters())
    layers = {_layer_of(n) for n, _ in named}
    for pattern, mult in lr_mult.items():
        if not any(_matches(layer, pattern) for layer in layers):
            raise _unknown(model, pattern, f"no layer matches the lr_mult pattern {pattern!r}")
        if not (isinstance(mult, (int, float)) and mult >= 0):
            raise ValueError(f"lr_mult[{pattern!r}] must be a number >= 0, received {mult!r}")
    groups: dict[tuple[float, bool], list] = {}
    for name, p in named:
        mult = 1.0
        for pattern, m in lr_mult.items():
            if _matches(_layer_of(name), pattern):
                mult = float(m)
        groups.setdefault((mult, not p.requires_grad), []).append(p)
    return [{"params": ps, "lr_mult": mult, "frozen": frozen} for (mult, frozen), ps in groups.items()]


def prepare_finetune(model: Module, num_classes: int, freeze: str | None = None,
                     lr_mult: Mapping[str, float] | None = None, head: str | None = None) -> tuple[Module, list[dict]]:
    """Replace the head for ``num_classes``, freeze up to ``freeze``, and build parameter groups
    with ``lr_mult``. Returns ``(model, groups)``: pass the groups to an optimizer.

    >>> model, groups = prepare_finetune(model, 10, freeze="conv1", lr_mult={"conv2": 0.1})
    >>> optimizer = profondo.optim.Adam(groups, lr=1e-3)
    """
    model = replace_head(model, num_classes, head)
    if freeze:
        freeze_until(model, freeze)
    return model, param_groups(model, lr_mult)


# --- feature extraction ---------------------------------------------------------------------


class _Reached(Exception):
    def __init__(self, value) -> None:
        self.value = value


def forward_to(model: Module, layer: str, x) -> Tensor:
    """The output of ``layer`` when ``model`` runs on ``x``; the rest of the forward is skipped.

    >>> forward_to(model, "fc1", batch).shape
    (64, 120)
    """
    target = get_layer(model, layer)
    run = target.forward

    def capture(*args, **kwargs):
        raise _Reached(run(*args, **kwargs))

    target.forward = capture
    try:
        model(x)
    except _Reached as reached:
        return reached.value
    finally:
        del target.forward
    raise ValueError(f"layer {layer!r} ({type(target).__name__}) is not used by the {type(model).__name__}'s forward")


def _batches(data, batch_size: int) -> Iterable[np.ndarray]:
    if isinstance(data, np.ndarray):
        return (data[i: i + batch_size] for i in range(0, len(data), batch_size))
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not hasattr(data, "batch_size"):
        from .data import DataLoader

        data = DataLoader(data, batch_size, shuffle=False)
    return (unwrap(batch[0] if isinstance(batch, (tuple, list)) else batch) for batch in data)


def extract_features(model: Module, layer: str, data, batch_size: int = 256,
                     transform: Callable[[np.ndarray], np.ndarray] | None = None, flatten: bool = True,
                     progress: bool = True, device=None) -> np.ndarray:
    """Activations of ``layer`` for every sample of ``data`` (an array of inputs, a dataset of
    ``(x, y)`` or a loader), in order, in eval mode without gradients, batch by batch.
    ``transform`` maps each input batch first (e.g. resizing); ``flatten`` gives (N, features).

    >>> x_train = extract_features(model, "fc1", load_dataset("fashion-mnist", "train"))
    >>> x_train.shape
    (60000, 120)
    """
    from .backend import CPU, move
    from .backend import device as parse_device
    from .train.progress import ProgressBar

    get_layer(model, layer)
    dev = parse_device(device)
    n_batches = -(-len(data) // batch_size) if not hasattr(data, "batch_size") else len(data)
    bar = ProgressBar(n_batches, f"features {layer}", enabled=progress)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    out = []
    try:
        with no_grad():
            for x in _batches(data, batch_size):
                x = transform(x) if transform is not None else x
                y = forward_to(model, layer, Tensor(move(np.asarray(x), dev) if dev.type != "cpu" else np.asarray(x)))
                y = move(y.data, CPU)
                out.append(y.reshape(len(y), -1) if flatten else y)
                bar.update(1, len(y))
    finally:
        for m, training in modes.items():
            m.__dict__["training"] = training
        bar.close()
    return np.concatenate(out) if out else np.zeros((0,), np.float32)


# --- classifiers on features ------------------------------------------------------------------


class LogisticRegression:
    """Multinomial logistic regression (softmax regression) trained with profondo: a Linear
    layer on standardised features, cross-entropy, L2 ``weight_decay``, Adam on mini-batches.

    >>> head = LogisticRegression(epochs=50).fit(x_train, y_train)
    >>> head.score(x_test, y_test)
    0.81
    """

    def __init__(self, weight_decay: float = 1e-3, epochs: int = 100, lr: float = 0.01, batch_size: int = 128,
                 standardize: bool = True, seed: int = 0) -> None:
        self.weight_decay, self.epochs, self.lr, self.batch_size = weight_decay, epochs, lr, batch_size
        self.standardize, self.seed = standardize, seed
        self.linear: Linear | None = None

    def _standardized(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, np.float32).reshape(len(x), -1) - self.mean_) / self.scale_

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogisticRegression:
        """Train on features ``x`` (N, D) and labels ``y`` (N,); returns self."""
        from .optim import Adam
        from .train.step import TrainStep

        x = np.asarray(x, np.float32).reshape(len(x), -1)
        y = np.asarray(y)
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"LogisticRegression.fit: expected as many labels as samples (> 0), received "
                             f"{len(x)} samples and {len(y)} labels")
        self.classes_, targets = np.unique(y, return_inverse=True)
        targets = targets.astype(np.int64)
        if self.standardize:
            self.mean_ = x.mean(0, dtype=np.float64).astype(np.float32)
            self.scale_ = x.std(0, dtype=np.float64).astype(np.float32) + np.float32(1e-6)
        else:
            self.mean_, self.scale_ = np.float32(0), np.float32(1)
        inputs = self._standardized(x)
        self.linear = Linear(x.shape[1], len(self.classes_))
        for p in self.linear.parameters():
            p.data[...] = 0  # a convex problem: start from zero, the result does not depend on a seed
        train_step = TrainStep(self.linear, Adam(self.linear.parameters(), self.lr, weight_decay=self.weight_decay),
                               F.cross_entropy)
        rng = np.random.default_rng(self.seed)
        for _ in range(self.epochs):
            order = rng.permutation(len(x))
            for i in range(0, len(x), self.batch_size):
                idx = order[i: i + self.batch_size]
                train_step(Tensor(inputs[idx]), target=Tensor(targets[idx]))
        with no_grad():
            self.loss_ = F.cross_entropy(self.linear(Tensor(inputs)), Tensor(targets)).item()
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Class scores (logits), (N, classes)."""
        if self.linear is None:
            raise RuntimeError("LogisticRegression: call fit() first")
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        if x.shape[1] != self.linear.in_features:
            raise ValueError(f"LogisticRegression: fitted on {self.linear.in_features} features, received "
                             f"{x.shape[1]}")
        with no_grad():
            return self.linear(Tensor(self._standardized(x))).numpy()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        with no_grad():
            return F.softmax(Tensor(self.decision_function(x)), 1).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        scores = self.decision_function(x)  # first: it checks that fit() was called
        return self.classes_[scores.argmax(1)]

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        """Accuracy on (x, y)."""
        return float((self.predict(x) == np.asarray(y)).mean())


def linear_svm(C: float = 1.0):
    """A linear SVM (scikit-learn's LinearSVC after standardising the features), with
    scikit-learn's fit/predict/score. Needs the ``sklearn`` extra.

    >>> linear_svm(C=0.1).fit(x_train, y_train).score(x_test, y_test)
    """
    try:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC
    except ImportError:
        raise ImportError("the SVM classifier needs scikit-learn: pip install scikit-learn "
                          "(or pip install profondo[sklearn])") from None
    return make_pipeline(StandardScaler(), LinearSVC(C=C, max_iter=5000))
