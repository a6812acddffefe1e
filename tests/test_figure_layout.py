"""Every figure is laid out for a reader, and says which figure of the paper it redraws.

Each registered figure (:data:`ropelab.paper_figs.FIGURES`, so a new one is checked the day it
is added) is drawn through :func:`ropelab.paper_figs.draw_figures` and measured with
matplotlib's renderer by :func:`ropelab.paper_figs.layout_problems`: no text off the canvas, on
another text or under a legend; legend entries told apart; no marker cut by its axes; axes
spanning their data (within a decade); at least two tick labels on every log axis. The Gemma
3 270M figures are drawn from the committed figure data, so the test needs neither the model
nor its packages. Each check is shown to fail on a figure with that fault planted.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from ropelab import catalogue
from ropelab.paper_figs import FIGURES, draw_figures, layout_problems

PROVENANCE = re.compile(r"\b(?:Fig(?:ure)?s?|Tables?)\s+\d|\bbeyond the paper\b")


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_is_laid_out_for_a_reader(name, tmp_path):
    figures = draw_figures(tmp_path, [name])[name]
    assert figures, f"{name} drew no figure"
    try:
        for fig in figures:
            problems = layout_problems(fig)
            assert not problems, f"{name}: " + "; ".join(problems)
    finally:
        for fig in figures:
            plt.close(fig)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_says_which_paper_figure_it_redraws(name):
    caption = catalogue.figure_caption(name)
    assert PROVENANCE.search(caption), (
        f"{name}: its caption (the module docstring's first paragraph) names no figure or table of the paper "
        f"and does not say 'beyond the paper': {caption!r}")


def test_gemma_figures_draw_on_the_committed_data_alone(monkeypatch):
    """The model figures read the committed data and never run the model."""
    from ropelab.checks.findings import model_analysis
    from ropelab.paper_figs import _gemma

    def no_model(*args, **kwargs):
        raise AssertionError("a figure asked for the model")

    monkeypatch.setattr(model_analysis, "analyze", no_model)
    monkeypatch.setattr(model_analysis, "default_summary", no_model)
    data = _gemma.summary()
    assert set(_gemma.FIGURE_FIELDS) <= set(data) and "Gemma 3 270M" in data["model"]["label"]


def _problems(draw, layout: str | None = "constrained") -> list[str]:
    fig, ax = plt.subplots(figsize=(3, 2), layout=layout)
    try:
        draw(fig, ax)
        return layout_problems(fig)
    finally:
        plt.close(fig)


# --- each check can fail ----------------------------------------------------------------------

def test_layout_check_sees_tick_labels_run_together():
    """Labels like the Gemma figure's old ``1011G12`` are caught."""
    def draw(fig, ax):
        ax.set_xticks(range(18), [f"{i}G" if i % 6 == 5 else str(i) for i in range(18)], fontsize=6)
        fig.set_size_inches(1.5, 1)

    assert any("overlaps" in p for p in _problems(draw))


def test_layout_check_sees_text_leaving_the_canvas():
    def draw(fig, ax):
        ax.text(0.9, 0.5, "a label far too long for this figure", transform=ax.transAxes)

    assert any("leaves the canvas" in p for p in _problems(draw, layout=None))


def test_layout_check_sees_a_label_under_the_legend():
    def draw(fig, ax):
        ax.plot([0, 1], [0, 1], label="a line")
        ax.legend(loc="upper left")
        ax.text(0.02, 0.95, "training length", transform=ax.transAxes, va="top")

    assert any("'training length' lies under a legend" in p for p in _problems(draw))


def test_layout_check_sees_legend_swatches_drawn_alike():
    """Table 2's old legend: bars of one grey, told apart by nothing."""
    def draw(fig, ax):
        for j, m in enumerate(("1T", "2T", "4T")):
            ax.bar(j, 1.0, color="grey", alpha=0.35, label=m)
        ax.legend()

    assert any("drawn alike" in p for p in _problems(draw))

    def told_apart(fig, ax):
        for j, (m, hatch) in enumerate(zip(("1T", "2T", "4T"), ("", "//", ".."))):
            ax.bar(j, 1.0, color="grey", alpha=0.35, hatch=hatch, label=m)
        ax.legend()

    assert not [p for p in _problems(told_apart) if "drawn alike" in p]


def test_layout_check_sees_a_marker_cut_by_the_frame():
    def draw(fig, ax):
        ax.plot([0, 1, 2], [0, 1, 2], "o")
        ax.set_xlim(0, 2)  # the first and last markers sit on the frame

    assert any("cut by the frame" in p for p in _problems(draw))

    def scattered(fig, ax):
        ax.scatter([0.0, 1.0], [1.0, 1.0], s=80)
        ax.set_xlim(0.0, 1.2)

    assert any("cut by the frame" in p for p in _problems(scattered))
    assert not _problems(lambda fig, ax: ax.plot([0, 1, 2], [0, 1, 2], "o"))


def test_layout_check_sees_an_axis_running_decades_past_its_data():
    """The semantic range figure's old panel (b): data to 1e7 on an axis to 1e12."""
    def draw(fig, ax):
        ax.scatter([1e2, 1e7], [0, 1])
        ax.set_xscale("log")
        ax.set_xlim(10, 1e12)

    assert any("decades past its data" in p for p in _problems(draw))

    def linear(fig, ax):
        ax.plot([0, 1], [0, 1])
        ax.set_ylim(0, 50)

    assert any("more than ten times" in p for p in _problems(linear))


def test_layout_check_sees_a_log_axis_with_one_tick_label():
    """Table 2's old panel (a): 5 to 20 on a log axis labelled only at 10."""
    def draw(fig, ax):
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.plot([0, 1], [5.5, 19])
        ax.set_yscale("log")
        ax.set_ylim(5, 20)
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())

    assert any("1 tick label(s)" in p for p in _problems(draw))


def test_gemma_figure_data_fails_closed_on_a_missing_key():
    from ropelab.paper_figs import _gemma

    summary = {key: {} for key in _gemma.FIGURE_FIELDS if key != "tables"}
    with pytest.raises(ValueError, match="'tables'"):
        _gemma.figure_data(summary)
    with pytest.raises(ValueError, match="inf"):
        _gemma._rounded([1.0, np.inf])
