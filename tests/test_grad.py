"""grad: one memoized sweep, joint == separate, grad of grad, deep graphs, and its errors."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

RNG = np.random.default_rng(7)


def mlp(n_layers: int = 3) -> tuple[gg.Variable, gg.Variable, list[gg.SharedVariable], gg.Variable]:
    """A small sigmoid net with a softmax output and the Theano question's loss."""
    x, y = gg.matrix("x", "float64"), gg.lvector("y")
    sizes = [4, 5, 5, 3][: n_layers] + [3]
    params, h = [], x
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = gg.shared(RNG.standard_normal((a, b)) * 0.5, name=f"W{k}")
        c = gg.shared(RNG.standard_normal(b) * 0.1, name=f"b{k}")
        params += [W, c]
        z = gg.dot(h, W) + c
        h = gg.softmax(z) if k == len(sizes) - 2 else gg.sigmoid(z)
    loss = -gg.mean(gg.log(h)[gg.arange(y.shape[0]), y])
    return x, y, params, loss


def test_joint_grad_equals_separate_grads_and_merges_to_the_same_nodes() -> None:
    x, y, params, loss = mlp()
    joint = gg.grad(loss, params)
    separate = [gg.grad(loss, p) for p in params]
    assert gg.count_nodes(separate) > gg.count_nodes(joint)
    f_joint, f_separate = gg.function([x, y], joint), gg.function([x, y], separate)
    assert len(f_separate.nodes) == len(f_joint.nodes)
    assert gg.count_nodes(f_separate) == gg.count_nodes(f_joint)
    unmerged = gg.function([x, y], separate, exclude=("merge",))
    assert len(unmerged.nodes) > len(f_joint.nodes)
    args = (RNG.standard_normal((6, 4)), RNG.integers(0, 3, 6))
    for a, b, c in zip(f_joint(*args), f_separate(*args), unmerged(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-12)


def test_every_rule_runs_once_per_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    x = gg.vector("x", "float64")
    h = gg.tanh(x)
    cost = (h * h).sum() + h.sum() + gg.exp(h).sum()   # h feeds three consumers
    tanh_op = type(h.owner.op)
    calls: list[object] = []
    original = tanh_op.grad

    def counting(self, inputs, outputs, g_outputs):  # noqa: ANN001, ANN202
        calls.append(g_outputs[0])
        return original(self, inputs, outputs, g_outputs)

    monkeypatch.setattr(tanh_op, "grad", counting)
    g = gg.grad(cost, x)
    assert len(calls) == 1   # the three contributions were summed first, then the rule ran once
    value = RNG.standard_normal(4)
    th = np.tanh(value)
    np.testing.assert_allclose(gg.function([x], g)(value), (2 * th + 1 + np.exp(th)) * (1 - th ** 2))


def test_full_net_gradient_against_finite_differences() -> None:
    labels = np.array([0, 2, 1, 1, 0])

    def net(x: gg.Variable, W: gg.Variable, b: gg.Variable) -> gg.Variable:
        p = gg.softmax(gg.dot(gg.tanh(x), W) + b)
        return -gg.mean(gg.log(p)[gg.arange(x.shape[0]), gg.as_tensor(labels)])

    gg.verify_grad(net, [RNG.standard_normal((5, 4)), RNG.standard_normal((4, 3)), RNG.standard_normal(3)])


def test_grad_of_grad_against_finite_differences() -> None:
    def inner_gradient_norm(x: gg.Variable, W: gg.Variable) -> gg.Variable:
        cost = (gg.tanh(gg.dot(x, W)) * gg.take(W, gg.as_tensor(np.array([0, 1]))).sum(axis=0)).sum()
        gW = gg.dense(gg.grad(cost, W))
        return (gW * gW).sum() + gg.grad(cost, x).sum()

    gg.verify_grad(inner_gradient_norm, [RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4))])
    gg.verify_grad(lambda v: gg.grad(gg.sigmoid(v * v).sum(), v), [RNG.standard_normal(4)])


def test_gradient_of_a_10000_deep_chain() -> None:
    depth = 10_000
    x = gg.scalar("x", "float64")
    w = gg.shared(np.float64(1.0001), name="w")
    y = x
    for _ in range(depth):
        y = y * w
    g = gg.grad(y, x)
    f = gg.function([x], [y, g])
    value, slope = f(2.0)
    assert value == pytest.approx(2.0 * 1.0001 ** depth, rel=1e-9)
    up, down = f(2.0 + 1e-6)[0], f(2.0 - 1e-6)[0]
    assert slope == pytest.approx((up - down) / 2e-6, rel=1e-6)
    gg.debugprint(g)  # iterative printing too


def test_structure_of_the_result_follows_wrt() -> None:
    x = gg.vector("x", "float64")
    cost = (x * x).sum()
    assert isinstance(gg.grad(cost, x), gg.Variable)
    assert isinstance(gg.grad(cost, [x]), list) and len(gg.grad(cost, [x])) == 1


def test_non_scalar_cost_is_rejected() -> None:
    x = gg.vector("x")
    with pytest.raises(gg.GradientError, match="must be a scalar"):
        gg.grad(x * 2, x)


def test_integer_cost_is_rejected() -> None:
    ix = gg.ivector("ix")
    x = gg.vector("x")
    with pytest.raises(gg.GradientError, match="must be a float"):
        gg.grad(ix.sum() + gg.argmax(x), x)


def test_wrt_must_be_a_float_variable() -> None:
    x = gg.vector("x")
    cost = x.sum()
    with pytest.raises(gg.GradientError, match=r"wrt\[0\] must be a symbolic variable"):
        gg.grad(cost, [np.ones(3)])
    with pytest.raises(gg.GradientError, match="is a constant"):
        gg.grad(cost, gg.as_tensor(np.ones(3)))
    ix = gg.ivector("ix")
    with pytest.raises(gg.GradientError, match="only float variables"):
        gg.grad((x[ix]).sum(), ix)
    with pytest.raises(gg.GradientError, match="cost must be a symbolic variable"):
        gg.grad(1.0, x)


def test_disconnected_wrt_is_named() -> None:
    x, unused = gg.vector("x"), gg.vector("unused")
    with pytest.raises(gg.GradientError, match="does not depend on unused"):
        gg.grad(x.sum(), [x, unused])
    gx, gu = gg.grad(x.sum(), [x, unused], disconnected_inputs="ignore")
    got = gg.function([x, unused], gu)(np.ones(2, "float32"), np.ones(3, "float32"))
    np.testing.assert_array_equal(got, np.zeros(3))
    with pytest.raises(ValueError, match="disconnected_inputs"):
        gg.grad(x.sum(), x, disconnected_inputs="warn")


def test_consider_constant_stops_the_gradient() -> None:
    x = gg.vector("x", "float64")
    h = x * x
    cost = (h * x).sum()
    g = gg.grad(cost, x, consider_constant=[h])
    value = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(gg.function([x], g)(value), value ** 2)   # not 3 x**2
    with pytest.raises(gg.GradientError, match="does not depend on x"):
        gg.grad(gg.exp(h).sum(), x, consider_constant=[h])


def test_multi_consumer_and_broadcast_contributions_are_summed() -> None:
    gg.verify_grad(lambda a, b: (a * b + a).sum() + gg.dot(a, b.T).sum() * a.mean(),
                   [RNG.standard_normal((3, 4)), RNG.standard_normal((1, 4))])


class _Twice(gg.Op):
    """2x, with a gradient rule that can be told to misbehave."""
    __props__ = ("rule",)

    def __init__(self, rule: str):
        self.rule = rule

    def make_node(self, x: gg.Variable) -> gg.Apply:
        return gg.Apply(self, [x], [x.type])

    def perform(self, x: np.ndarray) -> np.ndarray:
        return 2 * x

    def grad(self, inputs, outputs, g_outputs):  # noqa: ANN001, ANN201
        return {"undefined": [None], "too_many": [g_outputs[0], g_outputs[0]], "none": [gg.NO_GRADIENT]}[self.rule]


def test_gradient_rule_problems_are_named() -> None:
    x = gg.vector("x", "float64")
    with pytest.raises(gg.GradientError, match="gradient of _twice.* w.r.t. its input x is undefined"):
        gg.grad(_Twice("undefined")(x).sum(), x)
    with pytest.raises(gg.GradientError, match="_twice: gradient rule returned 2 terms for 1 inputs"):
        gg.grad(_Twice("too_many")(x).sum(), x)
    with pytest.raises(gg.GradientError, match="does not depend on x"):
        gg.grad(_Twice("none")(x).sum(), x)
    zeros = gg.grad(_Twice("none")(x).sum(), x, disconnected_inputs="ignore")
    np.testing.assert_array_equal(gg.function([x], zeros)(np.ones(2)), [0.0, 0.0])
    with pytest.raises(gg.GradientError, match="op argmax has no gradient rule|does not depend"):
        gg.grad(gg.cast(gg.argmax(x), "float64"), x)
