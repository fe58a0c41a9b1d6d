"""Wrong inputs thrown at compiled functions: only graphgrad's own errors (which are also
TypeError / ValueError / IndexError), naming the input or the node; never a raw numpy error, never a
silent wrong result, never a changed shared variable. Accepted inputs are checked against numpy."""
from __future__ import annotations

from functools import cache
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg

V, H, K = 7, 4, 3
RNG = np.random.default_rng(0)
E0 = RNG.standard_normal((V, K)).astype("float32")
W0 = RNG.standard_normal((H, K)).astype("float32")
X = RNG.standard_normal((2, H)).astype("float32")
IX = np.array([1, 2, 2], "int32")
Y = np.array([0, 2])
GOOD = (X, IX, Y)


def build(mode: str | None = None) -> tuple[gg.Function, gg.SharedVariable, gg.SharedVariable]:
    """A training step with a row-sparse (in place) and a dense update, and a second output that
    only fails after every update value is computed; its parameters set to E0 and W0."""
    f, E, W = _compiled(mode)
    E.set_value(E0)
    W.set_value(W0)
    return f, E, W


@cache
def _compiled(mode: str | None) -> tuple[gg.Function, gg.SharedVariable, gg.SharedVariable]:
    E = gg.shared(E0, name="E")
    W = gg.shared(W0, name="W")
    x, ix, y = gg.matrix("x"), gg.ivector("ix"), gg.lvector("y")
    logits = gg.dot(x, W) + gg.take(E, ix).sum(axis=0)
    cost = gg.mean(gg.categorical_crossentropy(gg.softmax(logits), y))
    g_E, g_W = gg.grad(cost, [E, W])
    f = gg.function([x, ix, y], [cost, gg.take(W, y)], updates=[(E, E - 0.1 * g_E), (W, W - 0.1 * g_W)],
                    mode=mode, name="step")
    return f, E, W


def reference_cost(E: np.ndarray, W: np.ndarray, x: Any, ix: Any, y: Any) -> float:
    """The step's cost in plain numpy (float64)."""
    # ids and labels convert as the function documents it: any safe integer cast, bools as 0 and 1
    ix, y = np.asarray(ix).astype(np.int64), np.asarray(y).astype(np.int64)
    logits = np.asarray(x, np.float64) @ W + E[ix].sum(axis=0)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(log_p)), y].mean())


def with_arg(position: int, value: Any) -> tuple:
    args = list(GOOD)
    args[position] = value
    return tuple(args)


BAD: dict[str, tuple[tuple, type, str]] = {
    "x is a vector": (with_arg(0, X[0]), gg.InputTypeError, "'x'"),
    "x is 3-d": (with_arg(0, X[None]), gg.InputTypeError, "'x'"),
    "x has too many columns": (with_arg(0, np.ones((2, H + 1), "float32")), gg.ShapeError, "dot(x, W)"),
    "x is complex": (with_arg(0, X.astype(complex)), gg.InputTypeError, "'x'"),
    "x is a string": (with_arg(0, "abc"), gg.InputTypeError, "'x'"),
    "x is None": (with_arg(0, None), gg.InputTypeError, "'x'"),
    "x is a ragged list": (with_arg(0, [[1.0], [1.0, 2.0]]), gg.InputTypeError, "'x'"),
    "x holds objects": (with_arg(0, X.astype(object)), gg.InputTypeError, "'x'"),
    "x is a dict": (with_arg(0, {}), gg.InputTypeError, "'x'"),
    "x is masked": (with_arg(0, np.ma.array(X, mask=np.ones_like(X, bool))), gg.InputTypeError, "masked"),
    "x overflows float32": (with_arg(0, np.full((2, H), 1e300)), gg.InputTypeError, "overflow"),
    "ix is float": (with_arg(1, IX.astype(float)), gg.InputTypeError, "'ix'"),
    "ix is negative": (with_arg(1, np.array([-1], "int32")), gg.IndexRangeError, "-1"),
    "ix is too large": (with_arg(1, np.array([10**6], "int32")), gg.IndexRangeError, "1000000"),
    "ix does not fit int32": (with_arg(1, np.array([2**40])), gg.IndexRangeError, "'ix'"),
    "ix is a matrix": (with_arg(1, IX[None]), gg.InputTypeError, "'ix'"),
    "ix is a scalar": (with_arg(1, np.int32(1)), gg.InputTypeError, "'ix'"),
    "y is out of range": (with_arg(2, np.array([0, K])), gg.IndexRangeError, "y"),
    "y is negative": (with_arg(2, np.array([0, -1])), gg.IndexRangeError, "y"),
    "y is float": (with_arg(2, np.array([0.0, 1.0])), gg.InputTypeError, "'y'"),
    "y has too many labels": (with_arg(2, np.array([0, 1, 2])), gg.ShapeError, "labels of shape (3,)"),
    "too few arguments": ((X, IX), gg.InputTypeError, "takes 3 inputs (x, ix, y), got 2"),
    "too many arguments": ((X, IX, Y, Y), gg.InputTypeError, "got 4"),
}


@pytest.mark.parametrize("mode", [None, "debug", "nanguard", "profile"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_raises_a_clear_error_and_changes_nothing(case: str, mode: str | None) -> None:
    args, error, named = BAD[case]
    f, E, W = build(mode)
    with pytest.raises(error) as raised:
        f(*args)
    assert isinstance(raised.value, gg.GraphgradError)
    assert named in str(raised.value)
    np.testing.assert_array_equal(E.get_value(), E0)
    np.testing.assert_array_equal(W.get_value(), W0)


ACCEPTED: dict[str, Callable[[], tuple]] = {
    "nested lists": lambda: (X.tolist(), IX.tolist(), Y.tolist()),
    "integer x": lambda: (np.round(X * 3).astype(int), IX, Y),
    "Fortran-ordered x": lambda: (np.asfortranarray(X), IX, Y),
    "strided x": lambda: (np.repeat(X, 2, axis=0)[::2], IX, Y),
    "big-endian x": lambda: (X.astype(">f4"), IX, Y),
    "np.matrix x": lambda: (np.asmatrix(X), IX, Y),
    "read-only x": lambda: (np.array(X, copy=True).view(), IX, Y),
    "uint16 ids and int32 labels": lambda: (X, IX.astype("uint16"), Y.astype("int32")),
    "empty ids": lambda: (X, np.array([], "int32"), Y),
}


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_accepted_input_gives_the_numpy_result(case: str) -> None:
    args = ACCEPTED[case]()
    f, E, W = build()
    cost, picked = f(*args)
    np.testing.assert_allclose(cost, reference_cost(E0, W0, *args), rtol=1e-5)
    np.testing.assert_array_equal(picked, W0[Y])
    assert not np.array_equal(W.get_value(), W0)  # the step did update


def test_nan_input_is_visible_in_fast_mode_and_stopped_by_nanguard() -> None:
    # The default mode does not scan inputs (that would cost every call); the NaN shows in the
    # outputs. nanguard stops at the first node, before anything is committed.
    bad = with_arg(0, np.full((2, H), np.nan, "float32"))
    f, _, _ = build()
    assert np.isnan(f(*bad)[0])
    guarded, E, W = build("nanguard")
    with pytest.raises(gg.NonFiniteError, match=r"dot\(x, W\).*x: float32 array of shape \(2, 4\) \(8 NaN"):
        guarded(*bad)
    np.testing.assert_array_equal(E.get_value(), E0)
    np.testing.assert_array_equal(W.get_value(), W0)


def test_shared_variables_are_not_aliased_by_inputs() -> None:
    # An accepted input array must not become a shared variable's storage, or later edits by the
    # caller would change the model.
    f, E, W = build()
    x = X.copy()
    f(x, IX, Y)
    after = W.get_value()
    x[:] = 1e6
    np.testing.assert_array_equal(W.get_value(), after)


arbitrary = st.one_of(
    st.none(), st.text(max_size=3), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
    st.lists(st.floats(-10, 10), max_size=4), st.lists(st.lists(st.integers(-3, 9), max_size=3), max_size=3),
    hnp.arrays(st.sampled_from(["float32", "float64", "int32", "int64", "uint8", "bool", "complex64"]),
               hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2), arbitrary)
def test_random_input_is_rejected_cleanly_or_computed_correctly(position: int, value: Any) -> None:
    f, E, W = build()
    args = with_arg(position, value)
    try:
        cost, picked = f(*args)
    except gg.GraphgradError as error:
        assert isinstance(error, TypeError | ValueError | IndexError | FloatingPointError)
        np.testing.assert_array_equal(E.get_value(), E0)
        np.testing.assert_array_equal(W.get_value(), W0)
        return
    with np.errstate(all="ignore"):
        expected = reference_cost(E0, W0, *args)
    np.testing.assert_allclose(cost, expected, rtol=1e-4, equal_nan=True)
    np.testing.assert_array_equal(picked, W0[np.asarray(args[2]).astype(np.int64)])
