"""Elementwise ops with numpy broadcasting, and the one place broadcast gradients are reduced."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from ..graph import NO_GRADIENT, Apply, Op, Variable
from ..types import InputTypeError, TensorType, broadcast_static
from .basic import as_tensor, as_tensors_like


@lru_cache(maxsize=None)
def _probe_dtype(op: "Elemwise", dtypes: tuple[np.dtype, ...]) -> np.dtype:
    """The dtype numpy gives for this op on these input dtypes, found by running it on ones."""
    with np.errstate(all="ignore"):
        return np.asarray(op.perform(*[np.ones((), d) for d in dtypes])).dtype


def sum_axes_for(x_shape: Sequence[int | None], other_shapes: Sequence[Sequence[int | None]],
                 out: Sequence[int | None]) -> tuple[tuple[int, ...], bool]:
    """Which output axes a gradient must be summed over to fit an operand of ``x_shape``, given the
    shapes of the operands that are other variables.

    Returns (axes, dynamic): ``dynamic`` is True when a dim unknown at build time might be 1 at call
    time while the output is larger, so the reduction can only be decided on the values.
    """
    lead = len(out) - len(x_shape)
    axes = list(range(lead))
    dynamic = False
    for k, d in enumerate(x_shape):
        axis = lead + k
        if d == 1 and out[axis] != 1:
            axes.append(axis)
        elif d is None:
            others = [s[axis - (len(out) - len(s))] for s in other_shapes if len(s) > axis - (len(out) - len(s)) >= 0]
            if any(o is None or o > 1 for o in others):
                dynamic = True
    return tuple(axes), dynamic


class Elemwise(Op):
    """Base of elementwise ops: broadcast shapes, numpy dtypes, and gradient reduction to each operand."""

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


def reduce_to(g: Variable, x: Variable, axes: tuple[int, ...], dynamic: bool) -> Variable:
    """Sum a broadcast gradient ``g`` back to the shape of operand ``x``."""
    if dynamic:
        g = SumTo()(g, x)
    else:
        lead = g.ndim - x.ndim
        kept = tuple(a for a in axes if a >= lead)
        if kept:
            g = g.sum(axis=kept, keepdims=True)
        if lead:
            g = g.sum(axis=tuple(range(lead)))
    if g.dtype != x.dtype and x.dtype.kind == "f":  # the same dtype whether shapes are known or not
        g = cast(g, x.dtype)
    return g


class SumTo(Op):
    """Sum ``g`` down to the runtime shape of ``x`` (leading axes, and axes where ``x`` has size 1)."""

    def make_node(self, g: Variable, x: Variable) -> Apply:
        return Apply(self, [g, x], [TensorType(g.dtype, x.type.shape)])

    def perform(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        shape = np.shape(x)
        if np.shape(g) == shape:
            return g
        lead = np.ndim(g) - len(shape)
        axes = tuple(range(lead)) + tuple(lead + k for k, d in enumerate(shape) if d == 1 and g.shape[lead + k] != 1)
        return np.sum(g, axis=axes, keepdims=True).reshape(shape)

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [BroadcastLike()(g_outputs[0], inputs[0]), NO_GRADIENT]


class BroadcastLike(Op):
    """Broadcast ``g`` to the runtime shape of ``x`` (a read-only view: no copy)."""

    def make_node(self, g: Variable, x: Variable) -> Apply:
        shape = broadcast_static([g.type.shape, x.type.shape], [g.label(), x.label()], "broadcast_like")
        return Apply(self, [g, x], [TensorType(g.dtype, tuple(x.type.shape) if x.ndim >= g.ndim else shape)])

    def perform(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(g, np.shape(x))

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             g_outputs: Sequence[Variable]) -> list:
        return [SumTo()(g_outputs[0], inputs[0]), NO_GRADIENT]


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
        (a, b), (g,) = inputs, g_outputs
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
        (c, a, b), (g,) = inputs, g_outputs
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


def _binary(op: Op):  # noqa: ANN202
    def apply(a: Any, b: Any) -> Variable:
        return op(a, b)
    apply.__doc__ = type(op).__doc__
    return apply


def _is_sparse(value: Any) -> bool:
    return isinstance(value, Variable) and getattr(value.type, "is_sparse", False)


def _sparse_aware(op: Op, name: str):  # noqa: ANN202
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


def neg(x: Any) -> Variable:
    """-x."""
    return Neg()(x)


def exp(x: Any) -> Variable:
    """Elementwise e ** x."""
    return Exp()(x)


def log(x: Any) -> Variable:
    """Elementwise natural logarithm."""
    return Log()(x)


def log1p(x: Any) -> Variable:
    """Elementwise log(1 + x)."""
    return Log1p()(x)


def sqrt(x: Any) -> Variable:
    """Elementwise square root."""
    return Sqrt()(x)


def abs(x: Any) -> Variable:  # noqa: A001 - numpy's name
    """Elementwise absolute value."""
    return Abs()(x)


def sign(x: Any) -> Variable:
    """Elementwise sign."""
    return Sign()(x)


def tanh(x: Any) -> Variable:
    """Elementwise hyperbolic tangent."""
    return Tanh()(x)


def sigmoid(x: Any) -> Variable:
    """Elementwise logistic sigmoid, stable for large |x|."""
    return Sigmoid()(x)


def softplus(x: Any) -> Variable:
    """Elementwise log(1 + exp(x)), stable for large |x|."""
    return Softplus()(x)


def relu(x: Any) -> Variable:
    """Elementwise max(x, 0)."""
    return Relu()(x)


def switch(condition: Any, a: Any, b: Any) -> Variable:
    """Elementwise ``a`` where ``condition`` else ``b`` (numpy's ``where``)."""
    return Switch()(condition, a, b)


where = switch


def cast(x: Any, dtype: Any) -> Variable:
    """``x`` converted to ``dtype`` (returned unchanged when it already has it)."""
    x = as_tensor(x)
    return x if x.dtype == np.dtype(dtype) else Cast(dtype)(x)
