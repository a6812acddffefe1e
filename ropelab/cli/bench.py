"""The ``ropelab bench`` command: time the engine against its baselines and summarise.

Each workload is a plain script in the repository's ``benchmarks/`` folder; the command runs
them one after another in fresh processes (so that peak memory and compile times are each
script's own), lets their tables print, and ends with one summary table of ratios.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ropelab.checks.atomic import write_text_atomically

from ._console import Steps, console, fail, install_line, require_known, say, writable_file
from .render import Column, Tabular, tabular

__all__ = ["run_workload", "summary_table"]

WORKLOADS = {
    "logit-curve": "logit_curve.py",
    "diagonal-head": "diagonal_head.py",
    "attention": "attention.py",
    "verify": "verify.py",
    "training-mesh": "training_mesh.py",
    "model-memory": "model_memory.py",
}
SUMMARY_COLUMNS = ("workload", "ours", "baseline (same run)", "ours s", "baseline s", "ratio", "throughput",
                   "target", "met")


def benchmarks_folder() -> Path:
    """The benchmark scripts, shipped as :mod:`ropelab.benchmarks` with every install."""
    return Path(str(resources.files("ropelab.benchmarks")))


def run_workload(script: Path, quick: bool) -> tuple[int, dict | None]:
    """Run one script, its output passing straight through; return its exit code and JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, str(script), "--json", str(out)] + (["--quick"] if quick else [])
        code = subprocess.run(command, check=False).returncode
        return code, json.loads(out.read_text()) if out.exists() else None


def summary_table(results: list[dict], quick: bool) -> Tabular:
    """One row per (workload, baseline): names wrap at spaces, numbers never split.

    Where the columns do not fit, the workload, our path and the baseline share one cell, and
    our time and the baseline's stand on two lines of another (:mod:`ropelab.cli.render`).
    """
    rows = []
    for result in results:
        for line in result["summary"]:
            met = {None: Text("-"), True: Text("yes"), False: Text("NO", style="red")}[line["met"]]
            rows.append([Text(result["workload"]), Text(line["ours"]), Text(line["baseline"]), f"{line['ours_s']:.4g}",
                         f"{line['baseline_s']:.4g}", Text(f"{line['ratio']:.1f}x"), Text(line["throughput"]),
                         Text(line["target"]), met])
    columns = [Column(c, justify="right" if c in ("ours s", "baseline s", "ratio") else "left") for c in SUMMARY_COLUMNS]
    merged = (("workload: ours vs baseline (same run)", (0, 1, 2)), ("s: ours / baseline", (3, 4)), ("ratio", (5,)),
              ("throughput", (6,)), ("target", (7,)), ("met", (8,)))
    return tabular(columns, rows, title=f"ropelab bench{' --quick' if quick else ''}: summary", merged=merged)


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        workloads: Annotated[list[str] | None, typer.Argument(
            help=f"workloads to run (default: all): {', '.join(WORKLOADS)}", metavar="WORKLOAD")] = None,
        quick: Annotated[bool, typer.Option("--quick", help="small sizes: check that they run, not the speed")] = False,
        json_path: Annotated[Path | None, typer.Option("--json", help="write every workload's results here",
                                                       metavar="FILE")] = None,
    ) -> None:
        """Time each workload against its baselines in the same run; print times, ratios, throughput.

        A baseline whose package is not installed (PyTorch: the bench extra) is skipped and named.
        """
        chosen = workloads or list(WORKLOADS)
        require_known("workload", chosen, list(WORKLOADS))
        if json_path is not None:
            writable_file(json_path, "--json")
        folder = benchmarks_folder()
        if not folder.is_dir():
            fail(f"the benchmark scripts are missing from this install ({folder}); reinstall ropelab")
        results, failed, skipped = [], [], []
        with Steps("benchmarking", chosen, show=False) as steps:
            for name in chosen:
                console.rule(Text(f"ropelab bench {name}"))
                code, result = run_workload(folder / WORKLOADS[name], quick)
                if code != 0 or result is None:
                    failed.append(name)
                else:
                    results.append(result)
                    skipped += [(name, entry) for entry in result.get("skipped", [])]
                steps.finish(name)
        console.print(summary_table(results, quick))
        for name, entry in skipped:
            say(f"{name}: skipped baseline {entry['baseline']}: {entry['reason']}", style="yellow")
        if json_path is not None:
            write_text_atomically(json_path, json.dumps({"quick": quick, "results": results}, indent=2) + "\n", "--json")
            say(f"results written to {json_path}")
        if failed:
            fail(f"workloads that did not finish: {', '.join(failed)}", code=1)
        if skipped:
            say(f"to run the skipped baselines: {install_line(['bench'])}", style="yellow")
