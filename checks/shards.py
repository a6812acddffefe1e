"""Verification split across machines: deterministic shards of the registry and their merge.

``ropelab verify --shard I/N`` runs shard ``I`` of ``N`` (1-based) and records in its JSON report
which shard it was, which claims it ran and which claims the whole run has; ``ropelab verify
--merge PART.json ...`` joins the parts into the report one run would have written, and refuses
a set of parts that is not exactly one whole run (a shard missing or given twice, parts of
different runs, modes or package versions). Any batch scheduler (a Slurm array, a CI matrix)
can then spread a run over machines.

Claims are dealt to shards by their recorded cost (:data:`COSTS_FILE`: seconds of a full run,
from a verify report; a claim without a record costs the median), largest first, each to the least loaded
shard, ties broken by shard number: the same registry always gives the same shards.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["assign", "merge_reports", "parse_shard", "shard_record"]

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


def assign(ids: Sequence[str], count: int, costs: Mapping[str, float] | None = None) -> list[list[str]]:
    """Deal ``ids`` to ``count`` shards, balanced by cost; each shard keeps the registry's order.

    >>> assign(["a", "b", "c", "d"], 2, {"a": 3.0, "b": 1.0, "c": 1.0, "d": 1.0})
    [['a'], ['b', 'c', 'd']]
    """
    if count < 1:
        raise ValueError(f"the number of shards must be at least 1, got {count}")
    costs = recorded_costs() if costs is None else costs
    default = statistics.median(costs.values()) if costs else 1.0
    cost = {i: float(costs.get(i, default)) for i in ids}
    order = {i: n for n, i in enumerate(ids)}
    loads = [0.0] * count
    owner: dict[str, int] = {}
    for claim_id in sorted(ids, key=lambda i: (-cost[i], order[i])):
        shard = min(range(count), key=lambda s: (loads[s], s))
        owner[claim_id] = shard
        loads[shard] += cost[claim_id]
    return [[i for i in ids if owner[i] == s] for s in range(count)]


def shard_record(shard: Shard, ran: Sequence[str], all_ids: Sequence[str]) -> dict[str, Any]:
    """What a shard's report says about itself (the ``"shard"`` entry of its JSON)."""
    return {"index": shard.index, "count": shard.count, "ids": list(ran), "all_ids": list(all_ids)}


SAME_IN_EVERY_PART = ("tool", "versions", "python", "quick", "certify")


def merge_reports(parts: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """One run's report from its shards' reports, or a ``ValueError`` saying why they are not one run.

    Every part must carry a ``"shard"`` record; together they must be shards 1..N of one N, each
    once, over one list of claims, in one mode with one set of versions, and the claims they ran
    must be exactly that list, each once. The merged report lists the claims in that list's order.
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
    by_id: dict[str, Mapping[str, Any]] = {}
    for part, name in zip(parts, names):
        for claim in part["claims"]:
            if claim["id"] in by_id:
                raise ValueError(f"--merge: claim {claim['id']} is in two parts")
            by_id[claim["id"]] = claim
    if sorted(by_id) != sorted(all_ids):
        lost = sorted(set(all_ids) - set(by_id))
        raise ValueError(f"--merge: the parts do not cover the run's claims (missing: {', '.join(lost) or 'none'})")
    claims = [by_id[i] for i in all_ids]
    merged = {k: parts[0][k] for k in parts[0] if k not in ("shard", "claims", "certified", "passed")}
    merged.update({
        "certified": [c["id"] for c in claims if c.get("certified")],
        "passed": all(c["status"] == "pass" for c in claims),
        "claims": claims,
        "merged_from": [dict(r, ids=list(r["ids"])) | {"file": n} for r, n in
                        sorted(zip(records, names), key=lambda rn: rn[0]["index"])],
    })
    return merged
