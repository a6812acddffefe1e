"""Positional heads (Section 5): property tests, constructions against dense attention, bad input."""

import math

import jax
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

from ropelab.checks.claims import head_norms, nope_heads
from ropelab.checks.runner import measure
from ropelab.constructions import attention, frequencies, head_training, token_heads
from ropelab.constructions import positional_heads as heads
from ropelab.constructions import relative_position as relative
from ropelab.theory import diophantine, near_returns

finite_logits = st.lists(st.floats(-500.0, 500.0, allow_nan=False, allow_infinity=False), min_size=2, max_size=40)


@given(finite_logits)
@example([0.0, 1e-300])
@example([5.0, 5.0 + 1e-12, -60.0])
@example([700.0, -700.0, 699.0])
def test_non_argmax_weight_is_below_half(logits):
    """Lemma A.3: any key below the maximum gets less than half the weight."""
    a = np.array(logits)
    padded = np.full(40, -np.inf)  # absent keys; one shape, one compilation
    padded[: a.size] = a
    w = np.asarray(jax.nn.softmax(padded))[: a.size]
    top = a.max()
    for i in np.flatnonzero(a < top):
        assert w[i] <= 0.5
        if top - a[i] > 1e-9:  # beyond float64's resolution of 1/(1 + e^gap) near 1/2
            assert w[i] < 0.5
        assert w[i] <= 1.0 / (1.0 + math.exp(min(top - a[i], 700.0))) * (1 + 64 * np.finfo(float).eps)


@given(st.floats(-30.0, 30.0), st.floats(-30.0, 30.0))
def test_nope_bos_x_x_weight_matches_closed_form(a31, a33):
    """Prop 5.2: with a_32 = a_33 the row softmax is 1/(e^(a31 - a33) + 2) on both x keys."""
    w = np.asarray(jax.nn.softmax(np.array([a31, a33, a33])))
    closed = 1.0 / (math.exp(a31 - a33) + 2.0)
    assert w[1] == pytest.approx(closed, rel=1e-14) and w[2] == pytest.approx(closed, rel=1e-14)
    assert w[2] < 0.5


def test_gradient_ascent_nope_stalls_and_rope_succeeds():
    nope, rope = nope_heads.ascent_run("NoPE"), nope_heads.ascent_run("RoPE")
    assert nope.best < 0.5
    assert rope.best > 0.99
    assert nope.weights.shape == rope.weights.shape == (nope_heads.ASCENT_STEPS + 1,)
    # the negative control of Prop 5.2 is this RoPE run and its heads: far above 1/2
    wrong = measure(nope_heads.NOPE_CANNOT, nope_heads.NOPE_CANNOT.wrong, True)
    assert wrong.parts["gradient ascent"].residual > 0.49  # alpha_33 - 1/2 with alpha_33 > 0.99


def test_repeat_count_bound_on_identical_tokens_is_tight():
    tokens = np.zeros(7, dtype=np.int64)
    emb, w = np.eye(1), np.ones((1, 2))
    alpha = np.asarray(token_heads.token_head_weights(emb, tokens, w, w, frequencies.nope(2)))
    counts = token_heads.repeat_counts(tokens)
    np.testing.assert_allclose(counts * np.diag(alpha), 1.0, rtol=1e-15)


def test_band_vector_is_unit_with_given_pair_weights():
    psi = heads.band_vector(16, [1, 3], [1.0, 3.0])
    assert np.linalg.norm(psi) == pytest.approx(1.0)
    assert psi[1] ** 2 == pytest.approx(0.25) and psi[3] ** 2 == pytest.approx(0.75)
    assert np.count_nonzero(psi) == 2


@pytest.mark.parametrize("distance", [0, 1, 3])
def test_min_target_weight_matches_dense_attention(distance):
    """The O(N d) prefix path agrees with the N x N causal softmax of the same head."""
    d, n, scale = 16, 40, 3.0
    psi = heads.band_vector(d, [0, 1, 2], [0.5, 0.3, 0.2])
    g = frequencies.rope(d, 100.0)
    q, k = heads.head_vectors(psi, g, scale, distance)
    dense = np.asarray(attention.attention_weights(np.tile(q, (n, 1)), np.tile(k, (n, 1)), g))
    rows = np.arange(distance, n)
    assert heads.min_target_weight(psi, g, scale, n, distance) == pytest.approx(
        dense[rows, rows - distance].min(), rel=1e-12)
    # the target is each row's maximum logit
    logits = np.asarray(attention.logits(np.tile(q, (n, 1)), np.tile(k, (n, 1)), g))
    masked = np.where(np.tril(np.ones((n, n), bool)), logits, -np.inf)
    assert np.all(np.argmax(masked[rows], axis=1) == rows - distance)


def test_smallest_sharp_scale_is_minimal_and_sufficient():
    psi, g = heads.band_vector(64, range(6)), frequencies.rope(64, 1e4)
    head = heads.smallest_sharp_scale(psi, g, 500, 0.01, 1)
    assert head.min_weight >= 0.99
    assert heads.min_target_weight(psi, g, math.sqrt(head.scale_squared * (1 - 1e-6)), 500, 1) < 0.99
    assert head.scale_squared <= head.sufficient_scale_squared
    # the minimum over rows is the last row's weight (prefix normalisers only grow)
    curve = heads.target_curve(psi, g, 500, 1)
    weights = relative.weight_at_distance(head.scale_squared * curve, 1)
    assert weights.min() == weights[-1]


def test_top_band_scale_matches_spec():
    head = heads.smallest_sharp_scale(heads.band_vector(256, range(16)), frequencies.rope(256, 1e4), 8192, 0.01)
    assert abs(head.scale_squared - head_norms.SPEC_TOP_BAND_SCALE_SQUARED) <= head_norms.SPEC_PRINTED_HALF_UNIT
    assert head.scale < 10.0  # the paper: Gemma's chunk norms stay below 10


def test_sympy_and_mpmath_convergents_agree():
    for g in [1.0, *frequencies.rope(32, 1e4)[1:6]]:
        ours = near_returns.convergent_denominators(near_returns.frequency_ratio(float(g)), 10**5)
        import mpmath

        with mpmath.workdps(diophantine.DIGITS):
            theirs = diophantine.convergent_denominators(mpmath.mpf(float(g)) / (2 * mpmath.pi), 10**5)
        assert ours == sorted(set(theirs))


def test_bos_anchor_fast_rows_match_dense_attention():
    head = token_heads.BosAnchorHead.build(1.3)
    np.testing.assert_allclose(head.outputs(np.arange(1, 50)), head.outputs_dense(50)[1:], rtol=1e-14)


@pytest.mark.slow
def test_million_token_heads_are_sharp_at_the_explicit_scale():
    """Every row of a 10^6-token diagonal and previous-token head, without an N x N matrix."""
    psi, g = heads.band_vector(256, range(16)), frequencies.rope(256, 1e4)
    for distance in (0, 1):
        s2 = heads.sufficient_scale_squared(psi, g, 10**6, 1e-6, distance)
        assert heads.min_target_weight(psi, g, math.sqrt(s2), 10**6, distance) >= 1 - 1e-6


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: heads.band_vector(8, [4]), r"pairs must be distinct integers in \[0, 3\]"),
        (lambda: heads.band_vector(8, [1, 1]), r"pairs must be distinct integers in \[0, 3\]"),
        (lambda: heads.band_vector(8, []), "pairs must be a non-empty list of integers"),
        (lambda: heads.band_vector(8, [0, 1], [1.0, -1.0]), "weights must be 2 non-negative numbers"),
        (lambda: heads.band_vector(7, [0]), r"d \(head dimension\) must be an even integer"),
        (lambda: heads.min_target_weight(np.ones(4), [1.0, 0.1], 1.0, 1), "context must be an integer >= 2"),
        (lambda: heads.min_target_weight(np.ones(4), [1.0, 0.1], 1.0, 10, 10), r"distance must be an integer in \[0, "),
        (lambda: heads.min_target_weight(np.ones(4), [1.0, 0.1], -1.0, 10), "scale must be a finite number > 0"),
        (lambda: heads.min_target_weight(np.ones(4), [1.0], 1.0, 10), "freqs must have length d/2 = 2"),
        (lambda: heads.min_target_weight(np.zeros(4), [1.0, 0.1], 1.0, 10), "psi must be nonzero"),
        (lambda: heads.min_target_weight(np.array([1.0, np.nan]), [1.0], 1.0, 10), "psi must be finite"),
        (lambda: heads.smallest_sharp_scale(np.ones(4), [1.0, 0.1], 10, 1.5), r"eps must be a number in \(0, 1\)"),
        (lambda: heads.smallest_sharp_scale(np.ones(4), [0.0, 0.0], 10, 0.1), "not the strict maximum"),
        (lambda: token_heads.token_head_logits(np.eye(2), [0, 2], np.eye(2), np.eye(2), [0.0]),
         r"tokens must be ids in \[0, 1\]"),
        (lambda: token_heads.token_head_logits(np.eye(2), [0, 1], np.eye(3), np.eye(2), [0.0]),
         r"w_q must be a \(D=2, d\) matrix"),
        (lambda: token_heads.BosAnchorHead.build(0.0).outputs([0, 1]), "rows must be integers >= 1"),
        (lambda: token_heads.BosAnchorHead.build(float("inf")), "bos_logit must be finite"),
        (lambda: head_training.maximise_attention_weight(np.eye(2), [0, 1], [0.0], np.eye(2), np.eye(2), 1, 2),
         r"need 0 <= key <= row < n = 2"),
        (lambda: head_training.maximise_attention_weight(np.eye(2), [0, 1], [0.0], np.eye(2), np.eye(2), 1, 0, 0),
         "steps must be an integer >= 1"),
        (lambda: near_returns.convergent_denominators(1 / (2 * sp.pi), 0), "limit must be an integer >= 1"),
    ],
)
def test_bad_input_names_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- Definition 5.1 and the certificates ------------------------------------------------------

def test_off_pattern_mass_is_one_minus_the_target_weight():
    psi, g = heads.band_vector(16, [0, 1, 2]), frequencies.rope(16, 100.0)
    for distance in (0, 1):
        q, k = heads.head_vectors(psi, g, 2.0, distance)
        dense = np.asarray(attention.attention_weights(np.tile(q, (30, 1)), np.tile(k, (30, 1)), g))
        rows = np.arange(distance, 30)
        np.testing.assert_allclose(heads.off_pattern_mass(dense, distance), 1.0 - dense[rows, rows - distance],
                                   atol=1e-14)


def test_off_pattern_mass_rejects_bad_input():
    with pytest.raises(ValueError, match=r"weights must be a square \(N, N\) attention matrix"):
        heads.off_pattern_mass(np.ones((2, 3)), 0)
    with pytest.raises(ValueError, match=r"distance must be an integer in \[0, 1\]"):
        heads.off_pattern_mass(np.eye(2), 2)


def test_row_certificate_matches_float64_and_can_fail():
    """The Arb ball sum agrees with the float64 prefix sum, and a scale too small is not certified."""
    from ropelab.checks.claims import positional_heads as rope_heads

    for distance in (0, 1):
        chunk = rope_heads.certificate_chunks(distance, quick=True)[0]
        evidence = rope_heads.certify_row_sums(chunk)
        assert evidence.passed
        psi, g = heads.band_vector(256, rope_heads.TOP_BAND), rope_heads.gemma_frequencies()
        curve = heads.target_curve(psi, g, chunk[1], distance)
        floats = np.sum(np.exp(chunk[3] * np.delete(curve - curve[distance], distance)))
        assert evidence.details["sum_upper"] == pytest.approx(floats, rel=1e-12)
        # a quarter of the explicit scale leaves the row sums far above their budget
        weak = (*chunk[:3], chunk[3] / 4, *chunk[4:])
        assert not rope_heads.certify_row_sums(weak).passed


def test_record_certificate_rejects_a_wrong_record_list():
    from ropelab.checks.claims import near_returns as claims_near_returns

    start, stop, predicted = claims_near_returns.record_chunks(quick=True)[0]
    assert claims_near_returns.certify_records((start, min(stop, 2000), predicted)).passed
    without_710 = tuple(m for m in predicted if m != 710)
    assert not claims_near_returns.certify_records((start, min(stop, 2000), without_710)).passed
