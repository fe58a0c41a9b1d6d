"""Plain regression tests for bugs found by the property tests (tests/test_properties.py) and the
fuzz tests; each names what was wrong."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg


def test_take_of_a_computed_table_gets_a_dense_gradient_through_its_producer() -> None:
    # The row-sparse gradient of take(x[::-1], i) reached subtensor's rule, which cannot add it
    # into zeros: grad must densify it before any op's rule sees it.
    gg.verify_grad(lambda x: gg.take(abs(x[::-1]), np.array([0, 0, 2], "int32")).sum(), [np.array([0.5, -1.0, 2.0])])
    gg.verify_grad(lambda x: (gg.take(x * 2.0, np.array([1, 1], "int32")) ** 2).sum(), [np.ones((2, 3))])


def test_numpy_float64_scalars_keep_their_dtype() -> None:
    # np.float64 subclasses Python float, so shared() and as_tensor() turned it into floatX.
    assert gg.shared(np.float64(0.5)).dtype == np.float64
    assert gg.as_tensor(np.float64(0.5)).dtype == np.float64
    assert gg.shared(0.5).dtype == np.dtype(gg.config.floatX)
    w = gg.shared(np.float64(0.7), name="w")
    assert gg.function([], gg.grad(abs(w), w))().dtype == np.float64


def test_dot_gradient_keeps_the_weight_dtype() -> None:
    # Review M1: float64 data times a float32 weight gave a float64 gradient, refused as its update.
    x = gg.matrix("x", "float64")
    W = gg.shared(np.ones((3, 2), "float32"), name="W")
    g = gg.grad(gg.dot(x, W).sum(), W)
    assert g.dtype == np.float32
    gg.function([x], [], updates=[(W, W - 0.1 * g)])(np.ones((4, 3)))
    np.testing.assert_allclose(W.get_value(), 1 - 0.1 * 4)


def test_transpose_refuses_out_of_range_and_repeated_axes() -> None:
    # Review M2: axes were taken modulo ndim, so (0, 3) on a matrix silently meant (0, 1).
    m = gg.matrix("m")
    for axes in [(0, 3), (1, 1), (0,)]:
        with pytest.raises(gg.ShapeError, match="not a permutation"):
            m.transpose(axes)


def test_sum_refuses_a_repeated_axis() -> None:
    with pytest.raises(gg.ShapeError, match="repeats"):
        gg.sum(gg.matrix("m"), axis=(0, 0))


def test_output_that_is_also_a_dense_update_is_a_separate_array() -> None:
    # Review M3: writing into the returned array changed the shared variable.
    x = gg.matrix("x", "float64")
    S = gg.shared(np.zeros((2, 2)), name="S")
    h = x * 2
    out = gg.function([x], h, updates=[(S, h)])(np.ones((2, 2)))
    out[0, 0] = 99.0
    np.testing.assert_array_equal(S.get_value(), 2.0)


def test_givens_must_keep_known_dims() -> None:
    # Review M4: a (3,) shared variable could be replaced by a (5,) constant, breaking static shapes.
    v = gg.shared(np.zeros(3), name="v")
    with pytest.raises(gg.ShapeError, match="givens"):
        gg.function([], v.sum(), givens={v: np.ones(5)})


def test_sparse_update_refuses_a_wider_dtype_like_a_dense_one() -> None:
    # Review L1: a float64 learning rate made the float32 table's row update float64, unnoticed.
    W = gg.shared(np.zeros((4, 2), "float32"), name="W")
    ix, lr = gg.ivector("ix"), gg.scalar("lr", "float64")
    g = gg.grad(gg.take(W, ix).sum(), W)
    with pytest.raises(gg.InputTypeError, match="dtype"):
        gg.function([ix, lr], [], updates=[(W, W - lr * g)])


def test_python_number_that_does_not_fit_the_operand_dtype() -> None:
    with pytest.raises(gg.InputTypeError, match="int8"):
        gg.tensor("b", "int8", (3,)) + 1000


def test_int_input_values_out_of_range_name_the_range() -> None:
    ix = gg.ivector("ix")
    f = gg.function([ix], ix * 1)
    with pytest.raises(gg.IndexRangeError, match="do not fit"):
        f(np.array([2 ** 40]))
