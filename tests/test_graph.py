"""Graph objects: variables, constants, shared variables, op identity, toposort and clone."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.ops.reductions import Sum


def test_toposort_puts_producers_first_and_each_node_once() -> None:
    x = gg.vector("x")
    a = gg.exp(x)
    b = a * a + gg.tanh(a)
    order = gg.toposort([b, a])
    assert len(order) == len({id(n) for n in order}) == 4
    position = {id(n): k for k, n in enumerate(order)}
    for node in order:
        for var in node.inputs:
            if var.owner is not None:
                assert position[id(var.owner)] < position[id(node)]


def test_deep_graphs_need_no_recursion() -> None:
    x = gg.scalar("x")
    y = x
    for _ in range(20_000):
        y = -y
    assert len(gg.toposort([y])) == 20_000
    z = gg.scalar("z")
    (copy,) = gg.clone_graph([y], replace={x: z})
    assert copy is not y and gg.count_nodes(copy) == 20_000
    assert gg.toposort([copy])[0].inputs[0] is z


def test_clone_graph_replaces_leaves_and_keeps_shared_and_names() -> None:
    x, z = gg.vector("x", "float64"), gg.vector("z", "float64")
    W = gg.shared(np.ones(3), name="W")
    y = x * W
    y.name = "y"
    (copy,) = gg.clone_graph([y], replace={x: z})
    assert copy.owner is not y.owner and copy.name == "y"
    assert copy.owner.inputs[0] is z and copy.owner.inputs[1] is W


def test_ops_are_equal_by_their_props() -> None:
    assert Sum((0,), False) == Sum((0,), False) and hash(Sum((0,), False)) == hash(Sum((0,), False))
    assert Sum((0,), False) != Sum((1,), False) and Sum((0,), False) != Sum((0,), True)


def test_variables_refuse_ambiguous_python_protocols() -> None:
    x = gg.vector("x")
    with pytest.raises(gg.InputTypeError, match=r"truth value of symbolic variable greater\(x, 0.0\)"):
        bool(x > 0)
    with pytest.raises(gg.InputTypeError, match="cannot be iterated"):
        list(x)
    with pytest.raises(gg.InputTypeError, match=r"x.shape\[0\]"):
        len(x)


def test_labels_describe_unnamed_results() -> None:
    x, W = gg.matrix("x"), gg.shared(np.zeros((2, 2), "float32"), name="W")
    assert gg.dot(x, W).label() == "dot(x, W)"
    assert (x * 2.0).label() == "multiply(x, 2.0)"


def test_constants_own_their_data() -> None:
    data = np.ones(3)
    c = gg.as_tensor(data)
    data[0] = 5.0
    assert c.data[0] == 1.0 and not c.data.flags.writeable
    with pytest.raises(gg.InputTypeError, match="cannot turn"):
        gg.as_tensor("text")


def test_shared_variable_values() -> None:
    W = gg.shared(np.zeros((2, 3), "float32"), name="W")
    assert W.static_shape == (2, 3) and W.dtype == np.float32
    value = W.get_value()
    value[0, 0] = 1.0
    assert W.get_value()[0, 0] == 0.0   # get_value copies unless borrow
    W.set_value(np.ones((2, 3)))       # float64 values are cast to the variable's dtype
    assert W.get_value().dtype == np.float32
    with pytest.raises(gg.ShapeError, match=r"shared variable W: expected shape \(2, 3\)"):
        W.set_value(np.ones((3, 2), "float32"))
    with pytest.raises(gg.InputTypeError, match="shared variable W: expected float32 values"):
        W.set_value(np.array([["a"] * 3] * 2))
    flexible = gg.shared(np.zeros((2, 3)), name="F", shape=(None, 3))
    flexible.set_value(np.zeros((5, 3)))
    assert flexible.get_value().shape == (5, 3)
    assert gg.shared(0.5).dtype == np.float32
