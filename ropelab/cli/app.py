"""The ``ropelab`` command: verify claims, list them, explain one, draw the figures."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ._console import console, fail_unknown

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


def _configure_jax() -> None:
    """Process-edge JAX settings: float64 for proofs, and a persistent compilation cache.

    Neither is set on import. The cache (``$ROPELAB_CACHE/jax``, else
    ``~/.cache/ropelab/jax``) is keyed by XLA on the whole program and the backend, so a
    second run reuses compiled kernels instead of spending a third of its time compiling.
    """
    import jax

    from ropelab.constructions.models.model_cache import cache_root

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_compilation_cache_dir", str(cache_root() / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.2e}"


@app.command()
def verify(
    ids: Annotated[list[str] | None, typer.Argument(help="claim ids to run (default: all)")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the JSON report here")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="smaller grids, same checks")] = False,
    certify: Annotated[bool, typer.Option("--certify", help="also run the Arb certificates (parallel processes)")] = False,
) -> None:
    """Run claims: symbolic side, numeric side and negative control; exit 1 on any failure."""
    from ropelab.checks.registry import REGISTRY, select
    from ropelab.checks.runner import run_claims, write_report

    try:
        claims = select(ids)
    except KeyError as err:
        fail_unknown("claim id", str(err).strip("'"), list(REGISTRY))
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), console=console, transient=True)
    with progress:
        task = progress.add_task("verifying", total=len(claims))

        def advance(result):
            progress.update(task, advance=1, description=f"verifying ({result.id})")

        results = run_claims(claims, quick=quick, on_result=advance, certify=certify)
    table = Table(title=f"ropelab verify{' --quick' if quick else ''}{' --certify' if certify else ''}", show_lines=False)
    for col in ("claim", "paper", "status", "shown (strongest side that held: trust, scope)", "residual / tolerance",
                "negative control", "s"):
        table.add_column(col, justify="right" if col == "s" else "left", no_wrap=col in ("claim", "s"),
                         overflow="fold")
    for r in results:
        status = Text("pass", style="green") if r.status == "pass" else Text("FAIL", style="red")
        shown = Text(r.shown) if r.symbolic is not False else Text("not proved (symbolic side failed)", style="red")
        neg = Text("rejected") if r.negative_rejected else Text("ACCEPTED", style="red")
        table.add_row(Text(r.id), Text(r.label), status, shown, f"{_fmt(r.residual)} / {_fmt(r.tolerance)}", neg,
                      f"{r.seconds:.1f}")
    console.print(table)
    failed = [r for r in results if r.status != "pass"]
    for r in failed:
        console.print(f"[red]{r.id} failed[/red] at {r.worst_point}")
        if r.error:
            console.print(r.error)
    console.print(f"{len(results) - len(failed)}/{len(results)} claims pass "
                  f"in {sum(r.seconds for r in results):.1f} s")
    if json_path is not None:
        write_report(json_path, results, quick, certify)
        console.print(f"report written to {json_path}")
    raise typer.Exit(code=1 if failed else 0)


@app.command("list")
def list_claims() -> None:
    """List every registered claim with its paper label and statement."""
    from ropelab.checks.registry import REGISTRY

    table = Table(show_lines=False)
    for col in ("claim", "paper", "section", "statement"):
        table.add_column(col, overflow="fold")
    for claim in REGISTRY.values():
        table.add_row(Text(claim.id), Text(claim.label), Text(claim.section), Text(claim.statement))
    console.print(table)


@app.command()
def explain(claim_id: Annotated[str, typer.Argument(help="a claim id (see `ropelab list`) or an experiment (table2)")]) -> None:
    """Print a claim's statement, its corrected reading, the derivation and a worked instance (or an experiment's outcome)."""
    from ropelab.checks import runner
    from ropelab.checks.findings.experiments import EXPERIMENTS
    from ropelab.checks.registry import REGISTRY

    if claim_id in EXPERIMENTS:  # measured findings (training runs) explain their recorded outcome
        console.print(EXPERIMENTS[claim_id].explain(), markup=False, highlight=False)
        return
    if claim_id not in REGISTRY:
        fail_unknown("claim id", claim_id, list(REGISTRY) + list(EXPERIMENTS))
    claim = REGISTRY[claim_id]
    console.rule(f"{claim.id}  ({claim.label})")
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
    console.print("[bold]Worked instance.[/bold]")
    console.print(claim.explain(), markup=False, highlight=False)
    console.print(Text.assemble(("Negative control.", "bold"), f" {claim.wrong.description}"))
    console.print(Text.assemble(("Tolerance.", "bold"), " ", claim.tolerance_reason))
    console.print(Text.assemble(("Run it.", "bold"), f" ropelab verify {claim.id}"))


@app.command()
def figs(
    names: Annotated[list[str] | None, typer.Argument(help="figure names (default: all)")] = None,
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("figs"),
) -> None:
    """Regenerate figures as PNG and PDF (each file written atomically)."""
    from ropelab.paper_figs import FIGURES

    chosen = names or list(FIGURES)
    for name in chosen:
        if name not in FIGURES:
            fail_unknown("figure", name, list(FIGURES))
    for name in chosen:
        for path in FIGURES[name](out):
            console.print(f"wrote {path}")


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: switch on float64 for JAX, then dispatch."""
    _configure_jax()
    app(args=argv if argv is not None else sys.argv[1:], prog_name="ropelab")


if __name__ == "__main__":
    main()
