"""Every worked example runs as a plain script, opens as a notebook, and asserts its conclusion."""

import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("[0-9]*.py"))
# The real-model example loads Gemma 3 270M on its first run on a machine (about a minute).
RUNS = [pytest.param(p, marks=pytest.mark.slow) if "gemma" in p.stem else p for p in EXAMPLES]


def test_there_are_worked_examples():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_a_notebook_ending_in_its_conclusion(path):
    notebook = jupytext.read(path)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown" and notebook.cells[0].source.startswith("# "), "starts with a titled text cell"
    assert "code" in kinds and "markdown" in kinds[1:]
    last_code = [cell.source for cell in notebook.cells if cell.cell_type == "code"][-1]
    assert "assert " in last_code, "the last code cell asserts the example's conclusion"


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
def test_example_runs_as_a_script(path):
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300,
                          cwd=path.parent)
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "conclusion holds" in proc.stdout
