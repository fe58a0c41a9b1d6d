"""Elementwise ops with numpy broadcasting, and the one place broadcast gradients are reduced."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np

from ..graph import NO_GRADIENT, Apply, Op, Variable
from ..types import InputTypeError, TensorType, broadcast_static
from .basic import as_tensor, as_tensors_like
from .broadcast import reduce_to, sum_axes_for


@lru_cache(maxsize=None)
def _probe_dtype(op: "Elemwise", dtypes: tuple[np.dtype, ...]) -> np.dtype:
    """The dtype numpy gives for this op on these input dtypes, found by running it on ones."""
    with np.errstate(all="ignore"):
        return np.asarray(op.perform(*[np.ones((), d) for d in dtypes])).dtype


class Elemwise(Op):
    """Base of elementwise ops: broadcast shapes, numpy dtypes, and gradient reduction to each operand."""

    fresh = True
    nin = 2

    def make_node(self, *inputs: Any) -> Apply:
        if len(inputs) != self.nin:
            raise InputTypeError(f"{self.label()} takes {self.nin} operands, got {len(inputs)}")
        inputs = as_tensors_like(list(inputs))
        for var in inputs:
            if not isinstance(var.type, TensorType):
                raise InputTypeError(
                    f"{self.label()}: operand {var.label()} is {var.type.describe()}, not a dense tensor; "
                    "densify it first with gg.dense()"
                )
        shape = broadcast_static([v.type.shape for v in inputs], lambda: [v.label() for v in inputs], self.label())
        dtype = self.output_dtype(tuple(v.dtype for v in inputs))
        return Apply(self, inputs, [TensorType(dtype, shape)])

    def output_dtype(self, dtypes: tuple[np.dtype, ...]) -> np.dtype:
        """The output dtype for these input dtypes (numpy's, by default)."""
        return _probe_dtype(self, dtypes)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable], g_outputs: Sequence[Variable]) -> list:
        grads = self.elemwise_grad(inputs, outputs, g_outputs)
        out = outputs[0].type.shape
        # Other variables, not other shapes: two operands may share one type object (a cloned
        # graph's), and only the same variable is sure to have the same runtime shape.
        return [g if g is NO_GRADIENT else
                reduce_to(g, x, *sum_axes_for(x.type.shape, [v.type.shape for v in inputs if v is not x], out))
                for g, x in zip(grads, inputs)]

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        """Gradients w.r.t. each input, in the output's (broadcast) shape."""
        raise NotImplementedError


class _Binary(Elemwise):
    symbol = ""
    ufunc: Any = None

    def label(self) -> str:
        return self.ufunc.__name__

    def perform(self, a: Any, b: Any) -> Any:
        return self.ufunc(a, b)

    def py_expr(self, node: Apply, args: Sequence[str]) -> str | None:
        return f"({args[0]} {self.symbol} {args[1]})" if self.symbol else None


class Add(_Binary):
    """a + b."""
    symbol, ufunc = "+", np.add

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0], g_outputs[0]]


class Sub(_Binary):
    """a - b."""
    symbol, ufunc = "-", np.subtract

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0], -g_outputs[0]]


class Mul(_Binary):
    """a * b."""
    symbol, ufunc = "*", np.multiply

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (a, b), (g,) = inputs, g_outputs
        return [g * b, g * a]


class TrueDiv(_Binary):
    """a / b."""
    symbol, ufunc = "/", np.true_divide

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (_, b), (g,) = inputs, g_outputs
        return [g / b, -g * outputs[0] / b]


class Pow(_Binary):
    """a ** b."""
    symbol, ufunc = "**", np.power

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (a, b), (g,) = inputs, g_outputs
        return [g * b * a ** (b - 1), g * outputs[0] * log(a)]


class Maximum(_Binary):
    """Elementwise maximum; ties send the gradient to the first operand."""
    ufunc = np.maximum

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (a, b), (g,) = inputs, g_outputs
        return [g * (a >= b), g * (a < b)]


class Minimum(_Binary):
    """Elementwise minimum; ties send the gradient to the first operand."""
    ufunc = np.minimum

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (a, b), (g,) = inputs, g_outputs
        return [g * (a <= b), g * (a > b)]


class _Comparison(_Binary):
    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [NO_GRADIENT, NO_GRADIENT]


class Less(_Comparison):
    """a < b (boolean, no gradient)."""
    symbol, ufunc = "<", np.less


class LessEqual(_Comparison):
    """a <= b (boolean, no gradient)."""
    symbol, ufunc = "<=", np.less_equal


class Greater(_Comparison):
    """a > b (boolean, no gradient)."""
    symbol, ufunc = ">", np.greater


class GreaterEqual(_Comparison):
    """a >= b (boolean, no gradient)."""
    symbol, ufunc = ">=", np.greater_equal


class Equal(_Comparison):
    """a == b (boolean, no gradient)."""
    symbol, ufunc = "==", np.equal


class NotEqual(_Comparison):
    """a != b (boolean, no gradient)."""
    symbol, ufunc = "!=", np.not_equal


class _Unary(Elemwise):
    nin = 1
    ufunc: Any = None

    def label(self) -> str:
        return type(self).__name__.lower()

    def perform(self, x: Any) -> Any:
        return self.ufunc(x)


class Neg(_Unary):
    """-x."""
    ufunc = np.negative

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        return f"(-{args[0]})"

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [-g_outputs[0]]


class Exp(_Unary):
    """e ** x."""
    ufunc = np.exp

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0] * outputs[0]]


class Log(_Unary):
    """Natural logarithm."""
    ufunc = np.log

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0] / inputs[0]]


class Log1p(_Unary):
    """log(1 + x), accurate for small x."""
    ufunc = np.log1p

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0] / (1 + inputs[0])]


class Sqrt(_Unary):
    """Square root."""
    ufunc = np.sqrt

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0] * 0.5 / outputs[0]]


class Abs(_Unary):
    """|x| (gradient 0 at 0)."""
    ufunc = np.abs

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0] * sign(inputs[0])]


class Sign(_Unary):
    """-1, 0 or 1 (no gradient)."""
    ufunc = np.sign

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [NO_GRADIENT]


class Tanh(_Unary):
    """Hyperbolic tangent."""
    ufunc = np.tanh

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        y = outputs[0]
        return [g_outputs[0] * (1 - y * y)]


def stable_sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)) without overflow trouble, the fastest way for the array's size."""
    if np.size(x) > 256 and np.asarray(x).dtype.kind == "f":
        # exp(-x) may overflow to inf, and 1 / inf = 0 is then the right answer: no warning wanted.
        # In place, in one buffer: 13x faster than logaddexp on a 64 x 5000 float32 array.
        with np.errstate(over="ignore"):
            out = np.negative(x)
            np.exp(out, out=out)
            out += 1
            return np.reciprocal(out, out=out)
    # errstate's fixed cost would dominate on small arrays; logaddexp never overflows.
    return np.exp(-np.logaddexp(0, -x))


class Sigmoid(_Unary):
    """1 / (1 + exp(-x)), without overflow for large |x|."""

    def perform(self, x: Any) -> Any:
        return stable_sigmoid(x)

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        shape = node.outputs[0].type.shape
        if None not in shape and int(np.prod(shape)) <= 256:
            return f"_np.exp(-_np.logaddexp(0, -{args[0]}))"  # stable_sigmoid's small-array branch, inline
        return None

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [SigmoidGrad()(outputs[0], g_outputs[0])]


class SigmoidGrad(Elemwise):
    """g * y * (1 - y) for y = sigmoid(x): one node, so the stable log-loss rewrite can find it."""

    def perform(self, y: Any, g: Any) -> Any:
        return g * y * (1 - y)

    def py_expr(self, node: Apply, args: Sequence[str]) -> str:
        return f"({args[1]} * {args[0]} * (1 - {args[0]}))"

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (y, g), (gg,) = inputs, g_outputs
        return [gg * g * (1 - 2 * y), gg * y * (1 - y)]


def stable_softplus(x: Any) -> Any:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class Softplus(_Unary):
    """log(1 + exp(x)), computed without overflow."""

    def perform(self, x: Any) -> Any:
        return stable_softplus(x)

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0] * sigmoid(inputs[0])]


class Relu(_Unary):
    """max(x, 0) (gradient 0 at 0)."""

    def perform(self, x: Any) -> Any:
        return np.maximum(x, 0)

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        return [g_outputs[0] * (inputs[0] > 0)]


class Switch(Elemwise):
    """where(condition, a, b)."""
    nin = 3

    def perform(self, c: Any, a: Any, b: Any) -> Any:
        return np.where(c, a, b)

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        (c, _, _), (g,) = inputs, g_outputs
        zero = zeros_like_scalar(g)
        return [NO_GRADIENT, switch(c, g, zero), switch(c, zero, g)]


class Cast(_Unary):
    """Convert to ``dtype``; the gradient flows back to float inputs only."""
    __props__ = ("dtype",)

    def __init__(self, dtype: Any):
        self.dtype = np.dtype(dtype)

    def label(self) -> str:
        return f"cast_{self.dtype}"

    def output_dtype(self, dtypes: tuple[np.dtype, ...]) -> np.dtype:
        return self.dtype

    def perform(self, x: Any) -> Any:
        return np.asarray(x).astype(self.dtype)

    def elemwise_grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                      g_outputs: Sequence[Variable]) -> list:
        x = inputs[0]
        if x.dtype.kind != "f" or self.dtype.kind != "f":
            return [NO_GRADIENT]
        return [cast(g_outputs[0], x.dtype)]


def zeros_like_scalar(like: Variable) -> Variable:
    """A 0-d zero constant of ``like``'s dtype."""
    return as_tensor(np.zeros((), like.dtype))


def _binary(op: Op) -> Callable[[Any, Any], Variable]:
    def apply(a: Any, b: Any) -> Variable:
        return op(a, b)
    apply.__doc__ = type(op).__doc__
    return apply


def _is_sparse(value: Any) -> bool:
    return isinstance(value, Variable) and getattr(value.type, "is_sparse", False)


def _sparse_aware(op: Op, name: str) -> Callable[[Any, Any], Variable]:
    # A row-sparse operand decides itself how to combine (sparse.py), whichever side it is on:
    # Python would only ask it first if its class subclassed the other operand's.
    def apply(a: Any, b: Any) -> Variable:
        if _is_sparse(a):
            return getattr(a, f"__{name}__")(b)
        if _is_sparse(b):
            return getattr(b, f"__r{name}__")(a)
        return op(a, b)
    apply.__doc__ = f"{type(op).__doc__} Broadcasts; a row-sparse operand combines as sparse.py says."
    return apply


add, sub, mul = _sparse_aware(Add(), "add"), _sparse_aware(Sub(), "sub"), _sparse_aware(Mul(), "mul")
true_divide, power = _sparse_aware(TrueDiv(), "truediv"), _binary(Pow())
maximum, minimum = _binary(Maximum()), _binary(Minimum())
lt, le, gt, ge = (_binary(o) for o in (Less(), LessEqual(), Greater(), GreaterEqual()))
eq, neq = _binary(Equal()), _binary(NotEqual())


def _unary(op: Op, doc: str) -> Callable[[Any], Variable]:
    def apply(x: Any) -> Variable:
        return op(x)
    apply.__doc__ = doc
    return apply


neg = _unary(Neg(), "-x.")
exp = _unary(Exp(), "Elementwise e ** x.")
log = _unary(Log(), "Elementwise natural logarithm.")
log1p = _unary(Log1p(), "Elementwise log(1 + x), accurate for small x.")
sqrt = _unary(Sqrt(), "Elementwise square root.")
abs = _unary(Abs(), "Elementwise absolute value (gradient 0 at 0).")  # noqa: A001 - numpy's name
sign = _unary(Sign(), "Elementwise sign (no gradient).")
tanh = _unary(Tanh(), "Elementwise hyperbolic tangent.")
sigmoid = _unary(Sigmoid(), "Elementwise logistic sigmoid, stable for large |x|.")
softplus = _unary(Softplus(), "Elementwise log(1 + exp(x)), stable for large |x|.")
relu = _unary(Relu(), "Elementwise max(x, 0).")


def switch(condition: Any, a: Any, b: Any) -> Variable:
    """Elementwise ``a`` where ``condition`` else ``b`` (numpy's ``where``)."""
    return Switch()(condition, a, b)


where = switch


def cast(x: Any, dtype: Any) -> Variable:
    """``x`` converted to ``dtype`` (returned unchanged when it already has it)."""
    x = as_tensor(x)
    return x if x.dtype == np.dtype(dtype) else Cast(dtype)(x)
