"""The ``ropelab experiment`` commands: train and evaluate the paper's experiments at small scale."""

from __future__ import annotations

import io

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ._console import Steps, console, fail, fail_unknown, say, writable_folder


class PlainProgress:
    """The part of :class:`rich.progress.Progress` that ``table2.run`` uses, as plain lines.

    Off a terminal a live bar prints nothing until the end; this prints a line when a run
    passes each quarter of its steps and one when it is finished, and tells the Ctrl-C ledger
    which runs are done.
    """

    def __init__(self, steps: Steps):
        self.labels: list[str] = []
        self.totals: list[float | None] = []
        self.quarters: list[int] = []
        self.steps = steps

    def add_task(self, description: str, total: float | None = None, **_) -> int:
        self.labels.append(description)
        self.totals.append(total)
        self.quarters.append(0)
        return len(self.labels) - 1

    def update(self, task: int, completed: float | None = None, description: str | None = None,
               visible: bool = True, **_) -> None:
        if not visible and task > 0:  # a run ended (the overall task is 0)
            self.steps.finish(self.labels[task], f"({int(completed or 0)} steps)")
        elif completed is not None and self.totals[task]:
            quarter = int(4 * completed // self.totals[task])
            if 0 < quarter < 4 and quarter > self.quarters[task]:
                self.quarters[task] = quarter
                say(f"  {self.labels[task]}: step {int(completed)} of {int(self.totals[task])}")

    def advance(self, task: int, advance: float = 1) -> None:
        pass


class LiveProgress(Progress):
    """A rich progress bar that also tells the Ctrl-C ledger which runs are done."""

    def __init__(self, steps: Steps, *columns, **kwargs):
        super().__init__(*columns, **kwargs)
        self.steps, self._labels = steps, {}

    def add_task(self, description: str, *args, **kwargs):
        task = super().add_task(description, *args, **kwargs)
        self._labels[task] = description
        return task

    def update(self, task, *args, visible: bool | None = None, **kwargs) -> None:
        super().update(task, *args, visible=visible, **kwargs)
        if visible is False and task in self._labels and self._labels[task] in self.steps.items:
            self.steps.finish(self._labels[task])


def register(app: typer.Typer) -> None:
    """Add ``ropelab experiment table2|breaking|offset`` to the ``ropelab`` command."""
    experiment = typer.Typer(no_args_is_help=True, help="Train small models to test the paper's empirical claims.")

    @experiment.command("table2")
    def table2_command(
        preset: Annotated[str, typer.Option(
            help="smoke (a pipeline check, about a minute), pilot (the small run's design, about 12 min), "
                 "small (the reported run, about 80 min), long (its length check: 3 rows, 3x the steps, about "
                 "60 min), nope_long (NoPE alone, 6x the steps, about 45 min), gpu (an accelerator)",
            metavar="NAME")] = "small",
        seeds: Annotated[int | None, typer.Option(help="number of seeds (default: the preset's)", min=1,
                                                  metavar="N")] = None,
        out: Annotated[Path | None, typer.Option(help="output folder (default: results/table2_PRESET)",
                                                 metavar="FOLDER")] = None,
        jobs: Annotated[int, typer.Option("--jobs", min=0, metavar="N",
                                          help="single-threaded training processes (default 0: one per CPU core)")] = 0,
    ) -> None:
        """Table 2: seven positional encodings, validation perplexity at T, 2T, 4T and 8T, head frequency usage.

        Checkpoints are kept in OUT/checkpoints: run the same command again to resume.
        """
        from ropelab.checks.findings.models.training import CheckpointError

        from ropelab.checks.findings import table2

        if preset not in table2.PRESETS:
            fail_unknown("preset", preset, list(table2.PRESETS))
        chosen = table2.PRESETS[preset]
        out_dir = writable_folder(out if out is not None else Path("results") / f"table2_{preset}", "--out")
        n_seeds = seeds or chosen.seeds
        say(f"table2 preset {preset}: {chosen.description}; output {out_dir}")
        runs = [f"{v.id} seed {seed}" for v in chosen.variants() for seed in range(n_seeds)]
        live = console.is_terminal
        with Steps("training", runs, show=not live) as steps:  # off a terminal: one line per finished run
            progress = LiveProgress(steps, TextColumn("{task.description}", markup=False), BarColumn(),
                                    MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                    console=console) if live else PlainProgress(steps)
            try:
                if live:
                    with progress:
                        results = table2.run(chosen, out_dir, seeds=seeds, progress=progress, workers=jobs or None)
                else:
                    results = table2.run(chosen, out_dir, seeds=seeds, progress=progress, workers=jobs or None)
            except CheckpointError as err:
                fail(f"{err}; delete that file to restart the run from scratch", code=1)
        from ropelab.paper_figs import table2_training

        table2_training.draw(results, out_dir, table2.FIGURE_NAME)
        show(console, results)
        for name in (table2.RESULTS_NAME, table2.TABLE_NAME, f"{table2.FIGURE_NAME}.png", f"{table2.FIGURE_NAME}.pdf"):
            say(f"wrote {out_dir / name}")

    for name in ("breaking", "offset"):
        experiment.command(name)(_synthetic_command(name))

    app.add_typer(experiment, name="experiment")


class RunsProgress:
    """The ``add_task`` / ``update(advance=1)`` calls of the synthetic experiments, as :class:`Steps`."""

    def __init__(self, steps: Steps):
        self.steps = steps

    def add_task(self, description: str, total: float | None = None, **_) -> int:
        return 0

    def update(self, task: int, advance: float = 0, description: str | None = None, **_) -> None:
        if advance:
            self.steps.finish(self.steps.items[len(self.steps.done)])


def _synthetic_command(name: str):
    """``ropelab experiment breaking|offset``: train, evaluate, write the results JSON, print the findings."""
    def command(
        preset: Annotated[str, typer.Option(help="smoke (a pipeline check, no findings), small (the committed run), "
                                                 "gpu (an accelerator)", metavar="NAME")] = "small",
        seeds: Annotated[int | None, typer.Option(help="number of seeds (default: the preset's)", min=1,
                                                  metavar="N")] = None,
        out: Annotated[Path | None, typer.Option(help="output folder (default: results/EXPERIMENT_PRESET)",
                                                 metavar="FOLDER")] = None,
    ) -> None:
        from ropelab.checks.findings.models.training import CheckpointError

        module = _synthetic_module(name)
        if preset not in module.PRESETS:
            fail_unknown("preset", preset, list(module.PRESETS))
        chosen = module.PRESETS[preset]
        out_dir = writable_folder(out if out is not None else Path("results") / f"{name}_{preset}", "--out")
        n_seeds = seeds or chosen.seeds
        say(f"{name} preset {preset}: {chosen.description}; output {out_dir}")
        runs = [f"{label} seed {seed}" for seed in range(n_seeds) for label, _ in module.encodings(chosen)]
        with Steps("training", runs) as steps:
            try:
                results = module.run(chosen, out_dir, seeds=seeds, progress=RunsProgress(steps))
            except CheckpointError as err:
                fail(f"{err}; delete that file to restart the run from scratch", code=1)
        console.print(Text(module.explain(results)))
        say(f"wrote {out_dir / module.RESULTS_NAME}")

    command.__doc__ = _module_summary(f"ropelab.checks.findings.{name}")
    return command


def _module_summary(module: str) -> str:
    """The first paragraph of ``module``'s docstring, read from its source without importing it (JAX stays unloaded
    until the command runs)."""
    import ast
    import importlib.util

    origin = importlib.util.find_spec(module).origin
    with open(origin, encoding="utf-8") as handle:
        doc = ast.get_docstring(ast.parse(handle.read())) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _synthetic_module(name: str):
    from ropelab.checks.findings import breaking, offset

    return {"breaking": breaking, "offset": offset}[name]


def _stacked(cell: str) -> str:
    """``"9.015 ± 0.417"`` -> two lines; ``"+0.01 [+0.00, +0.02]"`` -> two lines; numbers stay whole."""
    for mark in (" ± ", " ["):
        if mark in cell:
            head, tail = cell.split(mark, 1)
            return f"{head}\n{mark.strip()}{' ' if mark == ' ± ' else ''}{tail}"
    return cell


def fitted_tables(header: list[str], rows: list[list[str]], width: int, title: str = "") -> list[Table]:
    """The results table laid out for ``width`` columns: no column dropped, numbers never split.

    Spreads and intervals stand on two lines. The columns go, in order, into as few tables as
    fit in ``width``, each table after the first led again by the encoding column.
    """
    def narrowest(i: int) -> int:
        # the narrowest a column may get: its longest word (encoding, header) or its longest number line
        cells = [row[i] if i == 0 else _stacked(row[i]) for row in rows]
        pieces = [w for c in cells for w in (c.split() if i == 0 else c.splitlines())] + header[i].split()
        return max(map(len, pieces))

    def table_of(columns: list[int], caption: str) -> Table:
        table = Table(title=Text(caption) if caption else None, padding=(0, 1))
        for i in columns:
            table.add_column(Text(header[i]), overflow="fold", min_width=narrowest(i), ratio=1 if i == 0 else None)
        for row in rows:
            table.add_row(*(Text(row[i] if i == 0 else _stacked(row[i])) for i in columns))
        return table

    def fits(columns: list[int]) -> bool:
        # rich crops the right-hand columns of a table it cannot shrink to the width (its
        # measurement can say it fits when it does not), so the table is drawn and its right
        # border looked for on every line
        console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
        console.print(table_of(columns, ""))
        return all(line.rstrip()[-1:] in ("┓", "┃", "┩", "│", "┘") for line in console.export_text().splitlines())

    parts = [[0]]
    for i in range(1, len(header)):
        if len(parts[-1]) > 1 and not fits(parts[-1] + [i]):
            parts.append([0])
        parts[-1].append(i)
    return [table_of(columns, title if n == 0 else "") for n, columns in enumerate(parts)]


def show(console: Console, results: dict) -> None:
    """Print the results table (beside the paper's numbers unless it is a pipeline check), then the findings."""
    from ropelab.checks.findings import table2

    header, rows = table2.table_rows(results)
    n = len(results["seeds"])
    spread = "mean ± sd" if n > 1 else "one seed: no spread"
    kind = "pipeline check, not a result" if table2.is_pipeline_check(results) else "validation perplexity"
    for table in fitted_tables(header, rows, console.width, f"Table 2 at small scale: {kind} ({n} seed(s), {spread})"):
        console.print(table)
    for line in results["findings"]:
        console.print(Text(f"- {line}"))
