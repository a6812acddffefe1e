"""Prop 3.1: the rotated key wins its row; Arb settles near ties; float32 cannot certify the argmax."""


import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ropelab.checks import tolerances as tol
from ropelab.checks.laws import judge
from ropelab.checks.claims import rotated_key as claims_key
from ropelab.constructions import attention, frequencies, rotary, rotated_key
from ropelab.theory import diophantine

coordinates = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False)


def _vector(d):
    return st.lists(coordinates, min_size=d, max_size=d).map(np.array).filter(lambda v: np.linalg.norm(v) > 0.1)


# --- Prop 3.1 construction -----------------------------------------------------------------

@given(d=st.sampled_from([2, 4, 8]), theta=st.sampled_from([1e4, 5e5]), shift=st.integers(0, 300), data=st.data())
@example(d=2, theta=1e4, shift=0, data=None)
def test_rotated_key_wins_every_row(d, theta, shift, data):
    q = np.ones(d) if data is None else data.draw(_vector(d))
    freqs = frequencies.rope(d, theta)
    curve = rotated_key.rotated_key_curve(q, shift, freqs, 700)  # below float64 trouble and float32's 710
    verdict = rotated_key.row_argmax(curve, shift)
    assert verdict.wrong_rows == 0 and verdict.margin > 0
    assert curve[shift] == pytest.approx(float(q @ q), rel=1e-12)


@given(curve=st.lists(st.integers(-3, 3), min_size=1, max_size=40), data=st.data())
def test_row_argmax_matches_brute_force(curve, data):
    c = np.array(curve, dtype=float)
    shift = data.draw(st.integers(0, c.size - 1))
    verdict = rotated_key.row_argmax(c, shift)
    wrong = [i for i in range(shift, c.size)
             if any(c[t] >= c[shift] for t in range(i + 1) if t != shift)]
    assert verdict.wrong_rows == len(wrong)
    assert verdict.first_wrong_row == (wrong[0] if wrong else -1)
    assert verdict.rows == c.size - shift


def test_rotated_key_curve_matches_dense_attention():
    rng = np.random.default_rng(0)
    q = rng.standard_normal(8)
    freqs = frequencies.rope(8, 1e4)
    key = np.asarray(rotated_key.rotated_key(q, 5, freqs))
    n = 24
    dense = np.asarray(attention.logits(np.tile(q, (n, 1)), np.tile(key, (n, 1)), freqs))
    curve = rotated_key.rotated_key_curve(q, 5, freqs, n)
    i, j = np.tril_indices(n)
    np.testing.assert_allclose(dense[i, j], curve[i - j], atol=1e-12)


@given(q=_vector(4), shift=st.integers(0, 10**6), t=st.integers(0, 2 * 10**6))
def test_arb_gap_encloses_the_closed_form(q, shift, t):
    freqs = frequencies.rope(4, 1e4)
    gap = claims_key.arb_gaps(q, freqs, shift, [t])[0]
    weights = q[:2] ** 2 + q[2:] ** 2
    with mpmath.workdps(40):
        direct = mpmath.fsum(2 * float(w) * mpmath.sin((shift - t) * mpmath.mpf(float(g)) / 2) ** 2
                             for w, g in zip(weights, freqs))
    assert float(gap.lower()) <= float(direct) * (1 + 1e-12) + 1e-300
    assert float(direct) <= float(gap.upper()) * (1 + 1e-12) + 1e-300
    assert float(gap.rad()) <= 1e-25 * float(q @ q)


def test_the_certified_margin_is_the_closest_return():
    q = (0.6, -0.8)
    evidence = claims_key.certify_rotated_key_point((2, 1e4, 0, 2 * 10**6, q))
    assert evidence.passed and evidence.details["competitors"] == 2 * 10**6 - 1
    # within 2e6 tokens the runner-up is the continued-fraction near-return; the Arb margin is a lower bound on it
    delta = diophantine.closest_return(1.0, 2 * 10**6 - 1).delta
    assert delta * (1 - 1e-12) <= evidence.details["certified_margin_over_norm2"] <= delta


def test_near_ties_get_their_own_arb_lower_bound():
    evidence = claims_key.certify_rotated_key_point((2, 1e4, 0, 2 * 10**5, (0.6, -0.8)))
    assert evidence.passed and evidence.details["near_competitors"] > 10
    margin = evidence.details["certified_margin_over_norm2"]
    assert margin == pytest.approx(diophantine.closest_return(1.0, 2 * 10**5 - 1).delta, rel=1e-12)


def test_an_exact_tie_is_not_certified_and_a_float_near_tie_is(monkeypatch):
    import flint

    from ropelab.theory import rotated_key as th_key

    # float64 2 pi / 7 is a dyadic rational, not 2 pi / 7: seven steps miss a full turn by ~1e-16 rad
    monkeypatch.setattr(th_key, "exact_frequencies", lambda d, theta, bits=128: [flint.arb(2 * np.pi / 7)])
    evidence = claims_key.certify_rotated_key_point((2, 1e4, 0, 20, (1.0, 0.0)))
    assert evidence.passed and 0 < evidence.details["certified_margin_over_norm2"] < 1e-30
    # the real 2 pi / 7 (an Arb ball of it): distances 7 and 14 tie with the peak, so nothing is certified there
    with flint.ctx.workprec(128):
        turn = 2 * flint.arb.pi() / 7
    monkeypatch.setattr(th_key, "exact_frequencies", lambda d, theta, bits=128: [turn])
    evidence = claims_key.certify_rotated_key_point((2, 1e4, 0, 20, (1.0, 0.0)))
    assert not evidence.passed and evidence.residual == 2


def test_zero_query_is_refused():
    with pytest.raises(ValueError, match="q must be a nonzero vector"):
        rotated_key.rotated_key(np.zeros(4), 3, frequencies.rope(4, 1e4))
    with pytest.raises(ValueError, match="q must be a nonzero vector"):
        rotated_key.rotated_key_curve(np.zeros(2), 0, [1.0], 10)


@pytest.mark.parametrize("shift", [-1, 2.5])
def test_shift_must_be_a_non_negative_integer(shift):
    with pytest.raises(ValueError, match="shift must be non-negative integers"):
        rotated_key.rotated_key(np.ones(2), shift, [1.0])


def test_row_argmax_shift_must_lie_in_the_curve():
    with pytest.raises(ValueError, match=r"shift must be an integer in \[0, 2\]"):
        rotated_key.row_argmax(np.zeros(3), 3)


# --- precision -----------------------------------------------------------------------------

def test_resolution_limits_are_the_continued_fraction_record_lows():
    assert claims_key.resolution_limit(np.float32)[0] == 710
    n64, value = claims_key.resolution_limit(np.float64)
    assert value <= tol.EPS64 < float(diophantine.one_minus_cos(10838702, 1.0))
    assert n64 == 80143857


def test_float32_loses_the_argmax_near_distance_710():
    q = np.random.default_rng(32).standard_normal(2)
    verdict = rotated_key.row_argmax(claims_key.curve_in(np.float32, q, 7, 10**5), 7)
    assert 710 <= verdict.first_wrong_row - 7 < 10**5
    assert rotated_key.row_argmax(claims_key.curve_in(np.float64, q, 7, 10**5), 7).wrong_rows == 0


# --- moments -------------------------------------------------------------------------------


def test_a_rotary_map_turning_the_wrong_way_fails_prop31(monkeypatch):
    original = rotary.rotate
    monkeypatch.setattr(rotary, "rotate", lambda x, cos, sin, layout="half": original(x, cos, -sin, layout))
    claim = claims_key.PROP31
    evidence = judge(claim.law, claim.check(claim.construction.build, True, np.random.default_rng(claim.seed)))
    assert not evidence.passed and evidence.residual > 0


def test_prop31_grid_reaches_two_million_tokens_and_covers_every_dimension():
    for quick in (True, False):
        grid = claims_key.prop31_grid(quick)
        assert {p[0] for p in grid} == {2, 8, 64, 256}
        assert max(p[3] for p in grid) > claims_key.LONGEST_CONTEXT
        assert all(p[3] > 2 * p[2] for p in grid)
    assert {p[2] for p in claims_key.prop31_grid(False)} == set(claims_key.SHIFTS)
