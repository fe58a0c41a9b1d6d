"""function(): inputs, outputs, updates, givens, generated code, call-time checks and atomicity."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

RNG = np.random.default_rng(10)


def test_outputs_single_list_and_none() -> None:
    x = gg.vector("x", "float64")
    value = np.array([1.0, 2.0])
    np.testing.assert_array_equal(gg.function([x], x * 2)(value), [2.0, 4.0])
    a, b = gg.function([x], [x + 1, x.sum()])(value)
    np.testing.assert_array_equal(a, [2.0, 3.0])
    assert b == 3.0
    assert gg.function([x], [])(value) == []


def test_source_is_generated_straight_line_code() -> None:
    x = gg.matrix("x", "float64")
    f = gg.function([x], gg.tanh(x).sum(axis=0), name="step")
    assert f.source.startswith("def compiled(fn, *args):") and "a0, = args" in f.source
    assert "return outputs" in f.source
    assert len(f.nodes) == 2 and "step" in repr(f)


@pytest.mark.parametrize("form", ["list", "dict"])
def test_updates_in_list_and_dict_form_use_old_values(form: str) -> None:
    a, b = gg.shared(np.array([1.0]), name="a"), gg.shared(np.array([2.0]), name="b")
    pairs = [(a, b), (b, a + b)]
    f = gg.function([], [a, b], updates=dict(pairs) if form == "dict" else pairs)
    old_a, old_b = f()
    np.testing.assert_array_equal([old_a, old_b], [[1.0], [2.0]])
    np.testing.assert_array_equal([a.get_value(), b.get_value()], [[2.0], [3.0]])


def test_update_errors() -> None:
    W = gg.shared(np.zeros((2, 3), "float32"), name="W")
    x = gg.matrix("x", "float32")
    with pytest.raises(gg.InputTypeError, match=r"update of W \(float32 matrix\) has dtype float64.*astype"):
        gg.function([x], [], updates=[(W, W + gg.as_tensor(np.ones((2, 3))))])
    with pytest.raises(gg.ShapeError, match=r"update of W \(2, 3\) has shape \(3, 2\)"):
        gg.function([], [], updates=[(W, W.T)])
    with pytest.raises(gg.InputTypeError, match="not a shared variable"):
        gg.function([x], [], updates=[(x, x + 1)])
    with pytest.raises(gg.InputTypeError, match="W is updated twice"):
        gg.function([], [], updates=[(W, W + 1), (W, W - 1)])
    with pytest.raises(gg.InputTypeError, match="pair"):
        gg.function([], [], updates=[(W,)])


def test_runtime_update_shape_is_checked_before_any_commit() -> None:
    W = gg.shared(np.zeros((2, 3)), name="W")
    b = gg.shared(np.zeros(3), name="b")
    x = gg.matrix("x", "float64")
    f = gg.function([x], [], updates=[(b, b + 1.0), (W, W + x)])
    with pytest.raises(gg.ShapeError):
        f(np.ones((4, 3)))   # W + x broadcasts to (4, 3): not W's shape
    np.testing.assert_array_equal(b.get_value(), np.zeros(3))
    np.testing.assert_array_equal(W.get_value(), np.zeros((2, 3)))


def test_input_list_errors() -> None:
    x, y = gg.vector("x"), gg.vector("y")
    with pytest.raises(gg.InputTypeError, match="listed twice"):
        gg.function([x, x], x + 1)
    with pytest.raises(gg.InputTypeError, match="needs input y, which is not in the inputs list"):
        gg.function([x], x + y)
    with pytest.raises(gg.InputTypeError, match="must be a list"):
        gg.function(x, x + 1)
    with pytest.raises(gg.InputTypeError, match="must be a symbolic input"):
        gg.function([x + 1], x)
    with pytest.raises(gg.InputTypeError, match="must be a symbolic input"):
        gg.function([gg.shared(np.zeros(2), name="s")], x)


def test_givens_replace_variables() -> None:
    x, y = gg.vector("x", "float64"), gg.vector("y", "float64")
    data = gg.shared(np.array([1.0, 2.0, 3.0]), name="data")
    f = gg.function([y], x * y, givens={x: data})
    np.testing.assert_array_equal(f(np.ones(3)), [1.0, 2.0, 3.0])
    g = gg.function([y], (x * 2).sum(), givens=[(x, y + 1)])
    assert g(np.array([0.0, 1.0])) == 6.0
    with pytest.raises(gg.InputTypeError, match="givens replaces x"):
        gg.function([y], x * 2, givens={x: gg.matrix("m", "float64")})


def test_wrong_number_of_inputs_names_them() -> None:
    x, ix = gg.vector("x"), gg.ivector("ix")
    f = gg.function([x, ix], x[ix], name="pick")
    with pytest.raises(gg.InputTypeError, match=r"pick takes 2 inputs \(x, ix\), got 1"):
        f(np.ones(3, "float32"))


def test_wrong_ndim_and_shape_name_the_input() -> None:
    x = gg.tensor("x", "float32", (None, 5))
    f = gg.function([x], x.sum())
    with pytest.raises(gg.InputTypeError, match=r"input 'x' \(position 0\): expected float32 matrix.*shape \(3,\)"):
        f(np.ones(3, "float32"))
    with pytest.raises(gg.ShapeError, match=r"input 'x' \(position 0\): expected float32 matrix of shape \(None, 5\)"):
        f(np.ones((3, 4), "float32"))
    with pytest.raises(gg.InputTypeError, match="got str"):
        f("not an array")


def test_python_and_numpy_scalars_are_converted() -> None:
    s, x = gg.scalar("s"), gg.vector("x")
    f = gg.function([s, x], s * x)
    for scalar in [2, 2.0, np.float64(2.0), np.float32(2.0), np.int64(2), True]:
        out = f(scalar, [1.0, 0.5])
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, [2.0, 1.0] if scalar is not True else [1.0, 0.5])


def test_int64_for_int32_input_accepted_in_range_rejected_out_of_range() -> None:
    ix = gg.ivector("ix")
    table = gg.shared(np.arange(10.0), name="table")
    f = gg.function([ix], table[ix])
    np.testing.assert_array_equal(f(np.array([1, 9], dtype=np.int64)), [1.0, 9.0])
    np.testing.assert_array_equal(f([2, 3]), [2.0, 3.0])
    with pytest.raises(gg.IndexRangeError, match=r"input 'ix' \(position 0\).*int64"):
        f(np.array([1, 2 ** 40], dtype=np.int64))


def test_failed_output_commits_no_update() -> None:
    counter = gg.shared(np.array(0.0), name="counter")
    a, b = gg.vector("a", "float64"), gg.vector("b", "float64")
    f = gg.function([a, b], (a * b).sum(), updates=[(counter, counter + 1.0)])
    with pytest.raises(gg.ShapeError, match=r"multiply\(a, b\)"):
        f(np.ones(2), np.ones(3))
    assert counter.get_value() == 0.0
    f(np.ones(2), np.ones(2))
    assert counter.get_value() == 1.0


@pytest.mark.parametrize("mode", ["fast", "debug"])
def test_outputs_viewing_a_table_updated_in_place_do_not_change_later(mode: str) -> None:
    W = gg.shared(np.zeros((4, 2)), name="W")
    ix = gg.ivector("ix")
    step = gg.function([ix], [W, W.T, W[1:3]], updates=[(W, W - 1.0 * gg.grad(gg.take(W, ix).sum(), W))],
                       mode=mode)
    outputs = step(np.array([1], "int32"))
    for out in outputs:
        assert not out.any()   # the values before the update
    step(np.array([1, 2], "int32"))
    for out in outputs:
        assert not out.any()   # and not changed by the next in-place commit
    # Also an output of another function that reads W.
    read = gg.function([], W, mode=mode)
    seen = read()
    step(np.array([1], "int32"))
    np.testing.assert_array_equal(seen[1], [-2.0, -2.0])
    np.testing.assert_array_equal(W.get_value()[1], [-3.0, -3.0])


@pytest.mark.parametrize("mode", ["fast", "debug"])
def test_dense_update_viewing_an_in_place_table_is_a_copy(mode: str) -> None:
    # Regression: (V, W.T) committed a view of W's buffer, so W's in-place update changed V too.
    W, V_ = gg.shared(np.zeros((3, 2)), name="W"), gg.shared(np.zeros((2, 3)), name="V")
    ix = gg.ivector("ix")
    f = gg.function([ix], [], updates=[(W, W - 1.0 * gg.grad(gg.take(W, ix).sum(), W)), (V_, W.T)], mode=mode)
    f(np.array([0], "int32"))
    assert not V_.get_value().any()
    assert not np.shares_memory(V_.get_value(borrow=True), W.get_value(borrow=True))


def test_evaluate_returns_every_value_without_committing() -> None:
    W = gg.shared(np.ones(2), name="W")
    x = gg.vector("x", "float64")
    y = x * W
    f = gg.function([x], y.sum(), updates=[(W, W * 2.0)])
    values = f.evaluate([np.array([1.0, 2.0])])
    assert values[f.outputs[0]] == 3.0
    np.testing.assert_array_equal(W.get_value(), np.ones(2))


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        gg.function([], [], mode="turbo")


def test_constant_outputs_and_updates_are_writable_copies() -> None:
    # Regression: a constant update value became the shared variable's value itself, read-only, so
    # the next in-place row update failed; a constant output was read-only for the caller too.
    W = gg.shared(np.ones((4, 2)), name="W")
    ix = gg.ivector("ix")
    gg.function([], [], updates=[(W, np.zeros((4, 2)))])()
    assert W.get_value(borrow=True).flags.writeable
    step = gg.function([ix], [], updates=[(W, W - 1.0 * gg.grad(gg.take(W, ix).sum(), W))])
    step(np.array([1], "int32"))
    np.testing.assert_array_equal(W.get_value()[1], [-1.0, -1.0])
    x = gg.vector("x", "float64")
    out = gg.function([x], [x, gg.as_tensor(np.ones(2)) * 2.0])(np.zeros(2))[1]
    out[0] = 5.0
    assert gg.function([x], gg.as_tensor(np.ones(2)) * 2.0)(np.zeros(2))[0] == 2.0


@pytest.mark.parametrize("mode", ["fast", "debug"])
def test_update_to_an_input_array_does_not_alias_the_callers_array(mode: str) -> None:
    # Regression: (V, x) made the caller's array V's value, so V's in-place updates wrote into it.
    V_, x, ix = gg.shared(np.zeros((4, 2)), name="V"), gg.matrix("x", "float64"), gg.ivector("ix")
    gg.function([x], [], updates=[(V_, x)], mode=mode)(given := np.zeros((4, 2)))
    gg.function([ix], [], updates=[(V_, V_ - 1.0 * gg.grad(gg.take(V_, ix).sum(), V_))])(np.array([0], "int32"))
    assert not given.any()
    np.testing.assert_array_equal(V_.get_value()[0], [-1.0, -1.0])


def test_givens_for_an_intermediate_and_its_input_together() -> None:
    # Regression: replacing x re-created the node computing y, whose clone then overwrote y's given.
    x, w = gg.vector("x", "float64"), gg.vector("w", "float64")
    y = x * 2.0
    f = gg.function([w], y + x, givens={x: w, y: w * 10.0})
    np.testing.assert_array_equal(f(np.ones(2)), [11.0, 11.0])
