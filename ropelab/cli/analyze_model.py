"""The ``ropelab analyze-model`` command: the paper's Section 4 measurements on a real model.

Default model: Gemma 3 270M from its PyPI packages (not the paper's Gemma 7B). Writes the
Fig 3/4/5-6-style figures, Tables 3-5 beside the paper's, and ``summary.json`` with the five
empirical findings and their statistics; prints the same. Captures and the summary are
cached, so a second run takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ropelab.constructions.atomic import write_text_atomically


def report_payload(summary: dict) -> dict:
    """The compact JSON report: model, capture check, the five findings, the paper comparison."""
    from ropelab.checks.findings.model_analysis import paper_comparison

    keep = ("model", "capture_check", "findings", "chosen_heads", "band_onsets", "zero_gain_pairs", "versions")
    model = {k: v for k, v in summary["model"].items() if k != "prompts"}
    return {
        **{key: summary[key] for key in keep},
        "model": model,
        "prompts": {name: {"text": p["text"], "n_tokens": p["n_tokens"], "next_token_loss_nats": p["next_token_loss"]}
                    for name, p in summary["prompts"].items()},
        "paper_comparison": paper_comparison(summary),
        "paper_heads_named": summary["paper"]["heads_named"],
    }


def register(app: typer.Typer) -> None:
    """Add ``analyze-model`` to the ``ropelab`` command."""

    @app.command("analyze-model")
    def analyze_model(
        out: Annotated[Path, typer.Option("--out", help="folder for the figures and summary.json")] = Path("figs/gemma3-270m"),
        model_dir: Annotated[Path | None, typer.Option("--model-dir", help="another HF Llama/Gemma-family checkpoint folder")] = None,
        gguf_file: Annotated[str | None, typer.Option("--gguf-file", help="a GGUF file inside --model-dir")] = None,
        layer: Annotated[int | None, typer.Option("--layer", help="layer for the per-head figure (default: the most diagonal head's)")] = None,
        refresh: Annotated[bool, typer.Option("--refresh", help="recompute captures and summary, ignoring the cache")] = False,
    ) -> None:
        """Measure RoPE frequency usage and positional heads on a real model (default: Gemma 3 270M)."""
        from ropelab.constructions.models.model_adapter import ModelPackagesMissing

        from ._console import console

        try:
            from ropelab.paper_figs import gemma_head_norms, gemma_layer_norms, gemma_logit_tables, gemma_positional_heads

            from ropelab.checks.findings.model_analysis import analyze

            progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True)
            with progress:
                task = progress.add_task("starting", total=None)

                def step(message: str) -> None:
                    progress.update(task, description=message)
                    console.log(message)

                summary = analyze(model_dir=model_dir, gguf_file=gguf_file, refresh=refresh, on_step=step)
                step("drawing the figures")
                paths = []
                paths += gemma_layer_norms.draw(summary, out)
                paths += gemma_head_norms.draw(summary, out, layer)
                paths += gemma_positional_heads.draw(summary, out)
                paths += gemma_logit_tables.draw(summary, out)
        except ModelPackagesMissing as err:
            console.print(str(err), style="red", markup=False)
            raise typer.Exit(code=3) from err
        except ValueError as err:
            console.print(str(err), style="red", markup=False)
            raise typer.Exit(code=2) from err
        payload = report_payload(summary)
        paths.append(write_text_atomically(out / "summary.json", json.dumps(payload, indent=1, sort_keys=True)))
        console.rule(summary["model"]["label"])
        console.print(summary["model"]["not_the_paper_model"], style="bold", markup=False)
        for name, p in summary["prompts"].items():
            console.print(f"prompt {name}: {p['n_tokens']} tokens, next-token loss {p['next_token_loss']:.2f} nats")
        check = summary["capture_check"]
        worst = max(v["attention_ratio"] for v in check["per_prompt"].values())
        console.print(f"capture check ({'passed' if check['passed'] else '[red]FAILED[/red]'}): ropelab's rotary map on the captured "
                      f"q, k reproduces the model's attention maps; worst error {worst:.2e} of its float32 bound")
        table = Table(title="Empirical findings (measured, not proved)")
        for col in ("finding", "paper", "outcome", "statistic", "value", "uncertainty"):
            table.add_column(col, overflow="fold")
        for f in summary["findings"]:
            colour = {"holds": "green", "does not hold": "yellow", "not measurable": "dim"}[f["outcome"]]
            value = "-" if f["value"] is None else f"{f['value']:.3g}"
            table.add_row(f["id"], f["label"], f"[{colour}]{f['outcome']}[/{colour}]", f["statistic"], value, f["uncertainty"])
        console.print(table)
        comparison = Table(title="Tables 3-5: mean logit / Cauchy-Schwarz bound after BOS, paper's Gemma 7B vs this model")
        for col in ("paper head", "paper diag", "paper prev", "our head", "our diag", "our prev"):
            comparison.add_column(col)
        for row in payload["paper_comparison"]:
            comparison.add_row(row["paper_head"], f"{row['paper_diagonal_over_bound']:.2f}", f"{row['paper_previous_over_bound']:.2f}",
                               row["our_head"], f"{row['our_diagonal_over_bound']:.2f}", f"{row['our_previous_over_bound']:.2f}")
        console.print(comparison)
        for path in paths:
            console.print(f"wrote {path}")
