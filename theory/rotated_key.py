r"""Prop 3.1: the key :math:`R^r q` makes distance ``r`` the unique maximum of the logit.

With the query ``q`` at every position and the key :math:`k = R^r q` at every position, the
logit of query ``i`` and key ``j`` at distance ``t = i - j`` is

.. math:: a_{ij} = (R^i q)^\top R^j R^r q = \sum_k |q^{(k)}|^2 \cos\big((r - t) g_k\big),

so :math:`|q|^2 - a_{ij} = \sum_k 2 |q^{(k)}|^2 \sin^2\big((r - t) g_k / 2\big) \ge 0`, with
equality exactly when every :math:`(r-t) g_k` with :math:`q^{(k)} \ne 0` is a whole number of
turns, which Lemma A.1 (:mod:`ropelab.theory.full_turns`) rules out for ``t != r``. The gap
is written as a sum of squared sines so that ball arithmetic evaluates tiny gaps without
cancellation (:func:`chunk_gap`, the one closed form the proof and the certificate share).
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation, derive, is_zero
from .full_turns import frequency_multiple_never_full_turn
from .rotations import g, i, j, q1, q2, rho

__all__ = [
    "chunk_gap",
    "distance",
    "exact_frequencies",
    "r",
    "rotated_key_logit_balls",
    "rotated_key_maximises_logit_at_distance",
    "rotated_key_peak_ball",
]

r = sp.Symbol("r", integer=True, nonnegative=True)
distance = sp.Symbol("t", integer=True)


def chunk_gap() -> sp.Expr:
    r"""One pair's shortfall from its bound: :math:`2 (q_1^2 + q_2^2)\sin^2((r - t) g / 2)`.

    >>> chunk_gap().subs({distance: r})
    0
    """
    return 2 * (q1**2 + q2**2) * sp.sin((r - distance) * g / 2) ** 2


def _step(description: str, ok: bool | None) -> tuple[str, bool]:
    # SymPy's three-valued logic: only an explicit True counts as proved
    return f"{'proved' if ok is True else 'NOT proved'}: {description}", ok is True


def rotated_key_maximises_logit_at_distance() -> Derivation:
    r"""SymPy's proof of Prop 3.1 for every even ``d``, every :math:`\theta`, ``r`` and context.

    Per pair, with :math:`a = ig`, :math:`b = jg`, :math:`c = rg` and
    :math:`\phi = b + c - a = (r - (i-j))g` symbolic:

    1. :math:`\rho(a)^\top\rho(b)\rho(c) = \rho(\phi)`, so the pair's logit is
       :math:`q^\top\rho(\phi)q = (q_1^2+q_2^2)\cos\phi` (Eq. 3 with :math:`k = \rho(rg) q`);
    2. the shortfall :math:`|q|^2 - |q|^2\cos\phi` is :func:`chunk_gap`, a nonnegative square,
       0 at :math:`i - j = r`.

    Over the pairs, with a symbolic number ``n = d/2`` of pairs, symbolic weights
    :math:`w_k = |q^{(k)}|^2 \ge 0` and real angles :math:`\phi_k` (any frequencies, any
    distance, so any :math:`\theta`, ``r`` and context):

    3. :math:`\sum_{k\le n} w_k - \sum_{k \le n} w_k\cos\phi_k = \sum_{k\le n} 2 w_k\sin^2(\phi_k/2)`;
    4. that sum of nonnegative terms is nonnegative (SymPy's assumptions on the Sum), so
       :math:`a_{ij} \le |q|^2` with equality at :math:`i - j = r`;
    5. a term vanishes with :math:`w_k > 0` only where :math:`\cos\phi_k = 1`, i.e.
       :math:`(r - t) g_k \in 2\pi\mathbb{Z}` (``solveset``), which Lemma A.1 excludes for
       ``t != r`` (its derivation is rerun here); ``q != 0`` has some :math:`w_k > 0`.

    Reference: Barbero et al. (2025) Prop 3.1; claim ``rotated_key_maximises_logit_at_distance``.

    >>> rotated_key_maximises_logit_at_distance().holds
    True
    """
    a, b, c, phi = sp.symbols("a b c phi", real=True)
    q = sp.Matrix([q1, q2])
    norm2 = q1**2 + q2**2
    composed = rho(a).T * rho(b) * rho(c) - rho(b + c - a)
    gap = chunk_gap()
    # the closed form at distance t, read as a function of the pair angle phi = (r - t) g
    gap_at_phi = gap.subs(distance, r - phi / g)
    per_pair = derive(
        "per pair: the key rho(r g) q gives (q1^2 + q2^2) cos((r - (i-j)) g), short of q1^2 + q2^2 by chunk_gap",
        [
            ("rho(a)^T rho(b) rho(c) - rho(b + c - a) = 0 (a = ig, b = jg, c = rg)", sp.expand_trig(composed)),
            ("q^T rho(phi) q - |q|^2 cos(phi) = 0", (q.T * rho(phi) * q)[0] - norm2 * sp.cos(phi)),
            ("|q|^2 - q^T rho(phi) q - chunk_gap = 0 (the shortfall is chunk_gap)",
             norm2 - (q.T * rho(phi) * q)[0] - gap_at_phi),
            ("chunk_gap at i - j = r is 0", gap.subs(distance, i - j).subs(i, j + r)),
        ],
    )
    nonnegative = _step("chunk_gap >= 0 for real q1, q2, g and integers r, t", gap.is_nonnegative)

    k, n = sp.symbols("k n", integer=True, positive=True)
    w = sp.IndexedBase("w", nonnegative=True)
    angle = sp.IndexedBase("phi", real=True)
    term = 2 * w[k] * sp.sin(angle[k] / 2) ** 2
    shortfall = sp.Sum(term, (k, 1, n))
    combined = sp.simplify(sp.Sum(w[k], (k, 1, n)) - sp.Sum(w[k] * sp.cos(angle[k]), (k, 1, n)) - shortfall)
    summed = isinstance(combined, sp.Sum) and is_zero(combined.function) or combined == 0
    x = sp.Symbol("x", real=True)
    # 2 sin^2(phi/2) = 1 - cos(phi) (step 3 per pair), so a term vanishes where cos(phi) = 1
    zeros_are_turns = _is_full_turns(sp.solveset(sp.cos(x) - 1, x, sp.S.Reals))
    lemma = frequency_multiple_never_full_turn()
    steps = list(per_pair.steps)
    facts = [
        nonnegative,
        _step("sum_(k<=n) w_k - sum_(k<=n) w_k cos(phi_k) = sum_(k<=n) 2 w_k sin^2(phi_k / 2), symbolic n", summed),
        _step("sum_(k<=n) 2 w_k sin^2(phi_k / 2) >= 0 for w_k >= 0, real phi_k, symbolic n", shortfall.is_nonnegative),
        _step("2 sin^2(phi / 2) = 1 - cos(phi) = 0 exactly for phi in 2 pi Z (solveset over the reals)", zeros_are_turns),
        _step("(r - t) g_k in 2 pi Z is impossible for t != r (Lemma A.1, frequency_multiple_never_full_turn)",
              lemma.holds),
    ]
    steps += [text for text, _ in facts]
    return Derivation(
        "the key R^r q gives a_ij = sum_k |q^(k)|^2 cos((r - (i-j)) g_k) <= |q|^2, with equality iff i - j = r",
        per_pair.holds and all(ok for _, ok in facts),
        tuple(steps),
    )


def _is_full_turns(solutions: sp.Set) -> bool:
    # solveset returns {2*pi*_n : _n in Z} with its own dummy variable; compare structurally
    return (isinstance(solutions, sp.ImageSet) and solutions.base_sets == (sp.S.Integers,)
            and sp.simplify(solutions.lamda.expr - 2 * sp.pi * solutions.lamda.variables[0]) == 0)


# --- Arb enclosures for the certificate ------------------------------------------------------

def exact_frequencies(d: int, theta: float, bits: int = 128) -> list:
    r"""Arb balls of the exact frequencies :math:`g_m = \theta^{-2m/d}`, ``m = 0 .. d/2 - 1``, with
    ``theta`` taken as the exact binary value of the float (python-flint, ``bits`` of precision).

    >>> g = exact_frequencies(4, 100.0)
    >>> g[0] == 1, bool(abs(10 * g[1] - 1) < 1e-15)   # 100^0 and 100^(-1/2)
    (True, True)
    """
    import flint

    with flint.ctx.workprec(bits):
        base = flint.arb(float(theta))
        return [base ** (flint.arb(-2 * m) / d) for m in range(d // 2)]


def rotated_key_logit_balls(q, freqs, shift: int, start: int, stop: int, block: int = 1024, rows: int = 64,
                            bits: int = 128):
    r"""Arb balls of the logit :math:`c(t) = q^\top R^{-t} k` of the key :math:`k = R^r q`, for every
    distance ``t`` in ``[start, stop)``, yielded as ``(first t, [balls])`` per block of ``block`` distances.

    The key is rotated in ball arithmetic from the exact binary ``q`` (half layout, pairs
    ``(q[m], q[m + d/2])``) by the angles ``r g_m`` (``freqs``: Arb balls); per pair the logit is
    :math:`A\cos(t g) + B\sin(t g)` with :math:`A = q\cdot k`, :math:`B = q_1 k_2 - q_2 k_1`, and
    ``t = b + j`` splits by angle addition, so each block of ``rows`` blocks is one Arb matrix
    product (coefficients at the block starts ``b`` times ``cos, sin(j g)``). Nothing is assumed
    about the closed form of the gap: the balls enclose the logits themselves.

    >>> import flint
    >>> (b, balls), = rotated_key_logit_balls([1.0, 0.0], [flint.arb(1)], 3, 0, 6)
    >>> b, [bool(x < balls[3]) for x in balls]   # t = r = 3 is the peak, |q|^2 = 1
    (0, [True, True, True, False, True, True])
    """
    import flint

    half = len(q) // 2
    if len(q) != 2 * half or len(freqs) != half or half == 0:
        raise ValueError(f"q must have an even length 2 x len(freqs) > 0, got {len(q)} and {len(freqs)} frequencies")
    with flint.ctx.workprec(bits):
        q1 = [flint.arb(float(x)) for x in q[:half]]
        q2 = [flint.arb(float(x)) for x in q[half:]]
        a_coef, b_coef = [], []
        for x1, x2, g in zip(q1, q2, freqs):
            angle = shift * g
            k1, k2 = angle.cos() * x1 - angle.sin() * x2, angle.sin() * x1 + angle.cos() * x2
            a_coef.append(x1 * k1 + x2 * k2)
            b_coef.append(x1 * k2 - x2 * k1)
        width = min(block, max(stop - start, 1))
        offsets = flint.arb_mat([[(j * g).cos() for j in range(width)] for g in freqs]
                                + [[(j * g).sin() for j in range(width)] for g in freqs])
        starts = list(range(start, stop, width))
        for first in range(0, len(starts), rows):
            batch = starts[first:first + rows]
            coeffs = []
            for b in batch:
                cb = [(b * g).cos() for g in freqs]
                sb = [(b * g).sin() for g in freqs]
                coeffs.append([a * c + bb * s for a, bb, c, s in zip(a_coef, b_coef, cb, sb)]
                              + [bb * c - a * s for a, bb, c, s in zip(a_coef, b_coef, cb, sb)])
            values = (flint.arb_mat(coeffs) * offsets).tolist()
            for b, row in zip(batch, values):
                yield b, row[:min(width, stop - b)]


def rotated_key_peak_ball(q, freqs, shift: int, bits: int = 128):
    r"""Arb ball of the logit at the key's own distance, :math:`c(r) = q^\top R^{-r} R^r q` (``= |q|^2``),
    evaluated the same way as :func:`rotated_key_logit_balls` but on its own (no block).

    >>> import flint
    >>> bool(abs(rotated_key_peak_ball([3.0, 4.0], [flint.arb(1)], 10**6) - 25) < 1e-30)
    True
    """
    (_, (ball,)), = rotated_key_logit_balls(q, freqs, shift, shift, shift + 1, bits=bits)
    return ball
