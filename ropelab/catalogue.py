"""What the documentation site and the HTML report say about each claim, gathered in one place.

A *sheet* is everything a reader sees about one claim: its statement, the corrected reading,
the symbolic steps, the worked instance of ``explain()``, and the claim's record in the last
``ropelab verify --json`` report (if there is one). Figures are rendered through
:data:`ropelab.paper_figs.FIGURES` and captioned with their module's docstring, so a new
figure module shows up in the site and the report without being listed anywhere.
:func:`findings_sections` gathers the measured findings (Gemma 3 270M and the training
experiments) from the committed results, for the site's findings page and the report alike.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropelab.theory.derivation import Derivation

from ropelab.checks import runner
from ropelab.checks.claim import Claim
from ropelab.extras import missing_extra

__all__ = [
    "ClaimSheet",
    "FindingsSection",
    "by_section",
    "derivation_from_report",
    "entries_by_id",
    "figure_caption",
    "findings_sections",
    "load_verify_report",
    "outcome_of",
    "pngs_of",
    "render_available_figures",
    "render_figures",
    "sheets",
    "status_line",
]


@dataclass(frozen=True)
class ClaimSheet:
    """One claim as a reader sees it.

    ``derivation`` is ``None`` when the claim has no symbolic side or it was not run;
    ``problems`` lists the parts that raised (symbolic side or worked instance) with their
    tracebacks, so that a page can say so instead of silently dropping them. ``verified`` is the claim's entry in
    the verify report, or ``None`` when the report does not mention it.
    """

    claim: Claim
    derivation: Derivation | None
    explanation: str
    verified: Mapping[str, Any] | None
    problems: tuple[str, ...] = ()


def load_verify_report(path: str | Path) -> dict[str, Any] | None:
    """The JSON report written by ``ropelab verify --json PATH``, or ``None`` if there is none.

    A file that is not a verify report (not JSON, or no ``claims`` list) raises
    ``ValueError`` naming the path.

    >>> load_verify_report("/no/such/report.json") is None
    True
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a `ropelab verify --json` report: not JSON ({err})") from None
    if not isinstance(report, dict) or not isinstance(report.get("claims"), list):
        raise ValueError(f"{path} is not a `ropelab verify --json` report (no 'claims' list)")
    for entry in report["claims"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or "status" not in entry:
            raise ValueError(f"{path} is not a `ropelab verify --json` report (a claim entry has no 'id' or 'status')")
    return report


def entries_by_id(report: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """The report's claim records keyed by claim id (empty when there is no report).

    >>> entries_by_id({"claims": [{"id": "a", "status": "pass"}]})["a"]["status"]
    'pass'
    """
    if report is None:
        return {}
    return {entry["id"]: entry for entry in report["claims"]}


def derivation_from_report(claim: Claim, verified: Mapping[str, Any] | None) -> Derivation | None:
    """The derivation a verify report recorded for ``claim`` (``None`` if it recorded none).

    >>> derivation_from_report(None, {"symbolic": True, "symbolic_statement": "x = x",
    ...                               "symbolic_steps": ["proved: x - x = 0"]}).steps
    ('proved: x - x = 0',)
    """
    if verified is None or verified.get("symbolic") is None or not verified.get("symbolic_statement"):
        return None
    return Derivation(verified["symbolic_statement"], bool(verified["symbolic"]),
                      tuple(verified.get("symbolic_steps", ())))


def sheet(claim: Claim, verified: Mapping[str, Any] | None = None, run_symbolic: bool = True) -> ClaimSheet:
    """Gather one claim's sheet: its worked instance, and its derivation from the verify
    record when that has one, else from running the symbolic side (unless ``run_symbolic``
    is false, when it is left out)."""
    problems = []
    derivation = derivation_from_report(claim, verified)
    if derivation is None and claim.symbolic is not None and run_symbolic:
        try:
            derivation = runner.derivation(claim.symbolic.derive)  # once per process
        except Exception:  # shown on the page as a problem, never hidden
            problems.append(f"symbolic side raised:\n{traceback.format_exc()}")
    try:
        explanation = claim.explain()
    except Exception:  # as above
        explanation = ""
        problems.append(f"worked instance raised:\n{traceback.format_exc()}")
    return ClaimSheet(claim, derivation, explanation, verified, tuple(problems))


def sheets(claims: Iterable[Claim], report: Mapping[str, Any] | None = None,
           run_symbolic: bool = True) -> list[ClaimSheet]:
    """:func:`sheet` for every claim, each with its record from ``report``."""
    records = entries_by_id(report)
    return [sheet(claim, records.get(claim.id), run_symbolic) for claim in claims]


def by_section(claims: Iterable[Claim]) -> dict[str, list[Claim]]:
    """Claims grouped by their ``section`` field, sections in order of first appearance."""
    groups: dict[str, list[Claim]] = {}
    for claim in claims:
        groups.setdefault(claim.section, []).append(claim)
    return groups


def status_line(verified: Mapping[str, Any] | None) -> str:
    """A one-line summary of a claim's verify record.

    >>> status_line({"status": "pass", "residual": 0.5, "tolerance": 1.0, "symbolic": True,
    ...              "negative_rejected": True, "seconds": 0.25, "details": {"quick": False}})
    'pass: residual 5.00e-01 <= tolerance 1.00e+00, symbolic side proved, negative control rejected (0.2 s, full grid)'
    >>> status_line(None)
    'not in the last verify report'
    """
    if verified is None:
        return "not in the last verify report"
    residual, tolerance = _number(verified.get("residual")), _number(verified.get("tolerance"))
    relation = "<=" if residual <= tolerance else ">"
    symbolic = {True: "symbolic side proved", False: "symbolic side NOT proved",
                None: "numeric only"}[verified.get("symbolic")]
    negative = "negative control rejected" if verified.get("negative_rejected") else "negative control ACCEPTED"
    mode = "quick grid" if verified.get("details", {}).get("quick") else "full grid"
    return (f"{verified['status']}: residual {_fmt(residual)} {relation} tolerance {_fmt(tolerance)}, "
            f"{symbolic}, {negative} ({verified.get('seconds', math.nan):.1f} s, {mode})")


def _number(value: Any) -> float:
    # The report writes non-finite floats as strings ("nan", "inf").
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _fmt(x: float) -> str:
    return f"{x:.2e}" if math.isfinite(x) else str(x)


def figure_caption(name: str) -> str:
    """The first paragraph of a figure module's docstring, joined into one line.

    >>> figure_caption("frequency_spectra").startswith("Spectra of RoPE")
    True
    """
    from ropelab.paper_figs import FIGURES

    if name not in FIGURES:
        raise ValueError(f"figure must be one of {sorted(FIGURES)}, got {name!r}")
    doc = importlib.import_module(FIGURES[name].__module__).__doc__ or name
    return " ".join(doc.strip().split("\n\n")[0].split())


def render_figures(out_dir: str | Path, names: Iterable[str] | None = None) -> dict[str, list[Path]]:
    """Render the named figures (all of them by default) into ``out_dir``; files per figure."""
    from ropelab.paper_figs import FIGURES

    chosen = list(FIGURES) if names is None else list(names)
    unknown = [n for n in chosen if n not in FIGURES]
    if unknown:
        raise ValueError(f"figure names must be among {sorted(FIGURES)}, got {unknown}")
    return {name: [Path(p) for p in FIGURES[name](Path(out_dir))] for name in chosen}


def pngs_of(files: Iterable[Path]) -> list[Path]:
    """The PNGs among a figure's files, in order (the site and the report show PNGs).

    >>> [p.name for p in pngs_of([Path("a.png"), Path("a.pdf"), Path("b.png")])]
    ['a.png', 'b.png']
    """
    return [Path(f) for f in files if Path(f).suffix == ".png"]


def render_available_figures(
    out_dir: str | Path,
    names: Iterable[str] | None = None,
    on_figure: Callable[[str, str], None] | None = None,
) -> tuple[dict[str, list[Path]], dict[str, tuple[str, str]]]:
    """Render each figure whose packages are installed; return ``(drawn, skipped)``.

    ``skipped`` maps a figure that needs a package that is not installed to ``(package, extra)``
    (the Gemma 3 270M figures need none: they draw the committed figure data). Any other error
    propagates.
    ``on_figure(name, outcome)`` is called after each figure (for progress lines).
    """
    from ropelab.paper_figs import FIGURES

    drawn, skipped = {}, {}
    for name in list(FIGURES) if names is None else list(names):
        try:
            drawn.update(render_figures(out_dir, [name]))
        except ImportError as err:
            needs = missing_extra(err)
            if needs is None:
                raise
            skipped[name] = needs
        if on_figure is not None:
            on_figure(name, "skipped" if name in skipped else "drawn")
    return drawn, skipped


# --- measured findings (Gemma 3 270M: Sec 4-6, App C, Tables 3-5; the three training experiments) ---

NO_DECISION_RULE = "no decision rule"
"""The outcome of a measured comparison that states numbers without a rule to decide it."""

# The committed Gemma 3 270M figure that shows each finding (None: no committed figure does).
GEMMA_FIGURE = {
    "low_frequencies_carry_largest_query_key_norms": "layer_norms.png",
    "values_show_no_frequency_pattern": "layer_norms.png",
    "positional_heads_use_highest_frequencies": "positional_heads.png",
    "larger_base_starts_band_at_lower_pair_index": "layer_norms.png",
    "band_onset_near_critical_pair_index": "layer_norms.png",
    "positional_margins_come_from_high_band": "head_types.png",
    "content_margins_come_from_low_band": "head_types.png",
    "semantic_channels_hold_within_context": "head_types.png",
}
_VERDICT = re.compile(r"\b(does not hold|holds|undecided(?: at this power| \([^)]*\))?)")


@dataclass(frozen=True)
class FindingRecord:
    """One measured statement beside the paper's.

    ``outcome`` is "holds", "does not hold", "undecided ...", "not measurable" or
    :data:`NO_DECISION_RULE`; ``paper``, ``ours`` and ``statistic`` are ``None`` where the
    statement itself carries the numbers; ``figure`` is a committed PNG or ``None``.
    """

    section: str
    statement: str
    paper: str | None
    ours: str | None
    statistic: str | None
    outcome: str
    figure: Path | None


@dataclass(frozen=True)
class FindingsSection:
    """The findings of one experiment (one model or one training set-up), with what it is and how to rerun it."""

    title: str
    about: str
    command: str
    records: tuple[FindingRecord, ...]


def outcome_of(line: str) -> str:
    """The verdict a finding line states (its first "holds" / "does not hold" / "undecided ..."),
    else :data:`NO_DECISION_RULE`.

    >>> outcome_of("the 1/g_min law (slope -1) does not hold")
    'does not hold'
    >>> outcome_of("accuracy difference -0.9, 95% CI [-0.91, -0.88]; holds; final ...")
    'holds'
    >>> outcome_of("rho=0.46 (p=0.29)")
    'no decision rule'
    """
    found = _VERDICT.search(line)
    return found.group(1) if found else NO_DECISION_RULE


def _result_file(folder: str, name: str) -> Path | None:
    from importlib import resources

    path = Path(str(resources.files("ropelab.results").joinpath(folder, name)))
    return path if path.is_file() else None


def _gemma_section() -> FindingsSection:
    from ropelab.checks.findings import model_analysis

    summary = model_analysis.committed_report()
    records = []
    for f in summary["findings"]:
        value = "-" if f["value"] is None else f"{f['value']:.3g}"
        figure = GEMMA_FIGURE.get(f["id"])
        records.append(FindingRecord(
            section=f["label"], statement=f["measured"], paper=f["paper_statement"],
            ours=f"{value} ({f['uncertainty']})", statistic=f"{f['statistic']}; {f['rule']}",
            outcome=f["outcome"], figure=figure and _result_file(model_analysis.COMMITTED, figure)))
    for row in summary["paper_comparison"]:
        records.append(FindingRecord(
            section=row["paper_table"].split("_")[0].replace("table", "Table "),
            statement=f"mean logit over its Cauchy-Schwarz bound after BOS, for the {row['ours'].replace('_', ' ')} head",
            paper=f"Gemma 7B {row['paper_head']}: diagonal {row['paper_diagonal_over_bound']:.2f}, "
                  f"previous token {row['paper_previous_over_bound']:.2f}",
            ours=f"{row['our_head']}: diagonal {row['our_diagonal_over_bound']:.2f}, "
                 f"previous token {row['our_previous_over_bound']:.2f}",
            statistic="mean over the tokens after BOS of logit / (|q||k|)", outcome=NO_DECISION_RULE,
            figure=_result_file(model_analysis.COMMITTED, "logit_tables.png")))
    return FindingsSection(
        title="Gemma 3 270M (Sec 4-6, App C, Tables 3-5)",
        about=summary["model"]["not_the_paper_model"], command="ropelab analyze-model --committed",
        records=tuple(records))


# What the paper says beside each training finding, keyed by how the finding line begins
# (a line with no paper counterpart, such as a control, has none).
EXPERIMENT_PAPER = {
    "table2": {
        "rope_": "Gemma 7B: the lowest frequencies carry the largest q, k norms (Sec 4, Fig 3)",
        "p_rope_": "Gemma 7B: the lowest frequencies carry the largest q, k norms (Sec 4, Fig 3)",
    },
    "breaking": {
        "RoPE collapse distance": "a channel at frequency g breaks after about pi/(2g) tokens (Thm 6.1): "
                                  "collapse distance ~ 1/g_min, log-log slope -1",
        "p-RoPE 0.75": "pairs left unrotated never break (Thm 6.1 does not apply at g = 0)",
        "NoPE": "no rotation: nothing to break",
    },
    "offset": {
        "NoPE copies": "a NoPE head cannot be diagonal or previous-token beyond BOS (Prop 5.2)",
        "reversed p-RoPE": "positional heads are built from the highest frequencies (Thm 5.3, Sec 5), "
                           "which reversed p-RoPE removes",
        "p-RoPE 0.75": "p-RoPE keeps the highest frequencies, so it builds the Thm 5.3 heads as RoPE does (Table 1)",
        "RoPE's offset head": "positional heads use the highest frequencies (Sec 4-5, Figs 4-6)",
    },
}


def _experiment_section(experiment, results: dict, paper_of_first: str | None, figure: Path | None) -> FindingsSection:
    said = EXPERIMENT_PAPER.get(experiment.id, {})

    def paper(n: int, line: str) -> str | None:
        if n == 0 and paper_of_first is not None:
            return paper_of_first
        return next((text for start, text in said.items() if line.startswith(start)), None)

    records = tuple(FindingRecord(section=experiment.label, statement=line, paper=paper(n, line),
                                  ours=None, statistic=None, outcome=outcome_of(line), figure=figure)
                    for n, line in enumerate(results["findings"]))
    return FindingsSection(title=f"{experiment.label}: the {experiment.id} experiment ({results['preset']} preset)",
                           about=experiment.statement, command=experiment.command, records=records)


def findings_sections() -> list[FindingsSection]:
    """Every measured finding shipped with the package, read from the committed results (nothing is run):
    Gemma 3 270M's (Sec 4, App C, Tables 3-5), then Table 2 at small scale, ``breaking`` and ``offset``."""
    from ropelab.checks.findings import breaking, offset, table2
    from ropelab.checks.findings.experiments import EXPERIMENTS

    paper = table2.paper_facts()["table2_validation_perplexity"]
    wiki = sorted(paper["rows"].items(), key=lambda item: item[1][0])
    table2_paper = "Gemma 2B, Wiki validation perplexity: " + " < ".join(f"{row} {values[0]}" for row, values in wiki)
    return [
        _gemma_section(),
        _experiment_section(EXPERIMENTS["table2"], table2.load_results(), table2_paper,
                            _result_file("table2_small", f"{table2.FIGURE_NAME}.png")),
        _experiment_section(EXPERIMENTS["breaking"], breaking.load_results(), None, None),
        _experiment_section(EXPERIMENTS["offset"], offset.load_results(), None, None),
    ]
