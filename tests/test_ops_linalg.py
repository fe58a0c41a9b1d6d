"""dot: numpy's rules for vectors and matrices, gradients in all four combinations, clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

RNG = np.random.default_rng(4)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((3, 4), (4,)), ((4,), (4, 2)), ((4,), (4,))], ids=str)
def test_dot_value_and_gradient(shapes: tuple) -> None:
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    va = gg.tensor("a", "float64", (None,) * len(shapes[0]))
    vb = gg.tensor("b", "float64", (None,) * len(shapes[1]))
    np.testing.assert_allclose(gg.function([va, vb], gg.dot(va, vb))(a, b), a.dot(b), rtol=1e-12)
    gg.verify_grad(gg.dot, [a, b])
    gg.verify_grad(lambda x, y: x @ y, [a, b])


def test_dot_static_shape() -> None:
    assert gg.dot(gg.tensor("a", shape=(None, 5)), gg.tensor("b", shape=(5, 3))).static_shape == (None, 3)
    assert gg.dot(gg.tensor("a", shape=(5,)), gg.tensor("b", shape=(5,))).static_shape == ()


def test_build_time_mismatch_names_both_operands_and_shapes() -> None:
    a, b = gg.tensor("a", shape=(3, 4)), gg.tensor("b", shape=(5, 2))
    with pytest.raises(gg.ShapeError, match=r"dot\(a, b\): inner dimensions differ: a is \(3, 4\), b is \(5, 2\)"):
        gg.dot(a, b)
    h, W1 = gg.tensor("h", shape=(None, 5)), gg.shared(np.zeros((4, 1), "float32"), name="W1")
    with pytest.raises(gg.ShapeError, match=r"h is \(None, 5\), W1 is \(4, 1\)"):
        gg.dot(h, W1)


def test_runtime_mismatch_with_unknown_dims_names_the_node() -> None:
    a, b = gg.matrix("a"), gg.matrix("b")
    f = gg.function([a, b], gg.dot(a, b))
    with pytest.raises(gg.ShapeError, match=r"dot\(a, b\).*\(3, 4\).*\(5, 2\)"):
        f(np.zeros((3, 4), "float32"), np.zeros((5, 2), "float32"))


def test_dot_rejects_scalars_and_3d() -> None:
    with pytest.raises(gg.InputTypeError, match="dot takes vectors and matrices"):
        gg.dot(gg.scalar("s"), gg.vector("v"))
    with pytest.raises(gg.InputTypeError, match="3-d"):
        gg.dot(gg.tensor("t", shape=(2, 2, 2)), gg.matrix("m"))
