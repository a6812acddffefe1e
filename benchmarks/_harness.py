"""Shared pieces of the benchmark scripts: timing, machine description, tables, JSON results.

Every workload times our path and its baselines in the same process run (the machine may be
shared, so only ratios measured side by side mean much), prints a table and, with
``--json PATH``, writes the numbers for ``ropelab bench`` to collect.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(width=160)


def parser(description: str) -> argparse.ArgumentParser:
    """The options every workload script takes (``--quick``, ``--json``)."""
    out = argparse.ArgumentParser(description=description)
    out.add_argument("--quick", action="store_true", help="small sizes: check the script runs, not the speed")
    out.add_argument("--json", type=Path, default=None, help="write the results here (JSON)")
    return out


def arguments(description: str) -> argparse.Namespace:
    return parser(description).parse_args()


TORCH_MISSING = "torch is not installed (it comes with the bench extra)"
"""Why a PyTorch baseline is skipped on an install without torch."""


def has_torch() -> bool:
    """True when the PyTorch baselines can run."""
    return importlib.util.find_spec("torch") is not None


def enable_x64() -> None:
    # Process edge: the engine's proofs need float64 angles and 64-bit integer phases.
    import jax

    jax.config.update("jax_enable_x64", True)


def best_time(fn: Callable[[], Any], repeat: int = 3, warmup: int = 1) -> float:
    """Least wall time of ``repeat`` calls after ``warmup`` calls (fn must block until done)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    Read from ``VmHWM`` in ``/proc/self/status``, which belongs to this process's own address
    space; ``getrusage``'s ``ru_maxrss`` is the fallback, but on Linux a child started by a
    large parent inherits the parent's figure there.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("jax", "numpy", "torch", "mpmath"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "not installed"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # The 1-minute load average: above the core count, other processes shared the machine.
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {"cpu": model, "cores": cores, "load_average": load, "python": platform.python_version(), **versions}


def describe_machine() -> str:
    m = machine()
    return (f"{m['cores']} cores, {m['cpu']}, load {m['load_average']:.1f}; python {m['python']}, "
            f"jax {m['jax']}, numpy {m['numpy']}, torch {m['torch']}")


def seconds(x: float) -> str:
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col == columns[0] else "right")
    for row in rows:
        table.add_row(*[str(x) for x in row])
    console.print(table)


def comparison(ours: str, ours_s: float, baseline: str, baseline_s: float, throughput: str,
               target: str = "", met: bool | None = None, note: str = "") -> dict[str, Any]:
    """One summary line: our time against a baseline timed in the same run (ratio = baseline / ours).

    ``met`` is None for a line reported for comparison only, with no target attached.
    """
    return {"ours": ours, "ours_s": ours_s, "baseline": baseline, "baseline_s": baseline_s,
            "ratio": baseline_s / ours_s, "throughput": throughput, "target": target,
            "met": None if met is None else bool(met), "note": note}


def verdict(met: bool | None) -> str:
    return "-" if met is None else "yes" if met else "NO"


def finish(args: argparse.Namespace, workload: str, summary: list[dict[str, Any]], details: dict[str, Any],
           skipped: list[dict[str, str]] = ()) -> None:
    """Print the summary lines and write the JSON result if asked.

    ``skipped`` lists the baselines that did not run, each ``{"baseline": ..., "reason": ...}``.
    """
    print_table(
        f"{workload}: summary ({describe_machine()})",
        ["ours", "baseline", "ours s", "baseline s", "ratio", "throughput", "target", "met"],
        [[s["ours"], s["baseline"], f"{s['ours_s']:.4g}", f"{s['baseline_s']:.4g}", f"{s['ratio']:.1f}x",
          s["throughput"], s["target"], verdict(s["met"])] for s in summary],
    )
    for entry in skipped:
        console.print(f"skipped baseline {entry['baseline']}: {entry['reason']}", markup=False)
    if args.json is not None:
        from ropelab.checks.atomic import write_text_atomically

        payload = {"workload": workload, "quick": args.quick, "machine": machine(), "summary": summary,
                   "details": details, "skipped": list(skipped)}
        write_text_atomically(args.json, json.dumps(payload, indent=2) + "\n")
