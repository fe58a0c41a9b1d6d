"""``grad``: every requested gradient from one memoized reverse sweep over the graph."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .graph import NO_GRADIENT, Apply, Constant, Variable, toposort
from .ops.basic import as_tensor
from .ops.shapes import zeros_like
from .sparse import add_gradients, dense
from .types import GradientError


def _nodes_on_path(cost: Variable, wrt: Sequence[Variable], constants: set[Variable]) -> tuple[list[Apply], set[Variable]]:
    """The nodes between ``wrt`` and ``cost`` in topological order, and the variables that depend on
    some ``wrt`` (without passing through a variable held constant)."""
    on_path: set[Variable] = set(wrt)
    order: list[Apply] = []
    for node in toposort([cost]):
        if any(v in on_path and v not in constants for v in node.inputs):
            order.append(node)
            on_path.update(node.outputs)
    return order, on_path


def grad(cost: Variable, wrt: Variable | Sequence[Variable], consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise") -> Any:
    """Symbolic gradients of the scalar ``cost`` w.r.t. each variable in ``wrt``.

    One reverse sweep in topological order over the nodes between ``wrt`` and ``cost``: each
    node's gradient rule runs once, and the contributions reaching a variable are summed once.
    The result has the structure of ``wrt`` (one variable or a list). A ``wrt`` the cost does not
    depend on raises GradientError, or gets zeros with ``disconnected_inputs="ignore"``. Gradients
    w.r.t. the table of a ``take`` are row-sparse.
    """
    if disconnected_inputs not in ("raise", "ignore"):
        raise ValueError(f"disconnected_inputs must be 'raise' or 'ignore', got {disconnected_inputs!r}")
    if not isinstance(cost, Variable):
        raise GradientError(f"grad: cost must be a symbolic variable, got {type(cost).__name__}")
    if cost.ndim != 0:
        raise GradientError(f"grad: cost {cost.label()} must be a scalar, got a {cost.type.describe()} "
                            f"(sum or average it first)")
    if cost.dtype.kind != "f":
        raise GradientError(f"grad: cost {cost.label()} must be a float, got {cost.type.describe()}")
    single = isinstance(wrt, Variable)
    targets = [wrt] if single else list(wrt)
    for i, w in enumerate(targets):
        if not isinstance(w, Variable):
            raise GradientError(f"grad: wrt[{i}] must be a symbolic variable, got {type(w).__name__}")
        if isinstance(w, Constant):
            raise GradientError(f"grad: wrt[{i}] ({w.label()}) is a constant")
        if w.dtype.kind != "f":
            raise GradientError(f"grad: wrt[{i}] ({w.label()}) is {w.type.describe()}; only float variables "
                                "have gradients")
    constants = set(consider_constant or ())

    order, on_path = _nodes_on_path(cost, targets, constants)
    pending: dict[Variable, list[Variable]] = {cost: [as_tensor(np.ones((), cost.dtype))]}
    totals: dict[Variable, Variable] = {}

    def total(var: Variable) -> Variable | None:
        if var not in totals and var in pending:
            totals[var] = add_gradients(pending.pop(var))
        return totals.get(var)

    for node in reversed(order):
        g_outputs = [total(o) for o in node.outputs]
        if all(g is None for g in g_outputs):
            continue  # no path from this node to the cost
        # Op rules are written for dense gradients: a row-sparse total (a take of this node's output)
        # gets a visible densify node here; only leaves keep their gradient row-sparse.
        g_outputs = [zeros_like(o) if g is None else dense(g) for g, o in zip(g_outputs, node.outputs)]
        g_inputs = node.op.grad(node.inputs, node.outputs, g_outputs)
        if len(g_inputs) != len(node.inputs):
            raise GradientError(f"{node.op.label()}: gradient rule returned {len(g_inputs)} terms "
                                f"for {len(node.inputs)} inputs")
        for var, g in zip(node.inputs, g_inputs):
            if var not in on_path or var in constants or g is NO_GRADIENT:
                continue
            if g is None:
                raise GradientError(f"the gradient of {node.label()} w.r.t. its input {var.label()} is undefined")
            pending.setdefault(var, []).append(g)

    results = []
    for w in targets:
        g = total(w)
        if g is None:
            if disconnected_inputs == "raise":
                raise GradientError(f"grad: cost {cost.label()} does not depend on {w.label()} "
                                    "(pass disconnected_inputs='ignore' to get zeros)")
            g = zeros_like(w)
        results.append(g)
    return results[0] if single else results

