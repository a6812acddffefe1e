"""``ropelab report``: one self-contained HTML file with the verify table, every figure, every
claim's worked instance and the measured findings, for readers who only want to look.

The file embeds its figures as base64 PNG and its style sheet inline; it loads nothing from
anywhere else, so it can be mailed or archived as it is.
"""

from __future__ import annotations

import base64
import html
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

__all__ = ["REPORT_NAME", "finding_figure_id", "parts_html", "render_html"]

if TYPE_CHECKING:  # the catalogue pulls in SymPy; the command imports it only when it runs
    from ropelab.catalogue import ClaimSheet, FindingsSection

REPORT_NAME = "ropelab-report.html"

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pass { color: #1a7f37; font-weight: 600; }
.fail { color: #cf222e; font-weight: 600; }
.none { color: #6e7781; }
pre { background: #f6f8fa; padding: 0.75rem; white-space: pre-wrap; font-size: 0.85rem; }
code { background: #f6f8fa; padding: 0 0.2rem; }
figure { margin: 1.5rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #444; }
section.claim, section.findings { border-top: 2px solid #e5e5ee; margin-top: 2rem; }
.corrected { border-left: 4px solid #d4a72c; background: #fff8e1; padding: 0.5rem 0.75rem; }
.problem { border-left: 4px solid #cf222e; background: #ffebe9; padding: 0.5rem 0.75rem; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Any) -> str:
    try:
        return f"{float(value):.2e}"
    except (TypeError, ValueError):
        return _e(value)


def _status_cell(entry: Mapping[str, Any] | None) -> str:
    if entry is None:
        return '<span class="none">not run</span>'
    css = "pass" if entry["status"] == "pass" else "fail"
    return f'<span class="{css}">{_e(entry["status"])}</span>'


def _trust_word(line: str) -> str:
    """``"checked"`` from a run's ``"checked: d in {2, 8}, ..."`` line (the trust before the scope)."""
    return line.split(":", 1)[0]


def parts_html(claim) -> str:
    """The statement's parts, each with the side that shows it, its trust, scope and hypotheses."""
    from ropelab.checks.claim import declared_part

    rows = []
    for part in claim.statement_parts():
        side, shown, certifiable = declared_part(claim, part)
        side += ", certified with --certify" if certifiable else ""
        hypotheses = "; ".join(shown.hypotheses) or "none beyond the scope"
        rows.append(f"<tr><td>{_e(part.text)}</td><td>{_e(shown.trust.value)} ({_e(side)})</td>"
                    f"<td>{_e(shown.scope)}</td><td>{_e(hypotheses)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("part of the statement", "shown", "over what", "hypotheses"))
    return (f"<p><strong>Shown as strongly as its weakest part:</strong> {_e(claim.printed().trust.value)}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def verify_table(sheets: Sequence[ClaimSheet]) -> str:
    """The verify table as HTML: one row per claim, linked to its section further down."""
    rows = []
    for s in sheets:
        v = s.verified
        symbolic = "" if v is None else {True: "holds", False: "does NOT hold", None: "n/a"}[v.get("symbolic")]
        # the weakest part of the statement: the run's when there is one, else what the record declares
        shown = _trust_word(v["shown"]) if v is not None and v.get("shown") else s.claim.printed().trust.value
        negative = "" if v is None else ("rejected" if v.get("negative_rejected") else "ACCEPTED")
        residual = "" if v is None else f"{_number(v.get('residual'))} / {_number(v.get('tolerance'))}"
        seconds = "" if v is None else f"{float(v.get('seconds', 0.0)):.1f}"
        rows.append(
            f'<tr><td><a href="#claim-{_e(s.claim.id)}"><code>{_e(s.claim.id)}</code></a></td>'
            f"<td>{_e(s.claim.label)}</td><td>{_status_cell(v)}</td><td>{_e(shown)}</td><td>{symbolic}</td>"
            f'<td class="num">{residual}</td><td>{negative}</td><td class="num">{seconds}</td></tr>'
        )
    head = "".join(f"<th>{h}</th>" for h in ("claim", "paper", "status", "shown (weakest part)", "symbolic side",
                                            "residual / tolerance", "negative control", "s"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def skipped_figure_html(name: str, caption: str, reason: str) -> str:
    """A figure that was not drawn on this install: its caption and why (the extra to install)."""
    return (f'<figure id="fig-{_e(name)}"><p class="none">Not drawn here: {_e(reason)}</p>'
            f"<figcaption><strong>{_e(name)}.</strong> {_e(caption)} "
            f"Redraw: <code>ropelab figs {_e(name)} --out figs</code></figcaption></figure>")


def figure_html(name: str, caption: str, pngs: Sequence[bytes]) -> str:
    """One figure: every PNG it drew, embedded, with its caption and the command that redraws it."""
    images = "".join(
        f'<img alt="{_e(name)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
        for png in pngs
    )
    return (f'<figure id="fig-{_e(name)}">{images}<figcaption><strong>{_e(name)}.</strong> {_e(caption)} '
            f"Redraw: <code>ropelab figs {_e(name)} --out figs</code></figcaption></figure>")


def claim_html(s: ClaimSheet, figure_names: set[str]) -> str:
    """One claim: statement, corrected reading, derivation, worked instance, control, tolerance."""
    from ropelab.catalogue import status_line

    c = s.claim
    parts = [f'<section class="claim" id="claim-{_e(c.id)}"><h3><code>{_e(c.id)}</code></h3>',
             f"<p><strong>Paper:</strong> {_e(c.label)} · <strong>Section:</strong> {_e(c.section)} · "
             f"<strong>Status:</strong> {_e(status_line(s.verified))}</p>",
             f"<p>{_e(c.statement)}</p>", parts_html(c)]
    if c.corrected:
        parts.append(f'<p class="corrected"><strong>Corrected reading.</strong> {_e(c.corrected)}</p>')
    if s.derivation is not None:
        verdict = "holds" if s.derivation.holds else "does NOT hold"
        steps = "".join(f"<li>{_e(step)}</li>" for step in s.derivation.steps)
        parts.append(f"<p><strong>Symbolic side</strong> ({verdict}): {_e(s.derivation.statement)}</p><ol>{steps}</ol>")
    elif c.symbolic is None:
        parts.append(f"<p><strong>Symbolic side.</strong> None: {_e(c.symbolic_reason)}</p>")
    parts.append(f"<p><strong>Worked instance.</strong></p><pre>{_e(s.explanation)}</pre>")
    shown = [f for f in c.figures if f in figure_names]
    if shown:
        parts.append("<p><strong>Figures:</strong> " + ", ".join(f'<a href="#fig-{_e(f)}">{_e(f)}</a>' for f in shown) + "</p>")
    parts.append(f"<p><strong>Negative control.</strong> {_e(c.wrong.description)}</p>")
    parts.append(f"<p><strong>Tolerance.</strong> {_e(c.tolerance_reason)}</p>")
    parts.extend(f'<pre class="problem">{_e(p)}</pre>' for p in s.problems)
    parts.append(f"<p><strong>Run it:</strong> <code>ropelab verify {_e(c.id)}</code> · "
                 f"<code>ropelab explain {_e(c.id)}</code></p></section>")
    return "".join(parts)


def finding_figure_id(png: Path) -> str:
    """The element id of a committed result figure in the report (``finding-fig-<folder>-<stem>``)."""
    return f"finding-fig-{png.parent.name}-{png.stem}"


def findings_html(sections: Sequence[FindingsSection]) -> str:
    """The measured findings (:func:`ropelab.catalogue.findings_sections`): per experiment a table of
    where, statement, the paper's number, ropelab's, the statistic and the outcome, then its figures."""
    columns = (("statement", "statement"), ("paper", "the paper"), ("ours", "ropelab"),
               ("statistic", "statistic and rule"), ("outcome", "outcome"))
    parts = ["<p>What the paper observed on trained models, measured on the results committed with the package "
             "(nothing is rerun). These are measurements, not proofs; a finding that does not hold on these models "
             "is a result, reported as plainly as one that holds. \"No decision rule\" marks a comparison that "
             "states its numbers without a rule deciding it.</p>"]
    embedded: set[Path] = set()
    for section in sections:
        shown = [(field, title) for field, title in columns if any(getattr(r, field) is not None for r in section.records)]
        head = "".join(f"<th>{_e(title)}</th>" for _, title in [("section", "where"), *shown])
        rows = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in
                                         [r.section, *(getattr(r, field) or "-" for field, _ in shown)]) + "</tr>"
                       for r in section.records)
        parts.append(f'<section class="findings"><h3>{_e(section.title)}</h3><p>{_e(section.about)}</p>'
                     f"<p>Command: <code>{_e(section.command)}</code></p>"
                     f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        for png in dict.fromkeys(r.figure for r in section.records if r.figure):
            users = ", ".join(dict.fromkeys(r.section for r in section.records if r.figure == png))
            if png in embedded:
                parts.append(f'<p>Figure: <a href="#{_e(finding_figure_id(png))}">{_e(png.name)}</a> ({_e(users)}).</p>')
                continue
            embedded.add(png)
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            parts.append(f'<figure id="{_e(finding_figure_id(png))}"><img alt="{_e(png.stem)}" '
                         f'src="data:image/png;base64,{data}"><figcaption><strong>{_e(png.name)}.</strong> '
                         f"{_e(users)}</figcaption></figure>")
        parts.append("</section>")
    return "".join(parts)


def render_html(report: Mapping[str, Any] | None, sheets: Sequence[ClaimSheet],
                figures: Mapping[str, tuple[str, Sequence[bytes]]],
                skipped: Mapping[str, tuple[str, str]] | None = None,
                findings: Sequence[FindingsSection] = ()) -> str:
    """The whole report page. ``figures`` maps a figure name to ``(caption, [png bytes, ...])``;
    ``skipped`` maps a figure not drawn on this install to ``(caption, reason)``; ``findings`` are
    the measured findings (a section is written only when there are some)."""
    ran = [s for s in sheets if s.verified is not None]
    passed = sum(s.verified["status"] == "pass" for s in ran)
    if report is None:
        summary = "No verify report: statuses are not shown."
    else:
        mode = "quick grids" if report.get("quick") else "full grids"
        summary = f"{passed}/{len(ran)} claims pass ({mode})."
    versions = ", ".join(f"{k} {v}" for k, v in (report or {}).get("versions", {}).items())
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    figure_blocks = "".join(figure_html(name, caption, pngs) for name, (caption, pngs) in figures.items())
    figure_blocks += "".join(skipped_figure_html(name, caption, reason)
                             for name, (caption, reason) in (skipped or {}).items())
    claim_blocks = "".join(claim_html(s, set(figures) | set(skipped or {})) for s in sheets)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>ropelab report</title><style>{STYLE}</style></head><body>"
        "<h1>ropelab report</h1>"
        "<p>What Barbero et al., <em>Round and Round We Go! What makes Rotary Positional Encodings "
        "useful?</em> (ICLR 2025) proves about RoPE, checked symbolically and numerically. Each claim "
        "passes when its derivation holds, its numeric residual is within its derived tolerance, and "
        "its negative control is rejected.</p>"
        f"<p><strong>{_e(summary)}</strong> Written {_e(when)}. {_e(versions)}</p>"
        f"<h2>Verify table</h2>{verify_table(sheets)}"
        f"<h2>Figures</h2>{figure_blocks or '<p>No figures.</p>'}"
        f"<h2>Claims</h2>{claim_blocks}"
        + (f'<h2 id="findings">Findings</h2>{findings_html(findings)}' if findings else "")
        + "</body></html>\n"
    )


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to the ``ropelab`` app."""

    @app.command()
    def report(
        ids: Annotated[list[str] | None, typer.Argument(help="claim ids to include (default: all)", metavar="ID")] = None,
        out: Annotated[Path, typer.Option("--out", help="output folder", metavar="FOLDER")] = Path("out"),
        quick: Annotated[bool, typer.Option("--quick", help="run verify on the smaller grids")] = False,
        from_json: Annotated[Path | None, typer.Option(
            "--from-json", help="reuse a `ropelab verify --json` report instead of running the claims",
            metavar="FILE")] = None,
    ) -> None:
        """Write OUT/ropelab-report.html: verify table, every figure, every worked instance, the measured findings.

        Figures that need an extra that is not installed are marked in the page and named at the end.
        """
        from ropelab.checks.atomic import write_text_atomically

        from ropelab import catalogue
        from ._console import Steps, fail, install_line, require_known, say, writable_folder
        from ropelab.checks.registry import REGISTRY, select
        from ropelab.checks.runner import report as report_of
        from ropelab.checks.runner import run_claims
        from ropelab.paper_figs import FIGURES

        require_known("claim id", ids, list(REGISTRY), "ropelab list shows them all")
        claims = select(ids)
        if from_json is not None:
            if from_json.is_dir():
                fail(f"--from-json must be a JSON file; {from_json} is a folder")
            try:
                verify_report = catalogue.load_verify_report(from_json)
            except (OSError, ValueError) as err:
                fail(f"--from-json: {err}")
            if verify_report is None:
                fail(f"--from-json: no verify report at {from_json} (write one with `ropelab verify --json PATH`)")
        writable_folder(out, "--out")  # refused before any work
        if from_json is None:
            with Steps("verifying", [c.id for c in claims]) as steps:
                verify_report = report_of(run_claims(claims, quick=quick,
                                                     on_result=lambda r: steps.finish(r.id, r.status)), quick)
        sheets = catalogue.sheets(claims, verify_report)
        with tempfile.TemporaryDirectory(prefix="ropelab-report-") as tmp, \
                Steps("drawing", list(FIGURES)) as steps:
            drawn, skipped = catalogue.render_available_figures(tmp, on_figure=steps.finish)
            figures = {name: (catalogue.figure_caption(name), [p.read_bytes() for p in catalogue.pngs_of(paths)])
                       for name, paths in drawn.items()}
        reasons = {name: (catalogue.figure_caption(name), f"it needs {package}, which comes with the {extra} extra: "
                          + install_line([extra])) for name, (package, extra) in skipped.items()}
        html_page = render_html(verify_report, sheets, figures, reasons, catalogue.findings_sections())
        path = write_text_atomically(Path(out) / REPORT_NAME, html_page, "--out")
        failed = [s.claim.id for s in sheets if s.verified is not None and s.verified["status"] != "pass"]
        say(f"report written to {path}")
        if skipped:
            say(f"figures not drawn (marked in the report): {', '.join(skipped)}; to draw them: "
                + install_line(extra for _, extra in skipped.values()),
                style="yellow")
        if failed:
            say(f"{len(failed)} claim(s) fail: {', '.join(failed)}", style="red")
        raise typer.Exit(code=1 if failed else 0)
