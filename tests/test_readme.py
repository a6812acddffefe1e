"""The README's excerpts are what the commands print, and the README stays a front door.

Each excerpt in ``README.md`` follows a marker ``<!-- output of: ropelab ARGS | head -N -->`` (or
``tail -N``): the test runs that command as a user would (the installed console script, output to a
pipe at 100 columns, in a fresh folder) and compares the block with the lines it printed. Times
(``12.3 s``, and the verify table's seconds) are the only thing allowed to differ. ``python tests/test_readme.py --update``
rewrites the blocks from the commands.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = re.compile(r"<!-- output of: (ropelab [^|>]*?)(?: \| (head|tail) -(\d+))? -->\n```text\n(.*?)```", re.S)
WIDTH = 100
MAX_LINES = 150


def run(args: str, cwd: Path) -> list[str]:
    env = {**os.environ, "COLUMNS": str(WIDTH), "NO_COLOR": "1", "TERM": "dumb"}
    command = [str(Path(sys.executable).with_name("ropelab")), *args.split()[1:]]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line.rstrip() for line in done.stdout.splitlines()]


def excerpt(lines: list[str], end: str | None, count: str | None) -> list[str]:
    while lines and not lines[-1]:
        lines = lines[:-1]
    if end == "head":
        return lines[: int(count)]
    if end == "tail":
        return lines[-int(count):]
    return lines


def timeless(lines: list[str]) -> list[str]:
    # times: "12.3 s", and the verify table's seconds (printed with one decimal)
    return [re.sub(r"\b\d+\.\d\b(?![\de])", "<t>", re.sub(r"\b\d+(\.\d+)? s\b", "<t> s", line)) for line in lines]


def excerpts() -> list[tuple[str, str | None, str | None, list[str]]]:
    return [(m.group(1), m.group(2), m.group(3), m.group(4).rstrip("\n").split("\n"))
            for m in MARKER.finditer(README.read_text(encoding="utf-8"))]


def test_the_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES
    assert len(excerpts()) >= 4, "one excerpt for each kind of reader"
    assert all(len(block) <= 10 for *_, block in excerpts()), "excerpts are at most 10 lines"


@pytest.mark.slow
@pytest.mark.parametrize("args, end, count, block", excerpts(), ids=[e[0] for e in excerpts()])
def test_each_excerpt_is_what_the_command_prints(tmp_path, args, end, count, block):
    printed = excerpt(run(args, tmp_path), end, count)
    assert timeless(block) == timeless(printed)


def update() -> None:
    text = README.read_text(encoding="utf-8")

    def fill(m: re.Match) -> str:
        with tempfile.TemporaryDirectory() as folder:
            lines = excerpt(run(m.group(1), Path(folder)), m.group(2), m.group(3))
        tail = f" | {m.group(2)} -{m.group(3)}" if m.group(2) else ""
        return f"<!-- output of: {m.group(1)}{tail} -->\n```text\n" + "\n".join(lines) + "\n```"

    README.write_text(MARKER.sub(fill, text), encoding="utf-8")


if __name__ == "__main__" and "--update" in sys.argv:
    update()
