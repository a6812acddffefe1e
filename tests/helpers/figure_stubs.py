"""Stand-in figures for the tests of the site and the report.

Drawing every figure of the package takes tens of seconds and is tested where each figure is
defined; the site and the report only need to embed whatever ``render_figures`` returns. So
these tests draw one figure for real and a small labelled placeholder PNG for every other.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from ropelab import catalogue  # noqa: E402
from ropelab.paper_figs import FIGURES  # noqa: E402

DRAWN_FOR_REAL = ("frequency_spectra",)


def placeholder_png(path: Path, label: str) -> Path:
    fig, ax = plt.subplots(figsize=(3, 1))
    ax.text(0.5, 0.5, f"placeholder: {label}", ha="center", va="center")
    ax.set_axis_off()
    fig.savefig(path, format="png", dpi=60)
    plt.close(fig)
    return path


def stub_render_figures(real_render=catalogue.render_figures):
    """A ``render_figures`` that draws ``DRAWN_FOR_REAL`` and placeholders for the rest."""

    def render(out_dir, names=None):
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        chosen = list(FIGURES) if names is None else list(names)
        drawn = real_render(out_dir, [n for n in chosen if n in DRAWN_FOR_REAL])
        return {name: drawn[name] if name in drawn else [placeholder_png(out_dir / f"{name}.png", name)]
                for name in chosen}

    return render
