"""Run claims and collect their records; write the JSON report."""

from __future__ import annotations

import functools
import json
import math
import multiprocessing
import os
import pickle
import platform
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from ropelab.checks.atomic import write_text_atomically

from ropelab.theory.derivation import Derivation

from .claim import Claim, ClaimResult, Evidence, Variant, part_shown, weakest_part
from .laws import judge

__all__ = [
    "ChunkRun",
    "certify_claim",
    "complete_certified",
    "derivation",
    "evidence_from_record",
    "evidence_record",
    "judge_certificate",
    "library_versions",
    "measure",
    "report",
    "run_chunks",
    "run_claim",
    "run_claim_sides",
    "run_claims",
    "write_report",
]

LIBRARIES = ("ropelab", "jax", "jaxlib", "numpy", "scipy", "sympy", "mpmath", "matplotlib")


@functools.cache
def derivation(symbolic: Callable[[], Derivation]) -> Derivation:
    """Run a SymPy derivation once per process: it takes no input, so its result never changes."""
    return symbolic()


def measure(claim: Claim, variant: Variant, quick: bool) -> Evidence:
    """Run the claim's one check on one variant and judge it by the claim's law.

    Both variants get a fresh generator from the claim's seed, so they see the same draws.
    """
    return judge(claim.law, claim.check(variant.build, quick, np.random.default_rng(claim.seed)))


def run_claim(claim: Claim, quick: bool = False, certify: bool = False,
              processes: int | None = None) -> ClaimResult:
    """Run the symbolic side, the check on both variants, and (with ``certify``) the certificate.

    The claim passes when the derivation holds (or there is none), the construction's evidence
    is within tolerance, the wrong variant's evidence is *not*, and any certificate asked for
    holds. An exception in any side is a failure whose traceback is kept in ``error``.
    ``processes`` is the number of worker processes for the certificate's chunks (``None``: one
    per core; 1: this process).
    """
    start = time.perf_counter()
    try:
        sides = _run_sides(claim, quick)
        certificate = (certify_claim(claim, quick, processes)
                       if certify and claim.certificate is not None else None)
    except Exception:  # a crashing check is a failing check, reported with its traceback
        return _failed(claim, time.perf_counter() - start, traceback.format_exc())
    return _result(claim, quick, sides, certificate, time.perf_counter() - start)


def run_claim_sides(claim: Claim, quick: bool = False) -> tuple[ClaimResult, dict[str, bool | None] | None]:
    """Run every side of a claim but its certificate: the result as if no certificate was asked
    for, and how its sides came out (``{"symbolic": True/False/None (no derivation), "numeric":
    bool}``; ``None`` when the run failed), from
    which :func:`complete_certified` finishes the claim once its certificate's chunks are in.
    """
    start = time.perf_counter()
    try:
        sides = _run_sides(claim, quick)
    except Exception:  # a crashing check is a failing check, reported with its traceback
        return _failed(claim, time.perf_counter() - start, traceback.format_exc()), None
    held = {"symbolic": sides[0], "numeric": sides[2].passed and not sides[3].passed}
    return _result(claim, quick, sides, None, time.perf_counter() - start), held


def _run_sides(claim: Claim, quick: bool) -> tuple[bool | None, Derivation | None, Evidence, Evidence]:
    derived = derivation(claim.symbolic.derive) if claim.symbolic is not None else None
    symbolic = derived.holds if derived is not None else None
    return symbolic, derived, measure(claim, claim.construction, quick), measure(claim, claim.wrong, quick)


def _failed(claim: Claim, seconds: float, error: str) -> ClaimResult:
    """The record of a claim whose run raised: a failure, nothing shown, the traceback kept."""
    return ClaimResult(
        id=claim.id, label=claim.label, status="fail", symbolic=None, residual=math.nan,
        tolerance=math.nan, worst_point={}, negative_residual=math.nan,
        negative_rejected=False, seconds=seconds, error=error,
        sides={name: shown.as_dict() for name, shown in claim.sides().items()},
        shown="not shown (the run failed)", parts=_parts_record(claim, {}),
    )


def _result(claim: Claim, quick: bool, sides: tuple[bool | None, Derivation | None, Evidence, Evidence],
            certificate: Evidence | None, seconds: float) -> ClaimResult:
    symbolic, derived, evidence, negative = sides
    certified = None if certificate is None else certificate.passed
    held = {"symbolic": bool(symbolic), "numeric": evidence.passed and not negative.passed,
            "certificate": bool(certified)}
    ok = symbolic is not False and evidence.passed and not negative.passed and certified is not False
    details = {**evidence.details, "seed": claim.seed, "quick": quick}
    if evidence.parts:
        details["parts"] = {name: _part_record(part) for name, part in evidence.parts.items()}
    if certificate is not None:
        details["certificate"] = _part_record(certificate)
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
        seconds=seconds,
        details=details,
        symbolic_statement=derived.statement if derived is not None else "",
        symbolic_steps=tuple(derived.steps) if derived is not None else (),
        sides={name: shown.as_dict() for name, shown in claim.sides().items()},
        shown=_weakest_that_held(claim, held),
        parts=_parts_record(claim, held),
        certified=certified,
    )


def _part_record(evidence: Evidence) -> dict[str, Any]:
    return {"passed": evidence.passed, "residual": float(evidence.residual), "tolerance": float(evidence.tolerance),
            "worst_point": dict(evidence.worst_point), **dict(evidence.details)}


def _weakest_that_held(claim: Claim, held: dict[str, bool]) -> str:
    """The weakest part of the statement in this run, as the verify table prints it.

    Each part counts at the strongest of its sides that held; the claim prints the weakest
    part, so a statement whose number rests on a float64 check reads "checked" however many
    of its identities were proved. A part that no side showed in this run makes it "not shown".
    """
    weakest = weakest_part(claim, held)
    return "not shown" if weakest is None else weakest[1].line()


def _parts_record(claim: Claim, held: dict[str, bool]) -> tuple[dict[str, Any], ...]:
    """Each part of the statement with the side that showed it in this run, its trust, scope and hypotheses."""
    out = []
    for part in claim.statement_parts():
        found = part_shown(claim, part, held)
        side, shown = found if found is not None else (None, None)
        out.append({"text": part.text, "by": list(part.by), "side": side,
                    "trust": shown.trust.value if shown is not None else "not shown",
                    "scope": shown.scope if shown is not None else "",
                    "hypotheses": list(shown.hypotheses) if shown is not None else []})
    return tuple(out)


@dataclass(frozen=True)
class ChunkRun:
    """One certificate chunk as run: its evidence (``None`` when it raised), seconds and traceback."""

    claim: str
    chunk: int
    evidence: Evidence | None
    seconds: float
    error: str = ""


def _certify_chunk(job: tuple[Callable[[Any], Evidence] | str, Any]) -> tuple[Evidence | None, float, str]:
    """One certificate chunk, run in a worker process: its evidence, seconds and any traceback.

    ``run`` is the certificate's function when it pickles (a module-level function), else the id
    of a registered claim whose certificate the worker looks up (a record may name its function
    through a lambda, since the record sits above the function it calls).
    """
    run, chunk = job
    start = time.perf_counter()
    try:
        if isinstance(run, str):
            from .registry import REGISTRY

            run = REGISTRY[run].certificate.run
        return run(chunk), time.perf_counter() - start, ""
    except Exception:  # reported with the chunk it belongs to; the certificate then fails
        return None, time.perf_counter() - start, traceback.format_exc()


def _picklable(run: Callable[[Any], Evidence]) -> bool:
    try:
        pickle.dumps(run)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _worker_init() -> None:
    """A claim worker: float64 and the compilation cache, as at the CLI."""
    import jax

    from ropelab.checks.findings.models.model_cache import enable_compilation_cache

    jax.config.update("jax_enable_x64", True)
    enable_compilation_cache()


def run_chunks(units: Sequence[tuple[Claim, int]], quick: bool, processes: int | None = None,
               chunks: Mapping[str, list[Any]] | None = None) -> list[ChunkRun]:
    """Run certificate chunks ``(claim, index into claim.certificate.chunks(quick))``, in parallel
    processes (``processes``: ``None`` one per core, 1 this process); results in the given order.
    ``chunks`` holds lists of chunks already made, by claim id.
    """
    lists: dict[str, list[Any]] = dict(chunks or {})
    jobs = []
    for claim, index in units:
        if claim.id not in lists:
            lists[claim.id] = claim.certificate.chunks(quick)
        made = lists[claim.id]
        if not 0 <= index < len(made):
            raise ValueError(f"claim {claim.id}: no certificate chunk {index} (it has {len(made)})")
        jobs.append((claim.certificate.run if _picklable(claim.certificate.run) else claim.id, made[index]))
    workers = min(len(jobs), processes or os.cpu_count() or 1)
    if workers <= 1:
        done = [_certify_chunk((claim.certificate.run, chunk)) for (claim, _), (_, chunk) in zip(units, jobs)]
    else:
        # spawn, not fork: the parent holds JAX's threads, which a forked child must not inherit
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
            done = list(pool.map(_certify_chunk, jobs))
    return [ChunkRun(claim.id, index, *result) for (claim, index), result in zip(units, done)]


def certify_claim(claim: Claim, quick: bool, processes: int | None = None) -> Evidence:
    """Run every chunk of a claim's certificate, in parallel processes; parts named by chunk.

    The certificate fails, whatever its chunks say, unless the cases and ranges they report
    under ``covers`` merge to exactly the coverage its scope states (``Certificate.covers``):
    no gap between chunks, no grid point left out, no range end moved. A chunk that raises
    raises here, with its traceback.
    """
    chunks = claim.certificate.chunks(quick)
    runs = run_chunks([(claim, i) for i in range(len(chunks))], quick, processes, {claim.id: chunks})
    for run in runs:
        if run.evidence is None:
            raise RuntimeError(f"certificate chunk {run.chunk} of {claim.id} raised:\n{run.error}")
    return judge_certificate(claim, quick, [run.evidence for run in runs])


def judge_certificate(claim: Claim, quick: bool, results: Sequence[Evidence]) -> Evidence:
    """A certificate's verdict from the evidence of all its chunks, in chunk order.

    It holds when every chunk does and the chunks' ``covers`` merge to exactly the stated
    coverage (``check_coverage``); its worst point is the chunk with the least headroom, or
    ``"coverage"`` when the chunks do not cover the stated scope. One run and a merge of
    shards (:func:`complete_certified`) judge through this function.
    """
    from .claims._certify import check_coverage

    results = list(results)
    stated = claim.certificate.covers(quick) if claim.certificate.covers is not None else None
    coverage, covered = check_coverage(stated, results)
    parts = {f"chunk {i}": e for i, e in enumerate(results)}
    details = {"chunks": len(results), "scope": claim.certificate.shown.scope,
               "coverage": covered.summary() if covered is not None else None,
               "coverage_matches_scope": coverage.passed,
               "coverage_differences": coverage.details.get("differences", [coverage.details.get("error")])}
    if not coverage.passed or not parts:  # the chunks together must cover exactly the stated scope
        return Evidence(coverage.residual if parts else math.inf, coverage.tolerance,
                        {"chunk": "coverage", **coverage.worst_point}, details, parts)
    worst = max(parts, key=lambda n: (not parts[n].passed, parts[n].residual - parts[n].tolerance))
    return Evidence(parts[worst].residual, parts[worst].tolerance, {"chunk": worst, **parts[worst].worst_point},
                    details, parts)


def complete_certified(claim: Claim, entry: Mapping[str, Any], held: Mapping[str, bool | None] | None,
                       runs: Sequence[ChunkRun], quick: bool) -> dict[str, Any]:
    """A claim's report entry as one ``--certify`` run writes it, from the entry and sides that
    :func:`run_claim_sides` gave and the runs of every chunk of its certificate (chunk order).

    A claim whose sides raised stays as it was (one run stops there too); a chunk that raised
    fails the claim with its traceback; otherwise the certificate is judged by
    :func:`judge_certificate` and the verdict, the word printed, the parts and the certificate's
    record are set as :func:`run_claim` sets them. Its seconds add the chunks' seconds.
    """
    seconds = float(entry["seconds"]) + sum(run.seconds for run in runs)
    if held is None or entry.get("error"):
        return dict(entry)
    raised = [run for run in runs if run.evidence is None]
    if raised:
        error = f"certificate chunk {raised[0].chunk} of {claim.id} raised:\n{raised[0].error}"
        return _jsonable(asdict(_failed(claim, seconds, error)))
    certificate = judge_certificate(claim, quick, [run.evidence for run in runs])
    sides = {"symbolic": bool(held["symbolic"]), "numeric": bool(held["numeric"]), "certificate": certificate.passed}
    ok = held["symbolic"] is not False and sides["numeric"] and certificate.passed
    return {**entry, "status": "pass" if ok else "fail", "seconds": seconds,
            "details": {**entry["details"], "certificate": _jsonable(_part_record(certificate))},
            "shown": _weakest_that_held(claim, sides), "parts": _jsonable(list(_parts_record(claim, sides))),
            "certified": certificate.passed}


def evidence_record(evidence: Evidence) -> dict[str, Any]:
    """The JSON form of :class:`Evidence` (non-finite numbers as strings), read back by
    :func:`evidence_from_record`.

    >>> evidence_from_record(evidence_record(Evidence(float("inf"), 0.5, {"d": 2}, {"covers": [(2, 0, 1)]})))
    Evidence(residual=inf, tolerance=0.5, worst_point={'d': 2}, details={'covers': [[2, 0, 1]]}, parts={})
    """
    return _jsonable({"residual": float(evidence.residual), "tolerance": float(evidence.tolerance),
                      "worst_point": dict(evidence.worst_point), "details": dict(evidence.details),
                      "parts": {name: evidence_record(part) for name, part in evidence.parts.items()}})


def evidence_from_record(record: Mapping[str, Any]) -> Evidence:
    """:class:`Evidence` from its JSON form; a missing or malformed field is a ``ValueError`` naming it."""
    if not isinstance(record, Mapping):
        raise ValueError(f"evidence must be an object, got {type(record).__name__}")
    missing = [k for k in ("residual", "tolerance", "worst_point", "details", "parts") if k not in record]
    if missing:
        raise ValueError(f"evidence lacks {', '.join(missing)}")
    numbers = {}
    for key in ("residual", "tolerance"):
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or \
                (isinstance(value, str) and value not in ("inf", "-inf", "nan")):
            raise ValueError(f"evidence {key} must be a number (or inf, -inf, nan as a string), got {value!r}")
        numbers[key] = float(value)
    for key in ("worst_point", "details", "parts"):
        if not isinstance(record[key], Mapping):
            raise ValueError(f"evidence {key} must be an object, got {record[key]!r}")
    return Evidence(numbers["residual"], numbers["tolerance"], dict(record["worst_point"]), dict(record["details"]),
                    {name: evidence_from_record(part) for name, part in record["parts"].items()})


def run_claims(
    claims: Iterable[Claim],
    quick: bool = False,
    on_result: Callable[[ClaimResult], None] | None = None,
    certify: bool = False,
    jobs: int = 1,
    processes: int | None = None,
) -> list[ClaimResult]:
    """Run each claim, calling ``on_result`` as each finishes; results come back in the given order.

    With ``jobs > 1`` registered claims run in that many spawned worker processes (each set up
    as at the CLI), since a claim's check runs mostly on one core; ``certify`` keeps them
    in this process, because a certificate fans out over processes of its own (``processes`` of
    them: ``None`` one per core, 1 none).
    """
    from .registry import REGISTRY

    claims = list(claims)
    workers = min(int(jobs), len(claims))
    registered = all(REGISTRY.get(c.id) is c for c in claims)
    if workers <= 1 or certify or not registered:
        results = []
        for claim in claims:
            results.append(run_claim(claim, quick, certify, processes))
            if on_result is not None:
                on_result(results[-1])
        return results
    # spawn, not fork: the parent holds JAX's threads, which a forked child must not inherit
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        futures = [pool.submit(_run_registered, claim.id, quick) for claim in claims]
        for future in as_completed(futures):
            if on_result is not None:
                on_result(future.result())
        return [future.result() for future in futures]


def _run_registered(claim_id: str, quick: bool) -> ClaimResult:
    """:func:`run_claim` on a registered claim, looked up by id (a worker's job)."""
    from .registry import REGISTRY

    return run_claim(REGISTRY[claim_id], quick)


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


def report(results: list[ClaimResult], quick: bool, certify: bool = False,
           extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-ready report: versions, platform, mode and one entry per claim (and ``extra`` entries)."""
    return {**(extra or {}),
        "tool": "ropelab verify",
        "versions": library_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "quick": quick,
        "certify": certify,
        "certified": [r.id for r in results if r.certified],
        "passed": all(r.status == "pass" for r in results),
        "claims": [_jsonable(asdict(r)) for r in results],
    }


def write_report(path: str | Path, results: list[ClaimResult], quick: bool, certify: bool = False,
                 extra: Mapping[str, Any] | None = None) -> Path:
    """Write the report to ``path`` atomically (a reader never sees half a file)."""
    text = json.dumps(report(results, quick, certify, extra), indent=2, sort_keys=False)
    return write_text_atomically(path, text + "\n")
