"""What a claim is (SPEC §2), how strongly each of its sides is shown, and what running one returns.

A :class:`Claim` is data: its statement, the law its measurement must obey (a
:mod:`~ropelab.checks.laws` law), the construction and the wrong variant that one check runs
on, the seed, and for each side (symbolic, numeric, certificate) a :class:`Shown` record saying
how strongly it is shown, over what domain and under which hypotheses. The statement is split
into the :class:`Part` s it asserts, each naming the sides that show it; what a claim prints is
the weakest part (:func:`weakest_part`), never the strongest side. :mod:`~ropelab.checks.runner`
applies it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ropelab.theory.derivation import Derivation

from .scope import NumericScope

__all__ = [
    "Certificate",
    "Claim",
    "ClaimResult",
    "Evidence",
    "Part",
    "Shown",
    "Symbolic",
    "Trust",
    "Variant",
    "declared_part",
    "part_problems",
    "part_shown",
    "weakest_part",
]


class Trust(enum.Enum):
    """How strongly a side of a claim is shown (SPEC §2), strongest first."""

    PROVED = "proved"
    """SymPy reduced the general statement, hypotheses as symbols and assumptions."""
    PROVED_FINITE = "proved (finite)"
    """An exact (rational or algebraic) check of every case of a stated finite domain."""
    CERTIFIED = "certified"
    """Rigorous ball arithmetic (Arb) over stated cases or a box: no rounding can flip it."""
    CHECKED = "checked"
    """float64 over a stated grid within a derived tolerance."""
    ESTIMATED = "estimated"
    """Monte Carlo within k standard errors at a fixed seed."""
    MEASURED = "measured"
    """An empirical finding (a real model, a training run)."""

    @property
    def rank(self) -> int:
        """0 for the strongest level."""
        return list(Trust).index(self)


@dataclass(frozen=True)
class Shown:
    """How strongly one side of a claim is shown, over what (``scope``), under which hypotheses.

    ``hypotheses`` lists every assumption the side's argument uses beyond its scope (e.g.
    "delta_N > 0", "q and k independent, zero mean"), one item each, printed with the scope.
    ``cites`` names theorems taken as hypotheses because SymPy cannot derive them (the
    three-gap theorem, Weyl equidistribution).

    >>> Shown(Trust.CHECKED, "d = 2", hypotheses=("q != 0",)).line()
    'checked: d = 2; hypotheses: q != 0'
    """

    trust: Trust
    scope: str
    cites: tuple[str, ...] = ()
    hypotheses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.scope.strip():
            raise ValueError("a side's scope must say over what it is shown")
        if isinstance(self.cites, str):
            raise ValueError(f"cites is a tuple of theorem names, got {self.cites!r}")
        if isinstance(self.hypotheses, str) or any(not h.strip() for h in self.hypotheses):
            raise ValueError(f"hypotheses are a tuple of non-empty strings, got {self.hypotheses!r}")

    def line(self) -> str:
        """``"proved: all even d, ...; hypotheses: ..."``, the form the verify table and ``explain`` print."""
        assumed = f"; hypotheses: {'; '.join(self.hypotheses)}" if self.hypotheses else ""
        cited = f" (cites {', '.join(self.cites)})" if self.cites else ""
        return f"{self.trust.value}: {self.scope}{assumed}{cited}"

    def as_dict(self) -> dict[str, Any]:
        return {"trust": self.trust.value, "scope": self.scope, "hypotheses": list(self.hypotheses),
                "cites": list(self.cites)}


SIDES = ("symbolic", "numeric", "certificate")


@dataclass(frozen=True)
class Part:
    """One thing a statement asserts (an identity, a bound, a decay, a number) and what shows it.

    ``by`` names the sides that show this part (``"symbolic"``, ``"numeric"``,
    ``"certificate"``); in a run the part is shown by the strongest of them that held (a
    certificate only under ``--certify``). ``trust`` caps the word the part may print when its
    sides reach further than the part (a certified grid point does not make a statement over
    every context certified); ``None`` takes the strongest side named. A part never claims a
    word stronger than the sides it names (:func:`part_problems`).

    >>> Part("|R^i x| = |x|", ("symbolic", "numeric")).by
    ('symbolic', 'numeric')
    """

    text: str
    by: tuple[str, ...]
    trust: Trust | None = None

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("a statement part must say what it asserts")
        if isinstance(self.by, str) or not self.by:
            raise ValueError(f"part {self.text!r}: name the sides that show it as a tuple, got {self.by!r}")
        unknown = [side for side in self.by if side not in SIDES]
        if unknown:
            raise ValueError(f"part {self.text!r}: unknown side {unknown[0]!r}; allowed: {', '.join(SIDES)}")

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "by": list(self.by), "trust": None if self.trust is None else self.trust.value}


@dataclass(frozen=True)
class Symbolic:
    """A claim's symbolic side: a SymPy derivation and how strongly it shows the statement."""

    derive: Callable[[], Derivation]
    shown: Shown


@dataclass(frozen=True)
class Variant:
    """What the check runs on: the construction, or the deliberately wrong variant."""

    build: Any
    description: str


@dataclass(frozen=True)
class Certificate:
    """A rigorous side run by ``ropelab verify --certify``: chunks checked in parallel processes.

    ``chunks(quick)`` lists independent pieces of work (picklable arguments); ``run(chunk)``
    certifies one and returns its :class:`Evidence`, naming what it ran under ``details["covers"]``;
    ``covers(quick)`` is the coverage its scope states (a
    :class:`~ropelab.checks.claims._certify.Coverage`). The certificate holds when every chunk
    does and the chunks together cover exactly the stated scope; one without ``covers`` fails.
    """

    chunks: Callable[[bool], list[Any]]
    run: Callable[[Any], "Evidence"]
    shown: Shown
    covers: Callable[[bool], Any] | None = None


@dataclass(frozen=True)
class Evidence:
    """A verdict: the worst residual against its tolerance, and named sub-results.

    A check passes when ``residual <= tolerance`` (a NaN residual never passes) and every part
    passes. For inequalities the residual is the worst violation (a count of wrong argmaxes
    with tolerance 0, the largest excess over a bound); for identities the worst error.
    ``worst_point`` names the parameters where the residual was attained; ``details`` holds
    everything else worth reporting; ``parts`` holds unrelated sub-results by name, each judged
    on its own instead of being folded into one number.
    """

    residual: float
    tolerance: float
    worst_point: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    parts: Mapping[str, "Evidence"] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        own = bool(math.isfinite(self.residual) and self.residual <= self.tolerance)
        return own and all(part.passed for part in self.parts.values())


@dataclass(frozen=True)
class Claim:
    """One statement of the paper (or beyond it): its law, one check, two variants, its sides.

    The runner calls ``check(variant.build, quick, rng)`` on ``construction`` and on ``wrong``
    with the same fresh generator seeded by ``seed``, and judges both measurements by ``law``:
    the claim holds only if the construction passes and the wrong variant is rejected.
    ``numeric`` says how strongly that check shows the statement; ``symbolic`` is the SymPy
    side (or ``None`` with ``symbolic_reason``); ``certificate`` is the optional rigorous side.
    ``parts`` splits the statement into what it asserts (:class:`Part`); a claim without them
    is one part shown by its certificate and numeric side, never by its symbolic side alone.
    ``errata`` lists every erratum (:mod:`~ropelab.checks.errata`) that names this claim.
    """

    id: str
    label: str
    section: str
    statement: str
    law: Any
    check: Callable[[Any, bool, np.random.Generator], Any]
    construction: Variant
    wrong: Variant
    numeric: Shown
    tolerance_reason: str
    explain: Callable[[], str]
    symbolic: Symbolic | None = None
    symbolic_reason: str = ""
    certificate: Certificate | None = None
    parts: tuple[Part, ...] = ()
    corrected: str = ""
    errata: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    seed: int = 0
    # the numeric side's stated ranges as data, and the side at one point of them (fuzzed by the tests)
    numeric_scope: NumericScope | None = None

    def __post_init__(self) -> None:
        if self.symbolic is None and not self.symbolic_reason:
            raise ValueError(f"claim {self.id}: give a symbolic side or a symbolic_reason")
        if not self.id.isidentifier() or self.id != self.id.lower():
            raise ValueError(f"claim id must be a lower-case identifier, got {self.id!r}")
        if self.numeric.trust in (Trust.PROVED, Trust.PROVED_FINITE):
            raise ValueError(f"claim {self.id}: a numeric side is checked, estimated or measured, not proved")
        problems = part_problems(self)
        if problems:
            raise ValueError(f"claim {self.id}: {problems[0]}")

    def sides(self) -> dict[str, Shown]:
        """Every side with its trust and scope, by name."""
        out = {}
        if self.symbolic is not None:
            out["symbolic"] = self.symbolic.shown
        out["numeric"] = self.numeric
        if self.certificate is not None:
            out["certificate"] = self.certificate.shown
        return out

    def statement_parts(self) -> tuple[Part, ...]:
        """The declared parts, or the whole statement shown by the certificate and numeric side."""
        if self.parts:
            return self.parts
        return (Part(self.statement, tuple(s for s in ("certificate", "numeric") if s in self.sides())),)

    def printed(self, certified: bool = False) -> Shown:
        """What this claim prints when every side holds (a certificate counts only when run)."""
        held = {name: name != "certificate" or certified for name in self.sides()}
        shown = weakest_part(self, held)
        if shown is None:
            raise ValueError(f"claim {self.id}: no part is shown by a side it has")
        return shown[1]


def part_shown(claim: Claim, part: Part, held: Mapping[str, bool]) -> tuple[str, Shown] | None:
    """The side that shows ``part`` in a run where the sides in ``held`` held, and how strongly.

    The strongest side it names that held, capped by the part's own ``trust``; ``None`` when
    no side it names held.
    """
    sides = claim.sides()
    named = [(name, sides[name]) for name in part.by if name in sides and held.get(name)]
    if not named:
        return None
    name, best = min(named, key=lambda ns: ns[1].trust.rank)
    if part.trust is not None and part.trust.rank > best.trust.rank:
        return name, Shown(part.trust, best.scope, best.cites, best.hypotheses)
    return name, best


def declared_part(claim: Claim, part: Part, certified: bool = False) -> tuple[str, Shown, bool]:
    """``(side, shown, certifiable)`` for a part when every side holds, the certificate only when ``certified``.

    ``certifiable`` says whether ``--certify`` would show the part more strongly. A part shown
    only by a certificate counts at the certificate's trust (it is shown in no other run).
    """
    found = part_shown(claim, part, {name: name != "certificate" or certified for name in claim.sides()})
    best = part_shown(claim, part, {name: True for name in claim.sides()})
    side, shown = found if found is not None else best
    return side, shown, best[1].trust.rank < shown.trust.rank


def weakest_part(claim: Claim, held: Mapping[str, bool]) -> tuple[Part, Shown] | None:
    """The part of the statement shown least strongly in a run, and how; ``None`` if one is not shown.

    A statement holds only as strongly as its weakest part: this is what a claim prints.
    """
    shown = [(part, part_shown(claim, part, held)) for part in claim.statement_parts()]
    if any(s is None for _, s in shown):
        return None
    part, (_, weakest) = max(shown, key=lambda ps: ps[1][1].trust.rank)
    return part, weakest


def part_problems(claim: Claim) -> list[str]:
    """Why a claim's parts overstate what its sides show (empty when they do not).

    A part names a side the claim lacks, or claims a word (its ``trust``) stronger than every
    side it names.
    """
    sides = claim.sides()
    problems = []
    for part in claim.parts:
        missing = [name for name in part.by if name not in sides]
        if missing:
            problems.append(f"part {part.text!r} is shown by {missing[0]!r}, a side this claim lacks")
            continue
        best = min((sides[name] for name in part.by), key=lambda s: s.trust.rank)
        if part.trust is not None and part.trust.rank < best.trust.rank:
            problems.append(f"part {part.text!r} is labelled {part.trust.value!r} but its strongest side "
                            f"({', '.join(part.by)}) is {best.trust.value!r}")
    return problems


@dataclass(frozen=True)
class ClaimResult:
    """The record of one run of one claim (a row of the verify table and the JSON report)."""

    id: str
    label: str
    status: str  # "pass" | "fail"
    symbolic: bool | None
    residual: float
    tolerance: float
    worst_point: Mapping[str, Any]
    negative_residual: float
    negative_rejected: bool
    seconds: float
    details: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    # the derivation's statement and steps, so that a report can be read without SymPy
    symbolic_statement: str = ""
    symbolic_steps: tuple[str, ...] = ()
    # how strongly each side is shown: {"symbolic": {"trust", "scope", "cites"}, "numeric": ...}
    sides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # the weakest part of the statement in this run, e.g. "checked: d in {2, 8}, ...; hypotheses: ..."
    shown: str = ""
    # each part of the statement: {"text", "by", "trust", "scope", "hypotheses", "side"}
    parts: tuple[Mapping[str, Any], ...] = ()
    # None when --certify was not asked for; else whether every chunk was certified
    certified: bool | None = None
