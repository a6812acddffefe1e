"""The ``ropelab`` command: verify claims, list them, explain one, draw the figures."""

from __future__ import annotations

import importlib
import math
import os
import time
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ._console import (Steps, console, fail_unknown, install_line, interrupted_message, missing_extra,
                       say, writable_file, writable_folder)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Check, symbolically and numerically, what RoPE can and cannot do (Barbero et al., ICLR 2025).",
)

# Further commands live in their own modules; each defines ``register(app)``.
COMMAND_MODULES: tuple[str, ...] = (
    "ropelab.cli.zoo",
    "ropelab.cli.conform",
    "ropelab.cli.precision",
    "ropelab.cli.analyze_model",
    "ropelab.cli.bench",
    "ropelab.cli.experiment",
    "ropelab.cli.report",
    "ropelab.cli.errata",
)


USER_NUMERICS = ("conform",)
"""Commands that run the user's code and so leave JAX's numerics as the user's process has them."""


def _configure_jax() -> None:
    """Process-edge JAX settings: float64 for proofs, and a persistent compilation cache.

    Neither is set on import. The cache (``$ROPELAB_CACHE/jax``, else
    ``~/.cache/ropelab/jax``) is keyed by XLA on the whole program and the backend, so a
    second run reuses compiled kernels instead of spending a third of its time compiling.
    JAX itself is not imported here: where it is not loaded yet the settings go to the
    environment JAX reads when a command first uses it (and worker processes inherit).
    """
    if "jax" in sys.modules:
        import jax

        from ropelab.checks.findings.models.model_cache import enable_compilation_cache

        jax.config.update("jax_enable_x64", True)
        enable_compilation_cache()
        return
    root = os.environ.get("ROPELAB_CACHE") or Path.home() / ".cache" / "ropelab"  # model_cache.cache_root's rule
    os.environ["JAX_ENABLE_X64"] = "1"
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(Path(root) / "jax")
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"


def _command(args: list[str]) -> str | None:
    """The command word of ``args`` (the first one that is not an option)."""
    return next((a for a in args if not a.startswith("-")), None)


def _fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.2e}"


VERIFY_COLUMNS = ("claim", "paper", "status", "shown (trust: scope)", "residual / tolerance", "negative control", "s")
WIDE = 110
"""From this many columns ``list`` has one column per field; narrower, fields are stacked."""
WIDE_VERIFY = 200
"""The same for the verify table, whose "shown" column needs room to be read (below 200 columns
its one-column-per-field layout leaves "shown" too narrow to read its first words together)."""


def _width(width: int | None) -> int:
    return width or console.width


def verify_table(results, title: str, width: int | None = None) -> Table:
    """The verify table: ids and numbers never split; the "shown" column (trust: scope) wraps.

    Below :data:`WIDE_VERIFY` columns the paper label and "shown" stand under the id, in one cell
    at least as wide as the longest id; status, negative control and time share a cell, and the
    residual and its tolerance stand on two lines.
    """
    narrow = _width(width) < WIDE_VERIFY
    if narrow:
        table = Table(title=Text(title), box=box.SIMPLE_HEAD, padding=(0, 1), show_lines=True)
        # fixed widths: the longest line each column holds (the seconds stand under the status, so
        # that the longest id, 46 characters, still fits at 80 columns); the first column takes the rest
        seconds = max((len(f"{r.seconds:.1f} s") for r in results), default=3)
        fixed = (("status\n/ control\n/ time", max(9, seconds)), ("residual\n/ tolerance", 11))
        columns = len(fixed) + 1  # overhead: padding 2 per column, a rule between columns, 2 edges
        rest = _width(width) - sum(w for _, w in fixed) - 2 * columns - (columns - 1) - 2
        table.add_column("claim / paper / shown", overflow="fold",
                         width=max(rest, max((len(r.id) for r in results), default=5)))
        for col, width_ in fixed:
            table.add_column(col, width=width_, overflow="fold")
    else:
        table = Table(title=Text(title))
        for col in VERIFY_COLUMNS:
            wraps = col in ("paper", "shown (trust: scope)")
            table.add_column(col, justify="right" if col == "s" else "left", no_wrap=not wraps, overflow="fold",
                             ratio=1 if col.startswith("shown") else None)
    for r in results:
        status = Text("pass", style="green") if r.status == "pass" else Text("FAIL", style="red")
        shown = Text(r.shown) if r.symbolic is not False else Text("not proved (symbolic side failed)", style="red")
        neg = Text("rejected") if r.negative_rejected else Text("ACCEPTED", style="red")
        residual = Text(f"{_fmt(r.residual)}{chr(10) if narrow else ' '}/ {_fmt(r.tolerance)}")
        if narrow:
            table.add_row(Text.assemble((r.id, "bold"), "\n", r.label, "\n", shown),
                          Text.assemble(status, "\n", neg, "\n", f"{r.seconds:.1f} s"), residual)
        else:
            table.add_row(Text(r.id), Text(r.label), status, shown, residual, neg, Text(f"{r.seconds:.1f}"))
    return table


CLAIMS_PER_WORKER = 8
"""Without ``--jobs``, a worker process is started for every this many claims (at most one per
core): starting one (an interpreter, JAX and the registry) costs about as much as a few claims."""


def auto_workers(n_claims: int) -> int:
    """The default number of verify workers for ``n_claims`` claims on this machine.

    >>> auto_workers(3)
    1
    """
    return max(1, min(os.cpu_count() or 1, n_claims // CLAIMS_PER_WORKER))


@app.command()
def verify(
    ids: Annotated[list[str] | None, typer.Argument(help="claim ids to run (default: all)", metavar="ID")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the JSON report here", metavar="FILE")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="smaller grids, same checks")] = False,
    certify: Annotated[bool, typer.Option("--certify", help="also run the Arb certificates (parallel processes)")] = False,
    jobs: Annotated[int, typer.Option("--jobs", min=0, metavar="N",
                                      help="worker processes (default 0: one per CPU core, one per 8 claims at most; "
                                           "1: this process only)")] = 0,
) -> None:
    """Run claims: symbolic side, numeric side and negative control; exit 1 on any failure."""
    from ropelab.checks.registry import REGISTRY, select
    from ropelab.checks.runner import run_claims, write_report

    try:
        claims = select(ids)
    except KeyError as err:
        fail_unknown("claim id", str(err).strip("'"), list(REGISTRY))
    if json_path is not None:  # refused now, not after the whole run
        writable_file(json_path, "--json")
    workers = 1 if certify else min(jobs or auto_workers(len(claims)), len(claims))
    started = time.perf_counter()
    with Steps("verifying", [c.id for c in claims]) as steps:
        results = run_claims(claims, quick=quick, certify=certify, jobs=workers,
                             on_result=lambda r: steps.finish(r.id, f"{r.status} ({r.seconds:.1f} s)"))
    wall = time.perf_counter() - started
    console.print(verify_table(results, f"ropelab verify{' --quick' if quick else ''}{' --certify' if certify else ''}"))
    failed = [r for r in results if r.status != "pass"]
    for r in failed:
        say(f"{r.id} failed at {r.worst_point}", style="red")
        if r.error:
            say(r.error)
    say(f"{len(results) - len(failed)}/{len(results)} claims pass in {wall:.1f} s"
        + (f" ({workers} worker processes; {sum(r.seconds for r in results):.1f} s of claim time)" if workers > 1 else ""))
    if json_path is not None:
        write_report(json_path, results, quick, certify)
        say(f"report written to {json_path}")
    raise typer.Exit(code=1 if failed else 0)


def claims_table(claims, width: int | None = None) -> RenderableType:
    """``ropelab list``: id, paper label, section and statement; ids never split.

    Below :data:`WIDE` columns each claim is a heading line (id, paper, section) with its
    statement indented under it.
    """
    if _width(width) < WIDE:
        parts = []
        for claim in claims:
            parts.append(Text.assemble((claim.id, "bold"), f"  {claim.label} · {claim.section}"))
            parts.append(Padding(Text(claim.statement), (0, 0, 0, 4)))
        return Group(*parts)
    table = Table(show_lines=False)
    table.add_column("claim", no_wrap=True)
    table.add_column("paper", no_wrap=True)
    table.add_column("section", overflow="fold", max_width=14)
    table.add_column("statement", overflow="fold", ratio=1)
    for claim in claims:
        table.add_row(Text(claim.id), Text(claim.label), Text(claim.section), Text(claim.statement))
    return table


@app.command("list")
def list_claims() -> None:
    """List every registered claim with its paper label and statement."""
    from ropelab.checks.registry import REGISTRY

    console.print(claims_table(REGISTRY.values()))
    say(f"{len(REGISTRY)} claims registered")


@app.command()
def explain(claim_id: Annotated[str, typer.Argument(help="a claim id (see `ropelab list`) or an experiment (table2)",
                                                    metavar="ID")]) -> None:
    """Print a claim's statement, its corrected reading, the derivation and a worked instance (or an experiment's outcome)."""
    from ropelab.checks import runner
    from ropelab.checks.findings.experiments import EXPERIMENTS
    from ropelab.checks.registry import REGISTRY

    if claim_id in EXPERIMENTS:  # measured findings (training runs) explain their recorded outcome
        from .experiment import fitted_tables

        experiment = EXPERIMENTS[claim_id]
        if experiment.sections is None:
            console.print(Text(experiment.explain()))
            return
        before, table, after = experiment.sections()
        console.print(Text(before))
        if table is not None:
            for part in fitted_tables(*table, console.width):
                console.print(part)
            console.print(Text(after))
        return
    if claim_id not in REGISTRY:
        fail_unknown("claim id", claim_id, list(REGISTRY) + list(EXPERIMENTS))
    claim = REGISTRY[claim_id]
    console.rule(Text(f"{claim.id}  ({claim.label})"))
    console.print(Text.assemble(("Statement.", "bold"), " ", claim.statement))
    if claim.corrected:
        console.print(Text.assemble(("Corrected reading.", "bold"), " ", claim.corrected))
    if claim.symbolic is not None:
        derivation = runner.derivation(claim.symbolic.derive)
        console.print(Text.assemble(("Symbolic side", "bold"), f" ({'holds' if derivation.holds else 'DOES NOT HOLD'}; "
                                    f"{claim.symbolic.shown.line()}): {derivation.statement}"))
        for step in derivation.steps:
            console.print(Text(f"  - {step}"))
    else:
        console.print(Text.assemble(("Symbolic side.", "bold"), f" none: {claim.symbolic_reason}"))
    console.print(Text.assemble(("Numeric side.", "bold"), f" {claim.numeric.line()}"))
    if claim.certificate is not None:
        console.print(Text.assemble(("Certificate", "bold"), f" (ropelab verify --certify): {claim.certificate.shown.line()}"))
    console.print(Text("Worked instance.", style="bold"))
    console.print(Text(claim.explain()))
    console.print(Text.assemble(("Negative control.", "bold"), f" {claim.wrong.description}"))
    console.print(Text.assemble(("Tolerance.", "bold"), " ", claim.tolerance_reason))
    console.print(Text.assemble(("Run it.", "bold"), f" ropelab verify {claim.id}"))


@app.command()
def figs(
    names: Annotated[list[str] | None, typer.Argument(help="figure names (default: all)", metavar="NAME")] = None,
    out: Annotated[Path, typer.Option("--out", help="output folder", metavar="FOLDER")] = Path("figs"),
) -> None:
    """Regenerate figures as PNG and PDF (each file written atomically).

    Figures that need an extra that is not installed (the Gemma figures need the models
    extra) are skipped and listed; every other figure is drawn.
    """
    from ropelab.paper_figs import FIGURES

    chosen = names or list(FIGURES)
    for name in chosen:
        if name not in FIGURES:
            fail_unknown("figure", name, list(FIGURES))
    writable_folder(out, "--out")
    skipped: dict[str, tuple[str, str]] = {}
    with Steps("drawing", chosen) as steps:
        for name in chosen:
            try:
                paths = FIGURES[name](out)
            except ImportError as err:
                needs = missing_extra(err)
                if needs is None:
                    raise
                skipped[name] = needs
                steps.finish(name, f"skipped: needs {needs[0]} (the {needs[1]} extra)")
                continue
            steps.finish(name, "drew " + ", ".join(Path(p).name for p in paths))
            if console.is_terminal:
                for path in paths:
                    say(f"wrote {path}")
    say(f"{len(chosen) - len(skipped)} of {len(chosen)} figures written to {out}")
    if skipped:
        say(f"skipped {len(skipped)} that need an extra: {', '.join(skipped)}; to draw them: "
            + install_line(extra for _, extra in skipped.values()), style="yellow")
        if names:  # the user asked for these by name
            raise typer.Exit(code=2)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def _help_types_from_metavars() -> None:
    """``--help`` shows an argument's metavar (``[ID]...``) alone and a flag without ``<bool>``."""
    from typer.core import TyperArgument, TyperOption

    argument_type, option_type = TyperArgument.display_type_rich, TyperOption.display_type_rich
    TyperArgument.display_type_rich = lambda self, ctx: None if self.metavar is not None else argument_type(self, ctx)
    TyperOption.display_type_rich = lambda self, ctx: None if self.is_flag else option_type(self, ctx)


_help_types_from_metavars()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: switch on float64 for JAX, then dispatch.

    Exit codes: 0 done, 1 a claim or workload failed, 2 a mistake the user can fix (one
    line says which), 130 interrupted (a line says what finished and what did not).
    """
    args = argv if argv is not None else sys.argv[1:]
    if _command(args) not in USER_NUMERICS:
        _configure_jax()
    try:
        app(args=args, prog_name="ropelab")
    except SystemExit as done:
        if done.code == 130:  # typer turns Ctrl-C into exit code 130
            say(interrupted_message(), style="yellow")
        raise
    except ImportError as err:
        needs = missing_extra(err)
        if needs is None:
            raise
        say(f"this needs the package {needs[0]} (the {needs[1]} extra), which is not installed; "
            f"install it with: {install_line([needs[1]])}", style="red")
        sys.exit(2)


if __name__ == "__main__":
    main()
