"""The hand-written numpy MLP and Theano-question-net references (benchmarks/reference_mlp.py).

Each gradient is checked against central differences of a naive float64 loss written here; the
loop and matrix MLPs must then end with the same weights.
"""
from __future__ import annotations

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

NumericGrad = Callable[[Callable[[], float], np.ndarray], np.ndarray]


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


def test_numpy_mlp_step_follows_the_gradient(numeric_grad: NumericGrad):
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


def test_theano_net_gradients_match_central_differences(numeric_grad: NumericGrad):
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
