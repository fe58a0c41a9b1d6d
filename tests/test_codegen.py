"""The generated code: write-back of gathered rows, the checks that guard it, dead nodes left out,
and the call path straight into the generated function."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.sparse import RowGradient

RNG = np.random.default_rng(13)
V, H = 40, 3


def bag_step(index_dtype: str = "int32", lr: float = 0.5) -> tuple[gg.Function, gg.SharedVariable]:
    """The per-review sentiment step on a small table: its W update is written back."""
    ix, t = gg.tensor("ix", index_dtype, (None,)), gg.scalar("t", "float64")
    W = gg.shared(RNG.standard_normal((V, H)), name="W")
    w = gg.shared(RNG.standard_normal((H, 1)), name="w")
    p = gg.sigmoid(gg.dot(gg.take(W, ix).sum(axis=0), w))
    gW, gw = gg.grad(gg.binary_crossentropy(p, t).sum(), [W, w])
    return gg.function([ix, t], p, updates=[(W, W - lr * gW), (w, w - lr * gw)]), W


def dense_reference(W0: np.ndarray, w0: np.ndarray, ix: np.ndarray, t: float, lr: float) -> np.ndarray:
    h = W0[ix].sum(axis=0)
    p = 1 / (1 + np.exp(-(h @ w0)))
    W = W0.copy()
    np.subtract.at(W, ix, lr * (p - t) * w0[:, 0])   # repeated ids accumulate
    return W


def test_write_back_builds_no_row_gradient() -> None:
    f, _ = bag_step()
    assert "_RowSparse" not in f.source.split("outputs =")[0]     # built only on the slow commit path
    assert "[None, :]" not in f.source                             # its single row broadcasts by itself
    assert "increasing0 = " in f.source and "r0 -= " in f.source
    assert any(isinstance(n.op, RowGradient) for n in f.nodes)    # still scheduled: evaluate() shows it


@pytest.mark.parametrize("ids", [[1, 4, 9], [9, 4, 1], [3, 3, 7], [0], [], [7, 2, 7, 7]], ids=str)
@pytest.mark.parametrize("index_dtype", ["int32", "int64", "uint32"])
def test_write_back_equals_the_dense_update_for_any_order(ids: list[int], index_dtype: str) -> None:
    f, W = bag_step(index_dtype)
    w = next(s for s in f.shared_updated if s.name == "w")
    W0, w0 = W.get_value(), w.get_value()
    buffer = W.get_value(borrow=True)
    ix = np.array(ids, index_dtype)
    f(ix, 1.0)
    assert W.get_value(borrow=True) is buffer
    np.testing.assert_allclose(W.get_value(), dense_reference(W0, w0, ix.astype(np.intp), 1.0, 0.5), rtol=1e-12)


@pytest.mark.parametrize("ids", [[-1, 2], [2, -1], [0, V], [-3, -3]], ids=str)
def test_bad_ids_raise_naming_the_gather_and_change_nothing(ids: list[int]) -> None:
    f, W = bag_step()
    before = W.get_value()
    with pytest.raises(gg.IndexRangeError, match=r"take\(W, ix\)"):
        f(np.array(ids, "int32"), 1.0)
    np.testing.assert_array_equal(W.get_value(), before)


def test_rows_that_do_not_fit_raise_before_any_commit() -> None:
    # A row gradient built by hand with as many rows as the caller says: the generated code checks
    # them against the gathered rows before committing anything.
    ix, rows = gg.ivector("ix"), gg.matrix("rows", "float64")
    W = gg.shared(np.zeros((V, H)), name="W")
    other = gg.shared(np.zeros(2), name="other")
    sparse = RowGradient(checked=True)(W, ix, rows)
    f = gg.function([ix, rows], gg.take(W, ix).sum(), updates=[(W, W - sparse), (other, other + 1)])
    assert "_check_fits" in f.source
    f(np.array([1, 2], "int32"), np.ones((2, H)))
    np.testing.assert_array_equal(W.get_value()[[1, 2]], -np.ones((2, H)))
    with pytest.raises(gg.ShapeError, match="does not fit"):
        f(np.array([1, 2], "int32"), np.ones((3, H)))
    np.testing.assert_array_equal(W.get_value()[[1, 2]], -np.ones((2, H)))
    np.testing.assert_array_equal(other.get_value(), [1.0, 1.0])


def test_dead_nodes_are_not_generated() -> None:
    x = gg.vector("x", "float64")
    f = gg.function([x], x * 2)
    assert "tanh" not in f.source and f.source.count(" = ") <= 4


def test_calls_go_straight_to_the_generated_code_and_errors_still_name_the_input() -> None:
    x = gg.vector("x", "float64")
    f = gg.function([x], x + 1, name="inc")
    assert type(f).__call__.__code__.co_filename == "<graphgrad function inc>"
    assert isinstance(f, gg.Function)
    with pytest.raises(gg.InputTypeError, match=r"takes 1 inputs \(x\), got 2"):
        f(np.ones(2), np.ones(2))
    with pytest.raises(gg.InputTypeError, match="input 'x'"):
        f(np.ones((2, 2)))
    interpreted = gg.function([x], x + 1, mode="profile")
    assert type(interpreted) is gg.Function
    np.testing.assert_array_equal(interpreted(np.ones(2)), f(np.ones(2)))


def test_new_rows_are_computed_in_the_gathered_array_only_when_nothing_else_reads_it() -> None:
    ix, t = gg.ivector("ix"), gg.scalar("t", "float64")
    W = gg.shared(RNG.standard_normal((V, H)), name="W")
    rows = gg.take(W, ix)
    g = gg.grad(gg.tanh(rows).sum(), W)
    returned = gg.function([ix, t], rows, updates=[(W, W - 0.5 * g)])
    assert "r0 -= " not in returned.source and "r0 = " in returned.source   # the output is the gathered array


def test_bags_proved_increasing_skip_the_repeat_test_and_the_unsigned_view() -> None:
    flat, offsets = np.array([1, 4, 9, 2, 3, 0, 5, 7, 8], "int32"), np.array([0, 3, 5, 9])
    i, t = gg.iscalar("i"), gg.scalar("t", "float64")
    W = gg.shared(RNG.standard_normal((V, H)), name="W")
    w = gg.shared(RNG.standard_normal((H, 1)), name="w")

    def step_on(ids_flat: np.ndarray) -> gg.Function:
        ids = gg.bag(gg.as_tensor(ids_flat), gg.as_tensor(offsets), i)
        p = gg.sigmoid(gg.dot(gg.take(W, ids).sum(axis=0), w))
        gW = gg.grad(gg.binary_crossentropy(p, t).sum(), W)
        return gg.function([i, t], p, updates=[(W, W - 0.5 * gW)])

    proved = step_on(flat)
    assert "_count_nonzero" not in proved.source and "view(" not in proved.source
    repeated = flat.copy()
    repeated[1] = 1                               # bag 0 becomes [1, 1, 9]
    checked = step_on(repeated)
    assert "increasing0 = " in checked.source and "view(_np.uint32)" in checked.source
    for f, ids_flat in ((proved, flat), (checked, repeated)):
        W0, w0 = W.get_value(), w.get_value()
        f(np.int32(0), 1.0)
        np.testing.assert_allclose(W.get_value(), dense_reference(W0, w0, ids_flat[0:3].astype(np.intp), 1.0, 0.5),
                                   rtol=1e-12)


def test_a_returned_row_sparse_value_never_shares_a_bag_with_later_calls() -> None:
    # Regression (review): the indices of a returned row gradient were the reused view of a bag.
    i = gg.iscalar("i")
    W = gg.shared(np.ones((10, 2)), name="W")
    ix = gg.bag(gg.as_tensor(np.array([1, 5, 8, 2, 3], "int64")), gg.as_tensor(np.array([0, 3, 5])), i)
    f = gg.function([i], gg.grad(gg.take(W, ix).sum(), W))
    first = f(np.int32(0))
    first.indices.shape = (3, 1)
    assert f(np.int32(0)).indices.shape == (3,)


def test_expand_dims_without_new_axes_keeps_a_matrix() -> None:
    # Regression (review): the reshape shortcut for vectors turned any 2-D result into a column.
    M = gg.matrix("M", "float64")
    m = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(gg.function([M], gg.expand_dims(M, ()))(m), m)
    v = gg.vector("v", "float64")
    assert gg.function([v], gg.expand_dims(v, 0))(np.ones(3)).shape == (1, 3)
    assert gg.function([v], gg.expand_dims(v, 1))(np.ones(3)).shape == (3, 1)
