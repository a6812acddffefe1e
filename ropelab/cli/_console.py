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
import tempfile

from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from ropelab.extras import install_line, missing_extra  # noqa: F401 (the commands import them from here)

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


def fail_unknown(kind: str, unknown: str, known: list[str]) -> None:
    """Print the unknown name and the known ones, then exit with code 2."""
    console.print(Text(f"unknown {kind}: {unknown}", style="red"), soft_wrap=True)
    console.print(Text(f"known {kind}s:\n  " + "\n  ".join(known)))
    raise typer.Exit(code=2)


def writable_folder(path: Path, option: str) -> Path:
    """Create ``path`` if needed and check that files can be written in it; else exit 2.

    The check writes and removes one empty temporary file, so that a folder the process
    may not write into is refused before any work starts.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        fail(f"{option} must be a folder; {path} is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".ropelab-write-check."):
            pass
    except OSError as err:
        fail(f"{option} must be a folder ropelab can write to; {path}: {err.strerror or err}")
    return path


def writable_file(path: Path, option: str) -> Path:
    """Check that ``path`` can be written (its folder is writable, it is no folder); else exit 2."""
    path = Path(path)
    if path.is_dir():
        fail(f"{option} must be a file path; {path} is a folder")
    writable_folder(path.parent if str(path.parent) else Path("."), f"the folder of {option}")
    if path.exists() and not os.access(path, os.W_OK):
        fail(f"{option} must be a file ropelab can write to; {path} is read-only")
    return path


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
