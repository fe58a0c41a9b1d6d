"""sum / mean / max / argmax over axes, with keepdims: values and gradients."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

RNG = np.random.default_rng(2)
AXES = [None, 0, 1, -1, (0, 2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reduction_value_and_gradient(name: str, axis: object, keepdims: bool) -> None:
    value = RNG.standard_normal((2, 3, 4))
    x = gg.tensor("x", "float64", (None, None, None))
    out = getattr(gg, name)(x, axis=axis, keepdims=keepdims)
    want = getattr(np, name)(value, axis=axis, keepdims=keepdims)
    got = gg.function([x], out)(value)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12)
    gg.verify_grad(lambda v: getattr(v, name)(axis=axis, keepdims=keepdims), [value])


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reduction_static_shapes(name: str) -> None:
    x = gg.tensor("x", shape=(None, 5, 6))
    assert getattr(gg, name)(x, axis=1).static_shape == (None, 6)
    assert getattr(gg, name)(x, axis=(0, 2), keepdims=True).static_shape == (1, 5, 1)
    assert getattr(gg, name)(x).static_shape == ()


def test_mean_over_unknown_dims_divides_by_the_runtime_count() -> None:
    x = gg.matrix("x", "float64")
    value = RNG.standard_normal((3, 5))
    np.testing.assert_allclose(gg.function([x], x.mean(axis=0))(value), value.mean(axis=0))
    g = gg.function([x], gg.grad(x.mean(), x))(value)
    np.testing.assert_allclose(g, np.full((3, 5), 1 / 15))


def test_mean_of_integers_is_float() -> None:
    ix = gg.ivector("ix")
    f = gg.function([ix], gg.mean(ix))
    assert f(np.array([1, 2], "int32")) == pytest.approx(1.5)


def test_argmax_values_and_no_gradient() -> None:
    x = gg.matrix("x", "float64")
    value = RNG.standard_normal((4, 3))
    f = gg.function([x], [gg.argmax(x, axis=1), x.argmax(), gg.argmax(x, axis=0, keepdims=True)])
    a1, a_all, a0 = f(value)
    np.testing.assert_array_equal(a1, value.argmax(axis=1))
    assert a_all == value.argmax()
    np.testing.assert_array_equal(a0, value.argmax(axis=0)[None])
    with pytest.raises(gg.GradientError):
        gg.grad(gg.cast(gg.argmax(x, axis=1), "float64").sum(), x)


def test_max_gradient_goes_to_the_maximum() -> None:
    x = gg.vector("x", "float64")
    g = gg.function([x], gg.grad(gg.max(x), x))(np.array([1.0, 5.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0])


def test_axis_out_of_range_names_the_operand() -> None:
    x = gg.matrix("x")
    with pytest.raises(gg.ShapeError, match="sum of x: axis 2"):
        x.sum(axis=2)


def test_max_gradient_is_shared_by_ties() -> None:
    # Regression: each tied position got the whole gradient, so max over a broadcast axis had
    # twice the true slope: d/da max(a, a) is 1.
    gg.verify_grad(lambda a: (a * gg.as_tensor(np.ones((2, 1)))).max(axis=0).sum(), [RNG.standard_normal(3)])
    x = gg.vector("x", "float64")
    g = gg.function([x], gg.grad(gg.max(x), x))(np.array([2.0, 5.0, 5.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5])
