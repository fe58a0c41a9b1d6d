"""``function``: clone the graph, rewrite it, schedule it, generate one straight-line Python
function for it, run it, and commit the updates.

Every update value is computed from the old values before any shared variable changes; the
commit at the end cannot fail, so a call that raises leaves every shared variable as it was.
An update ``W <- W +- row_sparse`` is committed in place on the touched rows of ``W``.
"""
from __future__ import annotations

import time
from typing import Any, Callable, NoReturn, Sequence

from .checks import (check_all_inputs_given, check_givens, check_inputs, check_updates, input_filter,
                     update_checker)
from .codegen import generate, is_in_place
from .graph import Apply, Constant, SharedVariable, Variable, clone_graph, leaves, toposort
from .ops.basic import as_tensor
from .ops.broadcast import BroadcastLike, SumTo
from .ops.indexing import Bag, Subtensor
from .ops.shapes import ExpandDims, Reshape, ReshapeLike, Transpose
from .printing import to_networkx
from .rewrite import rewrite
from .sparse import RowGradient, SparseVariable, check_fits
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
        self.computed = self.outputs + [v.owner.inputs[1] if is_in_place(s, v) else v
                                        for s, v in zip(self.shared_updated, self.update_values)]
        self.nodes = toposort(self.computed)
        # Results that may share memory with something that outlives the call are copied: a view
        # of a shared variable (an in-place commit would change it under the caller) or of a
        # constant (read-only), an output that is also committed as a dense update (writing into
        # it would change the parameter), and an update value viewing a caller's array.
        committed = {_view_base(v) for s, v in zip(self.shared_updated, self.update_values) if not is_in_place(s, v)}
        self.copy_output = [_may_view(o) or _view_base(o) in committed or _holds_view(o) for o in self.outputs]
        self.copy_update = [_may_view(v, Variable) for v in self.update_values]
        # New arrays that neither outlive the call nor are held by a view or a row-sparse value:
        # the generated code may compute into them once no later node reads them.
        escaping = committed | {_view_base(o) for o in self.outputs}
        held = {v for n in self.nodes if isinstance(n.op, VIEW_OPS + (RowGradient,)) for v in n.inputs}
        self.overwritable = {v for n in self.nodes if n.op.fresh for v in n.outputs} - escaping - held
        # fn.source always shows the fast code; modes from debug.py run the graph node by node.
        self.source, generated = generate(self)
        generated.__doc__ = Function.__call__.__doc__
        if not self.mode.per_node and type(self.mode) is Mode:
            # Python looks __call__ up on the class: a class of its own sends every call straight
            # into the generated code, a microsecond less per call than a method forwarding to it.
            self.__class__ = type(type(self).__name__, (type(self),), {"__call__": generated})

    # --- running ---------------------------------------------------------------------------------
    def __call__(self, *args: Any) -> Any:
        """Run the function on values for its inputs; returns the output(s) and commits updates."""
        # Only functions of the modes that run node by node get here (see __init__).
        self._check_arity(args)
        results = self._interpreted_call(args)
        return results[0] if self.single_output else results

    def _failed(self, args: Sequence[Any], error: Exception) -> NoReturn:
        """Raise the clearest error for a failed call of the generated code: a wrong number of
        arguments, or the node that failed, found by re-running the graph node by node. The fast
        path pays nothing for this: every check that can be made once was made when compiling."""
        self._check_arity(args)
        named = self._diagnose(args, error)
        if named is error:
            raise error
        raise named from error

    def _check_arity(self, args: Sequence[Any]) -> None:
        if len(args) != len(self.inputs):
            names = ", ".join(v.label() for v in self.inputs)
            raise InputTypeError(f"function{' ' + self.name if self.name else ''} takes "
                                 f"{len(self.inputs)} inputs ({names}), got {len(args)}") from None

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
        for shared, value, new, copy in zip(self.shared_updated, self.update_values, updates, self.copy_update):
            if is_in_place(shared, value):
                check_fits(shared._value, new)
                checked.append(None)
            else:
                new = update_checker(shared)(new)
                checked.append(new.copy() if copy else new)
        self.mode.after_call(self, args, results, updates)
        results = [r.copy() if copy else r for r, copy in zip(results, self.copy_output)]
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


#: Ops whose output may be a view of their first input.
VIEW_OPS = (BroadcastLike, SumTo, ExpandDims, Reshape, ReshapeLike, Transpose, Subtensor, Bag)


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


def _holds_view(var: Variable) -> bool:
    """Whether the row-sparse value of ``var`` holds indices or rows that may view a shared
    variable or a constant (such as the bag of a constant training set, whose view is reused)."""
    return isinstance(var, SparseVariable) and var.owner is not None and isinstance(var.owner.op, RowGradient) \
        and any(_may_view(v) for v in var.owner.inputs[1:])


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
