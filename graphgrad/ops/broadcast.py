"""Broadcasting in gradients: the one place a broadcast gradient is summed back to its operand's
shape (decided from static shapes where they suffice, on the values where they do not), and the
broadcast that undoes a reduction."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..graph import NO_GRADIENT, Apply, Op, Variable
from ..types import TensorType, broadcast_static


def sum_axes_for(x_shape: Sequence[int | None], other_shapes: Sequence[Sequence[int | None]],
                 out: Sequence[int | None]) -> tuple[tuple[int, ...], bool]:
    """Which output axes a gradient must be summed over to fit an operand of ``x_shape``, given the
    shapes of the operands that are other variables.

    Returns (axes, dynamic): ``dynamic`` is True when a dim unknown at build time might be 1 at call
    time while the output is larger, so the reduction can only be decided on the values.
    """
    lead = len(out) - len(x_shape)
    axes = list(range(lead))
    dynamic = False
    for k, d in enumerate(x_shape):
        axis = lead + k
        if d == 1 and out[axis] != 1:
            axes.append(axis)
        elif d is None:
            others = [s[axis - (len(out) - len(s))] for s in other_shapes if len(s) > axis - (len(out) - len(s)) >= 0]
            if any(o is None or o > 1 for o in others):
                dynamic = True
    return tuple(axes), dynamic


def reduce_to(g: Variable, x: Variable, axes: tuple[int, ...], dynamic: bool) -> Variable:
    """Sum a broadcast gradient ``g`` back to the shape of operand ``x``."""
    if dynamic:
        g = SumTo()(g, x)
    else:
        lead = g.ndim - x.ndim
        kept = tuple(a for a in axes if a >= lead)
        if kept:
            g = g.sum(axis=kept, keepdims=True)
        if lead:
            g = g.sum(axis=tuple(range(lead)))
    if g.dtype != x.dtype and x.dtype.kind == "f":  # the same dtype whether shapes are known or not
        g = g.astype(x.dtype)
    return g


class SumTo(Op):
    """Sum ``g`` down to the runtime shape of ``x`` (leading axes, and axes where ``x`` has size 1)."""

    def make_node(self, g: Variable, x: Variable) -> Apply:
        return Apply(self, [g, x], [TensorType(g.dtype, x.type.shape)])

    def perform(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        shape = np.shape(x)
        if np.shape(g) == shape:
            return g
        lead = np.ndim(g) - len(shape)
        axes = tuple(range(lead)) + tuple(lead + k for k, d in enumerate(shape) if d == 1 and g.shape[lead + k] != 1)
        return np.sum(g, axis=axes, keepdims=True).reshape(shape)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [BroadcastLike()(g_outputs[0], inputs[0]), NO_GRADIENT]


class BroadcastLike(Op):
    """Broadcast ``g`` to the runtime shape of ``x`` (a read-only view: no copy)."""

    def make_node(self, g: Variable, x: Variable) -> Apply:
        shape = broadcast_static([g.type.shape, x.type.shape], [g.label(), x.label()], "broadcast_like")
        return Apply(self, [g, x], [TensorType(g.dtype, tuple(x.type.shape) if x.ndim >= g.ndim else shape)])

    def perform(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(g, np.shape(x))

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [SumTo()(g_outputs[0], inputs[0]), NO_GRADIENT]
