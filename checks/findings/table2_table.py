"""Table 2's results table beside the paper's, its Markdown page, and the files a run writes."""

from __future__ import annotations

import json
from pathlib import Path

from ropelab.checks.atomic import write_text_atomically
from ropelab.checks.findings.paired_tests import CONFIDENCE, POWER
from ropelab.checks.findings.table2_findings import format_interval, format_spread
from ropelab.checks.findings.table2_rows import (REFERENCE, RESULTS_NAME, ROW_OF, TABLE_NAME, context_multiples,
                                                 compares_with_paper, is_pipeline_check, paper_facts, trained_ids)

__all__ = ["render_table", "table_rows", "write_outputs"]


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table beside the paper's Table 2 (one row per variant)."""
    s = results["summary"]
    paper = paper_facts()["table2_validation_perplexity"]["rows"]
    T = results["config"]["train"]["seq_len"]
    multiples = context_multiples(results)
    several = len(results["seeds"]) > 1
    interval = f" ({CONFIDENCE:.0%} CI)" if several else " (one seed: no interval)"
    compare = compares_with_paper(results)
    bases = {v["id"]: v["encoding"]["theta"] for v in results["config"]["variants"]}
    verdicts = {c["variant"]: c for c in s.get("comparisons", [])}
    header = (["encoding", "theta here", f"ours @T={T}"] + [f"ours @{m}T" for m in multiples[1:]]
              + [f"ΔNLL @T vs {REFERENCE}{interval}"] + (["MDD"] if several else []) + ["tokens/s"]
              + (["paper Wiki", "paper FlanV2"] if compare else [])
              + (["vs paper Wiki", "vs paper FlanV2"] if compare and several else []))
    rows = []
    for vid in trained_ids(results):
        e = s["variants"][vid]
        row = ROW_OF[vid]
        cells = [format_spread(e["perplexity"][m]) for m in map(str, multiples)]
        d = (e["nll_minus_reference"] or {}).get("1", {})
        delta = "—" if vid == REFERENCE or not d else format_interval(d)
        theta = "—" if row.schedule == "nope" else f"{bases[vid]:.1f}"
        line = [row.paper_row, theta, *cells, delta]
        if several:
            line.append("—" if d.get("mdd") is None else f"{d['mdd']:.4f}")
        line.append(f"{e['tokens_per_second']['mean']:.0f}")
        if compare:
            line += [f"{value:.4f}" for value in paper[row.paper_row]]
            if several:
                c = verdicts.get(vid)
                line += ["—", "—"] if c is None else [c["wiki"]["verdict"], c["flanv2"]["verdict"]]
        rows.append(line)
    return header, rows


def render_table(results: dict) -> str:
    """The Markdown table of the results beside the paper's Table 2, then the findings."""
    paper = paper_facts()["table2_validation_perplexity"]
    T = results["config"]["train"]["seq_len"]
    n = len(results["seeds"])
    multiples = context_multiples(results)
    header, rows = table_rows(results)
    lines = [
        f"# Table 2 at small scale ({results['preset']} preset, {n} seed(s))",
        "",
        f"Validation perplexity (bytes, held-out plays) at the training length T={T} and at "
        + ", ".join(f"{m}T" for m in multiples[1:]) + "; "
        + (f"mean ± sd over seeds. ΔNLL: paired difference from {REFERENCE} at T in nats/byte with its "
           f"{CONFIDENCE:.0%} t-interval; MDD: the difference detectable with {POWER:.0%} power at this spread; "
           "verdicts: the sign of the paper's change tested by Holm-adjusted paired t-tests. " if n > 1 else
           f"one seed, so no spread or interval. ΔNLL: difference from {REFERENCE} at T in nats/byte. ")
        + ("A pipeline check of barely trained models: nothing is compared with the paper."
           if is_pipeline_check(results) else f"Paper: {paper['setup']}."),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "## Findings", ""] + [f"- {f}" for f in results["findings"]]
    corpus = results["corpus"]
    lines += [
        "",
        f"Corpus: {corpus['source']}, SHA-256 {corpus['checksum_sha256']}; "
        f"{corpus['train_tokens']} training and {corpus['validation_tokens']} validation bytes. "
        f"Model: {results['config']['parameters']} parameters {results['config']['model']}. "
        f"Note: {results['machine']['note']}.",
        "",
    ]
    return "\n".join(lines)


def write_outputs(results: dict, out_dir: str | Path) -> list[Path]:
    """Write the results JSON and the Markdown table atomically (the app draws the figure)."""
    out_dir = Path(out_dir)
    return [
        write_text_atomically(out_dir / RESULTS_NAME, json.dumps(results, indent=1) + "\n"),
        write_text_atomically(out_dir / TABLE_NAME, render_table(results)),
    ]
