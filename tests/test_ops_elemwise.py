"""Elementwise ops: values against numpy, gradients against central differences (float64), with
static and runtime broadcasting."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

RNG = np.random.default_rng(1)


def dynamic(x: gg.Variable, axes: tuple[int, ...] = (0,)) -> gg.Variable:
    """``x`` with the static size of ``axes`` forgotten (None), same values: a gather by
    ``arange(x.shape[a])`` along each axis, so the graph must decide broadcasting at call time."""
    for a in axes:
        moved = gg.transpose(x, [a] + [k for k in range(x.ndim) if k != a])
        picked = gg.take(moved, gg.arange(moved.shape[0]))
        x = gg.transpose(picked, list(np.argsort([a] + [k for k in range(x.ndim) if k != a])))
    return x


def positive(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, shape)


def normal(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.standard_normal(shape)


def away_from_zero(shape: tuple[int, ...]) -> np.ndarray:
    x = RNG.uniform(0.2, 1.5, shape)
    return x * RNG.choice([-1.0, 1.0], shape)


BINARY = {
    "add": (lambda a, b: a + b, np.add, normal),
    "sub": (lambda a, b: a - b, np.subtract, normal),
    "mul": (lambda a, b: a * b, np.multiply, normal),
    "div": (lambda a, b: a / b, np.true_divide, positive),
    "pow": (lambda a, b: a ** b, np.power, positive),
    "maximum": (gg.maximum, np.maximum, normal),
    "minimum": (gg.minimum, np.minimum, normal),
}

SHAPE_PAIRS = [((3, 4), (3, 4)), ((4, 5), (5,)), ((3, 1), (1, 4)), ((), (3, 4)), ((2, 3, 1), (3, 4)), ((5,), ())]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_gradient_with_static_broadcasting(name: str, shapes: tuple) -> None:
    build, _, sample = BINARY[name]
    gg.verify_grad(build, [sample(shapes[0]), sample(shapes[1])])


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_match_numpy(name: str) -> None:
    build, reference, sample = BINARY[name]
    a, b = gg.matrix("a", "float64"), gg.vector("b", "float64")
    x, y = sample((3, 4)), sample((4,))
    np.testing.assert_allclose(gg.function([a, b], build(a, b))(x, y), reference(x, y), rtol=1e-12)


@pytest.mark.parametrize("dyn_shapes", [
    ((4, 5), (0,), (5,), ()),             # (None, 5) + (5,)
    ((3, 1), (0, 1), (1, 4), (0, 1)),     # (None, None) * (None, None), runtime (3, 1) and (1, 4)
    ((1, 4), (0,), (3, 4), (0,)),         # both (None, 4): one operand is 1 at run time
    ((), (), (3, 4), (0, 1)),             # scalar * dynamic matrix
], ids=str)
@pytest.mark.parametrize("name", ["add", "mul", "div", "maximum"])
def test_binary_gradient_with_runtime_broadcasting(name: str, dyn_shapes: tuple) -> None:
    build, _, sample = BINARY[name]
    shape_a, axes_a, shape_b, axes_b = dyn_shapes
    gg.verify_grad(lambda a, b: build(dynamic(a, axes_a), dynamic(b, axes_b)).sum(),
                   [sample(shape_a), sample(shape_b)])


def test_runtime_broadcast_shapes_are_unknown_statically() -> None:
    a = dynamic(gg.tensor("a", "float64", (3, 1)), (0, 1))
    assert a.static_shape == (None, None)


UNARY = {
    "neg": (gg.neg, np.negative, normal),
    "exp": (gg.exp, np.exp, normal),
    "log": (gg.log, np.log, positive),
    "log1p": (gg.log1p, np.log1p, positive),
    "sqrt": (gg.sqrt, np.sqrt, positive),
    "abs": (gg.abs, np.abs, away_from_zero),
    "tanh": (gg.tanh, np.tanh, normal),
    "sigmoid": (gg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), normal),
    "softplus": (gg.softplus, lambda x: np.log1p(np.exp(x)), normal),
    "relu": (gg.relu, lambda x: np.maximum(x, 0), away_from_zero),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)], ids=str)
def test_unary_gradient(name: str, shape: tuple) -> None:
    build, _, sample = UNARY[name]
    gg.verify_grad(build, [sample(shape)])


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_match_numpy(name: str) -> None:
    build, reference, sample = UNARY[name]
    x = gg.matrix("x", "float64")
    value = sample((3, 4))
    np.testing.assert_allclose(gg.function([x], build(x))(value), reference(value), rtol=1e-12)


def test_sigmoid_and_softplus_do_not_overflow() -> None:
    x = gg.vector("x", "float64")
    f = gg.function([x], [gg.sigmoid(x), gg.softplus(x)])
    s, sp = f(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(sp, [0.0, np.log(2), 1000.0])


def test_switch_gradient_goes_to_the_chosen_branch() -> None:
    c = (RNG.standard_normal((3, 4)) > 0)
    gg.verify_grad(lambda a, b: gg.switch(gg.as_tensor(c), a, b) * 2.0, [normal((3, 4)), normal((4,))])
    x = gg.vector("x", "float64")
    g = gg.grad(gg.where(x > 0, x * 3.0, -x).sum(), x)
    np.testing.assert_allclose(gg.function([x], g)(np.array([-1.0, 2.0])), [-1.0, 3.0])


def test_comparisons_are_boolean_and_have_no_gradient() -> None:
    a, b = gg.vector("a", "float64"), gg.vector("b", "float64")
    outs = [a < b, a <= b, a > b, a >= b, gg.eq(a, b), gg.neq(a, b)]
    x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0])
    got = gg.function([a, b], outs)(x, y)
    for value, want in zip(got, [x < y, x <= y, x > y, x >= y, x == y, x != y]):
        assert value.dtype == bool
        np.testing.assert_array_equal(value, want)
    with pytest.raises(gg.GradientError, match="does not depend on a"):
        gg.grad(gg.cast(a > b, "float64").sum(), a)


def test_cast_gradient_flows_to_float_inputs_in_their_dtype() -> None:
    x = gg.vector("x", "float64")
    g = gg.grad((gg.cast(x, "float32") * 3.0).sum(), x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(gg.function([x], g)(np.ones(3)), 3.0)


def test_float32_expressions_stay_float32_with_python_scalars() -> None:
    x = gg.vector("x")
    y = x * 0.1 + 1
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert gg.function([x], y)(np.ones(2, "float32")).dtype == np.float32


def test_build_time_broadcast_error_names_both_operands() -> None:
    a, b = gg.tensor("a", shape=(3, 4)), gg.tensor("b", shape=(5,))
    with pytest.raises(gg.ShapeError, match=r"a is \(3, 4\).*b is \(5,\)"):
        a + b


def test_runtime_broadcast_error_names_the_node() -> None:
    a, b = gg.vector("a"), gg.vector("b")
    f = gg.function([a, b], a + b)
    with pytest.raises(gg.ShapeError, match=r"add\(a, b\)"):
        f(np.ones(3, "float32"), np.ones(4, "float32"))


@pytest.mark.parametrize("shape", [(3,), (None,)], ids=str)
def test_gradient_dtype_is_the_operands_with_static_or_runtime_broadcasting(shape: tuple) -> None:
    # Regression: with a dim unknown at build time the reduced gradient kept the float64 of the
    # broadcast product instead of the float32 operand's dtype.
    x = gg.tensor("x", "float32", shape)
    g = gg.grad((x * gg.as_tensor(np.arange(3.0))).sum(), x)
    assert g.dtype == np.float32
    value = gg.function([x], g)(np.ones(3, "float32"))
    assert value.dtype == np.float32
    np.testing.assert_array_equal(value, [0.0, 1.0, 2.0])


def test_runtime_broadcast_between_a_graph_and_its_clone() -> None:
    # Regression: operands were told apart by their shape tuples, and a cloned graph shares its
    # type objects with the original, so this (1, 4) * (3, 4) product was not reduced for `a`.
    x, w = gg.tensor("x", "float64", (None, 4)), gg.tensor("w", "float64", (None, 4))
    a = gg.exp(x)
    (b,) = gg.clone_graph([a], replace={x: w})
    assert a.type is b.type
    gg.verify_grad(lambda u, v: gg.clone_graph([a * b], replace={x: dynamic(u), w: dynamic(v)})[0].sum(),
                   [normal((1, 4)), normal((3, 4))])
