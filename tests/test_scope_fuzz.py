"""Every claim's numeric side holds on draws from its own declared scope, and at its edges.

A claim's ``numeric_scope`` (:mod:`ropelab.checks.scope`) is data: ranges, a condition and
pinned edge points. Here each range becomes a hypothesis strategy (the derandomised profile of
the conftest), each corner and edge point an ``@example``, and the claim's ``probe`` (its numeric
side at one point) must pass at every one of them. A planted scope wider than what holds fails.
"""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ropelab.checks.registry import REGISTRY
from ropelab.checks.scope import NumericScope, Range

SCOPED = sorted(cid for cid, claim in REGISTRY.items() if claim.numeric_scope is not None)


def strategy(r: Range) -> st.SearchStrategy:
    """Draws over the whole range: one of its values, integers, even integers, uniform or log-uniform reals."""
    if r.kind == "choice":
        return st.sampled_from(r.values)
    if r.kind in ("integer", "even"):
        step = 2 if r.kind == "even" else 1
        low, high = int(r.low) // step, int(r.high) // step
        spread = st.integers(0, 2**32 - 1).map(lambda k: random.Random(k).randint(low, high))
        return st.one_of(st.integers(low, high), spread).map(lambda n: step * n)
    # a uniform fraction, from hypothesis's own floats and from a seeded generator (so that draws
    # spread over the whole range instead of clustering at the simple values hypothesis prefers)
    fraction = st.one_of(st.floats(0.0, 1.0), st.integers(0, 2**32 - 1).map(lambda k: random.Random(k).random()))
    if r.kind == "log":
        low, high = math.log(r.low), math.log(r.high)
        return fraction.map(lambda u: min(max(math.exp(low + u * (high - low)), r.low), r.high))
    return fraction.map(lambda u: min(max(r.low + u * (r.high - r.low), r.low), r.high))


def points(scope: NumericScope) -> st.SearchStrategy:
    drawn = st.fixed_dictionaries({r.name: strategy(r) for r in scope.ranges})
    return drawn.filter(lambda p: scope.requires(**p)) if scope.requires is not None else drawn


def fuzz(claim_id: str, scope: NumericScope) -> None:
    """Run ``scope.probe`` at every pinned point, then on ``scope.draws`` draws; fail on the first miss."""

    def holds(point):
        scope.check_point(point)  # a drawn or pinned point outside the scope is a bug of this test
        evidence = scope.probe(**point)
        assert evidence.passed, (f"{claim_id} fails inside its declared scope at {point}: residual "
                                 f"{evidence.residual} > {evidence.tolerance}, worst {dict(evidence.worst_point)}")

    test = given(point=points(scope))(lambda point: holds(point))
    for pinned in reversed(scope.pinned()):
        test = example(point=pinned)(test)
    settings(max_examples=scope.draws)(test)()


def _params(claim_ids):
    return [pytest.param(cid, marks=[pytest.mark.slow] if REGISTRY[cid].numeric_scope.slow else [], id=cid)
            for cid in claim_ids]


@pytest.mark.parametrize("claim_id", _params(SCOPED))
def test_numeric_side_holds_over_its_declared_scope(claim_id):
    fuzz(claim_id, REGISTRY[claim_id].numeric_scope)


def test_scopes_are_declared():
    missing = sorted(cid for cid, claim in REGISTRY.items() if claim.numeric_scope is None)
    assert not missing, f"every claim declares its numeric scope; these do not: {missing}"
    for cid in SCOPED:
        scope = REGISTRY[cid].numeric_scope
        assert scope.corners(), f"{cid}: no corner of its scope satisfies its condition"
        for point in scope.pinned():
            scope.check_point(point)


def test_a_scope_wider_than_what_holds_fails():
    """Thm 6.1's closed form is exact for g <= 1: a scope reaching g = 1.5 is found out at its edge,
    and one that drops the condition rho cos(phi) < 1 is found out by the draws."""
    claim_id = "semantic_channel_breaks_at_long_context"
    right = REGISTRY[claim_id].numeric_scope
    too_fast = dataclasses.replace(right, ranges=(Range("g", 1e-3, 1.5, "log"), *right.ranges[1:]))
    with pytest.raises((AssertionError, ValueError)):
        fuzz(claim_id, too_fast)
    no_condition = dataclasses.replace(right, requires=None, requires_text="", edges=(),
                                       ranges=(right.ranges[0], Range("phi", -0.5, 0.5), Range("rho", 1.5, 2.0)))
    with pytest.raises((AssertionError, ValueError)):
        fuzz(claim_id, no_condition)


def test_a_commensurate_frequency_is_outside_the_head_scope():
    """Thm 5.3's head needs delta_N > 0: widening the one-pair head from g = 1 to g in [0.05, 1] takes in
    g = 2 pi/7, where distances 0, 7, 14, ... tie in float64, and the construction refuses it."""
    claim_id = "rope_head_can_be_diagonal"
    right = REGISTRY[claim_id].numeric_scope
    wide = dataclasses.replace(right, ranges=(Range("g", 0.05, 1.0, "log"), *right.ranges[1:]),
                               edges=({"g": 2 * math.pi / 7, "context": 100, "eps": 1e-3},))
    with pytest.raises(ValueError, match="not the strict maximum"):
        fuzz(claim_id, wide)


def test_a_point_outside_the_scope_is_named():
    scope = REGISTRY["semantic_channel_breaks_at_long_context"].numeric_scope
    with pytest.raises(ValueError, match="g = 2.0 is outside"):
        scope.check_point({"g": 2.0, "phi": 1.0, "rho": 1.0})
    with pytest.raises(ValueError, match="condition"):
        scope.check_point({"g": 0.1, "phi": 0.0, "rho": 1.5})
    with pytest.raises(ValueError, match="kind must be one of"):
        Range("d", 2, 8, "odd")
    with pytest.raises(ValueError, match="log range needs low > 0"):
        Range("theta", 0.0, 1.0, "log")


def test_monte_carlo_claims_range_over_seeds_and_fixed_instances_are_one_point():
    """Every estimated claim's scope draws other seeds and pins its own; a one-point scope is tried once."""
    for cid, claim in REGISTRY.items():
        scope = claim.numeric_scope
        if claim.numeric.trust.name == "ESTIMATED":
            assert [r.name for r in scope.ranges] == ["seed"], cid
            assert {"seed": claim.seed} in scope.pinned(), cid
        if all(r.low == r.high for r in scope.ranges):
            assert len(scope.pinned()) == 1, cid


def test_a_family_of_seeds_widens_the_standard_error_band():
    from ropelab.checks.claims._common import family_standard_errors

    assert family_standard_errors(10, 5.0) == 5.0
    assert 5.0 < family_standard_errors(10**6, 5.0) < family_standard_errors(10**8, 5.0)
