"""Linear algebra: ``dot`` with numpy's rules for vectors and matrices."""
from __future__ import annotations

from typing import Any, Sequence

from ..graph import Apply, Op, Variable
from ..types import InputTypeError, ShapeError, TensorType, format_shape, upcast
from .basic import as_tensor
from .elemwise import cast
from .shapes import expand_dims


class Dot(Op):
    """Matrix/vector product: (m,k)(k,n), (m,k)(k,), (k,)(k,n), (k,)(k,)."""

    fresh = True

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = as_tensor(a), as_tensor(b)
        for v in (a, b):
            if v.ndim not in (1, 2):
                raise InputTypeError(f"dot({a.label()}, {b.label()}): {v.label()} is {v.ndim}-d; dot takes vectors "
                                     "and matrices (use * for scalars)")
        inner_a, inner_b = a.type.shape[-1], b.type.shape[0]
        if inner_a is not None and inner_b is not None and inner_a != inner_b:
            raise ShapeError(f"dot({a.label()}, {b.label()}): inner dimensions differ: {a.label()} is "
                             f"{format_shape(a.type.shape)}, {b.label()} is {format_shape(b.type.shape)}")
        out = list(a.type.shape[:-1]) + list(b.type.shape[1:])
        return Apply(self, [a, b], [TensorType(upcast(a.dtype, b.dtype), out)])

    def perform(self, a: Any, b: Any) -> Any:
        return a.dot(b)

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        return f"{args[0]}.dot({args[1]})"

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        (a, b), (g,) = inputs, g_outputs
        if a.ndim == 2 and b.ndim == 2:
            grads = [dot(g, b.T), dot(a.T, g)]
        elif a.ndim == 2:  # (m,k)(k,) -> (m,)
            grads = [expand_dims(g, 1) * b, dot(a.T, g)]
        elif b.ndim == 2:  # (k,)(k,n) -> (n,)
            grads = [dot(b, g), expand_dims(a, 1) * g]
        else:
            grads = [g * b, g * a]
        # A float32 weight times float64 data has a float64 product; its gradient stays float32.
        return [cast(d, x.dtype) if x.dtype.kind == "f" else d for d, x in zip(grads, (a, b))]


def dot(a: Any, b: Any) -> Variable:
    """Product of vectors and matrices with numpy's ``dot`` rules."""
    return Dot()(a, b)
