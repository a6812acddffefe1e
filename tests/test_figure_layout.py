"""Every figure is laid out for a reader: no text off the canvas, no two texts on top of each other.

Each figure is drawn through :func:`ropelab.paper_figs.draw_figures` and its drawn texts
(titles, axis and tick labels, legends, annotations, table cells) are measured by matplotlib's
renderer. The Gemma model figures are drawn from a stub summary of the real one's shape, so the
test needs neither the model extra nor the model.
"""

from __future__ import annotations

import importlib

import matplotlib.pyplot as plt
import pytest

from helpers.figure_stubs import stub_gemma_summary
from ropelab.paper_figs import FIGURES, draw_figures, keeping_figures, layout_problems

MODEL_FIGURES = tuple(name for name in FIGURES if name.startswith("gemma_"))


def _figures(name: str, out_dir) -> list:
    if name in MODEL_FIGURES:
        module = importlib.import_module(f"ropelab.paper_figs.{name}")
        with keeping_figures() as kept:
            module.draw(stub_gemma_summary(), out_dir)
        return [fig for _, fig in kept]
    return draw_figures(out_dir, [name])[name]


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_text_is_inside_the_canvas_and_apart(name, tmp_path):
    figures = _figures(name, tmp_path)
    assert figures, f"{name} drew no figure"
    try:
        for fig in figures:
            problems = layout_problems(fig)
            assert not problems, f"{name}: " + "; ".join(problems)
    finally:
        for fig in figures:
            plt.close(fig)


def test_layout_check_sees_tick_labels_run_together():
    """The check must be able to fail: labels like the Gemma figure's old ``1011G12`` are caught."""
    fig, ax = plt.subplots(figsize=(1.5, 1))
    ax.set_xticks(range(18), [f"{i}G" if i % 6 == 5 else str(i) for i in range(18)], fontsize=6)
    try:
        assert any("overlaps" in p for p in layout_problems(fig))
    finally:
        plt.close(fig)


def test_layout_check_sees_text_leaving_the_canvas():
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.text(0.9, 0.5, "a label far too long for this figure", transform=ax.transAxes)
    try:
        assert any("leaves the canvas" in p for p in layout_problems(fig))
    finally:
        plt.close(fig)
