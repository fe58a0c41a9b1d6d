"""Reductions over axes: sum, mean (a composite), max, argmax."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import NO_GRADIENT, Apply, Op, Variable
from ..types import TensorType, normalize_axes
from .basic import as_tensor
from .broadcast import BroadcastLike
from .elemwise import cast, eq
from .shapes import expand_dims, shape


def _reduced_shape(shape: Sequence[int | None], axes: tuple[int, ...], keepdims: bool) -> list[int | None]:
    return [1 if k in axes else d for k, d in enumerate(shape)] if keepdims else \
        [d for k, d in enumerate(shape) if k not in axes]


class _Reduce(Op):
    __props__ = ("axes", "keepdims")
    fresh = True
    method = ""

    def __init__(self, axes: tuple[int, ...], keepdims: bool = False):
        self.axes, self.keepdims = tuple(axes), bool(keepdims)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor(x)
        return Apply(self, [x], [TensorType(self.output_dtype(x.dtype), _reduced_shape(x.type.shape, self.axes, self.keepdims))])

    def output_dtype(self, dtype: np.dtype) -> np.dtype:
        """numpy's result dtype for this reduction of ``dtype``."""
        return getattr(np.ones(1, dtype), self.method)().dtype

    def perform(self, x: np.ndarray) -> Any:
        return getattr(np, self.method)(x, axis=self.axes, keepdims=self.keepdims)

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        return f"{args[0]}.{self.method}(axis={self.axes!r}, keepdims={self.keepdims})"

    def _expanded(self, g: Variable) -> Variable:
        """A reduced-shape value with the reduced axes put back as length 1."""
        return g if self.keepdims or not self.axes else expand_dims(g, self.axes)


_ONES: dict[np.dtype, np.ndarray] = {}


def sum_rows(x: np.ndarray) -> np.ndarray:
    """Column sums of a float matrix as ``ones.dot(x)``: a BLAS product is several times faster
    than numpy's strided reduction for the few-hundred-row sums of a row gather."""
    ones = _ONES.get(x.dtype)
    if ones is None or len(ones) < len(x):
        ones = _ONES[x.dtype] = np.ones(len(x) + 1024, x.dtype)
    return ones[:len(x)].dot(x)


class Sum(_Reduce):
    """Sum over axes."""
    method = "sum"

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        x = node.inputs[0]
        if self.axes == (0,) and x.ndim == 2 and not self.keepdims and x.dtype in (np.float32, np.float64):
            return f"_sum_rows({args[0]})"
        return super().py_expr(node, args)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        x = inputs[0]
        return [BroadcastLike()(cast(self._expanded(g_outputs[0]), x.dtype), x)]


class Max(_Reduce):
    """Maximum over axes; the gradient is shared evenly by the positions holding the maximum."""
    method = "max"

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        x = inputs[0]
        hit = cast(eq(x, self._expanded(outputs[0])), x.dtype)
        # Not the whole gradient to every tie: max(a, a) = a has slope 1, not 2 (ties are exact
        # wherever the reduced axis was broadcast).
        return [self._expanded(g_outputs[0]) * (hit / Sum(self.axes, True)(hit))]


class Argmax(Op):
    """Index of the maximum along one axis (or of the flattened tensor); no gradient."""
    __props__ = ("axis", "keepdims")

    def __init__(self, axis: int | None, keepdims: bool = False):
        self.axis, self.keepdims = axis, bool(keepdims)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor(x)
        if self.axis is None:
            out = [1] * x.ndim if self.keepdims else []
        else:
            out = _reduced_shape(x.type.shape, (self.axis,), self.keepdims)
        return Apply(self, [x], [TensorType("int64", out)])

    def perform(self, x: np.ndarray) -> Any:
        return np.argmax(x, axis=self.axis, keepdims=self.keepdims)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [NO_GRADIENT]


def sum(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Sum of ``x`` over ``axis`` (all axes when None)."""
    x = as_tensor(x)
    return Sum(normalize_axes(axis, x.ndim, f"sum of {x.label()}"), keepdims)(x)


def max(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Maximum of ``x`` over ``axis`` (all axes when None)."""
    x = as_tensor(x)
    return Max(normalize_axes(axis, x.ndim, f"max of {x.label()}"), keepdims)(x)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Variable:
    """Index of the maximum of ``x`` along ``axis`` (flattened when None); int64, no gradient."""
    x = as_tensor(x)
    if axis is not None:
        (axis,) = normalize_axes(axis, x.ndim, f"argmax of {x.label()}")
    return Argmax(axis, keepdims)(x)


def mean(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Variable:
    """Mean of ``x`` over ``axis``: a sum divided by the element count (symbolic if unknown)."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, f"mean of {x.label()}")
    total = sum(x, axes, keepdims)
    dims = [x.type.shape[a] for a in axes]
    dtype = total.dtype if total.dtype.kind == "f" else np.dtype("float64")
    if None not in dims:
        count = int(np.prod(dims, dtype=np.int64))
        return cast(total, dtype) * (1.0 / count) if count else cast(total, dtype) / 0.0
    sizes = shape(x)
    count: Any = None
    for a in axes:
        count = sizes[a] if count is None else count * sizes[a]
    return cast(total, dtype) / cast(count, dtype)
