"""What a claim is (SPEC §2) and what running one returns."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ropelab.theory.derivation import Derivation


@dataclass(frozen=True)
class Evidence:
    """The numeric side's verdict: the worst residual against its tolerance.

    A check passes when ``residual <= tolerance`` (a NaN residual never passes). For
    inequalities the residual is the worst violation (e.g. the largest weight above a bound,
    or a count of wrong argmaxes with tolerance 0); for identities the worst error.
    ``worst_point`` names the parameters where the residual was attained; ``details`` holds
    everything else worth reporting (margins, fitted slopes, seeds, grid sizes).
    """

    residual: float
    tolerance: float
    worst_point: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(math.isfinite(self.residual) and self.residual <= self.tolerance)


@dataclass(frozen=True)
class Claim:
    """One statement of the paper (or beyond it) with both of its checks and a control.

    ``numeric(quick)`` and ``negative(quick)`` run the same check on the correct
    construction and on a deliberately wrong variant; the claim holds only if the first
    passes and the second is rejected. ``symbolic`` is a SymPy derivation, or ``None`` with
    ``symbolic_reason`` saying why only the numeric side applies. ``explain()`` returns a
    worked instance with numbers, computed when called.
    """

    id: str
    label: str
    section: str
    statement: str
    numeric: Callable[[bool], Evidence]
    negative: Callable[[bool], Evidence]
    negative_description: str
    tolerance_reason: str
    explain: Callable[[], str]
    symbolic: Callable[[], Derivation] | None = None
    symbolic_reason: str = ""
    corrected: str = ""
    figures: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.symbolic is None and not self.symbolic_reason:
            raise ValueError(f"claim {self.id}: give a symbolic side or a symbolic_reason")
        if not self.id.isidentifier() or self.id != self.id.lower():
            raise ValueError(f"claim id must be a lower-case identifier, got {self.id!r}")


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
