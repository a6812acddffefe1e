"""What a claim is (SPEC §2), how strongly each of its sides is shown, and what running one returns.

A :class:`Claim` is data: its statement, the law its measurement must obey (a
:mod:`~ropelab.checks.laws` law), the construction and the wrong variant that one check runs
on, the seed, and for each side (symbolic, numeric, certificate) a :class:`Shown` record saying
how strongly it is shown and over what domain. :mod:`~ropelab.checks.runner` applies it.
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
    """How strongly one side of a claim is shown, over what (``scope``), and what it cites.

    ``cites`` names theorems taken as hypotheses because SymPy cannot derive them (the
    three-gap theorem, Weyl equidistribution); the scope then says so.
    """

    trust: Trust
    scope: str
    cites: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.scope.strip():
            raise ValueError("a side's scope must say over what it is shown")

    def line(self) -> str:
        """``"proved: all even d, ..."``, the form the verify table and ``explain`` print."""
        cited = f" (cites {', '.join(self.cites)})" if self.cites else ""
        return f"{self.trust.value}: {self.scope}{cited}"

    def as_dict(self) -> dict[str, Any]:
        return {"trust": self.trust.value, "scope": self.scope, "cites": list(self.cites)}


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
    certifies one and returns its :class:`Evidence`; the certificate holds when every chunk does.
    """

    chunks: Callable[[bool], list[Any]]
    run: Callable[[Any], "Evidence"]
    shown: Shown


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

    def sides(self) -> dict[str, Shown]:
        """Every side with its trust and scope, by name."""
        out = {}
        if self.symbolic is not None:
            out["symbolic"] = self.symbolic.shown
        out["numeric"] = self.numeric
        if self.certificate is not None:
            out["certificate"] = self.certificate.shown
        return out

    def strongest(self, certified: bool = False) -> Shown:
        """The strongest side (a certificate counts only when it was run)."""
        sides = self.sides()
        if not certified:
            sides.pop("certificate", None)
        return min(sides.values(), key=lambda s: s.trust.rank)


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
    # the strongest side that held in this run, e.g. "proved: all even d, ..."
    shown: str = ""
    # None when --certify was not asked for; else whether every chunk was certified
    certified: bool | None = None
