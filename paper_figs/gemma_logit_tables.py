"""Tables 3-5 on Gemma 3 270M beside the paper's Gemma 7B: logits against the Cauchy–Schwarz bound.

For each chosen head (most diagonal, most diagonal in the last layer, most previous-token) the
table lists, for BOS and the next tokens of the English prompt, the bound |q_i||k_i|/sqrt(d),
the diagonal logit q_i.k_i/sqrt(d) and the previous-token logit, next to the paper's rows for
Gemma 7B layer 1 head 5, layer 27 head 8 and layer 1 head 8. Not the paper's Gemma 7B.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import _gemma, _style

__all__ = ["draw", "render"]

PAIRS = (
    ("diagonal", "table3_layer1_head5_diagonal", "Table 3: paper layer 1 head 5 (diagonal)"),
    ("last_layer_diagonal", "table4_layer27_head8_diagonal", "Table 4: paper layer 27 head 8 (diagonal, last layer)"),
    ("previous_token", "table5_layer1_head8_previous_token", "Table 5: paper layer 1 head 8 (previous token)"),
)


def _cell(x) -> str:
    return "-" if x is None or x != x else f"{x:.2f}"


def draw(summary: Mapping[str, Any], out_dir: str | Path, stem: str = "logit_tables") -> list[Path]:
    """Render the three table pairs as one figure."""
    fig, axes = _style.plt.subplots(len(PAIRS), 1, figsize=(11, 8.5))
    for ax, (ours_key, paper_key, caption) in zip(axes, PAIRS):
        ours = summary["tables"][ours_key]
        paper = summary["paper"]["tables3to5"][paper_key]
        n = min(len(ours["tokens"]), len(paper["upper_bound"]))
        tokens = [t.replace("\n", "\\n")[:8] for t in ours["tokens"][:n]]
        rows = [
            ["ours: bound"] + [_cell(x) for x in ours["upper_bound"][:n]],
            ["ours: diagonal"] + [_cell(x) for x in ours["diagonal"][:n]],
            ["ours: previous"] + [_cell(x) for x in ours["previous_token"][:n]],
            ["paper: bound"] + [_cell(x) for x in paper["upper_bound"][:n]],
            ["paper: diagonal"] + [_cell(x) for x in paper["diagonal"][:n]],
            ["paper: previous"] + [_cell(x) for x in paper["previous_token"][:n]],
        ]
        ax.axis("off")
        table = ax.table(cellText=rows, colLabels=["token"] + tokens, loc="center", cellLoc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        table.scale(1, 1.2)
        ax.set_title(f"{caption}  |  ours: layer {ours['layer']} head {ours['head']} "
                     f"(attention mass {ours['score']:.2f})", fontsize=8)
    fig.suptitle(f"{_gemma.model_title(summary)}: logits / sqrt(d) against the Cauchy-Schwarz bound (cf. Tables 3-5)", fontsize=10)
    fig.tight_layout()
    return _style.save(fig, out_dir, stem)


def render(out_dir: str | Path) -> list[Path]:
    """Draw from the committed Gemma 3 270M figure data (no model is run)."""
    return draw(_gemma.summary(), out_dir, stem="gemma_logit_tables")
