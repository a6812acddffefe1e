"""Arb (python-flint) certificates run in worker processes by ``--certify``, and what each one covers.

Each ``run`` is a module-level function of a picklable chunk, so that a spawned process can
import it; each returns the :class:`~ropelab.checks.claim.Evidence` of its chunk, with the cases
and integer ranges it actually ran under ``details["covers"]`` (see :class:`Coverage`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import flint
import numpy as np

from ropelab.constructions import frequencies, rotary

from .. import tolerances as tol
from ..claim import Evidence
from . import _common as c

__all__ = [
    "COMPOSITION_PAIRS",
    "Coverage",
    "certificate_chunks",
    "certify_composition",
    "check_coverage",
    "composition_draws",
    "composition_scope",
    "ranges_without",
]

CERTIFY_BITS = 128
"""Arb working precision: far beyond float64, so the balls are tight and every comparison decides."""

COMPOSITION_PAIRS = {False: 16, True: 4}  # seeded position pairs per (d, theta), full and quick
"""The composition certificate's position pairs (i, j) per (d, theta), as its scope prints them."""


# --- coverage: what a certificate ran, against what its scope states --------------------------

Entry = tuple  # (*case, start, stop): the half-open integer range [start, stop) of one case; (*case, None, None): the case alone


@dataclass(frozen=True)
class Coverage:
    """What a certificate covers: each case (its parameters, named by ``axes``) with the merged
    half-open integer ranges of ``over`` it covers (an empty tuple: the case is a single point).

    Two coverages are equal only if they name the same cases with the same ranges: a gap between
    chunks splits a range, a shifted start moves its end, a collapsed grid drops cases.

    >>> a = Coverage.of(("g",), "m", [(1.0, 1, 50), (1.0, 50, 100)])
    >>> a == Coverage.of(("g",), "m", [(1.0, 1, 100)]), a.cases
    (True, {(1.0,): ((1, 100),)})
    >>> Coverage.of(("g",), "m", [(1.0, 1, 49), (1.0, 50, 100)]).differences(a)  # m = 49 left out
    ['g=1.0: covered m in [1, 49) [50, 100), stated m in [1, 100)']
    """

    axes: tuple[str, ...]
    over: str
    cases: Mapping[tuple, tuple[tuple[int, int], ...]]

    @classmethod
    def of(cls, axes: Iterable[str], over: str, entries: Iterable[Entry]) -> "Coverage":
        """Merge entries ``(*case, start, stop)``: ranges that touch or overlap join; empty ones vanish."""
        axes = tuple(axes)
        spans: dict[tuple, list[tuple[int, int]]] = {}
        for entry in entries:
            entry = tuple(entry)
            if len(entry) != len(axes) + 2:
                raise ValueError(f"a coverage entry needs {len(axes)} case values ({', '.join(axes)}) and a range "
                                 f"[start, stop) (None, None for a point), got {entry!r}")
            case, (start, stop) = tuple(_plain(v) for v in entry[:-2]), entry[-2:]
            ranges = spans.setdefault(case, [])
            if start is None and stop is None:
                continue
            if isinstance(start, bool) or isinstance(stop, bool) or int(start) != start or int(stop) != stop:
                raise ValueError(f"a coverage range must have integer ends, got [{start!r}, {stop!r}) for {case}")
            if int(stop) > int(start):
                ranges.append((int(start), int(stop)))
        merged = {}
        for case, ranges in spans.items():
            out: list[list[int]] = []
            for start, stop in sorted(ranges):
                if out and start <= out[-1][1]:
                    out[-1][1] = max(out[-1][1], stop)
                else:
                    out.append([start, stop])
            merged[case] = tuple((a, b) for a, b in out)
        return cls(axes, over, merged)

    def differences(self, stated: "Coverage") -> list[str]:
        """One line per case that this (covered) coverage and the ``stated`` one disagree on."""
        lines = []
        if (self.axes, self.over) != (stated.axes, stated.over):
            lines.append(f"covered {self.axes} over {self.over!r}, stated {stated.axes} over {stated.over!r}")
        for case in sorted(set(self.cases) | set(stated.cases), key=repr):
            ours, theirs = self.cases.get(case), stated.cases.get(case)
            if ours == theirs:
                continue
            name = self._name(case)
            if ours is None:
                lines.append(f"{name}: stated, not covered")
            elif theirs is None:
                lines.append(f"{name}: covered, not stated")
            else:
                lines.append(f"{name}: covered {self.over} in {_spans(ours)}, stated {self.over} in {_spans(theirs)}")
        return lines

    def summary(self) -> dict[str, Any]:
        """The JSON form: axes, the range variable, and each case with its ranges."""
        return {"axes": list(self.axes), "over": self.over, "cases": len(self.cases),
                "covered": [{"case": dict(zip(self.axes, case)), "ranges": [list(r) for r in ranges]}
                            for case, ranges in self.cases.items()]}

    def _name(self, case: tuple) -> str:
        return ", ".join(f"{a}={v}" for a, v in zip(self.axes, case))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _spans(ranges: tuple[tuple[int, int], ...]) -> str:
    return " ".join(f"[{a}, {b})" for a, b in ranges) if ranges else "(a point)"


def ranges_without(start: int, stop: int, skip: int) -> list[tuple[int, int]]:
    """``[start, stop)`` less the one integer ``skip`` (the target a competitor range leaves out).

    >>> ranges_without(0, 10, 3), ranges_without(5, 10, 3)
    ([(0, 3), (4, 10)], [(5, 10)])
    """
    if start <= skip < stop:
        return [(start, skip), (skip + 1, stop)]
    return [(start, stop)]


def check_coverage(stated: Coverage | None, chunks: list[Evidence]) -> tuple[Evidence, Coverage | None]:
    """Merge what every chunk reports under ``details["covers"]`` and compare it with ``stated``.

    Residual: the number of cases whose coverage differs (tolerance 0); a certificate that states
    no coverage, or a chunk that reports none, fails with the reason named (never a pass).

    >>> stated = Coverage.of(("N",), "r", [(10, 0, 10)])
    >>> pieces = [Evidence(0.0, 0.0, {}, {"covers": [(10, 0, 4)]}), Evidence(0.0, 0.0, {}, {"covers": [(10, 5, 10)]})]
    >>> check_coverage(stated, pieces)[0].details["differences"]   # r = 4 fell between the chunks
    ['N=10: covered r in [0, 4) [5, 10), stated r in [0, 10)']
    """
    if stated is None:
        return Evidence(float("inf"), 0.0, {}, {"error": "the certificate states no coverage"}), None
    missing = [i for i, e in enumerate(chunks) if "covers" not in e.details]
    if missing:
        return Evidence(float("inf"), 0.0, {}, {"error": f"chunks {missing[:10]} report no coverage"}), None
    try:
        covered = Coverage.of(stated.axes, stated.over, [entry for e in chunks for entry in e.details["covers"]])
    except ValueError as error:
        return Evidence(float("inf"), 0.0, {}, {"error": str(error)}), None
    lines = covered.differences(stated)
    return Evidence(float(len(lines)), 0.0, {"first_difference": lines[0]} if lines else {},
                    {"unit": "cases whose coverage differs from the stated scope", "differences": lines[:20],
                     "stated_cases": len(stated.cases), "covered_cases": len(covered.cases)}), covered


# --- rotation composition: the float64 map against exact rotations -----------------------------

def composition_draws(d: int, seed: int, n_pairs: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The certified vector ``x`` (``(d,)``) and position pairs ``(i, j)``: the largest-angle pair
    ``(L/2, L/2 - 1)`` first, then ``n_pairs - 1`` seeded draws below ``L/2`` (``L = LONGEST_POSITION``).

    >>> composition_draws(8, 20, 3)[1][0]
    (5000000, 4999999)
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(d)
    positions = rng.integers(0, c.LONGEST_POSITION // 2, (n_pairs, 2))
    positions[0] = (c.LONGEST_POSITION // 2, c.LONGEST_POSITION // 2 - 1)  # the largest angle is a case
    return x, [(int(i), int(j)) for i, j in positions]


def certificate_chunks(quick: bool, seed: int) -> list[tuple[int, float, int, int]]:
    """One chunk per (d, theta): ``(d, theta, seed, pairs of positions)``, picklable."""
    return [(d, theta, seed + n, COMPOSITION_PAIRS[quick])
            for n, (d, theta) in enumerate((d, t) for d in c.HEAD_DIMS for t in c.BASES)]


def composition_scope(quick: bool, seed: int) -> Coverage:
    """The stated coverage: every (d, theta) of the grid, each of its seeded position pairs, every pair k.

    >>> len(composition_scope(True, 20).cases) == len(c.HEAD_DIMS) * len(c.BASES) * COMPOSITION_PAIRS[True]
    True
    """
    entries = []
    for n, (d, theta) in enumerate((d, t) for d in c.HEAD_DIMS for t in c.BASES):
        entries += [(d, theta, i, j, 0, d // 2) for i, j in composition_draws(d, seed + n, COMPOSITION_PAIRS[quick])[1]]
    return Coverage.of(("d", "theta", "i", "j"), "k", entries)


def certify_composition(chunk: tuple[int, float, int, int]) -> Evidence:
    """Certify one (d, theta): every entry of the float64 ``R^j R^i x`` is, as an Arb ball, within
    the derived tolerance of the exact ``rho((i+j) g_k) x`` (the residual is inf if any comparison
    cannot be decided). Runs in a worker process of ``ropelab verify --certify``.

    The frequencies are Arb balls of the exact ``theta^(-2k/d)`` (``theta`` an integer), ``x`` and
    the float64 output are taken as the exact binary numbers they are; the tolerance is a number.
    Reports the (i, j, k) it compared under ``covers``.
    """
    d, theta, seed, n_pairs = chunk
    if float(theta) != int(theta):
        raise ValueError(f"theta must be an integer for exact frequencies, got {theta}")
    flint.ctx.prec = CERTIFY_BITS
    x, positions = composition_draws(d, seed, n_pairs)
    freqs = frequencies.rope(d, theta)
    bound = tol.rotation_identity(np.float64, d, float(c.LONGEST_POSITION), np.linalg.norm(x))
    limit = flint.arb(bound.value)
    exact_g = [flint.arb(int(theta)) ** (flint.arb(-2 * m) / d) for m in range(d // 2)]
    worst, undecided, where, covers = 0.0, 0, {}, []
    for i, j in positions:
        ours = np.asarray(rotary.apply(np.asarray(rotary.apply(x, int(i), freqs)), int(j), freqs))
        done = 0
        for m, g in enumerate(exact_g):
            angle = int(i + j) * g
            cos, sin = angle.cos(), angle.sin()
            x1, x2 = flint.arb(float(x[m])), flint.arb(float(x[m + d // 2]))
            for got, exact in ((ours[m], cos * x1 - sin * x2), (ours[m + d // 2], sin * x1 + cos * x2)):
                gap = abs(flint.arb(float(got)) - exact)
                undecided += not bool(gap <= limit)
                upper = float(gap.upper())
                if upper > worst:
                    worst, where = upper, {"i": int(i), "j": int(j), "pair": m}
            done += 1
        covers.append((d, theta, int(i), int(j), 0, done))
    return Evidence(worst if undecided == 0 else float("inf"), bound.value, {"d": d, "theta": theta, **where},
                    {"entries": int(len(positions) * d), "undecided": undecided, "precision_bits": CERTIFY_BITS,
                     "largest_position": max(max(p) for p in positions), "covers": covers})
