"""The laws a claim's measurement must obey, declared as data and judged by generic code.

A check measures one variant and returns a list of :class:`Point` (one per grid point: its
parameters and what was measured there), or a mapping ``part name -> list of Point`` when it
has unrelated sub-results. A claim's ``law`` says how the points are judged:

- :class:`Identity`: ``error <= bound`` at every point (the residual is the worst ratio);
- :class:`ZeroCount`: the ``violations`` summed over points must be 0;
- :class:`AtMost`: ``value <= limit`` everywhere (the residual is the largest excess);
- :class:`StandardErrors`: ``|deviation| <= k * stderr`` at every point;
- :class:`Slope`: the log-log slope of ``y`` against ``x`` lies in ``expected ± half_band``.

A mapping of laws judges a mapping of parts, each on its own (:attr:`Evidence.parts`).

>>> law = Identity("error / bound")
>>> judge(law, [Point({"d": 2}, error=1e-16, bound=1e-15), Point({"d": 8}, error=3e-16, bound=1e-15)]).residual
0.3
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from .claim import Evidence

__all__ = [
    "AtMost",
    "Identity",
    "Point",
    "Slope",
    "StandardErrors",
    "ZeroCount",
    "grid",
    "judge",
    "over_grid",
]


@dataclass(frozen=True)
class Point:
    """One grid point: its parameters and the measured quantities the law reads."""

    params: Mapping[str, Any]
    error: float = math.nan
    bound: float = math.nan
    violations: float = 0.0
    value: float = math.nan
    limit: float = math.nan
    deviation: float = math.nan
    stderr: float = math.nan
    x: float = math.nan
    y: float = math.nan
    extra: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        measured = {k: getattr(self, k) for k in ("error", "bound", "violations", "value", "limit",
                                                    "deviation", "stderr", "x", "y")}
        kept = {k: v for k, v in measured.items() if not (isinstance(v, float) and math.isnan(v))}
        if kept.get("violations") == 0.0:
            kept.pop("violations")
        return {**self.params, **kept, **self.extra}


def over_grid(grid: Iterable[Mapping[str, Any]], measure: Callable[..., Point]) -> list[Point]:
    """Measure every point of a grid: ``measure(**params)`` returns that point's :class:`Point`."""
    return [measure(**params) for params in grid]


def grid(**axes: Iterable[Any]) -> list[dict[str, Any]]:
    """The product grid of named axes, in order: ``grid(d=(2, 8), theta=(1e4,))``.

    >>> grid(d=(2, 8), theta=(1e4,))
    [{'d': 2, 'theta': 10000.0}, {'d': 8, 'theta': 10000.0}]
    """
    names = list(axes)
    rows: list[dict[str, Any]] = [{}]
    for name in names:
        rows = [{**row, name: value} for row in rows for value in axes[name]]
    return rows


def _worst(points: list[Point], ratio: Callable[[Point], float]) -> tuple[float, Point]:
    values = [ratio(p) for p in points]
    # NaN is the worst of all: a check that could not compute its residual never passes
    index = max(range(len(points)), key=lambda i: math.inf if math.isnan(values[i]) else values[i])
    return values[index], points[index]


@dataclass(frozen=True)
class Identity:
    """``error <= bound`` at every point; the residual is ``max error / bound`` against 1."""

    unit: str = "error / derived tolerance"

    def judge(self, points: list[Point]) -> Evidence:
        value, worst = _worst(points, lambda p: p.error / p.bound)
        return Evidence(float(value), 1.0, worst.describe(), {"unit": self.unit, "points": len(points)})


@dataclass(frozen=True)
class ZeroCount:
    """A count of violations (wrong argmaxes, mismatched cells, ...) that must be zero."""

    what: str

    def judge(self, points: list[Point]) -> Evidence:
        total = float(sum(p.violations for p in points))
        _, worst = _worst(points, lambda p: p.violations)
        return Evidence(total, 0.0, worst.describe(), {"unit": f"count of {self.what}", "points": len(points)})


@dataclass(frozen=True)
class AtMost:
    """``value <= limit`` at every point; the residual is the largest ``value - limit`` against 0."""

    unit: str

    def judge(self, points: list[Point]) -> Evidence:
        value, worst = _worst(points, lambda p: p.value - p.limit)
        return Evidence(float(value), 0.0, worst.describe(), {"unit": self.unit, "points": len(points)})


@dataclass(frozen=True)
class StandardErrors:
    """Monte Carlo: ``|deviation| <= k stderr`` at every point (residual in standard errors)."""

    k: float

    def judge(self, points: list[Point]) -> Evidence:
        value, worst = _worst(points, lambda p: abs(p.deviation) / p.stderr)
        return Evidence(float(value), self.k, worst.describe(),
                        {"unit": "|deviation| / standard error", "points": len(points)})


@dataclass(frozen=True)
class Slope:
    """A scaling law: the least-squares slope of ``log y`` against ``log x`` in ``expected ± half_band``."""

    expected: float
    half_band: float

    def judge(self, points: list[Point]) -> Evidence:
        x = np.log([p.x for p in points])
        y = np.log([p.y for p in points])
        if len(points) < 3 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            return Evidence(math.inf, self.half_band, {"points": len(points)}, {"unit": "|slope - expected|"})
        fit = stats.linregress(x, y)
        return Evidence(abs(float(fit.slope) - self.expected), self.half_band,
                        {"slope": float(fit.slope), "stderr": float(fit.stderr), "expected": self.expected},
                        {"unit": "|log-log slope - expected|", "points": len(points),
                         "x": [p.x for p in points], "y": [p.y for p in points]})


def judge(law: Any, measured: Any) -> Evidence:
    """Judge a measurement by its law; a mapping of laws judges a mapping of parts.

    With parts, the headline residual and tolerance are those of the part furthest from
    passing (largest residual / tolerance), so the table shows the deciding number.
    """
    if isinstance(law, Mapping):
        missing = set(law) ^ set(measured)
        if missing:
            raise ValueError(f"parts and laws differ: {sorted(missing)}")
        parts = {name: judge(law[name], measured[name]) for name in law}

        def closeness(e: Evidence) -> float:
            if not math.isfinite(e.residual):
                return math.inf
            if e.tolerance > 0:
                return e.residual / e.tolerance
            return math.inf if e.residual > 0 else (e.residual if e.residual < 0 else 0.0)

        name = max(parts, key=lambda n: (not parts[n].passed, closeness(parts[n])))
        deciding = parts[name]
        return Evidence(deciding.residual, deciding.tolerance, {"part": name, **deciding.worst_point},
                        {"deciding_part": name}, parts)
    return law.judge(list(measured))
