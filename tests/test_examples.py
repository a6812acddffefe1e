"""Every worked example is a notebook that runs in a Jupyter kernel, draws a figure, asserts its
conclusion and the solution of its exercise, and closes with what the reader now knows."""

import re
from pathlib import Path

import jupytext
import nbclient
import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("[0-9]*.py"))
# The real-model example loads Gemma 3 270M on its first run on a machine (about a minute).
RUNS = [pytest.param(p, marks=pytest.mark.slow) if "gemma" in p.stem else p for p in EXAMPLES]
EXERCISE = re.compile(r"^## Exercise", re.MULTILINE)


def test_the_course_is_nine_examples_in_order():
    assert [p.name[:3] for p in EXAMPLES] == [f"{i:02d}_" for i in range(9)]


NEEDS = re.compile(r"^\*Needs:\*(.*?)(?:\n\s*\n|\Z)", re.S | re.M)


@pytest.mark.parametrize("path", EXAMPLES[1:], ids=lambda p: p.stem)
def test_example_names_the_earlier_examples_it_needs(path):
    """The course has an order: each example after the first names its prerequisites, all earlier."""
    needs = NEEDS.search(jupytext.read(path).cells[0].source)
    assert needs, "the first text cell says what the example needs"
    linked = re.findall(r"\]\((\d\d)_[a-z0-9_]+\.md\)", needs.group(1))
    names = {p.stem[:2]: p.stem for p in EXAMPLES}
    assert linked and all(n < path.stem[:2] and n in names for n in linked)
    assert all(f"({names[n]}.md)" in needs.group(1) for n in linked), "links name existing examples"


def code(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_a_lesson_with_an_exercise_and_a_summary(path):
    notebook = jupytext.read(path)
    cells = notebook.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), "starts with a titled text cell"
    assert cells[-1].cell_type == "markdown" and cells[-1].source.startswith("## What you now know"), \
        "closes with what the reader now knows"
    exercise = [i for i, cell in enumerate(cells) if cell.cell_type == "markdown" and EXERCISE.search(cell.source)]
    assert len(exercise) == 1, "one exercise"
    text = cells[exercise[0]].source
    assert "<details" in text and "</details>" in text, "the exercise's solution is folded below it"
    solution = cells[exercise[0] + 1]
    assert solution.cell_type == "code" and "assert " in solution.source and "exercise solved" in solution.source
    before = [c.source for c in cells[:exercise[0]] if c.cell_type == "code"]
    assert "assert " in before[-1] and "conclusion holds" in before[-1], "the conclusion is asserted before the exercise"
    assert any("savefig(" in source for source in code(notebook)), "draws at least one figure and saves it"


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
def test_example_runs_as_a_notebook(path, tmp_path, monkeypatch):
    """Executed once, cell by cell, in an IPython kernel (as a reader opening it would)."""
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # today's default; silences jupyter_core's notice
    monkeypatch.setenv("ROPELAB_EXAMPLE_OUT", str(tmp_path))
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed in the kernel:\n{error}")
    printed = "".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for out in cell.get("outputs", []) if out.get("output_type") == "stream")
    assert "conclusion holds" in printed
    assert "exercise solved" in printed
    images = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if "image/png" in out.get("data", {})]
    assert images, "the figure is shown inline"
    saved = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png")
    assert saved, "the figure is saved to the folder the example prints"
    assert f"figures in {tmp_path}" in printed
