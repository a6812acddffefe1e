"""MkDocs hook: generate the site's pages from the code, so that the docs cannot drift from it.

At every build this hook
- renders every figure of :data:`ropelab.paper_figs.FIGURES` and adds the PNGs to the site
  (the Gemma 3 270M figures from the committed figure data: no model is run);
- runs every claim on the quick grids (``ropelab verify --quick``) and writes one page per claim
  of :data:`ropelab.checks.registry.REGISTRY` (statement, corrected reading, symbolic steps, the
  status of that run with its date and versions, figures, worked instance, how to run it), an
  index of claims, a figure gallery and the errata page;
- writes the findings page from :func:`ropelab.catalogue.findings_sections` (the committed
  Gemma 3 270M and training results, with their figures; nothing is rerun);
- turns each ``examples/*.py`` (percent cells) into a page, with the script to download;
- writes one API page per module and lays out ``build/docs-api`` for the API extractor;
- copies MathJax from the ``django-static-mathjax`` wheel, so that maths renders offline;
- fills the home page's five story figures with whatever figures exist, and sets the nav;
- prints a line as each stage starts and as each figure, claim and example is done.

The verify run is kept in ``build/docs-verify`` while the package's sources are unchanged; the
environment variable ``ROPELAB_VERIFY_REPORT`` names a ``ropelab verify --json`` report to show
instead (no claim is run). ``ROPELAB_DOCS_DERIVATIONS=report`` takes the derivations from that
report only (no SymPy at build time), and ``ROPELAB_DOCS_EXAMPLE_OUTPUT=0`` leaves the examples'
output out (no example is run). Figures are kept in ``build/docs-figures`` between builds while
the package's sources are unchanged (``ROPELAB_DOCS_FIGURE_CACHE=0`` draws them afresh).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import importlib
import importlib.metadata
import importlib.resources
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jax
import jupytext
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

from ropelab.checks.atomic import write_text_atomically
from ropelab import catalogue
from ropelab.checks.registry import REGISTRY
from ropelab.extras import install_line, missing_extra
from ropelab.paper_figs import FIGURES

log = logging.getLogger("mkdocs.hooks.ropelab")

ROOT = Path(__file__).resolve().parents[2]
API_STAGE = ROOT / "build" / "docs-api"
FIGURE_CACHE = ROOT / "build" / "docs-figures"
VERIFY_CACHE = ROOT / "build" / "docs-verify"
EXAMPLES = ROOT / "examples"
# The MathJax files the site needs: the combined TeX->CHTML component, its fonts, and the
# TeX extensions it may autoload (anything else it would fetch from elsewhere).
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml", "input/tex/extensions", "ui", "a11y")
STORY_MARKER = re.compile(r"<!--\s*story-figure:\s*(\w+)\s*-->")

_state: dict = {}


def progress(message: str) -> None:
    """One line of build progress (mkdocs prints INFO lines): a stage starting, or one item done."""
    log.info("ropelab: %s", message)


# --- text helpers ------------------------------------------------------------------------

_ENTITIES = {"\\": "&#92;", "*": "&#42;", "_": "&#95;", "`": "&#96;", "[": "&#91;", "]": "&#93;",
             "|": "&#124;", "$": "&#36;", "#": "&#35;"}


SYMPY_INFINITY = re.compile(r"(?<![\w.'])oo(?![\w'])")


def infinity(s: str) -> str:
    """SymPy's ``oo`` written as the reader writes infinity.

    >>> infinity("lim_(s -> oo) f = 1; a zoo of moods")
    'lim_(s -> ∞) f = 1; a zoo of moods'
    """
    return SYMPY_INFINITY.sub("∞", s)


# `code` in plain text (the paper's pseudocode, a preset's name) stays code; a bar would end a table cell
CODE_SPAN = re.compile(r"`([^`|\n]+)`")


def _with_code_spans(s: str, prose) -> str:
    """``s`` with its backticked code kept as Markdown code and the rest through ``prose``."""
    out, last = [], 0
    for m in CODE_SPAN.finditer(s):
        out += [prose(s[last:m.start()]), m.group(0)]
        last = m.end()
    out.append(prose(s[last:]))
    return "".join(out)


def _inert(s: str) -> str:
    s = html.escape(infinity(s), quote=False)
    return "".join(_ENTITIES.get(ch, ch) for ch in s)


def text(s: str) -> str:
    """Plain text (with ASCII maths such as ``q^T R^(j-i) k``) made inert for Markdown; `code` stays code.

    >>> text("the `long` preset: *all* of it")
    'the `long` preset: &#42;all&#42; of it'
    """
    return _with_code_spans(s, _inert)


def code_block(body: str, lang: str = "text") -> str:
    fence = "````" if "```" in body else "```"
    return f"{fence}{lang}\n{body.rstrip()}\n{fence}\n"


def admonition(kind: str, title: str, body: str) -> str:
    indented = "\n".join("    " + line if line else "" for line in body.rstrip().split("\n"))
    return f'!!! {kind} "{title}"\n{indented}\n'


# --- plain-text maths to LaTeX -------------------------------------------------------------
#
# Claims state their maths in plain text (``rho(a)``, ``R^(j-i)``, ``alpha_ii``, ``|x|``,
# ``g_k``), which the terminal prints as it is. The site finds the mathematical runs of a
# sentence and typesets them; the English around them stays text.

GREEK = {"alpha": r"\alpha", "beta": r"\beta", "gamma": r"\gamma", "delta": r"\delta", "eps": r"\varepsilon",
         "epsilon": r"\varepsilon", "theta": r"\theta", "rho": r"\rho", "psi": r"\psi", "phi": r"\varphi",
         "pi": r"\pi", "sigma": r"\sigma", "mu": r"\mu", "lambda": r"\lambda", "omega": r"\omega",
         "Delta": r"\Delta", "inf": r"\infty", "oo": r"\infty"}
FUNCTIONS = {"cos": r"\cos", "sin": r"\sin", "exp": r"\exp", "ln": r"\ln", "log": r"\log", "max": r"\max",
             "min": r"\min", "sup": r"\sup", "lim": r"\lim", "sum": r"\sum", "mod": r"\bmod",
             "Var": r"\operatorname{Var}", "angle": r"\operatorname{angle}", "softmax": r"\operatorname{softmax}",
             "diag": r"\operatorname{diag}", "int": r"\operatorname{int}", "round": r"\operatorname{round}"}
MATH_WORDS = set(GREEK) | set(FUNCTIONS) | {"E", "I", "T", "Z"}
# names that are maths on their own (function names are maths only when called: "the sum of")
STANDALONE = set(GREEK) - {"inf"}
OPERATORS = {"=", "<", ">", "<=", ">=", "!=", "->", "+", "-", "*", "/", "~", "+-", "x", "in"}
_TOKEN = re.compile(r"\S+")
_WORD = re.compile(r"[A-Za-z]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?%?")


def _split(sentence: str) -> list[str]:
    """Words of ``sentence``, keeping a bracketed group with its spaces as one word."""
    words, current, depth = [], "", 0
    for ch in sentence:
        if ch == " " and depth == 0:
            if current:
                words.append(current)
            current = ""
            continue
        depth += (ch in "([{") - (ch in ")]}")
        depth = max(depth, 0)
        current += ch
    if current:
        words.append(current)
    return words


def _kind(word: str) -> str:
    """'strong' (certainly maths), 'weak' (maths only beside maths: numbers, operators) or 'text'."""
    if word == ".":  # a dot product between two vectors
        return "weak"
    core = word.strip(",;:.") if not word.endswith("..") else word
    if not core or core in ("a", "A") or core.startswith("--"):
        return "text"
    if core in {"=", "<", ">", "<=", ">=", "!=", "->", "~", "+-"}:
        return "strong"
    if core in OPERATORS:
        return "weak"
    if re.fullmatch(r"\d+(?:\.\d+)?[kKMB]", core):  # 128k tokens, Gemma 7B
        return "text"
    if re.fullmatch(r"-?\d+(?:\.\d+)?e-?\d+", core):
        return "strong"
    if _NUMBER.fullmatch(core):
        return "weak"
    if core[0] in "([{" and core[-1] in ")]}":
        inner_words = _split(core[1:-1].replace(",", " , "))
        if any(_kind(w) == "text" and w not in ",;" for w in inner_words):
            return "text"
        return "strong"
    if re.fullmatch(r"[A-Za-z]", core) or core in STANDALONE:
        return "strong"
    if core in MATH_WORDS:  # cos, sum, E: maths beside maths ("1 - cos n"), prose alone ("the sum of")
        return "weak"
    if re.fullmatch(r"[A-Za-z]{2,}(?:-[A-Za-z]{2,})+", core):  # log-log, all-ones
        return "text"
    if "`" in core or re.fullmatch(r"_\w+|\w+(?:_\w+){2,}", core):  # code: `x`, _MAX_WAVELENGTH, p_rope_frequency
        return "text"
    if re.search(r"[_^|=<>/]|\d[a-zA-Z(]|[a-zA-Z*]\(|\.\.|[A-Za-z]\*|[A-Za-z0-9][-+][A-Za-z0-9]", core):
        # names with a sub/superscript, bars, calls, fractions, ranges; not float32, log-log or p-RoPE
        pieces = [p for p in re.split(r"[^A-Za-z]+", re.sub(r"_[A-Za-z]+", "", core)) if p]
        if all(len(p) <= 2 or p in MATH_WORDS for p in pieces):
            return "strong"
    return "text"


def _braced(s: str, start: int) -> tuple[str, int]:
    """The bracketed group opening at ``s[start]`` (without the brackets) and the index after it."""
    depth = 0
    for i in range(start, len(s)):
        depth += (s[i] == "(") - (s[i] == ")")
        if depth == 0:
            return s[start + 1:i], i + 1
    return s[start + 1:], len(s)


def to_latex(expr: str) -> str:
    r"""One plain-text formula as LaTeX.

    >>> to_latex("q^T R^(j-i) k")
    'q^{\\top} R^{j-i} k'
    >>> to_latex("alpha_ii <= 1/c")
    '\\alpha_{ii} \\le 1/c'
    >>> to_latex("|R^i x| = |x|")
    '\\vert R^{i} x\\vert = \\vert x\\vert '
    """
    s = re.sub(r"([\^_])\{([^{}]*)\}", r"\1(\2)", expr)  # e^{ia}: a group, not a set
    s = s.replace("{", r"\{").replace("}", r"\}")

    def power_of_ten(m: re.Match) -> str:
        tex = ("" if m.group(1) == "1" else m.group(1) + r"\times ") + f"10^{{{m.group(2)}{m.group(3)}}}"
        return f"{{{tex}}}" if m.group(4) else tex  # 1e4^(...) must not stack two superscripts

    s = re.sub(r"(?<![A-Za-z\d.])(\d+(?:\.\d+)?)e(-?)0*(\d+)(?![A-Za-z])(?=(\^)?)", power_of_ten, s)
    s = re.sub(r"(?<=\d) x (?=\d)", r" \\times ", s)
    s = re.sub(r"([A-Za-z])\*(?=[(\s,;:.)]|$)", r"\1^{\\ast}", s)
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch in "^_":
            j = i + 1
            if j < len(s) and s[j] == "(":
                inner, i = _braced(s, j)
                out.append(f"{ch}{{{to_latex(inner)}}}")
                continue
            m = re.compile(r"-?[A-Za-z0-9]+").match(s, j)
            if m:
                body = m.group(0)
                if ch == "^" and body == "T":
                    body = r"\top"
                elif body in GREEK:
                    body = GREEK[body]
                elif ch == "_" and len(body) >= 3 and body.isalpha() and body not in GREEK:
                    body = rf"\text{{{body}}}"
                out.append(f"{ch}{{{body}}}")
                i = m.end()
                continue
        m = _WORD.match(s, i)
        if m and (i == 0 or not s[i - 1].isalpha() and s[i - 1] != "\\"):
            word = m.group(0)
            if word in GREEK:
                out.append(GREEK[word] + (" " if m.end() < len(s) and s[m.end()].isalpha() else ""))
            elif word == "E" and m.end() < len(s) and s[m.end()] == "[":
                out.append(r"\mathbb{E}")
            elif word == "in":
                out.append(r"\in ")
            elif word in FUNCTIONS:
                out.append(FUNCTIONS[word] + (" " if m.end() < len(s) and s[m.end()].isalnum() else ""))
            else:
                out.append(word)
            i = m.end()
            continue
        for plain, tex in (("<=", r"\le "), (">=", r"\ge "), ("!=", r"\ne "), ("->", r"\to "), ("+-", r"\pm "),
                           ("..", r"\ldots "), ("//", r"\mathbin{//}"), ("~", r"\sim "), ("*", r"\cdot "),
                           ("<", r"\lt "), (">", r"\gt "), ("|", r"\vert "), (" . ", r" \cdot "), ("%", r"\%")):
            if s.startswith(plain, i):
                out.append(tex)
                i += len(plain)
                break
        else:
            out.append(ch)
            i += 1
    return re.sub(r" +", " ", "".join(out)).replace(r"\vert  ", r"\vert ")


# Words that a number follows as a name, not as maths: "Fig 3/13", "Figs 6, 7, 14-18", "Prop 3.1".
NUMBERED = {"Fig", "Figs", "Figure", "Figures", "Table", "Tables", "Prop", "Props", "Sec", "Section", "Sections",
            "App", "Appendix", "Eq", "Eqs", "Thm", "Theorem", "Lemma", "Cor", "Corollary", "Def", "Definition"}
_REFERENCE_NUMBER = re.compile(r"\d+(?:\.\d+)*[a-z]?(?:[-/–]\d+(?:\.\d+)*[a-z]?)*|[A-Z]\.?\d*(?:\.\d+)*")


def _numbers_of_references(words: list[str], kinds: list[str]) -> None:
    """Mark the numbers after a figure, table or proposition word as text (in place).

    >>> words = "Figs 6, 7, 14-18 and Fig 3/13 show x = 3/13".split()
    >>> kinds = [_kind(w) for w in words]; _numbers_of_references(words, kinds)
    >>> [w for w, k in zip(words, kinds) if k != "text"]
    ['x', '=', '3/13']
    """
    listing = False
    for n, word in enumerate(words):
        core = word.strip(",;:.()")
        if listing and (_REFERENCE_NUMBER.fullmatch(core) or core == "and"):
            kinds[n] = "text"
            listing = word.endswith(",") or core == "and"
        else:
            listing = core in NUMBERED


def math_runs(sentence: str) -> list[tuple[bool, str]]:
    """``sentence`` cut into ``(is_maths, piece)``: runs of mathematical words holding at least
    one certain one (a run ends at a comma or semicolon), and the prose between them."""
    words = _split(sentence)
    kinds = [_kind(w) for w in words]
    _numbers_of_references(words, kinds)
    runs: list[list[int]] = []
    for n, kind in enumerate(kinds):
        joins = runs and runs[-1][-1] == n - 1 and (words[n - 1] == "." or
                                                   not words[n - 1].endswith((",", ";", ":", ".")))
        if kind != "text":
            if joins and kinds[runs[-1][-1]] != "text":
                runs[-1].append(n)
            else:
                runs.append([n])
        else:
            runs.append([n])
    pieces: list[tuple[bool, str]] = []
    for run in runs:
        edge = ("x", "in", "-", "+")
        while run and kinds[run[0]] != "text" and words[run[0]] in edge:
            pieces.append((False, words[run.pop(0)]))
        tail_words = []
        while run and kinds[run[-1]] != "text" and words[run[-1]].strip(",;:.") in edge:
            tail_words.insert(0, words[run.pop()])
        if not run:
            pieces.extend((False, w) for w in tail_words)
            continue
        if any(kinds[n] == "strong" for n in run):
            joined = " ".join(words[n] for n in run)
            core = joined.rstrip(",;:.") if not joined.endswith("..") else joined
            pieces.append((True, core))
            if core != joined:
                pieces.append((False, joined[len(core):]))
        else:
            pieces.extend((False, words[n]) for n in run)
        pieces.extend((False, w) for w in tail_words)
    return pieces


def maths_markdown(sentence: str, escape) -> str:
    r"""``sentence`` as Markdown: its formulas as inline MathJax ``\( \)``, its prose through ``escape``.

    A bracketed aside in prose, "(equal norms; pi/(2g) anti-aligned)", is read the same way inside.
    """
    out = []
    for is_maths, piece in math_runs(sentence):
        aside = re.fullmatch(r"([(\[])(.+)([)\]])([,;:.]*)", piece, re.S)
        if is_maths:
            out.append(rf"\({to_latex(piece)}\)")
        elif aside and " " in aside.group(2):
            out.append(escape(aside.group(1)) + maths_markdown(aside.group(2), escape) + escape(aside.group(3) + aside.group(4)))
        else:
            out.append(escape(piece))
    joined = " ".join(out)
    return re.sub(r" (?=[,;:.](?:\s|$))", "", joined)


def maths(s: str) -> str:
    """Claim text as Markdown with its formulas typeset (see :func:`maths_markdown`); `code` stays code.

    >>> maths("The paper: `inputs # [B, L]` with q = 2")
    'The paper: `inputs # [B, L]` with \\\\(q = 2\\\\)'
    """
    def prose(piece: str) -> str:
        if not piece.strip():
            return piece
        lead = " " if piece[0].isspace() else ""
        trail = " " if piece[-1].isspace() else ""
        return lead + maths_markdown(piece.strip(), text) + trail

    return _with_code_spans(s, prose)


# --- staging for the API extractor --------------------------------------------------------

def _stage_api_sources() -> None:
    """Lay out ``build/docs-api/ropelab`` so that ``ropelab.theory`` is ``theory/`` etc.

    The distribution maps folders at the repository root to sub-packages of ``ropelab``
    (``[tool.setuptools.package-dir]``), which a static reader of the source tree cannot see.
    """
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    stage = API_STAGE / "ropelab"
    if stage.exists():
        shutil.rmtree(API_STAGE)
    stage.mkdir(parents=True)
    for entry in (ROOT / mapping["ropelab"]).iterdir():
        if entry.name != "__pycache__":
            (stage / entry.name).symlink_to(entry)
    for package, folder in mapping.items():
        parts = package.split(".")
        if len(parts) == 2:  # nested ones (ropelab.checks.claims) come with their parent folder
            (stage / parts[1]).symlink_to(ROOT / folder, target_is_directory=True)


def api_modules() -> list[str]:
    """Every public module of the package, dotted, in a stable order (claim modules excluded:
    each claim has its own page)."""
    names = []
    for dirpath, dirnames, filenames in os.walk(API_STAGE, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(("_", ".")))
        rel = Path(dirpath).relative_to(API_STAGE)
        for f in sorted(filenames):
            if not f.endswith(".py") or (f.startswith("_") and f != "__init__.py"):
                continue
            parts = [*rel.parts] + ([] if f == "__init__.py" else [f[:-3]])
            names.append(".".join(parts))
    return sorted(n for n in names if not n.startswith("ropelab.checks.claims"))


# --- hook events -------------------------------------------------------------------------

@event_priority(100)  # before mkdocstrings reads its search paths
def on_config(config):
    # The build runs claims' worked instances and draws figures: float64, as in the CLI.
    jax.config.update("jax_enable_x64", True)
    _stage_api_sources()
    return config


def on_files(files: Files, config) -> Files:
    started = time.perf_counter()
    progress(f"figures: {len(FIGURES)} to draw or reuse")
    figure_pngs = _add_figures(files, config, drawn_figures())
    _add_mathjax(files, config)
    report, source = verify_report()
    # Derivations recorded in the verify report are reused; the others are run here unless
    # ROPELAB_DOCS_DERIVATIONS=report (the test suite's setting: its contract test runs them).
    run_symbolic = os.environ.get("ROPELAB_DOCS_DERIVATIONS", "run") != "report"
    progress(f"claim pages: {len(REGISTRY)} claims" + (" (running the derivations not in the report)" if run_symbolic else ""))
    sheets = catalogue.sheets(REGISTRY.values(), report, run_symbolic)
    pages: dict[str, str] = {}
    pages["claims/index.md"] = claims_index(sheets, report, source)
    for s in sheets:
        pages[f"claims/{s.claim.id}.md"] = claim_page(s, figure_pngs, source, report)
    pages["figures.md"] = figures_page(figure_pngs)
    pages["errata.md"] = errata_page()
    progress("findings page: the committed results")
    findings = catalogue.findings_sections()
    _add_finding_figures(files, config, findings)
    pages["findings.md"] = findings_page(findings)
    pages["model-families.md"] = model_families_page()
    examples = example_pages(files, config)
    pages.update(examples)
    modules = api_modules()
    packages = api_packages(modules)
    progress(f"API pages: {len(modules)} modules in {len(packages)} pages")
    pages["api/index.md"] = api_index(packages)
    for package, members in packages.items():
        pages[f"api/{package}.md"] = api_page(package, members)
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    _state["figure_pngs"] = figure_pngs
    _state["rendering"] = {}
    config["nav"] = navigation(sheets, examples, modules)
    progress(f"pages generated in {time.perf_counter() - started:.0f} s; rendering them (the API pages take longest)")
    return files


def page_group(src_uri: str) -> str:
    """The group a page belongs to in the progress lines: its folder, or "top-level".

    >>> page_group("claims/rope_preserves_norm.md"), page_group("index.md")
    ('claims', 'top-level')
    """
    return src_uri.split("/", 1)[0] if "/" in src_uri else "top-level"


def on_pre_page(page, config, files):
    """A progress line as the first page of each group (claims, examples, API, ...) is rendered."""
    seen = _state.setdefault("rendering", {})
    group = page_group(page.file.src_uri)
    if group not in seen:
        total = sum(1 for f in files.documentation_pages() if page_group(f.src_uri) == group)
        seen[group] = time.perf_counter()
        progress(f"rendering the {group} pages ({total})")
    return page


# --- the verify run shown on the claim pages ----------------------------------------------------

@dataclass(frozen=True)
class ReportSource:
    """Where the claim pages' statuses come from, in words for the pages."""

    run_at_build: bool
    path: Path

    def describe(self, report: dict) -> str:
        """One line: which run, when, on which grids, with which versions."""
        mode = "quick grids" if report.get("quick") else "full grids"
        when = report.get("date", "date not recorded")
        versions = ", ".join(f"{k} {v}" for k, v in report.get("versions", {}).items())
        python = f"Python {report['python']}, " if report.get("python") else ""
        what = ("a verify run made by the site build" if self.run_at_build
                else f"the verify report {self.path.name}")
        return f"{what} ({when}; {mode}; {python}{versions})"


def verify_report() -> tuple[dict, ReportSource]:
    """The verify report the claim pages show, and where it comes from.

    ``ROPELAB_VERIFY_REPORT`` names a ``ropelab verify --json`` report (it must exist). Otherwise
    every claim runs now on the quick grids (``ropelab verify --quick``), reused from
    ``build/docs-verify/<fingerprint>.json`` while the package's sources are unchanged.
    """
    named = os.environ.get("ROPELAB_VERIFY_REPORT")
    if named:
        path = Path(named)
        report = catalogue.load_verify_report(path)
        if report is None:
            raise PluginError(f"ROPELAB_VERIFY_REPORT names {path}, which does not exist; "
                              "unset it to run the claims when the site is built")
        report.setdefault("date", datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
        progress(f"claim statuses: from {path}")
        return report, ReportSource(False, path)
    path = VERIFY_CACHE / f"{source_fingerprint()}.json"
    report = catalogue.load_verify_report(path)
    if report is not None:
        progress(f"claim statuses: the quick verify run of {report.get('date', '?')} (sources unchanged)")
        return report, ReportSource(True, path)
    report = run_verify()
    VERIFY_CACHE.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(report, indent=1) + "\n")
    for stale in VERIFY_CACHE.iterdir():  # runs of older source trees
        if stale != path and time.time() - stale.stat().st_mtime > 600:
            stale.unlink(missing_ok=True)
    return report, ReportSource(True, path)


def run_verify() -> dict:
    """Every registered claim on the quick grids, as ``ropelab verify --quick --json`` reports it, dated."""
    from ropelab.checks import runner

    claims = list(REGISTRY.values())
    jobs = max(1, min(os.cpu_count() or 1, len(claims) // 8))
    progress(f"claim statuses: running {len(claims)} claims on the quick grids ({jobs} process(es))")
    done = []
    started = time.perf_counter()

    def finished(result) -> None:
        done.append(result)
        progress(f"verified {len(done)}/{len(claims)} {result.id}: {result.status} ({result.seconds:.1f} s)")

    results = runner.run_claims(claims, quick=True, on_result=finished, jobs=jobs)
    report = runner.report(results, quick=True)
    report["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    failed = [r.id for r in results if r.status != "pass"]
    progress(f"claim statuses: {len(results) - len(failed)}/{len(results)} pass "
             f"({time.perf_counter() - started:.0f} s)")
    for claim_id in failed:  # shown on its page; a strict build stops here
        log.warning("claim %s does not pass the quick verify run", claim_id)
    return report


NAV_TITLE = re.compile(r'(<span class="md-ellipsis">)(.*?)(</span>)', re.S)
INLINE_MATHS = re.compile(r"\\\((.+?)\\\)")


def on_post_page(output: str, page, config) -> str:
    """Typeset the formulas of headings in the tables of contents too (the theme copies them as text)."""
    return NAV_TITLE.sub(lambda m: m.group(1) + INLINE_MATHS.sub(
        lambda f: f'<span class="arithmatex">{f.group(0)}</span>', m.group(2)) + m.group(3), output)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != "index.md":
        return markdown
    chosen = choose_story_figures(_state["figure_pngs"])
    return STORY_MARKER.sub(lambda m: story_figure(m.group(1), chosen), markdown)


# --- figures -------------------------------------------------------------------------------

def source_fingerprint() -> str:
    """A hash of every source and data file of the package, of Python's version and of every
    installed distribution's version: the figures are pure functions of these, so figures
    drawn under one fingerprint can be reused under the same one."""
    digest = hashlib.sha256(sys.version.encode())
    installed = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    digest.update("\n".join(installed).encode())
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for folder in sorted(set(mapping.values())):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
                digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def drawn_figures() -> dict[str, list[Path]]:
    """Every figure's PNGs, drawn now or reused from ``build/docs-figures/<fingerprint>``.

    Rebuilding the site (``mkdocs serve`` after an edit of the text) then costs no figure
    drawing unless the package changed. ``ROPELAB_DOCS_FIGURE_CACHE=0`` always draws afresh
    into a temporary folder.
    """
    if os.environ.get("ROPELAB_DOCS_FIGURE_CACHE", "1") == "0":
        scratch = Path(tempfile.mkdtemp(prefix="ropelab-docs-figs-"))
        _state.setdefault("scratch", []).append(scratch)
        return draw_each(scratch)
    cache = FIGURE_CACHE / source_fingerprint()
    manifest = cache / "manifest.json"
    if not manifest.is_file() or set(json.loads(manifest.read_text())) != set(FIGURES):
        # draw into a private folder, then move it into place whole: a build running at the
        # same time never reads a half-drawn cache
        FIGURE_CACHE.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"{cache.name}.", dir=FIGURE_CACHE))
        drawn = draw_each(scratch)
        write_text_atomically(scratch / "manifest.json",
                              json.dumps({n: [p.name for p in ps] for n, ps in drawn.items()}))
        if cache.exists():
            shutil.rmtree(cache)
        os.replace(scratch, cache)
    else:
        progress(f"figures: all {len(FIGURES)} reused from {cache} (sources unchanged)")
    for stale in FIGURE_CACHE.iterdir():  # figures of older source trees, left alone for 10 min
        if stale != cache and time.time() - stale.stat().st_mtime > 600:
            shutil.rmtree(stale, ignore_errors=True)
    listed = json.loads(manifest.read_text())
    return {name: [cache / f for f in files] for name, files in listed.items()}


def draw_each(out_dir: Path) -> dict[str, list[Path]]:
    """Draw every figure into ``out_dir``, one progress line each; the PNGs per figure."""
    drawn = {}
    for n, name in enumerate(FIGURES, 1):
        started = time.perf_counter()
        drawn[name] = catalogue.pngs_of(catalogue.render_figures(out_dir, [name])[name])
        progress(f"figure {n}/{len(FIGURES)} {name} ({time.perf_counter() - started:.1f} s)")
    return drawn


def on_post_build(config) -> None:
    for scratch in _state.pop("scratch", []):
        shutil.rmtree(scratch, ignore_errors=True)


def _add_figures(files: Files, config, drawn: dict[str, list[Path]]) -> dict[str, list[str]]:
    """Add each figure's PNGs under ``figures/``; return the site paths per figure."""
    pngs: dict[str, list[str]] = {}
    for name, paths in drawn.items():
        pngs[name] = []
        for png in paths:
            uri = f"figures/{png.name}"
            files.append(File.generated(config, uri, content=png.read_bytes()))
            pngs[name].append(uri)
    return pngs


def figure_title(name: str) -> str:
    """``frequency_spectra`` -> "Frequency spectra" (the gallery's headings)."""
    words = name.replace("fig", "Figure ").replace("_", " ").split()
    return " ".join(words)[0].upper() + " ".join(words)[1:]


def figure_markdown(name: str, uris: list[str], page_depth: int) -> str:
    prefix = "../" * page_depth
    caption = text(catalogue.figure_caption(name))  # plain text: "Fig 3/13" is a name, not a fraction
    images = "\n\n".join(f"![{text(figure_title(name))}]({prefix}{uri})" for uri in uris)
    return f"{images}\n\n*{caption}* Redraw it: `ropelab figs {name} --out figs`.\n"


def figures_page(figure_pngs: dict[str, list[str]]) -> str:
    users: dict[str, list[str]] = {}
    for claim in REGISTRY.values():
        for name in claim.figures:
            users.setdefault(name, []).append(claim.id)
    out = ["# Figures\n",
           "Every figure is drawn by one module of `ropelab.paper_figs` when the site is built. "
           "Regenerate all of them as PNG and PDF with `ropelab figs --out figs`.\n"]
    out.append(f"*{PAIR_CONVENTION}*\n")
    for name, uris in figure_pngs.items():
        out.append(f"## {text(figure_title(name))}\n")
        out.append(f"`{name}`\n")
        out.append(figure_markdown(name, uris, 0))
        if name in users:
            out.append("Claims behind it: " + ", ".join(_claim_ref(c) for c in users[name]) + ".\n")
    return "\n".join(out)


@dataclass(frozen=True)
class StoryStep:
    """One of the home page's five figures: which claims and sections may illustrate it."""

    key: str
    names: tuple[str, ...]        # figure names that fit best, in order of preference
    keywords: tuple[str, ...]     # any figure whose name contains one of these fits
    claims: tuple[str, ...]       # figures of these claims fit
    section_prefix: str           # figures of any claim in this section fit


STORY = (
    StoryStep("decay", ("fig2_decay", "decay"), ("decay",),
              ("all_ones_logit_decays", "fixed_gaussian_logit_does_not_decay"), "§3"),
    StoryStep("usage", ("gemma_layer_norms", "gemma_head_norms"), ("gemma", "usage"), (), "§4"),
    StoryStep("positional", ("positional_heads", "positional_construction"), ("diagonal", "previous", "head", "band"),
              ("rope_head_can_be_diagonal", "rope_head_can_be_previous_token",
               "top_frequency_band_makes_sharp_head_cheaply"), "§5"),
    StoryStep("semantic", ("semantic_range", "semantic_breaking_context"), ("semantic", "breaking"),
              ("semantic_channel_breaks_at_long_context", "semantic_range_scales_inverse_frequency"), "§6"),
    StoryStep("p_rope", ("frequency_spectra",), ("spectra", "p_rope", "table"),
              ("p_rope_keeps_highest_frequencies", "p_rope_is_positional_and_semantic"), "§6"),
)


def choose_story_figures(figure_pngs: dict[str, list[str]]) -> dict[str, str]:
    """The figure for each story step: the best fit among the figures that exist, each used once."""
    chosen: dict[str, str] = {}
    for step in STORY:
        candidates = list(step.names)
        candidates += [n for n in figure_pngs if any(k in n for k in step.keywords)]
        candidates += [f for c in step.claims if c in REGISTRY for f in REGISTRY[c].figures]
        candidates += [f for c in REGISTRY.values() if c.section.startswith(step.section_prefix) for f in c.figures]
        for name in candidates:
            if figure_pngs.get(name) and name not in chosen.values():
                chosen[step.key] = name
                break
    return chosen


def story_figure(key: str, chosen: dict[str, str]) -> str:
    """The figure chosen for a story step (if any) and links to the registered claims behind it."""
    steps = {s.key: s for s in STORY}
    if key not in steps:
        raise ValueError(f"story-figure marker must be one of {sorted(steps)}, got {key!r}")
    out = []
    if key in chosen:
        name = chosen[key]
        out.append(figure_markdown(name, _state["figure_pngs"][name][:1], 0))
    else:
        out.append("*No figure draws this step yet.*\n")
    claims = [c for c in steps[key].claims if c in REGISTRY]
    if claims:
        out.append("Checked by: " + ", ".join(_claim_ref(c) for c in claims) + ".\n")
    return "\n".join(out)


# --- MathJax -------------------------------------------------------------------------------

def _add_mathjax(files: Files, config) -> None:
    es5 = Path(str(importlib.resources.files("mathjax"))) / "static" / "mathjax" / "es5"
    for part in MATHJAX_PARTS:
        source = es5 / part
        paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for path in paths:
            uri = "assets/mathjax/" + path.relative_to(es5).as_posix()
            files.append(File.generated(config, uri, abs_src_path=str(path)))


# --- claims --------------------------------------------------------------------------------

STATUS_KIND = {"pass": "success", "fail": "failure"}
PAIR_CONVENTION = ("Pair indices: \\(k = 1, \\ldots, d/2\\) in formulas (\\(g_1 = 1\\) the highest "
                   "frequency), \\(m = k - 1 = 0, \\ldots, d/2 - 1\\) in the code, the figures and the "
                   "command line.")
# words of claim ids that read better spelled as the paper spells them
TITLE_WORDS = {"rope": "RoPE", "nope": "NoPE", "p": "p-", "gaussian": "Gaussian", "bos": "BOS",
               "float32": "float32", "abel": "Abel"}


def claim_title(claim) -> str:
    """A readable title from a claim's id: ``p_rope_keeps_highest_frequencies`` -> "p-RoPE keeps highest frequencies".

    >>> from types import SimpleNamespace
    >>> claim_title(SimpleNamespace(id="rope_head_can_be_diagonal"))
    'RoPE head can be diagonal'
    """
    words = [TITLE_WORDS.get(w, w) for w in claim.id.split("_")]
    title = " ".join(words).replace("p- ", "p-")
    return title[0].upper() + title[1:] if title[0].islower() and not title.startswith("p-") else title


def sides_table(claim) -> str:
    """Each side of ``claim`` (symbolic, numeric, certificate) with its trust, scope and citations."""
    rows = ["| side | shown | over what | hypotheses | cites |", "|---|---|---|---|---|"]
    for side, shown in claim.sides().items():
        cites = ", ".join(text(c) for c in shown.cites) or "nothing"
        hypotheses = "; ".join(maths(h) for h in shown.hypotheses) or "none beyond the scope"
        rows.append(f"| {side} | **{text(shown.trust.value)}** | {maths(shown.scope)} | {hypotheses} | {cites} |")
    return "\n".join(rows) + "\n"


def parts_table(claim) -> str:
    """Each part of ``claim``'s statement with the side that shows it and how strongly; the claim prints the weakest."""
    from ropelab.checks.claim import declared_part

    rows = [f"Shown as strongly as its weakest part: **{text(claim.printed().trust.value)}**.\n",
            "| part of the statement | shown | by |", "|---|---|---|"]
    for part in claim.statement_parts():
        side, shown, certifiable = declared_part(claim, part)
        by = side + (" (certified with `--certify`)" if certifiable else "")
        rows.append(f"| {maths(part.text)} | **{text(shown.trust.value)}** | {by} |")
    return "\n".join(rows) + "\n"


def claim_page(s: catalogue.ClaimSheet, figure_pngs: dict[str, list[str]], source: ReportSource,
               report: dict) -> str:
    c = s.claim
    out = [f"# {text(claim_title(c))}\n",
           f"`{c.id}` · **Paper:** {text(c.label)} · **Section:** {text(c.section)}\n"]
    if s.verified is None:
        out.append(admonition("info", "Status: not in this site's verify run",
                              f"The claim statuses come from {text(source.describe(report))}, which does not "
                              f"run this claim. Run it: `ropelab verify {c.id}`."))
    else:
        kind = STATUS_KIND.get(s.verified["status"], "warning")
        out.append(admonition(kind, f"Status: {s.verified['status']}",
                              text(catalogue.status_line(s.verified)) + "\n\n"
                              + f"From {text(source.describe(report))}."))
    out.append("## Statement\n")
    out.append(maths(c.statement) + "\n")
    if c.corrected:
        out.append(admonition("warning", "Corrected reading", maths(c.corrected)))
    out.append("## How strongly it is shown\n")
    out.append(parts_table(c))
    out.append(sides_table(c))
    out.append("## Symbolic side\n")
    if s.derivation is not None:
        verdict = "holds" if s.derivation.holds else "does NOT hold"
        out.append(f"{maths(s.derivation.statement)} (SymPy: **{verdict}**)\n")
        out.extend(f"{n}. {maths(step)}" for n, step in enumerate(s.derivation.steps, 1))
        out.append("")
    elif c.symbolic is None:
        out.append(f"None; only the numeric side applies: {maths(c.symbolic_reason)}\n")
    else:
        out.append(f"Not run for this build of the site: `ropelab explain {c.id}` prints the derivation.\n")
    out.append("## Worked instance\n")
    out.append(code_block(infinity(s.explanation or "(no worked instance: see the problems below)")))
    for name in c.figures:
        if name not in figure_pngs:
            log.warning("claim %s names figure %r, which is not in ropelab.paper_figs", c.id, name)
            continue
        out.append(f"## Figure: {name}\n")
        out.append(figure_markdown(name, figure_pngs[name], 1))
    examples = examples_mentioning(c.id)
    if examples:
        out.append("## Worked examples\n")
        out.extend(f"- [{text(example_title(jupytext.read(p), p.stem))}](../examples/{p.stem}.md)" for p in examples)
        out.append("")
    out.append("## Negative control\n")
    out.append(maths(c.wrong.description) + "\n")
    out.append("## Tolerance\n")
    out.append(maths(c.tolerance_reason) + "\n")
    for problem in s.problems:
        log.warning("claim %s: %s", c.id, problem.splitlines()[0])
        out.append(admonition("failure", "Problem", code_block(problem)))
    out.append("## Run it\n")
    out.append(code_block(f"ropelab verify {c.id}          # symbolic side, numeric side, negative control\n"
                          f"ropelab explain {c.id}         # this page's worked instance"
                          + "".join(f"\nropelab figs {f} --out figs" for f in c.figures), "bash"))
    out.append(f"*{PAIR_CONVENTION}*\n")
    return "\n".join(out)


def claims_index(sheets: list[catalogue.ClaimSheet], report: dict, source: ReportSource) -> str:
    out = ["# Claims\n",
           "Each claim is one statement of the paper (or a result beyond it) with a SymPy derivation "
           "or a stated reason for having none, an independently written numeric check, a derived "
           "tolerance and a negative control that the same check must reject. Each side says how "
           "strongly it is shown: proved > proved (finite) > certified > checked > estimated > "
           "measured; a claim shows the weakest part of its statement. `ropelab list` prints this table; `ropelab verify` runs it.\n",
           f"*{PAIR_CONVENTION}*\n",
           f"Statuses from {text(source.describe(report))}.\n"]
    for section, claims in catalogue.by_section(s.claim for s in sheets).items():
        out.append(f"## {text(section)}\n")
        out.append("| claim | paper | shown | status | statement |\n|---|---|---|---|---|")
        for s in sheets:
            if s.claim in claims:
                status = s.verified["status"] if s.verified else "not in this run"
                out.append(f"| [{text(claim_title(s.claim))}]({s.claim.id}.md) | {text(s.claim.label)} "
                           f"| {text(s.claim.printed().trust.value)} | {status} | {maths(s.claim.statement)} |")
        out.append("")
    return "\n".join(out)


# --- errata --------------------------------------------------------------------------------

ERRATA_MODULE = "ropelab.checks.errata"


def errata_records() -> list:
    """The paper's errata as the package records them (:data:`ropelab.checks.errata.ERRATA`).

    The site lists them and nothing else, so that the page cannot drift from what
    ``ropelab errata`` prints; without that module the build stops with a plain message.
    """
    try:
        module = importlib.import_module(ERRATA_MODULE)
    except ModuleNotFoundError as err:
        if err.name != ERRATA_MODULE:
            raise
        raise PluginError(f"the errata page lists {ERRATA_MODULE}.ERRATA, and {ERRATA_MODULE} does not exist: "
                          "add it (records with id, where, paper_text, corrected, shown_by_lines())") from None
    records = list(getattr(module, "ERRATA", ()))
    if not records:
        raise PluginError(f"{ERRATA_MODULE}.ERRATA is empty: the errata page would list nothing")
    return records


def _shown_by(record) -> list[str]:
    """What shows an erratum, one item a line (:meth:`ropelab.checks.errata.Erratum.shown_by_lines`)."""
    return list(record.shown_by_lines())


def errata_page() -> str:
    out = ["# Errata\n",
           "Where the paper's text and its mathematics disagree, ropelab checks the corrected "
           "statement and, where it can, the printed one too. `ropelab errata` prints the same list.\n"]
    for record in errata_records():
        out.append(f"## {text(record.id)}. {text(record.where)}\n")
        out.append(f"**The paper:** {maths(record.paper_text)}\n")
        out.append(f"**Corrected:** {maths(record.corrected)}\n")
        shown = _shown_by(record)
        refs = [_claim_ref(c) if c in REGISTRY else f"`{text(c)}`" for c in shown]
        out.append(("Shown by: " + ", ".join(refs) + ".") if refs else "Not yet shown by a check.")
        out.append("")
    corrected = [c for c in REGISTRY.values() if c.corrected]
    if corrected:
        out.append("## Corrected readings in the registry\n")
        out.append("| claim | paper | what was corrected |\n|---|---|---|")
        out.extend(f"| {_claim_ref(c.id)} | {text(c.label)} | {maths(c.corrected)} |" for c in corrected)
        out.append("")
    return "\n".join(out)


# --- measured findings -----------------------------------------------------------------------

def finding_figure_uri(png: Path) -> str:
    """Where a committed result figure lies on the site: ``findings/<result folder>/<name>.png``."""
    return f"findings/{png.parent.name}/{png.name}"


def _add_finding_figures(files: Files, config, sections) -> None:
    """Add every committed figure the findings show (once each)."""
    pngs = {r.figure for section in sections for r in section.records if r.figure}
    for png in sorted(pngs):
        files.append(File.generated(config, finding_figure_uri(png), content=png.read_bytes()))


def model_families_page() -> str:
    """The Section 4 / App C / App E findings side by side across model families, from the committed results."""
    from ropelab.checks.findings import model_comparison

    comparison = model_comparison.committed_comparison()
    header, rows = model_comparison.table_rows(comparison)
    models = "; ".join(f"{m['name']} ({m['family']} family, `{m['folder']}`)" for m in comparison["models"])
    out = ["# Across model families\n",
           "Each of the paper's Section 4, App C and App E findings as the paper reports it for Gemma 7B, beside the "
           f"committed analyses of {text(models)}, each with its outcome, statistic and uncertainty, and one sentence on "
           "whether it holds across the families read. Measurements, not proofs; compare patterns, not layer or head "
           "numbers. A \"substitute\" cell measures the closest reading a model allows (App C on a model with one "
           "base in every layer).\n",
           "Command: `ropelab analyze-model --compare " + " ".join(m["folder"] for m in comparison["models"]) + "`\n",
           "| " + " | ".join(text(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(text(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def findings_page(sections) -> str:
    """Every measured finding (:func:`ropelab.catalogue.findings_sections`): the paper's statement and
    number, ropelab's, the statistic, the outcome and the figure; the committed results, nothing rerun."""
    out = ["# Findings\n",
           "What the paper observed on trained models, measured here on the results committed with the package: "
           "Gemma 3 270M (Sec 4-6, App C, Tables 3-5) and three small training experiments. These are "
           "measurements, not proofs; a finding that does not hold on these models is a result, reported as "
           "plainly as one that holds. \"No decision rule\" marks a comparison that states its numbers without "
           "a rule deciding it.\n",
           "| experiment | findings | outcomes |\n|---|---|---|"]
    for section in sections:
        outcomes = [r.outcome for r in section.records]
        counts = ", ".join(f"{outcomes.count(o)} {o}" for o in dict.fromkeys(outcomes))
        out.append(f"| {text(section.title)} | {len(outcomes)} | {text(counts)} |")
    out.append("")
    columns = (("statement", "statement"), ("paper", "the paper"), ("ours", "ropelab"),
               ("statistic", "statistic and rule"), ("outcome", "outcome"))
    for section in sections:
        out.append(f"## {text(section.title)}\n")
        out.append(f"{text(section.about)}\n")
        out.append(f"Command: `{section.command}`\n")
        shown = [(field, title) for field, title in columns
                 if any(getattr(r, field) is not None for r in section.records)]
        out.append("| " + " | ".join(["where"] + [title for _, title in shown]) + " |")
        out.append("|" + "---|" * (len(shown) + 1))
        for r in section.records:
            cells = [r.section] + [getattr(r, field) or "-" for field, _ in shown]
            out.append("| " + " | ".join(text(c) for c in cells) + " |")
        out.append("")
        figures = list(dict.fromkeys(r.figure for r in section.records if r.figure))
        for png in figures:
            users = ", ".join(dict.fromkeys(r.section for r in section.records if r.figure == png))
            out.append(f"![{text(png.stem)}]({finding_figure_uri(png)})\n")
            out.append(f"*{text(png.name)}: {text(users)}.*\n")
    return "\n".join(out)


def _claim_ref(claim_id: str) -> str:
    return f"[{text(claim_title(REGISTRY[claim_id]))}](claims/{claim_id}.md)" if claim_id in REGISTRY \
        else f"`{text(claim_id)}`"


# --- examples --------------------------------------------------------------------------------

def example_title(notebook, fallback: str) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


class NeedsExtra(Exception):
    """An example needs an optional extra that is not installed (its output is left out, and said so)."""

    def __init__(self, package: str, extra: str):
        super().__init__(f"needs {package} (the {extra} extra)")
        self.package, self.extra = package, extra


def run_cells(notebook, path: Path) -> list[str]:
    """Run an example's code cells in order in one namespace; the printed output of each.

    Runs in the examples folder with ``__name__ == "__main__"``, as ``python examples/X.py``
    would. A cell that raises is logged as a warning (a strict build fails) and stops the run;
    a cell that needs an optional extra that is not installed raises :class:`NeedsExtra`.
    """
    namespace = {"__name__": "__main__", "__file__": str(path)}
    outputs: list[str] = []
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            buffer = io.StringIO()
            try:
                with contextlib.redirect_stdout(buffer):
                    exec(compile(cell.source, str(path), "exec"), namespace)
            except ImportError as err:
                needs = missing_extra(err)
                if needs is None:
                    log.warning("example %s raised:\n%s", path.name, traceback.format_exc())
                    outputs.append(buffer.getvalue())
                    break
                raise NeedsExtra(*needs) from err
            except Exception:  # reported, and the build fails under --strict
                log.warning("example %s raised:\n%s", path.name, traceback.format_exc())
                outputs.append(buffer.getvalue())
                break
            outputs.append(buffer.getvalue())
    finally:
        os.chdir(cwd)
    return outputs


EXPLAIN_MENTION = re.compile(r"`ropelab explain (\w+)`")


def link_claims(markdown: str) -> str:
    """Turn each `` `ropelab explain ID` `` of a registered claim into a link to its page."""
    return EXPLAIN_MENTION.sub(
        lambda m: f"[{m.group(0)}](../claims/{m.group(1)}.md)" if m.group(1) in REGISTRY else m.group(0), markdown)


def examples_mentioning(claim_id: str) -> list[Path]:
    """The worked examples whose text points at ``claim_id`` (``ropelab explain ID``)."""
    return [p for p in sorted(EXAMPLES.glob("[0-9]*.py")) if f"ropelab explain {claim_id}`" in p.read_text()]


def example_page(path: Path, with_output: bool) -> tuple[str, str]:
    """``(title, markdown)`` of one example: its text cells, code cells and (optionally) output."""
    notebook = jupytext.read(path)
    title = example_title(notebook, path.stem)
    missing = None
    try:
        outputs = iter(run_cells(notebook, path) if with_output else [])
    except NeedsExtra as err:
        missing, outputs = err, iter([])
    run_line = (f"*Run it:* `python examples/{path.name}` · [download the script]({path.name}) · "
                f"open as a notebook: `jupytext --to notebook examples/{path.name}`\n")
    if missing is not None:
        run_line += "\n" + admonition("note", "Output not shown", text(
            f"This example runs the model, which needs {missing.package} (the {missing.extra} extra), not installed "
            f"where this site was built; run it after {install_line([missing.extra])}.")) + "\n"
    body: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            body.append(link_claims(cell.source) + "\n")
            if len(body) == 1:
                body.append(run_line)
                body.append(f"*{PAIR_CONVENTION}*\n")
        elif cell.source.strip():
            body.append(code_block(cell.source, "python"))
            printed = next(outputs, "")
            if printed.strip():
                fence = "````" if "```" in printed else "```"
                body.append(f'{fence}text title="Output"\n{printed.rstrip()}\n{fence}\n')
    if not body or not body[0].startswith("# "):
        body.insert(0, f"# {title}\n")
    return title, "\n".join(body)


EXAMPLE_NEEDS = re.compile(r"^\*Needs:\*(.*?)(?:\n\s*\n|\Z)", re.S | re.M)  # an example's prerequisites


def example_pages(files: Files, config) -> dict[str, str]:
    """One page per ``examples/*.py``, with each cell's output; the script is served beside it.

    Set ``ROPELAB_DOCS_EXAMPLE_OUTPUT=0`` to skip running the examples (the test suite does,
    because it runs every example on its own anyway).
    """
    with_output = os.environ.get("ROPELAB_DOCS_EXAMPLE_OUTPUT", "1") != "0"
    pages = {}
    index = ["# Worked examples\n",
             "A course in nine steps: read them in order, from 00 (RoPE written from scratch) to "
             "08 (a real model); each names the examples it needs. 05 reaches Theorem 6.1. "
             "Each example is a short script in percent-cell format: run it with "
             "`python examples/NAME.py`, or open it as a notebook with "
             "`jupytext --to notebook examples/NAME.py` (the `notebooks` extra brings Jupyter). "
             "Each draws its figures, asserts its own conclusion and the solution of its "
             "exercise, and the test suite runs every one of them.\n"]
    paths = sorted(EXAMPLES.glob("[0-9]*.py"))
    progress(f"examples: {len(paths)} pages" + (", each run for its output" if with_output else " (not run)"))
    for n, path in enumerate(paths, 1):
        started = time.perf_counter()
        title, page = example_page(path, with_output)
        if with_output:
            progress(f"example {n}/{len(paths)} {path.stem} ({time.perf_counter() - started:.1f} s)")
        pages[f"examples/{path.stem}.md"] = page
        files.append(File.generated(config, f"examples/{path.name}", abs_src_path=str(path)))
        needs = EXAMPLE_NEEDS.search(jupytext.read(path).cells[0].source)
        needs_text = " ".join(needs.group(1).split()) if needs else "nothing but NumPy"
        index.append(f"- **{path.stem[:2]}** [{title}]({path.stem}.md). *Needs:* {needs_text}")
    pages["examples/index.md"] = "\n".join(index) + "\n"
    return pages


# --- API -------------------------------------------------------------------------------------

def api_packages(modules: list[str]) -> dict[str, list[str]]:
    """Modules grouped by sub-package (``ropelab.theory``, ...; top-level modules under ``ropelab``)."""
    groups: dict[str, list[str]] = {}
    for m in modules:
        parts = m.split(".")
        is_subpackage = len(parts) > 1 and (API_STAGE / "ropelab" / parts[1]).is_dir()
        groups.setdefault(".".join(parts[:2]) if is_subpackage else "ropelab", []).append(m)
    return groups


def api_page(package: str, members: list[str]) -> str:
    """One page per sub-package: each of its modules in turn, from the docstrings."""
    out = [f"# {package}\n"]
    for module in members:
        if module == package:  # the package's own docstring, without repeating its modules
            out.append(f"::: {module}\n    options:\n      show_root_heading: false\n      members: false\n")
        else:
            out.append(f"::: {module}\n    options:\n      heading_level: 2\n")
    return "\n".join(out)


def api_index(packages: dict[str, list[str]]) -> str:
    out = ["# API reference\n",
           "Generated from the docstrings. `ropelab.theory` holds the SymPy side, "
           "`ropelab.constructions` the numeric side, `ropelab.checks` the claim registry and "
           "the command line, `ropelab.paper_figs` the figures.\n"]
    for package, members in packages.items():
        out.append(f"\n## [`{package}`]({package}.md)\n")
        out.extend(f"- [`{m}`]({package}.md#{m})" for m in members if m != package)
    return "\n".join(out) + "\n"


# --- navigation ------------------------------------------------------------------------------

def navigation(sheets, examples: dict[str, str], modules: list[str]) -> list:
    example_nav = [{"Overview": "examples/index.md"}]
    for uri, content in examples.items():
        if uri != "examples/index.md":
            title = content.split("\n", 1)[0].lstrip("# ").strip()
            example_nav.append({title: uri})
    claim_nav: list = [{"Overview": "claims/index.md"}]
    for section, claims in catalogue.by_section(s.claim for s in sheets).items():
        claim_nav.append({section: [{claim_title(c): f"claims/{c.id}.md"} for c in claims]})
    api_nav: list = [{"Overview": "api/index.md"},
                     *({package: f"api/{package}.md"} for package in api_packages(modules))]
    return [
        {"Home": "index.md"},
        {"Getting started": "getting-started.md"},
        {"Checking the proofs": "proof-checking.md"},
        {"RoPE in a model": "engineers.md"},
        {"A real model": "real-models.md"},
        {"Training experiments": "training.md"},
        {"Past one machine": "scale-out.md"},
        {"Benchmarks": "benchmarks.md"},
        {"Site, examples, report": "documentation.md"},
        {"How the package is built": "architecture.md"},
        {"Worked examples": example_nav},
        {"Explore": "explore.md"},
        {"Claims": claim_nav},
        {"Figures": "figures.md"},
        {"Findings": "findings.md"},
        {"Across model families": "model-families.md"},
        {"Errata": "errata.md"},
        {"API reference": api_nav},
    ]
