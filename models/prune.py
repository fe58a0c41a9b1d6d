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
   a smaller model, not a mask.
4. ``sweep``: for a grid of thresholds and each rule, prune, evaluate and count parameters.

A model takes part through the ``Prunable`` protocol: ``models.mlp.MLP`` implements it, and
``SentimentTarget`` adapts ``models.sentiment.SentimentNet`` (one linear hidden layer).

Command line: ``python -m models.prune --kind mlp --train --model mlp.npz --report
docs/pruning.md`` (see ``--help``; without ``--train`` it prunes the saved ``--model``); it
writes a section of the report (tables + PNG plots) that other runs leave alone.
"""
from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol, Sequence

import matplotlib
import numpy as np
from tqdm import tqdm

import graphgrad as gg

from . import imdb, mlp, sentiment

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

RULES = ("post", "fold", "post+fold")
# Settings that change speed, recorded with the command in the report.
ENVIRONMENT = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


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


@dataclass
class SweepRow:
    """One pruned network of a sweep (``accuracy`` is None when it could not be built)."""

    rule: str
    mean_max: float | None  # None: the rule ignores the mean
    std_max: float
    kept: list[int]
    params: int
    reduction: float  # fraction of the original parameters removed
    accuracy: float | None
    change: float | None  # accuracy - original accuracy, in fractions
    note: str = ""
    valid_change: float | None = None  # the same on the selection data, when given


def sweep(model: Prunable, stats: Sequence[RunningStats], data: Any, mean_grid: Sequence[float],
          std_grid: Sequence[float], rules: Sequence[str] = RULES, layers: Sequence[int] | None = None,
          batch_size: int = 512, progress: bool = True, selection: Any = None) -> tuple[float, list[SweepRow]]:
    """``(original accuracy on data, rows)``: every rule at every threshold pair (``fold``
    ignores the mean, so it gets one row per ``std_max``). Threshold pairs that select the same
    neurons are evaluated once. With ``selection`` data (e.g. the validation split), rows also
    get ``valid_change`` on it, to choose thresholds without looking at ``data``."""
    original = n_params(*model.arrays())
    baseline = model.evaluate(data, batch_size)
    valid_baseline = model.evaluate(selection, batch_size) if selection is not None else None
    settings = [(rule, mean_max, std_max) for rule in rules
                for mean_max in ([None] if rule == "fold" else mean_grid) for std_max in std_grid]
    evaluated: dict[tuple, tuple[int, float, float | None]] = {}
    rows = []
    for rule, mean_max, std_max in tqdm(settings, desc="sweep", unit=" settings", disable=not progress):
        keep, constants = select_layers(stats, rule, np.inf if mean_max is None else mean_max, std_max, layers)
        kept = [int(keep[k].sum()) if k in keep else len(layer.mean) for k, layer in enumerate(stats)]
        key = (rule != "post", *(np.flatnonzero(mask).tobytes() for mask in keep.values()))
        try:
            if key not in evaluated:
                weights, biases = remove_neurons(*model.arrays(), keep, constants)
                pruned = model.rebuild(weights, biases)
                valid_change = None if selection is None else pruned.evaluate(selection, batch_size) - valid_baseline
                evaluated[key] = (n_params(weights, biases), pruned.evaluate(data, batch_size), valid_change)
        except EmptyLayerError as error:
            rows.append(SweepRow(rule, mean_max, std_max, kept, original, 0.0, None, None,
                                 f"not built: hidden layer {error.layer} would be empty"))
            continue
        params, accuracy, valid_change = evaluated[key]
        rows.append(SweepRow(rule, mean_max, std_max, kept, params, 1 - params / original, accuracy,
                             accuracy - baseline, valid_change=valid_change))
    return baseline, rows


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


# --- report -----------------------------------------------------------------------------------------
def _format_threshold(value: float | None) -> str:
    return "any" if value is None else f"{value:g}"


def markdown_table(baseline: float, original: int, rows: Sequence[SweepRow], sizes: Sequence[int],
                   distinct: bool = False) -> str:
    """The sweep as a Markdown table (the original network first). ``distinct``: only the first
    row of each rule giving a network already listed (or no network), in grid order."""
    seen: set[tuple] = set()
    lines = ["| rule | mean <= | std <= | kept neurons | parameters | size reduction | test accuracy | change "
             "| valid change |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|",
             f"| none (original) | | | {'/'.join(map(str, sizes))} | {original:,} | 0.0% | {100 * baseline:.2f}% | | |"]
    for row in rows:
        outcome = (row.rule, None) if row.accuracy is None else (row.rule, tuple(row.kept), row.params, row.accuracy)
        if distinct and outcome in seen:
            continue
        seen.add(outcome)
        accuracy = "—" if row.accuracy is None else f"{100 * row.accuracy:.2f}%"
        change = row.note if row.change is None else f"{100 * row.change:+.2f} pp"
        valid_change = "" if row.valid_change is None else f"{100 * row.valid_change:+.2f} pp"
        lines.append(f"| {row.rule} | {_format_threshold(row.mean_max)} | {row.std_max:g} | "
                     f"{'/'.join(map(str, row.kept))} | {row.params:,} | {100 * row.reduction:.1f}% | {accuracy} | "
                     f"{change} | {valid_change} |")
    return "\n".join(lines)


def best_rows(rows: Sequence[SweepRow], max_loss: float, on: str = "test") -> dict[str, SweepRow]:
    """Per rule, the row with the largest size reduction losing at most ``max_loss`` accuracy
    on the test data (``on="test"``) or on the selection data (``on="valid"``)."""
    best: dict[str, SweepRow] = {}
    for row in rows:
        change = row.change if on == "test" else row.valid_change
        if change is not None and change >= -max_loss and (
                row.rule not in best or row.reduction > best[row.rule].reduction):
            best[row.rule] = row
    return best


def plot_statistics(stats: Sequence[RunningStats], path: Path, title: str) -> None:
    """Histograms of per-neuron mean and std, one row per hidden layer."""
    figure, axes = plt.subplots(len(stats), 2, figsize=(9, 2.6 * len(stats)), squeeze=False)
    for k, layer in enumerate(stats):
        for column, (values, name) in enumerate(((layer.mean, "mean"), (layer.std, "std"))):
            axis = axes[k][column]
            axis.hist(values, bins=50, color="tab:blue" if column == 0 else "tab:orange")
            axis.set_title(f"hidden layer {k}: per-neuron {name} ({len(values)} neurons)", fontsize=9)
            axis.set_ylabel("neurons")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_accuracy(baseline: float, original: int, rows: Sequence[SweepRow], path: Path, title: str) -> None:
    """Test accuracy against parameter count, one series per rule: all of it, and zoomed in on
    the original accuracy."""
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, zoom in zip(axes, (False, True)):
        for rule, marker in zip(RULES, "os^"):
            points = sorted({(row.params, row.accuracy) for row in rows
                             if row.rule == rule and row.accuracy is not None})
            if points:
                axis.plot([p for p, _ in points], [100 * a for _, a in points], marker=marker, linestyle="none",
                          label=f"rule {rule}", alpha=0.75)
        axis.axhline(100 * baseline, color="gray", linewidth=1, label="original")
        axis.axhline(100 * baseline - 0.5, color="gray", linewidth=1, linestyle="--", label="original - 0.5 pp")
        axis.axvline(0.26 * original, color="tab:red", linewidth=1, linestyle=":", label="74% fewer parameters")
        axis.set_xscale("log")
        axis.set_xlabel("parameters (log scale)")
        axis.set_ylabel("test accuracy (%)")
        axis.set_title(f"{title}{' (zoom)' if zoom else ''}")
        if zoom:
            axis.set_ylim(100 * baseline - 2.5, 100 * baseline + 0.5)
        else:
            axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_section(report: Path, name: str, text: str) -> None:
    """Put ``text`` between the markers of section ``name`` in ``report``, keeping everything
    else; the file is locked meanwhile, so runs finishing together do not lose each other's part."""
    begin, end = f"<!-- prune:{name} begin -->", f"<!-- prune:{name} end -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    with open(report, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        old = handle.read() or "# Neuron pruning by activation statistics\n"
        new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip() + "\n\n" + block + "\n"
        handle.seek(0)
        handle.truncate()
        handle.write(new)


# --- command line -----------------------------------------------------------------------------------
def _floats(text: str) -> list[float]:
    return [float(value) for value in text.split(",") if value.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models.prune",
                                     description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--kind", choices=("mlp", "sentiment"), default="mlp")
    parser.add_argument("--model", type=Path, help="a saved model (.npz) to prune; with --train, where to save "
                                                   "the trained one")
    parser.add_argument("--train", action="store_true", help="train a model first (on train minus validation)")
    parser.add_argument("--data", help="IMDB tarball, aclImdb/ folder or reviews.txt (see models.imdb)")
    parser.add_argument("--cache-dir", help="corpus cache folder")
    parser.add_argument("--validation", type=float, default=0.1,
                        help="fraction of the train split held out for the statistics")
    parser.add_argument("--mean-grid", type=_floats, default=[0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0])
    parser.add_argument("--std-grid", type=_floats, default=[0.0, 0.01, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0])
    parser.add_argument("--rules", default=",".join(RULES), help=f"comma-separated, from {RULES}")
    parser.add_argument("--layers", help="hidden layers to prune, comma-separated (default: all)")
    parser.add_argument("--eval-batch-size", type=int, default=500, help="batch size for statistics and evaluation")
    parser.add_argument("--report", type=Path, help="Markdown file whose section --name is (re)written")
    parser.add_argument("--name", help="the report section and PNG names (default: --kind)")
    parser.add_argument("--plots-dir", type=Path, help="where the PNGs go (default: the report's folder)")
    parser.add_argument("--json", type=Path, help="also write the sweep as JSON")
    parser.add_argument("--no-progress", action="store_true")
    mlp_options = parser.add_argument_group("MLP training (--kind mlp --train)")
    mlp.add_training_options(mlp_options)
    sentiment_options = parser.add_argument_group("sentiment training (--kind sentiment --train)")
    sentiment_options.add_argument("--sentiment-hidden", type=int, default=128)
    sentiment_options.add_argument("--sentiment-epochs", type=int, default=1)
    sentiment_options.add_argument("--sentiment-lr", type=float, default=sentiment.DEFAULT_LR)
    sentiment_options.add_argument("--sentiment-batch-size", type=int, default=1)
    sentiment_options.add_argument("--sentiment-init", choices=sentiment.INITS, default="lesson")
    return parser


def _prepare(args: argparse.Namespace, corpus: imdb.Corpus) -> tuple[Prunable, Any, Any, str]:
    """``(model, validation data, test data, description)``, training the model if asked."""
    progress = not args.no_progress
    if args.kind == "mlp":
        if args.train:
            train, valid, test = mlp.imdb_bag_of_words(corpus, args.words, args.validation, args.seed, args.input)
            model = mlp.train_imdb(args, train, corpus.vocab.words)
            if args.model:
                model.save(args.model)
        else:
            model = mlp.MLP.load(args.model)
            words = model.extra.get("words")
            if words is not None and list(words) != corpus.vocab.words[:len(words)]:
                raise SystemExit(f"models.prune: {args.model} was trained on other input words than the "
                                 f"{len(words):,} most frequent of this corpus (another --data or vocabulary?)")
            _, valid, test = mlp.imdb_bag_of_words(corpus, model.sizes[0], args.validation, args.seed,
                                                   model.input_kind)
        return model, valid, test, (f"MLP {'-'.join(map(str, model.sizes))}, {model.activation} hidden layers, "
                                    f"{model.output} output, inputs: 0/1 bag of the {model.sizes[0]:,} most "
                                    "frequent training words")
    train, valid = imdb.split_validation(corpus.train, args.validation, args.seed)
    if args.train:
        config = sentiment.Config(hidden=args.sentiment_hidden, init=args.sentiment_init, seed=args.seed,
                                  lr=args.sentiment_lr, epochs=args.sentiment_epochs,
                                  batch_size=args.sentiment_batch_size)
        net = sentiment.SentimentNet(corpus.vocab, config)
        net.fit(train, progress=progress)
        if args.model:
            net.save(args.model)
    else:
        net = sentiment.SentimentNet.load(args.model)
    valid = sentiment.reindex(valid, corpus.vocab, net.vocab)
    test = sentiment.reindex(corpus.test, corpus.vocab, net.vocab)
    c = net.config
    return SentimentTarget(net), valid, test, (
        f"sentiment network (models.sentiment): vocabulary {len(net.vocab):,} -> linear hidden layer of "
        f"{c.hidden} (sum of W0 rows, no bias) -> sigmoid; init {c.init}, lr {c.lr}, {c.epochs} epoch(s), "
        f"batch size {c.batch_size}")


def main(argv: list[str] | None = None) -> list[SweepRow]:
    """Train or load a model, collect statistics on the validation split, sweep, report."""
    args = _parser().parse_args(argv)
    if not args.train and not args.model:
        raise SystemExit("models.prune: give --model FILE to prune a saved model, or --train")
    rules = [rule.strip() for rule in args.rules.split(",") if rule.strip()]
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise SystemExit(f"models.prune: unknown rules {unknown}; choose from {RULES}")
    progress = not args.no_progress
    corpus = imdb.load(args.data, cache_dir=args.cache_dir, progress=progress)
    start = time.perf_counter()
    model, valid, test, description = _prepare(args, corpus)
    train_seconds = time.perf_counter() - start
    weights, biases = model.arrays()
    sizes = [w.shape[1] for w in weights[:-1]]
    layers = [int(k) for k in args.layers.split(",")] if args.layers else None
    start = time.perf_counter()
    stats = collect_statistics(model, valid, args.eval_batch_size, progress)
    stats_seconds = time.perf_counter() - start
    start = time.perf_counter()
    baseline, rows = sweep(model, stats, test, args.mean_grid, args.std_grid, rules, layers, args.eval_batch_size,
                           progress, selection=valid)
    sweep_seconds = time.perf_counter() - start
    original = n_params(weights, biases)
    table = markdown_table(baseline, original, rows, sizes)
    print(table)
    notes = [f"`{rule}`, {how}: mean <= {_format_threshold(row.mean_max)}, std <= {row.std_max:g}: kept "
             f"{'/'.join(map(str, row.kept))} of {'/'.join(map(str, sizes))} neurons, {row.params:,} of {original:,} "
             f"parameters (**{100 * row.reduction:.1f}% fewer**), test accuracy {100 * row.accuracy:.2f}% "
             f"(**{100 * row.change:+.2f} pp**)."
             for on, how in (("valid", "chosen on the validation split (largest reduction losing <= 0.5 pp there)"),
                             ("test", "best in hindsight on the test split (optimistic)"))
             for rule, row in best_rows(rows, 0.005, on).items()]
    if isinstance(model, SentimentTarget):
        collapsed = model.collapsed()
        accuracy, params = collapsed.evaluate(test, args.eval_batch_size), n_params(*collapsed.arrays())
        notes.append(f"Not pruning but algebra, for comparison: the linear hidden layer collapses exactly into one "
                     f"neuron (`W0 W1`, `SentimentTarget.collapsed`): {params:,} parameters "
                     f"(**{100 * (1 - params / original):.1f}% fewer**), test accuracy {100 * accuracy:.2f}% "
                     f"({100 * (accuracy - baseline):+.2f} pp).")
    print("\n".join(notes))
    if args.json:
        args.json.write_text(json.dumps({"baseline": baseline, "params": original, "sizes": sizes,
                                         "rows": [dataclasses.asdict(row) for row in rows]}, indent=1) + "\n")
    if args.report:
        plots = args.plots_dir or args.report.parent
        plots.mkdir(parents=True, exist_ok=True)
        name = args.name or args.kind
        stats_png, accuracy_png = plots / f"pruning_{name}_stats.png", plots / f"pruning_{name}_accuracy.png"
        plot_statistics(stats, stats_png, f"{name}: per-neuron activation statistics ({stats[0].count:,} "
                                          "validation reviews)")
        plot_accuracy(baseline, original, rows, accuracy_png, f"{name}: test accuracy vs parameters")
        write_section(args.report, name, _section(args, description, sizes, original, baseline, rows, table, notes,
                                                  stats, (train_seconds, stats_seconds, sweep_seconds),
                                                  (stats_png, accuracy_png)))
    return rows


def _section(args: argparse.Namespace, description: str, sizes: Sequence[int], original: int, baseline: float,
             rows: Sequence[SweepRow], table: str, notes: Sequence[str], stats: Sequence[RunningStats],
             seconds: tuple[float, ...], pngs: tuple[Path, Path]) -> str:
    """The generated part of the report for one model."""
    relative = [png.relative_to(args.report.parent) if png.is_relative_to(args.report.parent) else png for png in pngs]
    lines = [f"## {args.name or args.kind}", "", f"Model: {description}.", "",
             "Command: `" + "".join(f"{name}={os.environ[name]} " for name in ENVIRONMENT if name in os.environ)
             + "python -m models.prune " + " ".join(sys.argv[1:]) + "`", "",
             f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}; "
             f"train/load {seconds[0]:.0f} s, statistics {seconds[1]:.1f} s over {stats[0].count:,} validation "
             f"reviews, sweep {seconds[2]:.0f} s (shared machine: times are indicative).", "",
             "Per-layer activation statistics (validation split): " + "; ".join(
                 f"layer {k}: {int((s.std == 0).sum())} of {len(s.std)} neurons exactly constant "
                 f"({int(((s.std == 0) & (s.mean == 0)).sum())} of them always 0), median std {np.median(s.std):.3g}, "
                 f"median |mean| {np.median(np.abs(s.mean)):.3g}" for k, s in enumerate(stats)) + ".", "",
             "Distinct outcomes (the first threshold pair of the grid giving each pruned network):", "",
             markdown_table(baseline, original, rows, sizes, distinct=True), "",
             "<details><summary>The whole grid</summary>", "", table, "", "</details>", "",
             *(f"- {note}" for note in notes)]
    lines += ["", f"![per-neuron statistics]({relative[0]})", "", f"![accuracy vs parameters]({relative[1]})"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
