"""The scale a sharp diagonal head needs: 16-pair bands by offset, and every single frequency;
beyond the paper.

Left: smallest s^2 (every row's diagonal weight >= 0.99 over N = 8192 tokens; d = 256,
theta = 1e4) of the 16-pair band starting at offset o, against its top frequency g_o,
log-log, with the fitted slope over o >= 16. Right: the same for each single pair, with
Dirichlet's floor ln(99)/(2 sin^2(pi/N)) and the top band's value. Claims:
``head_norm_grows_as_inverse_square_frequency``, ``top_frequency_band_makes_sharp_head_cheaply``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import linregress

from ropelab.checks.claims import head_norms, positional_heads

from . import _style

__all__ = ["render"]

OFFSETS = tuple(range(0, positional_heads.D_GEMMA // 2 - positional_heads.BAND_WIDTH + 1, 8))


def render(out_dir: str | Path) -> list[Path]:
    g = positional_heads.gemma_frequencies()
    scales = head_norms.band_offset_scales(OFFSETS)
    g_o = g[list(OFFSETS)]
    fitted = np.array(OFFSETS) >= 16
    fit = linregress(np.log(g_o[fitted]), np.log(scales[fitted]))
    fig, axes = _style.plt.subplots(1, 2, figsize=(10, 3.8))
    ax = axes[0]
    ax.loglog(g_o, scales, "o", color=_style.ENCODING_COLOURS["RoPE"], label="16-pair band starting at pair o")
    ax.loglog(g_o[fitted], np.exp(fit.intercept) * g_o[fitted] ** fit.slope, "-", color="black", lw=0.8,
              label=f"fit over o >= 16: slope {fit.slope:.3f}")
    ax.annotate(f"top band (o = 0): $s^2$ = {scales[0]:.1f}", (g_o[0], scales[0]), textcoords="offset points",
                xytext=(10, -3), fontsize=7)
    ax.invert_xaxis()  # higher frequencies on the left, as offsets grow to the right
    ax.set_xlabel("top frequency of the band $g_o$ (rad/token)")
    ax.set_ylabel("smallest $s^2$ for a 0.99-sharp diagonal head")
    ax.set_title("(a) 16-pair bands: cost grows as $g_o^{-2}$\n(N = 8192, d = 256, theta = 1e4)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1]
    idx, singles = head_norms.single_frequency_scales(1)
    necessary = head_norms.dirichlet_floor()
    ax.semilogy(idx, singles, ".", color=_style.ENCODING_COLOURS["partial rotary"], label="a single pair m on its own")
    ax.axhline(necessary, color="black", lw=0.8, ls="--",
               label=f"Dirichlet floor ln(99) / (2 sin$^2$($\\pi$/N)) = {necessary:.3g}")
    ax.axhline(head_norms.SPEC_SINGLE_FREQUENCY_FLOOR, color="0.5", lw=0.8, ls=":",
               label=f"stated bound: any single pair needs $s^2$ > {head_norms.SPEC_SINGLE_FREQUENCY_FLOOR:.0e}")
    ax.axhline(scales[0], color=_style.ENCODING_COLOURS["RoPE"], lw=1.0, label=f"top 16 pairs together: {scales[0]:.1f}")
    ax.set_xlabel("pair index m = k - 1 (0 = highest frequency)")
    ax.set_ylabel("smallest $s^2$ for a 0.99-sharp diagonal head")
    ax.set_title("(b) one pair alone: never below the Dirichlet floor\n(same N, d, theta)", fontsize=9)
    ax.set_ylim(scales[0] / 8, None)  # room under the lowest line for the legend, less than a decade
    ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1, 0.1))
    fig.tight_layout()
    return _style.save(fig, out_dir, "head_norm_vs_band")
