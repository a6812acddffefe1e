"""Every repository path and every ``ropelab`` command line that the README, docs/ and sections/ name is real.

A path is a backticked token naming a file or folder of the repository (it starts with one of
the top-level folders, or is a top-level file); it must exist. A command line is a line of a
code block (or a backticked span) that starts with ``ropelab`` (after an optional ``.venv/bin/``);
it must parse against the command line the package installs: its command exists, its options
exist and take the values given. Nothing is run.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import typer

from ropelab.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
TOP = sorted(p.name for p in ROOT.iterdir() if not p.name.startswith(".") and p.name not in {"build", "site"})
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "sections").glob("*.md"))]
# ignored outputs the pages tell the reader to create (they are not in a fresh clone)
MADE_BY_THE_READER = ("figs", "out", "report.json", "site", ".venv", "build")

PATH = re.compile(r"`([A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-*{}]+)+/?|[A-Za-z0-9_\-]+\.(?:py|md|toml|yml|json))`")
COMMAND = re.compile(r"^[ \t]*(?:\$ )?(?:\.venv/bin/)?(ropelab(?: [^#`|>\n]*)?)", re.M)


def paths(text: str) -> list[str]:
    found = []
    for token in PATH.findall(text):
        first = token.split("/")[0]
        if first in TOP or (("/" not in token) and token in TOP):
            found.append(token.rstrip("/"))
    return found


def command_lines(text: str) -> list[str]:
    blocks = re.findall(r"```(?:bash|console|sh|text)?\n(.*?)```", text, flags=re.S)
    blocks = [re.sub(r"\\\n\s*", " ", block) for block in blocks]  # a command continued over lines
    spans = re.findall(r"`((?:\.venv/bin/)?ropelab [^`]+)`", text)
    lines = [m.group(1).strip() for block in blocks for m in COMMAND.finditer(block)]
    lines += [COMMAND.match(span).group(1).strip() for span in spans if COMMAND.match(span)]
    return sorted({line for line in lines if line != "ropelab"})


def parses(line: str) -> str | None:
    """None when ``line`` parses as a ropelab command line, else why not."""
    optional = re.findall(r"\[([^\]]*)\]", line)  # a synopsis's [--option VALUE] groups
    named = [w for group in optional for w in group.split() if w.startswith("-")]
    words = shlex.split(re.sub(r"\[[^\]]*\]", " ", line))[1:]
    # placeholders (ID, MODULE:FUNCTION, N) stand for a value: parse a stand-in, drop a bare "..."
    words = ["1" if re.fullmatch(r"[A-Z][A-Z_:]*", w) else w for w in words if w != "..."]
    command = typer.main.get_command(app)
    try:
        ctx = command.make_context("ropelab", list(words))
        while hasattr(command, "resolve_command"):  # a group (typer ships its own click)
            rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
            if not rest:
                break
            if rest[0] == "1":
                return None  # a placeholder stands for the command (ropelab experiment NAME)
            name, command, rest = command.resolve_command(ctx, rest)
            ctx = command.make_context(name, rest, parent=ctx)
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        unknown = [w for w in named if w not in known]
        if unknown:
            return f"no option {', '.join(unknown)}"
    except Exception as err:
        if type(err).__name__ in ("MissingParameter", "Exit", "NoArgsIsHelpError"):
            return None  # a placeholder stood for a missing argument, or --help
        if not hasattr(err, "format_message"):
            raise
        return err.format_message()
    return None


def exists(token: str) -> bool:
    """The path exists, is an output git ignores (made by a command), or is ``module.py``'s ``name``."""
    if (ROOT / token).exists():
        return True
    ignored = any(subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=ROOT).returncode == 0
                  for name in (token, token + "/"))
    if ignored:
        return True
    folder, _, last = token.rpartition("/")
    stem, dot, name = last.partition(".")
    module = ROOT / folder / f"{stem}.py"
    return bool(dot) and module.exists() and re.search(rf"^(def |class )?{re.escape(name)}\b", module.read_text(
        encoding="utf-8"), flags=re.M) is not None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_path_exists(page):
    missing = []
    for token in paths(page.read_text(encoding="utf-8")):
        placeholder = re.search(r"(^|[/_])[A-Z]{2,}(?=[._/]|$)", token)  # checks/findings/NAME.py
        if token.split("/")[0] in MADE_BY_THE_READER or any(ch in token for ch in "*{}") or placeholder:
            continue
        if not exists(token):
            missing.append(token)
    assert not missing, f"{page.name} names paths that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_line_parses(page):
    broken = {line: why for line in command_lines(page.read_text(encoding="utf-8")) if (why := parses(line))}
    assert not broken, f"{page.name}: {broken}"


def test_a_planted_bad_path_and_command_are_caught():
    text = "See `constructions/model_adapter.py`.\n```bash\nropelab verify --no-such-flag\nropelab nosuch\n```\n"
    assert "constructions/model_adapter.py" in paths(text)
    assert not (ROOT / "constructions/model_adapter.py").exists()
    lines = command_lines(text)
    assert all(parses(line) for line in lines) and len(lines) == 2
