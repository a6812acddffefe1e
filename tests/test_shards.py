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
