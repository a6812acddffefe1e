"""``ropelab report``: one self-contained HTML file with the table, every figure and the worked instances."""

import base64
import html
import html.parser
import json

import pytest

from helpers.figure_stubs import DRAWN_FOR_REAL, stub_render_figures
from ropelab import catalogue
from ropelab.cli import app as cli
from ropelab.cli.report import REPORT_NAME
from ropelab.checks.registry import REGISTRY
from ropelab.paper_figs import FIGURES

CLAIMS = ("chunk_score_is_norm_times_cosine", "rope_preserves_norm")


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    return exit_info.value.code, capsys.readouterr().out


class Page(html.parser.HTMLParser):
    """Every URL-valued attribute, every element id and every image of a page."""

    def __init__(self, text):
        super().__init__()
        self.urls, self.ids, self.images = [], set(), []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[a] for a in ("src", "href") if a in attrs]
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs["src"])


@pytest.fixture(autouse=True)
def quick_figures(monkeypatch):
    """Placeholders for all but one figure (each figure is tested where it is defined)."""
    monkeypatch.setattr(catalogue, "render_figures", stub_render_figures())


def test_report_is_one_self_contained_file(tmp_path, capsys):
    code, out = run(capsys, "report", *CLAIMS, "--quick", "--out", str(tmp_path))
    assert code == 0, out
    assert [p.name for p in tmp_path.iterdir()] == [REPORT_NAME]
    text = (tmp_path / REPORT_NAME).read_text()
    page = Page(text)
    # nothing is fetched from anywhere: images are data URIs, links are anchors in the file
    assert all(u.startswith(("data:", "#")) for u in page.urls), [u for u in page.urls if not u.startswith(("data:", "#"))]
    assert all(u[1:] in page.ids for u in page.urls if u.startswith("#"))
    finding_figures = {r.figure for section in catalogue.findings_sections() for r in section.records if r.figure}
    assert len(page.images) == len(FIGURES) + len(finding_figures)  # each committed finding figure once
    assert all(f"fig-{name}" in page.ids for name in FIGURES)
    assert all(src.startswith("data:image/png;base64,") and len(src) > 2000 for src in page.images)
    for name in DRAWN_FOR_REAL:  # a real figure goes in whole
        real = catalogue.pngs_of(catalogue.render_figures(tmp_path / "real", [name])[name])[0]
        assert base64.b64encode(real.read_bytes()).decode() in text
    assert "2/2 claims pass (quick grids)" in text
    for claim_id in CLAIMS:
        assert f'id="claim-{claim_id}"' in text
        first_line = REGISTRY[claim_id].explain().splitlines()[0]
        assert html.escape(first_line) in text  # the worked instance is there, escaped


def test_report_marks_figures_that_need_a_missing_extra(tmp_path, capsys, monkeypatch):
    """Without the models extra the Gemma figures are marked in the page, the rest drawn, and the
    extra named at the end; the report still exits 0."""
    drawing = stub_render_figures()

    def render(out_dir, names=None):
        if any(name.startswith("gemma_") for name in names):
            raise ModuleNotFoundError("No module named 'transformers'", name="transformers")
        return drawing(out_dir, names)

    monkeypatch.setattr(catalogue, "render_figures", render)
    code, out = run(capsys, "report", *CLAIMS, "--quick", "--out", str(tmp_path))
    assert code == 0, out
    text = (tmp_path / REPORT_NAME).read_text()
    gemma = [name for name in FIGURES if name.startswith("gemma_")]
    assert text.count("Not drawn here") == len(gemma) and all(f'id="fig-{name}"' in text for name in FIGURES)
    assert "figures not drawn" in out and "pip install 'ropelab[models]'" in out and all(n in out for n in gemma)


def test_report_has_the_findings_section():
    from ropelab.cli.report import finding_figure_id, render_html

    sections = catalogue.findings_sections()
    text = render_html(None, [], {}, findings=sections)
    page = Page(text)
    assert '<h2 id="findings">Findings</h2>' in text
    for section in sections:
        assert html.escape(section.title) in text and html.escape(section.command) in text
        for r in section.records:
            # every record's cells, escaped: the statement, the paper's and ropelab's numbers, the outcome last
            row = f"<td>{html.escape(r.section)}</td><td>{html.escape(r.statement)}</td>"
            assert row in text, r.statement
            assert all(f"<td>{html.escape(c)}</td>" in text for c in (r.paper, r.ours, r.statistic) if c is not None)
            tail = text[text.index(row):]
            assert tail[:tail.index("</tr>")].endswith(f"<td>{html.escape(r.outcome)}</td>"), r.statement
            if r.figure:
                assert finding_figure_id(r.figure) in page.ids
    outcomes = {r.outcome for s in sections for r in s.records}
    assert {"holds", "does not hold"} <= outcomes
    assert "<h2 id=\"findings\">" not in render_html(None, [], {})  # no findings given, no section


def test_report_from_json_shows_failures_and_exits_1(tmp_path, capsys):
    code, _ = run(capsys, "verify", *CLAIMS, "--quick", "--json", str(tmp_path / "v.json"))
    assert code == 0
    report = json.loads((tmp_path / "v.json").read_text())
    report["claims"][0]["status"] = "fail"  # as if the check had failed
    (tmp_path / "v.json").write_text(json.dumps(report))
    unreported = next(c for c in REGISTRY if c not in CLAIMS)
    code, out = run(capsys, "report", *CLAIMS, unreported, "--from-json", str(tmp_path / "v.json"),
                    "--out", str(tmp_path / "r"))
    assert code == 1 and CLAIMS[0] in out
    text = (tmp_path / "r" / REPORT_NAME).read_text()
    assert '<span class="fail">fail</span>' in text and '<span class="pass">pass</span>' in text
    assert f'id="claim-{unreported}"' in text and "not in the last verify report" in text


def test_report_rejects_unknown_ids_and_missing_json(tmp_path, capsys):
    code, out = run(capsys, "report", "no_such_claim", "--out", str(tmp_path))
    assert code == 2 and "no_such_claim" in out
    code, out = run(capsys, "report", "--from-json", str(tmp_path / "absent.json"), "--out", str(tmp_path))
    assert code == 2 and "no verify report" in out
    assert not (tmp_path / REPORT_NAME).exists()
