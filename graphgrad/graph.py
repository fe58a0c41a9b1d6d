"""Graph objects: variables, constants, shared variables, applications of ops; toposort and clone.

Every walk over a graph here is a loop with an explicit stack: graphs 10,000 nodes deep must not
hit Python's recursion limit.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterable, Sequence

import numpy as np

from .types import GradientError, InputTypeError, ShapeError, TensorType, describe_value, format_shape


class _NoGradient:
    """Sentinel an op's ``grad`` returns for an input that receives no gradient (an index, a flag)."""

    _instance: ClassVar["_NoGradient | None"] = None

    def __new__(cls) -> "_NoGradient":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_GRADIENT"


#: What an op's ``grad`` returns for an input that receives no gradient (an index, a flag).
NO_GRADIENT = _NoGradient()


class Variable:
    """A symbolic value: an input, a constant, a shared parameter, or the output of an Apply."""

    # The arithmetic and method API (x + y, x.sum(), x[ix]) lives in graphgrad.ops, which imports
    # this module; ops/__init__.py binds itself here once so graph.py needs no upward import.
    _api: ClassVar[Any] = None

    def __init__(self, type: Any, owner: "Apply | None" = None, index: int = 0, name: str | None = None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name

    # --- static facts -------------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        """The static dtype."""
        return self.type.dtype

    @property
    def ndim(self) -> int:
        """The static number of dimensions."""
        return self.type.ndim

    @property
    def static_shape(self) -> tuple[int | None, ...]:
        """The static shape, ``None`` for dims known only at call time."""
        return self.type.shape

    @property
    def shape(self) -> "Variable":
        """The symbolic shape: an int64 vector expression (``x.shape[0]`` is a scalar expression)."""
        return self._api.shape(self)

    def label(self) -> str:
        """The user's name, or an ``op(inputs)`` description for error messages."""
        if self.name:
            return self.name
        if self.owner is None:
            return f"<{self.type.describe()}>"
        args = ", ".join(_short_label(v) for v in self.owner.inputs)
        suffix = f"[{self.index}]" if len(self.owner.outputs) > 1 else ""
        return f"{self.owner.op.label()}({args}){suffix}"

    def __repr__(self) -> str:
        return self.label()

    def clone(self) -> "Variable":
        """A new leaf variable of the same class, type and name."""
        return type(self)(self.type, name=self.name)

    # --- Python protocol that must not silently misbehave -----------------------------------------
    def __bool__(self) -> bool:
        raise InputTypeError(
            f"the truth value of symbolic variable {self.label()} is unknown until the graph runs; "
            "use gg.switch / gg.where for symbolic conditions"
        )

    def __iter__(self):  # noqa: ANN204 - __getitem__ would otherwise make variables iterable forever
        raise InputTypeError(f"symbolic variable {self.label()} cannot be iterated; index it explicitly")

    def __len__(self) -> int:
        raise InputTypeError(f"len() of symbolic variable {self.label()}: use {self.label()}.shape[0]")

    # --- arithmetic; identity-based == and hash are kept so variables can key dictionaries ---
    __hash__ = object.__hash__

    def __add__(self, other: Any) -> "Variable":
        return self._api.add(self, other)

    def __radd__(self, other: Any) -> "Variable":
        return self._api.add(other, self)

    def __sub__(self, other: Any) -> "Variable":
        return self._api.sub(self, other)

    def __rsub__(self, other: Any) -> "Variable":
        return self._api.sub(other, self)

    def __mul__(self, other: Any) -> "Variable":
        return self._api.mul(self, other)

    def __rmul__(self, other: Any) -> "Variable":
        return self._api.mul(other, self)

    def __truediv__(self, other: Any) -> "Variable":
        return self._api.true_divide(self, other)

    def __rtruediv__(self, other: Any) -> "Variable":
        return self._api.true_divide(other, self)

    def __pow__(self, other: Any) -> "Variable":
        return self._api.power(self, other)

    def __rpow__(self, other: Any) -> "Variable":
        return self._api.power(other, self)

    def __neg__(self) -> "Variable":
        return self._api.neg(self)

    def __abs__(self) -> "Variable":
        return self._api.abs(self)

    def __lt__(self, other: Any) -> "Variable":
        return self._api.lt(self, other)

    def __le__(self, other: Any) -> "Variable":
        return self._api.le(self, other)

    def __gt__(self, other: Any) -> "Variable":
        return self._api.gt(self, other)

    def __ge__(self, other: Any) -> "Variable":
        return self._api.ge(self, other)

    def __matmul__(self, other: Any) -> "Variable":
        return self._api.dot(self, other)

    def __rmatmul__(self, other: Any) -> "Variable":
        return self._api.dot(other, self)

    def __getitem__(self, key: Any) -> "Variable":
        return self._api.getitem(self, key)

    # --- numpy-style methods ---------------------------------------------------------------------
    @property
    def T(self) -> "Variable":
        """The transpose (axes reversed)."""
        return self._api.transpose(self)

    def transpose(self, *axes: int) -> "Variable":
        """Permute the axes (reversed when none are given)."""
        return self._api.transpose(self, axes[0] if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes or None)

    def reshape(self, *shape: Any) -> "Variable":
        """Reshape to a tuple of ints (one may be -1)."""
        return self._api.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> "Variable":
        """Sum over ``axis`` (all axes when None)."""
        return self._api.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> "Variable":
        """Mean over ``axis`` (all axes when None)."""
        return self._api.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> "Variable":
        """Maximum over ``axis`` (all axes when None)."""
        return self._api.max(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> "Variable":
        """Index of the maximum along ``axis`` (no gradient)."""
        return self._api.argmax(self, axis=axis, keepdims=keepdims)

    def dot(self, other: Any) -> "Variable":
        """Matrix/vector product with numpy's rules."""
        return self._api.dot(self, other)

    def astype(self, dtype: Any) -> "Variable":
        """Cast to ``dtype``."""
        return self._api.cast(self, dtype)


def _short_label(var: Variable) -> str:
    """A one-level label: a name, a small constant's value, or the producing op's name."""
    if var.name:
        return var.name
    if isinstance(var, Constant) and var.data.size == 1:
        return repr(var.data.item())
    if var.owner is not None:
        return f"{var.owner.op.label()}(...)"
    return f"<{var.type.describe()}>"


class Constant(Variable):
    """A variable with a fixed value known when the graph is built."""

    def __init__(self, type: Any, data: np.ndarray, name: str | None = None):
        super().__init__(type, None, 0, name)
        data = np.array(data, dtype=type.dtype)  # own copy: later changes to the caller's array must not leak in
        data.setflags(write=False)
        self.data = data

    def clone(self) -> "Constant":
        """Constants are immutable, so a clone may share the data."""
        return type(self)(self.type, self.data, self.name)

    def merge_key(self) -> tuple | None:
        """Key under which equal constants merge, or None for constants too big to compare cheaply."""
        if self.data.size > 64:
            return None
        return (self.type, self.data.tobytes())


class SharedVariable(Variable):
    """A parameter whose value persists between calls of compiled functions and can be updated."""

    def __init__(self, type: TensorType, value: np.ndarray, name: str | None = None):
        super().__init__(type, None, 0, name)
        self._value = value

    def clone(self) -> "SharedVariable":
        """Shared variables are identities: cloning a graph keeps the same shared variable."""
        return self

    def get_value(self, borrow: bool = False) -> np.ndarray:
        """The current value (a copy unless ``borrow``)."""
        return self._value if borrow else self._value.copy()

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the value; its dtype and shape must fit the variable's type."""
        self._value = self.filter(value, copy=not borrow)

    def filter(self, value: Any, copy: bool = True) -> np.ndarray:
        """Check that ``value`` fits this variable's type and return it as an array."""
        array = np.asarray(value)
        if array.dtype != self.type.dtype:
            if not (array.dtype.kind in "fiub" and np.can_cast(array.dtype, self.type.dtype, "same_kind")):
                raise InputTypeError(
                    f"shared variable {self.label()}: expected {self.type.dtype} values, got {describe_value(value)}"
                )
            array = array.astype(self.type.dtype)
            copy = False
        if not self.type.is_compatible(array.shape):
            raise ShapeError(
                f"shared variable {self.label()}: expected shape {format_shape(self.type.shape)}, "
                f"got {describe_value(array)}"
            )
        return array.copy() if copy else array

class Apply:
    """One application of an op to input variables, producing output variables."""

    __slots__ = ("op", "inputs", "outputs")

    def __init__(self, op: "Op", inputs: Sequence[Variable], output_types: Sequence[Any]):
        self.op = op
        self.inputs = tuple(inputs)
        self.outputs = [(t.variable_class or Variable)(t, self, i) for i, t in enumerate(output_types)]

    def label(self) -> str:
        """The label of the node's first output."""
        return self.outputs[0].label()

    def __repr__(self) -> str:
        return f"Apply({self.label()})"


class Op:
    """An operation: ``make_node`` builds the Apply with static types, ``perform`` computes values,
    ``grad`` returns symbolic input gradients.

    An op's identity is its ``__props__``: two ops with equal props are interchangeable, which is
    what lets the merge rewrite key nodes on ``(op, inputs)``.
    """

    __props__: tuple[str, ...] = ()
    #: True when ``perform`` and ``py_expr`` always return a new array that nothing else holds
    #: (never a view of an input): the generated code may then compute into it in place once no
    #: later node reads it.
    fresh: bool = False

    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._props() == other._props()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((type(self), self._props()))

    def label(self) -> str:
        """Short lowercase name used in node labels."""
        return type(self).__name__.lower()

    def __repr__(self) -> str:
        props = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.__props__)
        return f"{type(self).__name__}({props})"

    def make_node(self, *inputs: Any) -> Apply:
        """Check the inputs, infer the output types and return the Apply node."""
        raise NotImplementedError

    def perform(self, *inputs: Any) -> Any:
        """Compute the output value (a tuple of values for ops with several outputs)."""
        raise NotImplementedError

    def grad(self, inputs: Sequence[Variable], outputs: Sequence[Variable], g_outputs: Sequence[Variable]) -> list:
        """Symbolic gradients of the cost w.r.t. each input, or NO_GRADIENT for an input without one."""
        raise GradientError(f"op {self.label()} has no gradient rule")

    def py_expr(self, node: "Apply", args: Sequence[str]) -> str | None:
        """An inline Python expression computing ``node``'s output from its input names, or None to
        have the compiled function call ``perform``."""
        return None

    def py_globals(self, node: "Apply") -> dict[str, Any]:
        """Values that ``py_expr`` refers to by name, besides the generated code's usual globals."""
        return {}

    def __call__(self, *inputs: Any) -> Any:
        """Apply the op: its output variable, or the list of them for a multi-output op."""
        node = self.make_node(*inputs)
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs


def toposort(outputs: Iterable[Variable]) -> list[Apply]:
    """Apply nodes needed for ``outputs``, each after all nodes producing its inputs."""
    order: list[Apply] = []
    visited: set[int] = set()
    for out in outputs:
        if out.owner is None or id(out.owner) in visited:
            continue
        stack: list[tuple[Apply, int]] = [(out.owner, 0)]
        visited.add(id(out.owner))
        while stack:
            node, i = stack[-1]
            if i < len(node.inputs):
                stack[-1] = (node, i + 1)
                parent = node.inputs[i].owner
                if parent is not None and id(parent) not in visited:
                    visited.add(id(parent))
                    stack.append((parent, 0))
            else:
                stack.pop()
                order.append(node)
    return order


def leaves(outputs: Iterable[Variable]) -> list[Variable]:
    """Variables without owner (inputs, constants, shared variables) that ``outputs`` depend on."""
    outputs = list(outputs)
    seen: dict[int, Variable] = {id(o): o for o in outputs if o.owner is None}
    for node in toposort(outputs):
        for var in node.inputs:
            if var.owner is None:
                seen.setdefault(id(var), var)
    return list(seen.values())


def clone_graph(
    outputs: Sequence[Variable],
    replace: dict[Variable, Variable] | None = None,
    rebuild: Callable[[Apply, list[Variable]], list[Variable]] | None = None,
) -> list[Variable]:
    """The graph of ``outputs`` with the variables in ``replace`` substituted.

    ``rebuild(node, new_inputs)`` may build a node's new outputs itself (rewrites do); by default a
    node whose inputs changed is re-applied (without re-checking). Graph objects are never mutated,
    so a node whose inputs did not change is reused, not copied."""
    memo: dict[Variable, Variable] = dict(replace or {})
    for node in toposort(outputs):
        new_inputs = [memo.get(v, v) for v in node.inputs]
        if rebuild is not None:
            new_outputs = rebuild(node, new_inputs)
        elif all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        else:
            new_outputs = Apply(node.op, new_inputs, [o.type for o in node.outputs]).outputs
        for old, new in zip(node.outputs, new_outputs):
            if new.name is None and old.name is not None and new.owner is not None:
                new.name = old.name  # rewritten nodes keep the user's names
            memo.setdefault(old, new)  # a replaced variable stays replaced, even if its inputs were too
    return [memo.get(o, o) for o in outputs]
