"""verify_grad itself must be able to fail: a wrong gradient rule is caught and located."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.ops.elemwise import Exp


class WrongExp(Exp):
    """exp with the gradient of a different function, on purpose."""

    def elemwise_grad(self, inputs, outputs, g_outputs):  # noqa: ANN001, ANN201
        return [g_outputs[0] * outputs[0] * 1.001]


def test_wrong_gradient_is_reported_with_input_and_element() -> None:
    values = [np.array([0.1, 0.2, 0.3]), np.array([[1.0, 2.0]])]
    with pytest.raises(gg.GradientMismatch, match=r"input 0 \(x0\) element \(\d,\): symbolic .* numeric"):
        gg.verify_grad(lambda a, b: WrongExp()(a).sum() * b.sum(), values)
    gg.verify_grad(lambda a, b: gg.exp(a).sum() * b.sum(), values)   # the correct rule passes


def test_integer_inputs_are_passed_through_and_outputs_projected() -> None:
    gg.verify_grad(lambda table, ix: gg.take(table, ix) * 2.0, [np.ones((3, 2)), np.array([2, 2, 0])])


def test_verify_grad_reports_a_nan_gradient() -> None:
    # Regression: NaN compared as "no mismatch". sqrt's gradient at a negative x is NaN even where
    # switch discards the value.
    f = lambda x: gg.switch(x > 0, gg.sqrt(x), 0.0 * x).sum()  # noqa: E731
    with pytest.raises(gg.GradientMismatch, match="nan"):
        gg.verify_grad(f, [np.array([-1.0, 2.0])])
