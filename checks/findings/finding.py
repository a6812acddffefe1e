"""What an empirical finding is (SPEC §2, last paragraph): measured on a model, not proved.

A finding states what the paper observed, what was measured here, and the outcome: holds,
does not hold, or not measurable on this model, with the statistic, its uncertainty and the
decision rule that turned them into the outcome. A finding that does not hold is a result to
report, not a failure of the package; tests check the measurement pipeline, not the outcome.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Finding", "read_results"]


def read_results(path: str | Path, command: str) -> dict:
    """Read an experiment's results JSON; a missing file names the ``command`` that writes it.

    >>> read_results("/no/such/results.json", "ropelab experiment offset")
    Traceback (most recent call last):
    ...
    FileNotFoundError: /no/such/results.json does not exist: run `ropelab experiment offset` from the repository root
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `{command}` from the repository root")
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Finding:
    """One empirical finding with its evidence.

    ``holds`` is ``True``, ``False`` or ``None`` (not measurable here, e.g. a model with one
    base cannot compare bases). ``statistic`` and ``value`` name and give the headline number,
    ``uncertainty`` says how sure it is (an interval, a p-value, a count), ``rule`` the
    decision rule, ``details`` everything else worth reporting.

    >>> f = Finding("x", "Sec 4", "paper says", "we measured", True, "rho", 0.5, "p = 0.01", "rho > 0, p < 0.05")
    >>> f.outcome
    'holds'
    """

    id: str
    label: str
    paper_statement: str
    measured: str
    holds: bool | None
    statistic: str
    value: float | None
    uncertainty: str
    rule: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        return {True: "holds", False: "does not hold", None: "not measurable"}[self.holds]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "label": self.label,
            "paper_statement": self.paper_statement,
            "measured": self.measured,
            "outcome": self.outcome,
            "holds": self.holds,
            "statistic": self.statistic,
            "value": self.value,
            "uncertainty": self.uncertainty,
            "rule": self.rule,
            "details": dict(self.details),
        }
