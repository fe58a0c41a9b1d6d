"""Numerical safety: saturating inputs give finite values and finite gradients.

Every function here is compiled in nanguard mode as well, so no intermediate node may produce NaN
or Inf either. Expected values are worked out by hand (exact for these inputs), not by running the
same formula again.
"""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

DTYPES = ["float32", "float64"]


def run(inputs: list, cost: gg.Variable, wrt: list, args: list) -> list[np.ndarray]:
    """Cost and gradients, from the default mode and from nanguard mode (which must agree)."""
    outputs = [cost] + gg.grad(cost, wrt)
    fast = gg.function(inputs, outputs)(*args)
    guarded = gg.function(inputs, outputs, mode="nanguard")(*args)
    for a, b in zip(fast, guarded):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    for value in fast:
        assert np.isfinite(value).all(), value
    return fast


def op_names(fn: gg.Function) -> set[str]:
    return {node.op.label() for node in fn.nodes}


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_saturates_without_overflow(dtype: str) -> None:
    z = gg.vector("z", dtype)
    values = np.array([-1000, 0, 1000], dtype)
    cost, g = run([z], gg.sigmoid(z).sum(), [z], [values])
    np.testing.assert_array_equal(gg.function([z], gg.sigmoid(z))(values), [0, 0.5, 1])
    assert cost == 1.5
    np.testing.assert_array_equal(g, [0, 0.25, 0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_crossentropy_of_sigmoid_is_exact_at_saturating_logits(dtype: str) -> None:
    z, t = gg.vector("z", dtype), gg.vector("t", dtype)
    loss = gg.binary_crossentropy(gg.sigmoid(z), t)
    f = gg.function([z, t], loss)
    assert "sigmoid_binary_crossentropy" in op_names(f)
    zs, ts = np.array([1000, -1000, 1000, -1000, 0], dtype), np.array([0, 1, 1, 0, 1], dtype)
    # softplus(z) - t z: a confident wrong answer costs |z|, a confident right one nothing.
    np.testing.assert_allclose(f(zs, ts), [1000, 1000, 0, 0, np.log(2)], rtol=1e-6)
    _, g = run([z, t], loss.sum(), [z], [zs, ts])
    np.testing.assert_allclose(g, [1, -1, 0, 0, -0.5])  # sigmoid(z) - t


@pytest.mark.parametrize("dtype", DTYPES)
def test_naive_binary_crossentropy_clamps_its_logs_at_p_0_and_1(dtype: str) -> None:
    # On probabilities (no sigmoid to rewrite), each log is clamped at -100: a hard right answer
    # costs 0 and a hard wrong one 100, with a finite gradient, as in PyTorch's BCELoss.
    p, t = gg.vector("p", dtype), gg.vector("t", dtype)
    ps, ts = np.array([0, 1, 0, 1], dtype), np.array([0, 1, 1, 0], dtype)
    f = gg.function([p, t], gg.binary_crossentropy(p, t))
    np.testing.assert_array_equal(f(ps, ts), [0, 0, 100, 100])
    _, g = run([p, t], gg.binary_crossentropy(p, t).sum(), [p], [ps, ts])
    assert g[2] < -1e6 and g[3] > 1e6  # pushes hard towards the target
    np.testing.assert_array_equal(g[:2], [0, 0])


def test_naive_binary_crossentropy_is_unchanged_inside_the_clamp() -> None:
    p = np.array([0.3, 0.9, 1e-30])
    t = np.array([1.0, 0.0, 0.0])
    got = gg.function([], gg.binary_crossentropy(gg.as_tensor(p), gg.as_tensor(t)))()
    np.testing.assert_allclose(got, [-np.log(0.3), -np.log(0.1), 1e-30], rtol=1e-12)
    gg.verify_grad(lambda q, s: gg.binary_crossentropy(q, s), [np.array([0.3, 0.6]), np.array([0.2, 1.0])])


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_of_sigmoid_and_of_one_minus_sigmoid_are_finite(dtype: str) -> None:
    z = gg.vector("z", dtype)
    zs = np.array([-1000, 0, 1000], dtype)
    f = gg.function([z], [gg.log(gg.sigmoid(z)), gg.log(1 - gg.sigmoid(z))])
    assert "log" not in op_names(f)
    log_p, log_q = f(zs)
    np.testing.assert_allclose(log_p, [-1000, -np.log(2), 0], rtol=1e-6)
    np.testing.assert_allclose(log_q, [0, -np.log(2), -1000], rtol=1e-6)
    _, g = run([z], gg.log(gg.sigmoid(z)).sum(), [z], [zs])
    np.testing.assert_allclose(g, [1, 0.5, 0])  # 1 - sigmoid(z)
    _, g = run([z], gg.log(1 - gg.sigmoid(z)).sum(), [z], [zs])
    np.testing.assert_allclose(g, [0, -0.5, -1])  # -sigmoid(z)


def test_log_of_sigmoid_rewrites_keep_the_gradient() -> None:
    zs = np.array([-3.0, 0.2, 4.0])
    gg.verify_grad(lambda z: gg.log(gg.sigmoid(z)), [zs])
    gg.verify_grad(lambda z: gg.log(1 - gg.sigmoid(z)), [zs])
    gg.verify_grad(lambda z, t: -(t * gg.log(gg.sigmoid(z)) + (1 - t) * gg.log(1 - gg.sigmoid(z))),
                   [zs, np.array([1.0, 0.0, 0.3])])


@pytest.mark.parametrize("dtype", DTYPES)
def test_hand_written_log_loss_from_logits_is_finite(dtype: str) -> None:
    z, t = gg.vector("z", dtype), gg.vector("t", dtype)
    p = gg.sigmoid(z)
    loss = -(t * gg.log(p) + (1 - t) * gg.log(1 - p)).sum()
    cost, g = run([z, t], loss, [z], [np.array([1000, -1000], dtype), np.array([0, 1], dtype)])
    assert cost == 2000
    np.testing.assert_array_equal(g, [1, -1])


LOGITS = np.array([[1000, -1000, 0], [3000, 2990, -5000]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_logits_in_the_thousands(dtype: str) -> None:
    x = gg.matrix("x", dtype)
    probabilities = gg.function([x], gg.softmax(x))(LOGITS.astype(dtype))
    np.testing.assert_allclose(probabilities[0], [1, 0, 0])
    np.testing.assert_allclose(probabilities[1], [1 / (1 + np.exp(-10)), 1 / (1 + np.exp(10)), 0], rtol=1e-5)
    weights = np.array([1.0, 2.0, 3.0], dtype)
    _, g = run([x], (gg.softmax(x) * weights).sum(), [x], [LOGITS.astype(dtype)])
    np.testing.assert_allclose(g[0], 0, atol=1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_of_softmax_with_logits_in_the_thousands(dtype: str) -> None:
    x, y = gg.matrix("x", dtype), gg.lvector("y")
    labels = np.array([1, 2])
    loss = gg.categorical_crossentropy(gg.softmax(x), y)
    f = gg.function([x, y], loss)
    assert "softmax_crossentropy" in op_names(f)
    np.testing.assert_allclose(f(LOGITS.astype(dtype), labels), [2000, 8000], rtol=1e-6)  # max - logit
    cost, g = run([x, y], gg.mean(loss), [x], [LOGITS.astype(dtype), labels])
    np.testing.assert_allclose(g[0], [0.5, -0.5, 0], atol=1e-7)  # (softmax - onehot) / 2
    np.testing.assert_allclose(g[1].sum(), 0, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", ["log_of_softmax", "log_softmax"])
def test_log_softmax_with_logits_in_the_thousands(dtype: str, form: str) -> None:
    x, y = gg.matrix("x", dtype), gg.lvector("y")
    log_p = gg.log(gg.softmax(x)) if form == "log_of_softmax" else gg.log_softmax(x)
    np.testing.assert_allclose(gg.function([x], log_p)(LOGITS.astype(dtype))[0], [0, -2000, -1000])
    cost, g = run([x, y], -log_p[gg.arange(y.shape[0]), y].sum(), [x], [LOGITS.astype(dtype), np.array([1, 2])])
    np.testing.assert_allclose(cost, 10000 + np.log1p(np.exp(-10)), rtol=1e-7)  # 2000 + 8000 + log(1 + e^-10)
    np.testing.assert_allclose(g[0], [1, -1, 0], atol=1e-7)


def test_softplus_and_tanh_saturate() -> None:
    z = gg.vector("z", "float64")
    zs = np.array([-1000.0, 0.0, 1000.0])
    cost, g = run([z], (gg.softplus(z) + gg.tanh(z)).sum(), [z], [zs])
    np.testing.assert_allclose(cost, 1000 + np.log(2))
    np.testing.assert_allclose(g, [0, 1.5, 1])
