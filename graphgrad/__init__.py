"""graphgrad: Theano-style symbolic differentiation on numpy.

Build expressions over symbolic inputs and shared parameters, take every gradient in one
memoized reverse sweep with ``grad``, and compile with ``function``.
"""
from __future__ import annotations

from . import config
from .compile import MODES, Function, Mode, function
from .debug import DebugMode, DebugModeError, NanGuardMode, ProfileMode
from .grad import grad
from .graph import NO_GRADIENT, Apply, Constant, Op, SharedVariable, Variable, clone_graph, toposort
from .io import load, load_arrays, save, save_arrays
from .ops import *  # noqa: F403 - the op library is the public vocabulary
from .ops import __all__ as _ops_all
from .optim import momentum, sgd
from .printing import count_nodes, debugprint, to_dot, to_networkx
from .sparse import RowSparse, SparseVariable, dense
from .testing import GradientMismatch, verify_grad
from .types import (GradientError, GraphgradError, IndexRangeError, InputTypeError, NonFiniteError, ShapeError,
                    TensorType)

__version__ = "0.1.0"

__all__ = [
    "DebugMode", "DebugModeError", "NanGuardMode", "ProfileMode",
    "config", "MODES", "Function", "Mode", "function", "grad", "NO_GRADIENT", "Apply", "Constant", "Op",
    "SharedVariable", "Variable", "clone_graph", "toposort", "load", "load_arrays", "save", "save_arrays",
    "momentum", "sgd", "count_nodes", "debugprint", "to_dot", "to_networkx", "RowSparse", "SparseVariable",
    "dense", "GradientMismatch", "verify_grad", "GradientError", "GraphgradError", "IndexRangeError",
    "InputTypeError", "NonFiniteError", "ShapeError", "TensorType", *_ops_all,
]
