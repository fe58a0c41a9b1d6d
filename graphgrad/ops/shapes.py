"""Ops on shapes: the symbolic shape, reshape, transpose, new axes, arange, filled tensors."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import NO_GRADIENT, Apply, Op, Variable
from ..types import InputTypeError, ShapeError, TensorType, format_shape
from .basic import as_tensor
from .elemwise import cast


class Shape(Op):
    """The runtime shape of ``x`` as an int64 vector."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))])

    def perform(self, x: Any) -> np.ndarray:
        return np.array(np.shape(x), dtype=np.int64)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [NO_GRADIENT]


class Reshape(Op):
    """Reshape to a fixed tuple of ints, one of which may be -1."""
    __props__ = ("newshape",)

    def __init__(self, newshape: Sequence[int]):
        self.newshape = tuple(int(d) for d in newshape)
        if sum(d == -1 for d in self.newshape) > 1 or any(d < -1 for d in self.newshape):
            raise ShapeError(f"reshape: invalid target shape {self.newshape}")

    def make_node(self, x: Any) -> Apply:
        x = as_tensor(x)
        known = [d for d in self.newshape if d != -1]
        size = int(np.prod(known)) if known else 1
        static: list[int | None] = list(self.newshape)
        if None not in x.type.shape:
            total = int(np.prod(x.type.shape, dtype=np.int64))
            if (-1 not in self.newshape and total != size) or (-1 in self.newshape and (size == 0 or total % size)):
                raise ShapeError(f"reshape: cannot reshape {x.label()} of shape {format_shape(x.type.shape)} "
                                 f"into {self.newshape}")
            static = [total // size if d == -1 else d for d in self.newshape]
        else:
            static = [None if d == -1 else d for d in static]
        return Apply(self, [x], [TensorType(x.dtype, static)])

    def perform(self, x: np.ndarray) -> np.ndarray:
        return np.reshape(x, self.newshape)

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        if self.newshape == (-1,):
            return f"{args[0]}.ravel()"  # a third of reshape's call overhead (a copy if x is strided)
        return f"{args[0]}.reshape({self.newshape!r})"

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        x = inputs[0]
        if None not in x.type.shape:
            return [reshape(g_outputs[0], x.type.shape)]
        return [ReshapeLike()(g_outputs[0], x)]


class ReshapeLike(Op):
    """Reshape ``g`` to the runtime shape of ``x`` (the gradient of a reshape with unknown dims)."""

    def make_node(self, g: Variable, x: Variable) -> Apply:
        return Apply(self, [g, x], [TensorType(g.dtype, x.type.shape)])

    def perform(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.reshape(g, np.shape(x))

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [ReshapeLike()(g_outputs[0], inputs[0]), NO_GRADIENT]


class Transpose(Op):
    """Permute axes."""
    __props__ = ("axes",)

    def __init__(self, axes: Sequence[int]):
        self.axes = tuple(int(a) for a in axes)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor(x)
        if sorted(self.axes) != list(range(x.ndim)):
            raise ShapeError(f"transpose of {x.label()} ({x.ndim}-d): axes {self.axes} are not a permutation")
        return Apply(self, [x], [TensorType(x.dtype, [x.type.shape[a] for a in self.axes])])

    def perform(self, x: np.ndarray) -> np.ndarray:
        return np.transpose(x, self.axes)

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        return f"{args[0]}.transpose({self.axes!r})"

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [transpose(g_outputs[0], tuple(np.argsort(self.axes)))]


class ExpandDims(Op):
    """Insert axes of length 1 at the given output positions."""
    __props__ = ("axes",)

    def __init__(self, axes: Sequence[int]):
        self.axes = tuple(sorted(int(a) for a in axes))

    def make_node(self, x: Any) -> Apply:
        x = as_tensor(x)
        shape = list(x.type.shape)
        for a in self.axes:
            shape.insert(a, 1)
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def perform(self, x: np.ndarray) -> np.ndarray:
        return np.expand_dims(x, self.axes)

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        ndim = node.outputs[0].ndim
        if ndim == 2 and node.inputs[0].ndim == 1:  # a vector as a row or a column: reshape costs less
            return f"{args[0]}.reshape({'1, -1' if self.axes == (0,) else '-1, 1'})"
        return f"{args[0]}[{', '.join('None' if k in self.axes else ':' for k in range(ndim))}]"

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [reshape(g_outputs[0], [-1 if d is None else d for d in inputs[0].type.shape])
                if inputs[0].type.shape.count(None) <= 1 else ReshapeLike()(g_outputs[0], inputs[0])]


class ARange(Op):
    """0, 1, ..., n - 1 as an int64 vector, for a symbolic or constant ``n``."""

    def make_node(self, n: Any) -> Apply:
        n = as_tensor(n)
        if n.ndim != 0 or n.dtype.kind not in "iu":
            raise InputTypeError(f"arange: n must be an integer scalar, got {n.label()} of type {n.type.describe()}")
        return Apply(self, [n], [TensorType("int64", (None,))])

    def perform(self, n: Any) -> np.ndarray:
        return np.arange(n, dtype=np.int64)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [NO_GRADIENT]


class FillLike(Op):
    """A tensor of ``x``'s runtime shape and dtype filled with ``value``."""
    __props__ = ("value",)

    def __init__(self, value: float):
        self.value = float(value)

    def label(self) -> str:
        return "zeros_like" if self.value == 0 else "ones_like" if self.value == 1 else f"full_like_{self.value}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor(x)
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)])

    def perform(self, x: np.ndarray) -> np.ndarray:
        return np.full(np.shape(x), self.value, dtype=np.asarray(x).dtype)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [NO_GRADIENT]


def shape(x: Any) -> Variable:
    """The symbolic shape of ``x`` (an int64 vector)."""
    return Shape()(x)


def reshape(x: Any, newshape: Sequence[int]) -> Variable:
    """``x`` reshaped to ``newshape`` (ints; one may be -1)."""
    if isinstance(newshape, int):
        newshape = (newshape,)
    if any(isinstance(d, Variable) for d in newshape):
        raise InputTypeError("reshape takes a tuple of Python ints; symbolic target shapes are not supported")
    return Reshape(newshape)(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Variable:
    """``x`` with its axes permuted (reversed when ``axes`` is None)."""
    x = as_tensor(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    else:
        axes = tuple(int(a) for a in axes)
        if any(not -x.ndim <= a < x.ndim for a in axes) or sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
            raise ShapeError(f"transpose of {x.label()} ({x.ndim}-d): axes {axes} are not a permutation")
        axes = tuple(a % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return Transpose(axes)(x)


def expand_dims(x: Any, axes: int | Sequence[int]) -> Variable:
    """``x`` with new axes of length 1 inserted at positions ``axes`` of the result (numpy's rule,
    negative positions count from the result's end)."""
    x = as_tensor(x)
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    ndim = x.ndim + len(axes)
    if any(not -ndim <= a < ndim for a in axes) or len({a % ndim for a in axes}) != len(axes):
        raise ShapeError(f"expand_dims of {x.label()} ({x.ndim}-d): invalid new axes {axes}")
    return ExpandDims([a % ndim for a in axes])(x)


def arange(n: Any) -> Variable:
    """0 .. n-1 (int64); ``n`` may be symbolic, e.g. ``y.shape[0]``."""
    return ARange()(n)


def zeros_like(x: Any, dtype: Any = None) -> Variable:
    """Zeros of ``x``'s shape (and dtype, unless given)."""
    out = FillLike(0)(x)
    return out if dtype is None else cast(out, dtype)


def ones_like(x: Any, dtype: Any = None) -> Variable:
    """Ones of ``x``'s shape (and dtype, unless given)."""
    out = FillLike(1)(x)
    return out if dtype is None else cast(out, dtype)
