"""Property-based tests: random expression graphs built from the differentiable ops.

Each example is a ``Recipe``: two base dims (m, n), a few leaves whose shapes broadcast to (m, n)
(some shared, some inputs), and a list of steps applying an op to earlier expressions, so
sub-expressions get reused and variables collect several gradient contributions. The properties:

1. ``gg.grad`` agrees with central differences in float64 (``gg.verify_grad``);
2. joint gradients equal separate gradients, and gradients w.r.t. shared leaves equal those w.r.t.
   inputs holding the same values;
3. the compiled (rewritten, generated-code) function, its outputs and its committed updates, equal
   a node-by-node evaluation of the unrewritten graph; and debug mode finds nothing to report.

Leaf values come from a seeded generator, not from hypothesis floats: generic values keep
kinks (relu, abs, maximum) away from the finite-difference step. Set GRAPHGRAD_PROPERTY_EXAMPLES
to run more examples per property.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad.debug import disagreement

EXAMPLES = int(os.environ.get("GRAPHGRAD_PROPERTY_EXAMPLES", "120"))
CHECKED: dict[str, int] = {}

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Leaf:
    shape: Shape
    shared: bool
    unknown_dims: bool  # declare the static shape with None dims (exercises the runtime broadcast paths)


@dataclass(frozen=True)
class Recipe:
    m: int
    n: int
    leaves: tuple[Leaf, ...]
    steps: tuple[tuple[str, tuple[int, ...], int], ...]  # (op, operand positions, constant seed)
    outputs: tuple[int, ...]
    seed: int

    def values(self, dtype: Any) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        return [np.asarray(rng.uniform(0.3, 1.3, leaf.shape) * rng.choice([-1, 1], leaf.shape), dtype)
                for leaf in self.leaves]


def _in_family(shape: Shape, m: int, n: int) -> bool:
    """Whether ``shape`` broadcasts to (m, n) without growing it: the family every step keeps to."""
    target = (m, n)[2 - len(shape):] if len(shape) <= 2 else None
    return target is not None and all(d in (1, t) for d, t in zip(shape, target))


def _broadcast(*shapes: Shape) -> Shape:
    return tuple(np.broadcast_shapes(*shapes))


def _constant(rng: np.random.Generator, shape: Shape, dtype: Any, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return rng.uniform(low, high, shape).astype(dtype)


def _unary(fn: Callable[[gg.Variable], gg.Variable]) -> tuple:
    return 1, lambda s: True, lambda s: s[0], lambda v, s, rng, dt: fn(v[0])


def _binary(fn: Callable[[gg.Variable, gg.Variable], gg.Variable]) -> tuple:
    return 2, lambda s: True, lambda s: _broadcast(*s), lambda v, s, rng, dt: fn(v[0], v[1])


def _take(v: Sequence[gg.Variable], s: Sequence[Shape], rng: np.random.Generator, dt: Any) -> gg.Variable:
    rows = s[0][0]  # as many rows as it has, with repeats: several contributions to one row
    return gg.take(v[0], rng.integers(0, rows, rows).astype("int32"))


def _advanced(v: Sequence[gg.Variable], s: Sequence[Shape], rng: np.random.Generator, dt: Any) -> gg.Variable:
    rows, cols = s[0]
    picked = v[0][rng.integers(0, rows, rows).astype("int64"), rng.integers(0, cols, rows).astype("int64")]
    return gg.expand_dims(picked, 1)


def _categorical(v: Sequence[gg.Variable], s: Sequence[Shape], rng: np.random.Generator, dt: Any) -> gg.Variable:
    labels = rng.integers(0, s[0][1], s[0][0]).astype("int64")
    return gg.expand_dims(gg.categorical_crossentropy(gg.softmax(v[0]), labels), 1)


def _two_d(s: Sequence[Shape]) -> bool:
    return len(s[0]) == 2


#: Each op: (how many operands, whether it accepts these operand shapes, the result shape, a builder
#: taking (operands, shapes, rng, dtype) and returning the expression).
OPS: dict[str, tuple] = {
    "add": _binary(lambda a, b: a + b),
    "sub": _binary(lambda a, b: a - b),
    "mul": _binary(lambda a, b: a * b),
    "div": _binary(lambda a, b: a / (1.0 + b * b)),
    "pow": _binary(lambda a, b: (1.0 + a * a) ** gg.tanh(b)),
    "maximum": _binary(gg.maximum),
    "minimum": _binary(gg.minimum),
    "neg": _unary(lambda a: -a),
    "square": _unary(lambda a: a ** 2),
    "tanh": _unary(gg.tanh),
    "sigmoid": _unary(gg.sigmoid),
    "exp": _unary(lambda a: gg.exp(gg.tanh(a))),
    "log": _unary(lambda a: gg.log(1.0 + a * a)),
    "log1p": _unary(lambda a: gg.log1p(a * a)),
    "sqrt": _unary(lambda a: gg.sqrt(1.0 + a * a)),
    "softplus": _unary(gg.softplus),
    "relu": _unary(gg.relu),
    "abs": _unary(abs),
    "switch": (3, lambda s: True, lambda s: _broadcast(*s), lambda v, s, rng, dt: gg.switch(v[0] > 0, v[1], v[2])),
    "sum_all": (1, lambda s: True, lambda s: (), lambda v, s, rng, dt: v[0].sum()),
    "sum_rows": (1, _two_d, lambda s: (1, s[0][1]), lambda v, s, rng, dt: v[0].sum(axis=0, keepdims=True)),
    "mean_cols": (1, _two_d, lambda s: (s[0][0], 1), lambda v, s, rng, dt: gg.mean(v[0], axis=1, keepdims=True)),
    "scale": (1, lambda s: True, lambda s: s[0],
              lambda v, s, rng, dt: v[0] * _constant(rng, s[0], dt)),
    "dot_matrix": (2, lambda s: _two_d(s) and s[1] == (s[0][1], s[0][1]), lambda s: s[0],
                   lambda v, s, rng, dt: gg.dot(v[0], v[1])),
    "dot_vector": (2, lambda s: _two_d(s) and s[1] == (s[0][1],), lambda s: (s[0][0], 1),
                   lambda v, s, rng, dt: gg.expand_dims(gg.dot(v[0], v[1]), 1)),
    "take": (1, lambda s: len(s[0]) >= 1, lambda s: s[0], _take),
    "take_one": (1, lambda s: len(s[0]) == 2, lambda s: s[0][1:],
                 lambda v, s, rng, dt: gg.take(v[0], np.int32(rng.integers(0, s[0][0])))),
    "advanced": (1, _two_d, lambda s: (s[0][0], 1), _advanced),
    "reverse": (1, lambda s: len(s[0]) >= 1, lambda s: s[0], lambda v, s, rng, dt: v[0][::-1]),
    "reshape_t": (1, lambda s: _two_d(s), lambda s: s[0],
                  lambda v, s, rng, dt: v[0].reshape((s[0][1], s[0][0])).T),
    "softmax": (1, lambda s: len(s[0]) >= 1, lambda s: s[0], lambda v, s, rng, dt: gg.softmax(v[0])),
    "log_softmax": (1, lambda s: len(s[0]) >= 1, lambda s: s[0], lambda v, s, rng, dt: gg.log_softmax(v[0])),
    "log_of_softmax": (1, lambda s: len(s[0]) >= 1, lambda s: s[0], lambda v, s, rng, dt: gg.log(gg.softmax(v[0]))),
    "log_sigmoid": _unary(lambda a: gg.log(gg.sigmoid(a))),
    "log_one_minus_sigmoid": _unary(lambda a: gg.log(1 - gg.sigmoid(a))),
    "bce_sigmoid": (1, lambda s: True, lambda s: s[0], lambda v, s, rng, dt: gg.binary_crossentropy(
        gg.sigmoid(v[0]), _constant(rng, s[0], dt, 0.0, 1.0))),
    "bce_naive": (1, lambda s: True, lambda s: s[0], lambda v, s, rng, dt: gg.binary_crossentropy(
        gg.sigmoid(v[0]) * 0.8 + 0.1, _constant(rng, s[0], dt, 0.0, 1.0))),
    "categorical": (1, _two_d, lambda s: (s[0][0], 1), _categorical),
}


@st.composite
def recipes(draw: st.DrawFn, max_steps: int = 7) -> Recipe:
    m, n = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    family = [s for s in [(m, n), (n,), (1, n), (m, 1), (), (1,)] if _in_family(s, m, n)]
    leaves = [Leaf(draw(st.sampled_from(family)), draw(st.booleans()), draw(st.booleans()))
              for _ in range(draw(st.integers(1, 4)))]
    if draw(st.booleans()):  # a square matrix for dot, usable elementwise only when m == n
        leaves.append(Leaf((n, n), draw(st.booleans()), draw(st.booleans())))
    shapes = [leaf.shape for leaf in leaves]
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        name = draw(st.sampled_from(sorted(OPS)))
        arity, accepts, result, _ = OPS[name]
        # Later expressions are likelier operands, so graphs grow deep as well as wide.
        positions = tuple(draw(st.integers(0, len(shapes) - 1).map(lambda k, size=len(shapes): max(k, size - 1 - k)))
                          for _ in range(arity))
        operand_shapes = [shapes[p] for p in positions]
        if not all(_in_family(s, m, n) for s in operand_shapes[:1 if name.startswith("dot") else arity]):
            continue
        if not accepts(operand_shapes):
            continue
        shape = result(operand_shapes)
        if not _in_family(shape, m, n):
            continue
        steps.append((name, positions, draw(st.integers(0, 2**16))))
        shapes.append(shape)
    candidates = [k for k, s in enumerate(shapes) if _in_family(s, m, n)]
    extra = draw(st.lists(st.sampled_from(candidates), max_size=2))
    outputs = tuple(sorted({candidates[-1], *extra}))
    return Recipe(m, n, tuple(leaves), tuple(steps), outputs, draw(st.integers(0, 2**16)))


def expression_shapes(recipe: Recipe) -> list[Shape]:
    shapes = [leaf.shape for leaf in recipe.leaves]
    for name, positions, _ in recipe.steps:
        shapes.append(OPS[name][2]([shapes[p] for p in positions]))
    return shapes


def build(recipe: Recipe, leaves: Sequence[gg.Variable], dtype: Any) -> tuple[gg.Variable, list[gg.Variable]]:
    """The recipe's scalar cost over ``leaves`` (a weighted sum of its output expressions), and
    those expressions."""
    shapes = expression_shapes(recipe)
    expressions = list(leaves)
    for name, positions, seed in recipe.steps:
        rng = np.random.default_rng(seed)
        operands = [expressions[p] for p in positions]
        expressions.append(OPS[name][3](operands, [shapes[p] for p in positions], rng, dtype))
    rng = np.random.default_rng(recipe.seed + 1)
    terms = [(expressions[k] * _constant(rng, shapes[k], dtype)).sum() for k in recipe.outputs]
    cost = terms[0]
    for term in terms[1:]:
        cost = cost + term
    return cost, [expressions[k] for k in recipe.outputs]


def make_leaves(recipe: Recipe, values: Sequence[np.ndarray], all_inputs: bool = False
                ) -> tuple[list[gg.Variable], list[gg.Variable], list[np.ndarray]]:
    """(leaf variables, the function inputs among them, their argument values)."""
    leaves, inputs, args = [], [], []
    for k, (leaf, value) in enumerate(zip(recipe.leaves, values)):
        if leaf.shared and not all_inputs:
            leaves.append(gg.shared(value, name=f"w{k}"))
            continue
        shape = tuple(None for _ in leaf.shape) if leaf.unknown_dims else leaf.shape
        var = gg.tensor(f"x{k}", value.dtype, shape)
        leaves.append(var)
        inputs.append(var)
        args.append(value)
    return leaves, inputs, args


def _count(test: str) -> None:
    CHECKED[test] = CHECKED.get(test, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def report_count() -> Any:
    start = time.perf_counter()
    yield
    total = sum(CHECKED.values())
    print(f"\nproperty tests: {total} random graphs checked in {time.perf_counter() - start:.1f} s: {CHECKED}")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipes())
def test_gradients_match_finite_differences(recipe: Recipe) -> None:
    gg.verify_grad(lambda *xs: build(recipe, xs, np.float64)[0], recipe.values(np.float64), rtol=1e-4, atol=1e-6)
    _count("finite_differences")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipes())
def test_joint_gradients_equal_separate_and_input_gradients(recipe: Recipe) -> None:
    values = recipe.values(np.float64)
    leaves, inputs, args = make_leaves(recipe, values)
    cost, _ = build(recipe, leaves, np.float64)
    joint = gg.function(inputs, [gg.dense(g) for g in gg.grad(cost, leaves, disconnected_inputs="ignore")])(*args)
    as_inputs, _, _ = make_leaves(recipe, values, all_inputs=True)
    input_cost, _ = build(recipe, as_inputs, np.float64)
    reference = gg.function(as_inputs, [gg.dense(g) for g in gg.grad(input_cost, as_inputs,
                                                                        disconnected_inputs="ignore")])(*values)
    for k, leaf in enumerate(leaves):
        separate = gg.function(inputs, gg.dense(gg.grad(cost, leaf, disconnected_inputs="ignore")))(*args)
        np.testing.assert_allclose(joint[k], separate, rtol=1e-12, atol=1e-14, err_msg=f"leaf {leaf.label()}")
        np.testing.assert_allclose(joint[k], reference[k], rtol=1e-12, atol=1e-14, err_msg=f"leaf {leaf.label()}")
    _count("joint_vs_separate")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipes(), st.sampled_from(["float64", "float32"]))
# A shared table updated in place (only gathered from) while outputs show it: rare in random recipes.
@example(Recipe(2, 2, (Leaf((2, 2), True, False),), (("take", (0,), 1),), (1,), 0), "float32")
def test_compiled_function_equals_unrewritten_graph(recipe: Recipe, dtype: str) -> None:
    values = recipe.values(dtype)
    leaves, inputs, args = make_leaves(recipe, values)
    cost, expressions = build(recipe, leaves, dtype)
    grads = gg.grad(cost, leaves, disconnected_inputs="ignore")
    shared = [(leaf, g) for leaf, g in zip(leaves, grads) if isinstance(leaf, gg.SharedVariable)]
    # Also outputs that are, or view, shared leaves that an in-place update then changes.
    views = [view for w, _ in shared for view in ([w, w[::-1]] if w.ndim else [w])]
    outputs = [cost, *expressions, *views] + [gg.dense(g) for leaf, g in zip(leaves, grads) if leaf in inputs]
    updates = [(w, w - 0.1 * g) for w, g in shared]
    before = [w.get_value() for w, _ in shared]

    fast = gg.function(inputs, outputs, updates=updates)
    with np.errstate(all="ignore"):
        values = fast.evaluate(args, outputs=fast.unrewritten)
    reference = [np.array(values[v], copy=True) for v in fast.unrewritten]  # some are views of shared values
    results = fast(*args)
    for k, value in enumerate(results):
        problem = disagreement(reference[k], value)
        assert problem is None, f"output {k} ({outputs[k].label()}): {problem}"
    for k, (w, _) in enumerate(shared):
        problem = disagreement(reference[len(outputs) + k], w.get_value())
        assert problem is None, f"update of {w.label()}: {problem}"

    for (w, _), value in zip(shared, before):
        w.set_value(value)
    debug = gg.function(inputs, outputs, updates=updates, mode="debug")
    for value, expected in zip(debug(*args), results):
        assert disagreement(expected, value) is None
    _count("compiled_vs_unrewritten")
