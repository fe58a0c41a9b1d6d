"""Each rewrite, twice: the structure of the graph after it runs, and values against the graph
compiled without it."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.ops.broadcast import BroadcastLike
from graphgrad.ops.elemwise import Cast
from graphgrad.rewrite import (REWRITES, compact_row_gradients, drop_identities, fold_constants, gather_scalar_factors, merge,
                               outer_products, scale_row_gradients,
                               rewrite, skip_checked_indices, stabilize_log_losses)

RNG = np.random.default_rng(9)


def labels_of(outputs: list[gg.Variable]) -> list[str]:
    return [n.op.label() for n in gg.toposort(outputs)]


def same_values(inputs: list[gg.Variable], outputs: list[gg.Variable], name: str, args: list) -> list:
    """Compile with and without rewrite ``name``; assert equal results and return them."""
    with_it = gg.function(inputs, outputs)(*args)
    without = gg.function(inputs, outputs, exclude=(name,))(*args)
    for a, b in zip(with_it, without):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    return with_it


def test_merge_structure_and_values() -> None:
    x = gg.vector("x", "float64")
    out = gg.exp(x * 2.0) + gg.exp(x * 2.0)   # two equal sub-graphs, two equal constants
    assert gg.count_nodes(out) == 5
    (merged,) = merge([out])
    assert gg.count_nodes(merged) == 3
    add = merged.owner
    assert add.inputs[0] is add.inputs[1]
    same_values([x], [out], "merge", [RNG.standard_normal(3)])


def test_merge_keeps_different_ops_apart() -> None:
    x = gg.matrix("x", "float64")
    (out,) = merge([x.sum(axis=0).sum() + x.sum(axis=1).sum() + x.max(axis=0).sum()])
    assert labels_of([out]).count("sum") == 5 and labels_of([out]).count("max") == 1


def test_fold_constants_structure_and_values() -> None:
    x = gg.vector("x", "float64")
    c = gg.as_tensor(np.arange(3.0))
    out = x * gg.exp(c * 2.0) + (c.sum() - 1.0)
    (folded,) = fold_constants([out])
    assert labels_of([folded]) == ["multiply", "add"]
    const_inputs = [v for n in gg.toposort([folded]) for v in n.inputs if isinstance(v, gg.Constant)]
    np.testing.assert_allclose(sorted(float(np.sum(v.data)) for v in const_inputs),
                               sorted([np.exp(np.arange(3.0) * 2).sum(), 2.0]))
    same_values([x], [out], "fold_constants", [RNG.standard_normal(3)])


def test_stabilize_binary_crossentropy_of_sigmoid() -> None:
    z, t = gg.vector("z", "float64"), gg.vector("t", "float64")
    loss = gg.binary_crossentropy(gg.sigmoid(z), t)
    (stable,) = stabilize_log_losses([loss])
    assert stable.owner.op.label() == "sigmoid_binary_crossentropy" and "sigmoid" not in labels_of([stable])
    g = gg.grad(loss.sum(), z)
    args = [RNG.standard_normal(4), RNG.uniform(0, 1, 4)]
    same_values([z, t], [loss, g], "stabilize_log_losses", args)
    extreme = [np.array([1000.0, -1000.0, 1000.0, -1000.0]), np.array([0.0, 1.0, 1.0, 0.0])]
    value, slope = gg.function([z, t], [loss, g])(*extreme)
    np.testing.assert_allclose(value, [1000.0, 1000.0, 0.0, 0.0])
    np.testing.assert_allclose(slope, [1.0, -1.0, 0.0, 0.0])
    with np.errstate(all="ignore"):
        naive_value, naive_slope = gg.function([z, t], [loss, g], exclude=("stabilize_log_losses",))(*extreme)
    # Through the saturated probability the loss is inf/nan, or clamped: wrong either way.
    assert not np.allclose(naive_value, value) and not np.allclose(naive_slope, slope)


def test_stabilize_softmax_categorical_crossentropy() -> None:
    x, y = gg.matrix("x", "float64"), gg.lvector("y")
    loss = gg.categorical_crossentropy(gg.softmax(x), y).mean()
    g = gg.grad(loss, x)
    stable_loss, stable_g = stabilize_log_losses([loss, g])
    names = labels_of([stable_loss, stable_g])
    assert "softmax_crossentropy" in names and "softmaxcrossentropygrad" in names
    assert "categorical_crossentropy" not in names and "categoricalcrossentropygrad" not in names
    args = [RNG.standard_normal((4, 3)), np.array([0, 2, 1, 2])]
    same_values([x, y], [loss, g], "stabilize_log_losses", args)
    huge = [np.array([[0.0, 2000.0, 0.0]]), np.array([0])]
    value, slope = gg.function([x, y], [loss, g])(*huge)
    assert value == pytest.approx(2000.0)
    np.testing.assert_allclose(slope, [[-1.0, 1.0, 0.0]])
    with np.errstate(all="ignore"):
        assert not np.isfinite(gg.function([x, y], loss, exclude=("stabilize_log_losses",))(*huge))


def test_stabilize_log_of_softmax() -> None:
    x, y = gg.matrix("x", "float64"), gg.lvector("y")
    logp = gg.log(gg.softmax(x))
    loss = -gg.mean(logp[gg.arange(y.shape[0]), y])
    g = gg.grad(loss, x)
    stable_logp, stable_g = stabilize_log_losses([logp, g])
    assert stable_logp.owner.op.label() == "logsoftmax"
    assert "truedivide" not in labels_of([stable_g]) and "true_divide" not in labels_of([stable_g])
    same_values([x, y], [logp, loss, g], "stabilize_log_losses", [RNG.standard_normal((3, 4)), np.array([1, 0, 3])])
    value = gg.function([x], logp)(np.array([[0.0, 1000.0]]))
    np.testing.assert_allclose(value, [[-1000.0, 0.0]])


def test_drop_identities_structure_and_values() -> None:
    x = gg.tensor("x", "float64", (3, 4))
    y = gg.tensor("y", "float64", (3, 4))
    out = BroadcastLike()(Cast("float64")(x) * 1.0, y) + y * gg.as_tensor(np.ones((1, 4)))
    assert {"cast_float64", "broadcastlike"} <= set(labels_of([out]))
    (dropped,) = drop_identities([out])
    assert labels_of([dropped]) == ["multiply", "add"]   # only y * ones(1, 4) is kept: it is not x * 1
    assert dropped.owner.inputs[0] is x
    same_values([x, y], [out], "drop_identities", [RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))])


def test_drop_identities_keeps_broadcasting_ones() -> None:
    x = gg.vector("x", "float64")
    out = x * gg.as_tensor(np.ones((2, 1)))   # a 1 that broadcasts x is not an identity
    (kept,) = drop_identities([out])
    assert labels_of([kept]) == ["multiply"]
    assert gg.function([x], out)(np.ones(3)).shape == (2, 3)


def sparse_step() -> tuple[list, gg.SharedVariable, gg.Variable, gg.Variable]:
    W = gg.shared(RNG.standard_normal((6, 3)), name="W")
    ix, t = gg.ivector("ix"), gg.scalar("t", "float64")
    cost = gg.binary_crossentropy(gg.sigmoid(gg.take(W, ix).sum(axis=0).sum()), t)
    return [ix, t], W, cost, gg.grad(cost, W)


def test_compact_row_gradients_structure_and_values() -> None:
    inputs, W, cost, g = sparse_step()
    row_gradient = next(n for n in gg.toposort([g]) if n.op.label() == "row_gradient")
    assert row_gradient.inputs[2].owner.op.label() == "broadcastlike"
    (compact,) = compact_row_gradients([g])
    rows = compact.owner.inputs[2]
    assert compact.owner.op.label() == "row_gradient" and rows.static_shape == (1, 3)
    args = [np.array([4, 1, 4], "int32"), 1.0]
    for exclude in [(), ("compact_row_gradients",)]:
        start = W.get_value()
        gg.function(inputs, cost, updates=[(W, W - 0.5 * g)], exclude=exclude)(*args)
        delta = W.get_value() - start
        W.set_value(start)
        if not exclude:
            reference = delta
    np.testing.assert_allclose(delta, reference, rtol=1e-12)
    assert np.count_nonzero(np.abs(reference).sum(axis=1)) == 2


def test_skip_checked_indices_structure_and_values() -> None:
    inputs, W, cost, g = sparse_step()
    checked = [n.op.checked for n in gg.toposort(skip_checked_indices([cost, g])) if n.op.label() == "row_gradient"]
    assert checked == [True]   # the forward gather of the same rows already checked them
    g_alone = gg.grad(gg.take(W, inputs[0]).sum(), W)
    alone = [n.op.checked for n in gg.toposort(skip_checked_indices(compact_row_gradients([g_alone])))
             if n.op.label() == "row_gradient"]
    assert alone == [False]    # no gather left in the graph: the row gradient checks for itself
    args = [np.array([5, 0], "int32"), 0.0]
    same_values(inputs, [cost, gg.dense(g)], "skip_checked_indices", args)
    with pytest.raises(gg.IndexRangeError):
        gg.function(inputs, [cost], updates=[(W, W - g)])(np.array([6], "int32"), 0.0)


def test_rewrite_pipeline_and_unknown_names() -> None:
    assert [name for name, _ in REWRITES][:3] == ["merge", "fold_constants", "stabilize_log_losses"]
    x = gg.vector("x")
    with pytest.raises(ValueError, match="unknown rewrites"):
        rewrite([x * 2], exclude=("no_such_rewrite",))
    with pytest.raises(ValueError, match="unknown rewrites"):
        gg.function([x], x * 2, exclude=("no_such_rewrite",))


def test_rewritten_nodes_keep_user_names() -> None:
    z, t = gg.vector("z", "float64"), gg.vector("t", "float64")
    loss = gg.binary_crossentropy(gg.sigmoid(z), t)
    loss.name = "loss"
    f = gg.function([z, t], loss)
    assert f.outputs[0].name == "loss" and f.outputs[0].owner.op.label() == "sigmoid_binary_crossentropy"


def test_fold_constants_leaves_a_failing_node_to_raise_at_call_time_with_its_name() -> None:
    # Regression: folding ran the gather at compile time and raised without naming the node.
    table = gg.as_tensor(np.ones((3, 2)))
    table.name = "table"
    f = gg.function([], gg.take(table, gg.as_tensor(np.array([5]))))
    with pytest.raises(gg.IndexRangeError, match=r"take\(table"):
        f()


def test_scale_row_gradients_structure_and_values() -> None:
    inputs, W, cost, g = sparse_step()
    update = W - 0.5 * g
    (scaled,) = scale_row_gradients(compact_row_gradients([update]))
    labels = [n.op.label() for n in gg.toposort([scaled])]
    assert "sparse_scale" not in labels and labels.count("row_gradient") == 1   # the scale moved onto the rows
    args = [np.array([4, 1, 4], "int32"), 1.0]
    deltas = []
    for exclude in [(), ("scale_row_gradients",)]:
        start = W.get_value()
        gg.function(inputs, cost, updates=[(W, update)], exclude=exclude)(*args)
        deltas.append(W.get_value() - start)
        W.set_value(start)
    np.testing.assert_allclose(deltas[0], deltas[1], rtol=1e-12)
    assert np.count_nonzero(np.abs(deltas[0]).sum(axis=1)) == 2


def _big_multiplies(outputs: list[gg.Variable]) -> int:
    """Multiplications whose output has more than one element (or an unknown size)."""
    return sum(1 for n in gg.toposort(outputs) if n.op.label() == "multiply"
               and not all(d == 1 for d in n.outputs[0].type.shape))


def test_outer_products_structure_and_values() -> None:
    a, b, v = gg.matrix("a", "float64"), gg.vector("b", "float64"), gg.vector("v", "float64")
    col = gg.shared(RNG.standard_normal((5, 1)), name="col")
    row = gg.shared(RNG.standard_normal((1, 4)), name="row")
    one = gg.shared(RNG.standard_normal(1), name="one")
    outputs = [gg.dot(col, one), gg.dot(col, row), gg.dot(one, row), gg.dot(a, b), gg.dot(one, one)]
    rewritten = outer_products(outputs)
    assert [o.owner.op.label() for o in rewritten] == ["multiply", "multiply", "multiply", "dot", "dot"]
    assert [o.type for o in rewritten] == [o.type for o in outputs]
    same_values([a, b], outputs, "outer_products", [RNG.standard_normal((2, 3)), RNG.standard_normal(3)])


def test_gather_scalar_factors_structure_and_values() -> None:
    # The per-review step's gradients: lr * (h[:, None] * err) and lr * expand_dims(dot(W1, err)).
    h, err = gg.vector("h", "float64"), gg.tensor("err", "float64", (1,))
    W1 = gg.shared(RNG.standard_normal((6, 1)), name="W1")
    lr = gg.shared(np.float64(0.1), name="lr")
    wide, deep = lr * (gg.expand_dims(h, 1) * err), gg.expand_dims(gg.dot(W1, err), 0) * lr
    assert _big_multiplies([wide, deep]) == 3
    gathered = gather_scalar_factors([wide, deep])
    assert _big_multiplies(gathered) == 1       # h * (err * lr); the dot takes err * lr
    assert [o.type for o in gathered] == [o.type for o in [wide, deep]]
    merged = merge(gathered)
    small = [n for n in gg.toposort(merged) if n.op.label() == "multiply" and n.outputs[0].type.shape == (1,)]
    assert len(small) == 1                      # one err * lr, shared by both gradients
    args = [RNG.standard_normal(3), RNG.standard_normal(1)]
    err_value = args[1]
    with_it = same_values([h, err], [wide, deep], "gather_scalar_factors", args)
    np.testing.assert_allclose(with_it[1], 0.1 * (W1.get_value() @ err_value)[None, :], rtol=1e-12)


def test_gather_scalar_factors_keeps_shapes_and_dtypes() -> None:
    # A float64 factor on a float32 product, and a size-one factor of higher rank: left alone when
    # moving it would change the result's type.
    y, t = gg.vector("y", "float32"), gg.tensor("t", "float32", (1,))
    s64, s2 = gg.scalar("s64", "float64"), gg.tensor("s2", "float32", (1, 1))
    for out in [(y * t) * s64, (y * t) * s2]:
        (rewritten,) = gather_scalar_factors([out])
        assert rewritten.type == out.type


def test_outer_products_keeps_the_shape_error_of_an_unknown_inner_dimension() -> None:
    # Regression (review): a (3, 1) matrix times a (None, 4) one was rewritten into a broadcast.
    a, b, v = gg.tensor("a", "float64", (3, 1)), gg.tensor("b", "float64", (None, 4)), gg.vector("v", "float64")
    (kept,) = outer_products([gg.dot(a, b)])
    assert kept.owner.op.label() == "dot"
    with pytest.raises(gg.ShapeError):
        gg.function([a, b], gg.dot(a, b))(np.ones((3, 1)), np.ones((3, 4)))
    with pytest.raises(gg.ShapeError):
        gg.function([a, v], gg.dot(a, v))(np.ones((3, 1)), np.ones(5))


@pytest.mark.parametrize("dtype", ["int8", "float16"])
def test_gather_scalar_factors_never_narrows_the_product(dtype: str) -> None:
    # Regression (review): t * s was computed in int8 (overflow) or float16 (inf) instead of the
    # output's dtype.
    y = gg.vector("y", "float64") if dtype == "float16" else gg.lvector("y")
    t, s = gg.tensor("t", dtype, (1,)), gg.tensor("s", dtype, (1,))
    big = np.array([100 if dtype == "int8" else 300], dtype)
    args = [np.array([1, 2], y.dtype), big, big]
    with_it = same_values([y, t, s], [(y * t) * s], "gather_scalar_factors", args)
    np.testing.assert_array_equal(with_it[0], args[0] * (int(big[0]) ** 2))
