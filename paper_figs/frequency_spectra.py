"""Spectra of RoPE, p-RoPE, reversed p-RoPE and partial rotary (d = 256, theta = 1e4, p = 0.75).

p-RoPE keeps the highest frequencies with the full-d exponent; partial rotary re-spreads
the whole schedule over a prefix; reversed p-RoPE keeps the lowest. Partial rotary with the
scaled base theta^(2n/d) (crosses) lands exactly on p-RoPE's kept pairs. The dotted line is
the critical pair of an 8192-token context: pairs to its left complete at least one turn.
Claims: ``p_rope_keeps_highest_frequencies``, ``p_rope_equals_partial_rotary_with_scaled_base``,
``critical_pair_index``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.constructions import frequencies, partial
from ropelab.theory import base_bounds as th_base

from . import _style

D, THETA, P, CONTEXT = 256, 10_000.0, 0.75, 8192


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
    """Draw frequency against pair index (log scale; unrotated pairs drawn at the floor)."""
    fig, ax = _style.plt.subplots(figsize=(6.4, 3.6))
    floor = 1e-6
    for name, freqs in spectra().items():
        shown = np.where(freqs > 0, freqs, floor)
        ax.step(np.arange(D // 2), shown, where="mid", label=name, color=_style.ENCODING_COLOURS[name])
    scaled = partial.partial_frequencies(D, THETA, P)
    base = partial.scaled_base(D, THETA, frequencies.p_rope_pairs(D, P))
    ax.plot(np.arange(scaled.size)[::6], scaled[::6], "x", color=_style.ENCODING_COLOURS["partial rotary"],
            ms=4, label=f"partial rotary, base theta^(2n/d) = {base:.4g}")
    critical = float(th_base.critical_pair_index(D, int(THETA), CONTEXT))
    ax.axvline(critical, color="black", ls=":", lw=1)
    ax.text(critical + 1, 2e-5, f"one turn in {CONTEXT} tokens\n(i* = {critical:.1f}, {critical / (D // 2):.3f} of pairs)",
            fontsize=7)
    ax.set_yscale("log")
    ax.set_ylim(floor / 2, 2)
    ax.set_xlabel("pair index m (0 = highest frequency)")
    ax.set_ylabel("frequency g_m (rad/token); unrotated at bottom")
    ax.set_title(f"Spectra, d={D}, theta={THETA:g}, p={P}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _style.save(fig, out_dir, "frequency_spectra")
