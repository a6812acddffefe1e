"""Table 1 regenerated from checks: NoPE / RoPE / p-RoPE x positional / semantic.

Positional: the Thm 5.3 diagonal head on the encoding's 16 fastest rotating pairs reaches
min_i alpha_ii >= 0.99 (the weight of the diagonal) over 8192 tokens at the proof's scale. Semantic: the slowest channel
survives an anti-aligned rival (brute force to 10^6 tokens, closed form: never for g = 0).
Each cell shows the verdict, the paper's entry and the evidence. Claim:
``p_rope_is_positional_and_semantic``.
"""

from __future__ import annotations

from pathlib import Path

from ropelab.checks.claims import encoding_properties as t1
from ropelab.checks.reference import paper_facts

from . import _style

__all__ = ["render"]


def _weight(value: float) -> str:
    """An attention weight to as many digits as tell it from 1 (a sharp head reads 1 - 1e-5, not 1)."""
    return f"1 - {1 - value:.1e}" if 0.999 < value < 1 else f"{value:.3g}"


def render(out_dir: str | Path, horizon: int = 10**6, context: int = 8192) -> list[Path]:
    """Run the two checks for each encoding and draw the table."""
    table = t1.table1(horizon, context)
    paper = paper_facts()["table1_properties"]
    columns = paper["columns"]
    cells = []
    for prop in ("Positional", "Semantic"):
        row = []
        for col, name in enumerate(columns):
            entry = table[name]
            ours = entry[prop.lower()]
            mark = "yes" if ours else "no"
            agree = "= paper" if ours == paper[prop][col] else "!= paper"
            if prop == "Positional":
                detail = f"min$_i$ $\\alpha_{{ii}}$ = {_weight(entry['min_diagonal_weight'])}"
            else:
                n = entry["closed_form"]
                detail = "never breaks" if n == float("inf") else f"breaks at {n:,}"
            row.append(f"{mark} ({agree})\n{detail}")
        cells.append(row)
    fig, ax = _style.plt.subplots(figsize=(7.0, 2.2))
    ax.axis("off")
    shown = ax.table(cellText=cells, rowLabels=["Positional", "Semantic"], colLabels=columns, loc="center",
                     cellLoc="center")
    shown.scale(1.0, 2.6)
    shown.set_fontsize(9)
    for (r, c), cell in shown.get_celld().items():
        if r > 0 and c >= 0:
            cell.set_facecolor("#e6f4e6" if cells[r - 1][c].startswith("yes") else "#f8e6e6")
    ax.set_title(f"Table 1 from the checks (d=256, theta=1e4, p=0.75; context {context}, search to {horizon:.0e})",
                 fontsize=9)
    fig.tight_layout()
    return _style.save(fig, out_dir, "table1_properties")
