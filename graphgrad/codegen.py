"""Code generation for ``function``: one straight-line Python function per compiled graph.

Each scheduled node becomes one line: its op's inline numpy expression (``py_expr``), a call of
its ``perform``, or, for a size-one float node, a Python-float expression (floats.py). Then the
update values are checked, the outputs collected, and the updates committed; nothing before the
commit writes to a shared variable, and the commit itself cannot fail.

An update ``W <- W +- row_gradient(W, ix, rows)`` whose rows the function already gathered as
``take(W, ix)`` computes the new rows before the commit and only writes them back
(``W[ix] = gathered - rows``), a third of the cost of ``W[ix] -= rows``; when an index repeats
it adds the rows with ``ufunc.at`` instead, so repeated ids accumulate.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from .checks import input_filter, update_checker
from .floats import (SCALAR_GLOBALS, accepts_float, as_float, float_expr, may_raise, runs_on_floats, to_array,
                     to_float)
from .graph import Apply, Constant, SharedVariable, Variable, leaves
from .ops.indexing import Take, increasing_indices
from .ops.reductions import sum_rows
from .ops.shapes import ExpandDims
from .sparse import IncRows, RowGradient, RowSparse, check_fits


class CompiledGraph(Protocol):
    """What code generation reads of a ``compile.Function`` (which imports this module)."""

    name: str | None
    inputs: list[Variable]
    outputs: list[Variable]
    single_output: bool
    shared_updated: list[SharedVariable]
    update_values: list[Variable]
    computed: list[Variable]
    nodes: list[Apply]
    copy_output: list[bool]
    copy_update: list[bool]
    overwritable: set[Variable]


#: Names the generated code (and every op's ``py_expr``) may use; debug.py evaluates expressions with them.
GENERATED_GLOBALS: dict[str, Any] = {"_np": np, "_ndarray": np.ndarray, "_sum_rows": sum_rows, "_RowSparse": RowSparse,
                                     "_check_fits": check_fits, "_count_nonzero": np.count_nonzero,
                                     **SCALAR_GLOBALS}


def is_in_place(shared: SharedVariable, value: Variable) -> bool:
    """The update rewrite is a type test: ``W +- row_sparse`` on ``W`` itself is done in place."""
    return value.owner is not None and isinstance(value.owner.op, IncRows) and value.owner.inputs[0] is shared


class _Source:
    """The lines and namespace of the function being generated, and the names of its values: an
    array form and, for size-one float values, a Python-float form, each made on first use."""

    def __init__(self, nodes: list[Apply], reusable: set[Variable]) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = dict(GENERATED_GLOBALS)
        self.arrays: dict[Variable, str] = {}
        self.floats: dict[Variable, str] = {}
        self.dtypes: dict[np.dtype, str] = {}
        # Arrays whose last reader has run and that nothing outside the call holds: a float
        # becoming an array of the same type is written into one instead of a new array.
        self.reads_left = Counter(v for node in nodes for v in node.inputs)
        self.reusable = reusable
        self.spare: list[Variable] = []

    def done(self, node: Apply) -> None:
        """Note that ``node`` has been emitted: operands it read last become spare arrays."""
        for var in node.inputs:
            self.reads_left[var] -= 1
            if not self.reads_left[var] and var in self.reusable and var in self.arrays:
                self.spare.append(var)

    def emit(self, line: str, indent: int = 1) -> None:
        self.lines.append("    " * indent + line + "\n")

    def dtype(self, dtype: np.dtype) -> str:
        name = self.dtypes.setdefault(dtype, f"_dt{len(self.dtypes)}")
        self.namespace[name] = dtype
        return name

    def array(self, var: Variable) -> str:
        if var not in self.arrays:
            spare = next((v for v in self.spare if v.type == var.type and var.ndim and None not in var.type.shape),
                         None)  # 0-d results of numpy are immutable scalars
            if spare is not None:
                self.spare.remove(spare)
                self.arrays[var] = self.arrays[spare]
                self.emit(f"{self.arrays[var]}[{', '.join(['0'] * var.ndim) or '()'}] = {self.floats[var]}")
            else:
                self.arrays[var] = f"{self.floats[var]}_array"
                for line in to_array(self.floats[var], var, self.dtype(var.dtype)):
                    self.emit(line)
        return self.arrays[var]

    def float(self, var: Variable) -> str:
        if var not in self.floats:
            name = self.floats[var] = f"{self.arrays[var]}_float"
            if isinstance(var, Constant):
                self.namespace[name] = as_float(var.data)
            else:
                self.emit(f"{name} = {to_float(self.arrays[var], var)}")
        return self.floats[var]

    def operands(self, node: Apply) -> list[str]:
        """Names of ``node``'s operands: the Python float of the one operand that has one, where the
        node takes it as it would take the array (floats.accepts_float, and a float beats an array
        operand by a third of a microsecond); arrays otherwise."""
        floats = {v for v in node.inputs if v in self.floats}
        return [self.floats[v] if len(floats) == 1 and v in floats and accepts_float(node, v)
                else self.array(v) for v in node.inputs]


def _fast_check(arg: str, var: Variable, k: int) -> str:
    """The inline test that sends a call argument to its full filter when it is not already exact."""
    tests = [f"{arg}.__class__ is not _ndarray", f"{arg}.dtype is not _dtype{k}", f"{arg}.ndim != {var.ndim}"]
    tests += [f"{arg}.shape[{d}] != {n}" for d, n in enumerate(var.type.shape) if n is not None]
    exact_scalar = f"{arg}.__class__ is not _scalar{k} and " if var.ndim == 0 else ""  # np.float32(1.0) is fine
    return f"if {exact_scalar}({' or '.join(tests)}):\n        {arg} = _filter{k}({arg})"


@dataclass(frozen=True)
class _WriteBack:
    """An update ``W <- W +- row_gradient(W, ix, rows)`` whose rows ``take(W, ix)`` gathered."""

    gathered: Variable
    indices: Variable
    rows: Variable
    row: Variable | None  # rows = expand_dims(row, 0): numpy broadcasts ``row`` itself
    sign: int

    @property
    def subtrahend(self) -> Variable:
        return self.rows if self.row is None else self.row

    @property
    def read_at_commit(self) -> tuple[Variable, Variable, Variable]:
        """The values the commit reads: they must be computed, and kept as they are."""
        return self.gathered, self.indices, self.subtrahend


def _write_backs(fn: CompiledGraph) -> dict[int, _WriteBack]:
    """The in-place updates, by position, whose new rows are written back over gathered ones."""
    gathers = {(n.inputs[0], n.inputs[1]): n.outputs[0] for n in fn.nodes
               if isinstance(n.op, Take) and n.inputs[1].ndim == 1}  # a scalar id gathers a row, not rows
    found = {}
    for k, (shared, value) in enumerate(zip(fn.shared_updated, fn.update_values)):
        sparse = value.owner.inputs[1].owner if is_in_place(shared, value) else None
        if sparse is not None and isinstance(sparse.op, RowGradient) and sparse.inputs[0] is shared \
                and (shared, sparse.inputs[1]) in gathers:
            rows = sparse.inputs[2]
            expanded = rows.owner is not None and isinstance(rows.owner.op, ExpandDims) and rows.owner.op.axes == (0,)
            found[k] = _WriteBack(gathers[(shared, sparse.inputs[1])], sparse.inputs[1], rows,
                                  rows.owner.inputs[0] if expanded else None, value.owner.op.sign)
    return found


def _live_nodes(fn: CompiledGraph, write_backs: dict[int, _WriteBack]) -> list[Apply]:
    """The scheduled nodes whose values the outputs, updates and write-backs need: a row gradient
    whose rows are written back is never built (nor the expansion of its single row)."""
    live = set(fn.outputs)
    for k, (shared, value) in enumerate(zip(fn.shared_updated, fn.update_values)):
        if k in write_backs:
            live.update(write_backs[k].read_at_commit)
        else:
            live.add(value.owner.inputs[1] if is_in_place(shared, value) else value)
    nodes = []
    for node in reversed(fn.nodes):
        if any(o in live for o in node.outputs):
            nodes.append(node)
            live.update(node.inputs)
    return nodes[::-1]


def _rows_fit(table: Variable, write_back: _WriteBack) -> bool:
    """Whether static shapes prove that the written-back rows are one row that fits ``table``."""
    shape = write_back.rows.type.shape
    return shape[:1] == (1,) and shape[1:] == table.type.shape[1:] and None not in shape[1:]


def generate(fn: CompiledGraph) -> tuple[str, Callable]:
    """The source of ``fn``'s fast path and the function compiled from it."""
    write_backs = _write_backs(fn)
    live = _live_nodes(fn, write_backs)
    read_at_commit = {v for w in write_backs.values() for v in w.read_at_commit}
    src = _Source(live, fn.overwritable - read_at_commit)
    args = [f"a{k}" for k in range(len(fn.inputs))]
    src.emit(f"{', '.join(args) + (',' if len(args) == 1 else '') if args else '()'} = args")
    for k, (var, arg) in enumerate(zip(fn.inputs, args)):
        src.arrays[var] = arg
        src.namespace.update({f"_filter{k}": input_filter(var, k), f"_dtype{k}": var.dtype,
                              f"_scalar{k}": var.dtype.type})
        src.emit(_fast_check(arg, var, k))
    for var in leaves(fn.computed):
        if var in src.arrays:
            continue
        name = src.arrays[var] = f"{'s' if isinstance(var, SharedVariable) else 'c'}{len(src.arrays)}"
        if isinstance(var, SharedVariable):
            src.namespace[f"_shared_{name}"] = var
            src.emit(f"{name} = _shared_{name}._value")
        else:
            src.namespace[name] = var.data
    emitted = set(live)
    for k, node in enumerate(fn.nodes):
        if node not in emitted:
            continue
        if runs_on_floats(node):
            _emit_float_node(src, k, node)
            src.done(node)
            continue
        in_names = src.operands(node)
        out_names = [f"v{k}_{i}" for i in range(len(node.outputs))]
        src.arrays.update(zip(node.outputs, out_names))
        target = f"{', '.join(out_names)}{',' if len(out_names) > 1 else ''}"
        expr = node.op.py_expr(node, in_names)
        extra = node.op.py_globals(node)
        assert not extra.keys() & src.namespace.keys(), f"{node.op.label()}: py_globals names taken: {extra.keys()}"
        src.namespace.update(extra)
        if expr is None:
            src.namespace[f"op{k}"] = node.op.perform
            expr = f"op{k}({', '.join(in_names)})"
        src.emit(f"{target} = {expr}")
        src.done(node)
    commits = _emit_update_checks(fn, src, write_backs)
    outs = [f"{src.array(o)}.copy()" if copy else src.array(o) for o, copy in zip(fn.outputs, fn.copy_output)]
    src.emit(f"outputs = {outs[0] if fn.single_output else '[' + ', '.join(outs) + ']'}")
    src.lines.extend(commits)
    src.emit("return outputs")
    body = "".join("    " + line for line in "".join(src.lines).splitlines(keepends=True))
    source = ("def compiled(fn, *args):\n    try:\n" + body
              + "    except Exception as error:  # noqa: BLE001 - re-raised naming the input or node\n"
              + "        fn._failed(args, error)\n")
    exec(compile(source, f"<graphgrad function {fn.name or ''}>", "exec"), src.namespace)  # noqa: S102
    return source, src.namespace["compiled"]


def _emit_float_node(src: _Source, k: int, node: Apply) -> None:
    out = src.floats[node.outputs[0]] = f"f{k}"
    operands = [src.float(v) for v in node.inputs]
    expr = float_expr(node, operands)
    if not may_raise(node):
        src.emit(f"{out} = {expr}")
        return
    src.namespace[f"op{k}"] = node.op.perform
    typed = ", ".join(f"{src.dtype(v.dtype)}.type({name})" for v, name in zip(node.inputs, operands))
    src.emit("try:")
    src.emit(f"{out} = {expr}", 2)
    src.emit("except (ArithmeticError, ValueError):  # numpy's inf or nan and its warning, not Python's error")
    src.emit(f"{out} = op{k}({typed})", 2)


def _emit_update_checks(fn: CompiledGraph, src: _Source, write_backs: dict[int, _WriteBack]) -> list[str]:
    """Emit the lines that check every update value before the commit; return the commit lines."""
    commits = []
    for k, (shared, value) in enumerate(zip(fn.shared_updated, fn.update_values)):
        ref = f"_shared_u{k}"
        src.namespace[ref] = shared
        if k in write_backs:
            w = write_backs[k]
            indices, subtrahend = src.array(w.indices), src.array(w.subtrahend)
            rows = f"{subtrahend}[None]" if w.row is not None else subtrahend
            src.namespace[f"_inc{k}"] = value.owner.op.apply_in_place
            as_sparse = f"_RowSparse({indices}, {rows}, {ref}._value.shape)"
            if not _rows_fit(shared, w):
                src.emit(f"_check_fits({ref}._value, {as_sparse})")
            gathered, operator = src.array(w.gathered), "+" if w.sign > 0 else "-"
            if w.gathered not in fn.overwritable or np.result_type(w.gathered.dtype, w.subtrahend.dtype) != w.gathered.dtype:
                src.emit(f"r{k} = {gathered} {operator} {subtrahend}")
            else:  # nothing reads the gathered rows after this: compute the new ones in their place
                src.emit(f"r{k} = {gathered}\n    r{k} {operator}= {subtrahend}")
            if increasing_indices(w.indices):  # proved when compiling: no index repeats
                commits.append(f"    {ref}._value[{indices}] = r{k}\n")
            else:
                src.emit(f"increasing{k} = not _count_nonzero({indices}[1:] <= {indices}[:-1])  # no index repeats")
                commits.append(f"    if increasing{k}:\n        {ref}._value[{indices}] = r{k}\n"
                               f"    else:  # unsorted or repeated indices: repeated ones must accumulate\n"
                               f"        _inc{k}({ref}._value, {as_sparse})\n")
        elif is_in_place(shared, value):
            sparse = src.array(value.owner.inputs[1])
            src.namespace[f"_inc{k}"] = value.owner.op.apply_in_place
            src.emit(f"_check_fits({ref}._value, {sparse})")
            commits.append(f"    _inc{k}({ref}._value, {sparse})\n")
        else:
            src.namespace[f"_check_update{k}"] = update_checker(shared)
            name, dtype = src.array(value), src.dtype(shared.dtype)
            fast = f"{name}.__class__ is _ndarray and {name}.dtype is {dtype}"
            if None not in shared.type.shape:
                fast += f" and {name}.shape == {tuple(shared.type.shape)!r}"
            src.emit(f"u{k} = {name} if {fast} else _check_update{k}({name})")
            if fn.copy_update[k]:
                src.emit(f"u{k} = u{k}.copy()")
            commits.append(f"    {ref}._value = u{k}\n")
    return commits
