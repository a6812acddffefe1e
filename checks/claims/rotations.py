"""Rotations compose, invert by transposing, and keep norms (Eq. 2, Sec 2)."""

from __future__ import annotations

import numpy as np

from ropelab.constructions import frequencies, rotary
from ropelab.constructions import wrong_rotations as wrong
from ropelab.theory import rotations as th

from .. import tolerances as tol
from ..claim import Certificate, Claim, Part, Shown, Symbolic, Trust, Variant
from ..laws import Identity, Point, grid, over_grid
from ..scope import NumericScope, Range
from . import _common as c
from ._certify import certificate_chunks, certify_composition, composition_scope

__all__ = ["CLAIMS"]

SECTION = "§2 RoPE algebra"

COMPOSITION = Claim(
    id="rotation_composition",
    label="Eq. 2",
    section=SECTION,
    statement="rho(a) rho(b) = rho(a+b); rho(a)^T = rho(-a) = rho(a)^-1; rho(g)^n = rho(n g) for every integer n.",
    symbolic=Symbolic(th.rotation_composition,
                      Shown(Trust.PROVED, "all real a, b; every integer n, negative included "
                                          "(induction both ways, and the eigen form)")),
    parts=(Part("rho(a) rho(b) = rho(a+b); rho(a)^T = rho(-a) = rho(a)^-1", ("symbolic", "numeric")),
           Part("rho(g)^n = rho(n g) for every integer n", ("symbolic", "numeric"))),
    law=Identity("error / derived tolerance"),
    check=lambda rotate, quick, rng: _composition(rotate, quick, rng),
    construction=Variant(rotary.apply, "the rotary map"),
    wrong=Variant(wrong.reflection, "a reflection in place of the rotation (orthogonal, but reflections do not compose)"),
    numeric=Shown(Trust.CHECKED, "d in {2, 8, 64, 256}, theta in {1e4, 5e5}, positions up to 10^7, n = 1..40"),
    tolerance_reason="8 ops x d x (largest angle + 1) x eps64 x |x|; positions up to 10^7",
    explain=lambda: _explain_composition(),
    certificate=Certificate(
        chunks=lambda quick: certificate_chunks(quick, seed=20),
        run=certify_composition,
        shown=Shown(Trust.CERTIFIED, "d in {2, 8, 64, 256}, theta in {1e4, 5e5}, 16 seeded position pairs (i, j) "
                                     "up to 5 x 10^6 each (4 with --quick) and every pair k: the float64 map R^j R^i x "
                                     "lies within the derived tolerance of the exact rho((i+j) g_k) x, "
                                     "g_k = theta^(-2(k-1)/d), in 128-bit Arb balls"),
        covers=lambda quick: composition_scope(quick, seed=20)),
    seed=20,
    numeric_scope=NumericScope(
        (Range("d", 2, 256, "even"), Range("theta", 1e4, 5e5, "log")),
        probe=lambda d, theta: COMPOSITION.law.judge([composition_at(rotary.apply, d, theta, c.rng(20), 8)]),
        edges=({"d": 130, "theta": 1e4}, {"d": 2, "theta": 5e5}), draws=12),
)

NORM = Claim(
    id="rope_preserves_norm",
    label="Sec 2",
    section=SECTION,
    statement="|R^i x| = |x| for every position i.",
    symbolic=Symbolic(th.rope_preserves_norm,
                      Shown(Trust.PROVED, "every even d = 2h (h symbolic, |R^i x|^2 a Sum over pairs k = 1..h "
                                          "of the block-diagonal R^i), every position, real g_k")),
    parts=(Part("|R^i x| = |x| for every position i", ("symbolic", "numeric")),),
    law=Identity("relative norm error / derived tolerance"),
    check=lambda rotate, quick, rng: _norm(rotate, quick, rng),
    construction=Variant(rotary.apply, "the rotary map"),
    wrong=Variant(wrong.xpos_scaled, "xPos-style decay zeta^(i/512), zeta = 0.999 (not an isometry)"),
    numeric=Shown(Trust.CHECKED, "d in {2, 8, 64, 256}, theta in {1e4, 5e5}, positions 0, 1, 10^7 and random below"),
    tolerance_reason="relative norm error within 8 ops x d x eps64 (the angle does not enter a norm)",
    explain=lambda: _explain_norm(),
    seed=21,
    numeric_scope=NumericScope(
        (Range("d", 2, 256, "even"), Range("theta", 1e4, 5e5, "log")),
        probe=lambda d, theta: NORM.law.judge([norm_at(rotary.apply, d, theta, c.rng(21), 16)]),
        edges=({"d": 256, "theta": 1e4}, {"d": 2, "theta": 5e5})),
)

CLAIMS = [COMPOSITION, NORM]


def composition_at(rotate, d: int, theta: float, rng: np.random.Generator, n_pos: int) -> Point:
    """One (d, theta): R^j R^i x against SymPy's rho((i+j) g) x at ``n_pos`` position pairs below
    10^7; n-fold R^1 against rho(n g) x; R^T R x = x."""
    pair_rot = c.pair_rotation_function()
    g, freqs = c.theory_frequencies(d, theta), frequencies.rope(d, theta)
    x = rng.standard_normal(d)
    i = rng.integers(0, c.LONGEST_POSITION // 2, n_pos)
    j = rng.integers(0, c.LONGEST_POSITION // 2, n_pos)
    x1, x2 = c.halves(x)
    composed = np.asarray(rotate(np.asarray(rotate(x, i, freqs)), j, freqs))
    y1, y2 = pair_rot((i + j)[:, None], g, x1, x2)
    err_comp = float(np.max(np.abs(composed - np.concatenate([y1, y2], axis=-1))))
    y, err_pow = np.asarray(x), 0.0
    for n in range(1, 41):
        y = np.asarray(rotate(y, 1, freqs))
        z1, z2 = pair_rot(n, g, x1, x2)
        err_pow = max(err_pow, float(np.max(np.abs(y - np.concatenate([z1, z2])))))
    back = np.stack([rotary.rotation_matrix(int(p), freqs).T @ np.asarray(rotate(x, int(p), freqs)) for p in i[:4]])
    err_t = float(np.max(np.abs(back - x)))
    bound = tol.rotation_identity(np.float64, d, float(c.LONGEST_POSITION), np.linalg.norm(x))
    return Point({"d": d, "theta": theta}, error=max(err_comp, err_pow, err_t), bound=bound.value,
                 extra={"composition": err_comp, "power": err_pow, "transpose": err_t})


def _composition(rotate, quick: bool, rng: np.random.Generator) -> list[Point]:
    """R^j R^i x against SymPy's rho((i+j) g) x; n-fold R^1 against rho(n g) x; R^T R x = x."""
    n_pos = 8 if quick else 64
    return over_grid(grid(d=c.HEAD_DIMS, theta=c.BASES), lambda d, theta: composition_at(rotate, d, theta, rng, n_pos))


def norm_at(rotate, d: int, theta: float, rng: np.random.Generator, n_pos: int) -> Point:
    """One (d, theta): the relative norm error of R^i x at positions 0, 1, 10^7 and ``n_pos`` below."""
    x = rng.standard_normal(d)
    pos = np.concatenate([[0, 1, c.LONGEST_POSITION], rng.integers(0, c.LONGEST_POSITION, n_pos)])
    y = np.asarray(rotate(x, pos, frequencies.rope(d, theta)))
    err = np.abs(np.linalg.norm(y, axis=-1) - np.linalg.norm(x)) / np.linalg.norm(x)
    bound = tol.rotation_identity(np.float64, d, 0.0)  # norms do not depend on the angle
    return Point({"d": d, "theta": theta, "position": int(pos[err.argmax()])},
                 error=float(err.max()), bound=bound.value)


def _norm(rotate, quick: bool, rng: np.random.Generator) -> list[Point]:
    n_pos = 16 if quick else 256
    return over_grid(grid(d=c.HEAD_DIMS, theta=c.BASES), lambda d, theta: norm_at(rotate, d, theta, rng, n_pos))


def _explain_composition() -> str:
    g = 0.3
    x = np.array([1.0, 2.0])
    twice = np.asarray(rotary.apply(np.asarray(rotary.apply(x, 5, [g])), 7, [g]))
    once = np.asarray(rotary.apply(x, 12, [g]))
    return (
        f"Rotate x = (1, 2) by 5 x {g} rad, then by 7 x {g} rad: {np.round(twice, 6).tolist()}.\n"
        f"Rotate it once by 12 x {g} rad: {np.round(once, 6).tolist()} -- the same vector, "
        "because angles add. Transposing a rotation turns it backwards, so R^T = R^-1, and\n"
        "applying R^1 n times is R^n for every integer n (SymPy proves this for symbolic n by induction "
        "up and down, and via rho(a) = P diag(e^{ia}, e^{-ia}) P^-1).\nA reflection in place of the rotation is "
        "still orthogonal, but two reflections make a rotation, so composition fails."
    )


def _explain_norm() -> str:
    x = np.array([3.0, 0.0, 0.0, 4.0])
    y = np.asarray(rotary.apply(x, 10**6, frequencies.rope(4, 100.0)))
    return (
        f"x = {x.tolist()} has |x| = 5. At position 10^6 with d=4, theta=100: R^i x = "
        f"{np.round(y, 6).tolist()}, |R^i x| = {c.fmt(np.linalg.norm(y), 12)}.\n"
        "Each pair is turned, never stretched. xPos-style decay multiplies by zeta^(i/512) "
        "and changes the norm, which this check rejects."
    )
