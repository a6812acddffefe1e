"""The documentation site: a strict build, its generated pages, and every page in a real browser.

The site is built once per session (``mkdocs build --strict``, so any warning fails it), with a
small verify report so that claim statuses are exercised. Served on localhost (as ``mkdocs serve``
would) and straight from disk (``file://``), a page of each kind opens in headless Chromium
(Debian's package, installed here when missing): its formulas are typeset by MathJax, nothing is
fetched from another host and the console has no errors. Every page's links, anchors and images
are checked from its HTML, and every page's formulas are typeset by the site's own MathJax in one
loaded page (a page of a kind differs from the others only in its text). Screenshots of the home
page, a claim page, the figure gallery and an example page are kept under ``build/docs-test/``.
"""

from __future__ import annotations

import doctest
import functools
import html
import html.parser
import http.server
import importlib.util
import re
import sys
import threading
import time
import types
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from helpers.browser import chromium_driver
from helpers.figure_stubs import stub_render_figures
from ropelab import catalogue
from ropelab.checks.registry import REGISTRY, select
from ropelab.checks.runner import run_claims, write_report
from ropelab.paper_figs import FIGURES

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "docs-test"
# page -> screenshot kept by the file:// run: a claim page with formulas, the gallery, an example
SHOWN_PAGES = {"index.html": "home.png", "claims/rope_score_depends_on_relative_position.html": "claim.png",
               "figures.html": "gallery.png", "examples/02_point_a_head_at_any_distance.html": "example.png"}
VERIFIED = ("chunk_score_is_norm_times_cosine", "rope_preserves_norm")


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site built with ``--strict`` (in this process) from a verify report of two claims.

    Figures other than ``helpers.figure_stubs.DRAWN_FOR_REAL`` are placeholders, and the examples'
    output and the derivations of unverified claims are left out: other tests draw every
    figure, run every example and every derivation already.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    work = tmp_path_factory.mktemp("docs")
    report = write_report(work / "report.json", run_claims(select(list(VERIFIED)), quick=True), quick=True)
    out = work / "site"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"ROPELAB_VERIFY_REPORT": str(report), "NO_MKDOCS_2_WARNING": "1",
                            "ROPELAB_DOCS_EXAMPLE_OUTPUT": "0", "ROPELAB_DOCS_DERIVATIONS": "report",
                            "ROPELAB_DOCS_FIGURE_CACHE": "0"}.items():
            patch.setenv(name, value)
        patch.setattr(catalogue, "render_figures", stub_render_figures())
        build(load_config(str(ROOT / "mkdocs.yml"), site_dir=str(out), strict=True))  # Abort on any warning
    return out


def test_every_claim_names_figures_that_exist():
    # the claim pages show these figures; a wrong name also fails the strict build
    unknown = [(c.id, f) for c in REGISTRY.values() for f in c.figures if f not in FIGURES]
    assert not unknown, f"claims name figures that ropelab.paper_figs does not have: {unknown}"


def test_strict_build_has_a_page_for_everything(site):
    for claim_id in REGISTRY:
        assert (site / "claims" / f"{claim_id}.html").is_file(), claim_id
    for name in FIGURES:
        assert list((site / "figures").glob(f"{name}*.png")), name
    for example in (ROOT / "examples").glob("[0-9]*.py"):
        assert (site / "examples" / f"{example.stem}.html").is_file(), example.name
        assert (site / "examples" / example.name).read_text() == example.read_text()
    for page in ("index.html", "errata.html", "findings.html", "figures.html", "architecture.html", "api/index.html",
                 "api/ropelab.constructions.html", "assets/mathjax/tex-chtml.js"):
        assert (site / page).is_file(), page
    nested = [p for p in site.rglob("*/index.html") if p.parent.name not in ("claims", "examples", "api")]
    assert not nested, f"directory URLs (the site must work from file://): {nested[:3]}"


def _visible_text(path: Path) -> str:
    """A page's text with tags removed (code highlighting splits words into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def test_claim_pages_show_the_verify_status(site):
    for claim_id in REGISTRY:
        page = _visible_text(site / "claims" / f"{claim_id}.html")
        claim = REGISTRY[claim_id]
        assert "Worked instance" in page and "Negative control" in page
        for side, shown in claim.sides().items():  # each side's trust and scope
            assert f"| {side} |" not in page and side in page and shown.trust.value in page
        assert f"ropelab verify {claim_id}" in page
        if claim_id in VERIFIED:
            assert "Status: pass" in page and "negative control rejected" in page
            assert "(SymPy: holds)" in page  # the derivation, taken from the report
            # which run, when, on which grids and with which versions
            assert re.search(r"From the verify report report\.json \(\d{4}-\d\d-\d\d \d\d:\d\d UTC; quick grids; "
                             r"Python [\d.]+, .*jax [\d.]+", page), page[:2000]
        else:
            assert "Status: not in this site's verify run" in page
            if claim.symbolic is not None:
                assert f"ropelab explain {claim_id} prints the derivation" in page
        if claim.corrected:
            assert "Corrected reading" in page


def _table_rows(path: Path) -> list[list[str]]:
    """Each table row of a page as its cells' visible text."""
    rows = re.findall(r"<tr>(.*?)</tr>", path.read_text(), re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in rows]


def test_findings_page_shows_every_committed_finding_with_its_outcome(site):
    from ropelab.checks.findings import breaking, offset, table2
    from ropelab.checks.findings.model_analysis import committed_report

    page = site / "findings.html"
    rows = _table_rows(page)
    summary = committed_report()
    for finding in summary["findings"]:  # Gemma 3 270M: the paper's statement, the measurement, the outcome
        row = next((r for r in rows if finding["measured"] in r), None)
        assert row is not None, finding["id"]
        assert row[0] == finding["label"] and row[-1] == finding["outcome"]
        assert finding["paper_statement"] in row and finding["uncertainty"] in row[3]
    assert any(r[-1] == "does not hold" for r in rows) and any(r[-1] == "holds" for r in rows)
    for row in summary["paper_comparison"]:  # Tables 3-5 beside the paper's
        assert any(r[0] == row["paper_table"].split("_")[0].replace("table", "Table ") for r in rows)
    for module in (table2, breaking, offset):  # the three training experiments, every finding line
        for line in module.load_results()["findings"]:
            shown = re.sub(r"`([^`|\n]+)`", r"\1", line)  # `code` in a line is shown as code
            row = next((r for r in rows if shown in r), None)
            assert row is not None and row[-1] == catalogue.outcome_of(line), line
    text = _visible_text(page)
    assert "ropelab analyze-model --committed" in text and summary["model"]["not_the_paper_model"] in text
    figures = {r.figure for s in catalogue.findings_sections() for r in s.records if r.figure}
    assert figures
    for png in figures:
        assert (site / "findings" / png.parent.name / png.name).read_bytes() == png.read_bytes()
        assert f'src="findings/{png.parent.name}/{png.name}"' in page.read_text()
    assert 'href="findings.html"' in (site / "index.html").read_text()  # in the navigation


def test_api_pages_render_docstring_maths_and_examples(site):
    path = site / "api" / "ropelab.constructions.html"
    assert '<span class="gp">&gt;&gt;&gt; </span>' in path.read_text()  # doctests: pycon blocks
    page = _visible_text(path)
    assert ">>> rope(4, 100.0)" in page
    assert r"\(g_m = \theta^{-2m/d}\)" in page  # the :math: role became MathJax input
    assert ":math:" not in page


# --- the browser test ----------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output readable
        pass


@pytest.fixture(scope="session")
def served_site(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def browser():
    driver = chromium_driver(script_timeout=30)
    try:
        yield driver
    finally:
        driver.quit()


class _Ids(html.parser.HTMLParser):
    """Collects every ``id`` attribute of a page (targets of ``#fragment`` links)."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name == "id" and value)


@functools.cache
def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
            is_html = response.headers.get_content_type() == "text/html"
            return response.status, body.decode("utf-8", "replace") if is_html else ""
    except urllib.error.HTTPError as err:
        err.close()
        return err.code, ""


@functools.cache
def _ids_of(url: str) -> frozenset[str]:
    parser = _Ids()
    parser.feed(_fetch(url)[1])
    return frozenset(parser.ids)


TYPESET = """
const done = arguments[arguments.length - 1];
const count = () => ({
  maths: document.querySelectorAll('.arithmatex').length,
  typeset: [...document.querySelectorAll('.arithmatex')].filter(e => e.querySelector('mjx-container')).length,
  errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
});
const started = Date.now();
(function wait() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done({...count(), loaded: true}))
      .catch(e => done({...count(), loaded: 'error: ' + e}));
  } else if (Date.now() - started > 15000) {
    done({...count(), loaded: false});
  } else {
    setTimeout(wait, 50);
  }
})();
"""

PAGE_FACTS = """
return {
  images: [...document.images].map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0]),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  resources: performance.getEntriesByType('resource').map(r => r.name),
};
"""


def _file_status(url: str) -> tuple[int, str]:
    """``_fetch`` for ``file://`` URLs: 200 and the text of an existing file, 404 otherwise."""
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    if not path.is_file():
        return 404, ""
    return 200, path.read_text(errors="replace") if path.suffix == ".html" else ""


@functools.cache
def _file_ids(url: str) -> frozenset[str]:
    parser = _Ids()
    parser.feed(_file_status(url)[1])
    return frozenset(parser.ids)


class _Facts(html.parser.HTMLParser):
    """What a browser's ``PAGE_FACTS`` gives, read from a page's HTML: its images and links."""

    def __init__(self, url: str):
        super().__init__()
        self.url, self.images, self.links = url, [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and attrs.get("src"):
            self.images.append(urllib.parse.urljoin(self.url, attrs["src"]))
        elif tag == "a" and attrs.get("href"):
            self.links.append(urllib.parse.urljoin(self.url, attrs["href"]))


def _in_browser(browser, url: str) -> tuple[dict, dict, list[dict]]:
    """Open ``url``: MathJax's counts, the page's images, links and fetches, its console log."""
    browser.get(url)
    maths = browser.execute_async_script(TYPESET)
    return maths, browser.execute_script(PAGE_FACTS), browser.get_log("browser")


def _pages(site: Path) -> list[str]:
    """Every page of the built site but the 404 page, as sorted paths relative to it."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if p.name != "404.html")


def _one_of_each_kind(pages: list[str], last: bool = False) -> set[str]:
    """Every top-level page, the first (or ``last``) page of each folder, and the pages kept as
    screenshots."""
    chosen: dict[str, str] = {}
    for page in reversed(pages) if last else pages:
        chosen.setdefault(page.rpartition("/")[0], page)
    return set(chosen.values()) | {p for p in pages if "/" not in p} | set(SHOWN_PAGES)


class _Formulas(html.parser.HTMLParser):
    """The TeX source of each ``arithmatex`` element of a page (what MathJax is asked to typeset)."""

    def __init__(self):
        super().__init__()
        self.sources: list[str] = []
        self._depth = 0  # > 0 inside an arithmatex element (counting the tags nested in it)

    def handle_starttag(self, tag, attrs):
        if self._depth:
            self._depth += 1
        elif "arithmatex" in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.sources.append("")

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.sources[-1] += data


TYPESET_SOURCES = """
const [sources, done] = [arguments[0], arguments[arguments.length - 1]];
const box = document.createElement('div');
document.body.appendChild(box);
const made = sources.map(source => {
  const e = document.createElement('div');
  e.className = 'arithmatex';
  e.textContent = source;
  box.appendChild(e);
  return e;
});
MathJax.startup.promise.then(() => MathJax.typesetPromise([box]))
  .then(() => done(made.map(e => [!!e.querySelector('mjx-container'),
                                  !!e.querySelector('mjx-merror, [data-mjx-error]')])))
  .catch(e => done('error: ' + e));
"""


def _typeset_in_one_page(browser, url: str, formulas: list[tuple[str, str]]) -> list[str]:
    """Typeset each ``(page, TeX source)`` of ``formulas`` with the MathJax of the page at ``url``;
    list each one that is not typeset or typesets to an error, by its page."""
    browser.get(url)
    assert browser.execute_async_script(TYPESET)["loaded"] is True
    results = browser.execute_async_script(TYPESET_SOURCES, [source for _, source in formulas])
    assert isinstance(results, list), results
    return [f"{page}: {'MathJax error in' if error else 'not typeset:'} {source}"
            for (page, source), (typeset, error) in zip(formulas, results, strict=True) if error or not typeset]


def _check_every_page(browser, site: Path, base: str, screenshots: bool,
                      in_browser: set[str] | None = None) -> tuple[list[str], dict[str, float]]:
    """Open every page of ``site`` under ``base`` (http://... or file://...) and list what is broken.

    Pages in ``in_browser`` (default: all) are opened in Chromium; the others have their links,
    anchors and images checked from their HTML.
    """
    local = base.startswith("file:")
    status_of, ids_of = (_file_status, _file_ids) if local else (_fetch, _ids_of)
    pages = _pages(site)
    assert len(pages) >= len(REGISTRY) + 5
    origin = urllib.parse.urlsplit(base)[:2]
    problems: list[str] = []
    timings: dict[str, float] = {}
    for page in pages:
        url = urllib.parse.urljoin(base, page)
        started = time.perf_counter()
        if in_browser is None or page in in_browser:
            maths, facts, log = _in_browser(browser, url)
            if maths["maths"] and (maths["loaded"] is not True or maths["typeset"] != maths["maths"]):
                problems.append(f"{page}: maths not typeset: {maths}")
            if maths["errors"]:
                problems.append(f"{page}: {maths['errors']} MathJax errors")
            problems += [f"{page}: broken image {src}" for src, ok in facts["images"] if not ok]
            problems += [f"{page}: fetched from another host: {r}" for r in facts["resources"]
                         if urllib.parse.urlsplit(r)[:2] != origin]
            problems += [f"{page}: console {entry['level']}: {entry['message']}"
                         for entry in log if entry["level"] == "SEVERE"]
            if page in SHOWN_PAGES:
                if page != "figures.html":  # the gallery has formulas only in some captions
                    assert maths["typeset"] > 0, f"{page} has formulas; none was typeset"
                if screenshots:
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    browser.save_screenshot(str(SCREENSHOTS / SHOWN_PAGES[page]))
        else:
            parsed = _Facts(url)
            parsed.feed(status_of(url)[1])
            facts = {"links": parsed.links}
            problems += [f"{page}: broken image {src}" for src in parsed.images if status_of(src)[0] != 200]
        for link in facts["links"]:
            parts = urllib.parse.urlsplit(link)
            if parts[:2] != origin:
                continue  # links out (the theme's footer) are not followed: there is no network
            target = urllib.parse.urlunsplit(parts._replace(fragment=""))
            if local and target.endswith("/"):
                problems.append(f"{page}: link to a folder, which a browser shows as a listing from disk: {link}")
                continue
            status = status_of(target)[0]
            if status != 200:
                problems.append(f"{page}: broken link {link} ({status})")
            elif parts.fragment and urllib.parse.unquote(parts.fragment) not in ids_of(target):
                problems.append(f"{page}: link to a missing anchor {link}")
        timings[page] = time.perf_counter() - started
    return problems, timings


def test_every_page_loads_cleanly_when_served(site, served_site, browser):
    """Served, a page of each kind opens in the browser (the last of each folder; the from-disk
    check below opens the first) and every page's links, anchors and images are checked."""
    pages = _pages(site)
    problems, _ = _check_every_page(browser, site, served_site, screenshots=False,
                                    in_browser=_one_of_each_kind(pages, last=True))
    assert not problems, "\n".join(problems)


def test_every_formula_of_every_page_is_typeset_when_served(site, served_site, browser):
    """Each page's formulas, typeset by the site's MathJax in one served page, with no error."""
    formulas = []
    for path in sorted(site.rglob("*.html")):
        parser = _Formulas()
        parser.feed(path.read_text())
        formulas += [(path.relative_to(site).as_posix(), source) for source in parser.sources]
    assert len(formulas) > 10 * len(REGISTRY)
    problems = _typeset_in_one_page(browser, served_site + "index.html", formulas)
    assert not problems, "\n".join(problems)


def test_formula_check_rejects_a_broken_formula(served_site, browser):
    """The one-page typesetting above reports a formula MathJax cannot parse, and only that one."""
    parser = _Formulas()
    parser.feed('<p><span class="arithmatex">\\(g_m = \\theta^{-2m/d}\\)</span> and '
                '<span class="arithmatex">\\(\\frac{1}\\)</span></p>')
    assert parser.sources == ["\\(g_m = \\theta^{-2m/d}\\)", "\\(\\frac{1}\\)"]
    formulas = [("planted.html", source) for source in parser.sources]
    assert _typeset_in_one_page(browser, served_site + "index.html", formulas) == [
        "planted.html: MathJax error in \\(\\frac{1}\\)"]


def test_every_page_loads_cleanly_from_disk(site, browser, capsys):
    """From disk, a page of each kind is opened in the browser (every page is, served, above: the
    same scripts and formulas) and every page's links, anchors and images are checked."""
    pages = _pages(site)
    opened = _one_of_each_kind(pages)
    problems, timings = _check_every_page(browser, site, site.as_uri() + "/", screenshots=True, in_browser=opened)
    assert not problems, "\n".join(problems)
    for shot in SHOWN_PAGES.values():
        assert (SCREENSHOTS / shot).stat().st_size > 10_000, shot
    with capsys.disabled():
        print(f"\n{len(timings)} pages from disk ({len(opened)} in the browser) in {sum(timings.values()):.1f} s; "
              f"screenshots in {SCREENSHOTS}")


def test_html_check_finds_broken_links_anchors_images_and_folder_links(tmp_path):
    """The from-disk check of the pages not opened in the browser rejects each planted fault."""
    pages = {f"p{i}.html": "<p>filler</p>" * 40 for i in range(len(REGISTRY) + 5)}
    pages["a.html"] = ('<a href="p0.html">fine</a><a href="gone.html">x</a><a href="p1.html#nowhere">y</a>'
                       '<a href="sub/">z</a><img src="missing.png">')
    pages["p0.html"] = '<h2 id="here">here</h2><a href="a.html">back</a>'
    for name, body in pages.items():
        (tmp_path / name).write_text(f"<html><body>{body}</body></html>")
    problems, _ = _check_every_page(None, tmp_path, tmp_path.as_uri() + "/", screenshots=False, in_browser=set())
    assert sorted(problems) == sorted([
        f"a.html: broken image {(tmp_path / 'missing.png').as_uri()}",
        f"a.html: broken link {(tmp_path / 'gone.html').as_uri()} (404)",
        f"a.html: link to a missing anchor {(tmp_path / 'p1.html').as_uri()}#nowhere",
        f"a.html: link to a folder, which a browser shows as a listing from disk: {(tmp_path / 'sub').as_uri()}/",
    ]), problems


def test_claim_page_maths_is_typeset_by_mathjax(site, browser):
    """The statement of a claim page is typeset: MathJax output, not the plain-text maths."""
    browser.get((site / "claims" / "rope_score_depends_on_relative_position.html").as_uri())
    maths = browser.execute_async_script(TYPESET)
    assert maths["loaded"] is True and maths["typeset"] == maths["maths"] > 5 and not maths["errors"], maths
    formulas, shown = browser.execute_script(
        "const h = [...document.querySelectorAll('h2')].find(e => e.textContent.startsWith('Statement'));"
        "const p = h.nextElementSibling;"
        "return [p.querySelectorAll('mjx-container').length, p.innerText];")
    assert formulas >= 2
    assert "R^(j-i)" not in shown and "q^T" not in shown  # typeset, not the plain-text source


def _load_hook_module(name: str):
    """Import one of docs/hooks/*.py as a module (registered, as dataclasses need)."""
    module_name = f"ropelab_docs_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "docs" / "hooks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def test_docstring_converter_turns_rst_into_markdown():
    rst = _load_hook_module("griffe_rst")
    assert doctest.testmod(rst).failed == 0
    md = rst.to_markdown("Curve\n\n.. math:: c(r) = \\sum_m A_m,\\quad\n          B_m = 0\n\n(pair :math:`m`\nis :mod:`x`)")
    assert "\\[\nc(r) = \\sum_m A_m,\\quad B_m = 0\n\\]" in md
    assert md.endswith("(pair \\(m\\)\nis `x`)")


EXAMPLE = """# %% [markdown]
# # A tiny example
#
# Text with maths $x^2$.

# %%
x = 3
print("x squared is", x ** 2)

# %%
assert x == 3
"""


def test_example_pages_show_each_cells_output(tmp_path, caplog):
    site_hook = _load_hook_module("site")
    path = tmp_path / "01_tiny.py"
    path.write_text(EXAMPLE)
    title, page = site_hook.example_page(path, with_output=True)
    assert title == "A tiny example" and page.startswith("# A tiny example")
    assert "python examples/01_tiny.py" in page
    assert '```text title="Output"\nx squared is 9\n```' in page
    assert page.count('title="Output"') == 1  # the silent cell gets no output block
    _, quiet = site_hook.example_page(path, with_output=False)
    assert 'title="Output"' not in quiet
    path.write_text(EXAMPLE.replace("assert x == 3", "assert x == 4"))
    site_hook.example_page(path, with_output=True)
    assert "01_tiny.py raised" in caplog.text and "AssertionError" in caplog.text


def test_figures_are_reused_while_the_sources_are_unchanged(tmp_path, monkeypatch):
    site_hook = _load_hook_module("site")
    fingerprint = site_hook.source_fingerprint()
    assert len(fingerprint) == 16 and site_hook.source_fingerprint() == fingerprint
    calls = []
    stub = stub_render_figures()

    def counting_render(out_dir, names=None):
        calls.append(out_dir)
        return stub(out_dir, names)

    monkeypatch.setenv("ROPELAB_DOCS_FIGURE_CACHE", "1")
    monkeypatch.setattr(site_hook, "FIGURE_CACHE", tmp_path / "cache")
    monkeypatch.setattr(catalogue, "render_figures", counting_render)
    monkeypatch.setattr(site_hook, "source_fingerprint", lambda: "first")
    drawn = site_hook.drawn_figures()
    assert set(drawn) == set(FIGURES) and all(p.is_file() for ps in drawn.values() for p in ps)
    assert len(calls) == len(FIGURES)  # one call per figure, each with its progress line
    assert site_hook.drawn_figures() == drawn and len(calls) == len(FIGURES)  # reused, not drawn again
    monkeypatch.setattr(site_hook, "source_fingerprint", lambda: "second")
    redrawn = site_hook.drawn_figures()
    assert len(calls) == 2 * len(FIGURES) and all(p.parent.name == "second" for ps in redrawn.values() for p in ps)
    assert (tmp_path / "cache" / "first").is_dir()  # a fresh older tree is kept for a while


def test_examples_and_claim_pages_link_each_other(site):
    example = (site / "examples" / "03_previous_token_head_by_hand.html").read_text()
    if "rope_head_can_be_previous_token" in REGISTRY:
        assert 'href="../claims/rope_head_can_be_previous_token.html"' in example
        claim = (site / "claims" / "rope_head_can_be_previous_token.html").read_text()
        assert 'href="../examples/03_previous_token_head_by_hand.html"' in claim


@pytest.mark.parametrize("plain, latex", [
    ("rho(a) rho(b) = rho(a+b)", r"\(\rho(a) \rho(b) = \rho(a+b)\)"),
    ("(R^i q)^T (R^j k) = q^T R^(j-i) k", r"\((R^{i} q)^{\top} (R^{j} k) = q^{\top} R^{j-i} k\)"),
    ("alpha_ii <= 1/c", r"\(\alpha_{ii} \le 1/c\)"),
    ("|R^i x| = |x|", r"\(\vert R^{i} x\vert = \vert x\vert \)"),
    ("E[q^T R^r k] = 2 sum_k cos(r g_k)", r"\(\mathbb{E}[q^{\top} R^{r} k] = 2 \sum_{k} \cos(r g_{k})\)"),
    ("g_119 = 1e4^(-236/256) = 2.05e-4", r"\(g_{119} = {10^{4}}^{-236/256} = 2.05\times 10^{-4}\)"),
])
def test_plain_maths_becomes_latex(plain, latex):
    site_hook = _load_hook_module("site")
    assert site_hook.maths_markdown(plain, str) == latex


def test_prose_around_maths_stays_text():
    site_hook = _load_hook_module("site")
    md = site_hook.maths_markdown("For a token repeated c times, the sum of weights (log-log slope -1) is 1.", str)
    assert md == r"For a token repeated \(c\) times, the sum of weights (log-log slope -1) is 1."
    assert doctest.testmod(site_hook).failed == 0  # the converter's and the titles' examples


def test_claim_titles_read_as_words():
    site_hook = _load_hook_module("site")
    titles = {site_hook.claim_title(c) for c in REGISTRY.values()}
    assert all("_" not in t and t[0].isupper() or t.startswith("p-") for t in titles)
    assert site_hook.claim_title(types.SimpleNamespace(id="p_rope_keeps_highest_frequencies")) == \
        "p-RoPE keeps highest frequencies"


def test_errata_page_needs_the_errata_module(monkeypatch):
    from mkdocs.exceptions import PluginError

    site_hook = _load_hook_module("site")
    monkeypatch.setitem(sys.modules, "ropelab.checks.errata", None)  # an import of it now fails
    monkeypatch.setattr(site_hook, "ERRATA_MODULE", "ropelab.checks.errata_that_does_not_exist")
    with pytest.raises(PluginError, match="does not exist"):
        site_hook.errata_records()
    monkeypatch.setattr(site_hook, "ERRATA_MODULE", "ropelab.checks.errata")
    monkeypatch.delitem(sys.modules, "ropelab.checks.errata")
    from ropelab.checks.errata import ERRATA

    page = site_hook.errata_page()
    for record in ERRATA:  # every erratum, with what shows it
        assert f"## {record.id}. " in page
    assert "(claims/rope_head_can_be_previous_token.md)" in page  # each erratum links the claims that show it


def test_claims_are_verified_when_the_site_is_built(tmp_path, monkeypatch, caplog):
    """Without a named report the build runs the claims on the quick grids, dates the run and keeps
    it while the sources are unchanged; a failing claim is a warning (a strict build stops)."""
    site_hook = _load_hook_module("site")
    monkeypatch.delenv("ROPELAB_VERIFY_REPORT", raising=False)
    monkeypatch.setattr(site_hook, "VERIFY_CACHE", tmp_path / "verify")
    monkeypatch.setattr(site_hook, "source_fingerprint", lambda: "tree")
    monkeypatch.setattr(site_hook, "REGISTRY", {c: REGISTRY[c] for c in VERIFIED})
    caplog.set_level("INFO", logger="mkdocs.hooks.ropelab")
    report, source = site_hook.verify_report()
    assert source.run_at_build and report["quick"] and [c["id"] for c in report["claims"]] == list(VERIFIED)
    line = source.describe(report)
    assert re.fullmatch(r"a verify run made by the site build \(\d{4}-\d\d-\d\d \d\d:\d\d UTC; "
                        r"quick grids; Python [\d.]+, .*\)", line), line
    assert f"verified 2/2 {VERIFIED[1]}: pass" in caplog.text  # one progress line per claim
    calls = []
    monkeypatch.setattr(site_hook, "run_verify", lambda: calls.append(1))
    again, _ = site_hook.verify_report()
    assert again == report and not calls  # kept, not run again
    monkeypatch.setenv("ROPELAB_VERIFY_REPORT", str(tmp_path / "absent.json"))
    with pytest.raises(site_hook.PluginError, match="absent.json"):
        site_hook.verify_report()


def test_an_example_that_needs_an_extra_says_so(tmp_path):
    site_hook = _load_hook_module("site")
    path = tmp_path / "09_needs_the_model.py"
    path.write_text(EXAMPLE.replace("x = 3", "raise ModuleNotFoundError('no torch', name='torch')"))
    _, page = site_hook.example_page(path, with_output=True)
    assert "Output not shown" in page and "the models extra" in page and 'title="Output"' not in page


# --- what the reader sees: no raw SymPy, no maths where a name is meant, no unrendered markup ---------

SYMPY_INFINITY = re.compile(r"(?<![\w.'])oo(?![\w'])")
# Markdown that was not turned into HTML: bold or code markers, display maths, a link, a heading
UNRENDERED = re.compile(r"(?<![\w)])\*\*|\*\*(?![\w(])|`|\$\$|\]\(|^#{1,6} ", re.M)  # 2**53 is Python, not bold
NOT_PROSE = re.compile(r"<(pre|code|script|style|svg)\b.*?</\1>", re.S)


def _prose(page: str) -> str:
    """A page's visible text outside code, scripts and drawings."""
    return html.unescape(re.sub(r"<[^>]+>", "", NOT_PROSE.sub(" ", page)))


def rendering_problems(site: Path) -> list[str]:
    """Pages showing SymPy's ``oo``, maths inside a figure caption, or Markdown left unrendered."""
    problems = []
    for path in sorted(site.rglob("*.html")):
        page = path.read_text(encoding="utf-8")
        body = page.split('<article', 1)[-1].split('</article>', 1)[0]
        name = path.relative_to(site).as_posix()
        visible = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<(script|style|svg)\b.*?</\1>", " ", body, flags=re.S)))
        for m in SYMPY_INFINITY.finditer(visible):
            problems.append(f"{name}: SymPy's oo in {visible[max(0, m.start() - 40):m.end() + 20]!r}")
        for m in UNRENDERED.finditer(_prose(body)):
            text = _prose(body)
            problems.append(f"{name}: unrendered {m.group(0)!r} in {text[max(0, m.start() - 40):m.end() + 20]!r}")
        for paragraph in re.findall(r"<p>((?:(?!</?p[ >]).)*?)</p>", body, re.S):
            caption = paragraph.split("Redraw it:", 1)[0] if "Redraw it:" in paragraph else ""
            if "\\(" in caption or "arithmatex" in caption:
                problems.append(f"{name}: maths in the caption {html.unescape(caption)[:80]!r}")
    return problems


def test_built_pages_show_no_raw_sympy_maths_in_captions_or_markup(site):
    problems = rendering_problems(site)
    assert not problems, "\n".join(problems[:20])


def test_rendering_check_sees_each_fault(tmp_path):
    page = ('<html><article><p><em>Fig <span class="arithmatex">\\(3/13\\)</span> on Gemma</em> Redraw it: '
            '<code>ropelab figs x</code></p><p>as s -&gt; oo the weight is **one**</p></article></html>')
    (tmp_path / "page.html").write_text(page)
    problems = rendering_problems(tmp_path)
    assert any("oo" in p for p in problems) and any("'**'" in p for p in problems)
    assert any("maths in the caption" in p for p in problems)
    (tmp_path / "page.html").write_text('<html><article><p>a zoo; <code>`x` **y**</code></p></article></html>')
    assert not rendering_problems(tmp_path)
