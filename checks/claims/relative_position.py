"""A RoPE logit depends only on the relative position, pair by pair a norm times a cosine (Eq. 3)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ropelab.constructions import frequencies, rotary
from ropelab.constructions import wrong_rotations as wrong
from ropelab.theory import rotations as th

from .. import tolerances as tol
from ..claim import Claim, Part, Shown, Symbolic, Trust, Variant
from ..laws import Identity, Point, grid, over_grid
from ..scope import NumericScope, Range
from . import _common as c

__all__ = ["CLAIMS"]

SECTION = "§2 RoPE algebra"

RELATIVE = Claim(
    id="rope_score_depends_on_relative_position",
    label="Eq. 3",
    section=SECTION,
    statement="(R^i q)^T (R^j k) = q^T R^(j-i) k, hence a_(i+s, j+s) = a_ij.",
    symbolic=Symbolic(th.rope_score_depends_on_relative_position,
                      Shown(Trust.PROVED, "every even d = 2h (h symbolic, the logit a Sum over pairs k = 1..h "
                                          "of the block-diagonal R^i), integers i, j, s, real frequencies g_k")),
    parts=(Part("(R^i q)^T (R^j k) = q^T R^(j-i) k", ("symbolic", "numeric")),
           Part("hence a_(i+s, j+s) = a_ij", ("symbolic", "numeric"))),
    law=Identity("logit error / derived tolerance"),
    check=lambda rotate_key, quick, rng: _relative(rotate_key, quick, rng),
    construction=Variant(rotary.apply, "the key rotated by R^j"),
    wrong=Variant(wrong.key_rotated_backwards, "the key rotated backwards, R^(-j) k"),
    numeric=Shown(Trust.CHECKED, "d in {2, 8, 64, 256}, theta in {1e4, 5e5}, positions and shifts up to 5 x 10^6"),
    tolerance_reason="8 ops x d x (largest angle 10^7 + 1) x eps64 x |q||k|",
    explain=lambda: _explain_relative(),
    seed=22,
    numeric_scope=NumericScope(
        (Range("d", 2, 256, "even"), Range("theta", 1e4, 5e5, "log")),
        probe=lambda d, theta: RELATIVE.law.judge([relative_at(rotary.apply, d, theta, c.rng(22), 16)]),
        edges=({"d": 256, "theta": 5e5}, {"d": 2, "theta": 1e4}, {"d": 98, "theta": 123456.0})),
)

CHUNK = Claim(
    id="chunk_score_is_norm_times_cosine",
    label="Thm 6.1 proof",
    section=SECTION,
    statement="x^T rho(phi) y = |x| |y| cos(phi + angle(y) - angle(x)) for 2-vectors x, y.",
    symbolic=Symbolic(th.chunk_score_is_norm_times_cosine,
                      Shown(Trust.PROVED, "every 2-vector x, y in polar form (r_x, alpha), (r_y, beta), every real phi")),
    parts=(Part("x^T rho(phi) y = |x| |y| cos(phi + angle(y) - angle(x)) for 2-vectors x, y", ("symbolic", "numeric")),),
    law=Identity("relative error / derived tolerance"),
    check=lambda closed_form, quick, rng: _chunk(closed_form(), quick, rng),
    construction=Variant(lambda: _polar(th.chunk_score_closed_form()), "the closed form, lambdified"),
    wrong=Variant(lambda: _polar(_swapped()), "the two angles in the other order, cos(phi - angle(y) + angle(x))"),
    numeric=Shown(Trust.CHECKED, "5000 random pairs x, y and angles phi in [0, 50] rad"),
    tolerance_reason="relative to |x||y|: 8 ops x 2 x (phi <= 50 + 1) x eps64",
    explain=lambda: _explain_chunk(),
    corrected="Thm 6.1's proof rests on this identity; its index slips (j != k for j != n, alpha_(i,k) for "
              "alpha_(i,n)) and its eps are erratum E8.",
    errata=("E8",),
    seed=23,
    numeric_scope=NumericScope(
        (Range("position", 0, 4099, "integer"), Range("seed", 0, 2**31, "integer")),
        probe=lambda position, seed: CHUNK.law.judge(chunk_at(
            _polar(th.chunk_score_closed_form()), *np.random.default_rng(seed).standard_normal((2, 1, 2)),
            np.array([position]))),
        edges=({"position": 0, "seed": 0}, {"position": 4099, "seed": 1}, {"position": 2049, "seed": 2})),
)

CLAIMS = [RELATIVE, CHUNK]



def relative_at(rotate_key, d: int, theta: float, rng: np.random.Generator, n_pos: int) -> Point:
    """One (d, theta): a_(i,j) and a_(i+s, j+s) against SymPy's relative form at ``n_pos`` draws of
    i, j, s below 5 x 10^6."""
    freqs, g = frequencies.rope(d, theta), c.theory_frequencies(d, theta)
    q, k = rng.standard_normal(d), rng.standard_normal(d)
    i, j, s = (rng.integers(0, c.LONGEST_POSITION // 2, n_pos) for _ in range(3))
    ours = np.sum(np.asarray(rotary.apply(q, i, freqs)) * np.asarray(rotate_key(k, j, freqs)), -1)
    shifted = np.sum(np.asarray(rotary.apply(q, i + s, freqs)) * np.asarray(rotate_key(k, j + s, freqs)), -1)
    theirs = c.symbolic_logit(q, k, i, j, g)
    err = np.maximum(np.abs(ours - theirs), np.abs(shifted - theirs))
    m = int(err.argmax())
    bound = tol.rotation_identity(np.float64, d, float(c.LONGEST_POSITION), np.linalg.norm(q) * np.linalg.norm(k))
    return Point({"d": d, "theta": theta, "i": int(i[m]), "j": int(j[m]), "s": int(s[m])},
                 error=float(err[m]), bound=bound.value, extra={"ours": float(ours[m]), "sympy": float(theirs[m])})


def _relative(rotate_key, quick: bool, rng: np.random.Generator) -> list[Point]:
    n_pos = 16 if quick else 256
    return over_grid(grid(d=c.HEAD_DIMS, theta=c.BASES),
                     lambda d, theta: relative_at(rotate_key, d, theta, rng, n_pos))


CHUNK_FREQ = 50.0 / 4099.0  # an irrational-looking g: positions 0..4099 cover [0, 50] rad


def _chunk(closed_form, quick: bool, rng: np.random.Generator) -> list[Point]:
    n = 200 if quick else 5000
    x, y = rng.standard_normal((n, 2)), rng.standard_normal((n, 2))
    return chunk_at(closed_form, x, y, rng.integers(0, 4100, n))


def chunk_at(closed_form, x: np.ndarray, y: np.ndarray, positions: np.ndarray) -> list[Point]:
    """Chunk scores x . R^p y against the closed form at angles phi = p g (rows of ``x``, ``y``: 2-vectors)."""
    n, g = len(x), CHUNK_FREQ
    phi = positions * g
    ours = np.sum(x * np.asarray(rotary.apply(y, positions, [g])), axis=-1)
    theirs = closed_form(x[:, 0], x[:, 1], y[:, 0], y[:, 1], phi)
    err = np.abs(ours - theirs) / (np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1))
    m = int(err.argmax())
    bound = tol.rotation_identity(np.float64, 2, 50.0)
    return [Point({"x": x[m].tolist(), "y": y[m].tolist(), "phi": float(phi[m]), "samples": n},
                  error=float(err[m]), bound=bound.value)]


def _polar(closed_form: sp.Lambda):
    """The polar closed form as a function of Cartesian ``(x1, x2, y1, y2, phi)`` arrays."""
    score = sp.lambdify(closed_form.variables, closed_form.expr, "numpy")
    return lambda x1, x2, y1, y2, phi: score(np.hypot(x1, x2), np.arctan2(x2, x1), np.hypot(y1, y2),
                                             np.arctan2(y2, y1), phi)


def _swapped() -> sp.Lambda:
    rx, alpha, ry, beta, phi = th.chunk_score_closed_form().variables
    return sp.Lambda((rx, alpha, ry, beta, phi), rx * ry * sp.cos(phi - beta + alpha))


def _explain_relative() -> str:
    q, k = np.array([1.0, 2.0, 0.5, -1.0]), np.array([0.5, -1.0, 2.0, 1.0])
    freqs = frequencies.rope(4, 100.0)

    def a(i: int, j: int) -> float:
        return float(np.asarray(rotary.apply(q, i, freqs)) @ np.asarray(rotary.apply(k, j, freqs)))

    relative = float(q @ (rotary.rotation_matrix(1, -freqs * 3) @ k))
    return (
        f"d=4, theta=100, q={q.tolist()}, k={k.tolist()} (pairs (x0,x2), (x1,x3)).\n"
        f"a_52 = (R^5 q)^T (R^2 k) = {c.fmt(a(5, 2), 10)}\n"
        f"a_(5+1000, 2+1000) = {c.fmt(a(1005, 1002), 10)}\n"
        f"q^T R^(2-5) k = {c.fmt(relative, 10)}\n"
        "Only the distance j - i = -3 matters, because R^i^T R^j = R^(j-i).\n"
        f"At distance 0 the logit is the plain dot product q.k = {c.fmt(float(q @ k), 10)}.\n"
        "Rotating the key backwards (R^-j k) breaks the identity: the check rejects it."
    )


def _explain_chunk() -> str:
    x, y, phi = np.array([2.0, 0.0]), np.array([0.0, 3.0]), 0.5
    score = float(x @ np.asarray(rotary.apply(y, 1, [phi])))
    return (
        f"x = (2, 0) at angle 0, y = (0, 3) at angle pi/2, phi = {phi}.\n"
        f"x^T rho(phi) y = {c.fmt(score, 10)} and |x||y| cos(phi + pi/2 - 0) = "
        f"{c.fmt(6 * np.cos(phi + np.pi / 2), 10)}.\n"
        "A pair's score is the product of norms times the cosine of the angle between the query "
        "and the rotated key. With the two angles in the other order one would get 6 cos(phi - pi/2) = "
        f"{c.fmt(6 * np.cos(phi - np.pi / 2), 10)}, which the check rejects."
    )
