"""``function``: clone the graph, rewrite it, schedule it, generate one straight-line Python
function for it, run it, and commit the updates.

Every update value is computed from the old values before any shared variable changes; the
commit at the end cannot fail, so a call that raises leaves every shared variable as it was.
An update ``W <- W +- row_sparse`` is committed in place on the touched rows of ``W``.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from .checks import (check_all_inputs_given, check_givens, check_inputs, check_updates, input_filter,
                     update_checker)
from .graph import Apply, Constant, SharedVariable, Variable, clone_graph, leaves, toposort
from .ops.basic import as_tensor
from .ops.broadcast import BroadcastLike, SumTo
from .ops.indexing import Subtensor, Take
from .ops.reductions import sum_rows
from .ops.shapes import ExpandDims, Reshape, ReshapeLike, Transpose
from .printing import to_networkx
from .rewrite import rewrite
from .sparse import IncRows, RowGradient, RowSparse, SparseVariable, check_fits, rows_after
from .types import GraphgradError, IndexRangeError, InputTypeError, NonFiniteError, ShapeError, describe_value


class Mode:
    """How a compiled function runs. The default generates straight-line code; a mode with
    ``per_node`` set runs node by node and calls ``on_node`` after each (used by debug.py)."""

    name = "fast"
    per_node = False

    def on_node(self, fn: "Function", node: Apply, inputs: list[Any], outputs: list[Any], seconds: float) -> None:
        """Called after each node when ``per_node`` is set."""

    def after_call(self, fn: "Function", args: Sequence[Any], results: list[Any], updates: list[Any]) -> None:
        """Called with every output and update value before the updates are committed."""


#: Modes by name; debug.py registers its own.
MODES: dict[str, Callable[[], Mode]] = {"fast": Mode}


def _fast_check(arg: str, var: Variable, k: int) -> str:
    """The inline test that sends a call argument to its full filter when it is not already exact."""
    tests = [f"{arg}.__class__ is not _ndarray", f"{arg}.dtype is not _dtype{k}", f"{arg}.ndim != {var.ndim}"]
    tests += [f"{arg}.shape[{d}] != {n}" for d, n in enumerate(var.type.shape) if n is not None]
    exact_scalar = f"{arg}.__class__ is not _scalar{k} and " if var.ndim == 0 else ""  # np.float32(1.0) is fine
    return f"    if {exact_scalar}({' or '.join(tests)}):\n        {arg} = _filter{k}({arg})\n"


#: Names the generated code (and every op's ``py_expr``) may use; debug.py evaluates expressions with them.
GENERATED_GLOBALS: dict[str, Any] = {"_np": np, "_ndarray": np.ndarray, "_sum_rows": sum_rows, "_RowSparse": RowSparse}


class Function:
    """A compiled graph: call it with values for its inputs.

    Attributes: ``inputs``; ``nodes`` (the scheduled Apply nodes of the rewritten graph);
    ``source`` (the generated Python code); ``outputs`` and ``update_values`` (rewritten variables).
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Any, updates: Any = None, givens: Any = None,
                 mode: str | Mode | None = None, exclude: Sequence[str] = (), name: str | None = None):
        self.name = name
        self.mode = _resolve_mode(mode)
        self.inputs = check_inputs(inputs)
        self.single_output = isinstance(outputs, Variable)
        user_outputs = [] if outputs is None else [outputs] if self.single_output else list(outputs)
        # A row-sparse output is returned as a gg.RowSparse value, never as a dense table.
        self.user_outputs = [o if isinstance(o, SparseVariable) else as_tensor(o) for o in user_outputs]
        self.shared_updated, user_update_values = check_updates(updates)
        replace = check_givens(givens)
        cloned = clone_graph(self.user_outputs + user_update_values, replace)
        self.unrewritten = cloned
        check_all_inputs_given(cloned, self.inputs)
        rewritten = rewrite(cloned, exclude)
        n = len(self.user_outputs)
        self.outputs, self.update_values = rewritten[:n], rewritten[n:]
        # What is computed before the commit: an in-place update needs only its row-sparse operand.
        self.computed = self.outputs + [v.owner.inputs[1] if _is_in_place(s, v) else v
                                        for s, v in zip(self.shared_updated, self.update_values)]
        self.nodes = toposort(self.computed)
        # Results that may share memory with something that outlives the call are copied: a view
        # of a shared variable (an in-place commit would change it under the caller) or of a
        # constant (read-only), an output that is also committed as a dense update (writing into
        # it would change the parameter), and an update value viewing a caller's array.
        committed = {_view_base(v) for s, v in zip(self.shared_updated, self.update_values) if not _is_in_place(s, v)}
        self._copy_output = [_may_view(o) or _view_base(o) in committed for o in self.outputs]
        self._copy_update = [_may_view(v, Variable) for v in self.update_values]
        self.source, self._generated = self._generate()
        # fn.source always shows the fast code; modes from debug.py run the graph node by node.
        interpreted = self.mode.per_node or type(self.mode) is not Mode
        self._run = self._interpreted if interpreted else self._generated

    # --- code generation -----------------------------------------------------------------------
    def _generate(self) -> tuple[str, Callable]:
        names: dict[Variable, str] = {}
        namespace: dict[str, Any] = dict(GENERATED_GLOBALS)
        args = [f"a{k}" for k in range(len(self.inputs))]
        lines = [f"def compiled({', '.join(args)}):\n"]
        for k, (var, arg) in enumerate(zip(self.inputs, args)):
            names[var] = arg
            namespace[f"_filter{k}"] = input_filter(var, k)
            namespace[f"_dtype{k}"] = var.dtype
            namespace[f"_scalar{k}"] = var.dtype.type
            lines.append(_fast_check(arg, var, k))
        for var in leaves(self.computed):
            if var in names:
                continue
            if isinstance(var, SharedVariable):
                names[var] = f"s{len(names)}"
                namespace[f"_shared_{names[var]}"] = var
                lines.append(f"    {names[var]} = _shared_{names[var]}._value\n")
            elif isinstance(var, Constant):
                names[var] = f"c{len(names)}"
                namespace[names[var]] = var.data
        for k, node in enumerate(self.nodes):
            in_names = [names[v] for v in node.inputs]
            out_names = [f"v{k}_{i}" for i in range(len(node.outputs))]
            for var, out in zip(node.outputs, out_names):
                names[var] = out
            expr = node.op.py_expr(node, in_names)
            if expr is None:
                namespace[f"op{k}"] = node.op.perform
                expr = f"op{k}({', '.join(in_names)})"
            lines.append(f"    {', '.join(out_names)}{',' if len(out_names) > 1 else ''} = {expr}\n")
        lines.extend(self._generate_commit(names, namespace))
        source = "".join(lines)
        exec(compile(source, f"<graphgrad function {self.name or ''}>", "exec"), namespace)  # noqa: S102
        return source, namespace["compiled"]

    def _generate_commit(self, names: dict[Variable, str], namespace: dict[str, Any]) -> list[str]:
        """Lines that check updates, commit them, and return the outputs."""
        lines, commits = [], []
        gathers = {(n.inputs[0], n.inputs[1]): n.outputs[0] for n in self.nodes
                   if isinstance(n.op, Take) and n.inputs[1].ndim == 1}  # a scalar id gathers a row, not rows
        for k, (shared, value) in enumerate(zip(self.shared_updated, self.update_values)):
            ref = f"_shared_u{k}"
            namespace[ref] = shared
            if _is_in_place(shared, value):
                table, sparse = value.owner.inputs
                namespace[f"_inc{k}"] = value.owner.op.apply_in_place
                gathered = gathers.get((shared, _row_indices(sparse)))
                if gathered is not None:
                    # The function already gathered these rows: compute their new values now and
                    # only write them back at the commit (unless an index repeats).
                    namespace["_rows_after"] = rows_after
                    sign = value.owner.op.sign
                    lines.append(f"    r{k} = _rows_after({ref}._value, {names[gathered]}, {names[sparse]}, {sign})\n")
                    commits.append(f"    if r{k} is None:\n        _inc{k}({ref}._value, {names[sparse]})\n"
                                   f"    else:\n        {ref}._value[{names[sparse]}.indices] = r{k}\n")
                else:
                    namespace["_check_fits"] = check_fits
                    lines.append(f"    _check_fits({ref}._value, {names[sparse]})\n")
                    commits.append(f"    _inc{k}({ref}._value, {names[sparse]})\n")
            else:
                namespace[f"_check_update{k}"] = update_checker(shared)
                namespace[f"_dtype_u{k}"] = shared.dtype
                value_name = names[value]
                fast = f"{value_name}.__class__ is _ndarray and {value_name}.dtype is _dtype_u{k}"
                if None not in shared.type.shape:
                    fast += f" and {value_name}.shape == {tuple(shared.type.shape)!r}"
                lines.append(f"    u{k} = {value_name} if {fast} else _check_update{k}({value_name})\n")
                if self._copy_update[k]:
                    lines.append(f"    u{k} = u{k}.copy()\n")
                commits.append(f"    {ref}._value = u{k}\n")
        outs = [f"{names[o]}.copy()" if copy else names[o] for o, copy in zip(self.outputs, self._copy_output)]
        lines.append(f"    outputs = {outs[0] if self.single_output else '[' + ', '.join(outs) + ']'}\n")
        lines.extend(commits)
        lines.append("    return outputs\n")
        return lines

    # --- running ---------------------------------------------------------------------------------
    def __call__(self, *args: Any) -> Any:
        """Run the function on values for its inputs; returns the output(s) and commits updates."""
        # The fast path is the generated code alone: every check that can be made once was made
        # when compiling, and the rest happen only when something went wrong.
        try:
            return self._run(*args)
        except Exception as error:  # noqa: BLE001 - re-raised as a clear error naming the input or node
            self._check_arity(args)
            if self._run is not self._generated:
                raise
            named = self._diagnose(args, error)
            if named is error:
                raise
            raise named from error

    def _check_arity(self, args: Sequence[Any]) -> None:
        if len(args) != len(self.inputs):
            names = ", ".join(v.label() for v in self.inputs)
            raise InputTypeError(f"function{' ' + self.name if self.name else ''} takes "
                                 f"{len(self.inputs)} inputs ({names}), got {len(args)}") from None

    def _interpreted(self, *args: Any) -> Any:
        self._check_arity(args)
        results = self._interpreted_call(args)
        return results[0] if self.single_output else results

    def evaluate(self, args: Sequence[Any], on_node: Callable | None = None,
                 outputs: Sequence[Variable] | None = None) -> dict[Variable, Any]:
        """Run the rewritten graph node by node (no commit) and return every variable's value.

        Each node's failure is raised as a graphgrad error naming the node and its input shapes.
        """
        values: dict[Variable, Any] = {}
        for k, var in enumerate(self.inputs):
            values[var] = input_filter(var, k)(args[k])
        targets = list(outputs) if outputs is not None else self.computed
        for var in leaves(targets):
            if isinstance(var, SharedVariable):
                values[var] = var._value
            elif isinstance(var, Constant):
                values[var] = var.data
        for node in toposort(targets):
            inputs = [values[v] for v in node.inputs]
            start = time.perf_counter()
            try:
                result = node.op.perform(*inputs)
            except GraphgradError as error:
                raise type(error)(f"{node.label()}: {error}") from error
            except Exception as error:  # noqa: BLE001 - named and re-raised
                raise _node_error(node, inputs, error) from error
            seconds = time.perf_counter() - start
            results = list(result) if len(node.outputs) > 1 else [result]
            for var, value in zip(node.outputs, results):
                values[var] = value
            if on_node is not None:
                on_node(node, inputs, results, seconds)
        return values

    def _interpreted_call(self, args: Sequence[Any]) -> list[Any]:
        def on_node(node: Apply, inputs: list[Any], outputs: list[Any], seconds: float) -> None:
            self.mode.on_node(self, node, inputs, outputs, seconds)

        values = self.evaluate(args, on_node if self.mode.per_node else None)
        results = [values[o] for o in self.outputs]
        updates = [values[v] for v in self.computed[len(self.outputs):]]
        checked = []
        for shared, value, new, copy in zip(self.shared_updated, self.update_values, updates, self._copy_update):
            if _is_in_place(shared, value):
                check_fits(shared._value, new)
                checked.append(None)
            else:
                new = update_checker(shared)(new)
                checked.append(new.copy() if copy else new)
        self.mode.after_call(self, args, results, updates)
        results = [r.copy() if copy else r for r, copy in zip(results, self._copy_output)]
        for shared, value, new in zip(self.shared_updated, self.update_values, checked):
            if new is None:
                value.owner.op.apply_in_place(shared._value, values[value.owner.inputs[1]])
            else:
                shared._value = new
        return results

    def _diagnose(self, args: Sequence[Any], error: Exception) -> Exception:
        """Find the node behind a failure of the generated code by re-running node by node."""
        try:
            self.evaluate(args)
        except GraphgradError as named:
            # An op's own GraphgradError gains the node's name here; an input's is already named.
            return error if str(named) == str(error) else named
        except Exception:  # noqa: BLE001 - fall through to the generic message
            pass
        return error if isinstance(error, GraphgradError) else \
            ShapeError(f"compiled function failed: {type(error).__name__}: {error}")

    # --- inspection ---------------------------------------------------------------------------
    @property
    def profile(self) -> Any:
        """The mode's timing statistics (``mode="profile"``; see debug.py), or None."""
        return getattr(self.mode, "profile", None)

    def to_networkx(self) -> Any:
        """The rewritten graph as a networkx DiGraph (see ``graphgrad.printing.to_networkx``)."""
        return to_networkx(self.outputs + self.update_values)

    def __repr__(self) -> str:
        return f"<graphgrad Function {self.name or ''} ({len(self.nodes)} nodes, mode {self.mode.name})>"


def _resolve_mode(mode: str | Mode | None) -> Mode:
    if mode is None:
        return Mode()
    if isinstance(mode, Mode):
        return mode
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known: {sorted(MODES)} (import graphgrad to register all)")
    return MODES[mode]()


def _row_indices(sparse: Variable) -> Variable | None:
    """The index variable of a row-sparse value made by one row gradient, else None."""
    return sparse.owner.inputs[1] if sparse.owner is not None and isinstance(sparse.owner.op, RowGradient) else None


def _is_in_place(shared: SharedVariable, value: Variable) -> bool:
    """The update rewrite is a type test: ``W +- row_sparse`` on ``W`` itself is done in place."""
    return value.owner is not None and isinstance(value.owner.op, IncRows) and value.owner.inputs[0] is shared


#: Ops whose output may be a view of their first input.
VIEW_OPS = (BroadcastLike, SumTo, ExpandDims, Reshape, ReshapeLike, Transpose, Subtensor)


def _view_base(var: Variable) -> Variable:
    """The variable whose memory ``var``'s value may share, following view-making ops."""
    while var.owner is not None and isinstance(var.owner.op, VIEW_OPS):
        var = var.owner.inputs[0]
    return var


def _may_view(var: Variable, leaves: type | tuple[type, ...] = (SharedVariable, Constant)) -> bool:
    """Whether ``var``'s value may share memory (through view-making ops) with a leaf of the given
    kinds: a shared variable's value (which an in-place update changes), a constant's read-only
    data, or (for ``Variable``) a caller's input array."""
    base = _view_base(var)
    return base.owner is None and isinstance(base, leaves)


def _node_error(node: Apply, inputs: list[Any], error: Exception) -> GraphgradError:
    shapes = ", ".join(f"{v.label()} {describe_value(x)}" for v, x in zip(node.inputs, inputs))
    message = f"{node.label()} ({node.op.label()}) failed on {shapes}: {error}"
    if isinstance(error, IndexError):
        return IndexRangeError(message)
    if isinstance(error, FloatingPointError):
        return NonFiniteError(message)
    if isinstance(error, TypeError):
        return InputTypeError(message)
    return ShapeError(message)


def function(inputs: Sequence[Variable], outputs: Any = None, updates: Any = None, givens: Any = None,
             mode: str | Mode | None = None, exclude: Sequence[str] = (), name: str | None = None) -> Function:
    """Compile a callable computing ``outputs`` from ``inputs`` and committing ``updates``.

    ``updates``: (shared variable, new value) pairs or a dict, computed from the old values and
    committed together after all outputs succeeded. ``givens``: variables to substitute.
    ``mode``: "fast" (default: generated straight-line code), or a mode from debug.py ("debug",
    "nanguard", "profile"). ``exclude``: names of rewrites to skip, e.g. ("merge",).
    """
    return Function(inputs, outputs, updates, givens, mode, exclude, name)
