"""Row-sparse values: the gradient of a row gather, kept as (indices, rows), never a dense table.

A row-sparse variable stays sparse through scaling and sums of sparse pieces; ``dense + sparse``
adds the rows into a copy of the dense tensor, and compiled updates ``W <- W +- sparse`` are done
in place on the touched rows only (see compile.py). Any other dense consumer gets a visible
``densify`` node.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from .graph import NO_GRADIENT, Apply, Op, Variable
from .ops.basic import PYTHON_SCALARS, as_tensor
from .types import IndexRangeError, InputTypeError, ShapeError, StaticType, TensorType, format_shape


class RowSparse(NamedTuple):
    """Runtime value standing for a dense array of ``shape`` that is zero except
    ``dense[indices[i]] += rows[i]``; indices may repeat. ``rows`` may be a single broadcast row
    (leading dim 1) shared by every index, as in the gradient of a sum of gathered rows."""

    indices: np.ndarray
    rows: np.ndarray
    shape: tuple[int, ...]

    def copy(self) -> "RowSparse":
        """A copy holding its own arrays."""
        return RowSparse(self.indices.copy(), self.rows.copy(), self.shape)

    def full_rows(self) -> np.ndarray:
        """``rows`` with one row per index (a read-only view when they are broadcast)."""
        return np.broadcast_to(self.rows, (len(self.indices),) + self.shape[1:])

    def to_dense(self) -> np.ndarray:
        """The equivalent dense array (repeated indices accumulate)."""
        out = np.zeros(self.shape, dtype=self.rows.dtype)
        scatter_add(out, self.indices, self.rows)
        return out


class SparseRowsType(StaticType):
    """Static type of a row-sparse value standing for a dense tensor of ``dtype`` and ``shape``."""

    __slots__ = ()
    is_sparse = True

    def describe(self) -> str:
        """Plain words for error messages."""
        return f"row-sparse {self.dtype} {format_shape(self.shape)}"

    @property
    def variable_class(self) -> type:
        """Variables of this type are SparseVariables, with sparse-aware arithmetic."""
        return SparseVariable


def strictly_increasing(indices: np.ndarray) -> bool:
    """Whether ``indices`` increase strictly, so that none repeats (a sorted bag of unique words).
    count_nonzero is twice as fast as ``.all()`` on the few hundred ids of a review."""
    return not np.count_nonzero(indices[1:] <= indices[:-1])


def inc_rows(table: np.ndarray, indices: np.ndarray, rows: np.ndarray, sign: int) -> None:
    """``table[indices] += sign * rows`` in place; repeated indices accumulate."""
    if strictly_increasing(indices):
        # Strictly increasing ids cannot repeat, so numpy's buffered fancy update is exact (and 2-3x
        # faster than ufunc.at).
        if sign > 0:
            table[indices] += rows
        else:
            table[indices] -= rows
    else:
        scatter_add(table, indices, rows if sign > 0 else -rows)  # repeated word ids must accumulate


def scatter_add(table: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> None:
    """``table[indices[i]] += rows[i]`` in place, accumulating repeated indices."""
    if table.ndim == 2 and table.flags.c_contiguous:
        # ufunc.at on the flattened table with flat indices is ~3.5x faster than on the 2-D table.
        width = table.shape[1]
        flat = (indices.astype(np.int64)[:, None] * width + np.arange(width)).ravel()
        np.add.at(table.reshape(-1), flat, np.broadcast_to(rows, (len(indices), width)).ravel())
    else:
        np.add.at(table, indices, rows)


def check_fits(table: np.ndarray, s: RowSparse) -> None:
    """Raise ShapeError unless ``s`` can be added into ``table``: checked before any in-place commit."""
    rows = s.rows.shape
    if s.shape == table.shape and rows[1:] == table.shape[1:] and (rows[0] == 1 or rows[0] == len(s.indices)):
        return
    want = (len(s.indices),) + table.shape[1:]
    if s.shape != table.shape or len(rows) != len(want) or any(r != 1 and r != w for r, w in zip(rows, want)):
        raise ShapeError(f"row-sparse value for shape {s.shape} with {len(s.indices)} indices and rows of shape "
                         f"{s.rows.shape} does not fit a table of shape {table.shape}")


def check_indices(indices: np.ndarray, n_rows: int) -> None:
    """Raise IndexRangeError unless every index is in ``[0, n_rows)``: negative ids never wrap."""
    if indices.size and (indices.min() < 0 or indices.max() >= n_rows):
        bad = indices[(indices < 0) | (indices >= n_rows)]
        raise IndexRangeError(f"row index {bad[0]} is out of range for {n_rows} rows")


class RowGradient(Op):
    """The gradient of ``take(x, indices)`` w.r.t. ``x``: rows ``g`` at ``indices``, row-sparse.

    ``checked`` is set by a rewrite when a ``take`` of the same table and indices runs in the same
    function and has therefore already validated the indices.
    """
    __props__ = ("checked",)

    def __init__(self, checked: bool = False):
        self.checked = checked

    def label(self) -> str:
        return "row_gradient"

    def make_node(self, x: Variable, indices: Variable, g: Variable) -> Apply:
        return Apply(self, [x, indices, g], [SparseRowsType(g.dtype, x.type.shape)])

    def perform(self, x: np.ndarray, indices: np.ndarray, g: np.ndarray) -> RowSparse:
        if not self.checked:
            check_indices(indices, len(x))
        if np.ndim(indices) == 0:
            return RowSparse(np.reshape(indices, 1), np.expand_dims(g, 0), x.shape)
        return RowSparse(indices, g, x.shape)

    def py_expr(self, node: Apply, args: Sequence[str]) -> str | None:
        if self.checked and node.inputs[1].ndim == 1:
            return f"_RowSparse({args[1]}, {args[2]}, {args[0]}.shape)"
        return None

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        # Second order: the cotangent of a row-sparse value arrives dense, shaped like the table.
        x, indices, g = inputs
        return [NO_GRADIENT, NO_GRADIENT, take_rows(g_outputs[0], indices, g)]


class TakeRows(Op):
    """Rows of a dense ``g`` at ``indices``, shaped like ``like`` (the rows of a row gradient)."""

    def label(self) -> str:
        return "take_rows"

    def make_node(self, g: Variable, indices: Variable, like: Variable) -> Apply:
        return Apply(self, [g, indices, like], [TensorType(g.dtype, like.type.shape)])

    def perform(self, g: np.ndarray, indices: np.ndarray, like: np.ndarray) -> np.ndarray:
        rows = g[indices]
        return rows if rows.shape == np.shape(like) else rows.sum(axis=0, keepdims=True)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        raise InputTypeError("third-order gradients through a row gather are not supported")


def take_rows(g: Variable, indices: Variable, like: Variable) -> Variable:
    """``g[indices]`` shaped like ``like``: the cotangent of a row gradient's rows."""
    return TakeRows()(g, indices, like)


class SparseScale(Op):
    """Row-sparse ``s`` times a scalar ``c``: still row-sparse."""

    def label(self) -> str:
        return "sparse_scale"

    def make_node(self, s: Variable, c: Variable) -> Apply:
        return Apply(self, [s, c], [SparseRowsType(np.result_type(s.dtype, c.dtype), s.type.shape)])

    def perform(self, s: RowSparse, c: Any) -> RowSparse:
        return RowSparse(s.indices, s.rows * c, s.shape)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        (s, c), (g,) = inputs, g_outputs
        return [g * c, (g * Densify()(s)).sum()]


class SparseAdd(Op):
    """Sum of row-sparse values: the concatenation of their rows."""

    def label(self) -> str:
        return "sparse_add"

    def make_node(self, *terms: Variable) -> Apply:
        shapes = {t.type.shape for t in terms}
        if len(shapes) > 1:
            raise ShapeError(f"sparse_add: operands stand for different shapes {sorted(map(str, shapes))}")
        return Apply(self, terms, [SparseRowsType(np.result_type(*[t.dtype for t in terms]), terms[0].type.shape)])

    def perform(self, *terms: RowSparse) -> RowSparse:
        return RowSparse(np.concatenate([t.indices for t in terms]), np.concatenate([t.full_rows() for t in terms]),
                         terms[0].shape)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0]] * len(inputs)


class Densify(Op):
    """The dense tensor a row-sparse value stands for."""

    def make_node(self, s: Variable) -> Apply:
        return Apply(self, [s], [TensorType(s.dtype, s.type.shape)])

    def perform(self, s: RowSparse) -> np.ndarray:
        return s.to_dense()

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0]]


class IncRows(Op):
    """``table + sign * s`` for a dense ``table`` and row-sparse ``s``, touching only the rows of ``s``.

    As an ordinary node it works on a copy; as the update of the shared variable ``table`` itself,
    the compiled function applies it in place when it commits.
    """
    __props__ = ("sign",)

    def __init__(self, sign: int):
        self.sign = 1 if sign > 0 else -1

    def label(self) -> str:
        return "inc_rows" if self.sign > 0 else "dec_rows"

    def make_node(self, table: Variable, s: Variable) -> Apply:
        table = as_tensor(table)
        if table.ndim != s.ndim or any(a is not None and b is not None and a != b
                                       for a, b in zip(table.type.shape, s.type.shape)):
            raise ShapeError(f"{self.label()}({table.label()}, {s.label()}): {table.label()} is "
                             f"{format_shape(table.type.shape)}, the row-sparse value stands for "
                             f"{format_shape(s.type.shape)}")
        # numpy's dtype, as for a dense sum: a float64 learning rate must not hide in a float32 table.
        return Apply(self, [table, s], [TensorType(np.result_type(table.dtype, s.dtype), table.type.shape)])

    def perform(self, table: np.ndarray, s: RowSparse) -> np.ndarray:
        check_fits(table, s)
        out = np.array(table, copy=True)
        self.apply_in_place(out, s)
        return out

    def apply_in_place(self, table: np.ndarray, s: RowSparse) -> None:
        """Add ``sign * s`` into ``table`` itself (after ``check_fits(table, s)``)."""
        inc_rows(table, s.indices, s.rows, self.sign)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0], self.sign * g_outputs[0]]


def _is_scalar(value: Any) -> bool:
    return isinstance(value, PYTHON_SCALARS) or (getattr(value, "ndim", None) == 0)


class SparseVariable(Variable):
    """A variable holding a row-sparse value; arithmetic keeps it sparse where it can."""

    def dense(self) -> Variable:
        """The dense equivalent (a visible densify node)."""
        return Densify()(self)

    def __mul__(self, other: Any) -> Variable:
        if isinstance(other, SparseVariable):
            return self.dense() * other.dense()
        if _is_scalar(other):
            return SparseScale()(self, as_tensor(other, dtype=self.dtype if isinstance(other, PYTHON_SCALARS) else None))
        return self.dense() * other

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Variable:
        if _is_scalar(other) and not isinstance(other, SparseVariable):
            return self * (1 / as_tensor(other, dtype=self.dtype if isinstance(other, PYTHON_SCALARS) else None))
        return self.dense() / other

    def __rtruediv__(self, other: Any) -> Variable:
        return other / self.dense()

    def __neg__(self) -> Variable:
        return self * -1

    def __add__(self, other: Any) -> Variable:
        if isinstance(other, SparseVariable):
            return SparseAdd()(self, other)
        return IncRows(+1)(other, self) if _fits(other, self) else self.dense() + other

    __radd__ = __add__

    def __sub__(self, other: Any) -> Variable:
        if isinstance(other, SparseVariable):
            return SparseAdd()(self, -other)
        return self.dense() - other

    def __rsub__(self, other: Any) -> Variable:
        return IncRows(-1)(other, self) if _fits(other, self) else other - self.dense()


def _fits(table: Any, s: Variable) -> bool:
    """Whether dense ``table`` has the shape ``s`` stands for; anything else (``1 - g``) broadcasts,
    which only the dense equivalent can."""
    table = as_tensor(table)
    return table.ndim == s.ndim and all(a is None or b is None or a == b
                                        for a, b in zip(table.type.shape, s.type.shape))


def add_gradients(terms: Sequence[Variable]) -> Variable:
    """Sum the gradient contributions reaching one variable, once: sparse terms stay sparse
    together, and are added into the dense sum when there is one."""
    sparse = [t for t in terms if isinstance(t, SparseVariable)]
    dense = [t for t in terms if not isinstance(t, SparseVariable)]
    total_sparse = sparse[0] if len(sparse) == 1 else SparseAdd()(*sparse) if sparse else None
    if not dense:
        return total_sparse
    total = dense[0]
    for term in dense[1:]:
        total = total + term
    return total if total_sparse is None else IncRows(+1)(total, total_sparse)


def dense(x: Variable) -> Variable:
    """``x`` as a dense tensor (densifying a row-sparse value, unchanged otherwise)."""
    return x.dense() if isinstance(x, SparseVariable) else as_tensor(x)
