"""The ``ropelab experiment`` commands: train and evaluate the paper's experiments at small scale."""

import contextlib
import importlib
import io
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from ._console import Steps, console, fail, fail_unknown, say, writable_folder
from .render import Column, Tabular, tabular

__all__ = ["MAX_HOURS", "PlainProgress", "fitted_tables"]

MAX_HOURS = 12.0
"""``--max-hours`` by default: a run estimated to take longer here (overnight) is refused unless
``--force``. The committed ``small`` Table 2 run (1.5 h) is estimated at 2 to 7 h on a 2-core
machine, by how loaded the machine is when the estimate is measured."""


class PlainProgress:
    """The part of :class:`rich.progress.Progress` that the experiment runner uses, as plain lines.

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
    """Add ``ropelab experiment NAME`` to the ``ropelab`` command, one subcommand per experiment."""
    from ropelab.checks.findings.experiments import EXPERIMENTS

    experiment = typer.Typer(no_args_is_help=True, help="Train small models to test the paper's empirical claims.")
    for name, entry in EXPERIMENTS.items():
        if entry.module:
            experiment.command(name)(_command(name, entry))
    app.add_typer(experiment, name="experiment")


def _command(name: str, entry):
    """``ropelab experiment NAME``: train and evaluate every run through the one runner, write, print."""
    def command(
        preset: Annotated[str, typer.Option(help=entry.preset_help, metavar="NAME")] = "small",
        seeds: Annotated[int | None, typer.Option(help="number of seeds (default: the preset's)", min=1,
                                                  metavar="N")] = None,
        out: Annotated[Path | None, typer.Option(help=f"output folder (default: results/{name}_PRESET)",
                                                 metavar="FOLDER")] = None,
        jobs: Annotated[int, typer.Option("--jobs", min=0, metavar="N",
                                          help="single-threaded training processes (default 0: one per CPU core; "
                                               "only for experiments trained in processes)")] = 0,
        cost: Annotated[bool, typer.Option("--cost", help="print the preset's cost (FLOPs, device-hours, hours "
                                                          "here, memory of one step) and exit")] = False,
        max_hours: Annotated[float, typer.Option("--max-hours", metavar="H",
                                                 help="refuse to start when the estimated time here exceeds H "
                                                      "hours")] = MAX_HOURS,
        force: Annotated[bool, typer.Option("--force", help="start even when the estimate exceeds "
                                                            "--max-hours")] = False,
        placement: Annotated[str, typer.Option("--placement", metavar="MODE",
                                               help="runs: runs dealt to hosts, each on its own devices (default); "
                                                    "global: every run on one mesh of every device of every host"
                                               )] = "runs",
        model_axis: Annotated[int, typer.Option("--model-axis", metavar="K",
                                                help="split each parameter matrix over K devices of the mesh "
                                                     "(default 1: replicated)")] = 1,
    ) -> None:
        from ropelab.checks.findings import experiment_runner, training_cost
        from ropelab.checks.findings.models.training import CheckpointError

        record = entry.record()
        if preset not in record.presets:
            fail_unknown("preset", preset, list(record.presets))
        if not (math.isfinite(max_hours) and max_hours > 0):
            fail(f"--max-hours must be a finite number of hours > 0, got {max_hours:g}")
        if placement not in experiment_runner.PLACEMENTS:
            fail_unknown("placement", placement, list(experiment_runner.PLACEMENTS))
        if model_axis < 1:
            fail(f"--model-axis must be a positive integer, got {model_axis}")
        if jobs and not record.processes:
            fail(f"--jobs: {name} trains its runs one after another in this process, as its committed runs "
                 "were trained; leave --jobs out")
        try:
            chosen = record.presets[preset]
        except FileNotFoundError as err:  # a preset formed from committed results this install lacks
            fail(f"--preset {preset}: {err}")
        out_dir = writable_folder(out if out is not None else Path("results") / f"{name}_{preset}", "--out")
        n_seeds = seeds or chosen.seeds
        # join the hosts the environment names (ROPELAB_COORDINATOR, ...) before JAX computes anything: the
        # cost below measures this machine
        try:
            where = experiment_runner.placement(record, len(record.jobs(chosen, n_seeds)), jobs or None, placement,
                                                model_axis)
        except ValueError as err:
            fail(f"--placement {placement} --model-axis {model_axis}: {err}")
        estimate = training_cost.experiment_cost(record, chosen, n_seeds)
        if not cost and not force and estimate.machine_hours > max_hours:
            fail(f"{name} preset {preset}: estimated {estimate.machine_hours:.3g} h on this machine "
                 f"({estimate.total_flops:.2g} FLOPs at {estimate.machine_rate:.1e} FLOP/s), over --max-hours "
                 f"{max_hours:g}; --force to start anyway")
        say(f"{name} preset {preset}, {n_seeds} seed(s): {estimate.line()}")
        if cost:
            return
        say(f"{name} preset {preset}: {chosen.description}; output {out_dir}")
        say(where.describe())
        live = console.is_terminal
        # off a terminal: one line per quarter of a run's steps and one per finished run
        with Steps("training", record.run_labels(chosen, n_seeds), show=not live) as steps:
            progress = LiveProgress(steps, TextColumn("{task.description}", markup=False), BarColumn(),
                                    MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                    console=console) if live else PlainProgress(steps)
            try:
                with progress if live else contextlib.nullcontext():
                    results = experiment_runner.run(record, chosen, out_dir, seeds=seeds, progress=progress,
                                                    workers=jobs or None, mode=placement, model_axis=model_axis)
            except CheckpointError as err:
                fail(f"{err}; delete that file to restart the run from scratch", code=1)
        if where.host != 0:
            say(f"host {where.host} of {where.hosts}: its runs are in {out_dir}; host 0 writes the results")
            return
        for path in _REPORTS.get(name, _explain)(results, out_dir):
            say(f"wrote {path}")

    command.__doc__ = (f"{entry.label}: {entry.statement}\n\nThe first line states the preset's cost (--cost prints "
                       f"it and stops); a run estimated to take longer here than --max-hours (default {MAX_HOURS:g}) "
                       "is refused unless --force. Checkpoints are kept in OUT/checkpoints: run the same command "
                       "again to resume.")
    return command


def _explain(results: dict, out_dir: Path) -> list[Path]:
    """Print the experiment's explanation of these results; name the results file."""
    from ropelab.checks.findings.experiments import EXPERIMENTS

    module = importlib.import_module(f"ropelab.checks.findings.{EXPERIMENTS[results['experiment']].module}")
    console.print(Text(module.explain(results)))
    return [out_dir / module.RESULTS_NAME]


def _table2_report(results: dict, out_dir: Path) -> list[Path]:
    """Draw Table 2's figure, print its table and findings; name every file written."""
    from ropelab.checks.findings import table2
    from ropelab.paper_figs import table2_training

    table2_training.draw(results, out_dir, table2.FIGURE_NAME)
    show(console, results)
    return [out_dir / name for name in (table2.RESULTS_NAME, table2.TABLE_NAME, f"{table2.FIGURE_NAME}.png",
                                        f"{table2.FIGURE_NAME}.pdf")]


_REPORTS = {"table2": _table2_report}
"""What a command prints after its runs (default: the experiment's explanation)."""


def _stacked(cell: str) -> str:
    """``"9.015 ± 0.417"`` -> two lines; ``"+0.01 [+0.00, +0.02]"`` -> two lines; numbers stay whole."""
    for mark in (" ± ", " ["):
        if mark in cell:
            head, tail = cell.split(mark, 1)
            return f"{head}\n{mark.strip()}{' ' if mark == ' ± ' else ''}{tail}"
    return cell


def fitted_tables(header: list[str], rows: list[list[str]], title: str = "") -> list[Tabular]:
    """The results table, laid out for the width it is printed at: no column dropped, numbers never split.

    Spreads and intervals stand on two lines. Where the columns do not fit side by side they go,
    in order, into as few tables as fit, each led again by the encoding column
    (:mod:`ropelab.cli.render`).
    """
    columns = [Column(header[0]), *(Column(h, whole=True) for h in header[1:])]  # number lines stay whole
    return [tabular(columns, [[row[0], *(_stacked(cell) for cell in row[1:])] for row in rows], title=title)]


def show(console: Console, results: dict) -> None:
    """Print the results table (beside the paper's numbers unless it is a pipeline check), then the findings."""
    from ropelab.checks.findings import table2

    header, rows = table2.table_rows(results)
    n = len(results["seeds"])
    spread = "mean ± sd" if n > 1 else "one seed: no spread"
    kind = "pipeline check, not a result" if table2.is_pipeline_check(results) else "validation perplexity"
    for table in fitted_tables(header, rows, f"Table 2 at small scale: {kind} ({n} seed(s), {spread})"):
        console.print(table)
    for line in results["findings"]:
        console.print(Text(f"- {line}"))
