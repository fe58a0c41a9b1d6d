"""The modes of debug.py: debug (rewritten vs unrewritten, static types, generated code),
nanguard (first non-finite node) and profile (time per node and per op type)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import rewrite as rewrite_module
from graphgrad.graph import Apply, clone_graph
from graphgrad.ops.elemwise import Tanh
from graphgrad.types import TensorType


def training_step(mode: Any) -> tuple[gg.Function, gg.SharedVariable, gg.SharedVariable, list[np.ndarray]]:
    """A step with an in-place row-sparse update (E) and a dense update (W)."""
    rng = np.random.default_rng(1)
    E = gg.shared(rng.standard_normal((6, 3)), name="E")
    W = gg.shared(rng.standard_normal((4, 3)), name="W")
    x, ix, y = gg.matrix("x", "float64"), gg.ivector("ix"), gg.lvector("y")
    cost = gg.mean(gg.categorical_crossentropy(gg.softmax(gg.tanh(gg.dot(x, W)) + gg.take(E, ix).sum(axis=0)), y))
    g_E, g_W = gg.grad(cost, [E, W])
    f = gg.function([x, ix, y], cost, updates=[(E, E - 0.5 * g_E), (W, W - 0.5 * g_W)], mode=mode, name="step")
    return f, E, W, [rng.standard_normal((2, 4)), np.array([0, 5, 5], "int32"), np.array([2, 0])]


def tanh_to_sigmoid(outputs: Sequence[gg.Variable]) -> list[gg.Variable]:
    """A wrong rewrite, for debug mode to catch."""
    def rebuild(node: Apply, inputs: list[gg.Variable]) -> list[gg.Variable]:
        if isinstance(node.op, Tanh):
            return [gg.sigmoid(inputs[0])]
        return Apply(node.op, inputs, [o.type for o in node.outputs]).outputs
    return clone_graph(outputs, rebuild=rebuild)


@pytest.fixture
def faulty_rewrite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rewrite_module, "REWRITES", [*rewrite_module.REWRITES, ("tanh_to_sigmoid", tanh_to_sigmoid)])


@pytest.mark.parametrize("mode", ["debug", "nanguard", "profile", gg.DebugMode(rtol=1e-9, atol=0)])
def test_checking_modes_compute_what_the_fast_mode_computes(mode: Any) -> None:
    fast, E_fast, W_fast, args = training_step(None)
    checked, E, W, _ = training_step(mode)
    for _ in range(2):
        np.testing.assert_allclose(checked(*args), fast(*args), rtol=1e-12)
    np.testing.assert_allclose(E.get_value(), E_fast.get_value(), rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), W_fast.get_value(), rtol=1e-12)


def test_debug_mode_names_the_output_and_the_rewrite_that_changed_it(faulty_rewrite: None) -> None:
    fast, _, _, args = training_step(None)
    f, E, W, _ = training_step("debug")
    before = E.get_value(), W.get_value()
    fast(*args)  # the fast mode silently computes the wrong rewrite's result
    with pytest.raises(gg.DebugModeError, match=r"output 0 of function step: rewritten .* disagrees with "
                                                 r"unrewritten .*'tanh_to_sigmoid'"):
        f(*args)
    np.testing.assert_array_equal(E.get_value(), before[0])
    np.testing.assert_array_equal(W.get_value(), before[1])


def test_debug_mode_checks_updates(faulty_rewrite: None) -> None:
    w = gg.shared(np.array([0.5, -1.0]), name="w")
    f = gg.function([], [], updates=[(w, gg.tanh(w))], mode="debug")
    with pytest.raises(gg.DebugModeError, match="update of w"):
        f()
    np.testing.assert_array_equal(w.get_value(), [0.5, -1.0])


class WrongDtype(gg.Op):
    """Claims float32, computes float64."""

    def make_node(self, x: gg.Variable) -> Apply:
        return Apply(self, [x], [TensorType("float32", x.type.shape)])

    def perform(self, x: np.ndarray) -> np.ndarray:
        return x.astype("float64")


class WrongShape(gg.Op):
    """Claims 3 columns, computes 4."""

    def make_node(self, x: gg.Variable) -> Apply:
        return Apply(self, [x], [TensorType(x.dtype, (None, 3))])

    def perform(self, x: np.ndarray) -> np.ndarray:
        return np.zeros((len(x), 4), x.dtype)


class MismatchedCode(gg.Op):
    """perform doubles, the generated expression triples."""

    def make_node(self, x: gg.Variable) -> Apply:
        return Apply(self, [x], [x.type])

    def perform(self, x: np.ndarray) -> np.ndarray:
        return x * 2

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        return f"({args[0]} * 3)"


@pytest.mark.parametrize("op, message", [
    (WrongDtype(), r"node wrongdtype\(x\) \(wrongdtype\) computed float64 array of shape \(2, 3\), "
                   r"static type float32"),
    (WrongShape(), r"node wrongshape\(x\) \(wrongshape\) computed float32 array of shape \(2, 4\), .* \(None, 3\)"),
    (MismatchedCode(), r"node mismatchedcode\(x\) \(mismatchedcode\): generated code `\(a0 \* 3\)` disagrees"),
])
def test_debug_mode_names_the_node_whose_value_breaks_its_contract(op: gg.Op, message: str) -> None:
    x = gg.matrix("x")
    f = gg.function([x], op(x).sum(), mode="debug")
    with pytest.raises(gg.DebugModeError, match=message):
        f(np.ones((2, 3), "float32"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_debug_mode_accepts_stable_log_losses_where_the_naive_form_saturates(dtype: str) -> None:
    z, t = gg.vector("z", dtype), gg.vector("t", dtype)
    cost = gg.binary_crossentropy(gg.sigmoid(z), t).sum() + gg.log(gg.sigmoid(z)).sum()
    outputs = [cost, gg.grad(cost, z)]
    args = [np.array([1000, -60, 15, 0.5], dtype), np.array([0, 1, 0, 0.3], dtype)]
    expected = gg.function([z, t], outputs)(*args)
    for value, want in zip(gg.function([z, t], outputs, mode="debug")(*args), expected):
        np.testing.assert_allclose(value, want)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's own warning for the NaN nanguard reports
def test_nanguard_names_the_first_non_finite_node_its_op_and_its_inputs() -> None:
    x = gg.vector("x", "float64")
    w = gg.shared(np.ones(3), name="w")
    y = gg.log(x * w)
    y.name = "log_xw"
    f = gg.function([x], (y * 2).sum(), updates=[(w, w + 1)], mode="nanguard")
    with pytest.raises(gg.NonFiniteError, match=r"node log_xw \(log\) produced 1 NaN, 0 Inf in float64 array of "
                                                 r"shape \(3,\); inputs: multiply\(x, w\): float64 array of shape "
                                                 r"\(3,\) \(finite\)"):
        f(np.array([1.0, -1.0, 2.0]))
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    assert f(np.array([1.0, 3.0, 2.0])) == pytest.approx(2 * np.log(6))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nanguard_says_when_an_input_was_already_non_finite() -> None:
    x = gg.vector("x", "float64")
    f = gg.function([x], gg.exp(x).sum(), mode="nanguard")
    with pytest.raises(gg.NonFiniteError, match=r"node exp\(x\) \(exp\) produced 1 NaN, 1 Inf .* "
                                                 r"x: float64 array of shape \(3,\) \(1 NaN, 0 Inf\)"):
        f(np.array([np.nan, 1000.0, 0.0]))
    with pytest.raises(gg.NonFiniteError, match=r"produced 0 NaN, 1 Inf .* \(finite\)"):
        f(np.array([1000.0, 0.0, 0.0]))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nanguard_catches_non_finite_gradients() -> None:
    x = gg.vector("x", "float64")
    f = gg.function([x], gg.grad(gg.sqrt(x).sum(), x), mode="nanguard")
    with pytest.raises(gg.NonFiniteError, match="Inf"):
        f(np.array([0.0, 1.0]))


def test_nanguard_checks_outputs_no_node_computes() -> None:
    x = gg.vector("x", "float64")
    with pytest.raises(gg.NonFiniteError, match="output x"):
        gg.function([x], x, mode="nanguard")(np.array([np.inf]))


def test_profile_counts_every_node_and_sorts_its_tables() -> None:
    f, _, _, args = training_step("profile")
    assert f.profile.calls == 0
    for _ in range(3):
        f(*args)
    profile = f.profile
    assert profile.calls == 3
    assert len(profile.nodes) == len(f.nodes)
    assert all(stats.calls == 3 for stats in profile.nodes.values())
    by_op = profile.by_op()
    assert [row[1] for row in by_op] == sorted((row[1] for row in by_op), reverse=True)
    assert sum(row[2] for row in by_op) == 3 * len(f.nodes)
    assert {"Dot", "Take", "SoftmaxCrossentropy"} <= {row[0] for row in by_op}
    times = [stats.seconds for stats in profile.by_node()]
    assert times == sorted(times, reverse=True)
    summary = profile.summary(top=5)
    assert summary.startswith(f"profile: 3 calls, ") and "SoftmaxCrossentropy" in summary
    assert len(summary.splitlines()) == 1 + 2 + len(by_op) + 2 + 5
    profile.reset()
    assert profile.calls == 0 and not profile.nodes


def test_fast_mode_has_no_profile_and_unknown_modes_are_listed() -> None:
    x = gg.vector("x")
    assert gg.function([x], x * 2).profile is None
    with pytest.raises(ValueError, match="'debug', 'fast', 'nanguard', 'profile'"):
        gg.function([x], x * 2, mode="fastest")
