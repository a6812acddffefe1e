"""Spectra of RoPE, p-RoPE, reversed p-RoPE and partial rotary (d = 256, theta = 1e4, p = 0.75);
beyond the paper.

p-RoPE keeps the highest frequencies with the full-d exponent; partial rotary re-spreads
the whole schedule over a prefix; reversed p-RoPE keeps the lowest. Partial rotary with the
scaled base theta^(2n/d) (crosses) lands exactly on p-RoPE's kept pairs. The dotted line is
the critical pair of an 8192-token context: pairs to its left complete at least one turn.
Unrotated pairs have frequency exactly 0, which a log axis cannot show: they are drawn in a
strip of their own under the spectra, one row per encoding. Pairs are indexed as in the code,
m = k - 1 = 0 .. d/2 - 1 (the maths' k = 1 .. d/2). Claims: ``p_rope_keeps_highest_frequencies``,
``p_rope_equals_partial_rotary_with_scaled_base``, ``critical_pair_index``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.constructions import frequencies, p_rope
from ropelab.theory import base_bounds as th_base

from . import _style

__all__ = ["render"]

D, THETA, P, CONTEXT = 256, 10_000.0, 0.75, 8192

# Where two spectra coincide (p-RoPE and RoPE on the kept pairs, reversed p-RoPE and RoPE on
# the slow ones) each must stay visible: RoPE is a wide pale band under the others, the rest
# are thin lines with distinct dash patterns.
LINE_STYLES = {
    "RoPE": {"lw": 6.0, "alpha": 0.35, "ls": "-"},
    "p-RoPE": {"lw": 1.6, "ls": "-"},
    "reversed p-RoPE": {"lw": 1.6, "ls": (0, (4, 2))},
    "partial rotary": {"lw": 1.6, "ls": (0, (1, 1.5))},
}


def spectra() -> dict[str, np.ndarray]:
    """Frequency per pair index for each encoding (partial rotary padded with zeros)."""
    n = frequencies.p_rope_pairs(D, P)
    partial_rotary = np.zeros(D // 2)
    partial_rotary[:n] = frequencies.rope(2 * n, THETA)
    return {
        "RoPE": frequencies.rope(D, THETA),
        "p-RoPE": frequencies.p_rope(D, THETA, P),
        "reversed p-RoPE": frequencies.reversed_p_rope(D, THETA, P),
        "partial rotary": partial_rotary,
    }


def render(out_dir: str | Path) -> list[Path]:
    """Draw frequency against pair index: rotating pairs on a log axis, unrotated ones (g = 0) below."""
    fig, (ax, strip) = _style.plt.subplots(2, 1, figsize=(7.2, 5.0), sharex=True,
                                           gridspec_kw={"height_ratios": [4, 1.1], "hspace": 0.08})
    m = np.arange(D // 2)
    found = spectra()
    for name, freqs in found.items():
        rotating = np.where(freqs > 0, freqs, np.nan)  # a gap, not an invented floor
        ax.step(m, rotating, where="mid", label=name, color=_style.ENCODING_COLOURS[name], **LINE_STYLES[name])
    scaled = p_rope.partial_frequencies(D, THETA, P)
    base = p_rope.scaled_base(D, THETA, frequencies.p_rope_pairs(D, P))
    ax.plot(np.arange(scaled.size)[::6], scaled[::6], "x", color=_style.ENCODING_COLOURS["partial rotary"],
            ms=5, label=f"partial rotary with base theta^(2n/d) = {base:.4g}")
    critical = float(th_base.critical_pair_index(D, int(THETA), CONTEXT))
    for axis in (ax, strip):
        axis.axvline(critical, color="black", ls=":", lw=1)
    ax.text(critical - 1.5, 0.3, f"one turn in {CONTEXT} tokens:\ni* = {critical:.1f} ({critical / (D // 2):.3f} of pairs)",
            fontsize=7, ha="right", va="top")
    ax.set_yscale("log")
    ax.set_ylim(5e-5, 2)
    ax.set_ylabel("frequency g (rad/token)")
    ax.set_title(f"Frequency spectra, d={D}, theta={THETA:g}, p={P}", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")

    names = list(found)
    for row, name in enumerate(names):
        zero = m[found[name] == 0]
        strip.plot(zero, np.full(zero.size, row), "s", ms=2.2, color=_style.ENCODING_COLOURS[name])
        if zero.size == 0:
            strip.text(2, row, "none: every pair rotates", fontsize=6, va="center", color="0.35")
    strip.set_yticks(range(len(names)), names, fontsize=7)
    strip.set_ylim(len(names) - 0.4, -0.6)
    strip.yaxis.set_label_position("right")  # the encodings' names take the left margin
    strip.set_ylabel("g = 0\n(unrotated)", fontsize=8)
    strip.set_xlabel("pair index m = k - 1 (0 = highest frequency)")
    strip.set_xlim(-2, D // 2 + 1)
    fig.subplots_adjust(left=0.17, right=0.92, top=0.93, bottom=0.11)
    return _style.save(fig, out_dir, "frequency_spectra")
