"""The hand-written numpy references the benchmarks compare graphgrad against.

Gradients are checked against central differences in float64 of losses written naively here,
never against another implementation's gradient; the implementations are then checked against
each other, step for step.
"""

from collections.abc import Callable

import numpy as np
import pytest

from benchmarks.reference_mlp import (
    LoopMLP,
    NumpyMLP,
    TheanoNetNumpy,
    init_mlp_params,
    make_classification,
    scale_widths,
)
from benchmarks.reference_sentiment import (
    DenseSentiment,
    LoopSentiment,
    NumpySentiment,
    NumpySentimentBatch,
    init_sentiment_weights,
    pack_batch,
)

SINGLE_REVIEW = [NumpySentiment, LoopSentiment, DenseSentiment]


def numeric_grad(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of f() with respect to each element of `array`, perturbed in place."""
    grad = np.zeros_like(array)
    values, grad_values = array.reshape(-1), grad.reshape(-1)
    for i in range(values.size):
        old = values[i]
        values[i] = old + eps
        up = f()
        values[i] = old - eps
        down = f()
        values[i] = old
        grad_values[i] = (up - down) / (2 * eps)
    return grad


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
def test_sentiment_step_follows_the_gradient(implementation, t):
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


def test_sentiment_batch_step_follows_the_gradient_of_the_mean_loss():
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
    nets = [implementation(W0, W1, 0.1) for implementation in SINGLE_REVIEW]
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


def test_make_classification_is_deterministic():
    X, y = make_classification(30, n_features=4, n_classes=3, seed=7)
    X2, y2 = make_classification(30, n_features=4, n_classes=3, seed=7)
    assert X.shape == (30, 4) and X.dtype == np.float64
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert set(y.tolist()) == {0, 1, 2}


def mlp_params(sizes, seed: int) -> list[np.ndarray]:
    params = init_mlp_params(sizes, seed=seed)
    for b in params[1::2]:
        b[:] = np.random.default_rng(seed + 1).normal(0, 0.3, b.shape)
    return params


def mlp_loss(params: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of softmax(tanh MLP), naively."""
    a = X
    for W, b in zip(params[0:-2:2], params[1:-2:2]):
        a = np.tanh(a @ W + b)
    z = a @ params[-2] + params[-1]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def test_numpy_mlp_step_follows_the_gradient():
    params = mlp_params((5, 4, 3, 3), seed=0)
    X, y = make_classification(7, n_features=5, n_classes=3, seed=1)
    lr = 0.2
    net = NumpyMLP(params, lr)

    loss = net.step(X, y)

    assert loss == pytest.approx(mlp_loss(params, X, y), rel=1e-12)
    for before, after in zip(params, net.params):
        expected = numeric_grad(lambda: mlp_loss(params, X, y), before)
        np.testing.assert_allclose((before - after) / lr, expected, rtol=1e-6, atol=1e-9)


def test_loop_mlp_matches_numpy_mlp_after_three_steps():
    params = mlp_params((6, 5, 4, 3), seed=2)
    X, y = make_classification(24, n_features=6, n_classes=3, seed=3)
    loop, vectorized = LoopMLP(params, 0.3), NumpyMLP(params, 0.3)
    for batch in range(3):
        rows = slice(8 * batch, 8 * batch + 8)
        assert loop.step(X[rows], y[rows]) == pytest.approx(vectorized.step(X[rows], y[rows]))
    for a, b, before in zip(loop.params, vectorized.params, params):
        assert not np.allclose(b, before)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(loop.predict(X), vectorized.predict(X))


def theano_loss(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """-mean(log softmax(L4)[range(n), y]) of the three-sigmoid-layer net, naively."""
    w, b, w2, b2, w3, b3, w4, b4 = params
    L1 = 1 / (1 + np.exp(-(x @ w + b)))
    L2 = 1 / (1 + np.exp(-(L1 @ w2 + b2)))
    L3 = 1 / (1 + np.exp(-(L2 @ w3 + b3)))
    L4 = L3 @ w4 + b4
    p = np.exp(L4) / np.exp(L4).sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def theano_setup(dtype=np.float64):
    net = TheanoNetNumpy(widths=(7, 5, 4, 3, 3), seed=0, dtype=dtype)
    rng = np.random.default_rng(1)
    for b in net.params[1::2]:
        b[:] = rng.normal(0, 0.5, b.shape)
    x = rng.normal(0, 1, (4, 7)).astype(dtype)
    return net, x, np.array([0, 2, 2, 1])


def test_theano_net_gradients_match_central_differences():
    net, x, y = theano_setup()
    before = [p.copy() for p in net.params + [x]]

    loss, grads = net.forward_backward(x, y)

    for p, b in zip(net.params + [x], before):
        np.testing.assert_array_equal(p, b)
    assert loss == pytest.approx(theano_loss(net.params, x, y), rel=1e-12)
    assert [g.shape for g in grads] == [p.shape for p in net.params]
    for param, grad in zip(net.params, grads):
        expected = numeric_grad(lambda: theano_loss(net.params, x, y), param)
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-9)


def test_theano_net_float32_matches_float64():
    net64, x, y = theano_setup()
    net32 = TheanoNetNumpy(widths=(7, 5, 4, 3, 3), dtype=np.float32)
    net32.params = [p.astype(np.float32) for p in net64.params]
    loss64, grads64 = net64.forward_backward(x, y)
    loss32, grads32 = net32.forward_backward(x.astype(np.float32), y)
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-6)


def test_theano_net_saturated_sigmoids_stay_finite():
    net, x, y = theano_setup(dtype=np.float32)
    with np.errstate(all="raise", under="ignore"):
        loss, grads = net.forward_backward(x * 1e4, y)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads)


def test_scale_widths():
    assert scale_widths(1.0) == (16384, 5000, 3000, 512, 40)
    assert scale_widths(0.01) == (164, 50, 30, 5, 2)


def test_theano_net_writes_gradients_into_out():
    net, x, y = theano_setup()
    loss, grads = net.forward_backward(x, y)
    out = [np.full_like(p, np.nan) for p in net.params]
    loss_out, grads_out = net.forward_backward(x, y, out=out)
    assert loss_out == loss
    assert all(g is o for g, o in zip(grads_out, out))
    for g, o in zip(grads, out):
        np.testing.assert_array_equal(g, o)
