"""Figure 1 redrawn with the working convention (q = psi, k = rho(g) psi) and why the printed one fails.

Panel (a): the proof's assignment; the key one step back, turned ahead by one step, lines up
with the query. Panel (b): the printed assignment (q = rho(g) psi, k = psi); the aligned key
is one step in the future. Panel (c): the top-band logit against j - i under both, with the
causally masked future shaded. Claims: ``rope_head_can_be_previous_token``,
``figure_1_convention_attends_to_future`` (erratum E1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.checks.claims import positional_heads as rope_heads
from ropelab.constructions import rotary
from ropelab.constructions import positional_heads as heads
from ropelab.constructions import relative_position as relative

from . import _style

__all__ = ["render"]

G = 0.6  # one pair's frequency, large enough to see the turns
QUERY_POSITION = 3
SPAN = 8


def two_sided_curve(q: np.ndarray, k: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Logit against j - i = -SPAN .. SPAN for a position-only head (past and future keys).

    Past keys (j <= i) are ``logit_curve(q, k)`` at r = i - j; a future key at j - i = r sees
    ``q^T R^{r} k = k^T R^{-r} q``, the curve with q and k swapped.
    """
    past = relative.logit_curve(q, k, freqs, SPAN + 1)
    future = relative.logit_curve(k, q, freqs, SPAN + 1)
    return np.concatenate([past[::-1], future[1:]])


def _arrows(ax, query_angle: float, key_angles: dict[int, float], title: str) -> None:
    """Draw the query and the keys on the unit circle; a key aligned with the query shares its label.

    Labels sit radially outside the arrow tips, so that no label lies on an arrow.
    """
    ax.add_patch(_style.plt.Circle((0, 0), 1.0, fill=False, color="0.85"))
    aligned = [j for j, angle in key_angles.items() if np.isclose(np.cos(angle - query_angle), 1.0)]
    ax.annotate("", xy=(1.1 * np.cos(query_angle), 1.1 * np.sin(query_angle)), xytext=(0, 0),
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 2.5, "alpha": 0.6})
    query_label = f"query i={QUERY_POSITION}" + "".join(f"\n= key j={j}" for j in aligned)
    if any(j > QUERY_POSITION for j in aligned):
        query_label += " (future)"
    qx = np.cos(query_angle)
    beside = abs(qx) > 0.2  # a query pointing sideways is labelled beside its tip, else above it
    ax.text(1.3 * qx, 1.3 * np.sin(query_angle), query_label, fontsize=7, fontweight="bold",
            va="center" if beside else "bottom", ha="center" if not beside else "left" if qx > 0 else "right")
    for j, angle in key_angles.items():
        future = j > QUERY_POSITION
        colour = "0.45" if future else _style.ENCODING_COLOURS["RoPE"]
        ax.annotate("", xy=(0.85 * np.cos(angle), 0.85 * np.sin(angle)), xytext=(0, 0),
                    arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.2, "ls": "--" if future else "-"})
        if j in aligned:
            continue
        x, y = np.cos(angle), np.sin(angle)
        ax.text(1.02 * x, 1.02 * y, f"key j={j}" + (" (future)" if future else ""), fontsize=6.5, color=colour,
                ha="left" if x > 0.1 else "right" if x < -0.1 else "center", va="bottom" if y > 0 else "top")
    ax.set_xlim(-1.9, 1.9)
    ax.set_ylim(-1.25, 1.65)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=8)


def render(out_dir: str | Path) -> list[Path]:
    fig, axes = _style.plt.subplots(1, 3, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 1, 1.4]})
    keys = range(QUERY_POSITION - 2, QUERY_POSITION + 2)
    # proof: q_i = R^i psi (angle i g), k_j = R^j R^1 psi (angle (j + 1) g)
    _arrows(axes[0], QUERY_POSITION * G, {j: (j + 1) * G for j in keys},
            "(a) working: q = psi, k = rho(g) psi\nkey j = i-1 aligns with the query")
    # printed: q_i = R^i R^1 psi (angle (i + 1) g), k_j = R^j psi (angle j g)
    _arrows(axes[1], (QUERY_POSITION + 1) * G, {j: j * G for j in keys},
            "(b) printed: q = rho(g) psi, k = psi\nthe aligned key is j = i+1 (masked)")
    psi, g = heads.band_vector(rope_heads.D_GEMMA, rope_heads.TOP_BAND), rope_heads.gemma_frequencies()
    turned = rotary.rotation_matrix(1, g) @ psi
    x = np.arange(-SPAN, SPAN + 1)  # j - i
    ax = axes[2]
    ax.axvspan(0.5, SPAN + 0.5, color="0.92", label="future keys (causal mask)")
    for (q, k), style, colour, label in (
        ((psi, turned), "o-", _style.ENCODING_COLOURS["RoPE"], "working (proof of Thm 5.3)"),
        ((turned, psi), "s--", _style.ENCODING_COLOURS["reversed p-RoPE"], "printed (Figure 1)"),
    ):
        ax.plot(x, two_sided_curve(q, k, g), style, ms=3, color=colour, label=label)
    ax.set_xticks(range(-SPAN, SPAN + 1, 2))  # distances are integers
    ax.set_xlabel("j - i (tokens)")
    ax.set_ylabel("logit / s^2 (top 16 pairs, d=256)")
    ax.set_title("(c) peak at j - i = -1 (working) vs +1 (printed)", fontsize=8)
    ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    fig.tight_layout()
    return _style.save(fig, out_dir, "positional_construction")
