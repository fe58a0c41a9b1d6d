"""Indexing: row gather (``take``, with a row-sparse gradient), basic slicing, and indexing by
several integer vectors at once (``log(p)[arange(n), y]``).

Negative indices never wrap: they are viewed as unsigned, so numpy's own bounds check rejects them
with every other out-of-range index, at no extra cost (ids proved non-negative when compiling, the
bags of ``increasing_indices``, need no view).
"""
from __future__ import annotations

import weakref
from typing import Any, Sequence

import numpy as np

from ..graph import NO_GRADIENT, Apply, Constant, Op, Variable
from ..sparse import RowGradient, check_indices, scatter_add
from ..types import IndexRangeError, InputTypeError, ShapeError, TensorType, broadcast_static
from .basic import as_tensor
from .shapes import zeros_like

# No int64 entry: numpy casts uint64 indices back to intp, so a viewed -1 would wrap to the last row.
UNSIGNED = {np.dtype(t): np.dtype(u) for t, u in [("int8", "uint8"), ("int16", "uint16"), ("int32", "uint32")]}


def unsigned(indices: np.ndarray) -> np.ndarray:
    """A zero-copy unsigned view of signed indices, so negative ones fail numpy's bounds check;
    64-bit indices, which have no such view, are checked for negative values instead."""
    indices = np.asarray(indices)
    if indices.dtype.kind in "iu" and indices.dtype.itemsize == 8:
        signed = indices.view(np.int64)  # uint64 ids above 2**63 would wrap too
        if signed.size and signed.min() < 0:
            raise IndexError(f"index {indices[signed < 0].flat[0]} is out of range (negative ids never wrap)")
        return signed
    return indices.view(UNSIGNED[indices.dtype]) if indices.dtype in UNSIGNED else indices


def _check_index_var(indices: Variable, where: str) -> None:
    if indices.dtype.kind not in "iu":
        raise InputTypeError(f"{where}: indices {indices.label()} must be integers, got {indices.type.describe()}")


class Take(Op):
    """Rows of ``x`` at ``indices`` (a vector or a scalar); the gradient is row-sparse."""

    fresh = True

    def make_node(self, x: Any, indices: Any) -> Apply:
        x, indices = as_tensor(x), as_tensor(indices)
        where = f"take({x.label()}, {indices.label()})"
        _check_index_var(indices, where)
        if x.ndim < 1 or indices.ndim > 1:
            raise InputTypeError(f"{where}: takes rows of a tensor of at least 1 dim by a vector or scalar of "
                                 f"indices, got {x.type.describe()} and {indices.type.describe()}")
        return Apply(self, [x, indices], [TensorType(x.dtype, indices.type.shape + x.type.shape[1:])])

    def perform(self, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
        try:
            return x.take(unsigned(indices), axis=0)
        except IndexError:
            check_indices(np.asarray(indices), len(x))  # names a negative id as given, not its unsigned view
            raise

    def py_expr(self, node: Apply, args: Sequence[str]) -> str | None:
        dtype = node.inputs[1].dtype
        if increasing_indices(node.inputs[1]):  # proved non-negative (and below 2**63) when compiling
            view = ".view(_np.int64)" if dtype == np.uint64 else ""  # numpy < 2 will not cast uint64 to intp
            return f"{args[0]}.take({args[1]}{view}, axis=0)"
        if dtype.itemsize == 8:
            return None  # perform checks 64-bit ids for negatives
        view = f".view(_np.{UNSIGNED[dtype]})" if dtype in UNSIGNED else ""
        return f"{args[0]}.take({args[1]}{view}, axis=0)"

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        x, indices = inputs
        return [RowGradient()(x, indices, g_outputs[0]), NO_GRADIENT]


class Subtensor(Op):
    """Basic indexing by constant ints and slices: ``x[0]``, ``x[1:3, ::2]``."""
    __props__ = ("key",)

    def __init__(self, key: tuple):
        self.key = key  # ints and (start, stop, step) triples, hashable

    def _numpy_key(self) -> tuple:
        return tuple(slice(*k) if isinstance(k, tuple) else k for k in self.key)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor(x)
        if len(self.key) > x.ndim:
            raise ShapeError(f"{x.label()}[...]: {len(self.key)} indices for a {x.ndim}-d tensor")
        out: list[int | None] = []
        for k, d in zip(self.key, x.type.shape):
            if isinstance(k, tuple):
                out.append(None if d is None else len(range(*slice(*k).indices(d))))
            elif d is not None and not -d <= k < d:
                raise ShapeError(f"{x.label()}[{k}]: index out of range for a dimension of size {d}")
        out += list(x.type.shape[len(self.key):])
        return Apply(self, [x], [TensorType(x.dtype, out)])

    def perform(self, x: np.ndarray) -> np.ndarray:
        return x[self._numpy_key()]

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [SubtensorGrad(self.key)(inputs[0], g_outputs[0])]


class SubtensorGrad(Op):
    """Zeros shaped like ``x`` with ``g`` written at ``key``: the gradient of a basic index."""
    __props__ = ("key",)

    def __init__(self, key: tuple):
        self.key = key

    def make_node(self, x: Variable, g: Variable) -> Apply:
        return Apply(self, [x, g], [TensorType(g.dtype, x.type.shape)])

    def perform(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(x), dtype=np.asarray(g).dtype)
        out[tuple(slice(*k) if isinstance(k, tuple) else k for k in self.key)] = g
        return out

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [NO_GRADIENT, Subtensor(self.key)(g_outputs[0])]


class AdvancedSubtensor(Op):
    """``x[i0, i1, ...]`` for integer index tensors broadcast together (numpy's advanced indexing)."""

    def make_node(self, x: Any, *indices: Any) -> Apply:
        x = as_tensor(x)
        indices = [as_tensor(i) for i in indices]
        where = f"{x.label()}[{', '.join(i.label() for i in indices)}]"
        for i in indices:
            _check_index_var(i, where)
        if len(indices) > x.ndim:
            raise ShapeError(f"{where}: {len(indices)} index vectors for a {x.ndim}-d tensor")
        shape = broadcast_static([i.type.shape for i in indices], [i.label() for i in indices], where)
        return Apply(self, [x, *indices], [TensorType(x.dtype, shape + x.type.shape[len(indices):])])

    def perform(self, x: np.ndarray, *indices: np.ndarray) -> np.ndarray:
        return x[tuple(unsigned(i) for i in indices)]

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        x, *indices = inputs
        return [AdvancedIncSubtensor()(zeros_like(x), g_outputs[0], *indices)] + [NO_GRADIENT] * len(indices)


class AdvancedIncSubtensor(Op):
    """``x`` with ``g`` added at ``[i0, i1, ...]``; repeated positions accumulate."""

    def make_node(self, x: Variable, g: Variable, *indices: Variable) -> Apply:
        return Apply(self, [x, g, *indices], [TensorType(x.dtype, x.type.shape)])

    def perform(self, x: np.ndarray, g: np.ndarray, *indices: np.ndarray) -> np.ndarray:
        out = np.array(x, copy=True)
        key = tuple(unsigned(i) for i in indices)
        out[key]  # noqa: B018 - fancy get raises IndexError on a bad index before anything is written
        np.add.at(out, key, g)  # not out[key] += g: repeated positions must accumulate
        return out

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        x, g, *indices = inputs
        return [g_outputs[0], AdvancedSubtensor()(g_outputs[0], *indices)] + [NO_GRADIENT] * len(indices)


class SegmentSum(Op):
    """Rows of ``x`` summed per segment: ``out[s] = sum of x[i] where segments[i] == s`` for
    ``n_segments`` segments (empty ones are zero). The mini-batch form of a bag of words."""

    def make_node(self, x: Any, segments: Any, n_segments: Any) -> Apply:
        x, segments, n_segments = as_tensor(x), as_tensor(segments), as_tensor(n_segments)
        where = f"segment_sum({x.label()}, {segments.label()}, {n_segments.label()})"
        _check_index_var(segments, where)
        if x.ndim < 1 or segments.ndim != 1 or n_segments.ndim != 0 or n_segments.dtype.kind not in "iu":
            raise InputTypeError(f"{where}: needs x of at least 1 dim, a vector of segment ids and an integer "
                                 f"count, got {x.type.describe()}, {segments.type.describe()}, "
                                 f"{n_segments.type.describe()}")
        if None not in (x.type.shape[0], segments.type.shape[0]) and x.type.shape[0] != segments.type.shape[0]:
            raise ShapeError(f"{where}: {x.type.shape[0]} rows but {segments.type.shape[0]} segment ids")
        n = int(n_segments.data) if isinstance(n_segments, Constant) else None
        return Apply(self, [x, segments, n_segments], [TensorType(x.dtype, (n,) + x.type.shape[1:])])

    def perform(self, x: np.ndarray, segments: np.ndarray, n_segments: Any) -> np.ndarray:
        n = int(n_segments)
        if len(segments) != len(x):
            raise ShapeError(f"{len(x)} rows but {len(segments)} segment ids")
        check_indices(segments, n)
        if len(segments) and (segments[1:] >= segments[:-1]).all():
            # Sorted ids (the usual batch layout): one reduceat, ~25x faster than a scatter-add.
            starts = np.searchsorted(segments, np.arange(n))
            used = int(np.searchsorted(starts, len(x)))  # segments after the last id are empty
            out = np.zeros((n,) + x.shape[1:], dtype=x.dtype)
            out[:used] = np.add.reduceat(x, starts[:used], axis=0)
            out[:used][np.diff(starts[:used], append=len(x)) == 0] = 0  # reduceat gives x[start] when empty
            return out
        out = np.zeros((n,) + x.shape[1:], dtype=x.dtype)
        scatter_add(out, segments, x)
        return out

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        _, segments, _ = inputs
        return [take(g_outputs[0], segments), NO_GRADIENT, NO_GRADIENT]


def segment_sum(x: Any, segments: Any, n_segments: Any) -> Variable:
    """Sum the rows of ``x`` by segment id (``segments[i]`` in ``[0, n_segments)``): a bag of words
    per review in a mini-batch is ``segment_sum(take(W, flat_ids), review_of_each_id, n_reviews)``."""
    return SegmentSum()(x, segments, n_segments)


def take(x: Any, indices: Any) -> Variable:
    """Rows ``x[indices]`` of ``x`` (a row gather); its gradient w.r.t. ``x`` is row-sparse."""
    return Take()(x, indices)


def _is_index_array(k: Any) -> bool:
    if isinstance(k, Variable):
        return True
    if isinstance(k, list | np.ndarray):
        return np.asarray(k).dtype.kind in "iu"
    return False


def getitem(x: Any, key: Any) -> Variable:
    """numpy-style ``x[key]``: an index vector gathers rows (``take``), a tuple of index vectors
    selects elements, ints and slices index basically."""
    x = as_tensor(x)
    parts = key if isinstance(key, tuple) else (key,)
    if len(parts) == 1 and _is_index_array(parts[0]):
        return take(x, parts[0])
    if parts and all(_is_index_array(k) for k in parts):
        return AdvancedSubtensor()(x, *parts)
    if all(isinstance(k, int | np.integer | slice) for k in parts):
        items = []
        for k in parts:
            if isinstance(k, slice):
                for v in (k.start, k.stop, k.step):
                    if v is not None and not isinstance(v, int | np.integer):
                        raise InputTypeError(f"{x.label()}[...]: slice bounds must be Python ints, got {v!r}")
                items.append((k.start, k.stop, k.step))
            else:
                items.append(int(k))
        return Subtensor(tuple(items))(x)
    raise InputTypeError(f"{x.label()}[{key!r}]: supported keys are an index vector, a tuple of index vectors, "
                         "or ints and slices (not a mix)")


class Bag(Op):
    """Bag ``i`` of bags laid out back to back: ``ids[offsets[i]:offsets[i + 1]]`` (``offsets`` has
    one entry per bag and a last one for the end), e.g. the word ids of review ``i``.

    Holding the bags as constants (the training set of a per-example step, given once when
    compiling instead of at every call) lets ``increasing_indices`` prove when compiling that every
    bag increases strictly, so an update of the rows a bag gathers needs no check per call.
    """

    def make_node(self, ids: Any, offsets: Any, i: Any) -> Apply:
        ids, offsets, i = as_tensor(ids), as_tensor(offsets), as_tensor(i)
        where = f"bag({ids.label()}, {offsets.label()}, {i.label()})"
        for var, ndim in ((ids, 1), (offsets, 1), (i, 0)):
            _check_index_var(var, where)
            if var.ndim != ndim:
                raise InputTypeError(f"{where}: {var.label()} must be {ndim}-d, got {var.type.describe()}")
        return Apply(self, [ids, offsets, i], [TensorType(ids.dtype, (None,))])

    def perform(self, ids: np.ndarray, offsets: np.ndarray, i: Any) -> np.ndarray:
        i = int(i)
        if not 0 <= i < len(offsets) - 1:
            raise IndexRangeError(f"bag {i} is out of range for {len(offsets) - 1} bags")
        start, stop = int(offsets[i]), int(offsets[i + 1])
        if not 0 <= start <= stop <= len(ids):
            raise IndexRangeError(f"bag {i} runs from offset {start} to {stop}, which is not a slice of the "
                                  f"{len(ids)} ids")
        return ids[start:stop]

    def py_expr(self, node: Apply, args: Sequence[str]) -> str | None:
        if not increasing_indices(node.outputs[0]):
            return None  # perform checks the offsets
        ids, offsets, i = args
        views = _views_name(node)
        # Bags proved sound when compiling and sliced once (see py_globals); a negative i would wrap,
        # so it goes to perform, which raises, as it does one past the end.
        return f"({views}[{i}] if {i} >= 0 else {views}_perform({ids}, {offsets}, {i}))"

    def py_globals(self, node: Apply) -> dict[str, Any]:
        if not increasing_indices(node.outputs[0]):
            return {}
        ids, offsets = (v.data for v in node.inputs[:2])
        bounds = offsets.tolist()
        views = _views_name(node)
        return {views: [ids[start:stop] for start, stop in zip(bounds, bounds[1:])], f"{views}_perform": self.perform}

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [NO_GRADIENT, NO_GRADIENT, NO_GRADIENT]


def _views_name(node: Apply) -> str:
    return f"_bags_{id(node)}"


def bag(ids: Any, offsets: Any, i: Any) -> Variable:
    """Bag ``i`` of the bags ``ids[offsets[k]:offsets[k + 1]]``; see ``Bag``."""
    return Bag()(ids, offsets, i)


def bags_increase(ids: np.ndarray, offsets: np.ndarray) -> bool:
    """Whether every bag ``ids[offsets[k]:offsets[k + 1]]`` increases strictly from a non-negative
    first id, the offsets being in order and within ``ids``."""
    ids, offsets = np.asarray(ids), np.asarray(offsets, dtype=np.int64)
    if len(offsets) == 0 or offsets[0] < 0 or offsets[-1] > len(ids) or np.any(np.diff(offsets) < 0):
        return False
    if ids.size == 0:
        return True
    if ids.dtype.kind == "u" and ids.dtype.itemsize == 8 and ids.max() >= 2 ** 63:
        return False  # numpy would read them as negative intp
    rising = np.diff(ids) > 0
    starts = offsets[1:-1]
    rising[starts[(starts > 0) & (starts < len(ids))] - 1] = True  # pairs across two bags need not rise
    return bool(ids.min() >= 0 and rising.all())


#: Verdicts of bags_increase on constant bags, by the identity of their (read-only) arrays, with
#: weak references to them so that a verdict dies with its arrays: a training set is checked once.
_VERDICTS: dict[tuple[int, int], tuple[weakref.ref, weakref.ref, bool]] = {}


def increasing_indices(var: Variable) -> bool:
    """Whether ``var``'s values are known, when compiling, to increase strictly from a non-negative
    first: a constant vector, or a bag of constant bags."""
    if isinstance(var, Constant) and var.ndim == 1 and var.dtype.kind in "iu":
        return bags_increase(var.data, np.array([0, len(var.data)]))
    if var.owner is None or not isinstance(var.owner.op, Bag) or \
            not all(isinstance(v, Constant) for v in var.owner.inputs[:2]):
        return False
    ids, offsets = (v.data for v in var.owner.inputs[:2])
    known = _VERDICTS.get((id(ids), id(offsets)))
    if known is None or known[0]() is not ids or known[1]() is not offsets:
        for key in [key for key, (a, b, _) in _VERDICTS.items() if a() is None or b() is None]:
            del _VERDICTS[key]
        known = _VERDICTS[(id(ids), id(offsets))] = (weakref.ref(ids), weakref.ref(offsets), bags_increase(ids, offsets))
    return known[2]
