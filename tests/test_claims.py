"""Contract test: every registered claim passes, its wrong variant is rejected, its sides are stated."""

import pytest

from ropelab.checks.claim import Trust, part_shown
from ropelab.checks.registry import REGISTRY
from ropelab.checks.runner import run_claim

CLAIMS = list(REGISTRY.values())


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_holds_and_its_wrong_variant_is_rejected(claim):
    # one run of the check on each variant: the construction passes, the wrong one is rejected
    result = run_claim(claim, quick=True)
    assert not result.error, result.error
    assert result.symbolic is not False, f"{claim.id}: the SymPy side did not reduce to an identity"
    assert result.residual <= result.tolerance, (
        f"{claim.id}: residual {result.residual:.3g} > tolerance {result.tolerance:.3g} at {result.worst_point}"
    )
    assert result.negative_rejected, (
        f"{claim.id}: the wrong variant ({claim.wrong.description}) passed the check "
        f"with residual {result.negative_residual:.3g}"
    )
    assert result.status == "pass"
    # the table prints the weakest part of the statement, never the strongest side that held
    assert result.shown == claim.printed().line()
    assert [p["trust"] for p in result.parts] == [
        part_shown(claim, part, {"symbolic": True, "numeric": True})[1].trust.value for part in claim.parts]


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_is_documented_with_trust_and_scope(claim):
    assert claim.statement and claim.wrong.description and claim.tolerance_reason
    for name, shown in claim.sides().items():
        assert isinstance(shown.trust, Trust) and shown.scope.strip(), f"{claim.id}: {name} side lacks a scope"
    text = claim.explain()
    assert any(ch.isdigit() for ch in text), f"{claim.id}: the worked instance shows no numbers"


def test_no_numeric_side_claims_a_proof():
    for claim in CLAIMS:
        assert claim.numeric.trust not in (Trust.PROVED, Trust.PROVED_FINITE), claim.id


def test_ids_state_results_and_are_unique():
    assert len(REGISTRY) == len(set(REGISTRY))
    for claim_id in REGISTRY:
        assert claim_id == claim_id.lower() and "_" in claim_id
