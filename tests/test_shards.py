"""Verification split across machines: shards partition the run, and their merge is the run.

Three shards of a verify run, each written by ``ropelab verify --shard I/3 --json``, merge with
``ropelab verify --merge`` into the report one run writes (every claim's entry the same but for
its time); a missing shard, a shard given twice, parts of different runs and a report that is
not a shard are refused in one line with exit 2.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ropelab.checks import shards
from ropelab.cli import app as cli

IDS = ["rotation_composition", "rope_preserves_norm", "chunk_score_is_norm_times_cosine",
       "non_argmax_softmax_weight_below_half"]


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    return exit_info.value.code, capsys.readouterr().out


@given(n=st.integers(1, 60), count=st.integers(1, 9), costs=st.lists(st.floats(0.1, 50.0), min_size=60, max_size=60))
@example(n=1, count=5, costs=[1.0] * 60)
def test_shards_partition_the_claims_in_order_and_balance_them(n, count, costs):
    ids = [f"c{i}" for i in range(n)]
    cost = dict(zip(ids, costs))
    dealt = shards.assign(ids, count, cost)
    assert len(dealt) == count and sorted(i for s in dealt for i in s) == sorted(ids)
    assert all(s == sorted(s, key=ids.index) for s in dealt), "each shard keeps the registry's order"
    assert dealt == shards.assign(ids, count, cost), "the same list always gives the same shards"
    loads = [sum(cost[i] for i in s) for s in dealt]
    # largest-first to the least loaded: no shard exceeds the mean by more than the largest claim
    assert max(loads) <= sum(loads) / count + max(cost.values()) + 1e-9


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2"])
def test_a_bad_shard_is_refused(capsys, text):
    code, out = run(capsys, "verify", "--shard", text, *IDS)
    assert code == 2 and "--shard must be I/N" in out and "Traceback" not in out


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    for i in (1, 2, 3):
        with pytest.raises(SystemExit) as done:
            cli.main(["verify", "--quick", "--jobs", "1", *IDS, "--shard", f"{i}/3", "--json", str(folder / f"p{i}.json")])
        assert done.value.code == 0
    with pytest.raises(SystemExit) as done:
        cli.main(["verify", "--quick", "--jobs", "1", *IDS, "--json", str(folder / "whole.json")])
    assert done.value.code == 0
    return folder


def _without_time(report):
    return [{k: v for k, v in claim.items() if k != "seconds"} for claim in report["claims"]]


@pytest.mark.slow
def test_three_shards_merged_equal_one_run(capsys, parts):
    records = [json.loads((parts / f"p{i}.json").read_text())["shard"] for i in (1, 2, 3)]
    assert sorted(i for r in records for i in r["ids"]) == sorted(IDS) and all(r["all_ids"] == IDS for r in records)
    code, out = run(capsys, "verify", "--merge", *(str(parts / f"p{i}.json") for i in (3, 1, 2)),
                    "--json", str(parts / "merged.json"))
    assert code == 0 and "4/4 claims pass (merged from 3 shards)" in out
    merged, whole = (json.loads((parts / n).read_text()) for n in ("merged.json", "whole.json"))
    assert _without_time(merged) == _without_time(whole)
    assert {k: merged[k] for k in ("quick", "certify", "certified", "passed", "versions")} == \
           {k: whole[k] for k in ("quick", "certify", "certified", "passed", "versions")}


@pytest.mark.slow
@pytest.mark.parametrize("names, message", [
    (("p1", "p3"), "shard 2/3 missing"),
    (("p1", "p2", "p2", "p3"), "shard 2/3 is given twice"),
    (("p1", "p2", "whole"), "whole.json is not a shard report"),
])
def test_a_missing_duplicated_or_foreign_part_is_refused(capsys, parts, names, message):
    code, out = run(capsys, "verify", "--merge", *(str(parts / f"{n}.json") for n in names),
                    "--json", str(parts / "refused.json"))
    assert code == 2 and message in out and len(out.strip().splitlines()) == 1
    assert not (parts / "refused.json").exists()


@pytest.mark.slow
def test_parts_of_different_runs_are_refused(capsys, parts, tmp_path):
    other = json.loads((parts / "p2.json").read_text())
    other["quick"] = False
    (tmp_path / "p2.json").write_text(json.dumps(other))
    code, out = run(capsys, "verify", "--merge", str(parts / "p1.json"), str(tmp_path / "p2.json"), str(parts / "p3.json"))
    assert code == 2 and "differ in 'quick'" in out


# --- --certify: certificate chunks are units of work too ---------------------------------------

CERTIFIED_IDS = ["rotation_composition", "rotated_key_maximises_logit_at_distance",
                 "frequency_multiple_never_full_turn", "rope_preserves_norm"]


@given(n=st.integers(1, 12), count=st.integers(1, 9), chunks=st.lists(st.integers(0, 20), min_size=12, max_size=12),
       costs=st.lists(st.floats(0.01, 50.0), min_size=12 + 12 * 20, max_size=12 + 12 * 20))
@example(n=1, count=4, chunks=[8] + [0] * 11, costs=[1.0] * 252)
def test_split_deals_every_claim_and_chunk_once_and_balances_them(n, count, chunks, costs):
    ids = [f"c{i}" for i in range(n)]
    counts = {i: k for i, k in zip(ids, chunks) if k}
    claim_cost = dict(zip(ids, costs))
    chunk_cost = {i: costs[12 + 20 * m:12 + 20 * m + counts[i]] for m, i in enumerate(ids) if i in counts}
    dealt = shards.split(ids, count, counts, claim_cost, chunk_cost)
    assert dealt == shards.split(ids, count, counts, claim_cost, chunk_cost), "the same run always gives the same shards"
    assert sorted(c for w in dealt for c in w.claims) == sorted(ids)
    assert sorted(u for w in dealt for u in w.chunks) == sorted((i, k) for i in counts for k in range(counts[i]))
    loads = shards.shard_loads(ids, count, counts, claim_cost, chunk_cost)
    units = list(claim_cost.values()) + [x for v in chunk_cost.values() for x in v]
    assert sum(loads) == pytest.approx(sum(units))
    # largest-first to the least loaded: no shard exceeds the mean by more than the largest unit
    assert max(loads) <= sum(loads) / count + max(units) + 1e-9


def test_a_chunk_without_a_record_costs_the_median_of_its_certificate():
    # chunk 3 of "a" has no record: it costs median(4, 1, 1) = 1, so one shard takes chunk 0 alone
    assert shards.shard_loads(["a"], 2, {"a": 4}, {"a": 0.5}, {"a": [4.0, 1.0, 1.0]}) == [4.0, 3.5]


def _verify(*args):
    with pytest.raises(SystemExit) as done:
        cli.main(["verify", "--quick", "--certify", "--jobs", "1", *CERTIFIED_IDS, *args])
    return done.value.code


@pytest.fixture(scope="module")
def certified_parts(tmp_path_factory):
    """``--certify --quick`` on three certified claims and one plain one: three shards and one run
    (``--jobs 1``: the chunks run in this process, which keeps the test fast)."""
    folder = tmp_path_factory.mktemp("certified_shards")
    for i in (1, 2, 3):
        assert _verify("--shard", f"{i}/3", "--json", str(folder / f"p{i}.json")) == 0
    assert _verify("--json", str(folder / "whole.json")) == 0
    return folder


def _load(folder, name):
    return json.loads((folder / f"{name}.json").read_text())


def _merge(capsys, folder, names, out="merged"):
    return run(capsys, "verify", "--merge", *(str(folder / f"{n}.json") for n in names),
               "--json", str(folder / f"{out}.json"))


@pytest.mark.slow
def test_certified_shards_split_chunks_and_merge_into_one_run(capsys, certified_parts):
    records = [_load(certified_parts, f"p{i}")["shard"] for i in (1, 2, 3)]
    counts = records[0]["certificate_chunks"]
    assert set(counts) == set(CERTIFIED_IDS[:3]) and all(r["certificate_chunks"] == counts for r in records)
    ran = [(c["claim"], c["chunk"]) for r in records for c in r["chunks"]]
    assert sorted(ran) == sorted((cid, i) for cid, n in counts.items() for i in range(n)), "each chunk runs once"
    assert all("covers" in c["evidence"]["details"] for r in records for c in r["chunks"])
    largest = max(counts, key=counts.get)
    holders = {r["index"] for r in records for c in r["chunks"] if c["claim"] == largest}
    assert len(holders) > 1, f"{largest}'s {counts[largest]} chunks all ran in one shard"
    code, out = _merge(capsys, certified_parts, ("p2", "p3", "p1"))
    assert code == 0 and "4/4 claims pass (merged from 3 shards)" in out
    merged, whole = _load(certified_parts, "merged"), _load(certified_parts, "whole")
    assert _without_time(merged) == _without_time(whole)
    assert merged["certified"] == whole["certified"] == CERTIFIED_IDS[:3]
    assert {k: merged[k] for k in ("quick", "certify", "passed", "versions")} == \
           {k: whole[k] for k in ("quick", "certify", "passed", "versions")}
    assert all(c["details"]["certificate"]["coverage_matches_scope"] for c in merged["claims"] if c["certified"])


def _tampered(folder, tmp_path, change):
    """The three parts, with ``change(records)`` applied to their shard records, written to ``tmp_path``."""
    reports = [_load(folder, f"p{i}") for i in (1, 2, 3)]
    change([r["shard"] for r in reports])
    for i, report in enumerate(reports, 1):
        (tmp_path / f"p{i}.json").write_text(json.dumps(report))
    return ("p1", "p2", "p3")


def _first_chunk(records, claim_id):
    return next((r, c) for r in records for c in r["chunks"] if c["claim"] == claim_id)


def _drop_a_chunk(records):
    record, chunk = _first_chunk(records, "rotation_composition")
    record["chunks"].remove(chunk)


def _run_a_chunk_twice(records):
    record, chunk = _first_chunk(records, "rotation_composition")
    next(r for r in records if r is not record)["chunks"].append(chunk)


@pytest.mark.slow
@pytest.mark.parametrize("change, message", [
    (_drop_a_chunk, "of rotation_composition's certificate is in no part"),
    (_run_a_chunk_twice, "of rotation_composition's certificate is in two parts"),
])
def test_a_missing_or_duplicated_chunk_is_refused(capsys, certified_parts, tmp_path, change, message):
    names = _tampered(certified_parts, tmp_path, change)
    code, out = _merge(capsys, tmp_path, names)
    assert code == 2 and message in out and len(out.strip().splitlines()) == 1
    assert not (tmp_path / "merged.json").exists()


@pytest.mark.slow
def test_a_missing_certified_shard_is_refused(capsys, certified_parts):
    code, out = _merge(capsys, certified_parts, ("p1", "p3"), out="refused")
    assert code == 2 and "shard 2/3 missing" in out and not (certified_parts / "refused.json").exists()


@pytest.mark.slow
def test_a_chunk_that_drops_a_covered_range_fails_the_merged_certificate(capsys, certified_parts, tmp_path):
    """A planted fault: one chunk's evidence no longer covers its last pair k; every chunk still passes."""
    def drop(records):
        covers = _first_chunk(records, "rotation_composition")[1]["evidence"]["details"]["covers"]
        covers[-1][-1] -= 1  # (d, theta, i, j, 0, d/2) -> (..., 0, d/2 - 1)

    code, out = _merge(capsys, tmp_path, _tampered(certified_parts, tmp_path, drop))
    assert code == 1 and "3/4 claims pass (merged from 3 shards)" in out
    claim = next(c for c in _load(tmp_path, "merged")["claims"] if c["id"] == "rotation_composition")
    certificate = claim["details"]["certificate"]
    assert claim["status"] == "fail" and claim["certified"] is False and certificate["passed"] is False
    assert certificate["worst_point"]["chunk"] == "coverage" and not certificate["coverage_matches_scope"]
    assert "covered k in" in certificate["coverage_differences"][0]
