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
from rich.console import Console
from rich.table import Table

from ropelab.constructions.atomic import write_text_atomically

WORKLOADS = {
    "logit-curve": "logit_curve.py",
    "diagonal-head": "diagonal_head.py",
    "attention": "attention.py",
    "verify": "verify.py",
}

console = Console(width=None if sys.stdout.isatty() else 160)


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


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        workloads: Annotated[list[str] | None,
                             typer.Argument(help=f"workloads to run (default: all): {', '.join(WORKLOADS)}")] = None,
        quick: Annotated[bool, typer.Option("--quick", help="small sizes: check that they run, not the speed")] = False,
        json_path: Annotated[Path | None, typer.Option("--json", help="write every workload's results here")] = None,
    ) -> None:
        """Time each workload against its baselines in the same run; print times, ratios, throughput."""
        chosen = workloads or list(WORKLOADS)
        unknown = [w for w in chosen if w not in WORKLOADS]
        if unknown:
            console.print(f"[red]unknown workload: {', '.join(unknown)}[/red]; known: {', '.join(WORKLOADS)}")
            raise typer.Exit(code=2)
        folder = benchmarks_folder()
        if not folder.is_dir():
            console.print(f"[red]{folder} not found[/red]: the benchmarks live in the source repository; "
                          "clone it and install with pip install -e '.[bench]'")
            raise typer.Exit(code=2)
        results, failed = [], []
        for name in chosen:
            console.rule(f"ropelab bench {name}")
            code, result = run_workload(folder / WORKLOADS[name], quick)
            if code != 0 or result is None:
                failed.append(name)
            else:
                results.append(result)
        table = Table(title=f"ropelab bench{' --quick' if quick else ''}: summary")
        for col in ("workload", "ours", "baseline (same run)", "ours s", "baseline s", "ratio", "throughput",
                    "target", "met"):
            table.add_column(col, justify="left" if col in ("workload", "ours", "baseline (same run)") else "right")
        for result in results:
            for line in result["summary"]:
                table.add_row(result["workload"], line["ours"], line["baseline"], f"{line['ours_s']:.4g}",
                              f"{line['baseline_s']:.4g}", f"{line['ratio']:.1f}x", line["throughput"],
                              line["target"], {None: "-", True: "yes", False: "[red]NO[/red]"}[line["met"]])
        console.print(table)
        if json_path is not None:
            write_text_atomically(json_path, json.dumps({"quick": quick, "results": results}, indent=2) + "\n")
            console.print(f"results written to {json_path}")
        if failed:
            console.print(f"[red]workloads that did not finish: {', '.join(failed)}[/red]")
            raise typer.Exit(code=1)
