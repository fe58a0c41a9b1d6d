"""Fixtures shared by several test modules."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


@pytest.fixture
def numeric_grad() -> Callable[[Callable[[], float], np.ndarray], np.ndarray]:
    """Central differences of a loss of plain numpy arrays (for the hand-written references,
    which are not graphgrad graphs and so cannot use ``gg.verify_grad``)."""
    return central_differences


def central_differences(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of f() with respect to each element of `array`, perturbed in place."""
    grad = np.zeros_like(array)
    values, grad_values = array.reshape(-1), grad.reshape(-1)
    for i in range(values.size):
        old = values[i]
        values[i] = old + eps
        up = f()
        values[i] = old - eps
        down = f()
        values[i] = old
        grad_values[i] = (up - down) / (2 * eps)
    return grad
