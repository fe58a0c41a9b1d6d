"""The op library: one module per family. Importing it binds the operator and method API
(``x + y``, ``x.sum()``, ``x[ix]``) onto graph variables."""
from __future__ import annotations

from types import SimpleNamespace

from ..graph import Variable
from .basic import as_tensor, imatrix, iscalar, ivector, lscalar, lvector, matrix, scalar, shared, tensor, vector
from .elemwise import (abs, add, cast, eq, exp, ge, gt, le, log, log1p, lt, maximum, minimum, mul, neg, neq,
                       power, relu, sigmoid, sign, softplus, sqrt, sub, switch, tanh, true_divide, where)
from .indexing import bag, getitem, segment_sum, take
from .linalg import dot
from .nnet import binary_crossentropy, categorical_crossentropy, log_softmax, softmax
from .reductions import argmax, max, mean, sum
from .shapes import arange, expand_dims, ones_like, reshape, shape, transpose, zeros_like

Variable._api = SimpleNamespace(
    add=add, sub=sub, mul=mul, true_divide=true_divide, power=power, neg=neg, abs=abs,
    lt=lt, le=le, gt=gt, ge=ge, dot=dot, getitem=getitem, transpose=transpose, reshape=reshape,
    sum=sum, mean=mean, max=max, argmax=argmax, cast=cast, shape=shape,
)

__all__ = [
    "abs", "add", "arange", "argmax", "as_tensor", "bag", "binary_crossentropy", "cast", "categorical_crossentropy",
    "dot", "eq", "exp", "expand_dims", "ge", "getitem", "gt", "imatrix", "iscalar", "ivector", "le", "log",
    "log1p", "log_softmax", "lscalar", "lt", "lvector", "matrix", "max", "maximum", "mean", "minimum", "mul",
    "neg", "neq", "ones_like", "power", "relu", "reshape", "scalar", "segment_sum", "shape", "shared", "sigmoid", "sign",
    "softmax", "softplus", "sqrt", "sub", "sum", "switch", "take", "tanh", "tensor", "transpose",
    "true_divide", "vector", "where", "zeros_like",
]
