"""Size-one float elementwise nodes, computed on Python floats by the generated code.

On an array of one element a numpy call costs about a microsecond of overhead around nanoseconds
of arithmetic: the output of a per-example network (``sigmoid(h . w)``, ``p - t``, ``lr * (p - t)``)
spends more time entering numpy than computing. A node whose output has a fully known shape of
ones and a float16/32/64 dtype, and whose op has a rule below, is therefore computed on Python
floats and its result rounded to its dtype, as numpy rounds it: arithmetic (``+ - * /``, ``sqrt``)
gives numpy's results to the bit, overflow gives ``inf``, and functions such as ``exp`` or the
sigmoid can differ from numpy's own float32 routines in the last bit. The value becomes an array
only where an array consumer, an output or an update needs it. Where Python raises and numpy
would not (``math.log(0)``, ``1 / 0.0``, ``math.exp`` of a large number) the node falls back to
numpy on scalars of its dtype, so the answer (``inf``, ``nan``) and the warning are numpy's.
"""
from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from .graph import Apply, Variable
from .ops.elemwise import (Abs, Add, Exp, Log, Log1p, Maximum, Minimum, Mul, Neg, Sigmoid, SigmoidGrad,
                           Softplus, Sqrt, Sub, Tanh, TrueDiv)

#: Python expressions of the ops computed on floats; ``{0}``, ``{1}`` are the operands' names.
RULES: dict[type, str] = {
    Add: "{0} + {1}",
    Sub: "{0} - {1}",
    Mul: "{0} * {1}",
    TrueDiv: "{0} / {1}",
    Neg: "-{0}",
    Abs: "abs({0})",
    Exp: "_exp({0})",
    Log: "_log({0})",
    Log1p: "_log1p({0})",
    Sqrt: "_sqrt({0})",
    Tanh: "_tanh({0})",
    # exp of a non-positive number only: neither branch can overflow
    Sigmoid: "(1.0 / (1.0 + _exp(-{0})) if {0} >= 0.0 else _exp({0}) / (1.0 + _exp({0})))",
    SigmoidGrad: "{1} * {0} * (1.0 - {0})",
    Softplus: "(({0} if {0} > 0.0 else 0.0) + _log1p(_exp(-abs({0}))))",
}

#: Rules that can raise where numpy returns inf or nan with a warning.
MAY_RAISE = (TrueDiv, Exp, Log, Log1p, Sqrt)

#: Binary ops that give the same result from a Python float as from a size-one array of the same
#: value, when the other operand's dtype is the output's (numpy converts a Python float to it).
FLOAT_OPERAND_OPS = (Add, Sub, Mul, TrueDiv, Maximum, Minimum)

#: Rounding of a double to each dtype, through ``struct`` (a third of the cost of ``np.float32(x)``);
#: a float16 too large for its format raises OverflowError, where numpy gives inf with a warning.
ROUNDING = {np.dtype("float64"): "{}", np.dtype("float32"): "_unpack_f32(_pack_f32({}))[0]",
            np.dtype("float16"): "_unpack_f16(_pack_f16({}))[0]"}

#: Names the expressions above use.
SCALAR_GLOBALS = {"_empty": np.empty, "_exp": math.exp, "_log": math.log, "_log1p": math.log1p, "_sqrt": math.sqrt,
                  "_tanh": math.tanh, "_pack_f32": struct.Struct("f").pack, "_unpack_f32": struct.Struct("f").unpack,
                  "_pack_f16": struct.Struct("e").pack, "_unpack_f16": struct.Struct("e").unpack}


def runs_on_floats(node: Apply) -> bool:
    """Whether the generated code computes ``node`` on Python floats."""
    return type(node.op) in RULES and all(v.type.one_element and v.dtype in ROUNDING
                                          for v in (*node.inputs, *node.outputs))


def float_expr(node: Apply, args: list[str]) -> str:
    """The Python-float expression of ``node`` on operands named ``args``, rounded to its dtype."""
    return ROUNDING[node.outputs[0].dtype].format(RULES[type(node.op)].format(*args))


def may_raise(node: Apply) -> bool:
    """Whether ``node``'s float expression can raise where numpy would return inf or nan."""
    return isinstance(node.op, MAY_RAISE) or node.outputs[0].dtype == np.float16


def to_float(array: str, var: Variable) -> str:
    """An expression turning the value ``array`` of the size-one ``var`` into a Python float."""
    return f"float({array})" if var.ndim == 0 else f"{array}.item()"


def as_float(value: Any) -> float:
    """A one-element value (array, numpy or Python number) as a Python float."""
    return float(np.asarray(value).reshape(-1)[0])


def to_array(name: str, var: Variable, dtype_name: str) -> list[str]:
    """Statements making ``{name}_array``, the value of ``var`` (dtype named ``dtype_name``) as numpy
    gives it, from the Python float ``name``: a scalar of the dtype for a 0-d ``var``, else an empty
    array and an item assignment (a third of ``np.array``'s time)."""
    if var.ndim == 0:
        return [f"{name}_array = {dtype_name}.type({name})"]
    index = ", ".join(["0"] * var.ndim)
    return [f"{name}_array = _empty({tuple(var.type.shape)!r}, {dtype_name})", f"{name}_array[{index}] = {name}"]


def accepts_float(node: Apply, var: Variable) -> bool:
    """Whether ``node`` computes the same value, dtype and shape when the size-one ``var`` is
    passed as a Python float: a binary op whose other operand has at least ``var``'s rank (so
    ``var``'s dims of 1 add nothing to the shape) and the output's dtype (which numpy then
    converts the float to)."""
    others = [v for v in node.inputs if v is not var]
    return (isinstance(node.op, FLOAT_OPERAND_OPS) and len(others) == 1 and others[0].ndim >= var.ndim
            and others[0].dtype.kind == "f" and node.outputs[0].dtype == others[0].dtype)
