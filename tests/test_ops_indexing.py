"""Indexing: row gather (take / x[ix]), basic subtensors, and pairs of index vectors; with the
index errors raised at call time in the forward and the gradient paths."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("indices", [[0, 2, 2, 1, 2], [3], [], [1, 0]], ids=str)
def test_take_gradient_with_repeated_indices(indices: list[int]) -> None:
    ix = np.array(indices, dtype=np.int64)
    gg.verify_grad(lambda table: gg.take(table, gg.as_tensor(ix)) * 1.5, [RNG.standard_normal((4, 3))])
    gg.verify_grad(lambda table: table[gg.as_tensor(ix)].sum(axis=0), [RNG.standard_normal((4, 3))])


def test_take_of_a_vector_and_by_a_scalar() -> None:
    gg.verify_grad(lambda v: gg.take(v, gg.as_tensor(np.array([2, 0, 2]))), [RNG.standard_normal(4)])
    gg.verify_grad(lambda table: gg.take(table, gg.as_tensor(np.int64(1))), [RNG.standard_normal((4, 3))])


def test_take_values_and_static_shape() -> None:
    W = gg.shared(np.arange(12.0).reshape(4, 3), name="W")
    ix = gg.ivector("ix")
    rows = W[ix]
    assert rows.static_shape == (None, 3)
    np.testing.assert_array_equal(gg.function([ix], rows)(np.array([3, 3, 0], "int32")),
                                  W.get_value()[[3, 3, 0]])


def test_gather_of_a_gather_gradient() -> None:
    # Regression: the row-sparse gradient of the inner gather's output reached the outer
    # gradient rule undensified and crashed at run time.
    gg.verify_grad(lambda table: gg.take(gg.take(table, gg.as_tensor(np.array([0, 2, 2, 1]))),
                                         gg.as_tensor(np.array([1, 1, 3]))).sum(), [RNG.standard_normal((4, 3))])


@pytest.mark.parametrize("key", [(1,), (slice(1, 3),), (slice(None, None, -1), 2), (-1, slice(0, 4, 2))], ids=str)
def test_subtensor_value_and_gradient(key: tuple) -> None:
    value = RNG.standard_normal((3, 5))
    x = gg.matrix("x", "float64")
    np.testing.assert_array_equal(gg.function([x], x[key])(value), value[key])
    gg.verify_grad(lambda v: v[key], [value])


def test_subtensor_static_shape_and_errors() -> None:
    x = gg.tensor("x", shape=(4, 6))
    assert x[1:3, ::2].static_shape == (2, 3)
    assert x[0].static_shape == (6,)
    with pytest.raises(gg.ShapeError, match=r"x\[4\]: index out of range"):
        x[4]
    with pytest.raises(gg.ShapeError, match="3 indices for a 2-d tensor"):
        x[0, 0, 0]
    with pytest.raises(gg.InputTypeError, match="supported keys"):
        x[0, gg.ivector("i")]


def test_advanced_index_pair_value_and_gradient() -> None:
    value = RNG.uniform(0.1, 1.0, (4, 3))
    rows, cols = np.array([0, 1, 1, 3, 3]), np.array([2, 0, 0, 1, 1])   # repeated pairs accumulate
    p = gg.matrix("p", "float64")
    f = gg.function([p], p[gg.as_tensor(rows), gg.as_tensor(cols)])
    np.testing.assert_array_equal(f(value), value[rows, cols])
    gg.verify_grad(lambda v: gg.log(v)[gg.as_tensor(rows), gg.as_tensor(cols)], [value])


def test_theano_loss_literally() -> None:
    p = gg.matrix("p", "float64")
    y = gg.lvector("y")
    loss = -gg.mean(gg.log(p)[gg.arange(y.shape[0]), y])
    probs = RNG.uniform(0.1, 1.0, (5, 3))
    labels = np.array([0, 2, 2, 1, 0])
    f = gg.function([p, y], [loss, gg.grad(loss, p)])
    value, g = f(probs, labels)
    assert value == pytest.approx(-np.mean(np.log(probs[np.arange(5), labels])))
    want = np.zeros_like(probs)
    want[np.arange(5), labels] = -1 / (5 * probs[np.arange(5), labels])
    np.testing.assert_allclose(g, want)
    gg.verify_grad(lambda v: -gg.mean(gg.log(v)[gg.arange(gg.as_tensor(labels).shape[0]), gg.as_tensor(labels)]),
                   [probs])


def test_float_index_variable_is_rejected_at_build_time() -> None:
    with pytest.raises(gg.InputTypeError, match=r"take\(W, v\): indices v must be integers"):
        gg.take(gg.shared(np.zeros((3, 2)), name="W"), gg.vector("v"))


def test_float_array_for_index_vector_is_rejected_at_call_time() -> None:
    ix = gg.ivector("ix")
    f = gg.function([ix], gg.take(gg.shared(np.zeros((3, 2)), name="W"), ix))
    with pytest.raises(gg.InputTypeError, match=r"input 'ix' \(position 0\): expected int32 vector.*float64"):
        f(np.array([0.0, 1.0]))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("bad", [[0, 5], [-1, 0], [7]], ids=str)
def test_gather_index_out_of_range_or_negative(bad: list[int], dtype: str) -> None:
    # Regression (int64): negative ids viewed as uint64 were cast back by numpy and wrapped.
    W = gg.shared(np.zeros((5, 2)), name="W")
    ix = gg.tensor("ix", dtype, (None,))
    f = gg.function([ix], W[ix])
    with pytest.raises(gg.IndexRangeError, match=r"take\(W, ix\)"):
        f(np.array(bad, dtype))


@pytest.mark.parametrize("bad", [[0, 5], [-1], [2, 1, -3]], ids=str)
def test_bad_index_in_gradient_with_dead_forward_gather(bad: list[int]) -> None:
    # The cost's value is not an output, so the gradient never needs the gathered rows: the row
    # gradient must check the indices itself, and the failed call must not touch W.
    W = gg.shared(np.ones((5, 2)), name="W")
    ix = gg.ivector("ix")
    g = gg.grad(gg.take(W, ix).sum(), W)
    f = gg.function([ix], [], updates=[(W, W - 0.5 * g)])
    assert not any(isinstance(n.op, type(gg.take(W, ix).owner.op)) for n in f.nodes)
    with pytest.raises(gg.IndexRangeError, match=r"row_gradient\(W, ix.*out of range"):
        f(np.array(bad, "int32"))
    np.testing.assert_array_equal(W.get_value(), np.ones((5, 2)))


@pytest.mark.parametrize("bad", [([0, 4], [0, 0]), ([0, 0], [0, -1])], ids=str)
def test_advanced_index_out_of_range_in_forward_and_gradient(bad: tuple) -> None:
    p = gg.matrix("p", "float64")
    rows, cols = gg.lvector("rows"), gg.lvector("cols")
    picked = p[rows, cols]
    args = (np.ones((4, 3)), np.array(bad[0]), np.array(bad[1]))
    with pytest.raises(gg.IndexRangeError):
        gg.function([p, rows, cols], picked)(*args)
    with pytest.raises(gg.IndexRangeError):
        gg.function([p, rows, cols], gg.grad(picked.sum(), p))(*args)


@pytest.mark.parametrize("segments", [[0, 0, 2, 1], [1, 0, 1, 0], [2, 2, 2, 2]], ids=str)
def test_segment_sum_value_and_gradient(segments: list[int]) -> None:
    value = RNG.standard_normal((4, 3))
    seg = np.array(segments, "int32")
    x = gg.matrix("x", "float64")
    want = np.zeros((3, 3))
    np.add.at(want, seg, value)
    np.testing.assert_allclose(gg.function([x], gg.segment_sum(x, gg.as_tensor(seg), 3))(value), want)
    gg.verify_grad(lambda v: gg.segment_sum(v, gg.as_tensor(seg), 3), [value])


def test_segment_sum_rejects_bad_segment_ids() -> None:
    x, seg = gg.matrix("x", "float64"), gg.ivector("seg")
    f = gg.function([x, seg], gg.segment_sum(x, seg, 2))
    with pytest.raises(gg.IndexRangeError, match=r"segmentsum\(x, seg, 2\): row index 2"):
        f(np.ones((2, 3)), np.array([0, 2], "int32"))
    with pytest.raises(gg.ShapeError, match=r"segmentsum\(x, seg, 2\)"):
        f(np.ones((2, 3)), np.array([0], "int32"))


# --- bags ----------------------------------------------------------------------------------------

BAG_IDS, BAG_OFFSETS = np.array([1, 4, 9, 2, 3, 0, 5, 7, 8], "int32"), np.array([0, 3, 5, 5, 9])


@pytest.mark.parametrize("constant", [True, False])
def test_bag_values_and_errors(constant: bool) -> None:
    i = gg.iscalar("review")
    if constant:
        inputs, ids, offsets, extra = [i], gg.as_tensor(BAG_IDS), gg.as_tensor(BAG_OFFSETS), []
    else:
        ids, offsets = gg.ivector("ids"), gg.lvector("offsets")
        inputs, extra = [ids, offsets, i], [BAG_IDS, BAG_OFFSETS]
    f = gg.function(inputs, gg.bag(ids, offsets, i))
    got = [f(*extra, np.int32(k)).tolist() for k in range(4)]
    assert got == [[1, 4, 9], [2, 3], [], [0, 5, 7, 8]]
    for bad in (4, -1):
        with pytest.raises(gg.IndexRangeError, match=f"bag {bad} is out of range for 4 bags"):
            f(*extra, np.int32(bad))
    if constant:
        returned = f(np.int32(0))
        returned[0] = 99   # a copy, never the constant bags themselves
        assert f(np.int32(0)).tolist() == [1, 4, 9]


def test_bag_input_errors() -> None:
    with pytest.raises(gg.InputTypeError, match="must be 0-d"):
        gg.bag(gg.ivector("ids"), gg.lvector("offsets"), gg.ivector("i"))
    with pytest.raises(gg.InputTypeError, match="must be integers"):
        gg.bag(gg.vector("ids"), gg.lvector("offsets"), gg.iscalar("i"))


@pytest.mark.parametrize(("ids", "offsets", "increase"), [
    ([1, 4, 9, 2, 3], [0, 3, 5], True),
    ([1, 4, 9, 1, 9], [0, 3, 5], True),        # equal ids in different bags are fine
    ([1, 4, 4, 2, 3], [0, 3, 5], False),       # a repeat inside a bag
    ([4, 1, 9, 2, 3], [0, 3, 5], False),       # out of order inside a bag
    ([-1, 4, 9, 2, 3], [0, 3, 5], False),      # negative
    ([1, 4, 9, 2, 3], [0, 4, 3, 5], False),    # offsets out of order
    ([1, 4, 9, 2, 3], [0, 3, 6], False),       # past the end
    ([1, 4, 9, 2, 3], [-1, 3, 5], False),
    ([], [0, 0, 0], True),
], ids=str)
def test_bags_increase(ids: list[int], offsets: list[int], increase: bool) -> None:
    from graphgrad.ops.indexing import bags_increase, increasing_indices
    assert bags_increase(np.array(ids, "int32"), np.array(offsets)) is increase
    i = gg.iscalar("i")
    bag = gg.bag(gg.as_tensor(np.array(ids, "int32")), gg.as_tensor(np.array(offsets)), i)
    assert increasing_indices(bag) is increase
    assert not increasing_indices(gg.bag(gg.ivector("ids"), gg.as_tensor(np.array(offsets)), i))


def test_uint64_ids_above_the_signed_range_are_not_proved() -> None:
    from graphgrad.ops.indexing import bags_increase
    assert not bags_increase(np.array([1, 2 ** 63 + 5], "uint64"), np.array([0, 2]))
    assert bags_increase(np.array([1, 2 ** 40], "uint64"), np.array([0, 2]))


@pytest.mark.parametrize("offsets", [[0, 2, 1, 4], [0, -1, 4], [0, 2, 10]], ids=str)
def test_bag_offsets_that_are_not_a_slice_of_the_ids_raise(offsets: list[int]) -> None:
    ids, offs, i = gg.ivector("ids"), gg.lvector("offsets"), gg.iscalar("i")
    f = gg.function([ids, offs, i], gg.bag(ids, offs, i))
    with pytest.raises(gg.IndexRangeError, match="not a slice of the 4 ids"):
        for k in range(len(offsets) - 1):
            f(np.array([1, 2, 3, 4], "int32"), np.array(offsets), np.int32(k))


def test_proved_bags_are_sliced_once_when_compiling_and_checked_in_debug_mode() -> None:
    i = gg.iscalar("review")
    bag = gg.bag(gg.as_tensor(BAG_IDS), gg.as_tensor(BAG_OFFSETS), i)
    f = gg.function([i], bag.sum())
    assert "_bags_" in f.source   # a list of the bags' views, made when compiling
    assert [int(f(np.int32(k))) for k in range(4)] == [14, 5, 0, 20]
    debug = gg.function([i], bag.sum(), mode="debug")
    assert [int(debug(np.int32(k))) for k in range(4)] == [14, 5, 0, 20]
    with pytest.raises(gg.IndexRangeError, match="bag -1"):
        f(np.int32(-1))
