"""Contract test: every registered claim passes, and its negative control is rejected."""

import pytest

from ropelab.checks.registry import REGISTRY
from ropelab.checks.runner import run_claim

CLAIMS = list(REGISTRY.values())


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_holds(claim):
    result = run_claim(claim, quick=True)
    assert not result.error, result.error
    assert result.symbolic is not False, f"{claim.id}: the SymPy side did not reduce to an identity"
    assert result.residual <= result.tolerance, (
        f"{claim.id}: residual {result.residual:.3g} > tolerance {result.tolerance:.3g} at {result.worst_point}"
    )
    assert result.status == "pass"


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_negative_control_is_rejected(claim):
    evidence = claim.negative(True)
    assert not evidence.passed, (
        f"{claim.id}: the wrong variant ({claim.negative_description}) passed the check "
        f"with residual {evidence.residual:.3g} <= {evidence.tolerance:.3g}"
    )


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_is_documented(claim):
    assert claim.statement and claim.negative_description and claim.tolerance_reason
    text = claim.explain()
    assert any(ch.isdigit() for ch in text), f"{claim.id}: the worked instance shows no numbers"


def test_ids_state_results_and_are_unique():
    assert len(REGISTRY) == len(set(REGISTRY))
    for claim_id in REGISTRY:
        assert claim_id == claim_id.lower() and "_" in claim_id
