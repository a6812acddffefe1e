"""The console every command prints to, and the one way an unknown name is refused (exit 2)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

# A report piped to a file keeps full-width rows instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 150)


def fail_unknown(kind: str, unknown: str, known: list[str]) -> None:
    """Print the unknown name and the known ones, then exit with code 2."""
    console.print(f"[red]unknown {kind}: {unknown}[/red]\nknown {kind}s:\n  " + "\n  ".join(known))
    raise typer.Exit(code=2)
