"""Hand-written numpy references for the IMDB bag-of-words sentiment net (Trask's lesson).

Pure numpy and the standard library, never graphgrad: these are the yardsticks that
benchmarks.sentiment_speed measures graphgrad against, five implementations of one maths
(h = sum of W0 rows at the review's word ids, p = sigmoid(h . W1), log-loss). Each is written
the way a competent numpy programmer would write it (PERF_NOTES.md: array methods such as
`a.take`/`a.dot` over `np.take`/`@`, `ones.dot(rows)` over `rows.sum(0)` for tiny sums,
`np.subtract.at` on the flattened table). `LessonLoopSentiment` is the lesson's loop with the
lesson's data types, the Python-loop baseline its speed goal names. `LoopSentiment` and `DenseSentiment` keep the
structure the lesson used (Python loops over word ids, a dense 0/1 input) but are written
without needless waste, so that speed-ups measured against them are not inflated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike


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
    """The lesson's sparse version, as the lesson writes it: Python loops over the word ids (numpy
    integers) for the hidden layer and for the update, the row step recomputed for each id."""

    def predict(self, ix: np.ndarray) -> float:
        """p(positive) for a review given by its unique word ids `ix` (int32)."""
        W0 = self.W0
        h = np.zeros(W0.shape[1], dtype=W0.dtype)
        for i in ix:
            h += W0[i]
        return _sigmoid_log_loss(float(h.dot(self._w1)), 0.0)[0]

    def step(self, ix: np.ndarray, t: float) -> float:
        """One SGD step on review `ix` (unique int32 ids), target t in {0, 1}; returns the loss."""
        W0 = self.W0
        h = np.zeros(W0.shape[1], dtype=W0.dtype)
        for i in ix:
            h += W0[i]
        p, loss = _sigmoid_log_loss(float(h.dot(self._w1)), t)
        delta = self._w1 * (p - t)  # the hidden layer's delta, before W1 moves
        self._w1 -= h * (self.lr * (p - t))
        for i in ix:
            W0[i] -= delta * self.lr
        return loss


class LessonLoopSentiment:
    """The lesson's sparse training loop with the lesson's data types: float64 weights, a (1, H)
    hidden layer zeroed and accumulated row by row over the review's word ids given as a Python
    list (the lesson's pre-processed reviews), numpy arithmetic on the (1, 1) output. Two
    departures: the log-loss delta (``p - t``, the maths every implementation here trains) replaces
    the lesson's squared-error delta, and the lesson's per-review progress printing is left out.
    ``LoopSentiment`` is the same loop with float32 weights and a 1-D hidden layer: twice as fast.
    """

    def __init__(self, W0: np.ndarray, W1: np.ndarray, lr: float = 0.1, dtype: DTypeLike = np.float64) -> None:
        """Copy W0 (vocab x hidden) and W1 (hidden x 1) as `dtype` arrays (the lesson's float64)."""
        self.W0 = np.array(W0, dtype=dtype)
        self.W1 = np.array(W1, dtype=dtype)
        self.lr = lr
        self._hidden = np.zeros((1, self.W0.shape[1]), dtype=dtype)

    def _output(self, ix: Sequence[int]) -> np.ndarray:
        hidden = self._hidden
        hidden *= 0
        for i in ix:
            hidden += self.W0[i]
        return hidden.dot(self.W1)  # z, (1, 1)

    def predict(self, ix: Sequence[int]) -> float:
        """p(positive) for a review given by its unique word ids."""
        return _sigmoid_log_loss(float(self._output(ix)[0, 0]), 0.0)[0]

    def step(self, ix: Sequence[int], t: float) -> float:
        """One SGD step on review `ix` (unique word ids), target t in {0, 1}; returns the loss."""
        z = self._output(ix)
        p = 1 / (1 + np.exp(-z))
        output_delta = p - t
        hidden_delta = output_delta.dot(self.W1.T)  # before W1 moves
        self.W1 -= self._hidden.T.dot(output_delta) * self.lr
        for i in ix:
            self.W0[i] -= hidden_delta[0] * self.lr
        return _sigmoid_log_loss(float(z[0, 0]), t)[1]


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
