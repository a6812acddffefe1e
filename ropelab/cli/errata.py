"""``ropelab errata [ID]...``: where the paper's text and its mathematics disagree, and what shows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ropelab.checks.atomic import write_text_atomically

from .render import Column, Tabular, tabular

__all__ = ["computed_sentences"]


def register(app: typer.Typer) -> None:
    from ._console import console, fail_unknown, writable_file

    @app.command()
    def errata(
        erratum_ids: Annotated[list[str] | None, typer.Argument(
            help="erratum ids (E1, E2, ...) to show in full (default: the table of all)", metavar="ID")] = None,
        json_path: Annotated[Path | None, typer.Option(
            "--json", help="write the errata (or the ones asked for) as JSON", metavar="FILE")] = None,
    ) -> None:
        """List the paper's errata: id, where, the paper's text, the corrected reading, what shows it."""
        from ropelab.checks.errata import ERRATA, ERRATA_BY_ID

        for erratum_id in erratum_ids or []:
            if erratum_id.upper() not in ERRATA_BY_ID:
                fail_unknown("erratum id", erratum_id, list(ERRATA_BY_ID),
                             f"the ids run from {ERRATA[0].id} to {ERRATA[-1].id}")
        if json_path is not None:
            writable_file(json_path, "--json")
        chosen = ERRATA if not erratum_ids else [ERRATA_BY_ID[e.upper()] for e in erratum_ids]
        if erratum_ids:
            for erratum in chosen:
                _print_full(console, erratum)
        else:
            console.print(_table(chosen))
        if json_path is not None:
            records = [e.as_dict() for e in chosen]
            write_text_atomically(json_path, json.dumps(records if len(records) != 1 or not erratum_ids else records[0],
                                                        indent=2) + "\n", "--json")
            console.print(Text(f"written to {json_path}"))


ERRATA_COLUMNS = (Column("id"), Column("where"), Column("the paper's text", readable=24),
                  Column("corrected reading", readable=30), Column("shown by"))


def _table(errata) -> Tabular:
    rows = [[Text(e.id, style="bold"), Text(e.where), Text(e.paper_text), Text(e.corrected),
             Text("\n".join(line.removeprefix("claim ") for line in e.shown_by_lines()))] for e in errata]
    return tabular(ERRATA_COLUMNS, rows, title="Errata of Barbero et al. (ICLR 2025)", split=False)


def computed_sentences(check) -> str:
    """What an erratum's check computes, as sentences: what it is, then each number by name.

    >>> def turns():
    ...     \"\"\"E9: turns of the slowest channel.\"\"\"
    ...     return {"one_over_theta": 2.0371832715762603, "printed": 2.04}
    >>> computed_sentences(turns)
    'Computed by turns(): turns of the slowest channel. One over theta: 2.037. Printed: 2.04.'
    """
    import re

    about = (check.__doc__ or "").strip().splitlines()[0] if check.__doc__ else ""
    about = re.sub(r"^E\d+:\s*", "", about).replace("``", "").rstrip(".")
    values = check()
    if not isinstance(values, dict) or not values:
        raise ValueError(f"{check.__name__}() must return a dict of named numbers, got {values!r}")

    def shown(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    named = " ".join(f"{key.replace('_', ' ').capitalize()}: {shown(value)}." for key, value in values.items())
    return f"Computed by {check.__name__}(){': ' + about + '.' if about else '.'} {named}"


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
        console.print(Text(computed_sentences(e.check)))
    if e.editorial:
        console.print(Text.assemble(("Editorial. ", "bold"), e.editorial))
