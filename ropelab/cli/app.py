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
from rich.console import RenderableType
from rich.rule import Rule
from rich.text import Text

from ._console import (Steps, console, fail, install_line, interrupted_message, missing_extra, require_known,
                       say, writable_file, writable_folder)
from .render import Column, Tabular, tabular

__all__ = ["app", "auto_workers", "claims_table", "main", "verify_table"]

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,  # help texts print as written: brackets such as x[m] are not markup
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


VERIFY_COLUMNS = (Column("claim"), Column("paper"), Column("status"), Column("shown (trust: scope)", readable=40),
                  Column("residual / tolerance"), Column("negative control"), Column("s", justify="right"))
VERIFY_MERGED = (("claim / paper / shown (trust: scope)", (0, 1, 3)), ("status\n/ control\n/ time", (2, 5, 6)),
                 ("residual\n/ tolerance", (4,)))
"""Narrower than one column per field: the paper label and "shown" stand under the id, status,
negative control and time share a cell, the residual and its tolerance stand on two lines."""
RESIDUAL_NOTE = ("residual / tolerance: the worst error measured (for an inequality, its worst excess over the "
                 "bound) and the error the claim allows; a claim passes when the residual is at most the tolerance, "
                 "so a ratio of 1 is exactly at the limit; a tolerance of 0 marks an exact check, which any residual "
                 "above 0 fails; a negative residual is an inequality's margin, the room by which it holds.")
"""The line under the verify table that says how to read its numbers."""


def verify_table(results, title: str) -> Tabular:
    """The verify table: ids and numbers never split; the "shown" column (trust: scope) wraps.

    Laid out for the width it is printed at (:mod:`ropelab.cli.render`): one column per field
    where they fit, else :data:`VERIFY_MERGED`, else one block per claim.
    """
    rows = []
    for r in results:
        status = Text("pass", style="green") if r.status == "pass" else Text("FAIL", style="red")
        shown = Text(r.shown) if r.symbolic is not False else Text("not proved (symbolic side failed)", style="red")
        neg = Text("rejected") if r.negative_rejected else Text("ACCEPTED", style="red")
        rows.append([Text(r.id, style="bold"), Text(r.label), status, shown,
                     Text(f"{_fmt(r.residual)} / {_fmt(r.tolerance)}"), neg, Text(f"{r.seconds:.1f}")])
    return tabular(VERIFY_COLUMNS, rows, title=title, merged=VERIFY_MERGED, split=False)


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
                                      help="worker processes (default 0: one per CPU core, one per 8 claims at most, "
                                           "with --certify one per core for the certificate chunks; "
                                           "1: this process only)")] = 0,
    shard: Annotated[str | None, typer.Option("--shard", metavar="I/N",
                                              help="run only shard I of N (1-based), claims (and with --certify each "
                                                   "certificate chunk) dealt by recorded cost; "
                                                   "the JSON report records the shard for --merge")] = None,
    merge: Annotated[bool, typer.Option("--merge", help="join shard reports, given as the arguments "
                                                        "(PART.json ...), into one run's table and report")] = False,
) -> None:
    """Run claims: symbolic side, numeric side and negative control; exit 1 on any failure."""
    from ropelab.checks import shards as sh
    from ropelab.checks.registry import REGISTRY, select
    from ropelab.checks.runner import run_claims, write_report

    if merge:
        _merge_shards(ids or [], json_path, shard is not None or certify or quick)
    require_known("claim id", ids, list(REGISTRY), "ropelab list shows them all")
    claims = select(ids)
    if json_path is not None:  # refused now, not after the whole run
        writable_file(json_path, "--json")
    part = None
    if shard is not None:
        try:
            part = sh.parse_shard(shard)
        except ValueError as err:
            fail(str(err))
    workers = 1 if certify else min(jobs or auto_workers(len(claims)), len(claims))
    started = time.perf_counter()
    record, bad_chunks = None, []
    if part is None:
        with Steps("verifying", [c.id for c in claims]) as steps:
            results = run_claims(claims, quick=quick, certify=certify, jobs=workers, processes=jobs or None,
                                 on_result=lambda r: steps.finish(r.id, f"{r.status} ({r.seconds:.1f} s)"))
    else:
        planned = sh.plan(claims, part.count, quick, certify)
        owned = planned[1][part.index - 1]
        workers = 1 if certify else min(jobs or auto_workers(len(owned.claims)), max(len(owned.claims), 1))
        with Steps("verifying", list(owned.claims) + ([f"{len(owned.chunks)} certificate chunks"]
                                                     if owned.chunks else [])) as steps:
            results, record = sh.run_shard(
                claims, part, quick, certify, jobs=workers if not certify else jobs,
                on_result=lambda r: steps.finish(r.id, f"{r.status} ({r.seconds:.1f} s)"),
                on_chunks=lambda runs: steps.finish(f"{len(runs)} certificate chunks"), planned=planned)
    wall = time.perf_counter() - started
    console.print(verify_table(results, f"ropelab verify{' --quick' if quick else ''}{' --certify' if certify else ''}"))
    console.print(Text(RESIDUAL_NOTE))  # wrapped at spaces, so no word is split
    failed = [r for r in results if r.status != "pass"]
    for r in failed:
        say(f"{r.id} failed at {r.worst_point}", style="red")
        if r.error:
            say(r.error)
    if record is not None and record["certificate_chunks"]:
        runs = record["chunks"]
        bad_chunks = [f"{c['claim']} chunk {c['chunk']}" for c in runs if not _chunk_passed(c["evidence"])]
        say(f"shard {part.index}/{part.count}: {len(runs)} certificate chunks run"
            + (f", failing: {', '.join(bad_chunks)}" if bad_chunks else ", every one passes")
            + "; each certificate is judged, coverage included, by --merge")
    say(f"{len(results) - len(failed)}/{len(results)} claims pass in {wall:.1f} s"
        + (f" ({workers} worker processes; {sum(r.seconds for r in results):.1f} s of claim time)" if workers > 1 else ""))
    if json_path is not None:
        extra = {"shard": record} if record is not None else None
        write_report(json_path, results, quick, certify, extra=extra)
        say(f"report written to {json_path}")
    raise typer.Exit(code=1 if failed or bad_chunks else 0)


def _chunk_passed(evidence) -> bool:
    """Whether a certificate chunk's JSON evidence passes on its own (coverage is judged at --merge)."""
    from ropelab.checks.runner import evidence_from_record

    return evidence is not None and evidence_from_record(evidence).passed


def _merge_shards(paths: list[str], json_path: Path | None, other_options: bool) -> None:
    """``verify --merge PART.json ...``: one run's table and report from its shards' reports."""
    import json

    from ropelab import catalogue
    from ropelab.checks import shards as sh
    from ropelab.checks.atomic import write_text_atomically
    from ropelab.checks.claim import ClaimResult

    if other_options:
        fail("--merge joins shard reports; it takes no --shard, --quick or --certify (the parts carry their mode)")
    if not paths:
        fail("--merge needs the shard reports as arguments: ropelab verify --merge PART.json ...")
    if json_path is not None:
        writable_file(json_path, "--json")
    parts = []
    for name in paths:
        try:
            report = catalogue.load_verify_report(name)
        except ValueError as err:
            fail(f"--merge: {err}")
        if report is None:
            fail(f"--merge: no verify report at {name} (write one with `ropelab verify --shard I/N --json PATH`)")
        parts.append(report)
    try:
        merged = sh.merge_reports(parts, paths)
    except ValueError as err:
        fail(str(err))
    fields = set(ClaimResult.__dataclass_fields__)
    results = [ClaimResult(**{k: v for k, v in c.items() if k in fields}) for c in merged["claims"]]
    mode = f"{' --quick' if merged['quick'] else ''}{' --certify' if merged['certify'] else ''}"
    console.print(verify_table(results, f"ropelab verify{mode} (merged from {len(parts)} shards)"))
    failed = [r for r in results if r.status != "pass"]
    say(f"{len(results) - len(failed)}/{len(results)} claims pass (merged from {len(parts)} shards)")
    if json_path is not None:
        write_text_atomically(json_path, json.dumps(merged, indent=1) + "\n")
        say(f"report written to {json_path}")
    raise typer.Exit(code=1 if failed else 0)


CLAIM_COLUMNS = (Column("claim"), Column("paper"), Column("section"), Column("statement", readable=40))


def claims_table(claims) -> Tabular:
    """``ropelab list``: id, paper label, section and statement; ids never split.

    Where the four columns do not fit, the id, label and section share a cell beside the
    statement; narrower still, each claim is its id with its fields indented under it.
    """
    rows = [[Text(c.id, style="bold"), Text(c.label), Text(c.section), Text(c.statement)] for c in claims]
    return tabular(CLAIM_COLUMNS, rows, merged=(("claim / paper / section", (0, 1, 2)), ("statement", (3,))),
                   split=False)


@app.command("list")
def list_claims() -> None:
    """List every registered claim with its paper label and statement."""
    from ropelab.checks import claims_index  # the registry's contents as data: no JAX or SymPy to start

    entries = claims_index.load()
    console.print(claims_table(entries))
    say(f"{len(entries)} claims registered")


def explanation(claim_id: str) -> list[RenderableType]:
    """What ``ropelab explain ID`` prints for one claim or experiment, as renderables in order.

    A claim: its statement, corrected reading, derivation, numeric side, certificate, worked
    instance, negative control and tolerance. An experiment: its recorded outcome and results
    tables (:func:`ropelab.cli.experiment.fitted_tables`).
    """
    from ropelab.checks import runner
    from ropelab.checks.findings.experiments import EXPERIMENTS
    from ropelab.checks.registry import REGISTRY

    if claim_id in EXPERIMENTS:  # measured findings (training runs) explain their recorded outcome
        from .experiment import fitted_tables

        experiment = EXPERIMENTS[claim_id]
        if experiment.sections is None:
            return [Text(experiment.explain())]
        before, table, after = experiment.sections()
        parts: list[RenderableType] = [Text(before)]
        if table is not None:
            parts += [*fitted_tables(*table), Text(after)]
        return parts
    claim = REGISTRY[claim_id]
    parts = [Rule(Text(f"{claim.id}  ({claim.label})")),
             Text.assemble(("Statement.", "bold"), " ", claim.statement),
             Text.assemble(("Shown as strongly as its weakest part.", "bold"), f" {claim.printed().line()}"),
             *(Text(f"  - {_part_line(claim, part)}") for part in claim.statement_parts())]
    if claim.corrected:
        parts.append(Text.assemble(("Corrected reading.", "bold"), " ", claim.corrected))
    if claim.symbolic is not None:
        derivation = runner.derivation(claim.symbolic.derive)
        parts.append(Text.assemble(("Symbolic side", "bold"), f" ({'holds' if derivation.holds else 'DOES NOT HOLD'}; "
                                   f"{claim.symbolic.shown.line()}): {derivation.statement}"))
        parts += [Text(f"  - {step}") for step in derivation.steps]
    else:
        parts.append(Text.assemble(("Symbolic side.", "bold"), f" none: {claim.symbolic_reason}"))
    parts.append(Text.assemble(("Numeric side.", "bold"), f" {claim.numeric.line()}"))
    if claim.certificate is not None:
        parts.append(Text.assemble(("Certificate", "bold"),
                                   f" (ropelab verify --certify): {claim.certificate.shown.line()}"))
    parts += [Text("Worked instance.", style="bold"), Text(claim.explain()),
              Text.assemble(("Negative control.", "bold"), f" {claim.wrong.description}"),
              Text.assemble(("Tolerance.", "bold"), " ", claim.tolerance_reason),
              Text.assemble(("Run it.", "bold"), f" ropelab verify {claim.id}")]
    return parts


@app.command()
def explain(ids: Annotated[list[str], typer.Argument(
        help="claim ids (see `ropelab list`) or experiments (table2, breaking, offset)", metavar="ID")]) -> None:
    """Print each claim's statement, corrected reading, derivation and a worked instance (or an experiment's outcome)."""
    from ropelab.checks.findings.experiments import EXPERIMENTS
    from ropelab.checks.registry import REGISTRY

    require_known("claim id", ids, list(REGISTRY) + list(EXPERIMENTS), "ropelab list shows them all")
    for n, claim_id in enumerate(ids):
        if n:
            console.print()
        for part in explanation(claim_id):
            console.print(part)


def _part_line(claim, part) -> str:
    """``"checked (numeric): <part>"``: a part of the statement, the side that shows it and how strongly."""
    from ropelab.checks.claim import declared_part

    side, shown, certifiable = declared_part(claim, part)
    more = " (certified with --certify)" if certifiable else ""
    return f"{shown.trust.value} ({side}){more}: {part.text}"


@app.command()
def figs(
    names: Annotated[list[str] | None, typer.Argument(help="figure names (default: all)", metavar="NAME")] = None,
    out: Annotated[Path, typer.Option("--out", help="output folder", metavar="FOLDER")] = Path("figs"),
) -> None:
    """Regenerate figures as PNG and PDF (each file written atomically).

    The Gemma 3 270M figures are drawn from the committed results (no model is run), so the
    base install draws every figure; a figure that needs an extra that is not installed would
    be skipped and listed, and every other one drawn.
    """
    from ropelab.paper_figs import FIGURES

    chosen = names or list(FIGURES)
    require_known("figure", chosen, list(FIGURES))
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
