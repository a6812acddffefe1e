"""Gradient ascent on W_Q, W_K for alpha_33 on [bos, x, x]: NoPE stalls below 1/2, RoPE passes 0.99;
beyond the paper.

Same random embeddings, initialisation, optimiser (Adam) and budget for both; d_model = d = 8,
RoPE with theta = 1e4. Right: the distance to each ceiling on a log scale (1/2 for NoPE, 1
for RoPE). Claim: ``nope_cannot_be_diagonal_or_previous_token``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.checks.claims import nope_heads

from . import _style

__all__ = ["render"]


def render(out_dir: str | Path) -> list[Path]:
    runs = {name: nope_heads.ascent_run(name) for name in ("NoPE", "RoPE")}
    fig, axes = _style.plt.subplots(1, 2, figsize=(10, 3.6))
    for name, run in runs.items():
        steps = np.arange(run.weights.size)
        axes[0].plot(steps, run.weights, color=_style.ENCODING_COLOURS[name], label=f"{name} (best {run.best:.6f})")
        ceiling = 0.5 if name == "NoPE" else 1.0
        axes[1].semilogy(steps, np.maximum(ceiling - run.weights, 1e-17), color=_style.ENCODING_COLOURS[name],
                         label=f"{name}: {ceiling:g} - alpha_33")
    axes[0].axhline(0.5, color="black", lw=0.8, ls="--", label="1/2 (Prop 5.2 ceiling for NoPE)")
    axes[0].axhline(0.99, color="0.5", lw=0.8, ls=":", label="0.99")
    axes[0].set_xlabel("Adam step")
    axes[0].set_ylabel("alpha_33 on [bos, x, x]")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("Adam step")
    axes[1].set_ylabel("distance to the ceiling")
    axes[1].legend(fontsize=7)
    fig.suptitle(f"optax.adam({nope_heads.ASCENT_LR}), {nope_heads.ASCENT_STEPS} steps, same start for both", fontsize=9)
    fig.tight_layout()
    return _style.save(fig, out_dir, "nope_vs_rope_optimisation")
