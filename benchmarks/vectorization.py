"""Per-neuron loops against matrix form: the vectorization effect, on one small MLP.

    python -m benchmarks.vectorization --report docs/benchmarks.md

The same tanh MLP (64-32-10, softmax, mean cross-entropy, float64, plain SGD) is trained on the
same mini-batches from the same initial weights by (a) pure Python loops over neurons and
weights (`reference_mlp.LoopMLP`), (b) graphgrad (the net of `models.mlp`), and (c) hand-written
numpy (`reference_mlp.NumpyMLP`).
Reported: time per step, the speed-ups, and whether all three end with the same weights.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

import graphgrad as gg
from benchmarks.reference_mlp import LoopMLP, NumpyMLP, init_mlp_params, make_classification
from models import mlp
from benchmarks import timing

#: Weights agree when |a - b| <= ATOL + RTOL |b|: only the order of float64 sums differs.
RTOL, ATOL = 1e-9, 1e-12


class GraphgradMLP:
    """The MLP of `reference_mlp.NumpyMLP` built by `models.mlp` (tanh hidden layers, softmax output,
    mean cross-entropy) on float64 shared variables, trained by one compiled SGD step."""

    def __init__(self, params: Sequence[np.ndarray], lr: float = 0.1) -> None:
        """Copy `params` ([W1, b1, W2, b2, ...], as from `init_mlp_params`) into shared variables."""
        self.weights = [gg.shared(np.array(w), name=f"W{k}") for k, w in enumerate(params[0::2])]
        self.biases = [gg.shared(np.array(b), name=f"b{k}") for k, b in enumerate(params[1::2])]
        x, y = gg.matrix("x", dtype=self.weights[0].dtype), gg.lvector("y")
        hidden, probabilities = mlp.network([x], self.weights, self.biases, "tanh", "softmax")
        loss = mlp.training_cost(hidden, probabilities, y, self.weights, "softmax")
        params_in_order = [p for pair in zip(self.weights, self.biases) for p in pair]
        self.step = gg.function([x, y], loss, updates=gg.sgd(loss, params_in_order, lr), name="mlp_step")

    @property
    def params(self) -> list[np.ndarray]:
        """The current weights, laid out like `init_mlp_params`."""
        return [p.get_value() for pair in zip(self.weights, self.biases) for p in pair]


IMPLEMENTATIONS = {"Python loops": LoopMLP, "graphgrad": GraphgradMLP, "numpy": NumpyMLP}


def _batches(X: np.ndarray, y: np.ndarray, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive mini-batches of (X, y), forever, always in the same order."""
    while True:
        for start in range(0, len(X) - batch + 1, batch):
            yield X[start:start + batch], y[start:start + batch]


def run(sizes: Sequence[int] = (64, 32, 10), batch: int = 32, steps: int = 20, lr: float = 0.1,
        seed: int = 0) -> dict[str, Any]:
    """Train each implementation `steps` (+1 untimed) steps; times, speed-ups, weight agreement."""
    X, y = make_classification(4 * batch, sizes[0], sizes[-1], seed=seed)
    initial = init_mlp_params(sizes, seed=seed)
    models = {name: cls(initial, lr=lr) for name, cls in IMPLEMENTATIONS.items()}
    streams = {name: _batches(X, y, batch) for name in models}
    losses: dict[str, list[float]] = {name: [] for name in models}

    def stepper(name: str) -> Any:
        return lambda: losses[name].append(float(models[name].step(*next(streams[name]))))

    timings = timing.interleaved({name: stepper(name) for name in models}, steps, warmup=1, desc="steps")
    expected = models["numpy"].params
    agreement = {}
    for name, model in models.items():
        diffs = [float(np.max(np.abs(a - b))) for a, b in zip(model.params, expected)]
        same = all(np.allclose(a, b, rtol=RTOL, atol=ATOL) for a, b in zip(model.params, expected))
        loss_diff = max(abs(a - b) for a, b in zip(losses[name], losses["numpy"]))
        agreement[name] = {"max_abs_weight_diff": max(diffs), "same_weights": same, "max_abs_loss_diff": loss_diff}
    median = {name: t["cpu"]["median"] for name, t in timings.items()}
    return {
        "machine": timing.machine(), "sizes": list(sizes), "batch": batch, "steps": steps, "lr": lr, "dtype": "float64",
        "seconds_per_step": timings,
        "speedups": {"graphgrad over Python loops": median["Python loops"] / median["graphgrad"],
                     "numpy over Python loops": median["Python loops"] / median["numpy"],
                     "numpy over graphgrad": median["graphgrad"] / median["numpy"]},
        "agreement_with_numpy": agreement,
        "final_loss": {name: ls[-1] for name, ls in losses.items()},
    }


def report(results: dict[str, Any]) -> str:
    """The results as Markdown: the command, the machine, the timing table, the agreement."""
    timings, agreement = results["seconds_per_step"], results["agreement_with_numpy"]
    loop = timings["Python loops"]["cpu"]["median"]
    rows = [[name, timing.milliseconds(t["cpu"]), timing.milliseconds(t["wall"]), timing.mean_std_ms(t["wall"]),
             f"{loop / t['cpu']['median']:.0f}x",
             f"{agreement[name]['max_abs_weight_diff']:.1e}", "yes" if agreement[name]["same_weights"] else "**no**"]
            for name, t in timings.items()]
    speedups = results["speedups"]
    return "\n".join([
        "## Per-neuron loops vs matrix form",
        "",
        f"Command: `{results['command']}`  ",
        f"Machine: {timing.machine_line(results['machine'])}.  ",
        f"MLP {'-'.join(map(str, results['sizes']))} (tanh, softmax, mean cross-entropy), float64, SGD lr "
        f"{results['lr']}, batch {results['batch']}, {results['steps']} timed steps after 1 untimed step, "
        "same initial weights and batches (`reference_mlp.make_classification`); steps interleaved. "
        "CPU time excludes the time slices of other jobs on this shared machine.",
        "",
        timing.markdown_table(["implementation", "CPU ms/step (median)", "wall median", "wall mean ± std",
                              "speed-up over loops (CPU)",
                              "max abs weight diff vs numpy", f"same weights (rtol {RTOL:g})"], rows),
        "",
        f"graphgrad is {speedups['graphgrad over Python loops']:.0f}x faster than the per-neuron loops; "
        f"hand-written numpy is {speedups['numpy over Python loops']:.0f}x faster than the loops and "
        f"{speedups['numpy over graphgrad']:.2f}x as fast as graphgrad.",
    ])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse the command line, run, print the report, write the JSON and Markdown asked for."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vectorization", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=timing.positive_ints, default=[64, 32, 10],
                        help="layer widths (default 64,32,10)")
    parser.add_argument("--batch", type=timing.positive_int, default=32, help="mini-batch size (default 32)")
    parser.add_argument("--steps", type=timing.positive_int, default=20, help="timed SGD steps (default 20)")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    timing.add_output_options(parser, "vectorization")
    args = parser.parse_args(argv)
    if len(args.sizes) < 2:
        parser.error(f"--sizes: expected at least two widths (input and output), got {args.sizes}")
    results = run(args.sizes, args.batch, args.steps, args.lr, args.seed)
    results["command"] = timing.command_line("benchmarks.vectorization", argv)
    timing.publish(results, report(results), args)
    return results


if __name__ == "__main__":
    main()
