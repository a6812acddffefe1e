"""A claim's numeric scope as data: the ranges its numeric side is stated over, and one point of it.

A :class:`NumericScope` names, for each parameter the numeric side depends on (``d``, ``theta``,
a frequency, a distance, a context), the range the statement covers (:class:`Range`), the
points at its edges that must be tried (the smallest and largest values, commensurate and
near-commensurate frequencies, positions near :math:`2^{24}` and :math:`2^{53}` where the range
reaches them), and ``probe``: the claim's numeric side run at one point, returning its
:class:`~ropelab.checks.claim.Evidence`. The scope is data; the test suite turns it into
property-test strategies and runs ``probe`` on draws from the whole range, so a range wider
than what holds is found out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

__all__ = ["NumericScope", "Range"]

if TYPE_CHECKING:  # pragma: no cover
    from .claim import Evidence

KINDS = ("real", "log", "integer", "even", "choice")


@dataclass(frozen=True)
class Range:
    """One parameter's stated range ``[low, high]``.

    ``kind`` says how it is drawn: ``"real"`` (uniform), ``"log"`` (log-uniform, ``low > 0``),
    ``"integer"`` or ``"even"`` (even integers, such as a head dimension), or ``"choice"``: one of
    ``values`` (a number format, a layout), with ``low`` and ``high`` the indices of its first and
    last value.

    >>> Range("d", 2, 512, "even").contains(64)
    True
    >>> Range("theta", 1.5, 1e6, "log").contains(0.5)
    False
    >>> Range.choice("format", ("float32", "bfloat16")).contains("bfloat16")
    True
    """

    name: str
    low: float
    high: float
    kind: str = "real"
    values: tuple[Any, ...] = ()

    @classmethod
    def choice(cls, name: str, values: tuple[Any, ...]) -> "Range":
        """A parameter that takes one of ``values``."""
        return cls(name, 0, len(values) - 1, "choice", tuple(values))

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"a range's name must be an identifier, got {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"range {self.name}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"range {self.name}: need finite low <= high, got [{self.low}, {self.high}]")
        if self.kind == "log" and self.low <= 0:
            raise ValueError(f"range {self.name}: a log range needs low > 0, got {self.low}")
        if self.kind in ("integer", "even") and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(f"range {self.name}: an integer range needs integer ends, got [{self.low}, {self.high}]")
        if self.kind == "even" and (int(self.low) % 2 or int(self.high) % 2):
            raise ValueError(f"range {self.name}: an even range needs even ends, got [{self.low}, {self.high}]")
        if (self.kind == "choice") != bool(self.values):
            raise ValueError(f"range {self.name}: values come with kind 'choice' and only with it")
        if self.kind == "choice" and (self.low, self.high) != (0, len(self.values) - 1):
            raise ValueError(f"range {self.name}: a choice spans all its values")

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the range (and is an integer, or even, where the kind asks)."""
        if self.kind == "choice":
            return value in self.values
        if not self.low <= value <= self.high:
            return False
        if self.kind in ("integer", "even"):
            return value == int(value) and (self.kind == "integer" or int(value) % 2 == 0)
        return True

    def text(self) -> str:
        """``"d in [2, 512] (even)"``, the form ``explain`` prints."""
        if self.kind == "choice":
            return f"{self.name} in {{{', '.join(map(str, self.values))}}}"
        kind = "" if self.kind == "real" else f" ({self.kind})"
        return f"{self.name} in [{self.low:g}, {self.high:g}]{kind}"


@dataclass(frozen=True)
class NumericScope:
    """The ranges a claim's numeric side is stated over, its edge points, and the side at one point.

    ``probe(**point)`` runs the numeric side at one point (one value per range) and returns its
    evidence; ``requires`` (a predicate on a point, described by ``requires_text``) removes the
    points the statement excludes, such as :math:`\\rho\\cos\\phi \\ge 1`. ``edges`` are pinned
    points tried on every run besides the two corners (every range at its low end, every range at
    its high end); ``slow`` marks a probe too slow for many draws.
    """

    ranges: tuple[Range, ...]
    probe: Callable[..., "Evidence"]
    edges: tuple[Mapping[str, float], ...] = ()
    requires: Callable[..., bool] | None = None
    requires_text: str = ""
    slow: bool = False
    draws: int = 20
    notes: str = ""
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        names = tuple(r.name for r in self.ranges)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a numeric scope needs distinct named ranges, got {names}")
        if (self.requires is None) != (not self.requires_text):
            raise ValueError("a scope's requires and requires_text come together")
        if self.draws < 1:
            raise ValueError(f"draws must be >= 1, got {self.draws}")
        object.__setattr__(self, "_names", names)
        for point in self.edges:
            self.check_point(point)

    def check_point(self, point: Mapping[str, float]) -> None:
        """Raise ``ValueError`` naming the parameter when ``point`` is not in the scope."""
        if set(point) != set(self._names):
            raise ValueError(f"a point of this scope names {sorted(self._names)}, got {sorted(point)}")
        for r in self.ranges:
            if not r.contains(point[r.name]):
                raise ValueError(f"{r.name} = {point[r.name]!r} is outside the scope's {r.text()}")
        if self.requires is not None and not self.requires(**point):
            raise ValueError(f"{dict(point)} breaks the scope's condition: {self.requires_text}")

    def corners(self) -> list[dict[str, float]]:
        """Every range at its low end, then every range at its high end (those the condition admits)."""
        points = [{r.name: _end(r, r.low) for r in self.ranges}, {r.name: _end(r, r.high) for r in self.ranges}]
        points = [p for i, p in enumerate(points) if p not in points[:i]]  # a one-point range has one corner
        return [p for p in points if self.requires is None or self.requires(**p)]

    def pinned(self) -> list[dict[str, float]]:
        """The corners and the edge points: what every run tries before any draw."""
        return self.corners() + [dict(p) for p in self.edges]

    def text(self) -> str:
        """One line: the ranges and the condition."""
        condition = f"; {self.requires_text}" if self.requires_text else ""
        return ", ".join(r.text() for r in self.ranges) + condition

    def as_dict(self) -> dict[str, Any]:
        return {"ranges": [{"name": r.name, "low": r.low, "high": r.high, "kind": r.kind, "values": list(r.values)}
                           for r in self.ranges],
                "requires": self.requires_text, "edges": [dict(p) for p in self.edges], "slow": self.slow}


def _end(r: Range, value: float) -> Any:
    if r.kind == "choice":
        return r.values[int(value)]
    return int(value) if r.kind in ("integer", "even") else float(value)
