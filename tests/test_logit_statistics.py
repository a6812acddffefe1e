"""Logit statistics: moments, three routes to the logit, batching, the Abel bound and the all-ones curve."""


import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from ropelab.checks import tolerances as tol
from ropelab.constructions import attention, frequencies, logit_statistics
from ropelab.theory import logit_statistics as th_stats

coordinates = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False)


def _vector(d):
    return st.lists(coordinates, min_size=d, max_size=d).map(np.array).filter(lambda v: np.linalg.norm(v) > 0.1)


def test_moment_algebra_agrees_with_sympy_stats():
    from sympy.stats import E, Normal

    a, b = sp.symbols("a b", real=True)
    expr = 3 * a**4 * b**2 - a * b + 2 * a**2
    by_moments = th_stats.gaussian_expectation(expr, [a, b])
    x, y = Normal("x", 0, 1), Normal("y", 0, 1)
    assert sp.simplify(by_moments - E(expr.subs({a: x, b: y}))) == 0
    assert by_moments == 11


@given(q=_vector(8), k=_vector(8), distances=st.lists(st.integers(0, 10**6), min_size=6, max_size=6))
def test_three_ways_to_the_logit_agree(q, k, distances):
    freqs = frequencies.rope(8, 5e5)
    via_rotary = np.asarray(logit_statistics.logits_at_distances(q, k, freqs, distances))
    via_pairs = logit_statistics.curves_at_distances(q, k, freqs, distances)
    queries = np.tile(q, (len(distances), 1))
    dense = np.asarray(attention.logits(queries, k[None], freqs, q_positions=distances, k_positions=[0]))[:, 0]
    bound = tol.rotation_identity(np.float64, 8, 10**6, float(np.linalg.norm(q) * np.linalg.norm(k))).value
    np.testing.assert_allclose(via_rotary, dense, atol=bound)
    np.testing.assert_allclose(via_pairs, dense, atol=bound)


def test_batched_logits_broadcast_like_the_unbatched_ones():
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal((2, 3, 8))
    freqs = frequencies.rope(8, 1e4)
    batch = np.asarray(logit_statistics.logits_at_distances(q[:, None, :], k[:, None, :], freqs, [0, 7, 99]))
    single = np.stack([np.asarray(logit_statistics.logits_at_distances(a, b, freqs, [0, 7, 99])) for a, b in zip(q, k)])
    np.testing.assert_allclose(batch, single, atol=1e-12)
    np.testing.assert_allclose(logit_statistics.curves_at_distances(q, k, freqs, [0, 7, 99]), single, atol=1e-12)


def test_curves_need_matching_dimensions():
    with pytest.raises(ValueError, match="same last dimension"):
        logit_statistics.curves_at_distances(np.ones(4), np.ones(6), [1.0, 0.1], [0])


@given(q=_vector(8), k=_vector(8), r=st.integers(0, 5000))
def test_abel_bound_holds_and_its_sum_is_the_complex_logit(q, k, r):
    freqs = frequencies.rope(8, 1e4)
    modulus, bound = logit_statistics.abel_bound(q, k, freqs, [r])
    logit = float(np.asarray(logit_statistics.logits_at_distances(q, k, freqs, [r]))[0])
    assert abs(logit) <= modulus[0] * (1 + 1e-12) + 1e-12
    assert modulus[0] <= bound[0] * (1 + 1e-12) + 1e-12


def test_all_ones_curve_is_the_cosine_average():
    curve = logit_statistics.all_ones_curve(8, 100.0, 50)
    r = np.arange(50)[:, None]
    np.testing.assert_allclose(curve, np.mean(np.cos(r * frequencies.rope(8, 100.0)), axis=1), atol=1e-13)


# --- randomised positions ------------------------------------------------------------------
