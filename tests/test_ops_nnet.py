"""softmax, log_softmax and the cross-entropy losses: values, gradients, stability, label errors."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from test_ops_elemwise import dynamic

RNG = np.random.default_rng(6)
LABELS = np.array([0, 2, 2, 1])


def np_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("shape", [(5,), (4, 3)], ids=str)
def test_softmax_and_log_softmax(shape: tuple) -> None:
    value = RNG.standard_normal(shape)
    x = gg.tensor("x", "float64", (None,) * len(shape))
    s, ls = gg.function([x], [gg.softmax(x), gg.log_softmax(x)])(value)
    np.testing.assert_allclose(s, np_softmax(value), rtol=1e-12)
    np.testing.assert_allclose(ls, np.log(np_softmax(value)), rtol=1e-12)
    gg.verify_grad(gg.softmax, [value])
    gg.verify_grad(gg.log_softmax, [value])


def test_softmax_of_huge_logits_is_finite() -> None:
    x = gg.matrix("x", "float64")
    s, ls = gg.function([x], [gg.softmax(x), gg.log_softmax(x)])(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(s, [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(ls, [[0.0, -1000.0, -2000.0]])


def test_binary_crossentropy_value_and_gradient() -> None:
    p, t = RNG.uniform(0.1, 0.9, (4, 3)), RNG.uniform(0.0, 1.0, (4, 3))
    vp, vt = gg.matrix("p", "float64"), gg.matrix("t", "float64")
    got = gg.function([vp, vt], gg.binary_crossentropy(vp, vt))(p, t)
    np.testing.assert_allclose(got, -(t * np.log(p) + (1 - t) * np.log(1 - p)), rtol=1e-12)
    gg.verify_grad(gg.binary_crossentropy, [p, t])
    gg.verify_grad(lambda z, tt: gg.binary_crossentropy(gg.sigmoid(z), tt), [RNG.standard_normal((4, 3)), t])
    gg.verify_grad(lambda z, tt: gg.binary_crossentropy(gg.sigmoid(z), tt).mean(),
                   [RNG.standard_normal((4, 3)), RNG.uniform(0, 1, (3,))])


def test_categorical_crossentropy_with_int_labels() -> None:
    p = RNG.uniform(0.1, 1.0, (4, 3))
    vp, y = gg.matrix("p", "float64"), gg.lvector("y")
    got = gg.function([vp, y], gg.categorical_crossentropy(vp, y))(p, LABELS)
    np.testing.assert_allclose(got, -np.log(p[np.arange(4), LABELS]))
    gg.verify_grad(lambda v: gg.categorical_crossentropy(v, gg.as_tensor(LABELS)), [p])
    gg.verify_grad(lambda x: gg.categorical_crossentropy(gg.softmax(x), gg.as_tensor(LABELS)).mean(),
                   [RNG.standard_normal((4, 3))])


def test_categorical_crossentropy_with_one_hot_targets() -> None:
    onehot = np.eye(3)[LABELS]
    gg.verify_grad(lambda x, t: gg.categorical_crossentropy(gg.softmax(x), t), [RNG.standard_normal((4, 3)), onehot])
    p = gg.matrix("p", "float64")
    probs = np_softmax(RNG.standard_normal((4, 3)))
    np.testing.assert_allclose(gg.function([p], gg.categorical_crossentropy(p, gg.as_tensor(onehot)))(probs),
                               -np.log(probs[np.arange(4), LABELS]))


def test_categorical_crossentropy_gradient_ignores_zero_probabilities_off_the_label() -> None:
    # Regression: the gradient was -onehot * g / p, giving 0 * inf = nan where p == 0.
    p, y = gg.matrix("p", "float64"), gg.lvector("y")
    g = gg.function([p, y], gg.grad(gg.categorical_crossentropy(p, y).sum(), p))(
        np.array([[0.5, 0.0, 0.5]]), np.array([0]))
    np.testing.assert_array_equal(g, [[-2.0, 0.0, 0.0]])


@pytest.mark.parametrize("labels", [[0, 3], [-1, 0]], ids=str)
def test_label_out_of_range_raises_in_forward_and_gradient(labels: list[int]) -> None:
    x, y = gg.matrix("x", "float64"), gg.lvector("y")
    loss = gg.categorical_crossentropy(gg.softmax(x), y)
    args = (np.zeros((2, 3)), np.array(labels))
    for exclude in [(), ("stabilize_log_losses",)]:
        with pytest.raises(gg.IndexRangeError, match="labels must be in"):
            gg.function([x, y], loss, exclude=exclude)(*args)
        # A cost whose gradient never needs the loss values: only the gradient rule sees the labels.
        weights = gg.as_tensor(np.ones(2))
        with pytest.raises(gg.IndexRangeError, match="labels must be in"):
            gg.function([x, y], gg.grad(gg.dot(loss, weights), x), exclude=exclude)(*args)


def test_label_type_errors() -> None:
    with pytest.raises(gg.InputTypeError, match="labels y must be an integer tensor"):
        gg.categorical_crossentropy(gg.matrix("p"), gg.vector("y"))
    with pytest.raises(gg.ShapeError, match="p has 4 rows but y has 5 labels"):
        gg.categorical_crossentropy(gg.tensor("p", shape=(4, 3)), gg.tensor("y", "int64", (5,)))
    with pytest.raises(gg.InputTypeError, match="softmax"):
        gg.softmax(gg.ivector("i"))


def _dynamic(x: gg.Variable) -> gg.Variable:
    """``x`` with every static dim forgotten."""
    return dynamic(x, tuple(range(x.ndim)))


LOSSES_WITH_RUNTIME_SHAPES = {
    "bce(sigmoid) broadcast z": (lambda z, t: gg.binary_crossentropy(gg.sigmoid(_dynamic(z)), _dynamic(t)).sum(),
                                 [RNG.standard_normal((1, 3)), RNG.uniform(0, 1, (4, 3))]),
    "bce(sigmoid) broadcast t": (lambda z, t: gg.binary_crossentropy(gg.sigmoid(_dynamic(z)), _dynamic(t)).mean(),
                                 [RNG.standard_normal((4, 3)), RNG.uniform(0, 1, (1, 3))]),
    "log(sigmoid), log(1 - sigmoid)": (lambda z: (gg.log(gg.sigmoid(_dynamic(z))) * 2.0
                                                  + gg.log(1 - gg.sigmoid(_dynamic(z)))).sum(),
                                       [RNG.standard_normal((4, 3))]),
    "cce(softmax)": (lambda x: gg.categorical_crossentropy(gg.softmax(_dynamic(x)), gg.as_tensor(LABELS)).mean(),
                     [RNG.standard_normal((4, 3))]),
    "theano loss": (lambda x: -gg.mean(gg.log(gg.softmax(_dynamic(x)))[gg.arange(gg.as_tensor(LABELS).shape[0]),
                                                                        gg.as_tensor(LABELS)]),
                    [RNG.standard_normal((4, 3))]),
    "weighted log_softmax": (lambda x: (gg.log(gg.softmax(_dynamic(x))) * np.arange(12.0).reshape(4, 3)).sum(),
                             [RNG.standard_normal((4, 3))]),
}


@pytest.mark.parametrize("name", sorted(LOSSES_WITH_RUNTIME_SHAPES))
def test_rewritten_losses_with_runtime_shapes_against_finite_differences(name: str) -> None:
    build, args = LOSSES_WITH_RUNTIME_SHAPES[name]
    gg.verify_grad(build, args)
