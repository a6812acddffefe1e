"""Shared figure conventions: the Agg backend, the paper's colour map, atomic PNG + PDF output."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; no screen is assumed

import matplotlib.pyplot as plt  # noqa: E402

from ropelab.constructions.atomic import write_atomically  # noqa: E402

# The paper draws heatmaps with high frequencies on top and a sequential map.
HEATMAP_CMAP = "viridis"
ENCODING_COLOURS = {
    "NoPE": "#7f7f7f",
    "RoPE": "#1f77b4",
    "p-RoPE": "#2ca02c",
    "partial rotary": "#ff7f0e",
    "reversed p-RoPE": "#d62728",
}


def save(fig: plt.Figure, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``fig`` as ``name.png`` and ``name.pdf`` in ``out_dir`` atomically, then close it."""
    out_dir = Path(out_dir)
    paths = []
    for ext in ("png", "pdf"):
        paths.append(
            write_atomically(out_dir / f"{name}.{ext}", lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=150))
        )
    plt.close(fig)
    return paths
