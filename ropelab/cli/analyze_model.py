"""The ``ropelab analyze-model`` command: the paper's Section 4 measurements on a real model.

Default model: Gemma 3 270M from its PyPI packages (not the paper's Gemma 7B). Writes the
Fig 3/4/5-6-style figures, the head types (Figs 6, 7, 12, 14-18), Tables 3-5 beside the paper's,
and ``summary.json`` with every empirical finding, holds or does not hold with its statistic;
prints the same. ``--model PATH`` takes any local GGUF file or Hugging Face folder. Captures and the summary are
cached, so a second run takes seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from ropelab.checks.atomic import write_atomically, write_text_atomically

from .render import tabular

__all__ = []


def report_payload(summary: dict) -> dict:
    """The compact JSON report: model, capture check, every finding (holds / does not hold with its
    statistic), head types, Tables 3-5 and the paper comparison."""
    from ropelab.checks.findings.logit_tables import paper_comparison

    keep = ("model", "capture_check", "findings", "chosen_heads", "band_onsets", "zero_gain_pairs", "versions",
            "head_types", "layer_contexts", "tables", "apostrophe_head")
    model = {k: v for k, v in summary["model"].items() if k != "prompts"}
    return {
        **{key: summary[key] for key in keep},
        "model": model,
        "prompts": {name: {"text": p["text"], "n_tokens": p["n_tokens"], "next_token_loss_nats": p["next_token_loss"]}
                    for name, p in summary["prompts"].items()},
        "paper_comparison": paper_comparison(summary),
        "paper_heads_named": summary["paper"]["heads_named"],
        "paper_tables3to5": summary["paper"]["tables3to5"],
        "closest_content_head": {key: value for key, value in summary["head_type_views"].get("content", {}).items()
                                 if key in ("layer", "head", "type", "keyed_tokens")} or None,
    }


FIGURES_STAMP = ".figures.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _drawn_figures(stamp: Path, key: str) -> list[Path] | None:
    """The figures drawn earlier from the same summary, if the stamp says so and every file is intact."""
    try:
        record = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    paths = [stamp.parent / name for name in record.get("files", {})]
    if record.get("key") != key or not paths:
        return None
    if not all(p.is_file() and sha256(p) == digest for p, digest in zip(paths, record["files"].values())):
        return None
    return paths


def _progress(console):
    """A spinner with elapsed time on a terminal; plain time-stamped lines otherwise (logs, pipes)."""
    if console.is_terminal:
        progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True)
        task = progress.add_task("starting", total=None)

        def step(message: str) -> None:
            progress.update(task, description=message)
            progress.console.log(Text(message))

        return progress, step
    started = time.monotonic()

    def step(message: str) -> None:
        console.print(Text(f"[{time.monotonic() - started:6.1f} s] {message}"))

    return contextlib.nullcontext(), step


def _print_report(console, payload: dict) -> None:
    """Print a report (:func:`report_payload`'s dict, computed now or committed) as it was measured."""
    summary = payload
    console.rule(Text(summary["model"]["label"]))
    console.print(summary["model"]["not_the_paper_model"], style="bold", markup=False)
    for name, p in summary["prompts"].items():
        console.print(Text(f"prompt {name}: {p['n_tokens']} tokens, next-token loss {p['next_token_loss_nats']:.2f} nats"))
    check = summary["capture_check"]
    worst = max(v["attention_ratio"] for v in check["per_prompt"].values())
    verdict = Text("passed", style="green") if check["passed"] else Text("FAILED", style="red")
    console.print(Text.assemble("capture check (", verdict, f"): ropelab's rotary map on the captured q, k reproduces the "
                                f"model's attention maps; worst error {worst:.2e} of its float32 bound"))
    gguf = check.get("gguf_first_layer")
    if gguf:
        worst = max(v["ratio"] for v in gguf["per_prompt"].values())
        verdict = Text("passed", style="green") if gguf["passed"] else Text("FAILED", style="red")
        console.print(Text.assemble("GGUF check (", verdict, f"): layer 0 rebuilt from the file's own tensors ({gguf['layout']} "
                                    f"pairs, not un-permuted) gives the captured attention; worst error {worst:.2e} of its bound"))
    kinds = {}
    for head in summary["head_types"]:
        kinds.setdefault(head["type"], []).append(f"{head['layer']}.{head['head']}")
    console.print(Text("head types (layer.head): " + "; ".join(f"{k} {len(v)}" + (f" [{', '.join(v)}]" if len(v) <= 6 else "")
                                                          for k, v in kinds.items())))
    content = [h for h in summary["head_types"] if h["type"] == "content"]
    if not content:
        console.print(Text("no head meets the content (semantic) criterion: its content winners do not survive a "
                           "16-token shift; Thm 6.1 is read on the heads closest to it"))
    closest = summary.get("closest_content_head")
    if closest:
        shares = {(h["layer"], h["head"]): h for h in summary["head_types"]}[closest["layer"], closest["head"]]
        keys = ", ".join(repr(token) for token, _ in closest["keyed_tokens"])
        console.print(Text(f"closest to a content head: layer {closest['layer']} head {closest['head']} "
                           f"({shares['row_shares']['content']:.0%} content rows, {shares['content_keep_rate']:.0%} kept under "
                           f"the shift); it keys on {keys}"))
    mark = summary.get("apostrophe_head")
    if mark:
        console.print(Text(f"closest to the paper's apostrophe head: layer {mark['layer']} head {mark['head']} ({mark['type']}); "
                           f"{mark['share']:.0%} of the {mark['rows_with_the_mark']} rows that can read an apostrophe pick one "
                           f"as a content winner; shift keep rate of its content winners {mark['content_keep_rate']:.2f}"))
    rows = []
    for f in summary["findings"]:
        colour = {"holds": "green", "does not hold": "yellow", "not measurable": "dim"}[f["outcome"]]
        value = "-" if f["value"] is None else f"{f['value']:.3g}"
        rows.append([Text(f["id"]), Text(f["label"]), Text(f["outcome"], style=colour), Text(f["statistic"]), value,
                     Text(f["uncertainty"])])
    console.print(tabular(("finding", "paper", "outcome", "statistic", "value", "uncertainty"), rows,
                          title="Empirical findings (measured, not proved)"))
    console.print(tabular(
        ("paper head", "paper diag", "paper prev", "our head", "our diag", "our prev"),
        [[Text(row["paper_head"]), f"{row['paper_diagonal_over_bound']:.2f}", f"{row['paper_previous_over_bound']:.2f}",
          Text(row["our_head"]), f"{row['our_diagonal_over_bound']:.2f}", f"{row['our_previous_over_bound']:.2f}"]
         for row in payload["paper_comparison"]],
        title="Tables 3-5: mean logit / Cauchy-Schwarz bound after BOS, paper's Gemma 7B vs this model"))
    captions = {"diagonal": "Table 3 (paper: layer 1 head 5, diagonal)",
                "last_layer_diagonal": "Table 4 (paper: layer 27 head 8, diagonal, last layer)",
                "previous_token": "Table 5 (paper: layer 1 head 8, previous token)"}
    paper_keys = {"diagonal": "table3_layer1_head5_diagonal", "last_layer_diagonal": "table4_layer27_head8_diagonal",
                  "previous_token": "table5_layer1_head8_previous_token"}
    for name, caption in captions.items():
        ours, paper = summary["tables"][name], summary["paper_tables3to5"][paper_keys[name]]
        rows = []

        def cell(values, i):
            x = values[i] if i < len(values) else None
            return "-" if x is None or x != x else f"{x:.2f}"

        for i, token in enumerate(ours["tokens"]):
            rows.append([Text(repr(token)[1:-1]), cell(ours["upper_bound"], i), cell(ours["diagonal"], i),
                         cell(ours["previous_token"], i), cell(paper["upper_bound"], i), cell(paper["diagonal"], i),
                         cell(paper["previous_token"], i)])
        console.print(tabular(("token", "upper bound", "diagonal", "previous", "paper bound", "paper diagonal",
                               "paper previous"), rows,
                              title=f"{caption}; ours: layer {ours['layer']} head {ours['head']}, logits / sqrt(d) on "
                                    f"the {ours['prompt']} prompt"))


def _print_comparison(console, folders: list[Path]) -> None:
    """Print the cross-family table of :func:`ropelab.checks.findings.model_comparison.compare` (exit 2 on bad input)."""
    from ropelab.checks.findings import model_comparison

    try:
        comparison = model_comparison.compare(folders)
    except ValueError as err:
        console.print(str(err).splitlines()[0], style="red", markup=False, soft_wrap=True)
        raise typer.Exit(code=2) from err
    header, rows = model_comparison.table_rows(comparison)
    console.print(tabular(header, [[Text(c) for c in row] for row in rows],
                          title="Section 4, App C and App E findings across model families (measured, not proved)"))


def register(app: typer.Typer) -> None:
    """Add ``analyze-model`` to the ``ropelab`` command."""

    @app.command("analyze-model")
    def analyze_model(
        out: Annotated[Path | None, typer.Option("--out", help="folder for the figures and summary.json (default: figs/<model name>)")] = None,
        model: Annotated[Path | None, typer.Option("--model", help="a local model: a GGUF file or a Hugging Face folder (config.json + safetensors)")] = None,
        model_dir: Annotated[Path | None, typer.Option("--model-dir", help="an HF checkpoint folder (same as --model FOLDER)")] = None,
        gguf_file: Annotated[str | None, typer.Option("--gguf-file", help="a GGUF file inside --model-dir")] = None,
        tokenizer: Annotated[Path | None, typer.Option("--tokenizer", help="a folder with the tokenizer, for a checkpoint saved without one")] = None,
        layer: Annotated[int | None, typer.Option("--layer", help="layer for the per-head figure (default: the most diagonal head's)")] = None,
        refresh: Annotated[bool, typer.Option("--refresh", help="recompute captures and summary, ignoring the cache")] = False,
        whole_model: Annotated[bool, typer.Option("--whole-model", help="load the whole model at once instead of one layer at a time (same captures, more memory)")] = False,
        committed: Annotated[bool, typer.Option("--committed", help="print the committed Gemma 3 270M report (results/gemma3_270m) without running the model")] = False,
        compare: Annotated[bool, typer.Option("--compare", help="compare the reports in the FOLDERS given after it (two or more), finding by finding, beside the paper")] = False,
        folders: Annotated[list[Path] | None, typer.Argument(help="results folders holding summary.json (with --compare)", metavar="FOLDERS")] = None,
    ) -> None:
        """Measure RoPE frequency usage, head types and their deciding frequencies on a real model (default: Gemma 3 270M)."""
        from ropelab.checks.findings.models.model_adapter import ModelPackagesMissing

        from ._console import console, fail, writable_folder

        if folders and not compare:
            fail(f"FOLDERS ({', '.join(map(str, folders))}) are read only with --compare")
        if compare:
            _print_comparison(console, folders or [])
            return
        if not committed and out is not None:  # refused before any model is loaded
            writable_folder(out, "--out")
        if committed:
            from ropelab.checks.findings.model_analysis import committed_report

            _print_report(console, committed_report())
            return
        try:
            from ropelab.paper_figs import (_gemma, gemma_head_norms, gemma_head_types, gemma_layer_norms,
                                            gemma_logit_tables, gemma_positional_heads)

            from ropelab.checks.findings.model_analysis import analyze, model_from_path
            from ropelab.checks.findings.model_identity import describe, slug

            if model is not None:
                model_dir, gguf_file = model_from_path(model)
            if tokenizer is not None and model_dir is None:
                raise ValueError("--tokenizer is read only with --model (the default Gemma 3 270M brings its own)")
            if out is None:
                out = Path("figs") / ("gemma3-270m" if model_dir is None else slug(describe(model_dir, gguf_file)["name"]))
                writable_folder(out, "--out")  # the default, named by the model: still before any model is loaded
            progress, step = _progress(console)
            with progress:
                summary = analyze(model_dir=model_dir, gguf_file=gguf_file, refresh=refresh, on_step=step, tokenizer=tokenizer,
                                  layerwise=not whole_model)
                stamp = out / FIGURES_STAMP
                key = hashlib.sha256(json.dumps([summary, layer], sort_keys=True).encode("utf-8")).hexdigest()
                paths = _drawn_figures(stamp, key)
                redrawn = paths is None
                if redrawn:
                    step("drawing the figures")
                    paths = []
                    paths += gemma_layer_norms.draw(summary, out)
                    paths += gemma_head_norms.draw(summary, out, layer)
                    paths += gemma_positional_heads.draw(summary, out)
                    paths += gemma_head_types.draw(summary, out)
                    paths += gemma_logit_tables.draw(summary, out)
                    write_text_atomically(stamp, json.dumps({"key": key, "files": {p.name: sha256(p) for p in paths}}),
                                          "--out")
                else:
                    step("figures already drawn from this summary")
        except ModelPackagesMissing as err:
            fail(str(err), code=3)
        except (ValueError, OSError) as err:
            line = str(err).splitlines()[0] if str(err) else type(err).__name__
            fail(line)
        payload = report_payload(summary)
        from ropelab.checks.findings.model_analysis import reductions_path

        source = reductions_path(summary)
        if not source.is_file():
            fail(f"the cached reductions {source} are missing: rerun with --refresh")
        reductions = write_atomically(out / "reductions.npz", lambda tmp: shutil.copyfile(source, tmp), "--out")
        report = write_text_atomically(out / "summary.json", json.dumps(payload, indent=1, sort_keys=True), "--out")
        # what the figures draw: `ropelab figs` and the site redraw them from it without the model
        figure_data = write_text_atomically(out / _gemma.FIGURE_DATA, json.dumps(
            _gemma.figure_data(summary), separators=(",", ":"), sort_keys=True, allow_nan=False) + "\n", "--out")
        _print_report(console, payload)
        for path in paths:
            console.print(Text(f"{'wrote' if redrawn else 'up to date'} {path}"))
        console.print(Text(f"wrote {reductions}"))
        console.print(Text(f"wrote {report}"))
        console.print(Text(f"wrote {figure_data}"))
