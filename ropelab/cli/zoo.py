"""``ropelab zoo``: the semantic and positional budget of real RoPE configurations."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ropelab.checks.atomic import write_text_atomically

from .render import Column, tabular

__all__ = []


def _number(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "never"
    if isinstance(x, int) or float(x).is_integer() and abs(x) < 1e7:
        return f"{int(x):,}"
    return f"{x:.{digits}g}"


def register(app: typer.Typer) -> None:
    from ._console import Steps, console, fail, say, writable_file

    @app.command()
    def zoo(
        paths: Annotated[list[Path] | None, typer.Argument(
            metavar="[CONFIG]...", help="model files (as --config) to show alone, without the built-in zoo")] = None,
        context: Annotated[int | None, typer.Option(
            "--context", help="evaluate every model at this many tokens, and end with a verdict per layer type")] = None,
        keep: Annotated[int, typer.Option(
            "--keep-channels", metavar="K", help="the verdict's criterion: at least K channels survive the whole "
                                                 "context (default 1: the slowest channel survives)")] = 1,
        config: Annotated[list[Path] | None, typer.Option(
            "--config", help="a model file: JSON/TOML model list or an HF config.json (repeatable)")] = None,
        only: Annotated[bool, typer.Option("--only", help="show only the models of --config files")] = False,
        search: Annotated[int | None, typer.Option(
            "--search", help="also brute-force the slowest channel's breaking context up to this many tokens")] = None,
        json_path: Annotated[Path | None, typer.Option("--json", help="write the rows here as JSON")] = None,
    ) -> None:
        """Frequency schedules of real models: unbroken semantic channels, critical pair, cheapest positional head.

        With --context N, a one-sentence verdict per layer type comes first: how many channels survive N tokens by
        Thm 6.1's breaking context, whether that meets the criterion (--keep-channels), and the base that would
        meet it by Thm 6.1, by the critical-index rule and by Men et al.'s bound."""
        from ropelab.checks.findings import zoo as zoo_findings
        from ropelab.checks.findings import zoo_verdicts
        from ropelab.constructions import configs as cfgs

        from ropelab.checks.findings.zoo import HEAD_BAND, HEAD_EPS, summarise

        if json_path is not None:
            writable_file(json_path, "--json")
        if context is not None and context < 2:
            console.print(f"[red]--context must be an integer >= 2, got {context}[/red]")
            raise typer.Exit(code=2)
        if search is not None and search < 2:
            console.print(f"[red]--search must be an integer >= 2, got {search}[/red]")
            raise typer.Exit(code=2)
        if keep < 1:
            console.print(f"[red]--keep-channels must be an integer >= 1, got {keep}[/red]")
            raise typer.Exit(code=2)
        if json_path is not None:
            writable_file(json_path, "--json")
        models = [] if only or paths else list(cfgs.ZOO)
        try:
            for path in [*(paths or []), *(config or [])]:
                models.extend(zoo_findings.load_configs(path, context))
        except ValueError as err:
            fail(f"bad config: {err}")
        if not models:
            fail("no models: --only needs at least one --config file")
        if context is not None:
            models = [cfgs.with_context(m, context) for m in models]
        rows = [summarise(m, search) for m in models]
        verdicts = []
        if context is not None:
            with Steps("judging", [m.name for m in models], show=False):
                verdicts = [zoo_verdicts.verdict(row, m, keep) for row, m in zip(rows, models)]
            for line in verdicts:
                console.print(Text(line, style="bold"))  # wrapped at the terminal width, words whole
        title = f"ropelab zoo{f' --context {context}' if context else ''}"
        columns = ["model [layer type]", "layers", "rope", "d", "sees (of)", "rotating / d/2", "g fastest..slowest",
                   "attention factor", "unbroken channels", "slowest breaks at", "slowest turns",
                   "critical pairs (i*)", f"top-{HEAD_BAND} head s^2 (|q|)"]
        if search is not None:
            columns.append("searched break")
        cells_of_rows = []
        for row in rows:
            critical = f"{row.critical_pairs}" + (f" ({row.critical_index:.2f})" if row.critical_index is not None else "")
            sees = _number(row.context)
            if row.sequence_length is not None and row.sequence_length != row.context:
                sees += f" (of {_number(row.sequence_length)})"
            cells = [row.name, "-" if row.layers is None else str(row.layers), row.rope, str(row.head_dim), sees,
                     f"{row.rotating_pairs} / {row.head_dim // 2}", f"{row.fastest:.3g}..{row.slowest:.3g}",
                     f"{row.attention_factor:.4g}", f"{row.unbroken_channels} / {row.head_dim // 2}",
                     _number(row.slowest_breaks_at), f"{row.slowest_turns:.3g}", critical,
                     f"{_number(row.head_scale_sq)} ({_number(row.head_norm)})"]
            if search is not None:
                cells.append(_number(row.searched_break) if row.searched_break else f"> {_number(search)}")
            cells_of_rows.append([Text(cell) for cell in cells])  # names such as "x [full_attention]" are not markup
        # the model name stays on one line so that it can be searched for as printed
        console.print(tabular([Column(columns[0], whole=True), *columns[1:]], cells_of_rows, title=title))
        console.print(Text(
            "sees: the context this layer type attends over (sliding window / attention chunk) of the sequence; "
            "unbroken: channels an anti-aligned rival of equal norm cannot overtake within the context "
            "(breaking context ~ pi/(2g), Thm 6.1); critical pairs: rotating pairs turning at least once; "
            f"head: smallest s^2 with min alpha_ii >= {1 - HEAD_EPS} (Thm 5.3, equal weights on the fastest pairs)."
        ))
        if json_path is not None:
            payload = {"tool": "ropelab zoo", "context_override": context, "keep_channels": keep,
                       "verdicts": verdicts, "models": [r.as_dict() for r in rows]}
            write_text_atomically(json_path, json.dumps(payload, indent=2) + "\n", "--json")
            console.print(f"rows written to {json_path}")
