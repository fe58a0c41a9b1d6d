"""Checks of what a compiled function is given: its inputs, updates and givens when it is
compiled, and its arguments and update values when it is called. Every error names the culprit
in the user's words."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .graph import Constant, SharedVariable, Variable, leaves
from .ops.basic import as_tensor
from .sparse import SparseRowsType
from .types import (GraphgradError, IndexRangeError, InputTypeError, ShapeError, TensorType, describe_value,
                    format_shape)


def input_filter(var: Variable, position: int) -> Callable[[Any], np.ndarray]:
    """A checker/converter for one call argument, raising errors that name the input."""
    t: TensorType = var.type
    where = f"input '{var.name}' (position {position})" if var.name else f"input at position {position}"

    def fail(value: Any, cls: type = InputTypeError) -> GraphgradError:
        return cls(f"{where}: expected {t.describe()} of shape {format_shape(t.shape)}, got {describe_value(value)}")

    def filter_value(value: Any) -> np.ndarray:
        if isinstance(value, np.ma.MaskedArray):
            raise InputTypeError(f"{where}: got a masked array, whose mask would be ignored; pass np.ma.filled(...)")
        if isinstance(value, np.ndarray | np.generic):
            array = np.asarray(value)
        elif isinstance(value, bool | int | float | list | tuple):
            try:
                array = np.asarray(value)
            except ValueError:
                raise fail(value) from None
        else:
            raise fail(value)
        if array.dtype != t.dtype:
            kind, want = array.dtype.kind, t.dtype.kind
            if want == "f" and kind in "biuf":
                with np.errstate(over="ignore"):  # numbers into a float input: rounding is the documented contract
                    converted = array.astype(t.dtype)
                if kind == "f" and np.isinf(converted).sum() != np.isinf(array).sum():
                    raise InputTypeError(f"{where}: {describe_value(value)} has values that overflow {t.dtype}")
                array = converted
            elif want in "iu" and kind in "iu":  # a bool mask is not a list of indices
                if array.size and not np.can_cast(array.dtype, t.dtype, "safe"):
                    info = np.iinfo(t.dtype)
                    if array.min() < info.min or array.max() > info.max:
                        raise IndexRangeError(f"{where}: {array.dtype} values from {array.min()} to {array.max()} do not fit "
                                              f"the input's {t.dtype} ([{info.min}, {info.max}])")
                array = array.astype(t.dtype)
            elif want == "b" and kind == "b":
                pass
            else:
                raise fail(value)
        if array.ndim != t.ndim:
            raise fail(value)
        if not t.is_compatible(array.shape):
            raise fail(value, ShapeError)
        return array

    return filter_value


def check_inputs(inputs: Sequence[Variable]) -> list[Variable]:
    if isinstance(inputs, Variable):
        raise InputTypeError("function: inputs must be a list of variables, e.g. [x]")
    inputs = list(inputs)
    for k, var in enumerate(inputs):
        if not isinstance(var, Variable) or var.owner is not None or isinstance(var, Constant | SharedVariable):
            raise InputTypeError(f"function: inputs[{k}] ({var!r}) must be a symbolic input such as gg.matrix('x'); "
                                 "constants and shared variables are not inputs")
        if not isinstance(var.type, TensorType):
            raise InputTypeError(f"function: inputs[{k}] ({var.label()}) is not a dense tensor")
    if len({id(v) for v in inputs}) != len(inputs):
        raise InputTypeError("function: the same input variable is listed twice")
    return inputs


def check_updates(updates: Any) -> tuple[list[SharedVariable], list[Variable]]:
    pairs = list(updates.items()) if isinstance(updates, Mapping) else list(updates or [])
    shared_vars, values = [], []
    for k, pair in enumerate(pairs):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InputTypeError(f"function: updates[{k}] must be a (shared variable, new value) pair")
        shared, value = pair
        if not isinstance(shared, SharedVariable):
            raise InputTypeError(f"function: updates[{k}] updates {shared!r}, which is not a shared variable")
        if any(s is shared for s in shared_vars):
            raise InputTypeError(f"function: shared variable {shared.label()} is updated twice")
        if isinstance(value, Variable) and isinstance(value.type, SparseRowsType):
            raise InputTypeError(f"function: the update of {shared.label()} is a row-sparse gradient; "
                                 f"write it as {shared.label()} - lr * g")
        value = as_tensor(value)
        if value.dtype != shared.dtype:
            raise InputTypeError(f"function: the update of {shared.label()} ({shared.type.describe()}) has dtype "
                                 f"{value.dtype}; cast it with .astype('{shared.dtype}')")
        if value.ndim != shared.ndim or any(a is not None and b is not None and a != b
                                            for a, b in zip(value.type.shape, shared.type.shape)):
            raise ShapeError(f"function: the update of {shared.label()} {format_shape(shared.type.shape)} has "
                             f"shape {format_shape(value.type.shape)}")
        shared_vars.append(shared)
        values.append(value)
    return shared_vars, values


def check_givens(givens: Any) -> dict[Variable, Variable]:
    pairs = list(givens.items()) if isinstance(givens, Mapping) else list(givens or [])
    replace: dict[Variable, Variable] = {}
    for old, new in pairs:
        if not isinstance(old, Variable):
            raise InputTypeError(f"function: givens key {old!r} is not a variable")
        new = as_tensor(new, dtype=old.dtype if not isinstance(new, Variable) else None)
        if new.dtype != old.dtype or new.ndim != old.ndim:
            raise InputTypeError(f"function: givens replaces {old.label()} ({old.type.describe()}) by "
                                 f"{new.label()} ({new.type.describe()})")
        # The graph's static shapes (and the broadcasting decided from them) must stay true.
        if any(a is not None and a != b for a, b in zip(old.type.shape, new.type.shape)):
            raise ShapeError(f"function: givens replaces {old.label()} of shape {format_shape(old.type.shape)} by "
                             f"{new.label()} of shape {format_shape(new.type.shape)}")
        replace[old] = new
    return replace


def check_all_inputs_given(outputs: Sequence[Variable], inputs: Sequence[Variable]) -> None:
    given = set(inputs)
    for var in leaves(outputs):
        if not isinstance(var, Constant | SharedVariable) and var not in given:
            raise InputTypeError(f"function: the graph needs input {var.label()}, which is not in the inputs list")


def update_checker(shared: SharedVariable) -> Callable[[Any], np.ndarray]:
    def check(value: Any) -> np.ndarray:
        array = np.asarray(value)
        if array.dtype != shared.type.dtype or not shared.type.is_compatible(array.shape):
            raise ShapeError(f"update of shared variable {shared.label()}: expected {shared.type.describe()} of "
                             f"shape {format_shape(shared.type.shape)}, computed {describe_value(array)}")
        return array
    return check
