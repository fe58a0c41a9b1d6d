"""Tensor types (dtype + static shape), static broadcasting, and graphgrad's error classes."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

Shape = tuple["int | None", ...]


class GraphgradError(Exception):
    """Base class of every error graphgrad raises on purpose."""


class ShapeError(GraphgradError, ValueError):
    """Operands whose shapes do not fit, at build time or at call time."""


class InputTypeError(GraphgradError, TypeError):
    """A value or variable of the wrong kind, dtype or number of dimensions."""


class IndexRangeError(GraphgradError, IndexError):
    """An index outside the range of the axis it selects from."""


class GradientError(GraphgradError, ValueError):
    """A gradient that cannot be built: non-scalar cost, disconnected or undefined input."""


class NonFiniteError(GraphgradError, FloatingPointError):
    """A NaN or Inf where finite values were required (nanguard mode)."""


_NDIM_NAMES = {0: "scalar", 1: "vector", 2: "matrix"}


class StaticType:
    """What is known of a value before the graph runs: a dtype and a shape whose unknown dims are
    ``None``. Types are equal when both are."""

    __slots__ = ("dtype", "shape")
    variable_class = None  # plain graph.Variable (row-sparse types name their own class)

    def __init__(self, dtype: Any, shape: Sequence[int | None]) -> None:
        self.dtype = np.dtype(dtype)
        self.shape: Shape = tuple(None if d is None else int(d) for d in shape)

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def one_element(self) -> bool:
        """Whether every dim is known to be 1 (a scalar, or (1,), (1, 1), ...)."""
        return all(d == 1 for d in self.shape)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.dtype == self.dtype and other.shape == self.shape

    def __hash__(self) -> int:
        return hash((type(self), self.dtype, self.shape))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dtype}, {self.shape})"


class TensorType(StaticType):
    """A dense tensor's static type."""

    __slots__ = ()

    def describe(self) -> str:
        """Plain words for error messages, e.g. ``int32 vector``."""
        kind = _NDIM_NAMES.get(self.ndim, f"{self.ndim}-d tensor")
        return f"{self.dtype} {kind}"

    def is_compatible(self, shape: Sequence[int]) -> bool:
        """Whether a concrete shape fits this type's static shape."""
        return len(shape) == self.ndim and all(s is None or s == d for s, d in zip(self.shape, shape))


def describe_value(value: Any) -> str:
    """Describe a runtime value for an error message: dtype and shape, or its Python type."""
    if isinstance(value, np.ndarray | np.generic):
        return f"{value.dtype} array of shape {tuple(np.shape(value))}"
    return f"{type(value).__name__} {value!r:.40}"


def format_shape(shape: Shape) -> str:
    """``(None, 5)`` style text for a static shape."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def broadcast_static(shapes: Sequence[Shape], names: "Sequence[str] | Callable[[], Sequence[str]]", op_name: str) -> Shape:
    """The static numpy broadcast of ``shapes``; raises ShapeError naming the operands when impossible
    (``names`` may be a callable, so that labels are only built for the error message)."""
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out: list[int | None] = []
    for axis in range(ndim):
        dims = [s[axis] for s in padded]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            names = names() if callable(names) else names
            listing = ", ".join(f"{n} is {format_shape(s)}" for n, s in zip(names, shapes))
            raise ShapeError(f"{op_name}: shapes cannot be broadcast together: {listing}")
        if known:
            out.append(known.pop())
        elif all(d == 1 for d in dims):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def upcast(*dtypes: Any) -> np.dtype:
    """numpy's result dtype for operands of these dtypes."""
    return np.result_type(*[np.dtype(d) for d in dtypes])


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, what: str) -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints; raises ShapeError naming ``what`` if out of range."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    for a in axes:
        if not -ndim <= a < (ndim or 1) or (ndim == 0 and a not in (0, -1)):
            raise ShapeError(f"{what}: axis {a} is out of range for a {ndim}-d operand")
    if len({int(a) % (ndim or 1) for a in axes}) != len(axes):
        raise ShapeError(f"{what}: axis {tuple(axes)} repeats an axis")
    return tuple(sorted({int(a) % (ndim or 1) for a in axes})) if ndim else ()
