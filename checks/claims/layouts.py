"""Half-split and interleaved RoPE are one map up to a fixed coordinate permutation (beyond, peers)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ropelab.constructions import attention, frequencies, rotary
from ropelab.theory.derivation import derive

from .. import tolerances as tol
from ..claim import Claim, Shown, Symbolic, Trust, Variant
from ..laws import Identity, Point, grid, over_grid

SECTION = "§2 RoPE algebra"

SYMBOLIC_DIMS = (2, 4, 6, 8, 10, 12)

LAYOUTS = Claim(
    id="layouts_agree_up_to_permutation",
    label="beyond (peers)",
    section=SECTION,
    statement="Half-split and interleaved RoPE give the same logits after permuting q and k coordinates.",
    symbolic=Symbolic(lambda: _layout_symbolic(SYMBOLIC_DIMS),
                      Shown(Trust.PROVED_FINITE, f"d in {{{', '.join(map(str, SYMBOLIC_DIMS))}}} with symbolic angles")),
    law=Identity("logit error / derived tolerance"),
    check=lambda permutation, quick, rng: _layouts(permutation, quick, rng),
    construction=Variant(rotary.layout_permutation, "the pair-matching permutation"),
    wrong=Variant(np.arange, "no permutation (interleaved RoPE applied to half-layout weights)"),
    numeric=Shown(Trust.CHECKED, "d in {8, 64, 256}, theta in {1e4, 5e5}, positions up to 10^6"),
    tolerance_reason="8 ops x d x (largest angle 10^6 + 1) x eps64 x max |q_i||k_j|",
    explain=lambda: _explain_layout(),
    seed=24,
)

CLAIMS = [LAYOUTS]


def _block(d: int, layout: str, angles) -> sp.Matrix:
    mat = sp.zeros(d, d)
    for m, t in enumerate(angles):
        a, b = (m, m + d // 2) if layout == "half" else (2 * m, 2 * m + 1)
        mat[a, a], mat[a, b], mat[b, a], mat[b, b] = sp.cos(t), -sp.sin(t), sp.sin(t), sp.cos(t)
    return mat


def _layout_symbolic(dims: tuple[int, ...]):
    facts = []
    for d in dims:
        angles = sp.symbols(f"t0:{d // 2}", real=True)
        # interleaved coordinate 2m holds half coordinate m, and 2m+1 holds m + d/2
        perm = sp.zeros(d, d)
        for m in range(d // 2):
            perm[2 * m, m] = 1
            perm[2 * m + 1, m + d // 2] = 1
        facts.append((f"d = {d}: P R_half P^T - R_interleaved = 0",
                      perm * _block(d, "half", angles) * perm.T - _block(d, "interleaved", angles)))
    return derive("P R_half P^T = R_interleaved for the pair-matching permutation P (symbolic angles)", facts)


def _layouts(permutation, quick: bool, rng: np.random.Generator) -> list[Point]:
    n = 8 if quick else 32

    def at(d: int, theta: float) -> Point:
        freqs = frequencies.rope(d, theta)
        q, k = rng.standard_normal((n, d)), rng.standard_normal((n, d))
        pos = np.sort(rng.integers(0, 10**6, n))
        perm = permutation(d)
        half = np.asarray(attention.logits(q, k, freqs, "half", pos, pos))
        inter = np.asarray(attention.logits(q[:, perm], k[:, perm], freqs, "interleaved", pos, pos))
        scale = float(np.max(np.linalg.norm(q, axis=1) * np.linalg.norm(k, axis=1)))
        bound = tol.rotation_identity(np.float64, d, 1e6, scale)
        return Point({"d": d, "theta": theta}, error=float(np.max(np.abs(half - inter))), bound=bound.value)

    return over_grid(grid(d=(8, 64, 256), theta=(1e4, 5e5)), at)


def _explain_layout() -> str:
    perm = rotary.layout_permutation(8)
    return (
        "With d = 8 the half layout pairs (0,4), (1,5), (2,6), (3,7); the interleaved layout "
        "pairs (0,1), (2,3), (4,5), (6,7).\n"
        f"Reordering coordinates by perm = {perm.tolist()} (x_interleaved = x_half[perm]) maps one "
        "onto the other, so every logit agrees. Weights trained in one layout must be permuted "
        "before use in the other; without the permutation the logits differ (rejected control)."
    )
