"""Plain regression tests for bugs found by the property tests (tests/test_properties.py) and the
fuzz tests; each names what was wrong."""
from __future__ import annotations

import numpy as np

import graphgrad as gg


def test_take_of_a_computed_table_gets_a_dense_gradient_through_its_producer() -> None:
    # The row-sparse gradient of take(x[::-1], i) reached subtensor's rule, which cannot add it
    # into zeros: grad must densify it before any op's rule sees it.
    gg.verify_grad(lambda x: gg.take(abs(x[::-1]), np.array([0, 0, 2], "int32")).sum(), [np.array([0.5, -1.0, 2.0])])
    gg.verify_grad(lambda x: (gg.take(x * 2.0, np.array([1, 1], "int32")) ** 2).sum(), [np.ones((2, 3))])


def test_numpy_float64_scalars_keep_their_dtype() -> None:
    # np.float64 subclasses Python float, so shared() and as_tensor() turned it into floatX.
    assert gg.shared(np.float64(0.5)).dtype == np.float64
    assert gg.as_tensor(np.float64(0.5)).dtype == np.float64
    assert gg.shared(0.5).dtype == np.dtype(gg.config.floatX)
    w = gg.shared(np.float64(0.7), name="w")
    assert gg.function([], gg.grad(abs(w), w))().dtype == np.float64
