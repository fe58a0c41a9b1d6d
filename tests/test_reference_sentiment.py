"""The hand-written numpy sentiment references (benchmarks/reference_sentiment.py).

Gradients are checked against central differences in float64 of losses written naively here,
never against another implementation's gradient; the implementations are then checked against
each other, step for step.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from benchmarks.reference_sentiment import (
    DenseSentiment,
    LessonLoopSentiment,
    LoopSentiment,
    NumpySentiment,
    NumpySentimentBatch,
    init_sentiment_weights,
    pack_batch,
)

SINGLE_REVIEW = [NumpySentiment, LoopSentiment, LessonLoopSentiment, DenseSentiment]
NumericGrad = Callable[[Callable[[], float], np.ndarray], np.ndarray]


def sentiment_loss(W0: np.ndarray, W1: np.ndarray, reviews: list, targets: list) -> float:
    """Mean of -t log p - (1 - t) log(1 - p), p = sigmoid(sum of W0 rows . W1), naively."""
    losses = []
    for ix, t in zip(reviews, targets):
        p = 1 / (1 + np.exp(-(W0[ix].sum(axis=0) @ W1[:, 0])))
        losses.append(-t * np.log(p) - (1 - t) * np.log(1 - p))
    return float(np.mean(losses))


def sentiment_setup(seed: int, vocab: int = 20, hidden: int = 4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    W0 = rng.normal(0, 0.5, (vocab, hidden)).astype(dtype)
    W1 = rng.normal(0, 1, (hidden, 1)).astype(dtype)
    return rng, W0, W1


@pytest.mark.parametrize("implementation", SINGLE_REVIEW)
@pytest.mark.parametrize("t", [0, 1])
def test_sentiment_step_follows_the_gradient(implementation, t, numeric_grad: NumericGrad):
    rng, W0, W1 = sentiment_setup(seed=t)
    ix = rng.choice(len(W0), 6, replace=False).astype(np.int32)
    lr = 0.1
    net = implementation(W0, W1, lr, dtype=np.float64)

    loss = net.step(ix, t)

    def f() -> float:
        return sentiment_loss(W0, W1, [ix], [t])

    assert loss == pytest.approx(f(), rel=1e-12)
    np.testing.assert_allclose((W0 - net.W0) / lr, numeric_grad(f, W0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose((W1 - net.W1) / lr, numeric_grad(f, W1), rtol=1e-6, atol=1e-9)


def test_sentiment_batch_step_follows_the_gradient_of_the_mean_loss(numeric_grad: NumericGrad):
    rng, W0, W1 = sentiment_setup(seed=2)
    # reviews share ids 3 and 5, so their row gradients must accumulate
    reviews = [np.array(r, dtype=np.int32) for r in ([0, 3, 5], [9, 3, 7, 5], [1])]
    targets = np.array([1.0, 0.0, 1.0])
    lr = 0.5
    net = NumpySentimentBatch(W0, W1, lr, dtype=np.float64)

    loss = net.step(*pack_batch(reviews), targets)

    def f() -> float:
        return sentiment_loss(W0, W1, reviews, list(targets))

    assert loss == pytest.approx(f(), rel=1e-12)
    np.testing.assert_allclose((W0 - net.W0) / lr, numeric_grad(f, W0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose((W1 - net.W1) / lr, numeric_grad(f, W1), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("t", [0, 1])
def test_sentiment_implementations_agree_after_one_float32_step(t):
    rng, W0, W1 = sentiment_setup(seed=3, vocab=50, hidden=5, dtype=np.float32)
    ix = rng.choice(50, 12, replace=False).astype(np.int32)
    nets = [implementation(W0, W1, 0.1, dtype=np.float32) for implementation in SINGLE_REVIEW]
    batch = NumpySentimentBatch(W0, W1, 0.1)
    p = [net.predict(ix) for net in nets] + [float(batch.predict(ix, np.array([0]))[0])]
    losses = [net.step(ix, t) for net in nets]
    losses.append(batch.step(ix, np.array([0]), np.array([t], dtype=np.float32)))

    np.testing.assert_allclose(p, p[0], rtol=1e-6)
    np.testing.assert_allclose(losses, -np.log(p[0] if t else 1 - p[0]), rtol=1e-5)
    for net in nets[1:] + [batch]:
        assert net.W0.dtype == np.float32
        np.testing.assert_allclose(net.W0, nets[0].W0, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(net.W1, nets[0].W1, rtol=1e-6, atol=1e-7)
    assert not np.array_equal(nets[0].W1, W1)


@pytest.mark.parametrize("implementation", SINGLE_REVIEW)
def test_sentiment_saturated_logits_stay_finite(implementation):
    W0, W1 = init_sentiment_weights(vocab_size=10, hidden_size=3, seed=0)
    W0[:] = 1e4 * np.sign(W1[:, 0])  # z = +3e4 or so: exp(z) would overflow
    net = implementation(W0, W1, 0.1)
    ix = np.array([1, 4], dtype=np.int32)
    assert net.predict(ix) == 1.0
    assert net.step(ix, 1) == 0.0
    assert np.isfinite(net.step(ix, 0))
    assert np.all(np.isfinite(net.W0))
