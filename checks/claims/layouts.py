"""Half-split and interleaved RoPE are one map up to a fixed coordinate permutation (beyond, peers)."""

from __future__ import annotations

import numpy as np

from ropelab.constructions import attention, frequencies, rotary
from ropelab.theory import rotations as th

from .. import tolerances as tol
from ..claim import Claim, Part, Shown, Symbolic, Trust, Variant
from ..laws import Identity, Point, ZeroCount, grid, over_grid
from ..scope import NumericScope, Range

__all__ = ["CLAIMS"]

SECTION = "§2 RoPE algebra"

FINITE_DIMS = (2, 4, 6, 8, 10, 12)

LAYOUTS = Claim(
    id="layouts_agree_up_to_permutation",
    label="beyond (peers)",
    section=SECTION,
    statement="Half-split and interleaved RoPE give the same logits after permuting q and k coordinates.",
    symbolic=Symbolic(lambda: th.layouts_agree_up_to_permutation(FINITE_DIMS),
                      Shown(Trust.PROVED, "every even d >= 2 (h = d/2 symbolic, each layout's logit a Sum over its "
                                          "pairs), symbolic angles; the matrix identity P R_half P^T = R_interleaved "
                                          f"also for d in {{{', '.join(map(str, FINITE_DIMS))}}}")),
    parts=(Part("Half-split and interleaved RoPE give the same logits after permuting q and k coordinates",
                ("symbolic", "numeric")),),
    law={"logits": Identity("logit error / derived tolerance"),
         "index map": ZeroCount("coordinates where the permutation differs from the theory's index map")},
    check=lambda permutation, quick, rng: _layouts(permutation, quick, rng),
    construction=Variant(rotary.layout_permutation, "the pair-matching permutation"),
    wrong=Variant(np.arange, "no permutation (interleaved RoPE applied to half-layout weights)"),
    numeric=Shown(Trust.CHECKED, "d in {8, 64, 256}, theta in {1e4, 5e5}, positions up to 10^6"),
    tolerance_reason="8 ops x d x (largest angle 10^6 + 1) x eps64 x max |q_i||k_j|; the index map exactly",
    explain=lambda: _explain_layout(),
    seed=24,
    numeric_scope=NumericScope(
        (Range("d", 2, 256, "even"), Range("theta", 1e4, 5e5, "log")),
        probe=lambda d, theta: LAYOUTS.law["logits"].judge(
            [layouts_at(rotary.layout_permutation, d, theta, np.random.default_rng(24), 8)]),
        edges=({"d": 256, "theta": 5e5}, {"d": 2, "theta": 1e4}, {"d": 6, "theta": 77777.0})),
)

CLAIMS = [LAYOUTS]


def layouts_at(permutation, d: int, theta: float, rng: np.random.Generator, n: int) -> Point:
    """One (d, theta): logits in both layouts on permuted inputs at ``n`` sorted positions below 10^6."""
    freqs = frequencies.rope(d, theta)
    q, k = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    pos = np.sort(rng.integers(0, 10**6, n))
    perm = permutation(d)
    half = np.asarray(attention.logits(q, k, freqs, "half", pos, pos))
    inter = np.asarray(attention.logits(q[:, perm], k[:, perm], freqs, "interleaved", pos, pos))
    scale = float(np.max(np.linalg.norm(q, axis=1) * np.linalg.norm(k, axis=1)))
    bound = tol.rotation_identity(np.float64, d, 1e6, scale)
    return Point({"d": d, "theta": theta}, error=float(np.max(np.abs(half - inter))), bound=bound.value)


def _layouts(permutation, quick: bool, rng: np.random.Generator) -> dict[str, list[Point]]:
    """Logits in both layouts on permuted inputs, and the permutation against the theory's index map."""
    n = 8 if quick else 32
    dims = (8, 64, 256)

    def index_map(d: int) -> Point:
        theory = np.array([int(th.interleaved_source(c, d // 2)) for c in range(d)])
        return Point({"d": d}, violations=float(np.count_nonzero(np.asarray(permutation(d)) != theory)))

    return {"logits": over_grid(grid(d=dims, theta=(1e4, 5e5)), lambda d, theta: layouts_at(permutation, d, theta, rng, n)),
            "index map": over_grid(grid(d=(2,) + dims), index_map)}


def _explain_layout() -> str:
    perm = rotary.layout_permutation(8)
    return (
        "With d = 8 the half layout pairs (0,4), (1,5), (2,6), (3,7); the interleaved layout "
        "pairs (0,1), (2,3), (4,5), (6,7).\n"
        f"Reordering coordinates by perm = {perm.tolist()} (x_interleaved = x_half[perm]: coordinate 2m "
        "holds m, 2m+1 holds m + d/2) maps one onto the other, so every logit agrees; SymPy proves it "
        "for a symbolic number of pairs.\nWeights trained in one layout must be permuted "
        "before use in the other; without the permutation the logits differ (rejected control)."
    )
