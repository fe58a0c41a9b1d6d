"""Looking at graphs: ``debugprint`` text, Graphviz DOT, and networkx graphs of Apply nodes."""
from __future__ import annotations

from typing import Any

import networkx as nx

from .graph import Apply, Constant, SharedVariable, Variable, toposort


def _outputs_of(obj: Any) -> list[Variable]:
    """The output variables of a variable, a list of them, or a compiled function (with its updates)."""
    if isinstance(obj, Variable):
        return [obj]
    if hasattr(obj, "update_values") and hasattr(obj, "outputs"):
        return list(obj.outputs) + list(obj.update_values)
    return list(obj)


def _leaf_label(var: Variable) -> str:
    kind = "shared" if isinstance(var, SharedVariable) else "constant" if isinstance(var, Constant) else "input"
    return f"{var.label()} [{kind} {var.type.describe()}]"


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
    """Graphviz DOT text for the graph of ``obj``: boxes for ops, ellipses for leaves.
    Render with ``dot -Tpng graph.dot -o graph.png`` when Graphviz is installed."""
    lines = ["digraph graphgrad {", "  rankdir=BT;", '  node [fontname="Helvetica"];']
    leaf_ids: dict[int, str] = {}
    for node in toposort(_outputs_of(obj)):
        name = f"n{id(node)}"
        lines.append(f'  {name} [shape=box, label="{_escape(node.op.label())}\\n{_escape(str(node.outputs[0].type.shape))}"];')
        for var in node.inputs:
            if var.owner is None:
                if id(var) not in leaf_ids:
                    leaf_ids[id(var)] = f"l{id(var)}"
                    lines.append(f'  {leaf_ids[id(var)]} [shape=ellipse, label="{_escape(_leaf_label(var))}"];')
                lines.append(f"  {leaf_ids[id(var)]} -> {name};")
            else:
                lines.append(f"  n{id(var.owner)} -> {name};")
    lines.append("}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def count_nodes(outputs: Any) -> int:
    """How many Apply nodes compute ``outputs`` (a variable, a list, or a compiled function)."""
    return len(toposort(_outputs_of(outputs)))

