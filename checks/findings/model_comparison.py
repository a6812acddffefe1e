"""Section 4, App C and App E findings across model families: the paper's model beside each analysed one.

:func:`compare` reads the reports that ``ropelab analyze-model`` writes (``summary.json`` in each
results folder) and returns one row per finding: what the paper printed for its Gemma 7B (and,
for App C, Llama 3), then each analysed model's outcome with its statistic and uncertainty, and
one sentence on whether the finding holds across the families read. A report that lacks a
finding, or carries an unknown outcome, is refused with the folder and the finding named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ropelab.checks.reference import paper_facts

__all__ = [
    "COMMITTED",
    "ModelResult",
    "OUTCOMES",
    "PAPER",
    "across_families",
    "committed_comparison",
    "compare",
    "read_result",
    "table_rows",
]

OUTCOMES = ("holds", "does not hold", "not measurable")

# What the paper reports for each finding, as printed (figures are read, not measured, in the paper).
PAPER = {
    "low_frequencies_carry_largest_query_key_norms": "Gemma 7B, Fig 3: largest q/k norms on the lowest frequencies in most layers (read from the figure; no statistic printed)",
    "positional_heads_use_highest_frequencies": "Gemma 7B, Figs 4-6: diagonal and previous-token heads use the highest frequencies (layer 1 heads 5 and 8 shown)",
    "values_show_no_frequency_pattern": "Gemma 7B, Fig 13: values show no frequency pattern (read from the figure)",
    "frequency_pattern_is_similar_across_domains": "Gemma 7B, Fig 19: the same pattern on English, Italian, code and arithmetic (read from the figures)",
    "larger_base_starts_band_at_lower_pair_index": "App C: band onset at pair 0.8 d/2 in Gemma 7B (theta=1e4) and at pair 40 of 64 in Llama 3 (theta=5e5)",
    "positional_margins_come_from_high_band": "Gemma 7B, Sec 5: positional heads are built from the highest frequencies (two heads shown)",
    "content_margins_come_from_low_band": "Gemma 7B, App E: the apostrophe head (layer 1 head 10) decides through low-frequency chunk 119",
    "semantic_channels_hold_within_context": "App E.1: chunk 119 of Gemma 7B turns 8000 g_119 = {e1} rad (about pi/2) over its 8192-token context",
    "band_onset_near_critical_pair_index": "App C: onsets 10000^-0.8 = {gemma:.1e} (Gemma 7B) and 500000^(-40/64) = {llama:.1e} (Llama 3) as frequencies",
}
SECTIONS = {
    "low_frequencies_carry_largest_query_key_norms": "Sec 4", "positional_heads_use_highest_frequencies": "Sec 4",
    "values_show_no_frequency_pattern": "Sec 4", "frequency_pattern_is_similar_across_domains": "Sec 4",
    "larger_base_starts_band_at_lower_pair_index": "App C", "band_onset_near_critical_pair_index": "App C",
    "positional_margins_come_from_high_band": "Sec 5", "content_margins_come_from_low_band": "App E",
    "semantic_channels_hold_within_context": "App E",
}


def paper_column() -> dict[str, str]:
    """The paper's entry per finding, with its printed constants filled in from ``paper_facts``."""
    constants = {c.get("claim", ""): c for c in paper_facts()["constants"]}
    e1 = next(c["value"] for claim, c in constants.items() if claim.startswith("8000 * g_119"))
    return {key: text.format(e1=e1, gemma=10000 ** -0.8, llama=500000 ** (-40 / 64)) for key, text in PAPER.items()}


@dataclass(frozen=True)
class ModelResult:
    """One analysed model: its heading and its findings by id (each a report's finding record)."""

    folder: str
    name: str
    family: str
    findings: Mapping[str, Mapping]


def read_result(folder: str | Path) -> ModelResult:
    """The report in ``folder/summary.json``; ``ValueError`` names a missing file, field or outcome."""
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise ValueError(f"--compare: {path} does not exist (run ropelab analyze-model --out {folder} first)")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"--compare: {path} is not JSON ({err})") from err
    for field in ("model", "findings"):
        if field not in report:
            raise ValueError(f"--compare: {path} has no {field!r} field (not an analyze-model report)")
    model = report["model"]
    findings = {}
    for f in report["findings"]:
        if f.get("outcome") not in OUTCOMES:
            raise ValueError(f"--compare: {path}: finding {f.get('id')!r} has outcome {f.get('outcome')!r}, expected one of {OUTCOMES}")
        findings[f["id"]] = f
    missing = [key for key in PAPER if key not in findings]
    if missing:
        raise ValueError(f"--compare: {path} lacks the findings {missing}")
    name = model.get("name")
    if not name:
        raise ValueError(f"--compare: {path} names no model (model.name)")
    family = model.get("family")
    if not family:
        raise ValueError(f"--compare: {path} names no model family (model.family)")
    return ModelResult(str(folder), str(name), str(family), findings)


def cell(finding: Mapping) -> str:
    """A model's cell: outcome, value and uncertainty (substitute measurements say so)."""
    value = "-" if finding["value"] is None else f"{finding['value']:.3g}"
    tag = " (substitute)" if finding.get("details", {}).get("substitute") else ""
    return f"{finding['outcome']}{tag}: {value}; {finding['uncertainty']}"


def across_families(results: Sequence[ModelResult], key: str) -> str:
    """One sentence: does finding ``key`` hold in every family read, in some, or in none?"""
    by_outcome: dict[str, list[str]] = {}
    for r in results:
        f = r.findings[key]
        outcome = f["outcome"] + (" (substitute)" if f.get("details", {}).get("substitute") else "")
        by_outcome.setdefault(outcome, []).append(f"{r.name} ({r.family})")
    if any(o.endswith("(substitute)") for o in by_outcome) and not all(o.endswith("(substitute)") for o in by_outcome):
        return ("Not the same question in every family: " + "; ".join(f"{o} in {', '.join(m)}" for o, m in by_outcome.items())
                + "; a substitute reads the premise on a model where the finding itself cannot be measured.")
    if list(by_outcome) == ["holds"]:
        return f"Holds in every family read ({', '.join(by_outcome['holds'])}), as the paper reports for Gemma 7B."
    if "holds" not in by_outcome and "holds (substitute)" not in by_outcome:
        return ("Holds in none of the models read (" + "; ".join(f"{o}: {', '.join(m)}" for o, m in by_outcome.items())
                + "): the paper's reading is not reproduced at this size.")
    return ("One family's, not a cross-family pattern here: " + "; ".join(f"{o} in {', '.join(m)}" for o, m in by_outcome.items())
            + ".")


def compare(folders: Sequence[str | Path]) -> dict:
    """Rows ``{finding, section, paper, models: [cell...], sentence}`` and the model headings, for two or more reports."""
    if len(folders) < 2:
        raise ValueError(f"--compare needs two results folders or more, got {len(folders)}")
    results = [read_result(f) for f in folders]
    paper = paper_column()
    rows = [{"finding": key, "section": SECTIONS[key], "paper": paper[key],
             "models": [cell(r.findings[key]) for r in results], "sentence": across_families(results, key)}
            for key in PAPER]
    return {"models": [{"name": r.name, "family": r.family, "folder": r.folder} for r in results], "rows": rows}


def table_rows(comparison: Mapping) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the cross-family table (the app renders them)."""
    header = ["where", "finding", "paper (Gemma 7B / Llama 3)",
              *(f"{m['name']} ({m['family']})" for m in comparison["models"]), "across families"]
    rows = [[r["section"], r["finding"], r["paper"], *r["models"], r["sentence"]] for r in comparison["rows"]]
    return header, rows


COMMITTED = ("gemma3_270m", "smollm2_135m")  # results folders shipped with the package


def committed_comparison() -> dict:
    """:func:`compare` over the committed results (``ropelab.results``), folders named relative to it."""
    from importlib import resources

    root = Path(str(resources.files("ropelab.results")))
    out = compare([root / name for name in COMMITTED])
    for model, name in zip(out["models"], COMMITTED):
        model["folder"] = f"results/{name}"
    return out
