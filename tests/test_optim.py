"""sgd and momentum update builders against hand-written numpy steps."""
from __future__ import annotations

import numpy as np

import graphgrad as gg

RNG = np.random.default_rng(12)


def problem() -> tuple[gg.Variable, gg.Variable, gg.SharedVariable, gg.SharedVariable, gg.Variable]:
    x, y = gg.matrix("x", "float64"), gg.vector("y", "float64")
    W = gg.shared(RNG.standard_normal(3), name="W")
    E = gg.shared(RNG.standard_normal((5, 3)), name="E")
    ix = gg.ivector("ix")
    cost = ((gg.dot(x, W) + gg.take(E, ix).sum() - y) ** 2).mean()
    return [x, y, ix], cost, W, E


def numpy_grads(x: np.ndarray, y: np.ndarray, ix: np.ndarray, W: np.ndarray, E: np.ndarray):  # noqa: ANN201
    r = x @ W + E[ix].sum() - y
    gW = 2 * x.T @ r / len(y)
    gE = np.zeros_like(E)
    np.add.at(gE, ix, np.full(3, 2 * r.mean()))
    return gW, gE


def test_sgd_matches_numpy_step() -> None:
    inputs, cost, W, E = problem()
    f = gg.function(inputs, cost, updates=gg.sgd(cost, [W, E], 0.1))
    args = (RNG.standard_normal((4, 3)), RNG.standard_normal(4), np.array([2, 0, 2], "int32"))
    W0, E0 = W.get_value(), E.get_value()
    E_buffer = E.get_value(borrow=True)
    f(*args)
    gW, gE = numpy_grads(*args, W0, E0)
    np.testing.assert_allclose(W.get_value(), W0 - 0.1 * gW, rtol=1e-12)
    np.testing.assert_allclose(E.get_value(), E0 - 0.1 * gE, rtol=1e-12)
    assert E.get_value(borrow=True) is E_buffer   # the row-sparse gradient was applied in place


def test_momentum_matches_numpy_steps() -> None:
    inputs, cost, W, E = problem()
    f = gg.function(inputs, cost, updates=gg.momentum(cost, [W, E], 0.1, mu=0.5))
    args = (RNG.standard_normal((4, 3)), RNG.standard_normal(4), np.array([1, 1], "int32"))
    w, e = W.get_value(), E.get_value()
    vw, ve = np.zeros_like(w), np.zeros_like(e)
    for _ in range(3):
        gW, gE = numpy_grads(*args, w, e)
        vw, ve = 0.5 * vw - 0.1 * gW, 0.5 * ve - 0.1 * gE
        w, e = w + vw, e + ve
        f(*args)
    np.testing.assert_allclose(W.get_value(), w, rtol=1e-12)
    np.testing.assert_allclose(E.get_value(), e, rtol=1e-12)
