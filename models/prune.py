"""Neuron pruning by activation statistics: measure each hidden neuron on held-out data, remove the
ones that contribute (almost) nothing, and rebuild a genuinely smaller network.

The steps, each usable alone:

1. ``collect_statistics``: run a model's compiled forward function (which also returns its hidden
   activations) over a dataset batch by batch, folding each batch into a ``RunningStats`` per
   hidden layer (Chan et al.'s parallel merge of count, mean and sum of squared deviations), so
   memory does not grow with the dataset.
2. ``select``: pick the neurons to remove under a rule. ``post`` is the widely shared recipe:
   remove a neuron when ``|mean| <= mean_max`` and ``std <= std_max``; it simply drops them, so a
   removed neuron's average output is lost. ``fold`` removes every neuron with
   ``std <= std_max`` *whatever its mean*: such a neuron is (nearly) a constant ``c``, so its
   contribution ``c * W_next[j]`` moves into the next layer's bias and removing it is exact for
   ``std == 0``. ``post+fold`` removes the neurons ``post`` removes but folds their means like
   ``fold``: the post's selection without losing the removed neurons' average output.
3. ``remove_neurons``: slice the incoming weight columns and bias entries and the outgoing weight
   rows of the removed neurons (folding constants into the next bias), giving smaller arrays and
   a smaller model, not a mask; ``prune`` does 2 and 3 for a whole model.

A model takes part through the ``Prunable`` protocol: ``models.mlp.MLP`` implements it, and
``SentimentTarget`` adapts ``models.sentiment.SentimentNet`` (one linear hidden layer).

``models.prune_sweep`` measures all this over a grid of thresholds and writes the report; its
command line runs as this module: ``python -m models.prune --kind mlp --train --model mlp.npz
--report docs/pruning.md`` (see ``--help``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Mapping, Protocol, Sequence

import numpy as np
from tqdm import tqdm

import graphgrad as gg

from . import imdb, mlp, sentiment

RULES = ("post", "fold", "post+fold")


class PruneError(ValueError):
    """A pruning request that cannot give a working network."""


class EmptyLayerError(PruneError):
    """Every neuron of a hidden layer would be removed."""

    def __init__(self, message: str, layer: int) -> None:
        super().__init__(message)
        self.layer = layer


class RunningStats:
    """Per-neuron count, mean and sum of squared deviations (``m2``) of activations seen so far,
    in float64; batches merge by Chan et al.'s rule, so the result equals one pass over the
    concatenated data without ever holding it."""

    def __init__(self, n_neurons: int) -> None:
        self.count = 0
        self.mean = np.zeros(n_neurons)
        self.m2 = np.zeros(n_neurons)

    def update(self, batch: np.ndarray) -> None:
        """Fold in a ``(rows, n_neurons)`` batch of activations."""
        batch = np.asarray(batch, dtype=np.float64)
        if batch.ndim != 2 or batch.shape[1] != len(self.mean):
            raise gg.ShapeError(f"RunningStats.update: expected a (rows, {len(self.mean)}) batch, got shape "
                                f"{batch.shape}")
        n = len(batch)
        if n == 0:
            return
        batch_mean = batch.mean(axis=0)
        batch_m2 = ((batch - batch_mean) ** 2).sum(axis=0)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + batch_m2 + delta ** 2 * (self.count * n / total)
        self.count = total

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation of each neuron (zeros before any data)."""
        return np.sqrt(self.m2 / max(self.count, 1))


class Prunable(Protocol):
    """A network that is a chain of dense layers: ``weights[k]`` is ``(n_k, n_{k+1})``, hidden
    layer ``k`` is the output of ``weights[k]`` (k < len(weights) - 1), ``biases[k]`` is
    ``(n_{k+1},)`` or None where the layer has no bias."""

    def arrays(self) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """Copies of the weight matrices and biases."""

    def rebuild(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None]) -> Prunable:
        """A model of the same kind holding these (pruned) arrays."""

    def hidden_activations(self, data: Any, batch_size: int) -> Iterator[list[np.ndarray]]:
        """Each hidden layer's ``(rows, neurons)`` activations, batch by batch over ``data``."""

    def evaluate(self, data: Any, batch_size: int) -> float:
        """Accuracy on ``data``."""


def n_params(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None]) -> int:
    """Number of weights and biases."""
    return sum(w.size for w in weights) + sum(b.size for b in biases if b is not None)


def collect_statistics(model: Prunable, data: Any, batch_size: int = 512,
                       progress: bool = True) -> list[RunningStats]:
    """Mean and std of every hidden neuron of ``model`` over ``data``, streamed batch by batch."""
    stats: list[RunningStats] | None = None
    for hidden in tqdm(model.hidden_activations(data, batch_size), desc="activation statistics", unit=" batches",
                       total=-(-len(data) // batch_size), disable=not progress):
        if stats is None:
            stats = [RunningStats(h.shape[1]) for h in hidden]
        for layer_stats, h in zip(stats, hidden):
            layer_stats.update(h)
    if stats is None:
        raise PruneError("collect_statistics: the dataset is empty")
    return stats


def select(stats: RunningStats, rule: str, mean_max: float, std_max: float) -> tuple[np.ndarray, np.ndarray | None]:
    """``(keep, constants)`` for one layer: ``keep`` marks the neurons that stay; ``constants``
    (the means, for ``fold`` and ``post+fold``) is what removed neurons are replaced by, None to
    drop them."""
    if rule in ("post", "post+fold"):
        keep = ~((np.abs(stats.mean) <= mean_max) & (stats.std <= std_max))
        return keep, stats.mean if rule == "post+fold" else None
    if rule == "fold":
        return ~(stats.std <= std_max), stats.mean
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def remove_neurons(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None],
                   keep: Mapping[int, np.ndarray],
                   constants: Mapping[int, np.ndarray | None] | None = None,
                   ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Remove the neurons of hidden layer ``k`` where ``keep[k]`` is False: columns of
    ``weights[k]`` and entries of ``biases[k]``, rows of ``weights[k + 1]``. With
    ``constants[k]``, each removed neuron ``j`` first adds ``constants[k][j] * weights[k + 1][j]``
    to ``biases[k + 1]``. The inputs are not modified; untouched arrays are shared."""
    weights, biases = list(weights), list(biases)
    constants = constants or {}
    n_hidden = len(weights) - 1
    for k in sorted(keep):
        if not 0 <= k < n_hidden:
            raise PruneError(f"no hidden layer {k}: the network has hidden layers 0..{n_hidden - 1}")
        mask = np.asarray(keep[k], dtype=bool)
        width = weights[k].shape[1]
        where = f"hidden layer {k} (columns of W{k}, rows of W{k + 1})"
        if mask.shape != (width,):
            raise gg.ShapeError(f"{where}: keep mask has shape {mask.shape}, the layer has {width} neurons")
        if mask.all():
            continue
        if not mask.any():
            raise EmptyLayerError(f"{where}: the thresholds remove all {width} neurons; a layer needs at least "
                                  "one (use lower thresholds or leave this layer out)", k)
        removed = ~mask
        if constants.get(k) is not None:
            shift = np.asarray(constants[k], dtype=np.float64)[removed] @ weights[k + 1][removed].astype(np.float64)
            if biases[k + 1] is None:
                if np.any(shift):
                    raise PruneError(f"{where}: cannot fold constant neurons into the next layer: it has no bias")
            else:
                biases[k + 1] = (biases[k + 1] + shift).astype(biases[k + 1].dtype)
        weights[k] = weights[k][:, mask]
        if biases[k] is not None:
            biases[k] = biases[k][mask]
        weights[k + 1] = weights[k + 1][mask]
    return weights, biases


def select_layers(stats: Sequence[RunningStats], rule: str, mean_max: float, std_max: float,
                  layers: Sequence[int] | None = None,
                  ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray | None]]:
    """``select`` on each of ``layers`` (default: all): ``(keep, constants)`` by layer, as
    ``remove_neurons`` takes them."""
    chosen = {k: select(stats[k], rule, mean_max, std_max) for k in (range(len(stats)) if layers is None else layers)}
    return {k: keep for k, (keep, _) in chosen.items()}, {k: constants for k, (_, constants) in chosen.items()}


def prune(model: Prunable, stats: Sequence[RunningStats], rule: str, mean_max: float, std_max: float,
          layers: Sequence[int] | None = None) -> Prunable:
    """``model`` without the neurons of ``layers`` (default: every hidden layer) that ``rule``
    removes at these thresholds."""
    return model.rebuild(*remove_neurons(*model.arrays(), *select_layers(stats, rule, mean_max, std_max, layers)))


class SentimentTarget:
    """``models.sentiment.SentimentNet`` as a ``Prunable``: ``W0`` (applied as a sum of the rows of
    a review's words, which is the 0/1 bag-of-words vector times ``W0``), a linear hidden layer
    without bias, ``W1`` and the output bias ``b``. A model without ``b`` is treated as ``b = 0``
    and gets one only if folding makes it non-zero."""

    def __init__(self, net: sentiment.SentimentNet) -> None:
        self.net = net
        ids, segments, n = gg.ivector("ids"), gg.ivector("segments"), gg.iscalar("n_reviews")
        # The model's hidden layer, rebuilt from its public parameters: SentimentNet exposes p only.
        hidden = gg.segment_sum(gg.take(net.W0, ids), segments, n)
        self._hidden = gg.function([ids, segments, n], [hidden], name="sentiment_hidden")

    def arrays(self) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """``[W0, W1]`` and ``[None, b]``."""
        b = self.net.b.get_value() if self.net.b is not None else np.zeros(1, dtype=np.float32)
        return [self.net.W0.get_value(), self.net.W1.get_value()], [None, b]

    def rebuild(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None]) -> SentimentTarget:
        """A SentimentNet with these arrays (same vocabulary; config updated to the new width)."""
        w0, w1 = weights
        bias = self.net.b is not None or bool(np.any(biases[1]))
        config = dataclasses.replace(self.net.config, hidden=w0.shape[1], bias=bias)
        return SentimentTarget(sentiment.SentimentNet(self.net.vocab, config, {"W0": w0, "W1": w1, "b": biases[1]}))

    def collapsed(self) -> SentimentTarget:
        """The exact one-neuron equivalent: the hidden layer is linear and the output a single
        unit, so ``sigmoid((x W0) W1 + b) = sigmoid(x (W0 W1) + b)``: ``W0 W1`` is a
        vocabulary-by-1 first layer and the second layer is 1."""
        (w0, w1), biases = self.arrays()
        merged = (w0.astype(np.float64) @ w1).astype(w0.dtype)
        return self.rebuild([merged, np.ones((1, 1), dtype=w1.dtype)], biases)

    def hidden_activations(self, data: imdb.Split, batch_size: int) -> Iterator[list[np.ndarray]]:
        """The hidden layer (sum of the reviews' ``W0`` rows), batch by batch."""
        for indices in mlp.batches(len(data), batch_size):
            ids, segments, _ = data.batch(indices)
            yield self._hidden(ids, segments, np.int32(len(indices)))

    def evaluate(self, data: imdb.Split, batch_size: int) -> float:
        """Test accuracy (the model's own evaluation; ``batch_size`` is its own)."""
        return self.net.evaluate(data, progress=False)[0]


if __name__ == "__main__":
    # The command line lives in prune_sweep, which imports this module: import it only when run.
    from .prune_sweep import main

    main()
