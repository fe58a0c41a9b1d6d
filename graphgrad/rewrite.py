"""Graph rewrites run by ``function``: plain functions, each one linear pass, in one ordered list.

Each takes the output variables of a (cloned) graph and returns the outputs of the rewritten graph.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .graph import Apply, Constant, Variable, clone_graph, toposort
from .ops.broadcast import BroadcastLike, SumTo
from .ops.shapes import ExpandDims, Reshape, Transpose, reshape
from .ops.elemwise import Add, Cast, Log, Mul, Neg, Sigmoid, SigmoidGrad, Softplus, Sub, TrueDiv
from .ops.indexing import Take
from .ops.linalg import Dot, dot
from .ops.nnet import (BinaryCrossentropy, BinaryCrossentropyGrad, CategoricalCrossentropy,
                       CategoricalCrossentropyGrad, LogSoftmax, SigmoidBinaryCrossentropy,
                       Softmax, SoftmaxCrossentropy, SoftmaxCrossentropyGrad,
                       SoftmaxGrad)
from .sparse import RowGradient, SparseScale
from .types import TensorType

Rewrite = Callable[[Sequence[Variable]], list[Variable]]


def _same_op(node: Apply, inputs: Sequence[Variable]) -> list[Variable]:
    """``node`` itself when its inputs are unchanged (graphs are immutable), else a copy on ``inputs``."""
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return node.outputs
    return Apply(node.op, inputs, [o.type for o in node.outputs]).outputs


def _owner_op(var: Variable | None) -> object:
    return var.owner.op if var is not None and var.owner is not None else None


def merge(outputs: Sequence[Variable]) -> list[Variable]:
    """Merge identical sub-graphs: equal small constants, and nodes applying equal ops to the same
    inputs. Gradients derived by separate ``grad`` calls collapse onto shared nodes."""
    constants: dict[tuple, Variable] = {}
    nodes: dict[tuple, list[Variable]] = {}

    def canonical(var: Variable) -> Variable:
        if isinstance(var, Constant) and (key := var.merge_key()) is not None:
            return constants.setdefault(key, var)
        return var

    def rebuild(node: Apply, inputs: list[Variable]) -> list[Variable]:
        inputs = [canonical(v) for v in inputs]
        key = (node.op, tuple(id(v) for v in inputs))  # inputs are canonical, so identity is equality
        if key not in nodes:
            nodes[key] = _same_op(node, inputs)
        return nodes[key]

    return clone_graph(outputs, rebuild=rebuild)


def fold_constants(outputs: Sequence[Variable]) -> list[Variable]:
    """Replace nodes whose inputs are all constants by the constant they compute."""
    def rebuild(node: Apply, inputs: list[Variable]) -> list[Variable]:
        if inputs and all(isinstance(v, Constant) for v in inputs) and len(node.outputs) == 1 \
                and isinstance(node.outputs[0].type, TensorType):
            try:
                with np.errstate(all="ignore"):
                    value = np.asarray(node.op.perform(*[v.data for v in inputs]))
            except Exception:  # noqa: BLE001 - left in the graph, a call raises it naming the node
                return _same_op(node, inputs)
            return [Constant(node.outputs[0].type, value, node.outputs[0].name)]
        return _same_op(node, inputs)

    return clone_graph(outputs, rebuild=rebuild)


def _one_minus(var: Variable | None) -> Variable | None:
    """``x`` when ``var`` is ``1 - x`` (with a constant 1 that does not broadcast x), else None."""
    if var is None or not isinstance(_owner_op(var), Sub):
        return None
    one, x = var.owner.inputs
    if isinstance(one, Constant) and one.data.size == 1 and one.data.reshape(-1)[0] == 1 and x.type == var.type:
        return x
    return None


def _add_terms(var: Variable) -> list[Variable]:
    """The terms of a (nested) sum ``a + b + ...``; ``[var]`` when it is not a sum."""
    terms, stack = [], [var]
    while stack:
        v = stack.pop()
        if isinstance(_owner_op(v), Add):
            stack.extend(reversed(v.owner.inputs))
        else:
            terms.append(v)
    return terms


def _stable_sigmoid_grad(y: Variable, g: Variable, shape: tuple) -> Variable | None:
    """``g y (1 - y)`` for ``y = sigmoid(z)`` without the division by ``y`` or ``1 - y`` in ``g``
    when ``g`` is the gradient of a log-loss (0 * inf at saturation); None for any other ``g``."""
    # The loss's gradient may come through the runtime reduction to y's shape; keep it.
    reduced = isinstance(_owner_op(g), SumTo) and g.owner.inputs[1] is y
    loss_grad = g.owner.inputs[0] if reduced else g
    if isinstance(_owner_op(loss_grad), BinaryCrossentropyGrad) and loss_grad.owner.inputs[0] is y \
            and (reduced or g.type.shape == shape):
        _, t, upstream = loss_grad.owner.inputs
        stable = upstream * (y - t)  # y is sigmoid(z): merges with the forward pass
        return SumTo()(stable, y) if reduced else stable
    if isinstance(_owner_op(g), TrueDiv) and g.owner.inputs[1] is y:
        return g.owner.inputs[0] * (1 - y)  # grad of log(sigmoid(z))
    if isinstance(_owner_op(g), Neg) and isinstance(_owner_op(g.owner.inputs[0]), TrueDiv) \
            and _one_minus(g.owner.inputs[0].owner.inputs[1]) is y:
        return -(g.owner.inputs[0].owner.inputs[0] * y)  # grad of log(1 - sigmoid(z))
    return None


def stabilize_log_losses(outputs: Sequence[Variable]) -> list[Variable]:
    """Numerically stable forms of log-losses and their gradients:
    binary_crossentropy(sigmoid(z), t), log(sigmoid(z)) and log(1 - sigmoid(z)) from z;
    categorical_crossentropy(softmax(x), y) and log(softmax(x)) from x; and the matching patterns
    in gradients built by ``grad``."""
    def rebuild(node: Apply, inputs: list[Variable]) -> list[Variable]:
        op = node.op
        first = inputs[0]
        if isinstance(op, BinaryCrossentropy) and isinstance(_owner_op(first), Sigmoid):
            return [SigmoidBinaryCrossentropy()(first.owner.inputs[0], inputs[1])]
        if isinstance(op, SigmoidGrad) and isinstance(_owner_op(first), Sigmoid):
            # y (1 - y) g is linear in g: each term of a sum of gradients gets its own stable form.
            terms = _add_terms(inputs[1])
            stable = [_stable_sigmoid_grad(first, term, node.outputs[0].type.shape) for term in terms]
            if any(s is not None for s in stable):
                parts = [SigmoidGrad()(first, term) if s is None else s for s, term in zip(stable, terms)]
                total = parts[0]
                for part in parts[1:]:
                    total = total + part
                return [total]
        if isinstance(op, Log) and isinstance(_owner_op(first), Sigmoid):
            return [-Softplus()(-first.owner.inputs[0])]  # log(sigmoid(z)) = -softplus(-z)
        if isinstance(op, Log) and isinstance(_owner_op(_one_minus(first)), Sigmoid):
            return [-Softplus()(_one_minus(first).owner.inputs[0])]  # log(1 - sigmoid(z)) = -softplus(z)
        if isinstance(op, CategoricalCrossentropy) and isinstance(_owner_op(first), Softmax):
            return [SoftmaxCrossentropy()(first.owner.inputs[0], inputs[1])]
        if isinstance(op, Log) and isinstance(_owner_op(first), Softmax):
            return [LogSoftmax()(first.owner.inputs[0])]
        if isinstance(op, SoftmaxGrad) and isinstance(_owner_op(first), Softmax):
            g = inputs[1]
            if isinstance(_owner_op(g), CategoricalCrossentropyGrad) and g.owner.inputs[0] is first:
                _, labels, upstream = g.owner.inputs
                return [SoftmaxCrossentropyGrad()(first.owner.inputs[0], labels, upstream)]
            if isinstance(_owner_op(g), TrueDiv) and g.owner.inputs[1] is first \
                    and g.type.shape == first.type.shape:
                upstream = g.owner.inputs[0]  # grad of log(softmax(x)): g - softmax(x) * sum(g)
                return [upstream - first * upstream.sum(axis=-1, keepdims=True)]
        return _same_op(node, inputs)

    return clone_graph(outputs, rebuild=rebuild)


def drop_identities(outputs: Sequence[Variable]) -> list[Variable]:
    """Remove nodes that return their input unchanged: casts to the same dtype, and broadcast
    reductions/expansions between statically equal, fully known shapes."""
    def rebuild(node: Apply, inputs: list[Variable]) -> list[Variable]:
        op, out = node.op, node.outputs[0]
        if isinstance(op, Cast) and inputs[0].dtype == op.dtype:
            return [inputs[0]]
        if isinstance(op, Mul):  # x * 1 where the 1 neither broadcasts x nor changes its dtype
            for one, other in (inputs, inputs[::-1]):
                if isinstance(one, Constant) and one.data.size == 1 and one.data.reshape(-1)[0] == 1 \
                        and other.type == out.type:
                    return [other]
        if isinstance(op, SumTo | BroadcastLike) and None not in inputs[0].type.shape \
                and inputs[0].type.shape == out.type.shape and inputs[0].dtype == out.dtype:
            return [inputs[0]]
        return _same_op(node, inputs)

    return clone_graph(outputs, rebuild=rebuild)


def compact_row_gradients(outputs: Sequence[Variable]) -> list[Variable]:
    """A row gradient whose rows are one row broadcast to every index (the gradient of a sum of
    gathered rows) keeps that single row: no (n, ...) array is built, scaled or added."""
    def rebuild(node: Apply, inputs: list[Variable]) -> list[Variable]:
        if isinstance(node.op, RowGradient) and isinstance(_owner_op(inputs[2]), BroadcastLike):
            row = inputs[2].owner.inputs[0]
            if row.ndim == inputs[2].ndim and row.type.shape[:1] == (1,):
                return _same_op(node, [inputs[0], inputs[1], row])
        return _same_op(node, inputs)

    return clone_graph(outputs, rebuild=rebuild)


def scale_row_gradients(outputs: Sequence[Variable]) -> list[Variable]:
    """``c * row_gradient(x, ix, g)`` becomes ``row_gradient(x, ix, c * g)``: the learning rate
    scales the (often single, broadcast) row before it becomes row-sparse, one node fewer."""
    def rebuild(node: Apply, inputs: list[Variable]) -> list[Variable]:
        s, c = inputs[0], inputs[-1]
        if isinstance(node.op, SparseScale) and isinstance(_owner_op(s), RowGradient) and c.ndim == 0:
            x, indices, g = s.owner.inputs
            scaled = g * c
            if scaled.dtype == node.outputs[0].dtype:
                return [Apply(s.owner.op, [x, indices, scaled], [node.outputs[0].type]).outputs[0]]
        return _same_op(node, inputs)

    return clone_graph(outputs, rebuild=rebuild)


def outer_products(outputs: Sequence[Variable]) -> list[Variable]:
    """A ``dot`` whose inner dimension is statically 1 is an outer product: ``a * b`` with that
    dimension dropped from a vector operand's partner. As an elementwise product its size-one
    operand can be a Python float in the generated code, and no BLAS call is made for it."""
    def rebuild(node: Apply, inputs: list[Variable]) -> list[Variable]:
        if isinstance(node.op, Dot) and inputs[0].type.shape[-1] == 1 == inputs[1].type.shape[0] \
                and (inputs[0].ndim, inputs[1].ndim) != (1, 1):  # both known: dot must still reject a mismatch
            a, b = inputs
            product = (reshape(a, (-1,)) if b.ndim == 1 else a) * (reshape(b, (-1,)) if a.ndim == 1 else b)
            if product.type == node.outputs[0].type:
                return [product]
        return _same_op(node, inputs)

    return clone_graph(outputs, rebuild=rebuild)


def _with_factor(x: Variable, s: Variable) -> Variable | None:
    """``x * s`` for a size-one ``s``, multiplied into a size-one factor of the product (or dot)
    that makes ``x``, looking through shape-only ops; None when ``x`` has no such factor."""
    reshapes = []
    while isinstance(_owner_op(x), ExpandDims | Transpose | Reshape) and s.ndim == 0:
        reshapes.append(x.owner.op)
        x = x.owner.inputs[0]
    if isinstance(_owner_op(x), Mul | Dot):
        a, b = x.owner.inputs
        for k, factor in ((1, b), (0, a)):
            if factor.type.one_element and not x.owner.inputs[1 - k].type.one_element and factor.dtype == x.dtype:
                scaled = factor * s
                if scaled.type != factor.type:
                    continue  # a larger rank would change the product's shape, a narrower dtype its precision
                operands = [a, scaled] if k == 1 else [scaled, b]
                x = dot(*operands) if isinstance(x.owner.op, Dot) else operands[0] * operands[1]
                for op in reversed(reshapes):
                    x = op(x)
                return x
    return None


def gather_scalar_factors(outputs: Sequence[Variable]) -> list[Variable]:
    """``(y * t) * s`` becomes ``y * (t * s)`` and ``dot(A, t) * s`` becomes ``dot(A, t * s)`` when
    ``t`` and ``s`` have one element (also through expand_dims, transpose and reshape): the large
    array is multiplied once instead of twice, and the size-one factors (a learning rate and an
    output's error) meet, where merging shares them between gradients and the generated code
    computes them on Python floats."""
    def rebuild(node: Apply, inputs: list[Variable]) -> list[Variable]:
        if isinstance(node.op, Mul):
            for x, s in (inputs, inputs[::-1]):
                # every factor of the output's dtype: t * s is then computed as precisely as before
                if s.type.one_element and not x.type.one_element and x.dtype == s.dtype == node.outputs[0].dtype:
                    gathered = _with_factor(x, s)
                    if gathered is not None and gathered.type == node.outputs[0].type:
                        return [gathered]
        return _same_op(node, inputs)

    return clone_graph(outputs, rebuild=rebuild)


def skip_checked_indices(outputs: Sequence[Variable]) -> list[Variable]:
    """Row gradients need not re-check their indices when a ``take`` of the same table and indices
    runs in the same function: its gather has already rejected any bad index."""
    gathered = {(id(n.inputs[0]), id(n.inputs[1])) for n in toposort(outputs) if isinstance(n.op, Take)}

    def rebuild(node: Apply, inputs: list[Variable]) -> list[Variable]:
        if isinstance(node.op, RowGradient) and not node.op.checked \
                and (id(inputs[0]), id(inputs[1])) in gathered:
            return Apply(RowGradient(checked=True), inputs, [o.type for o in node.outputs]).outputs
        return _same_op(node, inputs)

    return clone_graph(outputs, rebuild=rebuild)


#: The rewrites ``function`` runs, in order; ``function(..., exclude=("merge",))`` skips some.
#: Dead nodes need no pass of their own: every pass rebuilds only what the outputs need.
REWRITES: list[tuple[str, Rewrite]] = [
    ("merge", merge),
    ("fold_constants", fold_constants),
    ("stabilize_log_losses", stabilize_log_losses),
    ("drop_identities", drop_identities),
    ("compact_row_gradients", compact_row_gradients),
    ("scale_row_gradients", scale_row_gradients),
    ("outer_products", outer_products),
    ("gather_scalar_factors", gather_scalar_factors),
    ("merge_again", merge),
    ("skip_checked_indices", skip_checked_indices),
]


def rewrite(outputs: Sequence[Variable], exclude: Sequence[str] = ()) -> list[Variable]:
    """Run every rewrite of ``REWRITES`` not named in ``exclude`` over the graph of ``outputs``."""
    unknown = set(exclude) - {name for name, _ in REWRITES}
    if unknown:
        raise ValueError(f"unknown rewrites {sorted(unknown)}; known: {[name for name, _ in REWRITES]}")
    outputs = list(outputs)
    for name, step in REWRITES:
        if name in exclude or (name == "merge_again" and "merge" in exclude):
            continue
        outputs = step(outputs)
    return outputs

