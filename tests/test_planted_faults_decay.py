"""Planted faults in the §3 closed forms: each claim that uses a closed form must fail when it is wrong."""

import pytest
import sympy as sp

from ropelab.checks import runner
from ropelab.checks.registry import REGISTRY
from ropelab.theory import abel_bound, diophantine, rotations
from ropelab.theory import logit_statistics as th_stats
from ropelab.theory import random_positions as th_random
from ropelab.theory import rotated_key as th_key


def _scaled(function, factor):
    return lambda *args, **kwargs: factor * function(*args, **kwargs)


def _shifted(function, offset):
    return lambda *args, **kwargs: function(*args, **kwargs) + offset


def _sign_flipped_step(abel_sides):
    def sides(m):
        left, right = abel_sides(m)
        return left, right.subs(abel_bound.h[m - 1], -abel_bound.h[m - 1])
    return sides


# (module, attribute, wrong version of the original, claims that must fail)
FAULTS = [
    (th_key, "chunk_gap", lambda f: _scaled(f, sp.Rational(3, 2)), ["rotated_key_maximises_logit_at_distance"]),
    (diophantine, "one_minus_cos", lambda f: _scaled(f, 100),
     ["frequency_multiple_never_full_turn", "float32_cannot_certify_rotated_key_argmax"]),
    (th_stats, "pair_logit", lambda f: _scaled(f, 2),
     ["gaussian_logit_mean_is_zero", "gaussian_logit_variance_is_dimension", "correlated_logit_mean_is_cosine_sum",
      "all_ones_logit_decays", "fixed_gaussian_logit_does_not_decay", "random_positions_speed_decay"]),
    (th_stats, "pair_logit_covariance", lambda f: _scaled(f, sp.Rational(3, 2)), ["gaussian_logit_mean_is_zero"]),
    (th_stats, "pair_logit_product_moment", lambda f: _scaled(f, sp.Rational(1, 100)), ["gaussian_logit_mean_is_zero"]),
    (th_stats, "gaussian_expectation", lambda f: _shifted(f, 1),
     ["gaussian_logit_mean_is_zero", "gaussian_logit_variance_is_dimension", "correlated_logit_mean_is_cosine_sum"]),
    (th_stats, "all_ones_pair_logit", lambda f: _scaled(f, sp.Rational(3, 2)), ["all_ones_logit_decays"]),
    (rotations, "frequency", lambda f: lambda k, d, theta: f(k, d, theta) ** 2,
     ["gaussian_logit_mean_is_zero", "correlated_logit_mean_is_cosine_sum", "all_ones_logit_decays"]),
    (abel_bound, "abel_sides", _sign_flipped_step, ["abel_bound_is_vacuous_for_gaussian_logits"]),
    (th_random, "mean_gap", lambda f: _shifted(f, sp.Rational(1, 7)), ["random_positions_speed_decay"]),
]
CASES = [(module, name, wrong, claim_id) for module, name, wrong, ids in FAULTS for claim_id in ids]


@pytest.fixture(autouse=True)
def _fresh_derivations():
    # derivations are cached per process: a planted fault must be derived again, and then forgotten
    runner.derivation.cache_clear()
    yield
    runner.derivation.cache_clear()


@pytest.mark.parametrize("module, name, wrong, claim_id", CASES,
                         ids=[f"{module.__name__.rsplit('.', 1)[-1]}.{name}-{claim_id}" for module, name, _, claim_id in CASES])
def test_a_wrong_closed_form_fails_the_claim(monkeypatch, module, name, wrong, claim_id):
    monkeypatch.setattr(module, name, wrong(getattr(module, name)))
    result = runner.run_claim(REGISTRY[claim_id], quick=True)
    assert not result.error, result.error  # a verdict, not a crash
    assert result.status == "fail", f"{claim_id} still passes with a wrong {module.__name__}.{name}"
