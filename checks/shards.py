"""Verification split across machines: deterministic shards of the registry and their merge.

``ropelab verify --shard I/N`` runs shard ``I`` of ``N`` (1-based) and records in its JSON report
which shard it was, which claims it ran and which claims the whole run has; ``ropelab verify
--merge PART.json ...`` joins the parts into the report one run would have written, and refuses
a set of parts that is not exactly one whole run (a shard missing or given twice, parts of
different runs, modes or package versions). Any batch scheduler (a Slurm array, a CI matrix)
can then spread a run over machines.

The units of work are the claims and, under ``--certify``, each chunk of each certificate
(``(claim, chunk index)``): a claim's symbolic and numeric sides run in the one shard that owns
the claim, its certificate's chunks wherever they are dealt, and the merge judges each
certificate from all its chunks exactly as one run does (:func:`~ropelab.checks.runner.judge_certificate`).
Units are dealt by their recorded cost (:data:`COSTS_FILE`: seconds of a claim's sides in a full
run, a claim without a record costing the median; seconds of each certificate chunk, full and
quick, a chunk without a record costing the median of its certificate's recorded chunks, or of
all recorded chunks when its certificate has none), largest first, each to the least loaded
shard, ties broken by registry order and shard number: the same registry always gives the same shards.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .claim import Claim, ClaimResult

__all__ = ["Work", "assign", "chunk_counts", "merge_reports", "parse_shard", "plan", "recorded_chunk_costs",
           "run_shard", "shard_loads", "shard_record", "split"]

COSTS_FILE = Path(__file__).with_name("data") / "claim_costs.json"


def recorded_costs() -> dict[str, float]:
    """Seconds per claim in a full one-core run, as recorded in :data:`COSTS_FILE` (empty if none)."""
    try:
        data = json.loads(COSTS_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {str(k): float(v) for k, v in data["seconds"].items()}


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and self.count >= 1 and isinstance(self.index, int)
                and 1 <= self.index <= self.count):
            raise ValueError(f"--shard must be I/N with 1 <= I <= N, got {self.index}/{self.count}")


def parse_shard(text: str) -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``; anything else is a ``ValueError`` naming ``--shard``.

    >>> parse_shard("2/3")
    Shard(index=2, count=3)
    """
    index, slash, count = text.partition("/")
    if not slash or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"--shard must be I/N with 1 <= I <= N (for example 2/3), got {text!r}")
    return Shard(int(index), int(count))


def recorded_chunk_costs(quick: bool) -> dict[str, list[float]]:
    """Seconds of each certificate chunk (in chunk order) by claim, full or ``quick``, from :data:`COSTS_FILE`."""
    try:
        data = json.loads(COSTS_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    chunks = data.get("certificate_chunk_seconds", {}).get("quick" if quick else "full", {})
    return {str(k): [float(x) for x in v] for k, v in chunks.items()}


@dataclass(frozen=True)
class Work:
    """What one shard runs: the claims it owns (their sides) and certificate chunks ``(claim, index)``."""

    claims: tuple[str, ...]
    chunks: tuple[tuple[str, int], ...]


Unit = tuple  # ("claim", id) or ("chunk", id, index)


def _unit_costs(ids: Sequence[str], counts: Mapping[str, int], costs: Mapping[str, float],
                chunk_costs: Mapping[str, Sequence[float]]) -> dict[Unit, float]:
    default = statistics.median(costs.values()) if costs else 1.0
    every_chunk = [x for v in chunk_costs.values() for x in v]
    out: dict[Unit, float] = {}
    for claim_id in ids:
        out[("claim", claim_id)] = float(costs.get(claim_id, default))
        recorded = list(chunk_costs.get(claim_id, ()))
        fallback = statistics.median(recorded or every_chunk or [default])
        for i in range(counts.get(claim_id, 0)):
            out[("chunk", claim_id, i)] = float(recorded[i]) if i < len(recorded) else fallback
    return out


def split(ids: Sequence[str], count: int, counts: Mapping[str, int] | None = None,
          costs: Mapping[str, float] | None = None, chunk_costs: Mapping[str, Sequence[float]] | None = None,
          ) -> list[Work]:
    """Deal the claims ``ids`` and the chunks of their certificates (``counts``: chunks per
    certified claim, empty without ``--certify``) to ``count`` shards, balanced by cost.

    Each unit, largest cost first (ties in registry order), goes to the least loaded shard (ties
    to the lowest); each shard lists its claims and chunks in registry order.

    >>> split(["a", "b"], 2, {"a": 3}, {"a": 1.0, "b": 1.0}, {"a": [2.0, 1.0, 1.0]})
    [Work(claims=(), chunks=(('a', 0), ('a', 2))), Work(claims=('a', 'b'), chunks=(('a', 1),))]
    """
    if count < 1:
        raise ValueError(f"the number of shards must be at least 1, got {count}")
    counts = counts or {}
    unknown = sorted(set(counts) - set(ids))
    if unknown:
        raise ValueError(f"certificate chunks given for claims not in the run: {', '.join(unknown)}")
    costs = recorded_costs() if costs is None else costs
    cost = _unit_costs(ids, counts, costs, chunk_costs or {})
    order = {unit: n for n, unit in enumerate(cost)}
    loads = [0.0] * count
    owner: dict[Unit, int] = {}
    for unit in sorted(cost, key=lambda u: (-cost[u], order[u])):
        shard = min(range(count), key=lambda s: (loads[s], s))
        owner[unit] = shard
        loads[shard] += cost[unit]
    return [Work(tuple(u[1] for u in cost if u[0] == "claim" and owner[u] == s),
                 tuple((u[1], u[2]) for u in cost if u[0] == "chunk" and owner[u] == s)) for s in range(count)]


def assign(ids: Sequence[str], count: int, costs: Mapping[str, float] | None = None) -> list[list[str]]:
    """Deal the claims ``ids`` (no certificate chunks) to ``count`` shards, balanced by cost.

    >>> assign(["a", "b", "c", "d"], 2, {"a": 3.0, "b": 1.0, "c": 1.0, "d": 1.0})
    [['a'], ['b', 'c', 'd']]
    """
    return [list(work.claims) for work in split(ids, count, {}, costs)]


def shard_loads(ids: Sequence[str], count: int, counts: Mapping[str, int] | None = None,
                costs: Mapping[str, float] | None = None,
                chunk_costs: Mapping[str, Sequence[float]] | None = None) -> list[float]:
    """Recorded seconds of each shard of :func:`split` (the same defaults for unrecorded units).

    >>> shard_loads(["a", "b"], 2, {"a": 3}, {"a": 1.0, "b": 1.0}, {"a": [2.0, 1.0, 1.0]})
    [3.0, 3.0]
    """
    costs = recorded_costs() if costs is None else costs
    cost = _unit_costs(ids, counts or {}, costs, chunk_costs or {})
    return [sum(cost[("claim", c)] for c in work.claims) + sum(cost[("chunk", c, i)] for c, i in work.chunks)
            for work in split(ids, count, counts, costs, chunk_costs)]


def chunk_counts(claims: Sequence[Claim], quick: bool, certify: bool) -> dict[str, int]:
    """The number of certificate chunks of each certified claim (empty without ``certify``)."""
    if not certify:
        return {}
    return {c.id: len(c.certificate.chunks(quick)) for c in claims if c.certificate is not None}


def shard_record(shard: Shard, ran: Sequence[str], all_ids: Sequence[str], counts: Mapping[str, int] | None = None,
                 sides: Mapping[str, Any] | None = None, chunks: Sequence[Any] = ()) -> dict[str, Any]:
    """What a shard's report says about itself (the ``"shard"`` entry of its JSON).

    ``counts``: chunks of every certified claim of the whole run; ``sides``: how the sides of
    the certified claims this shard owns came out; ``chunks``: the
    :class:`~ropelab.checks.runner.ChunkRun` s it ran, each with its evidence (``covers`` included).
    """
    from .runner import evidence_record

    return {"index": shard.index, "count": shard.count, "ids": list(ran), "all_ids": list(all_ids),
            "certificate_chunks": dict(counts or {}), "sides": dict(sides or {}),
            "chunks": [{"claim": run.claim, "chunk": run.chunk, "seconds": run.seconds, "error": run.error,
                        "evidence": None if run.evidence is None else evidence_record(run.evidence)}
                       for run in chunks]}


def plan(claims: Sequence[Claim], count: int, quick: bool, certify: bool) -> tuple[dict[str, int], list[Work]]:
    """The chunks of each certified claim (:func:`chunk_counts`) and the ``count`` shards' work (:func:`split`)."""
    counts = chunk_counts(claims, quick, certify)
    return counts, split([c.id for c in claims], count, counts, chunk_costs=recorded_chunk_costs(quick))


def run_shard(claims: Sequence[Claim], shard: Shard, quick: bool, certify: bool, jobs: int = 1,
              on_result: Callable[[ClaimResult], None] | None = None,
              on_chunks: Callable[[Sequence[Any]], None] | None = None,
              planned: tuple[dict[str, int], list[Work]] | None = None) -> tuple[list[ClaimResult], dict[str, Any]]:
    """Run shard ``shard`` of the run of ``claims``: its claims' results and its ``"shard"`` record.

    Without ``certify`` the claims it owns run as :func:`~ropelab.checks.runner.run_claims` runs
    them (``jobs`` workers); with it, each owned claim runs in this process, a certified one
    without its certificate (:func:`~ropelab.checks.runner.run_claim_sides`), and then the
    certificate chunks dealt to this shard run in ``jobs`` processes (0: one per core).
    ``planned`` is :func:`plan` of this run when the caller has it.
    """
    from .runner import run_chunks, run_claim, run_claim_sides, run_claims

    all_ids = [c.id for c in claims]
    counts, works = planned if planned is not None else plan(claims, shard.count, quick, certify)
    work = works[shard.index - 1]
    owned = [c for c in claims if c.id in set(work.claims)]
    if not certify:
        workers = min(jobs, len(owned)) if owned else 1
        results = run_claims(owned, quick=quick, on_result=on_result, jobs=workers)
        return results, shard_record(shard, [r.id for r in results], all_ids)
    results, sides = [], {}
    for claim in owned:
        if claim.id in counts:
            result, sides[claim.id] = run_claim_sides(claim, quick)
        else:
            result = run_claim(claim, quick, certify=True, processes=jobs or None)
        results.append(result)
        if on_result is not None:
            on_result(result)
    by_id = {c.id: c for c in claims}
    runs = run_chunks([(by_id[c], i) for c, i in work.chunks], quick, jobs or None) if work.chunks else []
    if on_chunks is not None:
        on_chunks(runs)
    return results, shard_record(shard, [r.id for r in results], all_ids, counts, sides, runs)


SAME_IN_EVERY_PART = ("tool", "versions", "python", "quick", "certify")


def merge_reports(parts: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """One run's report from its shards' reports, or a ``ValueError`` saying why they are not one run.

    Every part must carry a ``"shard"`` record; together they must be shards 1..N of one N, each
    once, over one list of claims, in one mode with one set of versions, and the claims they ran
    must be exactly that list, each once. Under ``--certify`` every chunk of every certificate
    must have run in exactly one part; each certificate is then judged from all its chunks as
    one run judges it (coverage included), and its claim finished as one run finishes it
    (:func:`~ropelab.checks.runner.complete_certified`). The merged report lists the claims in
    that list's order.
    """
    if not parts:
        raise ValueError("--merge needs at least one shard report")
    records = []
    for part, name in zip(parts, names):
        record = part.get("shard")
        if not isinstance(record, Mapping):
            raise ValueError(f"--merge: {name} is not a shard report (write one with `ropelab verify --shard I/N --json`)")
        records.append(record)
    counts = {r["count"] for r in records}
    if len(counts) != 1:
        raise ValueError(f"--merge: the parts come from runs split {sorted(counts)} ways")
    count = counts.pop()
    seen: dict[int, str] = {}
    for record, name in zip(records, names):
        if record["index"] in seen:
            raise ValueError(f"--merge: shard {record['index']}/{count} is given twice ({seen[record['index']]}, {name})")
        seen[record["index"]] = name
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise ValueError(f"--merge: shard{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(f'{m}/{count}' for m in missing)} missing")
    all_ids = records[0]["all_ids"]
    for key in SAME_IN_EVERY_PART:
        values = {repr(p.get(key)) for p in parts}
        if len(values) != 1:
            raise ValueError(f"--merge: the parts differ in {key!r}; they are not shards of one run")
    if any(r["all_ids"] != all_ids for r in records):
        raise ValueError("--merge: the parts were split from different lists of claims")
    if any(r.get("certificate_chunks", {}) != records[0].get("certificate_chunks", {}) for r in records):
        raise ValueError("--merge: the parts were split from different certificate chunks")
    by_id: dict[str, Mapping[str, Any]] = {}
    owner: dict[str, int] = {}
    for n, (part, name) in enumerate(zip(parts, names)):
        for claim in part["claims"]:
            if claim["id"] in by_id:
                raise ValueError(f"--merge: claim {claim['id']} is in two parts")
            by_id[claim["id"]] = claim
            owner[claim["id"]] = n
    if sorted(by_id) != sorted(all_ids):
        lost = sorted(set(all_ids) - set(by_id))
        raise ValueError(f"--merge: the parts do not cover the run's claims (missing: {', '.join(lost) or 'none'})")
    by_id.update(_certified_entries(parts, names, records, by_id, owner, bool(parts[0].get("quick"))))
    claims = [by_id[i] for i in all_ids]
    merged = {k: parts[0][k] for k in parts[0] if k not in ("shard", "claims", "certified", "passed")}
    merged.update({
        "certified": [c["id"] for c in claims if c.get("certified")],
        "passed": all(c["status"] == "pass" for c in claims),
        "claims": claims,
        "merged_from": [{"index": r["index"], "count": r["count"], "ids": list(r["ids"]), "all_ids": list(r["all_ids"]),
                         "chunks": [[c["claim"], c["chunk"]] for c in r.get("chunks", [])], "file": n}
                        for r, n in sorted(zip(records, names), key=lambda rn: rn[0]["index"])],
    })
    return merged


def _certified_entries(parts: Sequence[Mapping[str, Any]], names: Sequence[str], records: Sequence[Mapping[str, Any]],
                       by_id: Mapping[str, Mapping[str, Any]], owner: Mapping[str, int],
                       quick: bool) -> dict[str, dict[str, Any]]:
    """Each certified claim's entry, finished from its owner's sides and every part's chunks."""
    from .registry import REGISTRY
    from .runner import ChunkRun, complete_certified, evidence_from_record

    counts = records[0].get("certificate_chunks", {})
    if not isinstance(counts, Mapping) or any(c not in by_id for c in counts) or \
            any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in counts.values()):
        raise ValueError(f"--merge: {names[0]} has a malformed certificate_chunks record")
    found: dict[tuple[str, int], tuple[ChunkRun, str]] = {}
    for record, name in zip(records, names):
        for entry in record.get("chunks", []):
            try:
                claim_id, index = entry["claim"], entry["chunk"]
                if claim_id not in counts or isinstance(index, bool) or not isinstance(index, int) \
                        or not 0 <= index < counts[claim_id]:
                    raise ValueError(f"chunk {index!r} of {claim_id!r} is not a chunk of this run")
                seconds, error = float(entry["seconds"]), str(entry["error"])
                evidence = None if entry["evidence"] is None else evidence_from_record(entry["evidence"])
                if (evidence is None) == (not error):
                    raise ValueError(f"chunk {index} of {claim_id} has {'neither' if not error else 'both'} "
                                     f"evidence {'nor' if not error else 'and'} an error")
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"--merge: {name}: a malformed certificate chunk ({err})") from None
            if (claim_id, index) in found:
                raise ValueError(f"--merge: chunk {index} of {claim_id}'s certificate is in two parts "
                                 f"({found[claim_id, index][1]}, {name})")
            found[claim_id, index] = ChunkRun(claim_id, index, evidence, seconds, error), name
    out = {}
    for claim_id, n in counts.items():
        lost = [i for i in range(n) if (claim_id, i) not in found]
        if lost:
            raise ValueError(f"--merge: chunk{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))} of "
                             f"{claim_id}'s certificate {'are' if len(lost) > 1 else 'is'} in no part")
        name = names[owner[claim_id]]
        sides = records[owner[claim_id]].get("sides", {})
        if claim_id not in sides:
            raise ValueError(f"--merge: {name} runs {claim_id} but does not record how its sides came out")
        if claim_id not in REGISTRY:
            raise ValueError(f"--merge: claim {claim_id} is not in this ropelab's registry")
        out[claim_id] = complete_certified(REGISTRY[claim_id], by_id[claim_id], sides[claim_id],
                                           [found[claim_id, i][0] for i in range(n)], quick)
    return out
