"""Modes that watch a compiled function run node by node, registered in ``compile.MODES``:

- ``"debug"``: every node's value against its static type and its generated code against
  ``perform``; every output and update against the unrewritten graph evaluated node by node.
- ``"nanguard"``: stop at the first node producing NaN or Inf.
- ``"profile"``: time and call counts per node and per op type (``fn.profile.summary()``).

Pass an instance for other settings, e.g. ``gg.function(..., mode=DebugMode(rtol=1e-3))``.
All three commit nothing when they raise: hooks run before the updates are committed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from . import rewrite
from .codegen import GENERATED_GLOBALS
from .compile import MODES, Function, Mode
from .graph import Apply, Variable
from .ops.elemwise import Sigmoid
from .rewrite import stabilize_log_losses
from .floats import as_float, float_expr, runs_on_floats
from .sparse import RowSparse
from .types import GraphgradError, NonFiniteError, TensorType, describe_value, format_shape


class DebugModeError(GraphgradError, AssertionError):
    """Debug mode found a value that disagrees with its static type, its generated code, or the
    unrewritten graph."""


#: Default (rtol, atol) by dtype: float32 leaves room for the stable rewrites being more accurate
#: than the naive forms they replace (1 - sigmoid(9) keeps only ~3 digits in float32).
TOLERANCES = {np.dtype("float16"): (1e-2, 1e-3), np.dtype("float32"): (1e-3, 1e-5),
              np.dtype("float64"): (1e-7, 1e-10)}


def dense_value(value: Any) -> np.ndarray:
    """A runtime value as a dense array (row-sparse values are densified)."""
    return value.to_dense() if isinstance(value, RowSparse) else np.asarray(value)


def type_problem(var: Variable, value: Any) -> str | None:
    """Why ``value`` does not fit ``var``'s static type (dtype and known dims), or None if it does."""
    t = var.type
    if isinstance(value, RowSparse):
        if isinstance(t, TensorType):
            return f"a row-sparse value where the static type is {t.describe()}"
        fits = value.rows.dtype == t.dtype and t.ndim == len(value.shape) and all(
            s is None or s == d for s, d in zip(t.shape, value.shape))
        return None if fits else (f"row-sparse {value.rows.dtype} value standing for {value.shape}, static type "
                                  f"{t.describe()}")
    if not isinstance(value, np.ndarray | np.generic):
        return f"{describe_value(value)}, not a numpy value (static type {t.describe()})"
    if not isinstance(t, TensorType):
        return f"a dense {describe_value(value)} where the static type is {t.describe()}"
    if value.dtype != t.dtype or not t.is_compatible(value.shape):
        return f"{describe_value(value)}, static type {t.describe()} of shape {format_shape(t.shape)}"
    return None


def disagreement(expected: Any, actual: Any, rtol: float | None = None, atol: float | None = None) -> str | None:
    """How ``actual`` differs from ``expected`` (shape, or values beyond tolerance), or None.

    NaN agrees with NaN. Where ``expected`` is not finite but ``actual`` is, they agree: that is a
    stable rewrite doing its job (``binary_crossentropy(sigmoid(z))`` at z = 1000).
    """
    expected, actual = dense_value(expected), dense_value(actual)
    if expected.shape != actual.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    if expected.dtype.kind not in "fc" and actual.dtype.kind not in "fc":
        wrong = expected != actual
    else:
        default = TOLERANCES.get(np.result_type(expected.dtype, actual.dtype), (1e-7, 1e-10))
        rtol, atol = default[0] if rtol is None else rtol, default[1] if atol is None else atol
        with np.errstate(all="ignore"):
            close = np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
        wrong = ~(close | (~np.isfinite(expected) & np.isfinite(actual)))
    if not wrong.any():
        return None
    at = np.unravel_index(int(np.argmax(wrong)), wrong.shape) if wrong.ndim else ()
    return (f"{int(wrong.sum())} of {wrong.size} values differ; at {at}: {actual[at]!r}, "
            f"expected {expected[at]!r}")


def _node_name(node: Apply) -> str:
    return f"node {node.label()} ({node.op.label()})"


def _source_name(var: Variable) -> str:
    return _node_name(var.owner) if var.owner is not None else f"leaf {var.label()}"


class DebugMode(Mode):
    """Checks every node's value against its static type and its generated code, then every output
    and update against the unrewritten graph evaluated node by node with ``perform``.

    ``rtol``/``atol`` default to ``TOLERANCES`` by dtype. Raises DebugModeError naming the node.
    """

    name = "debug"
    per_node = True

    def __init__(self, rtol: float | None = None, atol: float | None = None):
        self.rtol, self.atol = rtol, atol
        self._globals: dict[Apply, dict[str, Any]] = {}

    def on_node(self, fn: Function, node: Apply, inputs: list[Any], outputs: list[Any], seconds: float) -> None:
        """Check the node's outputs against their static types and against the node's generated code."""
        self.check_types(node, outputs)
        names = [f"a{k}" for k in range(len(inputs))]
        on_floats = runs_on_floats(node)
        if on_floats:
            expression = float_expr(node, names)
            values = [as_float(x) for x in inputs]
        else:
            expression, values = node.op.py_expr(node, names), inputs
        if expression is None:
            return
        if node not in self._globals:  # a bag's slices: made once per node, as the fast code does
            self._globals[node] = {**GENERATED_GLOBALS, **node.op.py_globals(node)}
        try:
            with np.errstate(all="ignore"):
                generated = eval(expression, self._globals[node], dict(zip(names, values)))  # noqa: S307
        except (ArithmeticError, ValueError):
            if on_floats:
                return  # the generated code falls back to perform where a Python-float rule raises
            raise
        if on_floats:
            generated = np.full(node.outputs[0].type.shape, generated, node.outputs[0].dtype)
        problem = type_problem(node.outputs[0], generated) or \
            disagreement(outputs[0], generated, self.rtol, self.atol)
        if problem:
            raise DebugModeError(f"{_node_name(node)}: generated code `{expression}` disagrees with perform: "
                                 f"{problem}")

    def check_types(self, node: Apply, outputs: Sequence[Any]) -> None:
        """Raise DebugModeError if an output value does not fit its variable's static type."""
        for var, value in zip(node.outputs, outputs):
            problem = type_problem(var, value)
            if problem:
                raise DebugModeError(f"{_node_name(node)} computed {problem}")

    def after_call(self, fn: Function, args: Sequence[Any], results: list[Any], updates: list[Any]) -> None:
        """Evaluate the unrewritten graph and compare every output and update with the rewritten one."""
        n = len(fn.outputs)
        values = list(results)
        for k, (shared, new) in enumerate(zip(fn.shared_updated, updates)):
            rewritten = fn.update_values[k]
            if fn.computed[n + k] is not rewritten:  # an in-place update computed only its row-sparse operand
                new = rewritten.owner.op.perform(shared.get_value(borrow=True), new)
            values.append(new)
        reference, note = self._reference(fn, args)
        for k, value in enumerate(values):
            problem = disagreement(reference[k], value, self.rtol, self.atol)
            if problem:
                what = f"output {k}" if k < n else f"update of {fn.shared_updated[k - n].label()}"
                what += f" of function {fn.name}" if fn.name else ""
                rewritten = (fn.outputs + fn.update_values)[k]
                raise DebugModeError(
                    f"{what}: rewritten {_source_name(rewritten)} disagrees with "
                    f"unrewritten {_source_name(fn.unrewritten[k])}{note}: {problem}"
                    f"{self._culprits(fn, args, k, reference[k])}")

    def _reference(self, fn: Function, args: Sequence[Any]) -> tuple[list[Any], str]:
        """Values of the unrewritten outputs and updates, node by node. Where a sigmoid saturates
        the naive log-losses have lost their digits, so the reference is then the unrewritten graph
        with only the stabilizing rewrite applied. (A softmax needs no such care: the naive forms
        only fail where a probability underflows to 0, which gives Inf or NaN.)"""
        saturated: list[Apply] = []

        def on_node(node: Apply, inputs: list[Any], outputs: list[Any], seconds: float) -> None:
            self.check_types(node, outputs)
            if isinstance(node.op, Sigmoid) and _saturated(outputs[0]):
                saturated.append(node)

        with np.errstate(all="ignore"):  # the naive forms may overflow where the rewritten ones do not
            values = fn.evaluate(args, on_node, outputs=fn.unrewritten)
            if not saturated:
                return [values[v] for v in fn.unrewritten], ""
            stabilized = stabilize_log_losses(fn.unrewritten)
            values = fn.evaluate(args, outputs=stabilized)
        return [values[v] for v in stabilized], f" (stabilized: {_node_name(saturated[0])} saturates)"

    def _culprits(self, fn: Function, args: Sequence[Any], k: int, expected: Any) -> str:
        """The rewrites without which the k-th value agrees with the reference, for the message."""
        names = []
        for name, _ in rewrite.REWRITES:
            without = Function(fn.inputs, list(fn.unrewritten), exclude=(name,))
            with np.errstate(all="ignore"):
                value = without.evaluate(args)[without.outputs[k]]
            if not disagreement(expected, value, self.rtol, self.atol):
                names.append(name)
        return f"; it agrees when one of these rewrites is excluded: {names}" if names else ""


def _saturated(p: Any) -> bool:
    """Whether a probability underflowed to 0 or is so close to 1 that ``1 - p`` kept less than
    half its digits (within sqrt(eps))."""
    array = np.asarray(p)
    if array.dtype.kind != "f" or not array.size:
        return False
    return bool(array.min() == 0 or (1 - array).min() < np.sqrt(np.finfo(array.dtype).eps))


def _non_finite(value: Any) -> tuple[int, int]:
    """Counts of NaN and of +-Inf in a float value (0, 0 for other kinds)."""
    array = value.rows if isinstance(value, RowSparse) else value
    if not isinstance(array, np.ndarray | np.generic) or array.dtype.kind not in "fc":
        return 0, 0
    nan = int(np.isnan(array).sum())
    return nan, int(np.size(array) - np.isfinite(array).sum()) - nan


def _describe_counts(value: Any) -> str:
    nan, inf = _non_finite(value)
    return f"{nan} NaN, {inf} Inf" if nan or inf else "finite"


class NanGuardMode(Mode):
    """Raises NonFiniteError at the first node whose output holds NaN or Inf, naming the node, its
    op, and each input's shape and whether it was already non-finite."""

    name = "nanguard"
    per_node = True

    def on_node(self, fn: Function, node: Apply, inputs: list[Any], outputs: list[Any], seconds: float) -> None:
        """Check the node's outputs."""
        for var, value in zip(node.outputs, outputs):
            if any(_non_finite(value)):
                listing = "; ".join(f"{v.label()}: {describe_value(dense_value(x))} ({_describe_counts(x)})"
                                    for v, x in zip(node.inputs, inputs))
                raise NonFiniteError(f"{_node_name(node)} produced {_describe_counts(value)} in "
                                     f"{describe_value(dense_value(value))}; inputs: {listing}")

    def after_call(self, fn: Function, args: Sequence[Any], results: list[Any], updates: list[Any]) -> None:
        """Check outputs that no node computes (an input or shared variable returned as it is)."""
        for var, value in zip(fn.outputs, results):
            if var.owner is None and any(_non_finite(value)):
                raise NonFiniteError(f"output {var.label()} is {_describe_counts(value)}")


@dataclass
class NodeStats:
    """Accumulated time of one node."""
    node: Apply
    position: int
    seconds: float = 0.0
    calls: int = 0
    shape: tuple = ()


@dataclass
class Profile:
    """Time spent per node and per op type over the calls of one compiled function."""

    calls: int = 0
    nodes: dict[int, NodeStats] = field(default_factory=dict)

    def record(self, node: Apply, position: int, seconds: float, output: Any) -> None:
        """Add one run of ``node``."""
        stats = self.nodes.get(id(node))
        if stats is None:
            stats = self.nodes[id(node)] = NodeStats(node, position)
        stats.seconds += seconds
        stats.calls += 1
        stats.shape = np.shape(dense_value(output)) if not isinstance(output, RowSparse) else output.rows.shape

    @property
    def seconds(self) -> float:
        """Total time in nodes over all calls."""
        return sum(s.seconds for s in self.nodes.values())

    def by_op(self) -> list[tuple[str, float, int, int]]:
        """(op name, seconds, node runs, nodes) per op type, slowest first."""
        table: dict[str, list] = {}
        for s in self.nodes.values():
            row = table.setdefault(type(s.node.op).__name__, [0.0, 0, 0])
            row[0] += s.seconds
            row[1] += s.calls
            row[2] += 1
        return sorted(((name, *row) for name, row in table.items()), key=lambda r: -r[1])

    def by_node(self) -> list[NodeStats]:
        """Per-node statistics, slowest first."""
        return sorted(self.nodes.values(), key=lambda s: -s.seconds)

    def summary(self, top: int = 15) -> str:
        """A table per op type and of the ``top`` slowest nodes, sorted by total time."""
        total = self.seconds or 1e-12
        lines = [f"profile: {self.calls} calls, {self.seconds * 1e3:.3f} ms in {len(self.nodes)} nodes "
                 f"({self.seconds / max(self.calls, 1) * 1e6:.1f} us per call)",
                 "", f"{'op':<28} {'time %':>7} {'total ms':>10} {'runs':>7} {'us/run':>9} {'nodes':>6}"]
        for name, seconds, runs, nodes in self.by_op():
            lines.append(f"{name:<28} {100 * seconds / total:>6.1f}% {seconds * 1e3:>10.3f} {runs:>7} "
                         f"{seconds / runs * 1e6:>9.1f} {nodes:>6}")
        lines += ["", f"{'#':>4} {'node':<40} {'op':<22} {'time %':>7} {'us/run':>9} {'runs':>6}  last shape"]
        for s in self.by_node()[:top]:
            lines.append(f"{s.position:>4} {s.node.label()[:40]:<40} {s.node.op.label()[:22]:<22} "
                         f"{100 * s.seconds / total:>6.1f}% {s.seconds / s.calls * 1e6:>9.1f} {s.calls:>6}  {s.shape}")
        return "\n".join(lines)

    def reset(self) -> None:
        """Forget every recorded call."""
        self.calls = 0
        self.nodes.clear()


class ProfileMode(Mode):
    """Runs node by node (through ``perform``) and records each node's time in ``profile``; the
    function exposes it as ``fn.profile``. Times include no code generation benefit, so use them
    to compare nodes, not to predict the fast mode's total."""

    name = "profile"
    per_node = True

    def __init__(self) -> None:
        self.profile = Profile()
        self._positions: dict[int, dict[int, int]] = {}  # per function: node id -> place in fn.nodes

    def on_node(self, fn: Function, node: Apply, inputs: list[Any], outputs: list[Any], seconds: float) -> None:
        """Record the node's time."""
        positions = self._positions.get(id(fn))
        if positions is None:
            positions = self._positions[id(fn)] = {id(n): k for k, n in enumerate(fn.nodes)}
        self.profile.record(node, positions[id(node)], seconds, outputs[0])

    def after_call(self, fn: Function, args: Sequence[Any], results: list[Any], updates: list[Any]) -> None:
        """Count the call."""
        self.profile.calls += 1


MODES.update(debug=DebugMode, nanguard=NanGuardMode, profile=ProfileMode)
