"""Training speed of the IMDB sentiment net: graphgrad against hand-written numpy and the lesson.

    python -m benchmarks.sentiment_speed --data ../shared/data/aclImdb.tar.gz --report docs/sentiment.md

One process, one data set (the cached Stanford split), the same initial weights, learning rate
and review order for every implementation; repetitions interleaved (see benchmarks/timing.py).
Only the steps are timed: every implementation gets its reviews ready-made (arrays; the lesson's
loop gets the Python lists of ids its pre-processing makes).

- per review: graphgrad's compiled step (models.sentiment) vs benchmarks.reference_sentiment's
  NumpySentiment (vectorized gather/update), LessonLoopSentiment (the lesson's Python loops over
  word ids, with its data types), LoopSentiment (the same loops on float32 and numpy ids) and
  DenseSentiment (a vocabulary-sized 0/1 input); the loops and the dense version on a subset;
- mini-batches: graphgrad's segment-sum step vs NumpySentimentBatch;
- memory: step time and tracemalloc peak with W0 as it is and 10x taller (same reviews);
- per node: where one graphgrad step spends its time (``Function.evaluate``), and the
  generated source.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402

import graphgrad as gg  # noqa: E402
from graphgrad.floats import float_expr, runs_on_floats  # noqa: E402
from benchmarks.reference_sentiment import (DenseSentiment, LessonLoopSentiment, LoopSentiment,  # noqa: E402
                                            NumpySentiment, NumpySentimentBatch, pack_batch)
from benchmarks.timing import (command_line, interleaved, machine, machine_line,  # noqa: E402
                               markdown_table, update_report, write_json)
from models import imdb  # noqa: E402
from models.sentiment import DEFAULT_LR, Config, SentimentNet, initial_weights, review_order  # noqa: E402
from models.vocab import Vocabulary  # noqa: E402

Step = Callable[..., Any]
#: Reviews per timed call of each implementation: a few hundredths of a second to a tenth each.
CHUNKS = {"graphgrad": 2500, "numpy": 2500, "lesson loop": 100, "loop, float32": 150, "dense": 20}


def run_reviews(step: Step, reviews: Sequence[Any], targets: Sequence[Any]) -> Callable[[], None]:
    """A timing body: one step per review (its ids, or its number for a step holding the reviews)."""
    def body() -> None:
        for ids, target in zip(reviews, targets):
            step(ids, target)
    return body


def run_batches(step: Step, batches: Sequence[tuple]) -> Callable[[], None]:
    """A timing body: one step per prepared batch."""
    def body() -> None:
        for batch in batches:
            step(*batch)
    return body


def numpy_accuracy(model: NumpySentiment, reviews: Sequence[np.ndarray], labels: np.ndarray) -> float:
    """Test accuracy of a reference model."""
    p = np.array([model.predict(ids) for ids in reviews])
    return float(np.mean((p > 0.5) == (labels > 0.5)))


def cycling(step: Step, items: Sequence[Any], targets: Sequence[Any], chunk: int) -> Callable[[], None]:
    """A timing body that steps on the next ``chunk`` reviews at each call, around the epoch: every
    call steps exactly ``chunk`` times, wrapping past the end."""
    laps = -(-chunk // len(items)) + 1
    items, targets, position = list(items) * laps, list(targets) * laps, 0

    def body() -> None:
        nonlocal position
        first, position = position, (position + chunk) % (len(items) // laps)
        for ids, target in zip(items[first:first + chunk], targets[first:first + chunk]):
            step(ids, target)
    return body


def per_review(corpus: imdb.Corpus, reps: int, chunks: dict[str, int]) -> dict[str, Any]:
    """Reviews/s of each per-review implementation, and the test accuracy after one epoch of
    graphgrad and of NumpySentiment from the same weights in the same order.

    The machine's speed drifts over seconds, so each repetition runs every implementation on its
    next ``chunks[name]`` reviews in turn, and each implementation's
    speed relative to graphgrad is the median over repetitions of the ratio within a repetition.
    """
    config = Config()
    order = review_order(corpus.train.labels, config.order, np.random.default_rng(config.seed))
    reviews = [corpus.train.review(i) for i in order]
    numbers = [np.int32(i) for i in order]  # graphgrad's step holds the training set (see review_step)
    targets32 = [np.float32(corpus.train.labels[i]) for i in order]
    targets = [float(t) for t in targets32]
    test_reviews = [corpus.test.review(i) for i in range(len(corpus.test))]
    start = initial_weights(len(corpus.vocab), config)

    accuracy = {}
    model = SentimentNet(corpus.vocab, config, {k: v.copy() for k, v in start.items()})
    run_reviews(model.review_step(corpus.train), numbers, targets32)()
    accuracy["graphgrad"] = model.evaluate(corpus.test, progress=False)[0]
    reference = NumpySentiment(start["W0"], start["W1"], lr=config.lr)
    run_reviews(reference.step, reviews, targets)()
    accuracy["numpy"] = numpy_accuracy(reference, test_reviews, corpus.test.labels)

    model = SentimentNet(corpus.vocab, config, {k: v.copy() for k, v in start.items()})
    sizes = {"graphgrad": chunks["graphgrad"], "graphgrad, ids per call": chunks["graphgrad"]}
    bodies = {"graphgrad": cycling(model.review_step(corpus.train), numbers, targets32, chunks["graphgrad"]),
              "graphgrad, ids per call": cycling(model.review_step(), reviews, targets32, chunks["graphgrad"])}
    for name, cls in (("numpy", NumpySentiment), ("lesson loop", LessonLoopSentiment), ("loop, float32", LoopSentiment),
                      ("dense", DenseSentiment)):
        reference = cls(start["W0"], start["W1"], lr=config.lr)
        # the lesson's loop takes the Python lists of ids its pre-processing made
        ids = [r.tolist() for r in reviews] if cls is LessonLoopSentiment else reviews
        sizes[name] = chunks[name]
        bodies[name] = cycling(reference.step, ids, targets, chunks[name])
    # The dense version's vocabulary-sized products run on every core, and OpenBLAS's threads then
    # spin for a while: timed in the same rotation, that CPU time would fall on whoever runs next.
    timings = {**interleaved({k: v for k, v in bodies.items() if k != "dense"}, reps, desc="per-review"),
               **interleaved({"dense": bodies["dense"]}, max(reps // 4, 1), desc="dense")}
    rates = {name: {kind: [sizes[name] / s for s in timings[name][kind]["samples"]] for kind in ("wall", "cpu")}
             for name in bodies}
    relative = {name: statistics.median(g / x for g, x in zip(rates["graphgrad"]["cpu"], rates[name]["cpu"]))
                for name in bodies if name != "dense"}
    relative["dense"] = statistics.median(rates["graphgrad"]["cpu"]) / statistics.median(rates["dense"]["cpu"])
    return {"chunks": sizes, "rates": rates, "graphgrad_is": relative,
            "median_rate": {name: statistics.median(r["cpu"]) for name, r in rates.items()},
            "median_wall_rate": {name: statistics.median(r["wall"]) for name, r in rates.items()},
            "test_accuracy_one_epoch": accuracy}


def mini_batches(corpus: imdb.Corpus, reps: int, sizes: Sequence[int]) -> dict[str, Any]:
    """Reviews/s of graphgrad's and numpy's mini-batch steps (one epoch per repetition)."""
    config = Config()
    order = review_order(corpus.train.labels, config.order, np.random.default_rng(config.seed))
    start = initial_weights(len(corpus.vocab), config)
    bodies: dict[str, Callable[[], None]] = {}
    for size in sizes:
        chosen = [order[k:k + size] for k in range(0, len(order), size)]
        gg_batches = [(*corpus.train.batch(c)[:2], np.int32(len(c)), corpus.train.labels[c]) for c in chosen]
        np_batches = [(*pack_batch([corpus.train.review(i) for i in c]), corpus.train.labels[c]) for c in chosen]
        model = SentimentNet(corpus.vocab, config, {k: v.copy() for k, v in start.items()})
        bodies[f"graphgrad {size}"] = run_batches(model.batch_step(), gg_batches)
        # the reference averages the loss of a batch, graphgrad sums it: same step with lr * size
        reference = NumpySentimentBatch(start["W0"], start["W1"], lr=config.lr * size)
        bodies[f"numpy {size}"] = run_batches(reference.step, np_batches)
    timings = interleaved(bodies, reps, warmup=0, desc="mini-batch")
    return {name: statistics.median(len(order) / s for s in timings[name]["cpu"]["samples"]) for name in bodies}


def memory(corpus: imdb.Corpus, reps: int, steps: int, factor: int = 10) -> dict[str, Any]:
    """Step time and extra memory of a graphgrad step with W0 as it is and ``factor`` times taller."""
    config = Config()
    numbers = [np.int32(i) for i in range(steps)]
    targets = [np.float32(t) for t in corpus.train.labels[:steps]]
    models = {}
    for scale in (1, factor):
        size = scale * len(corpus.vocab)
        # extra rows no review uses: the words are placeholders, only the table size matters
        vocab = Vocabulary([f"w{i}" for i in range(size)], np.ones(size, dtype=np.int64))
        models[f"W0 x{scale}"] = SentimentNet(vocab, config)
    steps_of = {name: model.review_step(corpus.train) for name, model in models.items()}
    timings = interleaved({name: run_reviews(step, numbers, targets) for name, step in steps_of.items()},
                          reps, desc="memory")
    result = {}
    for name, step in steps_of.items():
        body = run_reviews(step, numbers, targets)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        body()
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        result[name] = {"W0_bytes": models[name].W0.get_value().nbytes, "peak_extra_bytes": peak,
                        "step_us": statistics.median(timings[name]["cpu"]["samples"]) / steps * 1e6}
    return result


def per_node(corpus: imdb.Corpus, reps: int, steps: int, calls: int = 2000) -> dict[str, Any]:
    """Where a compiled step's time goes: CPU time per call of the forward pass alone, of the
    step without and with the W0 update (interleaved), and of each node's ``perform`` called
    ``calls`` times on a real review's values (nodes the generated code writes as a numpy or
    Python-float expression instead are marked: their ``perform`` is not what runs)."""
    model = SentimentNet(corpus.vocab, Config())
    step = model.review_step(corpus.train)
    review, target = gg.iscalar("review"), gg.scalar("target")
    ids = gg.bag(gg.as_tensor(corpus.train.ids), gg.as_tensor(corpus.train.offsets), review)
    p = gg.sigmoid(gg.dot(gg.take(model.W0, ids).sum(axis=0), model.W1))
    g_W0, g_W1 = gg.grad(gg.binary_crossentropy(p, target).sum(), [model.W0, model.W1])
    variants = {"forward only": gg.function([review, target], p),
                "step without the W0 update": gg.function([review, target], p,
                                                          updates=[(model.W1, model.W1 - model.lr * g_W1)]),
                "full step": step}
    numbers = [np.int32(i) for i in range(steps)]
    targets = [np.float32(t) for t in corpus.train.labels[:steps]]
    timings = interleaved({name: run_reviews(fn, numbers, targets) for name, fn in variants.items()}, reps,
                          desc="per node")
    values = step.evaluate([numbers[0], targets[0]])
    nodes = {}
    for k, node in enumerate(step.nodes):
        inputs = [values[v] for v in node.inputs]
        described = ", ".join(v.name or v.type.describe() for v in node.inputs)
        start = time.process_time()
        for _ in range(calls):
            node.op.perform(*inputs)
        names = [f"x{i}" for i in range(len(node.inputs))]
        if f"v{k}_0 = " not in step.source and f"f{k} = " not in step.source:
            inlined = "(not generated: only the write-back of gathered rows would read it)"
        else:
            inlined = float_expr(node, names) if runs_on_floats(node) else node.op.py_expr(node, names)
        nodes[f"{k}: {node.op.label()}({described})"] = {
            "perform_us": (time.process_time() - start) / calls * 1e6, "inlined_as": inlined}
    return {"nodes": nodes, "n_nodes": len(step.nodes), "source": step.source,
            "call_us": {name: statistics.median(t["cpu"]["samples"]) / steps * 1e6 for name, t in timings.items()}}


def plot(rates: dict[str, float], path: Path) -> None:
    """Bar chart of per-review training rates (log scale)."""
    figure, axes = plt.subplots(figsize=(6, 3))
    names = list(rates)
    axes.barh(names, [rates[n] for n in names], color=["tab:green" if n.startswith("graphgrad") else "tab:gray"
                                                        for n in names])
    axes.set_xscale("log")
    axes.set_xlim(right=4 * max(rates.values()))  # room for the labels
    axes.set_xlabel("training reviews / s (CPU time, median)")
    axes.set_title("Per-review SGD on IMDB, hidden 10")
    for y, name in enumerate(names):
        axes.text(rates[name], y, f" {rates[name]:,.0f}", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def report(results: dict[str, Any], png: Path | None) -> str:
    """The Markdown section for docs/sentiment.md."""
    reviews, rates = results["per_review"], results["per_review"]["median_rate"]
    walls = results["per_review"]["median_wall_rate"]
    lines = [f"Command: `{results['command']}`", "", f"Machine: {machine_line(results['machine'])}", ""]
    rows = [[name, f"{reviews['chunks'][name]:,}", f"{rates[name]:,.0f}", f"{walls[name]:,.0f}",
             f"{reviews['graphgrad_is'][name]:.2f}x",
             f"{reviews['test_accuracy_one_epoch'][name]:.2%}" if name in reviews['test_accuracy_one_epoch'] else ""]
            for name in rates]
    lines += ["Per-review SGD (hidden 10, lr {:g}, the epoch's review order). Each of {} repetitions runs every "
              "implementation on its next chunk of reviews in turn; rates are medians over repetitions "
              "(CPU time; wall-clock next to them), and graphgrad's speed relative to each is the median of "
              "the ratios within a repetition (the dense version, timed apart, by the ratio of medians):"
              .format(DEFAULT_LR, results["reps"]), "",
              markdown_table(["implementation", "reviews per chunk", "reviews/s (CPU)", "reviews/s (wall)",
                              "graphgrad is", "test acc. (1 epoch)"], rows), ""]
    if png:
        lines += [f"![per-review rates]({png.name})", ""]
    batch = results["mini_batch"]
    sizes = sorted({int(name.split()[1]) for name in batch})
    lines += ["Mini-batch SGD (one epoch per repetition, batches prepared beforehand):", "",
              markdown_table(["batch size", "graphgrad reviews/s", "numpy reviews/s", "graphgrad is"],
                             [[s, f"{batch[f'graphgrad {s}']:,.0f}", f"{batch[f'numpy {s}']:,.0f}",
                               f"{batch[f'graphgrad {s}'] / batch[f'numpy {s}']:.2f}x"] for s in sizes]), ""]
    mem = results["memory"]
    lines += ["Memory: the same graphgrad steps with W0 as it is and 10x taller:", "",
              markdown_table(["table", "W0 size", "step time (us)", "tracemalloc peak during the steps"],
                             [[name, f"{m['W0_bytes'] / 2**20:.1f} MiB", f"{m['step_us']:.1f}",
                               f"{m['peak_extra_bytes'] / 2**10:.1f} KiB"] for name, m in mem.items()]), ""]
    nodes = results["per_node"]
    lines += [f"Where one compiled step ({nodes['n_nodes']} nodes) spends its time, CPU us per call "
              "(median of interleaved repetitions):", "",
              markdown_table(["function", "us per call"], [[k, f"{v:.1f}"] for k, v in nodes["call_us"].items()]),
              "", "Each node's `perform` alone; the generated code writes the marked ones as numpy or "
              "Python-float expressions instead (or leaves them out), so their `perform` time is not what "
              "the step pays:", "",
              markdown_table(["node (schedule position)", "perform us", "generated as"],
                             [[f"`{k}`", f"{v['perform_us']:.2f}", f"`{v['inlined_as']}`" if v["inlined_as"] else ""]
                              for k, v in nodes["nodes"].items()]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every measurement, print the report, and write the requested files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="IMDB tarball/folder (default: $GRAPHGRAD_DATA, cache, download)")
    parser.add_argument("--cache-dir", help="corpus cache folder")
    parser.add_argument("--reps", type=int, default=40, help="interleaved repetitions of the per-review chunks")
    parser.add_argument("--epoch-reps", type=int, default=3, help="interleaved repetitions of whole epochs "
                        "(mini-batches, memory, per node)")
    parser.add_argument("--chunk-scale", type=float, default=1.0, help="multiply every per-review chunk")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    parser.add_argument("--report", type=Path, help="put the Markdown section into this file")
    parser.add_argument("--plot", type=Path, help="bar chart PNG (default: next to --report)")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.epoch_reps < 1 or not args.chunk_scale > 0:
        parser.error(f"--reps and --epoch-reps must be >= 1 and --chunk-scale > 0, got {args.reps}, "
                     f"{args.epoch_reps} and {args.chunk_scale}")
    results: dict[str, Any] = {"command": command_line("benchmarks.sentiment_speed", argv), "machine": machine(),
                               "reps": args.reps}
    corpus = imdb.load(args.data, cache_dir=args.cache_dir)
    results["n_train"], results["vocab_size"] = len(corpus.train), len(corpus.vocab)
    chunks = {name: max(1, round(n * args.chunk_scale)) for name, n in CHUNKS.items()}
    results["per_review"] = per_review(corpus, args.reps, chunks)
    results["mini_batch"] = mini_batches(corpus, args.epoch_reps, args.batch_sizes)
    results["memory"] = memory(corpus, args.epoch_reps, steps=5000)
    results["per_node"] = per_node(corpus, args.epoch_reps, steps=5000)
    png = args.plot or (args.report.parent / "sentiment_speed.png" if args.report else None)
    if png:
        png.parent.mkdir(parents=True, exist_ok=True)
        plot(results["per_review"]["median_rate"], png)
    markdown = report(results, png)
    print(markdown)
    print("Generated step source:\n" + results["per_node"]["source"])
    if args.json:
        write_json(args.json, results)
    if args.report:
        update_report(args.report, "sentiment_speed", markdown + "\n\nGenerated step source:\n\n```python\n"
                      + results["per_node"]["source"] + "```")
    return results


if __name__ == "__main__":
    main()
