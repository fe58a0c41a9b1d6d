"""Joint versus separate gradients: the shared-gradient effect, on the net of the Theano question.

    python -m benchmarks.grad_sharing --report docs/benchmarks.md --plot docs/grad_sharing_depth.png

One `gg.grad(loss, [w, b, ..., b4])` walks the graph once; eight calls `gg.grad(loss, w)`, ...
walk it eight times and build eight backward graphs that share nothing. This command measures
(1) building the gradients both ways, (2) compiling them: joint, separate with the merge rewrite
(which collapses the separate graphs onto the joint one), separate without it, (3) running the
compiled gradients against a hand-written numpy forward+backward pass, and (4) how building
scales with depth: linearly joint, quadratically separate.

The net (widths 16384, 5000, 3000, 512, 40, float32): sigmoid(x.w + b) -> sigmoid(.w2 + b2) ->
sigmoid(.w3 + b3) -> .w4 + b4 -> softmax -> -mean(log(p)[arange(n), y]). Every compiled function
and the numpy reference use the same weight arrays: at full size they are 400 MB. The Markdown
report and the depth-sweep plot are drawn by benchmarks.grad_sharing_report.
"""

from __future__ import annotations

import argparse
import math
import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

import graphgrad as gg
from benchmarks import timing
from benchmarks.grad_sharing_report import PYTENSOR, plot_sweep, report
from benchmarks.reference_mlp import THEANO_WIDTHS, TheanoNetNumpy, scale_widths

GOALS = {"construction_ratio": 4.5, "joint_ms": PYTENSOR["joint_ms"] / 10,
         "merged_over_joint": 1.05, "joint_over_numpy": 1.15}

#: The three compiled variants: (how the gradients are derived, rewrites left out).
VARIANTS = {
    "joint": ("joint", ()),
    "separate, merged": ("separate", ()),
    "separate, merge off": ("separate", ("merge",)),
}


@dataclass
class Net:
    """The symbolic net: inputs `x` (batch x widths[0]) and labels `y`, shared params, the loss."""

    x: gg.Variable
    y: gg.Variable
    params: list[gg.SharedVariable]
    loss: gg.Variable

    def gradients(self, how: str) -> list[gg.Variable]:
        """Every parameter's gradient from one `grad` call (`how` = 'joint') or one call each."""
        if how == "joint":
            return gg.grad(self.loss, self.params)
        return [gg.grad(self.loss, p) for p in self.params]


def param_names(layers: int) -> list[str]:
    """The Theano question's names: w, b, w2, b2, ... for `layers` weight matrices."""
    names = []
    for k in range(1, layers + 1):
        suffix = str(k) if k > 1 else ""
        names += [f"w{suffix}", f"b{suffix}"]
    return names


def build_net(values: Sequence[np.ndarray]) -> Net:
    """Sigmoid layers, a linear last layer, softmax and the mean cross-entropy, over `values`.

    `values` is [w, b, w2, b2, ...] (as `TheanoNetNumpy.params`); the shared variables borrow
    the arrays, so graphgrad and the numpy reference compute with the very same weights.
    """
    params = [gg.shared(v, name=n, borrow=True) for v, n in zip(values, param_names(len(values) // 2))]
    x, y = gg.matrix("x"), gg.lvector("y")
    h = x
    for k in range(0, len(params) - 2, 2):
        h = gg.sigmoid(gg.dot(h, params[k]) + params[k + 1])
    p = gg.softmax(gg.dot(h, params[-2]) + params[-1])
    loss = -gg.mean(gg.log(p)[gg.arange(y.shape[0]), y])
    return Net(x, y, params, loss)


def measure_construction(net: Net, reps: int, desc: str = "grad") -> dict[str, Any]:
    """Time of building the gradients jointly and separately, and node counts of the results."""
    builders = {how: lambda how=how: net.gradients(how) for how in ("joint", "separate")}
    seconds = timing.interleaved(builders, reps, warmup=1, desc=desc)
    return {
        how: {"seconds": seconds[how], "nodes": gg.count_nodes(net.gradients(how))}
        for how in ("joint", "separate")
    } | {"forward_nodes": gg.count_nodes(net.loss)}


def measure_compile(net: Net, reps: int) -> tuple[dict[str, Any], dict[str, gg.Function]]:
    """Compile time and node count after rewrites of each variant, and one compiled function each."""
    grads = {how: net.gradients(how) for how in ("joint", "separate")}
    inputs = [net.x, net.y]

    def compiler(name: str) -> Callable[[], gg.Function]:
        how, exclude = VARIANTS[name]
        return lambda: gg.function(inputs, grads[how], exclude=exclude, name=name)

    seconds = timing.interleaved({name: compiler(name) for name in VARIANTS}, reps, warmup=1, desc="compile")
    functions = {name: compiler(name)() for name in VARIANTS}
    results = {
        name: {"seconds": seconds[name], "nodes": gg.count_nodes(functions[name]),
               "nodes_before": gg.count_nodes(grads[VARIANTS[name][0]]),
               "same_code_as_joint": functions[name].source == functions["joint"].source}
        for name in VARIANTS
    }
    return results, functions


def _max_relative_error(grads: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> float:
    """The largest |difference| over all gradients, each relative to its largest |expected| entry."""
    return max(float(np.max(np.abs(g - e)) / max(float(np.max(np.abs(e))), 1e-30))
               for g, e in zip(grads, expected))


def measure_execution(
    functions: dict[str, gg.Function], reference: TheanoNetNumpy, batch: int, reps: int, seed: int = 0
) -> dict[str, Any]:
    """Time of one gradient evaluation by each compiled variant and by the numpy reference.

    The numpy pass is timed twice: writing into preallocated gradient arrays (the fastest way to
    write it) and into fresh arrays, as a compiled function must (it returns new arrays).
    """
    widths = [reference.params[0].shape[0]] + [b.shape[0] for b in reference.params[1::2]]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, widths[0]), dtype=np.float32)
    y = rng.integers(0, widths[-1], size=batch)
    out = [np.empty_like(p) for p in reference.params]
    _, expected = reference.forward_backward(x, y, out)
    errors = {name: _max_relative_error(f(x, y), expected) for name, f in functions.items()}
    fns: dict[str, Callable[[], Any]] = {name: lambda f=f: f(x, y) for name, f in functions.items()}
    fns["numpy, preallocated"] = lambda: reference.forward_backward(x, y, out)
    fns["numpy, fresh arrays"] = lambda: reference.forward_backward(x, y)
    seconds = timing.interleaved(fns, reps, warmup=1, desc=f"run batch {batch}")
    return {"seconds": seconds, "max_relative_error": errors}


def sweep_widths(depth: int, width: int) -> tuple[int, ...]:
    """Layer widths of the narrow MLP with `depth` weight matrices used by the depth sweep."""
    return (width,) * (depth + 1)


def _growth_exponent(depths: Sequence[int], values: Sequence[float]) -> float:
    """The least-squares slope of log(value) against log(depth) over the larger half of the depths
    (at least two): near 1 for linear growth, near 2 for quadratic. The small depths are left out
    because constant terms (the loss, the inputs) bend the slope there."""
    if len(depths) < 2:
        return math.nan
    start = min(len(depths) // 2, len(depths) - 2)
    return float(np.polyfit(np.log(depths[start:]), np.log(values[start:]), 1)[0])


def depth_sweep(depths: Sequence[int], width: int, reps: int) -> dict[str, Any]:
    """Construction time and node counts, joint vs separate, for MLPs of each depth."""
    rows = []
    for depth in tqdm(depths, desc="depth sweep", unit="net"):
        net = build_net(TheanoNetNumpy(sweep_widths(depth, width)).params)
        result = measure_construction(net, reps, desc=f"grad depth {depth}")
        merged = gg.function([net.x, net.y], net.gradients("separate"))
        rows.append({"depth": depth, "params": len(net.params), **result,
                     "separate_nodes_after_merge": gg.count_nodes(merged)})
    exponents = {
        how: {"nodes": _growth_exponent(depths, [r[how]["nodes"] for r in rows]),
              "seconds": _growth_exponent(depths, [r[how]["seconds"]["cpu"]["median"] for r in rows])}
        for how in ("joint", "separate")
    }
    return {"width": width, "rows": rows, "growth_exponents": exponents}


def run(
    scale: float = 1.0,
    reps: int = 100,
    compile_reps: int = 10,
    exec_reps: int = 5,
    batches: Sequence[int] = (1, 64),
    depths: Sequence[int] = (2, 4, 8, 16, 32),
    sweep_width: int = 10,
    sweep_reps: int = 15,
    seed: int = 0,
) -> dict[str, Any]:
    """Run every measurement and return the results (seconds, node counts, ratios, goals)."""
    results: dict[str, Any] = {"machine": timing.machine(), "scale": scale}
    widths = scale_widths(scale, THEANO_WIDTHS)
    results["widths"] = widths
    reference = TheanoNetNumpy(widths, seed=seed)
    net = build_net(reference.params)
    results["construction"] = measure_construction(net, reps)
    results["compile"], functions = measure_compile(net, compile_reps)
    results["execution"] = {str(b): measure_execution(functions, reference, b, exec_reps, seed)
                            for b in batches}
    results["depth_sweep"] = depth_sweep(sorted(set(depths)), sweep_width, sweep_reps)
    results["goals"] = check_goals(results)
    results["peak_memory_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return results


def check_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of the issue with the measured figure and whether it is met.

    Judged by medians of CPU time, which the time slices of other jobs on a shared machine do
    not inflate; wall-clock figures are shown next to them. (Running uses two BLAS threads; the
    CPU time of both is counted, for graphgrad and numpy alike.)
    """
    construction = results["construction"]
    joint, separate = construction["joint"]["seconds"], construction["separate"]["seconds"]
    cpu_ratio = separate["cpu"]["median"] / joint["cpu"]["median"]
    wall_ratio = separate["wall"]["mean"] / joint["wall"]["mean"]
    goals = [
        {"goal": "joint grad takes <= 1/4.5 of 8 separate calls",
         "measured": f"{cpu_ratio:.1f}x (CPU medians); {wall_ratio:.1f}x (wall means)",
         "target": f">= {GOALS['construction_ratio']}x", "met": cpu_ratio >= GOALS["construction_ratio"]},
        {"goal": "joint grad about 3 ms (PyTensor 3.0.7: 30.7 ms)",
         "measured": f"{joint['cpu']['median'] * 1e3:.2f} ms (CPU median); "
                     f"{joint['wall']['mean'] * 1e3:.2f} ms (wall mean)",
         "target": f"<= {GOALS['joint_ms']:.2f} ms", "met": joint["cpu"]["median"] * 1e3 <= GOALS["joint_ms"]},
    ]
    largest = max(results["execution"], key=int)
    run_times = results["execution"][largest]["seconds"]

    def ratio(name: str, base: str, kind: str) -> float:
        return run_times[name][kind]["median"] / run_times[base][kind]["median"]

    comparisons = [("(b) separate + merge runs within 5% of (a) joint", "separate, merged", "joint",
                    GOALS["merged_over_joint"])]
    comparisons += [(f"(a) joint within 1.15x of {base}", "joint", base, GOALS["joint_over_numpy"])
                    for base in ("numpy, preallocated", "numpy, fresh arrays")]
    for goal, name, base, target in comparisons:
        cpu = ratio(name, base, "cpu")
        goals.append({"goal": f"{goal}, batch {largest}",
                      "measured": f"{cpu:.3f}x (CPU medians); {ratio(name, base, 'wall'):.3f}x (wall medians)",
                      "target": f"<= {target}x", "met": cpu <= target})
    return goals


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse the command line, run, print the report, write the JSON, Markdown and plot asked for."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grad_sharing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the net's widths (default 1: full size)")
    parser.add_argument("--reps", type=timing.positive_int, default=100,
                        help="repetitions of building the gradients (default 100)")
    parser.add_argument("--compile-reps", type=timing.positive_int, default=10,
                        help="repetitions of each compilation (default 10)")
    parser.add_argument("--exec-reps", type=timing.positive_int, default=5,
                        help="repetitions of each evaluation (default 5)")
    parser.add_argument("--batches", type=timing.positive_ints, default=[1, 64], help="batch sizes (default 1,64)")
    parser.add_argument("--depths", type=timing.positive_ints, default=[2, 4, 8, 16, 32],
                        help="depth sweep (default 2,4,8,16,32)")
    parser.add_argument("--sweep-width", type=timing.positive_int, default=10,
                        help="width of the depth-sweep MLPs (default 10)")
    parser.add_argument("--sweep-reps", type=timing.positive_int, default=15, help="repetitions per depth (default 15)")
    parser.add_argument("--seed", type=int, default=0)
    timing.add_output_options(parser, "grad_sharing")
    parser.add_argument("--plot", metavar="PNG", help="save the depth-sweep plot (e.g. docs/grad_sharing_depth.png)")
    args = parser.parse_args(argv)
    if not args.scale > 0:
        parser.error(f"--scale must be positive, got {args.scale}")

    results = run(args.scale, args.reps, args.compile_reps, args.exec_reps, args.batches, args.depths,
                  args.sweep_width, args.sweep_reps, args.seed)
    results["command"] = timing.command_line("benchmarks.grad_sharing", argv)
    if args.plot:
        plot_sweep(results["depth_sweep"], args.plot)
    timing.publish(results, report(results, args.plot, args.report), args)
    return results


if __name__ == "__main__":
    main()
