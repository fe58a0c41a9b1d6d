"""Leaves of a graph: symbolic inputs, constants and shared variables, and conversion to variables."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import config
from ..graph import Constant, SharedVariable, Variable
from ..types import InputTypeError, TensorType, describe_value

PYTHON_SCALARS = (bool, int, float)


def as_tensor(value: Any, name: str | None = None, dtype: Any = None) -> Variable:
    """Return ``value`` as a variable: variables pass through, numbers and arrays become constants.

    A bare Python float becomes a ``floatX`` constant, as Theano users expect; numpy arrays and
    numpy scalars keep their dtype.
    """
    if isinstance(value, Variable):
        # A dense consumer of a row-sparse gradient gets a visible densify node.
        return value.dense() if getattr(value.type, "is_sparse", False) else value
    if dtype is None and isinstance(value, float) and not isinstance(value, np.float64):  # np.float64 is a float
        dtype = config.floatX
    try:
        data = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as error:  # OverflowError: int8_var + 1000
        raise InputTypeError(f"cannot turn {describe_value(value)} into a {dtype or ''} graphgrad constant: "
                             f"{error}") from None
    if data.dtype.kind not in "biuf":
        raise InputTypeError(f"cannot turn {describe_value(value)} into a graphgrad constant: dtype {data.dtype}")
    return Constant(TensorType(data.dtype, data.shape), data, name)


def as_tensors_like(values: Sequence[Any]) -> list[Variable]:
    """Convert operands of one elementwise operation, giving Python numbers the dtype numpy would.

    numpy 2 treats Python scalars as "weak": ``float32_array * 0.1`` stays float32. Constants made
    here get the dtype of the whole expression so the compiled code keeps exactly that dtype.
    """
    variables = [v for v in values if isinstance(v, Variable)]
    if len(variables) == len(values):
        return [as_tensor(v) for v in values]
    strong = [as_tensor(v) if not isinstance(v, PYTHON_SCALARS) else None for v in values]
    dtypes = [v.dtype for v in strong if v is not None]
    if not dtypes:
        return [as_tensor(v) for v in values]
    weak = [v for v in values if isinstance(v, PYTHON_SCALARS)]
    result = np.result_type(*dtypes, *weak)
    return [s if s is not None else as_tensor(v, dtype=result) for s, v in zip(strong, values)]


def tensor(name: str | None = None, dtype: Any = None, shape: Sequence[int | None] = (None,)) -> Variable:
    """A symbolic input of the given dtype (default ``floatX``) and static shape (``None`` = unknown)."""
    return Variable(TensorType(dtype or config.floatX, shape), name=name)


def scalar(name: str | None = None, dtype: Any = None) -> Variable:
    """A 0-d symbolic input (default ``floatX``)."""
    return tensor(name, dtype, ())


def vector(name: str | None = None, dtype: Any = None) -> Variable:
    """A 1-d symbolic input (default ``floatX``)."""
    return tensor(name, dtype, (None,))


def matrix(name: str | None = None, dtype: Any = None) -> Variable:
    """A 2-d symbolic input (default ``floatX``)."""
    return tensor(name, dtype, (None, None))


def iscalar(name: str | None = None) -> Variable:
    """An int32 scalar input."""
    return tensor(name, "int32", ())


def lscalar(name: str | None = None) -> Variable:
    """An int64 scalar input."""
    return tensor(name, "int64", ())


def ivector(name: str | None = None) -> Variable:
    """An int32 vector input, e.g. word ids."""
    return tensor(name, "int32", (None,))


def lvector(name: str | None = None) -> Variable:
    """An int64 vector input, e.g. class labels."""
    return tensor(name, "int64", (None,))


def imatrix(name: str | None = None) -> Variable:
    """An int32 matrix input."""
    return tensor(name, "int32", (None, None))


def shared(value: Any, name: str | None = None, shape: Sequence[int | None] | None = None,
           borrow: bool = False) -> SharedVariable:
    """A parameter holding ``value`` between calls. Its static shape is the value's unless ``shape``
    declares some dims unknown (so that ``set_value`` may change them)."""
    if isinstance(value, float) and not isinstance(value, np.float64):  # np.float64 subclasses float
        value = np.asarray(value, dtype=config.floatX)
    array = np.array(value, copy=not borrow) if not isinstance(value, np.ndarray) or not borrow else value
    if array.dtype.kind not in "biuf":
        raise InputTypeError(f"shared variable {name or ''}: cannot hold {describe_value(value)}")
    static = tuple(array.shape) if shape is None else tuple(shape)
    type_ = TensorType(array.dtype, static)
    if not type_.is_compatible(array.shape):
        raise InputTypeError(f"shared variable {name or ''}: value of shape {array.shape} does not fit shape {static}")
    return SharedVariable(type_, array, name)
