"""The dense MLP of models/mlp.py and the IMDB features of models/mlp_imdb.py: gradients, training,
bag-of-words inputs, files and errors."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from models import mlp, mlp_imdb
from models.imdb import Split


def tiny_split() -> Split:
    """Three reviews over word ids 0..5: {0, 2, 5}, {}, {1, 2}."""
    return Split(np.array([0, 2, 5, 1, 2], np.int32), np.array([0, 3, 3, 5], np.int64),
                 np.array([1, 0, 1], np.float32))


def separable(n: int = 400, features: int = 8, seed: int = 0) -> mlp.ArrayData:
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((n, features)).astype(np.float32)
    return mlp.ArrayData(inputs, (inputs[:, 0] + 0.5 * inputs[:, 1] > 0).astype(np.int64))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_training_cost_gradient_matches_finite_differences(activation: str, output: str) -> None:
    rng = np.random.default_rng(1)
    n_out = 3 if output == "softmax" else 1
    # Inputs away from relu's kink: finite differences across it would be meaningless.
    shapes = [(4, 5), (5,), (5, 3), (3,), (3, n_out), (n_out,)]
    params = [rng.standard_normal(shape) * 0.7 for shape in shapes]
    x = rng.standard_normal((6, 4))
    labels = rng.integers(0, 3 if output == "softmax" else 2, 6)

    def cost(x, w0, b0, w1, b1, w2, b2, y):  # noqa: ANN001, ANN202
        hidden, p = mlp.network([x], [w0, w1, w2], [b0, b1, b2], activation, output)
        return mlp.training_cost(hidden, p, y, [w0, w1, w2], output, weight_decay=0.1, activity_l1=0.05)

    gg.verify_grad(cost, [x, *(p for pair in zip(params[::2], params[1::2]) for p in pair), labels])


def test_bag_inputs_equal_dense_rows() -> None:
    split = tiny_split()
    dense, bag = mlp_imdb.BagOfWords(split, 4, "dense"), mlp_imdb.BagOfWords(split, 4, "bag")
    (rows,) = dense.features(np.arange(3))
    np.testing.assert_array_equal(rows, [[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 1, 0]])  # id 5 >= 4 is dropped
    model = mlp.MLP.create([4, 6, 2], seed=3)
    sparse_model = mlp.MLP(*model.arrays(), input_kind="bag")
    np.testing.assert_allclose(sparse_model.forward(*bag.features(np.arange(3)))[0], model.forward(rows)[0],
                               rtol=1e-6)


def test_training_learns_a_separable_problem() -> None:
    data = separable()
    model = mlp.MLP.create([8, 16, 8, 2], seed=0)
    before = model.evaluate(data)
    losses = model.train(data, epochs=15, batch_size=32, lr=0.1, progress=False)
    assert losses[-1] < losses[0] / 2
    assert model.evaluate(data) > max(before, 0.95)


def test_sigmoid_output_trains_with_momentum() -> None:
    data = separable(seed=1)
    model = mlp.MLP.create([8, 8, 1], activation="tanh", output="sigmoid", seed=1)
    model.train(data, epochs=10, batch_size=32, lr=0.05, momentum=0.9, progress=False)
    assert model.evaluate(data) > 0.95


def test_save_load_round_trip(tmp_path) -> None:  # noqa: ANN001
    model = mlp.MLP.create([5, 4, 3, 2], activation="tanh", seed=2)
    model.extra["words"] = np.array(["a", "b", "c", "d", "e"])
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = mlp.MLP.load(path)
    assert (loaded.activation, loaded.output, loaded.input_kind, loaded.sizes) == ("tanh", "softmax", "dense",
                                                                                  [5, 4, 3, 2])
    for original, restored in zip(sum(model.arrays(), []), sum(loaded.arrays(), [])):
        np.testing.assert_array_equal(original, restored)
    np.testing.assert_array_equal(loaded.extra["words"], model.extra["words"])
    rows = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    np.testing.assert_array_equal(loaded.forward(rows)[0], model.forward(rows)[0])


def test_load_errors_name_the_file(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        mlp.MLP.load(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(gg.InputTypeError, match="garbage.npz"):
        mlp.MLP.load(garbage)
    other = tmp_path / "sentiment.npz"
    gg.save_arrays(other, {"W0": np.zeros((3, 2), np.float32), "W1": np.zeros((2, 1), np.float32)})
    with pytest.raises(gg.InputTypeError, match="sentiment.npz: not an MLP file"):
        mlp.MLP.load(other)
    model = mlp.MLP.create([3, 4, 2])
    model.save(tmp_path / "good.npz")
    arrays = gg.load_arrays(tmp_path / "good.npz")
    gg.save_arrays(tmp_path / "no_bias.npz", {k: v for k, v in arrays.items() if k != "b1"})
    with pytest.raises(gg.InputTypeError, match="no_bias.npz: MLP file without arrays \\['b1'\\]"):
        mlp.MLP.load(tmp_path / "no_bias.npz")
    gg.save_arrays(tmp_path / "bad_shape.npz", {**arrays, "W1": np.zeros((5, 2), np.float32)})
    with pytest.raises(gg.ShapeError, match="bad_shape.npz: W1 has 5 rows but W0 \\(3, 4\\) has 4 columns"):
        mlp.MLP.load(tmp_path / "bad_shape.npz")


def test_constructor_errors_name_the_arrays() -> None:
    w0, b0, w1, b1 = np.zeros((3, 4)), np.zeros(4), np.zeros((4, 2)), np.zeros(2)
    with pytest.raises(gg.ShapeError, match=r"b0 must have shape \(4,\) to match W0 \(3, 4\), got \(3,\)"):
        mlp.MLP([w0, w1], [np.zeros(3), b1])
    with pytest.raises(gg.ShapeError, match="sigmoid output needs one output unit: W1 has 2 columns"):
        mlp.MLP([w0, w1], [b0, b1], output="sigmoid")
    with pytest.raises(gg.ShapeError, match="at least one hidden layer"):
        mlp.MLP([w0], [b0])
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp.MLP([w0, w1], [b0, b1], activation="swish")
    with pytest.raises(gg.InputTypeError, match="takes 'bag' inputs, the dataset gives 'dense'"):
        mlp.MLP([w0, w1], [b0, b1], input_kind="bag").evaluate(separable(features=3))
