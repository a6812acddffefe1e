"""Planted faults: a wrong constant or sign in a §6 closed form makes every claim that uses it fail.

Each closed form in ``theory/`` that the §6 claims (and the zoo) read is replaced by a subtly
wrong one; the claims must then fail. A claim that stopped calling its closed form would keep
passing, so these tests also pin that the closed forms are wired in.
"""

import math

import numpy as np
import pytest
import sympy as sp

from ropelab.checks.registry import REGISTRY
from ropelab.checks.runner import derivation, run_claim
from ropelab.theory import base_bounds as th_base
from ropelab.theory import p_rope as th_p
from ropelab.theory import semantic_channels as th_sc


@pytest.fixture(autouse=True)
def fresh_derivations():
    # derivations and lambdified coefficients are cached per process: drop them around each plant
    derivation.cache_clear()
    th_sc._threshold_functions.cache_clear()
    yield
    derivation.cache_clear()
    th_sc._threshold_functions.cache_clear()


def failing(ids: list[str]) -> set[str]:
    return {cid for cid in ids if run_claim(REGISTRY[cid], quick=True).status == "fail"}


def test_the_unplanted_closed_forms_pass():
    ids = ["semantic_channel_breaks_at_long_context", "semantic_range_scales_inverse_frequency",
           "apostrophe_channel_arithmetic", "critical_pair_index", "p_rope_keeps_highest_frequencies"]
    assert failing(ids) == set()


def test_semantic_range_shifted_by_one_token(monkeypatch):
    original = th_sc.semantic_range
    monkeypatch.setattr(th_sc, "semantic_range", lambda freq: original(freq) + 1)
    ids = ["semantic_range_scales_inverse_frequency", "apostrophe_channel_arithmetic",
           "p_rope_is_positional_and_semantic", "larger_base_lengthens_semantic_range"]
    assert failing(ids) == set(ids)


def test_sinusoid_coefficient_with_a_flipped_sign(monkeypatch):
    def flipped(sign):
        a, b = th_sc.rho * sp.cos(th_sc.phi) - sp.cos(th_sc.g), th_sc.rho * sp.sin(th_sc.phi) - sign * sp.sin(th_sc.g)
        return a, b

    monkeypatch.setattr(th_sc, "sinusoid_coefficients", flipped)
    assert not th_sc.breaking_condition().holds
    assert failing(["semantic_channel_breaks_at_long_context"]) == {"semantic_channel_breaks_at_long_context"}


def test_breaking_condition_with_a_wrong_margin(monkeypatch):
    # the rival's logit with the wrong sign of phi: breaking_condition no longer reduces
    monkeypatch.setattr(th_sc, "margin", lambda shift: th_sc.rho * sp.cos(th_sc.phi + th_sc.y) - sp.cos(th_sc.y + shift))
    assert not th_sc.breaking_condition().holds
    result = run_claim(REGISTRY["semantic_channel_breaks_at_long_context"], quick=True)
    assert result.symbolic is False and result.status == "fail"


def test_breaking_context_closed_form_off_by_one(monkeypatch):
    original = th_sc.breaking_context
    monkeypatch.setattr(th_sc, "breaking_context", lambda g, phi, ratio=1.0: original(g, phi, ratio) + 1)
    assert failing(["semantic_channel_breaks_at_long_context"]) == {"semantic_channel_breaks_at_long_context"}


def test_critical_index_with_pi_for_two_pi(monkeypatch):
    monkeypatch.setattr(th_base, "critical_pair_index",
                        lambda d, base, length: sp.sympify(d) / 2 * sp.log(sp.sympify(length) / sp.pi)
                        / sp.log(sp.sympify(base)))
    result = run_claim(REGISTRY["critical_pair_index"], quick=True)
    assert result.symbolic is False and result.status == "fail"


def test_cosine_sum_missing_its_last_pair(monkeypatch):
    original = th_base.cosine_sum
    monkeypatch.setattr(th_base, "cosine_sum", lambda distance, base, d, digits=40:
                        original(distance, base, d, digits) - math.cos(distance * base ** (-(d - 2) / d)))
    assert failing(["base_lower_bound_for_context"]) == {"base_lower_bound_for_context"}


def test_p_rope_frequency_with_a_wrong_exponent(monkeypatch):
    monkeypatch.setattr(th_p, "p_rope_frequency", lambda m, d, kept: sp.Piecewise(
        (th_p.theta ** (-2 * sp.sympify(m) / (sp.sympify(d) + 2)), sp.sympify(m) < kept), (0, True)))
    result = run_claim(REGISTRY["p_rope_keeps_highest_frequencies"], quick=True)
    assert result.symbolic is False and result.status == "fail"


def test_p_rope_frequency_keeping_one_pair_too_many(monkeypatch):
    monkeypatch.setattr(th_p, "p_rope_frequency", lambda m, d, kept: sp.Piecewise(
        (th_p.theta ** (-2 * sp.sympify(m) / sp.sympify(d)), sp.sympify(m) <= kept), (0, True)))
    assert failing(["p_rope_keeps_highest_frequencies"]) == {"p_rope_keeps_highest_frequencies"}


def test_kept_pair_count_by_decimal_arithmetic(monkeypatch):
    monkeypatch.setattr(th_p, "kept_pairs_ieee", lambda p, d: math.floor(round(p * d, 9) / 2))
    assert failing(["p_rope_keeps_highest_frequencies"]) == {"p_rope_keeps_highest_frequencies"}


def test_certificates_hold_and_catch_a_planted_fault(monkeypatch):
    from ropelab.checks.claims import base_bounds, semantic_channels

    chunk = semantic_channels._break_chunks(True)[0]
    assert semantic_channels.certify_break_cases(chunk).passed
    original = th_sc.breaking_context
    monkeypatch.setattr(th_sc, "breaking_context", lambda g, phi, ratio=1.0: original(g, phi, ratio) - 1)
    assert not semantic_channels.certify_break_cases(chunk).passed
    cases = base_bounds._certificate_chunks(True)
    assert all(base_bounds.certify_base_case(case).passed for case in cases)
    assert {feasible for _, _, _, feasible, _ in cases} == {True, False}
    monkeypatch.setattr(th_base, "cosine_sum", lambda distance, base, d, digits=40: np.float64(1.0))
    assert not base_bounds.certify_base_case(cases[1]).passed


def test_breaking_context_certificate_runs_in_worker_processes():
    from ropelab.checks.runner import certify_claim

    evidence = certify_claim(REGISTRY["semantic_channel_breaks_at_long_context"], quick=True, processes=2)
    assert evidence.passed and len(evidence.parts) == 8
