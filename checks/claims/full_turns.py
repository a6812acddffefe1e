"""A nonzero algebraic frequency never makes a whole number of turns, and how close it comes (Lemma A.1)."""

from __future__ import annotations

import functools
import math

import flint
import jax
import mpmath
import numpy as np

from ropelab.constructions import frequencies
from ropelab.theory import diophantine, full_turns

from .. import tolerances as tol
from ..claim import Certificate, Claim, Evidence, Part, Shown, Symbolic, Trust, Variant
from ..laws import AtMost, Identity, Point, ZeroCount, judge
from ..scope import NumericScope, Range

__all__ = ["CLAIMS", "LEMMA", "lemma_frequencies", "turns_scope"]

SECTION = "§3 does RoPE decay?"

CONTEXTS = (10, 100, 10**3, 10**4, 10**5, 10**6)
# The record lows of 1 - cos(n) for g = 1 (SPEC §4, §5): convergent denominators of 1/(2 pi).
PUBLISHED_RECORD_LOWS = (6, 19, 25, 44, 333, 710, 103993)
# 60-digit arithmetic resolves ||n g / 2pi|| to ~1e-54 for n <= 1e6; anything above 1e-50 is
# certainly not a whole number of turns.
CERTIFIED_TURN_FRACTION = 1e-50
ARB_BITS = 128
CERTIFIED_TURNS = {False: 10**6, True: 10**5}  # the certificate's n <= N, full and quick

def lemma_frequencies() -> list[float]:
    """g = 1 (the top pair of every head) and a spread of g_k from the paper's bases.

    >>> lemma_frequencies()[0], len(lemma_frequencies())
    (1.0, 6)
    """
    out = [1.0]
    for d, theta, ks in ((64, 1e4, (2, 17, 32)), (256, 5e5, (65, 128))):
        freqs = frequencies.rope(d, theta)
        out += [float(freqs[k - 1]) for k in ks]
    return out


LEMMA = Claim(
    id="frequency_multiple_never_full_turn",
    label="Lemma A.1",
    section=SECTION,
    statement="For algebraic g != 0 and integer n != 0, n g is not a multiple of 2 pi, so cos(n g) < 1; "
    "how close it comes, delta_N = min_(n<=N) (1 - cos(n g)), follows from the continued fraction of g/(2 pi).",
    symbolic=Symbolic(full_turns.frequency_multiple_never_full_turn,
                      Shown(Trust.PROVED, "every algebraic g != 0 and every integer n != 0 (symbolic); every g_k "
                                          "= theta^(-2(k-1)/d) with rational theta, and every float64 number, is algebraic",
                            ("Lindemann 1882: pi is transcendental (SymPy's pi.is_transcendental)",),
                            hypotheses=("g algebraic (every rational theta, so every float theta, gives algebraic "
                                        "g_k); for transcendental g such as 2 pi / 7 it fails",))),
    parts=(Part("For algebraic g != 0 and integer n != 0, n g is not a multiple of 2 pi, so cos(n g) < 1",
                ("symbolic", "numeric")),
           Part("how close it comes, delta_N = min_(n<=N) (1 - cos(n g)), follows from the continued fraction of g/(2 pi)",
                ("certificate", "numeric"))),
    errata=("E14",),
    law={"scan agrees with the exact minimum": Identity("|scan - exact delta_N| / scan error bound"),
         "never a whole number of turns": AtMost("1e-50 / distance of n g / 2 pi to an integer, minus 1"),
         "record lows are the convergents": ZeroCount("frequencies whose scanned record lows differ"),
         "published record lows for g = 1": ZeroCount("mismatch with the published record lows")},
    check=lambda freq_list, quick, rng: _lemma(freq_list(), quick),
    construction=Variant(lambda: lemma_frequencies(), "g = 1 and a spread of g_k at theta = 1e4, 5e5"),
    wrong=Variant(lambda: _commensurate_frequencies(), "g = 2 pi / 7 (a rational number of turns per step) in place of g = 1"),
    numeric=Shown(Trust.CHECKED, "g = 1 and g_k for (d, theta, k) = (64, 1e4, 2 | 17 | 32), (256, 5e5, 65 | 128); "
                                 "every n <= 1e6 (1e5 quick) by a float64 scan against 60-digit continued fractions"),
    certificate=Certificate(
        chunks=lambda quick: [(g, CERTIFIED_TURNS[quick]) for g in lemma_frequencies()],
        run=lambda chunk: certify_near_returns(chunk),
        shown=Shown(Trust.CERTIFIED, "the same float64 frequencies (their exact binary values), every n <= 1e6 "
                                     "(1e5 with --quick): 1 - cos(n g) > 0 as an Arb ball, and the record lows are "
                                     "exactly the continued-fraction ones"),
        covers=lambda quick: turns_scope(quick)),
    tolerance_reason="scan vs exact delta_N within sqrt(2 delta) eps64 N g / 2 + 4 eps64 delta "
    "(rounding of the angle n g); turn fraction above 1e-50 (60-digit arithmetic)",
    explain=lambda: _explain_lemma(),
    figures=("rotated_key_argmax",),
    numeric_scope=NumericScope(
        (Range.choice("g", tuple(lemma_frequencies())), Range("N", 2, 10**5, "integer")),
        probe=lambda g, N: _lemma_at(g, N),
        edges=({"g": 1.0, "N": 710}, {"g": 1.0, "N": 709}, {"g": 1.0, "N": 10**5})),
)

CLAIMS = [LEMMA]


def _commensurate_frequencies() -> list:
    with mpmath.workdps(diophantine.DIGITS):
        return [2 * mpmath.pi / 7] + lemma_frequencies()[1:]


@functools.cache
def _scan_function(length: int):
    """Compiled O(N) scan: ``g -> min_(1<=n<=N') (1 - cos(n g))`` for every ``N' <= length``."""

    @jax.jit
    def scan(g):
        n = jax.numpy.arange(1, length + 1, dtype=jax.numpy.float64)
        # 2 sin^2(n g / 2) = 1 - cos(n g) without cancellation at near-returns
        return jax.lax.cummin(2.0 * jax.numpy.sin(n * g / 2.0) ** 2)

    return scan


def _scan_tolerance(delta: float, n_max: int, g: float) -> float:
    """Error of the float64 scan: the angle n g is rounded by up to eps/2 n g, which moves
    2 sin^2(x/2) by |sin x| <= sqrt(2 delta) times that; sin and the square add a few eps."""
    value = math.sqrt(2.0 * delta) * tol.EPS64 * n_max * abs(g) / 2.0 + 4.0 * tol.EPS64 * delta
    return max(value, 1e-300)  # an exact full turn (delta = 0) must give a finite, huge ratio


def closest_return_at(g, n_ctx: int, prefix_min: np.ndarray) -> tuple[Point, Point]:
    """One (g, N): the float64 scan's minimum of 1 - cos(n g) over n <= N (``prefix_min[N - 1]``)
    against the exact closest return, and that return's distance from a whole number of turns."""
    g_float = float(g)
    exact = diophantine.closest_return(g, n_ctx)
    scanned = float(prefix_min[n_ctx - 1])
    where = {"g": g_float, "N": n_ctx, "argmin": exact.n}
    agreement = Point(where, error=abs(scanned - exact.delta), bound=_scan_tolerance(exact.delta, n_ctx, g_float),
                      extra={"delta_exact": exact.delta, "delta_scan": scanned})
    with mpmath.workdps(diophantine.DIGITS):
        fraction = float(diophantine.distance_to_integer(mpmath.mpf(exact.n) * mpmath.mpf(g) / (2 * mpmath.pi)))
    apart = Point(where, value=CERTIFIED_TURN_FRACTION / max(fraction, 1e-300), limit=1.0,
                  extra={"turn_fraction": fraction})
    return agreement, apart


def _lemma_at(g: float, n: int) -> Evidence:
    """The numeric side at one point of its scope: the scan to 10^5 tokens read at N."""
    agreement, apart = closest_return_at(g, n, np.asarray(_scan_function(10**5)(g)))
    return judge({key: LEMMA.law[key] for key in ("scan agrees with the exact minimum", "never a whole number of turns")},
                 {"scan agrees with the exact minimum": [agreement], "never a whole number of turns": [apart]})


def _lemma(freq_list, quick: bool) -> dict[str, list[Point]]:
    longest = CONTEXTS[-1] if not quick else 10**5
    contexts = [n for n in CONTEXTS if n <= longest]
    agreement, turns_apart, records, published = [], [], [], []
    for g in freq_list:
        g_float = float(g)
        prefix_min = np.asarray(_scan_function(longest)(g_float))
        for n_ctx in contexts:
            agree, apart = closest_return_at(g, n_ctx, prefix_min)
            agreement.append(agree)
            turns_apart.append(apart)
        # record lows: the scan's strict new minima against the continued-fraction convergents
        scanned_records = (np.flatnonzero(np.diff(prefix_min, prepend=np.inf) < 0) + 1).tolist()
        exact_records = diophantine.record_lows(g, longest)
        records.append(Point({"g": g_float}, violations=float(scanned_records != exact_records),
                             extra={"scan_records": scanned_records[:12], "exact_records": exact_records}))
        if g_float == 1.0:
            found = [n for n in exact_records if 1 < n <= PUBLISHED_RECORD_LOWS[-1]]
            expected = [n for n in PUBLISHED_RECORD_LOWS if n <= longest]
            published.append(Point({"g": 1.0}, violations=float(found != expected),
                                   extra={"record_lows": found, "published": expected}))
    if not published:  # no g = 1 among the frequencies: the published records cannot be matched
        published.append(Point({"g": 1.0}, violations=1.0, extra={"record_lows": "g = 1 not checked"}))
    return {"scan agrees with the exact minimum": agreement, "never a whole number of turns": turns_apart,
            "record lows are the convergents": records, "published record lows for g = 1": published}


def turns_scope(quick: bool):
    """The stated coverage: each frequency of :func:`lemma_frequencies`, every ``n`` in ``[1, N]``.

    >>> turns_scope(quick=True).cases[(1.0,)]
    ((1, 100001),)
    """
    from ._certify import Coverage

    return Coverage.of(("g",), "n", [(g, 1, CERTIFIED_TURNS[quick] + 1) for g in lemma_frequencies()])


def certify_near_returns(chunk: tuple[float, int]) -> Evidence:
    """Arb balls of ``2 sin^2(n g / 2)`` for every ``n <= N``: all positive, records as the convergents.

    A record low is a ball certainly below the running minimum; a ball that overlaps it is
    counted as uncertified. Residual: nonpositive balls + undecided comparisons + record mismatch.
    """
    g, longest = chunk
    bad, undecided, records, seen = 0, 0, [], 0
    with flint.ctx.workprec(ARB_BITS):
        g_ball, low, lowest = flint.arb(float(g)), None, math.inf
        for n in range(1, longest + 1):
            seen += 1
            value = 2 * ((n * g_ball) / 2).sin() ** 2
            if not value > 0:
                bad += 1
            if low is None or value < low:
                records.append(n)
                low = value
            elif not value > low:
                undecided += 1
        lowest = float(low.lower())
    expected = diophantine.record_lows(g, longest)
    mismatch = int(records != expected)
    return Evidence(float(bad + undecided + mismatch), 0.0, {"g": float(g), "N": longest}, {
        "unit": "nonpositive balls + undecided comparisons + record mismatch", "records": records,
        "certified_lowest_lower_bound": lowest, "covers": [(float(g), 1, 1 + seen)]})


def _explain_lemma() -> str:
    with mpmath.workdps(diophantine.DIGITS):
        cf = diophantine.continued_fraction(1 / (2 * mpmath.pi), 9)
    lows = diophantine.record_lows(1.0, 10**6)
    table = ", ".join(f"{n}: {float(diophantine.one_minus_cos(n, 1.0)):.3g}" for n in lows[1:])
    return (
        "Take g = 1 (every head's top pair). n g is a whole number of turns only if n / (2 pi) is an "
        "integer, i.e. if pi were rational; SymPy derives it for symbolic integers n, m and an algebraic g, "
        "citing Lindemann's theorem (pi is transcendental) through its assumption system; every "
        "g_k = theta^(-2(k-1)/d) is algebraic, so cos(n g_k) < 1 for every n != 0.\n"
        f"How close it gets: 1/(2 pi) = [{cf[0]}; {', '.join(map(str, cf[1:]))}, ...]; the record lows of "
        f"1 - cos(n) fall at the convergent denominators -- {table}.\n"
        "The float64 scan of 1 - cos(n) over n <= 10^6 finds the same records and values; `verify --certify` "
        "re-derives every value as an Arb ball. The lemma needs g algebraic; every float64 number is one "
        "(a dyadic rational), so the frequencies a program holds are covered too.\n"
        "With g = 2 pi / 7 (a rational number of turns per step) n = 7 returns exactly: "
        "1 - cos(7 g) = 0 and the check rejects it."
    )
