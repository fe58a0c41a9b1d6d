"""What every benchmark command shares: timing, summaries, the machine, tables and report files.

Timings on a shared 2-core machine are noisy, so the commands compare variants measured in one
process with their repetitions interleaved (a burst of load then hits every variant alike), and
report ratios of medians next to the raw figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm


def time_once(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads of the process) of one call of `fn`.

    On a machine shared with other jobs the wall-clock time includes the time slices other
    processes got; the CPU time does not, so single-threaded work is best compared by it.
    (OpenBLAS threads spin while they wait for each other, so under load the CPU time of
    multithreaded products grows too; with OPENBLAS_NUM_THREADS=1 it stays the work done.)
    """
    gc.collect()  # collect earlier garbage now, not inside the timing
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved(
    fns: Mapping[str, Callable[[], Any]], reps: int, warmup: int = 0, desc: str = "timing"
) -> dict[str, dict[str, dict[str, Any]]]:
    """Time every function `reps` times, one repetition of each in turn (rotating who goes first).

    Returns, for each name, summaries of its "wall" and "cpu" seconds (see `summarize`).
    `warmup` untimed calls of each come first: a fresh process's first large matrix product can
    be several times slower than later ones. The objects alive at the start are frozen out of the
    garbage collector meanwhile, so that a collection costs the same in every repetition
    (a full collection over the heap of numpy, matplotlib and networkx takes 0.2-0.3 s).
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in names}
    gc.collect()
    gc.freeze()
    try:
        for rep in tqdm(range(reps), desc=desc, unit="rep", leave=False):
            start = rep % len(names)
            for name in names[start:] + names[:start]:
                wall, cpu = time_once(fns[name])
                samples[name][0].append(wall)
                samples[name][1].append(cpu)
    finally:
        gc.unfreeze()
    return {name: {"wall": summarize(wall), "cpu": summarize(cpu)} for name, (wall, cpu) in samples.items()}


def summarize(seconds: Sequence[float]) -> dict[str, Any]:
    """Mean, standard deviation, median and minimum of repeated timings, and the timings, in seconds."""
    return {
        "mean": statistics.fmean(seconds),
        "std": statistics.stdev(seconds) if len(seconds) > 1 else 0.0,
        "median": statistics.median(seconds),
        "min": min(seconds),
        "reps": len(seconds),
        "samples": list(seconds),
    }


def milliseconds(stats: Mapping[str, float], key: str = "median") -> str:
    """A summary's `key` figure in milliseconds, with three significant digits."""
    return f"{stats[key] * 1e3:.3g}"


def mean_std_ms(stats: Mapping[str, float]) -> str:
    """'mean ± std' of a summary, in milliseconds."""
    return f"{stats['mean'] * 1e3:.3g} ± {stats['std'] * 1e3:.2g}"


def machine() -> dict[str, Any]:
    """The machine and software the figures were measured on, and its load when they started."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default",
        "load_average": os.getloadavg()[0],
    }


def machine_line(info: Mapping[str, Any]) -> str:
    """One line of Markdown describing `machine()`'s result."""
    return (
        f"{info['arch']}, {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, numpy {info['numpy']} ({info['blas']}, BLAS threads: {info['blas_threads']}); "
        f"1-minute load average {info['load_average']:.2f} at the start (other jobs share the machine)"
    )


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_ints(text: str) -> list[int]:
    """An argparse type: comma-separated positive integers, e.g. '2,4,8'."""
    try:
        values = [int(item) for item in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def add_output_options(parser: argparse.ArgumentParser, section: str) -> None:
    """The options every benchmark command has: --json FILE, --report FILE and --section NAME."""
    parser.add_argument("--json", metavar="FILE", help="write all results as JSON")
    parser.add_argument("--report", metavar="FILE",
                        help="write the Markdown section into FILE (e.g. docs/benchmarks.md)")
    parser.add_argument("--section", default=section,
                        help=f"name of the section of the report to replace (default {section})")


def publish(results: Mapping[str, Any], markdown: str, args: argparse.Namespace) -> None:
    """Print the Markdown; write the JSON and the report section when `args` ask for them."""
    print(markdown)
    if args.json:
        write_json(args.json, results)
    if args.report:
        update_report(args.report, args.section, markdown)


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    """The command being run, as a user would type it (`argv` defaults to the process's)."""
    return " ".join(["python -m", module, *(sys.argv[1:] if argv is None else argv)])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; columns after the first are right-aligned (they hold numbers)."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text` in one step: an error midway leaves the old file as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def write_json(path: str | Path, results: Mapping[str, Any]) -> None:
    """Write `results` as indented JSON to `path`, atomically."""
    _write_atomically(Path(path), json.dumps(results, indent=2) + "\n")


def update_report(path: str | Path, section: str, markdown: str) -> None:
    """Put `markdown` into the Markdown file `path` as the section named `section`.

    Each benchmark command owns one section, delimited by HTML comments, so the commands can be
    rerun in any order and each replaces only its own results; other text in the file is kept.
    """
    path = Path(path)
    begin, end = f"<!-- {section}: begin -->", f"<!-- {section}: end -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    _write_atomically(path, text)
