"""debugprint, to_dot, to_networkx and count_nodes."""
from __future__ import annotations

import io

import networkx as nx
import numpy as np

import graphgrad as gg


def small_net() -> tuple[list[gg.Variable], gg.Variable, gg.SharedVariable]:
    x = gg.matrix("x", "float64")
    W = gg.shared(np.ones((3, 2)), name="W")
    h = gg.tanh(gg.dot(x, W))
    h.name = "hidden"
    return [x], (h * h).sum(), W


def test_to_networkx_nodes_and_edges_follow_data_flow() -> None:
    inputs, cost, W = small_net()
    graph = gg.to_networkx(cost)
    order = gg.toposort([cost])
    assert graph.number_of_nodes() == len(order) == gg.count_nodes(cost)
    assert nx.is_directed_acyclic_graph(graph)
    ops = [graph.nodes[n]["op"] for n in nx.topological_sort(graph)]
    assert ops[0] == "dot" and ops[-1] == "sum"
    for node in order:
        for var in node.inputs:
            if var.owner is not None:
                assert graph.has_edge(id(var.owner), id(node))
    assert graph.number_of_edges() == sum(1 for n in order for v in set(n.inputs) if v.owner is not None)
    assert graph.nodes[id(cost.owner)]["shape"] == ()


def test_function_graph_matches_its_schedule() -> None:
    inputs, cost, W = small_net()
    g = gg.grad(cost, W)
    f = gg.function(inputs, [cost, g])
    graph = f.to_networkx()
    assert graph.number_of_nodes() == len(f.nodes) == gg.count_nodes(f)
    assert set(graph.nodes) == {id(n) for n in f.nodes}
    position = {id(n): k for k, n in enumerate(f.nodes)}
    assert all(position[a] < position[b] for a, b in graph.edges)


def test_debugprint_and_dot_contain_the_names() -> None:
    inputs, cost, W = small_net()
    text = gg.debugprint(cost)
    for word in ["hidden", "W [shared", "x [input", "Dot()", "Tanh()"]:
        assert word in text
    assert "(see above)" in text     # hidden is used twice, printed once
    stream = io.StringIO()
    gg.debugprint(gg.function(inputs, cost), file=stream)
    assert "hidden" in stream.getvalue()
    dot = gg.to_dot(cost)
    assert dot.startswith("digraph graphgrad {") and dot.rstrip().endswith("}")
    for word in ["dot", "tanh", "W [shared", "x [input"]:
        assert word in dot
    assert dot.count("->") == sum(len(n.inputs) for n in gg.toposort([cost]))


def test_function_graph_shows_an_in_place_update_beside_its_schedule() -> None:
    W, ix = gg.shared(np.ones((5, 2)), name="W"), gg.ivector("ix")
    cost = gg.take(W, ix).sum()
    f = gg.function([ix], cost, updates=[(W, W - 0.1 * gg.grad(cost, W))])
    graph = f.to_networkx()
    extra = set(graph.nodes) - {id(n) for n in f.nodes}
    # The schedule computes the row-sparse step; the in-place commit is drawn as its own node.
    assert [graph.nodes[n]["op"] for n in extra] == ["dec_rows"]
    assert graph.number_of_nodes() == len(f.nodes) + 1 == gg.count_nodes(f)
