"""Hand-written numpy references for the two multilayer perceptrons of the benchmarks.

Pure numpy and the standard library, never graphgrad: these are the yardsticks, written the way
a competent numpy programmer would write them (PERF_NOTES.md). Two nets, both ending in softmax
and the mean cross-entropy:
- a small tanh MLP (benchmarks.vectorization), one matrix product per layer (`NumpyMLP`) against
  per-neuron Python loops (`LoopMLP`, the blog post's structure written without needless waste,
  so that speed-ups measured against it are not inflated);
- the net from the Theano mailing-list question (16384-5000-3000-512-40, sigmoid, softmax;
  benchmarks.grad_sharing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

# --------------------------------------------------------------------------------------------
# A small MLP: tanh hidden layers, softmax output, mean cross-entropy, plain SGD on a batch.
# --------------------------------------------------------------------------------------------


def make_classification(
    n: int, n_features: int = 64, n_classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: X (n x n_features, float64) around one random centre per class, y int64."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, n_features))
    y = rng.integers(0, n_classes, size=n)
    X = centres[y] + rng.standard_normal((n, n_features))
    return X, y


def init_mlp_params(
    sizes: Sequence[int] = (64, 32, 10), seed: int = 0, dtype: DTypeLike = np.float64
) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...]: W (fan_in x fan_out) ~ N(0, 1 / fan_in), biases zero."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)).astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def _softmax_cross_entropy_(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of softmax(logits) against integer labels y, and its gradient with
    respect to the logits, which is computed in the memory of `logits` (overwritten)."""
    n = len(logits)
    rows = np.arange(n)
    logits -= logits.max(axis=1, keepdims=True)
    picked = logits[rows, y]
    delta = np.exp(logits, out=logits)
    total = delta.sum(axis=1)
    loss = float(np.mean(np.log(total) - picked))
    delta /= total[:, None] * n  # softmax - onehot, fused, of the mean loss
    delta[rows, y] -= 1 / n
    return loss, delta


class NumpyMLP:
    """One matrix product per layer, forward and backward."""

    def __init__(self, params: Sequence[np.ndarray], lr: float = 0.1) -> None:
        """Copy `params` ([W1, b1, W2, b2, ...], as from `init_mlp_params`)."""
        self.params = [np.array(p) for p in params]
        self.lr = lr

    def _activations(self, X: np.ndarray) -> list[np.ndarray]:
        """The input, every tanh hidden layer, and the logits last."""
        activations = [X]
        last = len(self.params) - 2
        for k in range(0, len(self.params), 2):
            a = activations[-1].dot(self.params[k])
            a += self.params[k + 1]
            activations.append(a if k == last else np.tanh(a, out=a))
        return activations

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row of X."""
        return self._activations(X)[-1].argmax(axis=1)

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One SGD step on the batch (X, integer labels y); returns the mean cross-entropy."""
        activations = self._activations(X)
        loss, delta = _softmax_cross_entropy_(activations.pop(), y)
        for k in range(len(self.params) - 2, -1, -2):
            W, b, inputs = self.params[k], self.params[k + 1], activations.pop()
            g_W, g_b = inputs.T.dot(delta), delta.sum(axis=0)
            if k:
                delta = delta.dot(W.T)  # with W before its update
                delta *= 1 - inputs * inputs
            W -= self.lr * g_W
            b -= self.lr * g_b
        return loss


class LoopMLP:
    """The same MLP written per neuron and per weight in pure Python, as the blog post did.

    Each layer is a list of neurons, each neuron a list of incoming weights and a bias.
    """

    def __init__(self, params: Sequence[np.ndarray], lr: float = 0.1) -> None:
        """Copy `params` ([W1, b1, W2, b2, ...], see `init_mlp_params`) into lists of floats."""
        self.weights = [np.asarray(W).T.tolist() for W in params[0::2]]
        self.biases = [np.asarray(b).tolist() for b in params[1::2]]
        self.lr = lr

    @property
    def params(self) -> list[np.ndarray]:
        """The weights as numpy arrays, laid out like `init_mlp_params`."""
        out = []
        for weights, biases in zip(self.weights, self.biases):
            out += [np.array(weights).T, np.array(biases)]
        return out

    def _activations(self, x: list[float]) -> list[list[float]]:
        """The input, every tanh hidden layer, and the logits last."""
        activations = [x]
        last = len(self.weights) - 1
        for layer, (weights, biases) in enumerate(zip(self.weights, self.biases)):
            inputs, outputs = activations[-1], []
            for neuron_weights, bias in zip(weights, biases):
                total = bias
                for w, a in zip(neuron_weights, inputs):
                    total += w * a
                outputs.append(total if layer == last else math.tanh(total))
            activations.append(outputs)
        return activations

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row of X."""
        labels = []
        for x in X.tolist():
            logits = self._activations(x)[-1]
            labels.append(logits.index(max(logits)))
        return np.array(labels)

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        """One SGD step on the batch (X, integer labels y); returns the mean cross-entropy."""
        g_weights = [[[0.0] * len(neuron) for neuron in layer] for layer in self.weights]
        g_biases = [[0.0] * len(biases) for biases in self.biases]
        total_loss = 0.0
        for x, label in zip(X.tolist(), y.tolist()):
            activations = self._activations(x)
            logits = activations.pop()
            top = max(logits)
            exps = [math.exp(z - top) for z in logits]
            total = sum(exps)
            total_loss += math.log(total) - (logits[label] - top)
            deltas = [e / total for e in exps]
            deltas[label] -= 1.0
            for layer in range(len(self.weights) - 1, -1, -1):
                inputs = activations.pop()
                for j, delta in enumerate(deltas):
                    g_biases[layer][j] += delta
                    g_row = g_weights[layer][j]
                    for i, a in enumerate(inputs):
                        g_row[i] += delta * a
                if layer:
                    back = [0.0] * len(inputs)
                    for neuron_weights, delta in zip(self.weights[layer], deltas):
                        for i, w in enumerate(neuron_weights):
                            back[i] += w * delta
                    deltas = [b * (1.0 - a * a) for b, a in zip(back, inputs)]
        step = self.lr / len(X)
        for layer, weights in enumerate(self.weights):
            for neuron_weights, g_row in zip(weights, g_weights[layer]):
                for i, g in enumerate(g_row):
                    neuron_weights[i] -= step * g
            biases = self.biases[layer]
            for j, g in enumerate(g_biases[layer]):
                biases[j] -= step * g
        return total_loss / len(X)


# --------------------------------------------------------------------------------------------
# The Theano-question net: three sigmoid layers, a linear layer, softmax, mean cross-entropy.
# --------------------------------------------------------------------------------------------

THEANO_WIDTHS = (16384, 5000, 3000, 512, 40)


def scale_widths(scale: float, widths: Sequence[int] = THEANO_WIDTHS) -> tuple[int, ...]:
    """Every width multiplied by `scale`, rounded, and kept at least 2."""
    return tuple(max(2, round(w * scale)) for w in widths)


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """Overwrite `a` with 1 / (1 + exp(-a)) and return it."""
    np.negative(a, out=a)
    with np.errstate(over="ignore"):  # exp(-a) = inf gives 1 / inf = 0, the correct limit
        np.exp(a, out=a)
    a += 1
    return np.reciprocal(a, out=a)


class TheanoNetNumpy:
    """x -> sigmoid(x.w + b) -> sigmoid(.w2 + b2) -> sigmoid(.w3 + b3) -> .w4 + b4 -> softmax.

    `params` is [w, b, w2, b2, w3, b3, w4, b4], with w of shape (widths[0], widths[1]) and so on.
    """

    def __init__(
        self, widths: Sequence[int] = THEANO_WIDTHS, seed: int = 0, dtype: DTypeLike = np.float32
    ) -> None:
        """Weights ~ N(0, 1 / fan_in), biases zero; `dtype` is float32 or float64."""
        rng = np.random.default_rng(seed)
        self.params = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            w = rng.standard_normal((fan_in, fan_out), dtype=dtype)
            w *= 1 / math.sqrt(fan_in)
            self.params += [w, np.zeros(fan_out, dtype=dtype)]

    def forward_backward(
        self, x: np.ndarray, y: np.ndarray, out: list[np.ndarray] | None = None
    ) -> tuple[float, list[np.ndarray]]:
        """Mean cross-entropy of the batch (x, integer labels y) and its gradients.

        The gradients come in the order of `params`, written into `out` (arrays shaped like
        `params`) when given, else into new arrays; no gradient of x is computed. Reusing `out`
        saves the page faults of a fresh 330 MB gradient of w at full size (70-100 ms a call here).
        """
        params = self.params
        layers = [x]  # the input of each weight matrix
        for k in range(0, len(params) - 2, 2):
            a = layers[-1].dot(params[k])
            a += params[k + 1]
            layers.append(_sigmoid_(a))
        logits = layers[-1].dot(params[-2])
        logits += params[-1]

        loss, delta = _softmax_cross_entropy_(logits, y)

        grads = out if out is not None else [np.empty_like(p) for p in params]
        for k in range(len(params) - 2, -1, -2):
            inputs = layers.pop()
            np.dot(inputs.T, delta, out=grads[k])
            np.sum(delta, axis=0, out=grads[k + 1])
            if k:
                delta = delta.dot(params[k].T)
                delta *= inputs
                np.subtract(1, inputs, out=inputs)  # sigmoid' = L (1 - L); L is done with
                delta *= inputs
        return loss, grads
