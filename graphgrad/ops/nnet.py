"""Neural-network ops: softmax, log-softmax, and the cross-entropy losses with their fused,
numerically stable forms (which the compile rewrites substitute for the naive compositions)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import NO_GRADIENT, Apply, Op, Variable
from ..types import InputTypeError, ShapeError, TensorType
from .basic import as_tensor
from .indexing import unsigned
from .elemwise import Elemwise, log, log1p, maximum, sigmoid, stable_softplus


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))  # shifting by the max keeps exp from overflowing
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class _LastAxis(Op):
    def make_node(self, x: Any) -> Apply:
        x = as_tensor(x)
        if x.ndim < 1 or x.dtype.kind != "f":
            raise InputTypeError(f"{self.label()}({x.label()}): needs a float tensor of at least 1 dim, "
                                 f"got {x.type.describe()}")
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)])


class Softmax(_LastAxis):
    """exp(x) / sum(exp(x)) over the last axis, shifted by the max for stability."""

    def perform(self, x: np.ndarray) -> np.ndarray:
        return _softmax(x)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [SoftmaxGrad()(outputs[0], g_outputs[0])]


class SoftmaxGrad(Op):
    """y * (g - sum(g * y)) over the last axis, for y = softmax(x)."""

    def make_node(self, y: Variable, g: Variable) -> Apply:
        return Apply(self, [y, g], [TensorType(y.dtype, y.type.shape)])

    def perform(self, y: np.ndarray, g: np.ndarray) -> np.ndarray:
        return y * (g - (g * y).sum(axis=-1, keepdims=True))

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        (y, g), (h,) = inputs, g_outputs
        s = (g * y).sum(axis=-1, keepdims=True)
        hy = (h * y).sum(axis=-1, keepdims=True)
        return [h * (g - s) - g * hy, SoftmaxGrad()(y, h)]


class LogSoftmax(_LastAxis):
    """log(softmax(x)) computed without forming the softmax."""

    def perform(self, x: np.ndarray) -> np.ndarray:
        return _log_softmax(x)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        (g,) = g_outputs
        return [g - Softmax()(inputs[0]) * g.sum(axis=-1, keepdims=True)]


#: The naive log-loss on probabilities clamps each log at -100 and its gradient's denominator at
#: 1e-12 (PyTorch's convention): at p in {0, 1} the loss is 0 for the matching target and 100 for
#: the wrong one, never inf or NaN, and the gradient stays finite. From logits, the stable rewrite
#: computes the exact value instead.
LOG_FLOOR, DENOMINATOR_FLOOR = -100.0, 1e-12


class BinaryCrossentropy(Elemwise):
    """-(t log p + (1 - t) log(1 - p)) for probabilities p and targets t (logs clamped at -100)."""

    def label(self) -> str:
        return "binary_crossentropy"

    def perform(self, p: Any, t: Any) -> Any:
        with np.errstate(divide="ignore"):  # log(0) = -inf is clamped
            return -(t * np.maximum(np.log(p), LOG_FLOOR) + (1 - t) * np.maximum(np.log1p(-p), LOG_FLOOR))

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (p, t), (g,) = inputs, g_outputs
        return [BinaryCrossentropyGrad()(p, t, g), g * (maximum(log1p(-p), LOG_FLOOR) - maximum(log(p), LOG_FLOOR))]


class BinaryCrossentropyGrad(Elemwise):
    """g * (p - t) / (p (1 - p)): d(log-loss)/dp as one node, so the stable rewrite can find it."""
    nin = 3

    def perform(self, p: Any, t: Any, g: Any) -> Any:
        return g * (p - t) / np.maximum(p * (1 - p), DENOMINATOR_FLOOR)

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (p, t, g), (h,) = inputs, g_outputs
        denominator = p * (1 - p)
        d_p = (denominator - (p - t) * (1 - 2 * p)) / (denominator * denominator)
        return [h * g * d_p, -h * g / denominator, h * (p - t) / denominator]


class SigmoidBinaryCrossentropy(Elemwise):
    """binary_crossentropy(sigmoid(z), t) = softplus(z) - t z, finite for any z."""

    def label(self) -> str:
        return "sigmoid_binary_crossentropy"

    def perform(self, z: Any, t: Any) -> Any:
        return stable_softplus(z) - t * z

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (z, t), (g,) = inputs, g_outputs
        return [g * (sigmoid(z) - t), -g * z]


def _check_labels(p: Variable, labels: Variable, where: str) -> None:
    if labels.dtype.kind not in "iu" or labels.ndim != p.ndim - 1:
        raise InputTypeError(f"{where}: labels {labels.label()} must be an integer tensor with one dim fewer than "
                             f"{p.label()} ({p.ndim}-d), got {labels.type.describe()}")
    if p.type.shape[0] is not None and labels.type.shape and labels.type.shape[0] is not None \
            and p.type.shape[0] != labels.type.shape[0]:
        raise ShapeError(f"{where}: {p.label()} has {p.type.shape[0]} rows but {labels.label()} has "
                         f"{labels.type.shape[0]} labels")


def _check_label_range(labels: np.ndarray, n_classes: int) -> None:
    # Gradient rules check too: when the loss value is not needed they are the only ones to see
    # the labels, and put_along_axis would wrap a negative label.
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise IndexError(f"labels must be in [0, {n_classes}), got values from {labels.min()} to {labels.max()}")


def _label_positions(x: np.ndarray, labels: np.ndarray) -> tuple:
    """The index of each row's label entry in ``x``, for a fancy index that raises IndexError on a
    label outside ``[0, classes)`` (the callers then name it as given)."""
    if labels.shape != x.shape[:-1]:
        raise ValueError(f"labels of shape {labels.shape} for probabilities of shape {x.shape}")
    if labels.ndim != 1:
        _check_label_range(labels, x.shape[-1])
        return tuple(np.indices(labels.shape, sparse=True)) + (labels,)
    # Unsigned labels: the caller's fancy index then rejects negative ones with the rest (and
    # unsigned() itself rejects negative 64-bit labels).
    return np.arange(len(labels)), unsigned(labels)


def _pick(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """x[i, labels[i]] for each row i, with labels checked against the class count."""
    try:
        return x[_label_positions(x, labels)]
    except IndexError:
        _check_label_range(labels, x.shape[-1])
        raise


def _minus_onehot_into(out: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``out`` with 1 subtracted at each row's label (in place)."""
    try:
        out[_label_positions(out, labels)] -= 1
    except IndexError:
        _check_label_range(labels, out.shape[-1])
        raise
    return out


class CategoricalCrossentropy(Op):
    """-log(p[i, labels[i]]) per row, for probabilities p and integer labels."""

    def label(self) -> str:
        return "categorical_crossentropy"

    def make_node(self, p: Any, labels: Any) -> Apply:
        p, labels = as_tensor(p), as_tensor(labels)
        _check_labels(p, labels, f"categorical_crossentropy({p.label()}, {labels.label()})")
        return Apply(self, [p, labels], [TensorType(p.dtype, p.type.shape[:-1])])

    def perform(self, p: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return -np.log(_pick(p, labels))

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        p, labels = inputs
        return [CategoricalCrossentropyGrad()(p, labels, g_outputs[0]), NO_GRADIENT]


class CategoricalCrossentropyGrad(Op):
    """Zeros except -g / p at each row's label: d(loss)/dp."""

    def make_node(self, p: Variable, labels: Variable, g: Variable) -> Apply:
        return Apply(self, [p, labels, g], [TensorType(p.dtype, p.type.shape)])

    def perform(self, p: np.ndarray, labels: np.ndarray, g: np.ndarray) -> np.ndarray:
        # Not -onehot * g / p: a zero probability off the label would give 0 * inf = nan.
        out = np.zeros(np.shape(p), dtype=np.result_type(p, g))
        out[_label_positions(out, labels)] = -(np.asarray(g) / _pick(p, labels))
        return out


class SoftmaxCrossentropy(Op):
    """categorical_crossentropy(softmax(x), labels) from the logits, via log-softmax: finite for any x."""

    def label(self) -> str:
        return "softmax_crossentropy"

    def make_node(self, x: Variable, labels: Variable) -> Apply:
        return Apply(self, [x, labels], [TensorType(x.dtype, x.type.shape[:-1])])

    def perform(self, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return -_pick(_log_softmax(x), labels)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        x, labels = inputs
        return [SoftmaxCrossentropyGrad()(x, labels, g_outputs[0]), NO_GRADIENT]


class SoftmaxCrossentropyGrad(Op):
    """g * (softmax(x) - onehot(labels)): the fused loss's gradient w.r.t. the logits."""

    def make_node(self, x: Variable, labels: Variable, g: Variable) -> Apply:
        return Apply(self, [x, labels, g], [TensorType(x.dtype, x.type.shape)])

    def perform(self, x: np.ndarray, labels: np.ndarray, g: np.ndarray) -> np.ndarray:
        out = _minus_onehot_into(_softmax(x), labels)
        out *= np.asarray(g)[..., None]
        return out


def softmax(x: Any) -> Variable:
    """Softmax over the last axis."""
    return Softmax()(x)


def log_softmax(x: Any) -> Variable:
    """log(softmax(x)) over the last axis, computed stably."""
    return LogSoftmax()(x)


def binary_crossentropy(p: Any, target: Any) -> Variable:
    """Elementwise -(t log p + (1-t) log(1-p)); ``p`` from a sigmoid is made stable when compiled."""
    return BinaryCrossentropy()(p, target)


def categorical_crossentropy(p: Any, labels: Any) -> Variable:
    """Per-row -log p[label] for probabilities ``p`` (n, k) and integer ``labels`` (n,), or
    -sum(t log p) over the last axis for a one-hot / soft target matrix ``labels``."""
    p, labels = as_tensor(p), as_tensor(labels)
    if labels.dtype.kind == "f" and labels.ndim == p.ndim:
        return -(labels * log(p)).sum(axis=-1)
    return CategoricalCrossentropy()(p, labels)

