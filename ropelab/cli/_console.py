"""The console every command prints to, and the ways a command refuses or stops (exit 2).

Text from claims, files and users reaches the console as :class:`rich.text.Text`, never as
markup, so that brackets such as ``[bos, x, x]`` or ``E[q^T R^r k]`` print as written.
A mistake the user can fix (a bad path, a malformed file, a missing extra) ends the command
with one line naming the parameter and what is allowed, and exit code 2; no traceback.
"""

from __future__ import annotations

import json
import os
import sys

from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from ropelab.extras import install_line, missing_extra  # noqa: F401 (the commands import them from here)

__all__ = [
    "Steps",
    "closest",
    "console",
    "fail",
    "fail_unknown",
    "install_line",
    "interrupted_message",
    "missing_extra",
    "require_known",
    "say",
    "unknown_line",
    "writable_file",
    "writable_folder",
]

# Piped to a file, output keeps 150-column rows instead of rich's 80-column default,
# unless COLUMNS says otherwise.
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 150)

def say(text: str, style: str | None = None) -> None:
    """Print ``text`` exactly as written (no markup), optionally in one style."""
    console.print(Text(text, style=style or ""), soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` on one line (red) and exit with ``code`` (2: the user can fix it)."""
    console.print(Text(message, style="red"), soft_wrap=True)
    raise typer.Exit(code=code)


def closest(unknown: str, known: list[str], n: int = 3) -> list[str]:
    """The known names nearest to ``unknown`` (:func:`difflib.get_close_matches`, case folded).

    >>> closest("rope_preserve_norm", ["rope_preserves_norm", "nope_heads", "rotation_composition"])
    ['rope_preserves_norm']
    """
    import difflib

    folded = {name.lower(): name for name in known}
    return [folded[m] for m in difflib.get_close_matches(unknown.lower(), list(folded), n=n, cutoff=0.5)]


def unknown_line(kind: str, unknown: str, known: list[str], where: str = "") -> str:
    """One line for an unknown name: the nearest known ones, else the first few known ones;
    ``where`` (where to see them all) is added in parentheses.

    >>> unknown_line("figure", "frequency_spectrum", ["frequency_spectra", "decay"])
    'unknown figure: frequency_spectrum; closest known: frequency_spectra'
    """
    near = closest(unknown, known)
    line = (f"unknown {kind}: {unknown}; closest known: {', '.join(near)}" if near
            else f"unknown {kind}: {unknown}; known: {_some(list(known))}")
    return line + (f" ({where})" if where else "")


def fail_unknown(kind: str, unknown: str, known: list[str], where: str = "") -> None:
    """Print one line naming the unknown name and the closest known ones, then exit with code 2."""
    fail(unknown_line(kind, unknown, known, where))


def require_known(kind: str, names: list[str] | None, known: list[str], where: str = "") -> None:
    """Exit 2 on the first of ``names`` that is not ``known`` (:func:`fail_unknown`), before any work."""
    for name in names or []:
        if name not in known:
            fail_unknown(kind, name, list(known), where)


def check_destination(path: Path, option: str, folder: bool = False) -> Path:
    """Refuse, before any work and writing nothing, a destination that cannot be written (exit 2).

    The one check every command calls for every option that names where files go
    (:func:`ropelab.checks.atomic.check_destination`).
    """
    from ropelab.checks.atomic import DestinationError
    from ropelab.checks.atomic import check_destination as check

    try:
        return check(path, option, folder=folder)
    except DestinationError as err:
        fail(str(err))


def writable_folder(path: Path, option: str) -> Path:
    """Check that files can be written in the folder ``path`` (created when it is written); else exit 2."""
    return check_destination(path, option, folder=True)


def writable_file(path: Path, option: str) -> Path:
    """Check that the file ``path`` can be written (it is no folder, its folder can be made); else exit 2."""
    return check_destination(path, option, folder=False)


def read_json(path: Path, option: str) -> object:
    """Parse the JSON file at ``path``; a missing, unreadable or malformed file exits 2."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{option}: no file at {path}")
    except IsADirectoryError:
        fail(f"{option} must be a JSON file; {path} is a folder")
    except UnicodeDecodeError:
        fail(f"{option} must be a UTF-8 JSON file; {path} is not text")
    except OSError as err:
        fail(f"{option}: cannot read {path}: {err.strerror or err}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        fail(f"{option} must be a JSON file; {path} is not JSON ({err.msg} at line {err.lineno}, column {err.colno})")


class Steps:
    """Progress through named items: a live bar on a terminal, one plain line per item otherwise.

    It also remembers what is finished, so that Ctrl-C can say what was done and what was
    not (:func:`interrupted_message`).
    """

    def __init__(self, verb: str, items: list[str], show: bool = True):
        self.verb, self.items, self.done, self.show = verb, list(items), [], show
        self._bar = None

    def __enter__(self) -> Steps:
        global _current
        _current = self
        if self.show and console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self._label(), total=len(self.items))
        return self

    def _label(self) -> str:
        upcoming = self.items[len(self.done)] if len(self.done) < len(self.items) else ""
        return f"{self.verb} {upcoming}".strip()

    def finish(self, item: str, note: str = "") -> None:
        """Mark ``item`` finished; off a terminal print ``[i/N] item note``."""
        self.done.append(item)
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=self._label())
        elif self.show:
            say(f"[{len(self.done)}/{len(self.items)}] {item}{' ' + note if note else ''}")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def remaining(self) -> list[str]:
        return [item for item in self.items if item not in self.done]


_current: Steps | None = None


def _some(names: list[str], at_most: int = 6) -> str:
    shown = ", ".join(names[:at_most])
    return shown + (f" and {len(names) - at_most} more" if len(names) > at_most else "")


def interrupted_message() -> str:
    """What Ctrl-C leaves behind: which items of the running command finished and which did not.

    >>> interrupted_message().startswith("interrupted")
    True
    """
    if _current is None:
        return "interrupted before any work finished; nothing was written"
    done, left = _current.done, _current.remaining()
    finished = f"finished {len(done)} of {len(_current.items)}" + (f" ({_some(done)})" if done else "")
    return (f"interrupted while {_current.verb}: {finished}; not finished: {_some(left) or 'none'}. "
            "Files are written whole or not at all; run the command again for the rest.")
