"""``--certify``: certificate chunks run in spawned processes, a failing chunk fails the claim."""

import json
import os

import pytest

from ropelab.checks.claim import Certificate, Claim, Evidence, Shown, Trust, Variant
from ropelab.checks.laws import Identity, Point
from ropelab.checks.registry import REGISTRY
from ropelab.checks.runner import certify_claim, report, run_claim
from ropelab.cli import app as cli

SECTION_2 = [claim.id for claim in REGISTRY.values() if claim.section.startswith("§2")]


def toy_chunk(chunk: tuple[float, float]) -> Evidence:
    """Module level, so that a spawned worker can import it: ``(value, limit)`` passes when value <= limit."""
    value, limit = chunk
    return Evidence(value, limit, {"value": value}, {"pid": os.getpid()})


def toy_claim(chunks: list[tuple[float, float]]) -> Claim:
    return Claim(
        id="toy_certified_statement", label="test", section="test", statement="a toy statement",
        law=Identity(), check=lambda error, quick, rng: [Point({"case": 0}, error=error, bound=1.0)],
        construction=Variant(0.0, "no error"), wrong=Variant(2.0, "twice the bound"),
        numeric=Shown(Trust.CHECKED, "one point"), tolerance_reason="toy bound 1",
        explain=lambda: "error 0 against bound 1", symbolic_reason="a toy has no derivation",
        certificate=Certificate(lambda quick: chunks, toy_chunk, Shown(Trust.CERTIFIED, "the toy chunks")),
    )


def test_passing_certificate_runs_every_chunk_in_worker_processes():
    evidence = certify_claim(toy_claim([(0.1, 1.0), (0.5, 1.0), (0.2, 1.0)]), quick=True, processes=2)
    assert evidence.passed and len(evidence.parts) == 3
    assert evidence.residual == 0.5 and evidence.worst_point["chunk"] == "chunk 1"  # the least headroom
    pids = {part.details["pid"] for part in evidence.parts.values()}
    assert os.getpid() not in pids


def test_one_failing_chunk_fails_the_claim_and_is_reported():
    claim = toy_claim([(0.1, 1.0), (3.0, 1.0), (0.2, 1.0)])
    evidence = certify_claim(claim, quick=True, processes=2)
    assert not evidence.passed and evidence.worst_point["chunk"] == "chunk 1" and evidence.residual == 3.0
    result = run_claim(claim, quick=True, certify=True)
    assert result.status == "fail" and result.certified is False
    assert result.residual <= result.tolerance and result.negative_rejected  # only the certificate failed
    assert result.details["certificate"]["passed"] is False
    assert run_claim(claim, quick=True).status == "pass"  # without --certify the certificate is not run


def test_report_records_what_was_certified():
    results = [run_claim(toy_claim([(0.1, 1.0)]), quick=True, certify=True),
               run_claim(toy_claim([(2.0, 1.0)]), quick=True, certify=True)]
    assert [r.certified for r in results] == [True, False]
    assert results[0].shown.startswith("certified: the toy chunks")
    out = report(results, quick=True, certify=True)
    assert out["certify"] is True and out["certified"] == ["toy_certified_statement"] and out["passed"] is False
    plain = report([run_claim(toy_claim([(0.1, 1.0)]), quick=True)], quick=True)
    assert plain["certify"] is False and plain["certified"] == [] and plain["claims"][0]["certified"] is None


def test_section_2_has_an_arb_certificate():
    certified = [cid for cid in SECTION_2 if REGISTRY[cid].certificate is not None]
    assert certified, "no §2 claim carries a certificate"
    for cid in certified:
        shown = REGISTRY[cid].certificate.shown
        assert shown.trust is Trust.CERTIFIED and "Arb" in shown.scope


@pytest.mark.slow
def test_verify_certify_on_section_2_exits_0(tmp_path, capsys):
    path = tmp_path / "report.json"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", *SECTION_2, "--quick", "--certify", "--json", str(path)])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    data = json.loads(path.read_text())
    assert data["certify"] is True and data["passed"] is True
    assert set(data["certified"]) == {cid for cid in SECTION_2 if REGISTRY[cid].certificate is not None}
    for claim in data["claims"]:
        if claim["certified"]:
            assert claim["details"]["certificate"]["passed"] is True and claim["details"]["certificate"]["chunks"] > 1
