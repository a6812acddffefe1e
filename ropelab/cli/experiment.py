"""The ``ropelab experiment`` commands: train and evaluate the paper's experiments at small scale."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


def register(app: typer.Typer) -> None:
    """Add ``ropelab experiment table2`` to the ``ropelab`` command."""
    experiment = typer.Typer(no_args_is_help=True, help="Train small models to test the paper's empirical claims.")

    @experiment.command("table2")
    def table2_command(
        preset: Annotated[str, typer.Option(help="smoke (about a minute), small (the reported run, 30-60 min), full (days)")] = "small",
        seeds: Annotated[int | None, typer.Option(help="number of seeds (default: the preset's)", min=1)] = None,
        out: Annotated[Path | None, typer.Option(help="output folder (default: results/table2_PRESET)")] = None,
    ) -> None:
        """Table 2: seven positional encodings, validation perplexity at T, 2T and 4T, head frequency usage.

        Checkpoints are kept in OUT/checkpoints: run the same command again to resume.
        """
        from ropelab.constructions.models.training import CheckpointError

        from ropelab.checks.findings import table2

        console = Console(width=None if sys.stdout.isatty() else 200)  # full rows when piped to a file
        if preset not in table2.PRESETS:
            console.print(f"[red]unknown preset: {preset}[/red]; known presets: {', '.join(table2.PRESETS)}")
            raise typer.Exit(code=2)
        chosen = table2.PRESETS[preset]
        out_dir = out if out is not None else Path("results") / f"table2_{preset}"
        console.print(f"[bold]table2[/bold] preset {preset}: {chosen.description}; output {out_dir}")
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=console)
        try:
            with progress:
                results = table2.run(chosen, out_dir, seeds=seeds, progress=progress)
        except CheckpointError as err:
            console.print(f"[red]{err}[/red]\nDelete that file to restart the run from scratch.")
            raise typer.Exit(code=1) from None
        from ropelab.paper_figs import table2_training

        table2_training.draw(results, out_dir, table2.FIGURE_NAME)
        show(console, results)
        for name in (table2.RESULTS_NAME, table2.TABLE_NAME, f"{table2.FIGURE_NAME}.png", f"{table2.FIGURE_NAME}.pdf"):
            console.print(f"wrote {out_dir / name}")

    app.add_typer(experiment, name="experiment")


def show(console: Console, results: dict) -> None:
    """Print the results table beside the paper's numbers, then the findings."""
    from ropelab.checks.findings import table2

    header, rows = table2.table_rows(results)
    table = Table(title=f"Table 2 at small scale: validation perplexity ({len(results['seeds'])} seed(s), mean ± sd)")
    for col in header:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for line in results["findings"]:
        console.print(f"- {line}", markup=False, highlight=False)
