"""Run claims and collect their records; write the JSON report."""

from __future__ import annotations

import functools
import json
import math
import platform
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from ropelab.atomic import write_text_atomically

from ropelab.theory.derivation import Derivation

from .claim import Claim, ClaimResult

LIBRARIES = ("ropelab", "jax", "jaxlib", "numpy", "scipy", "sympy", "mpmath", "matplotlib")


@functools.cache
def derivation(symbolic: Callable[[], Derivation]) -> Derivation:
    """Run a SymPy derivation once per process: it takes no input, so its result never changes."""
    return symbolic()


def run_claim(claim: Claim, quick: bool = False) -> ClaimResult:
    """Run the symbolic side, the numeric side and the negative control of one claim.

    The claim passes when the derivation holds (or there is none), the numeric evidence is
    within tolerance, and the negative control's evidence is *not*. An exception in any side
    is a failure whose traceback is kept in ``error``.
    """
    start = time.perf_counter()
    try:
        derived = derivation(claim.symbolic) if claim.symbolic is not None else None
        symbolic = derived.holds if derived is not None else None
        evidence = claim.numeric(quick)
        negative = claim.negative(quick)
    except Exception:  # a crashing check is a failing check, reported with its traceback
        return ClaimResult(
            id=claim.id, label=claim.label, status="fail", symbolic=None, residual=math.nan,
            tolerance=math.nan, worst_point={}, negative_residual=math.nan,
            negative_rejected=False, seconds=time.perf_counter() - start,
            error=traceback.format_exc(),
        )
    ok = symbolic is not False and evidence.passed and not negative.passed
    return ClaimResult(
        id=claim.id,
        label=claim.label,
        status="pass" if ok else "fail",
        symbolic=symbolic,
        residual=float(evidence.residual),
        tolerance=float(evidence.tolerance),
        worst_point=dict(evidence.worst_point),
        negative_residual=float(negative.residual),
        negative_rejected=not negative.passed,
        seconds=time.perf_counter() - start,
        details={**evidence.details, "seed": claim.seed, "quick": quick},
        symbolic_statement=derived.statement if derived is not None else "",
        symbolic_steps=tuple(derived.steps) if derived is not None else (),
    )


def run_claims(
    claims: Iterable[Claim],
    quick: bool = False,
    on_result: Callable[[ClaimResult], None] | None = None,
) -> list[ClaimResult]:
    """Run each claim in turn, calling ``on_result`` after each (for progress display)."""
    results = []
    for claim in claims:
        result = run_claim(claim, quick)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def library_versions(libraries: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed version of each named distribution ("not installed" when absent)."""
    out = {}
    for name in libraries:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep them readable
    return value


def report(results: list[ClaimResult], quick: bool) -> dict[str, Any]:
    """The JSON-ready report: versions, platform, mode and one entry per claim."""
    return {
        "tool": "ropelab verify",
        "versions": library_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "quick": quick,
        "passed": all(r.status == "pass" for r in results),
        "claims": [_jsonable(asdict(r)) for r in results],
    }


def write_report(path: str | Path, results: list[ClaimResult], quick: bool) -> Path:
    """Write the report to ``path`` atomically (a reader never sees half a file)."""
    text = json.dumps(report(results, quick), indent=2, sort_keys=False)
    return write_text_atomically(path, text + "\n")
