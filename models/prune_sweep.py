"""The pruning experiment on top of ``models.prune``: sweep thresholds, tabulate, plot, report.

1. ``sweep``: for a grid of thresholds and each rule, prune, evaluate and count parameters.
2. ``markdown_table``, ``best_rows``, ``plot_statistics``, ``plot_accuracy``: the sweep as tables
   and PNG plots; ``write_section`` puts a run's part into a shared Markdown report.
3. ``main``: the command line, run as ``python -m models.prune --kind mlp --train --model mlp.npz
   --report docs/pruning.md`` (see ``--help``; without ``--train`` it prunes the saved
   ``--model``); it writes a section of the report (tables + PNG plots) that other runs leave alone.
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
from typing import Any, Sequence

import matplotlib
import numpy as np
from tqdm import tqdm

from . import imdb, mlp, mlp_imdb, prune, sentiment
from .prune import (RULES, EmptyLayerError, Prunable, RunningStats, SentimentTarget, collect_statistics, n_params,
                    remove_neurons, select_layers)

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

# Settings that change speed, recorded with the command in the report.
ENVIRONMENT = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


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
                                     description=prune.__doc__.split("\n\n")[0].replace("\n", " "))
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
    mlp_imdb.add_training_options(mlp_options)
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
            train, valid, test = mlp_imdb.imdb_bag_of_words(corpus, args.words, args.validation, args.seed, args.input)
            model = mlp_imdb.train_imdb(args, train, corpus.vocab.words)
            if args.model:
                model.save(args.model)
        else:
            model = mlp.MLP.load(args.model)
            words = model.extra.get("words")
            if words is not None and list(words) != corpus.vocab.words[:len(words)]:
                raise SystemExit(f"models.prune: {args.model} was trained on other input words than the "
                                 f"{len(words):,} most frequent of this corpus (another --data or vocabulary?)")
            _, valid, test = mlp_imdb.imdb_bag_of_words(corpus, model.sizes[0], args.validation, args.seed,
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
