"""What a compiled node costs: a chain of N elementwise ops on a tiny array, graphgrad vs numpy.

    python -m benchmarks.overhead --report docs/benchmarks.md

On tiny arrays the arithmetic is free and a call costs its Python overhead. The chain
x -> x * 1.001 -> + 0.5 -> tanh -> * 1.001 -> ... (N ops) is compiled with `gg.function` and
also written as N straight-line numpy statements; the difference of the per-call times, fitted
against N, is graphgrad's overhead per node. Compile time per node is reported too.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

import graphgrad as gg
from benchmarks import timing

#: The ops of the chain, cycled: (graphgrad, numpy statement for value `v`). The numpy code
#: multiplies by the 0-d float32 arrays graphgrad's compiled code uses for its constants, so that
#: both make the same ufunc calls (with a Python float literal numpy's call is ~2x slower).
CHAIN: list[tuple[Callable[[gg.Variable], gg.Variable], str]] = [
    (lambda v: v * 1.001, "v * scale"),
    (lambda v: v + 0.5, "v + shift"),
    (gg.tanh, "np.tanh(v)"),
]
NUMPY_CONSTANTS = {"scale": np.asarray(1.001, np.float32), "shift": np.asarray(0.5, np.float32)}


def graphgrad_chain(n: int) -> gg.Function:
    """The chain of `n` ops compiled by graphgrad, from a float32 vector input."""
    x = gg.vector("x")
    v = x
    for k in range(n):
        v = CHAIN[k % len(CHAIN)][0](v)
    return gg.function([x], v, name=f"chain{n}")


def numpy_chain(n: int) -> Callable[[np.ndarray], np.ndarray]:
    """The chain of `n` ops as one straight-line Python function of numpy calls."""
    body = "".join(f"    v = {CHAIN[k % len(CHAIN)][1]}\n" for k in range(n))
    namespace: dict[str, Any] = {"np": np, **NUMPY_CONSTANTS}
    exec(f"def chain(v):\n{body}    return v\n", namespace)  # noqa: S102 - our own fixed text
    return namespace["chain"]


def _per_call(fn: Callable[[], Any], calls: int) -> Callable[[], None]:
    """A function making `calls` calls of `fn`, so that one timing spans many short calls."""
    def repeat() -> None:
        for _ in range(calls):
            fn()
    return repeat


def _fit(lengths: Sequence[int], seconds: Sequence[float]) -> dict[str, float]:
    """Least-squares line seconds = fixed + per_node * N, fitting relative errors (the noise of a
    timing grows with it, and the longest chain must not decide the fit alone)."""
    per_node, fixed = np.polyfit(lengths, seconds, 1, w=1 / np.asarray(seconds))
    return {"per_node": float(per_node), "fixed": float(fixed)}


def run(lengths: Sequence[int] = (10, 30, 100, 300, 1000), size: int = 16, reps: int = 7,
        calls_per_rep: int = 20000) -> dict[str, Any]:
    """Per-call times of each chain length (medians of CPU time), fits, and compile times."""
    x = np.linspace(-1, 1, size, dtype=np.float32)
    rows = []
    for n in tqdm(lengths, desc="chains", unit="chain"):
        start = time.process_time()  # CPU time, as for the calls
        compiled = graphgrad_chain(n)
        compile_seconds = time.process_time() - start
        plain = numpy_chain(n)
        if not np.allclose(compiled(x), plain(x), rtol=1e-5):
            raise AssertionError(f"chain of {n} ops: graphgrad and numpy disagree")
        calls = max(10, calls_per_rep // n)
        timings = timing.interleaved({"graphgrad": _per_call(lambda: compiled(x), calls),
                               "numpy": _per_call(lambda: plain(x), calls)},
                              reps, warmup=1, desc=f"chain {n}")
        rows.append({"ops": n, "calls_per_rep": calls, "compile_seconds": compile_seconds,
                     **{name: t["cpu"]["median"] / calls for name, t in timings.items()}})
    lengths = [r["ops"] for r in rows]
    fits = {name: _fit(lengths, [r[name] for r in rows]) for name in ("graphgrad", "numpy")}
    return {"machine": timing.machine(), "array_size": size, "dtype": "float32", "reps": reps, "rows": rows,
            "fits": fits, "overhead_per_node": fits["graphgrad"]["per_node"] - fits["numpy"]["per_node"],
            "compile_per_node": _fit(lengths, [r["compile_seconds"] for r in rows])["per_node"]}


def report(results: dict[str, Any]) -> str:
    """The results as Markdown: the command, the machine, the table and the fitted costs."""
    rows = [[r["ops"], f"{r['graphgrad'] * 1e6:.1f}", f"{r['numpy'] * 1e6:.1f}",
             f"{r['graphgrad'] / r['numpy']:.2f}", f"{r['graphgrad'] / r['ops'] * 1e9:.0f}",
             f"{r['numpy'] / r['ops'] * 1e9:.0f}", f"{r['compile_seconds'] * 1e3:.1f}",
             f"{r['compile_seconds'] / r['ops'] * 1e6:.0f}"] for r in results["rows"]]
    fits = results["fits"]
    return "\n".join([
        "## Per-node overhead of a compiled function",
        "",
        f"Command: `{results['command']}`  ",
        f"Machine: {timing.machine_line(results['machine'])}.  ",
        f"A chain of N elementwise ops (`* 1.001`, `+ 0.5`, `tanh`, repeated) on a float32 vector of "
        f"{results['array_size']} elements; graphgrad's compiled function against the same N numpy "
        "statements in one Python function (constants as 0-d float32 arrays, as graphgrad holds them). "
        f"Per-call times are medians over {results['reps']} interleaved repetitions of CPU time "
        "(each repetition many calls).",
        "",
        timing.markdown_table(["N ops", "graphgrad µs/call", "numpy µs/call", "ratio", "graphgrad ns/op",
                              "numpy ns/op", "compile CPU ms", "compile µs/op"], rows),
        "",
        f"Least-squares fits (relative errors) of time per call = fixed + per-op x N: graphgrad "
        f"{fits['graphgrad']['fixed'] * 1e6:.2f} µs + {fits['graphgrad']['per_node'] * 1e9:.0f} ns x N; "
        f"numpy {fits['numpy']['fixed'] * 1e6:.2f} µs + {fits['numpy']['per_node'] * 1e9:.0f} ns x N. "
        f"graphgrad's overhead per node: {results['overhead_per_node'] * 1e9:.0f} ns; compiling costs "
        f"{results['compile_per_node'] * 1e6:.0f} µs per node.",
    ])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse the command line, run, print the report, write the JSON and Markdown asked for."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=timing.positive_ints, default=[10, 30, 100, 300, 1000],
                        help="chain lengths N, at least two (default 10,30,100,300,1000)")
    parser.add_argument("--size", type=timing.positive_int, default=16,
                        help="elements of the input vector (default 16)")
    parser.add_argument("--reps", type=timing.positive_int, default=7, help="interleaved repetitions (default 7)")
    parser.add_argument("--calls", type=timing.positive_int, default=20000,
                        help="op evaluations per repetition (default 20000)")
    timing.add_output_options(parser, "overhead")
    args = parser.parse_args(argv)
    if len(set(args.lengths)) < 2:
        parser.error(f"--lengths: a line is fitted through them, give at least two, got {args.lengths}")
    results = run(args.lengths, args.size, args.reps, args.calls)
    results["command"] = timing.command_line("benchmarks.overhead", argv)
    timing.publish(results, report(results), args)
    return results


if __name__ == "__main__":
    main()
