"""The Markdown report and the depth-sweep plot of benchmarks.grad_sharing, from its results.

`report` turns the results of `grad_sharing.run` into the section of docs/benchmarks.md (one
table per measurement, then the goals); `plot_sweep` draws the depth sweep. PyTensor's figures
for the same measurements are kept here, for scale.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from benchmarks import timing

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

#: Figures measured with PyTensor 3.0.7 (default Numba backend) on this machine, for scale.
PYTENSOR = {"joint_ms": 30.7, "separate_ms": 158.0, "joint_nodes": 85, "separate_nodes": 255,
            "compiled_nodes": 49, "depth32_joint_ms": 226.0, "depth32_separate_ms": 7300.0}


def plot_sweep(sweep: dict[str, Any], path: str | Path) -> None:
    """Save node counts and construction CPU times against depth (log-log) as a PNG at `path`."""
    rows = sweep["rows"]
    depths = np.array([r["depth"] for r in rows], dtype=float)
    fig, (nodes_ax, time_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for how, marker in (("joint", "o"), ("separate", "s")):
        exponent = sweep["growth_exponents"][how]
        nodes_ax.plot(depths, [r[how]["nodes"] for r in rows], marker=marker,
                      label=f"{how} (slope {exponent['nodes']:.2f})")
        cpu = [r[how]["seconds"]["cpu"] for r in rows]
        time_ax.errorbar(depths, [c["median"] * 1e3 for c in cpu], yerr=[c["std"] * 1e3 for c in cpu],
                         marker=marker, capsize=3, label=f"{how} (slope {exponent['seconds']:.2f})")
    for ax, first in ((nodes_ax, rows[0]["separate"]["nodes"]),
                      (time_ax, rows[0]["separate"]["seconds"]["cpu"]["median"] * 1e3)):
        for power, style in ((1, ":"), (2, "--")):  # guides through the first separate point
            ax.plot(depths, first * (depths / depths[0]) ** power, style, color="grey", linewidth=1,
                    label=f"proportional to depth{'²' if power == 2 else ''}")
    nodes_ax.set(title="nodes in the gradient graphs (before compiling)", ylabel="Apply nodes")
    time_ax.set(title="building the gradients (gg.grad)", ylabel="CPU milliseconds (median)")
    for ax in (nodes_ax, time_ax):
        ax.set(xscale="log", yscale="log", xlabel="depth (weight matrices)")
        ax.set_xticks(depths, [str(int(d)) for d in depths])
        ax.tick_params(axis="x", which="minor", labelbottom=False)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"one grad(loss, params) vs one grad call per parameter; MLP width {sweep['width']}")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)

def _wall_cpu(seconds: dict[str, Any]) -> list[str]:
    """Table cells: wall mean ± std, wall median, CPU median (milliseconds)."""
    wall, cpu = seconds["wall"], seconds["cpu"]
    return [timing.mean_std_ms(wall), timing.milliseconds(wall), timing.milliseconds(cpu)]


def report(results: dict[str, Any], plot: str | Path | None, report_path: str | Path | None) -> str:
    """The results as Markdown: the command, the machine, one table per measurement, the goals."""
    construction, compiled = results["construction"], results["compile"]
    timing_headers = ["wall ms (mean ± std)", "wall median", "CPU median"]
    threads = results["machine"]["blas_threads"]
    lines = [
        "## Joint vs separate gradients (the Theano question)"
        + ("" if threads == "default" else f", {threads} BLAS thread(s)"),
        "",
        f"Command: `{results['command']}`  ",
        f"Machine: {timing.machine_line(results['machine'])}.  ",
        f"Net widths {', '.join(map(str, results['widths']))} (scale {results['scale']}), float32, "
        "sigmoid layers, softmax, loss `-gg.mean(gg.log(p)[gg.arange(y.shape[0]), y])`; "
        f"the forward graph (the loss) has {construction['forward_nodes']} nodes; peak memory of the "
        f"process {results['peak_memory_mib']:.0f} MiB. "
        "Repetitions of the variants are interleaved; CPU time is the process's (all threads), which "
        "excludes the time slices of other jobs on this shared machine.",
        "",
        "### 1. Building the gradients (`gg.grad`), before compilation",
        "",
        timing.markdown_table(
            ["", *timing_headers, "reps", "nodes", "PyTensor 3.0.7: ms, nodes"],
            [[f"{how}" + (" (1 call, 8 params)" if how == "joint" else " (8 calls)"),
              *_wall_cpu(construction[how]["seconds"]), construction[how]["seconds"]["wall"]["reps"],
              construction[how]["nodes"], f"{PYTENSOR[how + '_ms']}, {PYTENSOR[how + '_nodes']}"]
             for how in ("joint", "separate")],
        ),
        "",
        "### 2. Compiling (`gg.function`): time, and nodes after the rewrites",
        "",
        timing.markdown_table(
            ["variant", *timing_headers, "nodes before", "nodes after", "same generated code as joint"],
            [[name, *_wall_cpu(c["seconds"]), c["nodes_before"], c["nodes"], "yes" if c["same_code_as_joint"] else "no"]
             for name, c in compiled.items()],
        ),
        "",
        "`separate, merge off` is `gg.function([x, y], grads, exclude=(\"merge\",))`. "
        f"PyTensor 3.0.7 after its merge: {PYTENSOR['compiled_nodes']} nodes.",
        "",
        "### 3. One evaluation of all 8 gradients (milliseconds)",
        "",
    ]
    names = list(next(iter(results["execution"].values()))["seconds"])
    rows = []
    for batch, measured in results["execution"].items():
        seconds, errors = measured["seconds"], measured["max_relative_error"]
        base = seconds["numpy, preallocated"]
        for name in names:
            error = f"{errors[name]:.1e}" if name in errors else ""
            wall, cpu = seconds[name]["wall"], seconds[name]["cpu"]
            rows.append([f"batch {batch}: {name}", timing.milliseconds(wall), timing.mean_std_ms(wall),
                         timing.milliseconds(wall, "min"), timing.milliseconds(cpu),
                         f"{wall['median'] / base['wall']['median']:.2f}",
                         f"{cpu['median'] / base['cpu']['median']:.2f}", error])
    lines += [
        timing.markdown_table(["", "wall median", "wall mean ± std", "wall min", "CPU median",
                               "wall / numpy preallocated", "CPU / numpy preallocated",
                               "max rel. error vs numpy"], rows),
        "",
        "Every variant is called once untimed first. The numpy reference (`benchmarks/reference_mlp.py`, "
        "`TheanoNetNumpy.forward_backward`, the same weight arrays) is timed writing into preallocated "
        "gradient arrays and into fresh ones; a compiled function returns fresh arrays.",
        "",
    ]
    sweep = results["depth_sweep"]
    exponents = sweep["growth_exponents"]
    lines += [
        f"### 4. Depth sweep (MLP width {sweep['width']}, a weight matrix and a bias per layer)",
        "",
        timing.markdown_table(
            ["depth", "params", "joint CPU ms (median)", "separate CPU ms (median)", "ratio",
             "joint nodes", "separate nodes", "separate nodes after merge", "joint / separate µs per node"],
            [[r["depth"], r["params"], timing.milliseconds(r["joint"]["seconds"]["cpu"]),
              timing.milliseconds(r["separate"]["seconds"]["cpu"]),
              f"{r['separate']['seconds']['cpu']['median'] / r['joint']['seconds']['cpu']['median']:.1f}",
              r["joint"]["nodes"], r["separate"]["nodes"], r["separate_nodes_after_merge"],
              " / ".join(f"{r[how]['seconds']['cpu']['median'] / r[how]['nodes'] * 1e6:.0f}"
                         for how in ("joint", "separate"))]
             for r in sweep["rows"]],
        ),
        "",
        "Growth exponents, log-log slopes over the larger half of the depths (1 = linear, 2 = quadratic): "
        "nodes joint "
        f"{exponents['joint']['nodes']:.2f}, separate {exponents['separate']['nodes']:.2f}; time joint "
        f"{exponents['joint']['seconds']:.2f}, separate {exponents['separate']['seconds']:.2f}. "
        f"PyTensor 3.0.7 at depth 32: joint {PYTENSOR['depth32_joint_ms']:.0f} ms, separate "
        f"{PYTENSOR['depth32_separate_ms'] / 1e3:.1f} s.",
        "",
    ]
    if plot is not None:
        where = Path(os.path.relpath(plot, Path(report_path).parent)) if report_path else Path(plot)
        lines += [f"![joint vs separate gradients by depth]({where.as_posix()})", ""]
    lines += [
        "### Goals",
        "",
        timing.markdown_table(["goal", "measured", "target", "met"],
                              [[g["goal"], g["measured"], g["target"], "yes" if g["met"] else "**no**"]
                               for g in results["goals"]]),
    ]
    return "\n".join(lines)
