"""Hand-written numpy references that the benchmarks measure graphgrad against.

Pure numpy and the standard library, never graphgrad: these are the yardsticks. Each is written
the way a competent numpy programmer would write it (PERF_NOTES.md: array methods such as
`a.take`/`a.dot` over `np.take`/`@`, `ones.dot(rows)` over `rows.sum(0)` for tiny sums,
`np.subtract.at` on the flattened table). `LoopSentiment`, `DenseSentiment` and `LoopMLP` keep
the structure the lessons used (Python loops over word ids, a dense 0/1 input, per-neuron loops)
but are written without needless waste, so that speed-ups measured against them are not inflated.

Three families:
- the IMDB bag-of-words sentiment net (Trask's lesson) in four implementations of one maths;
- a small tanh MLP, per-neuron Python loops against one matrix product per layer;
- the net from the Theano mailing-list question (16384-5000-3000-512-40, sigmoid, softmax).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

# --------------------------------------------------------------------------------------------
# Sentiment net: h = sum of W0 rows at the review's word ids, p = sigmoid(h . W1), log-loss.
# --------------------------------------------------------------------------------------------


def init_sentiment_weights(
    vocab_size: int, hidden_size: int = 10, seed: int = 0, dtype: DTypeLike = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """The lesson's initial weights: W0 (vocab x hidden) zeros, W1 (hidden x 1) standard normal.

    The lesson draws W1 from N(0, output_nodes ** -0.5) with one output node, i.e. N(0, 1).
    """
    rng = np.random.default_rng(seed)
    W0 = np.zeros((vocab_size, hidden_size), dtype=dtype)
    W1 = rng.standard_normal((hidden_size, 1)).astype(dtype)
    return W0, W1


def _sigmoid_log_loss(z: float, t: float) -> tuple[float, float]:
    """p = sigmoid(z) and the binary cross-entropy of p against t, both overflow-free."""
    e = math.exp(-abs(z))
    p = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
    # -t log p - (1 - t) log(1 - p) == softplus(z) - t z
    return p, math.log1p(e) + (max(z, 0.0) - t * z)  # bracket exact for t in {0, 1}


class _Sentiment:
    """Weights and learning rate shared by the per-review sentiment implementations."""

    def __init__(
        self, W0: np.ndarray, W1: np.ndarray, lr: float = 0.1, dtype: DTypeLike = np.float32
    ) -> None:
        """Copy W0 (vocab x hidden) and W1 (hidden x 1) as C-contiguous `dtype` arrays."""
        self.W0 = np.array(W0, dtype=dtype, order="C")
        self.W1 = np.array(W1, dtype=dtype, order="C")
        self.lr = lr
        self._w1 = self.W1[:, 0]  # a view: updating it updates W1


class NumpySentiment(_Sentiment):
    """Vectorized per-review step: one gather, one tiny matrix product, one scatter.

    The word ids of a review must be unique (as the lesson's `set` of words makes them): the
    update writes each gathered row back once, so a repeated id would lose all but one update.
    """

    def __init__(
        self, W0: np.ndarray, W1: np.ndarray, lr: float = 0.1, dtype: DTypeLike = np.float32
    ) -> None:
        """Copy the weights; see `_Sentiment`."""
        super().__init__(W0, W1, lr, dtype)
        self._ones = np.ones(self.W0.shape[0], dtype=self.W0.dtype)

    def predict(self, ix: np.ndarray) -> float:
        """p(positive) for a review given by its unique word ids `ix` (int32)."""
        h = self._ones[: len(ix)].dot(self.W0.take(ix, axis=0))
        return _sigmoid_log_loss(float(h.dot(self._w1)), 0.0)[0]

    def step(self, ix: np.ndarray, t: float) -> float:
        """One SGD step on review `ix` (unique int32 ids), target t in {0, 1}; returns the loss."""
        rows = self.W0.take(ix, axis=0)
        h = self._ones[: len(ix)].dot(rows)  # 1.5 us where rows.sum(0) takes 5-7 us
        p, loss = _sigmoid_log_loss(float(h.dot(self._w1)), t)
        scale = self.lr * (p - t)
        rows -= self._w1 * scale  # gradient of the rows uses W1 before its own update
        self.W0[ix] = rows
        self._w1 -= h * scale
        return loss


class LoopSentiment(_Sentiment):
    """The lesson's sparse version: Python loops over the word ids, forward and update."""

    def predict(self, ix: np.ndarray) -> float:
        """p(positive) for a review given by its unique word ids `ix` (int32)."""
        W0 = self.W0
        h = np.zeros(W0.shape[1], dtype=W0.dtype)
        for i in ix.tolist():
            h += W0[i]
        return _sigmoid_log_loss(float(h.dot(self._w1)), 0.0)[0]

    def step(self, ix: np.ndarray, t: float) -> float:
        """One SGD step on review `ix` (unique int32 ids), target t in {0, 1}; returns the loss."""
        W0 = self.W0
        ids = ix.tolist()
        h = np.zeros(W0.shape[1], dtype=W0.dtype)
        for i in ids:
            h += W0[i]
        p, loss = _sigmoid_log_loss(float(h.dot(self._w1)), t)
        scale = self.lr * (p - t)
        row_step = self._w1 * scale
        self._w1 -= h * scale
        for i in ids:
            W0[i] -= row_step
        return loss


class DenseSentiment(_Sentiment):
    """The lesson's first version: a vocabulary-sized 0/1 input and a full dense W0 update."""

    def __init__(
        self, W0: np.ndarray, W1: np.ndarray, lr: float = 0.1, dtype: DTypeLike = np.float32
    ) -> None:
        """Copy the weights; see `_Sentiment`."""
        super().__init__(W0, W1, lr, dtype)
        self._x = np.zeros(self.W0.shape[0], dtype=self.W0.dtype)

    def _input(self, ix: np.ndarray) -> np.ndarray:
        x = self._x
        x.fill(0)
        x[ix] = 1
        return x

    def predict(self, ix: np.ndarray) -> float:
        """p(positive) for a review given by its word ids `ix` (int32)."""
        h = self._input(ix).dot(self.W0)
        return _sigmoid_log_loss(float(h.dot(self._w1)), 0.0)[0]

    def step(self, ix: np.ndarray, t: float) -> float:
        """One SGD step on review `ix` (int32 ids) with target t in {0, 1}; returns the loss."""
        x = self._input(ix)
        W0 = self.W0
        h = x.dot(W0)
        p, loss = _sigmoid_log_loss(float(h.dot(self._w1)), t)
        scale = self.lr * (p - t)
        W0 -= np.outer(x, self._w1 * scale)
        self._w1 -= h * scale
        return loss


def pack_batch(reviews: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate reviews (arrays of word ids) into flat `ids` and the `offsets` of each start."""
    lengths = np.fromiter((len(r) for r in reviews), dtype=np.intp, count=len(reviews))
    offsets = np.zeros(len(reviews), dtype=np.intp)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return np.concatenate(reviews), offsets


class NumpySentimentBatch(_Sentiment):
    """Mini-batch SGD on the mean log-loss of a batch of reviews.

    A batch is flat word `ids` plus the `offsets` where each review starts (see `pack_batch`).
    Every review must be non-empty (`np.add.reduceat` returns a row, not zeros, for an empty
    segment) and hold unique ids; different reviews may share ids.
    """

    def __init__(
        self, W0: np.ndarray, W1: np.ndarray, lr: float = 0.1, dtype: DTypeLike = np.float32
    ) -> None:
        """Copy the weights; see `_Sentiment`."""
        super().__init__(W0, W1, lr, dtype)
        self._flat_W0 = self.W0.reshape(-1)  # a view, because W0 is C-contiguous
        self._columns = np.zeros(0, dtype=np.intp)  # 0, 1, .., H-1 repeated; grown on demand

    def _flat_index(self, ids: np.ndarray) -> np.ndarray:
        """The positions in the flattened W0 of every element of the rows `ids`, row by row."""
        width = self.W0.shape[1]
        size = len(ids) * width
        if len(self._columns) < size:
            self._columns = np.tile(np.arange(width, dtype=np.intp), len(ids))
        # 2x faster than ids[:, None] * width + arange(width), whose inner loop is only H long
        return np.repeat(ids.astype(np.intp) * width, width) + self._columns[:size]

    def _hidden(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        return np.add.reduceat(self.W0.take(ids, axis=0), offsets, axis=0)

    def predict(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """p(positive) for each review of the batch."""
        z = self._hidden(ids, offsets).dot(self._w1)
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))

    def step(self, ids: np.ndarray, offsets: np.ndarray, targets: np.ndarray) -> float:
        """One SGD step on the batch with `targets` in {0, 1}; returns the mean loss."""
        h = self._hidden(ids, offsets)
        z = h.dot(self._w1)
        e = np.exp(-np.abs(z))
        p = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        loss = float(np.mean(np.log1p(e) + (np.maximum(z, 0) - targets * z)))
        scale = (p - targets).astype(h.dtype) * (self.lr / len(offsets))
        row_steps = np.multiply.outer(scale, self._w1)  # uses W1 before its own update
        self._w1 -= scale.dot(h)
        lengths = np.diff(offsets, append=len(ids))
        # not W0[ids] -= ...: ids shared by reviews must accumulate; the flat table is 2.5x faster
        np.subtract.at(
            self._flat_W0, self._flat_index(ids), row_steps.repeat(lengths, axis=0).ravel()
        )
        return loss


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
        n = len(X)
        rows = np.arange(n)
        logits = activations.pop()
        logits -= logits.max(axis=1, keepdims=True)
        picked = logits[rows, y]
        delta = np.exp(logits, out=logits)
        total = delta.sum(axis=1)
        loss = float(np.mean(np.log(total) - picked))
        delta /= total[:, None] * n  # softmax - onehot, fused, of the mean loss
        delta[rows, y] -= 1 / n
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

        n = len(x)
        rows = np.arange(n)
        logits -= logits.max(axis=1, keepdims=True)
        picked = logits[rows, y]
        delta = np.exp(logits, out=logits)
        total = delta.sum(axis=1)
        loss = float(np.mean(np.log(total) - picked))
        delta /= total[:, None] * n  # softmax - onehot, fused, of the mean loss
        delta[rows, y] -= 1 / n

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
