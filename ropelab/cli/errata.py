"""``ropelab errata [ID]``: where the paper's text and its mathematics disagree, and what shows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ropelab.checks.atomic import write_text_atomically

# Below this many columns the five-column table folds every cell into slivers: print blocks.
TABLE_MIN_WIDTH = 100


def register(app: typer.Typer) -> None:
    from ._console import console

    @app.command()
    def errata(
        erratum_id: Annotated[str | None, typer.Argument(help="an erratum id (E1, E2, ...) to show in full")] = None,
        json_path: Annotated[Path | None, typer.Option(
            "--json", help="write the errata (or the one asked for) as JSON")] = None,
    ) -> None:
        """List the paper's errata: id, where, the paper's text, the corrected reading, what shows it."""
        from ropelab.checks.errata import ERRATA, ERRATA_BY_ID

        if erratum_id is not None and erratum_id.upper() not in ERRATA_BY_ID:
            console.print(Text(f"unknown erratum id: {erratum_id}", style="red"))
            console.print(Text("known erratum ids: " + ", ".join(ERRATA_BY_ID)))
            raise typer.Exit(code=2)
        chosen = ERRATA if erratum_id is None else [ERRATA_BY_ID[erratum_id.upper()]]
        if erratum_id is not None:
            _print_full(console, chosen[0])
        elif console.width >= TABLE_MIN_WIDTH:
            console.print(_table(chosen))
        else:
            for erratum in chosen:
                _print_block(console, erratum)
        if json_path is not None:
            records = [e.as_dict() for e in chosen]
            write_text_atomically(json_path, json.dumps(records if erratum_id is None else records[0], indent=2) + "\n")
            console.print(Text(f"written to {json_path}"))


def _table(errata) -> Table:
    table = Table(title="Errata of Barbero et al. (ICLR 2025)", show_lines=True)
    table.add_column("id", no_wrap=True)
    table.add_column("where", max_width=12, overflow="fold")
    for name, ratio in (("the paper's text", 3), ("corrected reading", 4), ("shown by", 3)):
        table.add_column(name, ratio=ratio, overflow="fold")
    for e in errata:
        shown = [line.removeprefix("claim ") for line in e.shown_by_lines()]
        table.add_row(Text(e.id), Text(e.where), Text(e.paper_text), Text(e.corrected), Text("\n".join(shown)))
    return table


def _print_block(console, e) -> None:
    """One erratum as labelled lines with a hanging indent (narrow terminals)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    grid.add_row(Text(e.id), Text(e.where))
    shown = "\n".join(e.shown_by_lines())
    for label, value in (("paper", e.paper_text), ("corrected", e.corrected), ("shown by", shown)):
        grid.add_row(Text(label), Text(value))
    console.print(grid)
    console.print()


def _print_full(console, e) -> None:
    from ropelab.checks.registry import REGISTRY

    console.rule(Text(f"{e.id}  ({e.where})"))
    console.print(Text.assemble(("The paper's text. ", "bold"), e.paper_text))
    console.print(Text.assemble(("Corrected reading. ", "bold"), e.corrected))
    for claim_id in e.claims:
        claim = REGISTRY.get(claim_id)
        about = (f": {claim.statement} (run: ropelab verify {claim_id})" if claim is not None
                 else ": not registered in this install")
        console.print(Text.assemble(("Shown by claim ", "bold"), (claim_id, "bold"), about))
    if e.check is not None:
        console.print(Text.assemble(("Computed ", "bold"), f"({e.check.__module__}.{e.check.__name__}): ",
                                    json.dumps(e.check())))
    if e.editorial:
        console.print(Text.assemble(("Editorial. ", "bold"), e.editorial))
