"""``ropelab precision``: where low-precision angle arithmetic starts to break a model's RoPE guarantees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ropelab.checks.atomic import write_text_atomically

from .render import tabular

__all__ = []


def head_answer(rows: list[dict], prec, formats) -> str:
    """One line: per dtype, the first position where it can break a layer's positional head (Thm 5.3's diagonal head
    on the 16 fastest pairs), over the layers judged."""
    parts = []
    for fmt in formats:
        own = [r for r in rows if r["dtype"] == fmt.name]
        broken = [r for r in own if r["head"] is not None]
        if not broken:
            parts.append(f"{fmt.name} never below 10^9 in any of the {len(own)} layer types")
            continue
        first = min(broken, key=lambda r: r["head"])
        inside = "inside" if first["head"] < first["context"] else "beyond"
        parts.append(f"{fmt.name} at position {prec.describe_position(first['head'], fmt)} ({first['model']}, "
                     f"{inside} its context of {first['context']:,})")
    return ("First position where the dtype breaks the layer's positional heads (a top-16 Thm 5.3 head may lose its "
            "target; worst case): " + "; ".join(parts) + ".")


def register(app: typer.Typer) -> None:
    from ._console import console, fail, writable_file

    @app.command()
    def precision(
        config: Annotated[list[Path] | None, typer.Option(
            "--config", help="a model file: JSON/TOML model list or an HF config.json (default: the built-in zoo)")] = None,
        dtype: Annotated[list[str] | None, typer.Option(
            "--dtype", help="float32, bf16 (bfloat16), fp16 (float16) or tf32; repeatable (default: all four)")] = None,
        logit_error: Annotated[float, typer.Option("--logit-error", help="(a): logit error allowed")] = 0.1,
        rival_angle: Annotated[float, typer.Option("--rival-angle", help="(c): rival key's angle, radians")] = 0.1,
        context: Annotated[int | None, typer.Option("--context", help="evaluate every model at this many tokens")] = None,
        json_path: Annotated[Path | None, typer.Option("--json", help="write the rows here as JSON")] = None,
    ) -> None:
        """First positions where angles formed in a format can break (a) relative position to a logit error,
        (b) a Thm 5.3 diagonal head at ropelab's scale, (c) a semantic channel's preferred key (worst case)."""
        from ropelab.checks.findings import zoo as zoo_findings
        from ropelab.constructions import configs as cfgs
        from ropelab.constructions import precision as prec

        if json_path is not None:
            writable_file(json_path, "--json")
        try:
            formats = [prec.get_format(d) for d in (dtype or list(prec.FORMATS))]
            if not 0 < logit_error:
                raise ValueError(f"--logit-error must be a number > 0, got {logit_error}")
            if not 0 < rival_angle <= 3.1416:
                raise ValueError(f"--rival-angle must lie in (0, pi], got {rival_angle}")
            if context is not None and context < 2:
                raise ValueError(f"--context must be an integer >= 2, got {context}")
            models = []
            for path in config or []:
                models.extend(zoo_findings.load_configs(path, context))
            models = models or list(cfgs.ZOO)
        except ValueError as err:
            fail(f"bad input: {err}")
        if context is not None:
            models = [cfgs.with_context(m, context) for m in models]
        columns = ("model", "d", "context", "dtype", f"(a) logit error {logit_error:g} from",
                   "(b) top-16 head may lose its target from", f"(c) rival at {rival_angle:g} rad may win from")
        cells, rows = [], []
        for model in models:
            freqs, _ = model.schedule()
            for fmt in formats:
                t = prec.thresholds(freqs, fmt, model.context, logit_error, rival_angle)
                rows.append({"model": model.name, "head_dim": model.head_dim, "context": model.context,
                             "dtype": fmt.name, "relative_position": t.relative_position, "head": t.head,
                             "semantic": t.semantic, "semantic_freq": t.semantic_freq})
                cells.append([Text(model.name), str(model.head_dim), f"{model.context:,}", fmt.name,
                              *(Text(prec.describe_position(v, fmt)) for v in (t.relative_position, t.head, t.semantic))])
        console.print(tabular(columns, cells, title="ropelab precision"))
        console.print(Text("Worst-case first positions from the phase bound |angle error| <= p g ((1 + u_in)^k "
                           "(1 + u_out) - 1) (claim rope_phase_error_within_format_bound); q, k with |q_m||k_m| = 2 "
                           "per pair for (a); (c) uses the slowest rotating pair."))
        if json_path is not None:
            payload = {"tool": "ropelab precision", "logit_error": logit_error, "rival_angle": rival_angle,
                       "rows": rows}
            write_text_atomically(json_path, json.dumps(payload, indent=2) + "\n", "--json")
            console.print(Text(f"rows written to {json_path}"))
        console.print(Text(head_answer(rows, prec, formats)))
