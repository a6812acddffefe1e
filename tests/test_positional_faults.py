"""Planted faults: a wrong constant or sign in a §5 closed form makes the claims that use it fail."""

import pytest
import sympy as sp

from ropelab.checks import runner
from ropelab.checks.registry import REGISTRY
from ropelab.theory import near_returns as th_nr
from ropelab.theory import positional_heads as th_ph
from ropelab.theory import softmax_bounds as th_sb

T = sp.Symbol("t", positive=True)
A31, A33 = sp.symbols("a_31 a_33", real=True)
B, TT, MARGIN = sp.symbols("b t Delta", positive=True)
TARGET, REST = sp.symbols("T S", nonnegative=True)


def _scale_with_halved_gap():
    return sp.log((th_ph.N - 1) * (1 - th_ph.eps) / th_ph.eps) / (2 * th_ph.delta)


def _logit_with_wrong_sign(distance):
    return th_ph.s**2 * th_ph.w * sp.cos((th_ph.i - th_ph.j + distance) * th_ph.g)


def _logit_with_wrong_constant(distance):
    return 2 * th_ph.s**2 * th_ph.w * sp.cos((th_ph.i - th_ph.j - distance) * th_ph.g)


FAULTS = [
    (th_sb, "two_key_bound", lambda: sp.Lambda(T, 1 / (2 + sp.exp(T))), ["non_argmax_softmax_weight_below_half"]),
    (th_sb, "nope_repeated_pair_weight", lambda: sp.Lambda((A31, A33), 1 / (sp.exp(A31 - A33) + 3)),
     ["nope_cannot_be_diagonal_or_previous_token"]),
    (th_ph, "chunk_head_logit", _logit_with_wrong_sign, ["rope_head_can_be_previous_token"]),
    (th_ph, "chunk_head_logit", _logit_with_wrong_constant,
     ["rope_head_can_be_diagonal", "rope_head_can_be_previous_token"]),
    (th_ph, "sufficient_scale_squared_expr", _scale_with_halved_gap,
     ["rope_head_can_be_diagonal", "rope_head_can_be_previous_token"]),
    (th_ph, "target_weight_lower_bound", lambda: 1 / (1 + th_ph.M * sp.exp(-2 * th_ph.x * th_ph.delta)),
     ["rope_head_can_be_diagonal", "rope_head_can_be_previous_token"]),
    (th_ph, "off_pattern_mass", lambda: sp.Lambda((TARGET, REST), REST / (TARGET + 2 * REST)),
     ["positional_patterns_are_defined"]),
    (th_ph, "figure_1_printed_logit", lambda: th_ph.w * sp.cos((th_ph.j - th_ph.i + 1) * th_ph.g),
     ["figure_1_convention_attends_to_future"]),
    (th_ph, "single_frequency_necessary_scale",
     lambda: sp.log((1 - th_ph.eps) / th_ph.eps) / (2 * sp.sin(sp.pi / th_ph.N) ** 2) * 100,
     ["top_frequency_band_makes_sharp_head_cheaply"]),
    (th_ph, "bos_anchor_signal", lambda: sp.Lambda((B, TT), sp.exp(B) / (sp.exp(B) + TT)),
     ["nope_bos_position_signal_needs_growing_logits"]),
    (th_ph, "bos_separation_gain",
     lambda: sp.Lambda((B, TT, MARGIN), MARGIN * (sp.exp(B) + TT) * (sp.exp(B) + TT - 2) / sp.exp(B)),
     ["nope_bos_position_signal_needs_growing_logits"]),
    (th_nr, "frequency_ratio", lambda g: sp.Rational(g) / sp.pi, ["near_returns_at_continued_fraction_convergents"]),
]


@pytest.mark.parametrize(("module", "name", "wrong", "claim_ids"), FAULTS, ids=[f"{f[1]}-{i}" for i, f in enumerate(FAULTS)])
def test_a_wrong_closed_form_fails_its_claims(monkeypatch, module, name, wrong, claim_ids):
    runner.derivation.cache_clear()
    monkeypatch.setattr(module, name, wrong)
    try:
        for claim_id in claim_ids:
            result = runner.run_claim(REGISTRY[claim_id], quick=True)
            assert result.status == "fail", f"{claim_id} still passes with a wrong {module.__name__}.{name}"
    finally:
        runner.derivation.cache_clear()


def test_convergents_that_skip_a_record_fail_the_near_return_claim(monkeypatch):
    original = th_nr.convergent_denominators
    monkeypatch.setattr(th_nr, "convergent_denominators", lambda alpha, limit, terms=64: [
        q for q in original(alpha, limit, terms) if q != 710])
    assert runner.run_claim(REGISTRY["near_returns_at_continued_fraction_convergents"], quick=True).status == "fail"
