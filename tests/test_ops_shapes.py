"""Shape ops: symbolic shape, reshape, transpose, expand_dims, arange, filled tensors."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("newshape", [(6, 2), (-1,), (3, -1), (2, 2, 3)], ids=str)
def test_reshape_value_and_gradient(newshape: tuple) -> None:
    value = RNG.standard_normal((3, 4))
    x = gg.matrix("x", "float64")
    np.testing.assert_array_equal(gg.function([x], gg.reshape(x, newshape))(value), value.reshape(newshape))
    gg.verify_grad(lambda v: v.reshape(newshape) * np.arange(value.size).reshape(newshape), [value])


def test_reshape_gradient_with_unknown_dims() -> None:
    x = gg.matrix("x", "float64")
    value = RNG.standard_normal((3, 4))
    y = x.reshape((2, -1))
    assert y.static_shape == (2, None)
    g = gg.function([x], gg.grad((y * y).sum(), x))(value)
    np.testing.assert_allclose(g, 2 * value)


def test_reshape_static_errors() -> None:
    with pytest.raises(gg.ShapeError, match=r"cannot reshape x of shape \(3, 4\)"):
        gg.tensor("x", shape=(3, 4)).reshape((5, 2))
    with pytest.raises(gg.ShapeError, match="invalid target shape"):
        gg.matrix("x").reshape((-1, -1))


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1)], ids=str)
def test_transpose_value_and_gradient(axes: tuple | None) -> None:
    value = RNG.standard_normal((2, 3, 4))
    x = gg.tensor("x", "float64", (None, None, None))
    np.testing.assert_array_equal(gg.function([x], gg.transpose(x, axes))(value), np.transpose(value, axes))
    gg.verify_grad(lambda v: gg.transpose(v, axes), [value])


def test_dot_t_gradient() -> None:
    gg.verify_grad(lambda a: gg.dot(a.T, a), [RNG.standard_normal((3, 2))])


def test_transpose_rejects_a_non_permutation() -> None:
    with pytest.raises(gg.ShapeError, match="not a permutation"):
        gg.transpose(gg.matrix("x"), (0, 0))


def test_expand_dims_value_and_gradient() -> None:
    value = RNG.standard_normal((3, 4))
    x = gg.matrix("x", "float64")
    assert gg.function([x], gg.expand_dims(x, 1))(value).shape == (3, 1, 4)
    gg.verify_grad(lambda v: gg.expand_dims(v, (0, 3)), [value])


def test_symbolic_shape_and_arange() -> None:
    x = gg.matrix("x")
    n = x.shape[0]
    assert n.ndim == 0 and n.dtype == np.int64
    f = gg.function([x], [x.shape, gg.arange(n), gg.arange(4)])
    shape, r, r4 = f(np.zeros((3, 2), "float32"))
    np.testing.assert_array_equal(shape, [3, 2])
    np.testing.assert_array_equal(r, [0, 1, 2])
    np.testing.assert_array_equal(r4, np.arange(4))
    with pytest.raises(gg.InputTypeError, match="arange: n must be an integer scalar"):
        gg.arange(gg.scalar("s"))


def test_zeros_like_and_ones_like() -> None:
    x = gg.matrix("x", "float64")
    z, o, zi = gg.function([x], [gg.zeros_like(x), gg.ones_like(x), gg.zeros_like(x, "int32")])(np.full((2, 3), 7.0))
    np.testing.assert_array_equal(z, np.zeros((2, 3)))
    np.testing.assert_array_equal(o, np.ones((2, 3)))
    assert zi.dtype == np.int32
    with pytest.raises(gg.GradientError):
        gg.grad(gg.ones_like(x).sum(), x)


def test_reshape_rejects_symbolic_target() -> None:
    x = gg.matrix("x")
    with pytest.raises(gg.InputTypeError, match="symbolic target"):
        x.reshape((x.shape[0], -1))


@pytest.mark.parametrize("axes", [-1, (0, -1), (-4, 1), 2], ids=str)
def test_expand_dims_follows_numpy_for_negative_axes(axes: object) -> None:
    # Regression: a negative axis was inserted at the wrong place in the static shape, and the
    # generated code did not insert it at all.
    value = RNG.standard_normal((3, 4))
    x = gg.matrix("x", "float64")
    y = gg.expand_dims(x, axes)
    want = np.expand_dims(value, axes)
    assert y.static_shape == tuple(1 if d == 1 else None for d in want.shape)
    for mode in ["fast", "debug"]:
        np.testing.assert_array_equal(gg.function([x], y, mode=mode)(value), want)
    gg.verify_grad(lambda v: gg.expand_dims(v, axes), [value])


def test_expand_dims_rejects_bad_axes() -> None:
    with pytest.raises(gg.ShapeError, match=r"expand_dims of x \(2-d\): invalid new axes"):
        gg.expand_dims(gg.matrix("x"), 3)
    with pytest.raises(gg.ShapeError, match="invalid new axes"):
        gg.expand_dims(gg.matrix("x"), (0, -4))
