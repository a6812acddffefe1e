"""One frequency returns close to a full turn at continued-fraction convergents: why one pair needs huge norms."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import sympy as sp

from ropelab.constructions import frequencies, relative_position
from ropelab.theory import diophantine
from ropelab.theory import near_returns as th_nr

from ..claim import Certificate, Claim, Part, Evidence, Shown, Symbolic, Trust, Variant
from ..laws import Point, ZeroCount, grid, over_grid
from ..scope import NumericScope, Range
from . import _common as c
from .positional_heads import ARB_BITS, THETA

__all__ = ["CLAIMS", "SPEC_RECORDS_G1", "certify_records", "record_chunks", "record_scope"]

SECTION = "§5 positional heads"

SPEC_RECORDS_G1 = (6, 19, 25, 44, 333, 710, 103993)
NEAR_RETURN_CONTEXTS = (100, 1000, 8192)
CERTIFIED_RECORD_CONTEXT = {False: 10**6, True: 200_000}  # m < N, full and quick
CERTIFIED_RECORD_CHUNK = 125_000

NEAR_RETURNS = Claim(
    id="near_returns_at_continued_fraction_convergents",
    label="beyond",
    section=SECTION,
    statement="For one frequency g the worst competitor of a diagonal head within N tokens is the largest "
    "convergent denominator of g/2pi below N; for g = 1 the record lows of 1 - cos(m) fall at "
    "6, 19, 25, 44, 333, 710, 103993.",
    symbolic=Symbolic(th_nr.near_return_identity,
                      Shown(Trust.PROVED, "1 - cos(2 pi (p + x)) = 2 sin^2(pi x) for every integer p and real x; "
                                          "with the cited theorem, every g with g/2pi irrational and every N",
                            ("Lagrange: best approximations of the second kind are convergents (Khinchin, "
                             "Continued Fractions, Thm 16-17)",),
                            hypotheses=("g/2pi irrational (every algebraic g, Lemma A.1)",))),
    parts=(Part("For one frequency g the worst competitor of a diagonal head within N tokens is the largest convergent "
                "denominator of g/2pi below N", ("symbolic", "numeric")),
           Part("for g = 1 the record lows of 1 - cos(m) fall at 6, 19, 25, 44, 333, 710, 103993",
                ("certificate", "numeric"))),
    law={"records of g = 1": ZeroCount("record lists or SPEC records that differ from the prediction"),
         "argmin per frequency": ZeroCount("argmins that differ from the prediction or from mpmath")},
    check=lambda predict, quick, rng: _near_returns(predict, quick),
    construction=Variant(lambda g, n: _convergents(g, n), "the largest convergent denominator of g/2pi below N"),
    wrong=Variant(lambda g, n: _one_period(g, n), "the worst competitor guessed one rounded period away, round(2 pi / g)"),
    numeric=Shown(Trust.CHECKED, "g = 1 up to N = 10^6 (record lows of the float64 curve); the 32 frequencies "
                                 "of d=64, theta=1e4 at N in {100, 1000, 8192}"),
    certificate=Certificate(chunks=lambda quick: record_chunks(quick), run=lambda chunk: certify_records(chunk),
                            shown=Shown(Trust.CERTIFIED, "g = 1, every m < 10^6 (2 x 10^5 with --quick): each record "
                                                         "low of 1 - cos(m) (Arb balls of 2 sin^2(m/2)) is a convergent "
                                                         "denominator of 1/(2 pi) and every other m is strictly above "
                                                         "the record"),
                            covers=lambda quick: record_scope(quick)),
    tolerance_reason="exact integer comparison (0 mismatches) between the JAX scan, SymPy's continued "
    "fraction and mpmath",
    explain=lambda: _explain(),
    errata=("E14",),
    figures=("near_returns",),
    numeric_scope=NumericScope(
        (Range("g", float(frequencies.rope(64, THETA)[-1]), 1.0, "log"), Range("context", 100, 8192, "integer")),
        probe=lambda g, context: NEAR_RETURNS.law["argmin per frequency"].judge(
            [argmin_at(NEAR_RETURNS.construction.build, g, context)]),
        edges=({"g": 1.0, "context": 8192}, {"g": 1.0, "context": 711}, {"g": 2 * math.pi / 7 * (1 + 2**-30), "context": 1000},
               {"g": float(frequencies.rope(64, THETA)[-1]), "context": 100})),
)

CLAIMS = [NEAR_RETURNS]


def _convergents(g: float, context: int) -> tuple[int, list[int]]:
    dens = th_nr.convergent_denominators(th_nr.frequency_ratio(g), context - 1)
    return dens[-1], dens


def _one_period(g: float, context: int) -> tuple[int, list[int]]:
    """Wrong: the worst competitor one rounded period away, round(2 pi / g) (or 1 beyond the context)."""
    period = int(round(2 * math.pi / g))
    worst = period if period <= context - 1 else 1
    return worst, sorted({1, worst})


def _records_from_curve(context: int) -> list[int]:
    """Record lows of 1 - cos(m) over m = 1 .. N-1, from the JAX curve of one pair g = 1."""
    unit = np.array([1.0, 0.0])
    gaps = 1.0 - relative_position.logit_curve(unit, unit, np.array([1.0]), context)[1:]
    running = np.minimum.accumulate(gaps)
    new_low = np.concatenate([[True], running[1:] < running[:-1]])
    return (np.flatnonzero(new_low) + 1).tolist()


def _near_returns(predict, quick: bool) -> dict[str, list[Point]]:
    long_context = 200_000 if quick else 10**6
    found = _records_from_curve(long_context)
    predicted = predict(1.0, long_context)[1]
    records = [Point({"g": 1.0, "context": long_context}, violations=float(found != predicted),
                     extra={"records_from_scan": found, "predicted": predicted})]
    records += [Point({"spec_record": m}, violations=float(m not in predicted)) for m in SPEC_RECORDS_G1
                if m < long_context]
    freqs = [float(g) for g in frequencies.rope(64, THETA)[:: 2 if quick else 1]]
    return {"records of g = 1": records,
            "argmin per frequency": over_grid(grid(context=NEAR_RETURN_CONTEXTS, g=freqs),
                                              lambda context, g: argmin_at(predict, g, context))}


def argmin_at(predict, g: float, context: int) -> Point:
    """One (g, N): the worst competitor distance 1 <= m < N of the float64 curve, against the
    prediction and against mpmath's closest return."""
    unit = np.array([1.0, 0.0])
    scan = int(np.argmin(1.0 - relative_position.logit_curve(unit, unit, np.array([g]), context)[1:])) + 1
    worst = predict(g, context)[0]
    mp = diophantine.closest_return(g, context - 1).n
    return Point({"g": g, "context": context}, violations=float((scan != worst) + (scan != mp)),
                 extra={"scan": scan, "predicted": worst, "mpmath": mp})


def _explain() -> str:
    recs = [m for m in SPEC_RECORDS_G1 if m < 10**6]
    values = {m: float(diophantine.one_minus_cos(m, 1.0)) for m in recs}
    with mpmath.workdps(30):
        cf = diophantine.continued_fraction(1 / (2 * mpmath.pi), 8)
    return (
        f"g = 1: g/2pi = [0; {', '.join(map(str, cf[1:]))}, ...]; convergent denominators 1, 6, 19, 25, 44, 333, 710, "
        "103993, ...\n"
        + "\n".join(f"  m = {m:>6}: 1 - cos(m) = {values[m]:.3e}" for m in recs)
        + "\nEach record low of 1 - cos(m) falls at a convergent denominator (best approximations of the second "
        "kind). A diagonal head from this one pair over 1000 tokens has its worst competitor at m = 710, only "
        f"{values[710]:.1e} below the target: it needs s^2 ~ 1e10. Guessing one period, m = round(2 pi) = 6, "
        "misses it (the wrong variant)."
    )


# --- the certificate: the record lows of 1 - cos(m) with Arb balls --------------------------

def record_chunks(quick: bool) -> list[tuple[int, int, tuple[int, ...]]]:
    """``(start, stop, predicted records)`` pieces of ``m = 1 .. N-1`` (N = 2e5 quick, 1e6 full).

    >>> record_chunks(quick=True)[0][:2], record_chunks(quick=True)[0][2][-1]
    ((1, 125001), 103993)
    """
    context = CERTIFIED_RECORD_CONTEXT[quick]
    predicted = tuple(th_nr.convergent_denominators(1 / (2 * sp.pi), context - 1))
    return [(start, min(context, start + CERTIFIED_RECORD_CHUNK), predicted)
            for start in range(1, context, CERTIFIED_RECORD_CHUNK)]


def record_scope(quick: bool):
    """The stated coverage: g = 1, every ``m`` in ``[1, N)``.

    >>> record_scope(quick=False).cases
    {(1.0,): ((1, 1000000),)}
    """
    from ._certify import Coverage

    return Coverage.of(("g",), "m", [(1.0, 1, CERTIFIED_RECORD_CONTEXT[quick])])


def certify_records(chunk: tuple[int, int, tuple[int, ...]]) -> Evidence:
    """Certify that within ``start <= m < stop`` the record lows of ``1 - cos(m)`` are exactly the predicted ones.

    The record entering the chunk is the value at the last predicted record before it; each
    ``m`` is a new record exactly when its ball lies strictly below the current one, and is
    certified above it otherwise (a ball that overlaps counts as a failure). Together the
    chunks certify the record list over the whole range.

    >>> certify_records((1, 1000, (1, 6, 19, 25, 44, 333, 710))).passed
    True
    >>> certify_records((1, 1000, (1, 6, 19, 25, 44, 710))).passed  # 333 left out
    False
    """
    import flint

    start, stop, predicted = chunk
    flint.ctx.prec = ARB_BITS

    def gap(m: int):
        return 2 * (flint.arb(m) / 2).sin() ** 2  # 1 - cos(m) without cancellation

    before = [m for m in predicted if m < start]
    current = gap(before[-1]) if before else None
    failures, closest, closest_at, first, seen = 0, math.inf, None, None, 0
    for m in range(start, stop):
        first = m if first is None else first
        seen += 1
        value = gap(m)
        if m in predicted:
            failures += int(current is not None and not value < current)
            current = value
            continue
        if current is None or not value > current:  # no record yet (m = 1 not predicted) or undecided
            failures += 1
            continue
        relative_margin = float(((value - current) / current).lower())
        if relative_margin < closest:
            closest, closest_at = relative_margin, m
    spec_missing = [m for m in SPEC_RECORDS_G1 if start <= m < stop and m not in predicted]
    failures += len(spec_missing)
    return Evidence(float(failures), 0.0, {"m": [start, stop]},
                    {"unit": "count of m whose ball does not certify the predicted record list",
                     "smallest_relative_margin_over_record": closest, "at": closest_at,
                     "records_in_chunk": [m for m in predicted if start <= m < stop],
                     "covers": [(1.0, first, first + seen)] if seen else []})
