"""A dense feed-forward classifier (multi-layer perceptron) on graphgrad.

``MLP`` holds one weight matrix and bias vector per layer as shared variables: hidden layers apply
``activation`` (relu, tanh, sigmoid or linear), the output layer a softmax over the classes, or a
sigmoid for a single output unit (binary labels). Training is mini-batch SGD (optionally with
momentum) on the mean log-loss, all gradients from one ``gg.grad``; ``weight_decay`` adds
``weight_decay / 2 * sum(W ** 2)`` over the weight matrices and ``activity_l1`` adds
``activity_l1 * mean over the batch of sum |h|`` over the hidden layers (sparse activations: many
hidden units end up silent, which is what ``models.prune`` removes).

Data comes as a ``Dataset``: ``len``, integer ``labels`` and ``features(indices)`` giving one
batch of model inputs, so a corpus never has to be densified whole: dense rows
(``input_kind="dense"``, e.g. ``ArrayData``) or word ids (``"bag"``), for which the first layer is
a segment sum of ``W0`` rows, the same numbers as 0/1 rows times ``W0``.
``models.mlp_imdb.BagOfWords`` gives IMDB reviews either way.

Saved models are ``.npz`` files of plain arrays (``kind``, ``activation``, ``output``,
``input_kind``, ``W0``, ``b0``, ``W1`` ...), plus any ``extra`` arrays the caller attaches (the
IMDB trainer stores the feature words).

Command line (in ``models.mlp_imdb``): ``python -m models.mlp --save mlp.npz`` trains on IMDB
bag-of-words features and reports test accuracy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator, Mapping, Protocol, Sequence

import numpy as np
from tqdm import tqdm

import graphgrad as gg


ACTIVATIONS: dict[str, Callable[[gg.Variable], gg.Variable]] = {
    "relu": gg.relu, "tanh": gg.tanh, "sigmoid": gg.sigmoid, "linear": lambda h: h,
}
OUTPUTS = ("softmax", "sigmoid")
INPUTS = ("dense", "bag")
FILE_KIND = "mlp"


class Dataset(Protocol):
    """What ``MLP`` trains and evaluates on."""

    labels: np.ndarray  # integer class of each example
    input_kind: str  # one of INPUTS: what ``features`` returns

    def __len__(self) -> int: ...

    def features(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """The model inputs for the examples ``indices``: ``(rows,)`` (float32) for ``dense``,
        ``(ids, segments, n)`` (int32; ``segments`` sorted) for ``bag``."""


@dataclass(frozen=True, eq=False)
class ArrayData:
    """An in-memory ``Dataset``: rows of ``inputs`` with integer ``labels``."""

    inputs: np.ndarray
    labels: np.ndarray
    input_kind: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        if self.inputs.ndim != 2 or self.labels.shape != (len(self.inputs),):
            raise gg.ShapeError(f"ArrayData: inputs must be (n, features) and labels (n,), got inputs "
                                f"{self.inputs.shape} and labels {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    def features(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(rows,)``: the input rows ``indices`` as float32."""
        return (np.asarray(self.inputs[indices], dtype=np.float32),)


def batches(n: int, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Index batches covering ``range(n)``: shuffled by ``rng`` if given, else in order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def symbolic_inputs(input_kind: str) -> list[gg.Variable]:
    """The graph inputs of ``input_kind``: ``[x]`` rows, or ``[ids, segments, n]`` bags."""
    if input_kind == "dense":
        return [gg.matrix("x")]
    return [gg.ivector("ids"), gg.ivector("segments"), gg.iscalar("n_rows")]


def network(inputs: Sequence[gg.Variable], weights: Sequence[gg.Variable], biases: Sequence[gg.Variable],
            activation: str, output: str) -> tuple[list[gg.Variable], gg.Variable]:
    """``(hidden activations, probabilities)`` of the net with these parameters (shared or
    symbolic) on ``inputs`` from ``symbolic_inputs``. A bag's first layer sums the ``W0`` rows
    of its ids, which equals its 0/1 row times ``W0``. Probabilities are ``(n, classes)`` for a
    softmax output, ``(n,)`` of the positive class for a sigmoid output."""
    act = ACTIVATIONS[activation]
    if len(inputs) == 1:
        first = gg.dot(inputs[0], weights[0])
    else:
        ids, segments, n_rows = inputs
        first = gg.segment_sum(gg.take(weights[0], ids), segments, n_rows)
    hidden = [act(first + biases[0])]
    for w, b in zip(weights[1:-1], biases[1:-1]):
        hidden.append(act(gg.dot(hidden[-1], w) + b))
    logits = gg.dot(hidden[-1], weights[-1]) + biases[-1]
    probabilities = gg.softmax(logits) if output == "softmax" else gg.sigmoid(logits)[:, 0]
    return hidden, probabilities


def training_cost(hidden: Sequence[gg.Variable], probabilities: gg.Variable, y: gg.Variable,
                  weights: Sequence[gg.Variable], output: str, weight_decay: float = 0.0,
                  activity_l1: float = 0.0) -> gg.Variable:
    """Mean log-loss of ``probabilities`` (from ``network``) against the integer labels ``y``,
    plus the regularizers of the module docstring."""
    if output == "softmax":
        cost = gg.categorical_crossentropy(probabilities, y).mean()
    else:
        cost = gg.binary_crossentropy(probabilities, y.astype(probabilities.dtype)).mean()
    if weight_decay:
        cost = cost + weight_decay / 2 * sum((w * w).sum() for w in weights)
    if activity_l1:
        cost = cost + activity_l1 * sum(abs(h).sum(axis=1).mean() for h in hidden)
    return cost


class MLP:
    """A dense classifier: ``len(weights) - 1`` hidden layers, then a softmax or sigmoid output.

    ``weights[k]`` is ``(n_k, n_{k+1})`` and ``biases[k]`` is ``(n_{k+1},)``; the arrays are
    copied into shared variables ``W{k}``, ``b{k}`` (float32).
    """

    def __init__(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], activation: str = "relu",
                 output: str = "softmax", input_kind: str = "dense",
                 extra: Mapping[str, np.ndarray] | None = None) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if input_kind not in INPUTS:
            raise ValueError(f"input_kind must be one of {INPUTS}, got {input_kind!r}")
        _check_layers(weights, biases)
        n_out = np.shape(weights[-1])[1]
        if output == "sigmoid" and n_out != 1:
            raise gg.ShapeError(f"a sigmoid output needs one output unit: W{len(weights) - 1} has {n_out} columns")
        if output == "softmax" and n_out < 2:
            raise gg.ShapeError(f"a softmax output needs >= 2 classes: W{len(weights) - 1} has {n_out} column")
        self.activation, self.output, self.input_kind = activation, output, input_kind
        self.extra = dict(extra or {})
        self.weights = [gg.shared(np.asarray(w, dtype=np.float32), name=f"W{k}") for k, w in enumerate(weights)]
        self.biases = [gg.shared(np.asarray(b, dtype=np.float32), name=f"b{k}") for k, b in enumerate(biases)]
        self._inputs = symbolic_inputs(input_kind)
        self._hidden, self._probabilities = network(self._inputs, self.weights, self.biases, activation, output)
        self._forward: gg.Function | None = None

    @classmethod
    def create(cls, sizes: Sequence[int], activation: str = "relu", output: str = "softmax",
               input_kind: str = "dense", seed: int = 0) -> MLP:
        """A freshly initialised net with layer widths ``sizes`` (inputs, hidden..., outputs):
        He-scaled normal weights for relu, Glorot-scaled otherwise, zero biases."""
        if len(sizes) < 3 or any(int(n) < 1 for n in sizes):
            raise ValueError(f"sizes must be >= 3 positive widths (inputs, hidden..., outputs), got {list(sizes)}")
        rng = np.random.default_rng(seed)
        gain = 2.0 if activation == "relu" else 1.0
        weights = [rng.standard_normal((n_in, n_out)) * np.sqrt(gain / n_in if activation == "relu"
                                                                  else 2.0 / (n_in + n_out))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        biases = [np.zeros(n_out) for n_out in sizes[1:]]
        return cls(weights, biases, activation, output, input_kind)

    @property
    def sizes(self) -> list[int]:
        """Layer widths: inputs, each hidden layer, outputs."""
        return [self.weights[0].get_value(borrow=True).shape[0],
                *(w.get_value(borrow=True).shape[1] for w in self.weights)]

    @property
    def n_params(self) -> int:
        """Number of weights and biases."""
        return sum(p.get_value(borrow=True).size for p in (*self.weights, *self.biases))

    def arrays(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Copies of the weight matrices and the bias vectors."""
        return [w.get_value() for w in self.weights], [b.get_value() for b in self.biases]

    def forward(self, *inputs: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """``(probabilities, hidden activations)`` for a batch of inputs (as ``Dataset.features``
        gives them)."""
        if self._forward is None:
            self._forward = gg.function(self._inputs, [self._probabilities, *self._hidden], name="mlp_forward")
        probabilities, *hidden = self._forward(*inputs)
        return probabilities, hidden

    def predict(self, *inputs: np.ndarray) -> np.ndarray:
        """The most probable class of each input row."""
        probabilities, _ = self.forward(*inputs)
        if self.output == "softmax":
            return probabilities.argmax(axis=1)
        return (probabilities > 0.5).astype(np.int64)

    def rebuild(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> MLP:
        """A model like this one (activation, output, extras) holding other arrays, e.g. pruned ones."""
        return MLP(weights, biases, self.activation, self.output, self.input_kind, self.extra)

    def hidden_activations(self, data: Dataset, batch_size: int = 512) -> Iterator[list[np.ndarray]]:
        """Each hidden layer's activations, batch by batch over ``data`` (in order)."""
        self._check_data(data)
        for indices in batches(len(data), batch_size):
            yield self.forward(*data.features(indices))[1]

    def evaluate(self, data: Dataset, batch_size: int = 512, progress: bool = False) -> float:
        """Accuracy on ``data``."""
        self._check_data(data)
        correct = 0
        for indices in tqdm(batches(len(data), batch_size), desc="evaluating", unit=" batches",
                            disable=not progress, leave=False):
            correct += int((self.predict(*data.features(indices)) == data.labels[indices]).sum())
        return correct / max(len(data), 1)

    def train(self, data: Dataset, epochs: int = 1, batch_size: int = 64, lr: float = 0.05,
              momentum: float = 0.0, weight_decay: float = 0.0, activity_l1: float = 0.0, seed: int = 0,
              progress: bool = True) -> list[float]:
        """Mini-batch SGD on ``data`` (reshuffled each epoch); returns each epoch's mean loss."""
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {epochs}")
        self._check_data(data)
        y = gg.lvector("y")
        cost = training_cost(self._hidden, self._probabilities, y, self.weights, self.output, weight_decay,
                             activity_l1)
        params = [*self.weights, *self.biases]
        updates = gg.momentum(cost, params, lr, momentum) if momentum else gg.sgd(cost, params, lr)
        step = gg.function([*self._inputs, y], cost, updates=updates, name="mlp_train")
        rng = np.random.default_rng(seed)
        losses = []
        for epoch in range(epochs):
            total, seen = 0.0, 0
            bar = tqdm(batches(len(data), batch_size, rng), desc=f"epoch {epoch + 1}/{epochs}", unit=" batches",
                       disable=not progress)
            for indices in bar:
                total += float(step(*data.features(indices), data.labels[indices])) * len(indices)
                seen += len(indices)
                bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
            losses.append(total / max(seen, 1))
        return losses

    def _check_data(self, data: Dataset) -> None:
        if data.input_kind != self.input_kind:
            raise gg.InputTypeError(f"the model takes {self.input_kind!r} inputs, the dataset gives "
                                    f"{data.input_kind!r} ones")

    def save(self, path: str | os.PathLike) -> None:
        """Write the model (and its ``extra`` arrays) to ``path`` as ``.npz``, atomically."""
        weights, biases = self.arrays()
        gg.save_arrays(path, {**self.extra, "kind": np.array(FILE_KIND), "activation": np.array(self.activation),
                              "output": np.array(self.output), "input_kind": np.array(self.input_kind),
                              **{f"W{k}": w for k, w in enumerate(weights)},
                              **{f"b{k}": b for k, b in enumerate(biases)}})

    @classmethod
    def load(cls, path: str | os.PathLike) -> MLP:
        """Read a model written by ``save``; arrays other than the model's become ``extra``."""
        arrays = gg.load_arrays(path)
        if str(arrays.get("kind", "")) != FILE_KIND:
            raise gg.InputTypeError(f"{path}: not an MLP file (expected kind={FILE_KIND!r}, got "
                                    f"{str(arrays['kind']) if 'kind' in arrays else 'no kind'}; arrays "
                                    f"{sorted(arrays)})")
        n_layers = sum(1 for name in arrays if name.startswith("W") and name[1:].isdigit())
        names = ["activation", "output", "input_kind", *(f"{p}{k}" for k in range(n_layers) for p in "Wb")]
        missing = [name for name in names if name not in arrays]
        if n_layers == 0 or missing:
            raise gg.InputTypeError(f"{path}: MLP file without arrays {missing or ['W0', 'b0']}")
        model_arrays = {name: arrays.pop(name) for name in names}
        arrays.pop("kind")
        try:
            return cls([model_arrays[f"W{k}"] for k in range(n_layers)],
                       [model_arrays[f"b{k}"] for k in range(n_layers)],
                       str(model_arrays["activation"]), str(model_arrays["output"]),
                       str(model_arrays["input_kind"]), extra=arrays)
        except (gg.ShapeError, ValueError) as error:
            raise type(error)(f"{path}: {error}") from None


def _check_layers(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> None:
    """Shapes chain: ``W{k}`` is 2-D, ``b{k}`` matches its columns, ``W{k+1}`` its rows."""
    if len(weights) < 2 or len(weights) != len(biases):
        raise gg.ShapeError(f"an MLP needs one bias per weight matrix and at least one hidden layer, got "
                            f"{len(weights)} weight matrices and {len(biases)} biases")
    for k, (w, b) in enumerate(zip(weights, biases)):
        w_shape, b_shape = np.shape(w), np.shape(b)
        if len(w_shape) != 2:
            raise gg.ShapeError(f"W{k} must be a matrix, got shape {w_shape}")
        if b_shape != (w_shape[1],):
            raise gg.ShapeError(f"b{k} must have shape ({w_shape[1]},) to match W{k} {w_shape}, got {b_shape}")
        if k and w_shape[0] != np.shape(weights[k - 1])[1]:
            raise gg.ShapeError(f"W{k} has {w_shape[0]} rows but W{k - 1} {np.shape(weights[k - 1])} has "
                                f"{np.shape(weights[k - 1])[1]} columns")


if __name__ == "__main__":
    # The command line lives in mlp_imdb, which imports this module: import it only when run.
    from .mlp_imdb import main

    main()
