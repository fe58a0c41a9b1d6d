"""Looking at graphs: ``debugprint`` text, Graphviz DOT, and networkx graphs of Apply nodes."""
from __future__ import annotations

from typing import Any

import networkx as nx

from .graph import Apply, Constant, SharedVariable, Variable, toposort
from .types import format_shape


def _outputs_of(obj: Any) -> list[Variable]:
    """The output variables of a variable, a list of them, or a compiled function (with its updates)."""
    if isinstance(obj, Variable):
        return [obj]
    if _is_function(obj):
        return list(obj.outputs) + list(obj.update_values)
    return list(obj)


def _is_function(obj: Any) -> bool:
    # Duck-typed: compile.py imports this module, so Function cannot be imported here.
    return hasattr(obj, "update_values") and hasattr(obj, "outputs")


def _leaf_label(var: Variable) -> str:
    kind = "shared" if isinstance(var, SharedVariable) else "constant" if isinstance(var, Constant) else "input"
    name = var.label()
    if isinstance(var, Constant) and var.name is None and var.data.size == 1:
        name = f"{var.data.item():.6g}"  # a learning rate or a 1 says more than "<float32 scalar>"
    return f"{name} [{kind} {var.type.describe()}]"


def to_networkx(outputs: Any) -> nx.DiGraph:
    """A DiGraph whose nodes are the Apply nodes computing ``outputs`` (a variable, a list, or a
    compiled function), with an edge for each variable passed from one node to another.

    Node attributes: ``op`` (the op's name), ``label`` (the output's label), ``shape`` and ``dtype``
    of the first output. Edge attribute ``variable``: the label of the variable carried.
    """
    graph = nx.DiGraph()
    for node in toposort(_outputs_of(outputs)):
        out = node.outputs[0]
        graph.add_node(id(node), op=node.op.label(), label=node.label(), shape=out.type.shape, dtype=str(out.dtype))
        for var in node.inputs:
            if var.owner is not None:
                graph.add_edge(id(var.owner), id(node), variable=var.label())
    return graph


def debugprint(obj: Any, file: Any = None) -> str:
    """Text of the graph of ``obj`` (a variable, a list, or a compiled function), one node per line,
    inputs indented below their consumer; repeated sub-graphs are printed once and referenced."""
    lines: list[str] = []
    printed: dict[int, str] = {}
    for root in _outputs_of(obj):
        stack: list[tuple[Variable, int]] = [(root, 0)]
        while stack:
            var, depth = stack.pop()
            pad = "  " * depth
            if var.owner is None:
                lines.append(f"{pad}{_leaf_label(var)}")
                continue
            node: Apply = var.owner
            if id(node) in printed:
                lines.append(f"{pad}{printed[id(node)]} (see above)")
                continue
            tag = f"#{len(printed)}"
            printed[id(node)] = tag
            lines.append(f"{pad}{tag} {node.op!r} -> {var.type.describe()} {var.type.shape} {var.name or ''}".rstrip())
            stack.extend((v, depth + 1) for v in reversed(node.inputs))
    text = "\n".join(lines)
    if file is not None:
        print(text, file=file)
    return text


def to_dot(obj: Any) -> str:
    """Graphviz DOT text for the graph of ``obj``: boxes for ops (name and static shape), ellipses
    for leaves (name, kind, type); a compiled function's outputs and updates are drawn as sinks.
    Render with ``dot -Tpng graph.dot -o graph.png`` when Graphviz is installed."""
    lines = ["digraph graphgrad {", "  rankdir=BT;", '  node [fontname="Helvetica"];']
    # Names by position, not id(): the same graph gives the same text, so rendered files diff cleanly.
    node_ids: dict[int, str] = {}
    leaf_ids: dict[int, str] = {}

    def source(var: Variable) -> str:
        if var.owner is not None:
            return node_ids[id(var.owner)]
        if id(var) not in leaf_ids:
            leaf_ids[id(var)] = f"l{len(leaf_ids)}"
            label = _escape(_leaf_label(var)) + (f"\\n{format_shape(var.type.shape)}" if var.type.ndim else "")
            lines.append(f'  {leaf_ids[id(var)]} [shape=ellipse, label="{label}"];')
        return leaf_ids[id(var)]

    for node in toposort(_outputs_of(obj)):
        name = node_ids[id(node)] = f"n{len(node_ids)}"
        out_type = node.outputs[0].type
        shape = ("row-sparse " if getattr(out_type, "is_sparse", False) else "") + format_shape(out_type.shape)
        lines.append(f'  {name} [shape=box, label="{_escape(node.op.label())}\\n{shape}"];')
        for var in node.inputs:
            lines.append(f"  {source(var)} -> {name};")
    if _is_function(obj):
        sinks = [(f"output {k}" + (f": {var.name}" if var.name else ""), var) for k, var in enumerate(obj.outputs)]
        sinks += [(f"update {shared.label()}", var) for shared, var in zip(obj.shared_updated, obj.update_values)]
        for k, (label, var) in enumerate(sinks):
            lines.append(f'  s{k} [shape=plaintext, label="{_escape(label)}"];')
            lines.append(f"  {source(var)} -> s{k};")
    lines.append("}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def count_nodes(outputs: Any) -> int:
    """How many Apply nodes compute ``outputs`` (a variable, a list, or a compiled function)."""
    return len(toposort(_outputs_of(outputs)))

