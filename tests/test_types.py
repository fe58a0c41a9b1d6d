"""Tensor types, static broadcasting, dtype rules and the error classes."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.types import TensorType, broadcast_static, describe_value, format_shape, upcast


def test_tensor_type_identity_and_description() -> None:
    t = TensorType("int32", (None,))
    assert t == TensorType(np.int32, [None]) and hash(t) == hash(TensorType("int32", (None,)))
    assert t != TensorType("int64", (None,)) and t != TensorType("int32", (3,))
    assert t.describe() == "int32 vector" and t.ndim == 1
    assert TensorType("float32", ()).describe() == "float32 scalar"
    assert TensorType("float64", (1, 2, 3)).describe() == "float64 3-d tensor"


def test_is_compatible() -> None:
    t = TensorType("float32", (None, 5))
    assert t.is_compatible((3, 5)) and t.is_compatible((0, 5))
    assert not t.is_compatible((3, 4)) and not t.is_compatible((5,))


@pytest.mark.parametrize("shapes, expected", [
    (((None, 5), (5,)), (None, 5)),
    (((3, 1), (1, 4)), (3, 4)),
    (((), (3, 4)), (3, 4)),
    (((None, 1), (1, None)), (None, None)),
    (((1, 1), (1,)), (1, 1)),
    (((None,), (1,)), (None,)),
], ids=str)
def test_broadcast_static(shapes: tuple, expected: tuple) -> None:
    assert broadcast_static(shapes, ["a", "b"], "add") == expected


def test_broadcast_static_error_names_operands() -> None:
    with pytest.raises(gg.ShapeError, match=r"mul: shapes cannot be broadcast together: a is \(3, 4\), b is \(5,\)"):
        broadcast_static([(3, 4), (5,)], ["a", "b"], "mul")


def test_descriptions_and_dtypes() -> None:
    assert format_shape((None, 5)) == "(None, 5)" and format_shape((3,)) == "(3,)"
    assert describe_value(np.zeros((2, 3), "float32")) == "float32 array of shape (2, 3)"
    assert describe_value("x").startswith("str")
    assert upcast("float32", "int64") == np.float64 and upcast("float32", "float32") == np.float32


def test_error_hierarchy_fits_python_categories() -> None:
    assert issubclass(gg.ShapeError, ValueError) and issubclass(gg.InputTypeError, TypeError)
    assert issubclass(gg.IndexRangeError, IndexError) and issubclass(gg.GradientError, ValueError)
    assert issubclass(gg.NonFiniteError, FloatingPointError)
    for cls in [gg.ShapeError, gg.InputTypeError, gg.IndexRangeError, gg.GradientError, gg.NonFiniteError]:
        assert issubclass(cls, gg.GraphgradError)


def test_floatx_default_is_float32_and_settable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gg.matrix("x").dtype == np.float32 and gg.as_tensor(0.5).dtype == np.float32
    monkeypatch.setattr(gg.config, "floatX", "float64")
    assert gg.matrix("x").dtype == np.float64 and gg.as_tensor(0.5).dtype == np.float64
    assert gg.ivector("i").dtype == np.int32 and gg.lvector("l").dtype == np.int64
