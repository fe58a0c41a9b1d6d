"""Row-sparse gradients: the type propagates, updates equal dense ones, run in place on the
touched rows only, and never build a table-sized array."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.types import TensorType

RNG = np.random.default_rng(8)
V, H = 50, 4   # a table size no other array in these graphs has


def table(name: str = "W") -> gg.SharedVariable:
    return gg.shared(RNG.standard_normal((V, H)), name=name)


def bag_of_rows_cost(W: gg.SharedVariable, ix: gg.Variable, t: gg.Variable) -> gg.Variable:
    """The sentiment step's shape: a sum of gathered rows through a nonlinearity into a log-loss."""
    h = gg.take(W, ix).sum(axis=0)
    return gg.binary_crossentropy(gg.sigmoid(h.sum()), t)


def dense_update_reference(W0: np.ndarray, ix: np.ndarray, t: float, lr: float) -> np.ndarray:
    """The same SGD step written densely in numpy: a one-hot count matrix times the row gradient."""
    h = W0[ix].sum(axis=0)
    p = 1 / (1 + np.exp(-h.sum()))
    counts = np.zeros(V)
    np.add.at(counts, ix, 1)
    return W0 - lr * np.outer(counts, np.full(H, p - t))


def test_gradient_of_take_is_row_sparse_and_never_dense() -> None:
    W, ix, t = table(), gg.ivector("ix"), gg.scalar("t", "float64")
    g = gg.grad(bag_of_rows_cost(W, ix, t), W)
    assert isinstance(g, gg.SparseVariable)
    assert g.static_shape == (V, H)
    f = gg.function([ix, t], g)   # a row-sparse output comes back as a RowSparse value, not densified
    assert all(n.op.label() != "densify" for n in f.nodes)
    value = f(np.array([3, 1, 3], "int32"), 1.0)
    assert isinstance(value, gg.RowSparse)
    expected = np.zeros((V, H))
    np.add.at(expected, [3, 1, 3], np.broadcast_to(value.rows, (3, H)))
    np.testing.assert_array_equal(value.to_dense(), expected)
    assert value.rows.shape[0] in (1, 3) and value.shape == (V, H)
    np.testing.assert_array_equal(value.indices, [3, 1, 3])


def test_sparse_through_scaling_and_sums_then_densified() -> None:
    W, ix, jx = table(), gg.ivector("ix"), gg.ivector("jx")
    lr = gg.scalar("lr", "float64")
    g1 = gg.grad((gg.take(W, ix) * 2.0).sum(), W)
    g2 = gg.grad(gg.take(W, jx).sum(), W)
    combos = [0.5 * g1, g1 * lr, g1 / 4, -g1, g1 + g2, g1 - g2, lr * (g1 + g2)]
    assert all(isinstance(c, gg.SparseVariable) for c in combos)
    joint = gg.grad((gg.take(W, ix) * 2.0).sum() + gg.take(W, jx).sum(), W)
    assert isinstance(joint, gg.SparseVariable)   # two sparse contributions stay sparse together
    dense_uses = [gg.dense(g1), g1 * gg.ones_like(W), gg.exp(g1), 1.0 - g1, g1 + np.ones((V, H))]
    assert not any(isinstance(d, gg.SparseVariable) for d in dense_uses)
    assert any(n.op.label() == "densify" for n in gg.toposort([dense_uses[2]]))   # visible densify
    f = gg.function([ix, jx, lr], combos + [joint] + dense_uses)
    i, j = np.array([4, 0, 4], "int32"), np.array([0, 7], "int32")
    values = f(i, j, 0.1)
    D1, D2 = np.zeros((V, H)), np.zeros((V, H))
    np.add.at(D1, i, 2.0)
    np.add.at(D2, j, 1.0)
    expect = [0.5 * D1, 0.1 * D1, D1 / 4, -D1, D1 + D2, D1 - D2, 0.1 * (D1 + D2), D1 + D2,
              D1, D1, np.exp(D1), 1.0 - D1, D1 + 1]
    for got, want in zip(values, expect):
        got = got.to_dense() if isinstance(got, gg.RowSparse) else got
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_one_minus_a_sparse_gradient_densifies() -> None:
    # Regression: a dense operand that the row-sparse value does not fit (a scalar here) raised a
    # ShapeError instead of densifying.
    W, ix = table(), gg.ivector("ix")
    g = gg.grad(gg.take(W, ix).sum(), W)
    f = gg.function([ix], [1.0 - g, g + 2.0])
    a, b = f(np.array([1], "int32"))
    want = np.zeros((V, H))
    want[1] = 1.0
    np.testing.assert_array_equal(a, 1.0 - want)
    np.testing.assert_array_equal(b, want + 2.0)


def test_mixed_dense_and_sparse_gradient_against_finite_differences() -> None:
    ix = gg.as_tensor(np.array([2, 0, 2]))
    gg.verify_grad(lambda W: gg.tanh(gg.take(W, ix)).sum() + (W * W).mean(), [RNG.standard_normal((4, 3))])


@pytest.mark.parametrize("indices", [[1, 4, 9, 30], [9, 3, 9, 9, 0, 3], [7, 7], [5]], ids=str)
@pytest.mark.parametrize("lr_symbolic", [False, True])
def test_sparse_update_equals_dense_update_in_place(indices: list[int], lr_symbolic: bool) -> None:
    W, ix, t = table(), gg.ivector("ix"), gg.scalar("t", "float64")
    lr = gg.scalar("lr", "float64") if lr_symbolic else 0.3
    cost = bag_of_rows_cost(W, ix, t)
    g = gg.grad(cost, W)
    inputs = [ix, t] + ([lr] if lr_symbolic else [])
    f = gg.function(inputs, cost, updates=[(W, W - lr * g)])

    W_dense = gg.shared(W.get_value(), name="W_dense")
    cost_dense = bag_of_rows_cost(W_dense, ix, t)
    f_dense = gg.function(inputs, cost_dense,
                          updates=[(W_dense, W_dense - lr * gg.dense(gg.grad(cost_dense, W_dense)))])

    before = W.get_value(borrow=True)
    W0 = W.get_value()
    args = [np.array(indices, "int32"), 1.0] + ([0.3] if lr_symbolic else [])
    f(*args)
    f_dense(*args)
    after = W.get_value(borrow=True)
    assert after is before   # updated in place
    np.testing.assert_allclose(after, dense_update_reference(W0, np.array(indices), 1.0, 0.3), rtol=1e-12)
    np.testing.assert_allclose(after, W_dense.get_value(), rtol=1e-12)
    untouched = np.setdiff1d(np.arange(V), indices)
    np.testing.assert_array_equal(after[untouched], W0[untouched])


def test_compiled_sparse_update_holds_no_table_sized_node() -> None:
    W, ix, t = table(), gg.ivector("ix"), gg.scalar("t", "float64")
    cost = bag_of_rows_cost(W, ix, t)
    f = gg.function([ix, t], cost, updates=[(W, W - 0.1 * gg.grad(cost, W))])
    labels = {n.op.label() for n in f.nodes}
    assert "densify" not in labels and "dec_rows" not in labels
    for node in f.nodes:
        for out in node.outputs:
            assert not (isinstance(out.type, TensorType) and out.type.shape == (V, H)), node
    assert "zeros" not in f.source and "to_dense" not in f.source
    # The dense formulation, by contrast, does build one.
    f_dense = gg.function([ix, t], cost, updates=[(W, W - 0.1 * gg.dense(gg.grad(cost, W)))])
    assert any(o.type.shape == (V, H) for n in f_dense.nodes for o in n.outputs)


def test_scalar_index_sparse_update() -> None:
    W, i = table(), gg.iscalar("i")
    f = gg.function([i], [], updates=[(W, W - 1.0 * gg.grad(gg.take(W, i).sum(), W))])
    W0 = W.get_value()
    f(np.int32(6))
    W0[6] -= 1.0
    np.testing.assert_allclose(W.get_value(), W0)


def test_failed_call_leaves_in_place_and_dense_updates_undone() -> None:
    W, b = table(), gg.shared(np.zeros(3), name="b")
    ix, x, y = gg.ivector("ix"), gg.matrix("x", "float64"), gg.matrix("y", "float64")
    cost = gg.take(W, ix).sum()
    f = gg.function([ix, x, y], gg.dot(x, y), updates=[(W, W - 0.1 * gg.grad(cost, W)), (b, b + 1.0)])
    W0, buffer = W.get_value(), W.get_value(borrow=True)
    with pytest.raises(gg.ShapeError, match=r"dot\(x, y\)"):
        f(np.array([1, 1], "int32"), np.ones((2, 3)), np.ones((4, 2)))
    np.testing.assert_array_equal(W.get_value(), W0)
    assert W.get_value(borrow=True) is buffer
    np.testing.assert_array_equal(b.get_value(), np.zeros(3))
    f(np.array([1, 1], "int32"), np.ones((2, 3)), np.ones((3, 2)))   # the same function still works
    np.testing.assert_allclose(W.get_value()[1], W0[1] - 0.2)


def test_update_that_reads_an_in_place_table_sees_the_old_value() -> None:
    # Regression: V's update was W itself, committed as an alias of W's buffer, so the in-place
    # update of W changed V too (updates must all be computed from the old values).
    W, V_ = gg.shared(np.zeros((5, 2)), name="W"), gg.shared(np.zeros((5, 2)), name="V")
    ix = gg.ivector("ix")
    g = gg.grad(gg.take(W, ix).sum(), W)
    f = gg.function([ix], [], updates=[(W, W - 1.0 * g), (V_, W * 1)])
    f(np.array([1], "int32"))
    np.testing.assert_array_equal(V_.get_value()[1], [0.0, 0.0])
    np.testing.assert_array_equal(W.get_value()[1], [-1.0, -1.0])
    f(np.array([1], "int32"))
    np.testing.assert_array_equal(V_.get_value()[1], [-1.0, -1.0])


def test_row_sparse_value() -> None:
    s = gg.RowSparse(np.array([2, 0, 2]), np.array([[1.0, 2.0]]), (3, 2))
    np.testing.assert_array_equal(s.to_dense(), [[1.0, 2.0], [0.0, 0.0], [2.0, 4.0]])
    assert s.full_rows().shape == (3, 2)


def test_gradient_of_a_sparse_gradient_is_refused_clearly() -> None:
    W, ix = table(), gg.ivector("ix")
    g = gg.grad(gg.take(W, ix).sum(), W)
    with pytest.raises(gg.InputTypeError, match="row-sparse"):
        gg.function([ix], [], updates=[(W, g)])


@pytest.mark.parametrize("indices", [[2, 5, 11], [11, 2, 11, 0, 2, 2]], ids=str)
def test_per_row_sparse_update_equals_dense_update(indices: list[int]) -> None:
    # Rows differ per index here (no single broadcast row), on both the sorted and the repeated path.
    W, ix = table(), gg.ivector("ix")
    W_dense = gg.shared(W.get_value(), name="W_dense")
    weights = gg.as_tensor(RNG.standard_normal((len(indices), H)))
    cost, cost_dense = [(gg.tanh(gg.take(t, ix)) * weights).sum() for t in (W, W_dense)]
    f = gg.function([ix], cost, updates=[(W, W - 0.7 * gg.grad(cost, W))])
    f_dense = gg.function([ix], cost_dense,
                          updates=[(W_dense, W_dense - 0.7 * gg.dense(gg.grad(cost_dense, W_dense)))])
    buffer, W0 = W.get_value(borrow=True), W.get_value()
    i = np.array(indices, "int32")
    assert f(i) == pytest.approx(f_dense(i), rel=1e-12)
    assert W.get_value(borrow=True) is buffer
    np.testing.assert_allclose(W.get_value(), W_dense.get_value(), rtol=1e-12)
    expected = W0.copy()
    np.subtract.at(expected, i, 0.7 * (1 - np.tanh(W0[i]) ** 2) * weights.data)
    np.testing.assert_allclose(W.get_value(), expected, rtol=1e-12)


def test_gathered_rows_returned_as_output_are_not_overwritten_by_the_update() -> None:
    # The in-place commit computes the new rows in the gathered array unless a result may view it.
    W, ix, t = table(), gg.ivector("ix"), gg.scalar("t", "float64")
    rows = gg.take(W, ix)
    cost = gg.binary_crossentropy(gg.sigmoid(rows.sum()), t)
    f = gg.function([ix, t], [rows, rows.T], updates=[(W, W - 0.5 * gg.grad(cost, W))])
    start = W.get_value()
    gathered, transposed = f(np.array([1, 4], "int32"), 1.0)
    np.testing.assert_array_equal(gathered, start[[1, 4]])   # the old rows, as gathered
    np.testing.assert_array_equal(transposed, start[[1, 4]].T)
    assert not np.array_equal(W.get_value()[[1, 4]], start[[1, 4]])


def test_scalar_index_update_in_a_function_that_also_gathers_the_row() -> None:
    # Regression (found by the property tests): a gathered single row has shape (H,) while its
    # row gradient holds (1, H); the write-back commit must not mix the two.
    W, i = table(), gg.iscalar("i")
    cost = gg.tanh(gg.take(W, i)).sum()
    f = gg.function([i], cost, updates=[(W, W - 0.5 * gg.grad(cost, W))])
    start = W.get_value()
    f(3)
    expected = start.copy()
    expected[3] -= 0.5 * (1 - np.tanh(start[3]) ** 2)
    np.testing.assert_allclose(W.get_value(), expected, rtol=1e-12)


def test_update_rows_do_not_overwrite_rows_another_update_still_reads() -> None:
    # Regression (review): W's new rows were computed inside the gathered array, which is also the
    # (unscaled) rows of V's gradient; V then saw W's new rows instead of the old ones.
    V, W, ix = gg.shared(np.arange(1.0, 7.0), name="V"), gg.shared(np.arange(10.0, 70.0, 10.0), name="W"), gg.ivector("ix")
    loss = gg.dot(gg.take(V, ix), gg.take(W, ix))
    gV, gW = gg.grad(loss, [V, W])
    gg.function([ix], loss, updates=[(W, W - gW), (V, V - gV)])(np.array([1, 3], "int32"))
    np.testing.assert_array_equal(V.get_value()[[1, 3]], [2.0 - 20.0, 4.0 - 40.0])
    np.testing.assert_array_equal(W.get_value()[[1, 3]], [20.0 - 2.0, 40.0 - 4.0])
    f = gg.function([ix], gV, updates=[(W, W - gW)])
    old = W.get_value()[[1, 3]]
    np.testing.assert_array_equal(f(np.array([1, 3], "int32")).rows, old)   # the old rows of W
