"""Tables 3-5 of the paper beside a model's chosen heads: logits against their Cauchy–Schwarz bound.

:func:`paper_comparison` pairs each of the paper's Gemma 7B tables (layer 1 head 5, layer 27
head 8, layer 1 head 8) with the analysed model's head of the same kind, as the mean ratio of
the diagonal and previous-token logits to their bound over the shown tokens after BOS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["paper_comparison"]


def paper_comparison(summary: Mapping[str, Any]) -> list[dict]:
    """Rows pairing each of the paper's Gemma 7B tables with this model's chosen head.

    Each row: the paper's table name and head, our head, and the mean ratio of the diagonal
    (and previous-token) logit to the Cauchy–Schwarz bound over the shown tokens after BOS.
    """
    pairs = (
        ("table3_layer1_head5_diagonal", "layer 1 head 5", "diagonal"),
        ("table4_layer27_head8_diagonal", "layer 27 head 8", "last_layer_diagonal"),
        ("table5_layer1_head8_previous_token", "layer 1 head 8", "previous_token"),
    )
    rows = []
    for paper_key, paper_head, ours in pairs:
        paper = summary["paper"]["tables3to5"][paper_key]
        mine = summary["tables"][ours]

        def ratios(table, key):
            values = np.asarray(table[key][1:], dtype=float)
            bound = np.asarray(table["upper_bound"][1:], dtype=float)
            return float(np.nanmean(values / bound))

        rows.append({
            "paper_table": paper_key, "paper_head": paper_head, "ours": ours,
            "our_head": f"layer {mine['layer']} head {mine['head']}",
            "paper_diagonal_over_bound": ratios(paper, "diagonal"), "our_diagonal_over_bound": ratios(mine, "diagonal"),
            "paper_previous_over_bound": ratios(paper, "previous_token"), "our_previous_over_bound": ratios(mine, "previous_token"),
        })
    return rows
