"""Properties of the rotary map over d in {2, 8, 64, 256}, theta in {1e4, 5e5}, positions to 1e7."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ropelab.checks import tolerances as tol
from ropelab.constructions import attention, frequencies, rotary

dims = st.sampled_from([2, 8, 64, 256])
bases = st.sampled_from([1e4, 5e5])
positions = st.integers(min_value=0, max_value=10**7)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def _vector(seed, d):
    return np.random.default_rng(seed).standard_normal(d)


@given(dims, bases, positions, seeds)
@example(256, 1e4, 10**7, 0)
@example(2, 5e5, 0, 1)
def test_norm_is_preserved(d, theta, i, seed):
    x = _vector(seed, d)
    y = np.asarray(rotary.apply(x, i, frequencies.rope(d, theta)))
    assert abs(np.linalg.norm(y) - np.linalg.norm(x)) <= tol.rotation_identity(np.float64, d, 0.0, np.linalg.norm(x)).value


@given(dims, bases, positions, positions, seeds)
@example(256, 1e4, 10**7, 10**7, 3)
def test_composition(d, theta, i, j, seed):
    x = _vector(seed, d)
    g = frequencies.rope(d, theta)
    twice = np.asarray(rotary.apply(np.asarray(rotary.apply(x, i, g)), j, g))
    once = np.asarray(rotary.apply(x, i + j, g))
    bound = tol.rotation_identity(np.float64, d, float(i + j), np.linalg.norm(x))
    assert np.max(np.abs(twice - once)) <= bound.value


@given(dims, bases, positions, positions, st.integers(0, 10**6), seeds)
@example(64, 5e5, 0, 10**7, 10**6, 5)
def test_shift_invariance(d, theta, i, j, s, seed):
    q, k = _vector(seed, d), _vector(seed + 1, d)
    g = frequencies.rope(d, theta)
    a = lambda i, j: float(np.asarray(rotary.apply(q, i, g)) @ np.asarray(rotary.apply(k, j, g)))  # noqa: E731
    bound = tol.rotation_identity(np.float64, d, float(max(i, j) + s), np.linalg.norm(q) * np.linalg.norm(k))
    assert abs(a(i + s, j + s) - a(i, j)) <= bound.value


@given(dims, bases, positions, st.sampled_from(["half", "interleaved"]), seeds)
def test_rotation_matrix_matches_apply(d, theta, i, layout, seed):
    x = _vector(seed, d)
    g = frequencies.rope(d, theta)
    mat = rotary.rotation_matrix(i, g, layout)
    assert np.allclose(mat.T @ mat, np.eye(d), atol=1e-13)
    bound = tol.rotation_identity(np.float64, d, float(i), np.linalg.norm(x))
    assert np.max(np.abs(mat @ x - np.asarray(rotary.apply(x, i, g, layout)))) <= bound.value


def test_output_keeps_input_dtype_and_angles_are_float64():
    x = np.ones(8, dtype=np.float32)
    g = frequencies.rope(8, 5e5)
    i = 10**7 + 3
    y = rotary.apply(x, i, g)
    assert y.dtype == np.float32
    # the float64 angle at 10^7 differs from a float32 one by far more than float32 output error
    exact = np.asarray(rotary.apply(x.astype(np.float64), i, g))
    assert np.max(np.abs(np.asarray(y, dtype=np.float64) - exact)) < 1e-6
    a32 = np.float32(i) * g.astype(np.float32)
    assert np.max(np.abs(a32.astype(np.float64) - i * g)) > 1e-2


def test_partial_rotary_rotates_prefix_with_respread_schedule():
    x = np.arange(1.0, 9.0)
    y = np.asarray(rotary.partial_rotary(x, 3, 4, 100.0))
    assert np.array_equal(y[4:], x[4:])
    expected = np.asarray(rotary.apply(x[:4], 3, frequencies.rope(4, 100.0)))
    assert np.allclose(y[:4], expected)


def test_p_rope_extremes():
    assert np.array_equal(frequencies.p_rope(64, 1e4, 1.0), frequencies.rope(64, 1e4))
    assert np.array_equal(frequencies.p_rope(64, 1e4, 0.0), frequencies.nope(64))
    kept = frequencies.p_rope(256, 1e4, 0.75)
    assert np.count_nonzero(kept) == 96 and np.all(kept[96:] == 0)
    rev = frequencies.reversed_p_rope(256, 1e4, 0.75)
    assert np.count_nonzero(rev) == 96 and np.all(rev[:32] == 0)


def test_attention_rows_are_causal_distributions():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((6, 8)), rng.standard_normal((6, 8))
    w = np.asarray(attention.attention_weights(q, k, frequencies.rope(8, 1e4)))
    assert np.allclose(w.sum(axis=1), 1.0)
    assert np.all(np.triu(w, 1) == 0.0)


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_layout_permutation_is_a_permutation(layout):
    perm = rotary.layout_permutation(16, "half", layout)
    assert sorted(perm.tolist()) == list(range(16))


@given(st.integers(min_value=1, max_value=256))
@example(1)
def test_layout_permutation_is_the_theory_index_map(pairs):
    # the construction's permutation is the index map the symbolic side proves for every even d
    from ropelab.theory import rotations as th

    theory = [int(th.interleaved_source(c, pairs)) for c in range(2 * pairs)]
    assert rotary.layout_permutation(2 * pairs).tolist() == theory


def test_rotary_entries_are_block_diagonal():
    # summing delta_kl rho(i g_l)_cc' x_(l,c') over l = 1..h keeps pair k alone, and nothing outside 1..h
    import sympy as sp

    from ropelab.theory import rotations as th

    inside = th.rotary_pair(th.i, th.vector, 2, 3)
    assert sp.simplify(inside - th.rho(th.i * th.freqs[2]) * th.pair_of(th.vector, 2)) == sp.zeros(2, 1)
    assert th.rotary_pair(th.i, th.vector, 4, 3) == sp.zeros(2, 1)
    g = frequencies.rope(6, 1e4)
    mat = rotary.rotation_matrix(7, g)
    # half layout, pair k = 2 (m = 1) sits at coordinates (1, 4): its 2x2 block is rho(7 g_2), the rest of its rows 0
    block = np.array(th.rho(7 * float(g[1])).evalf(), dtype=float)
    assert np.allclose(mat[np.ix_([1, 4], [1, 4])], block, atol=1e-15)
    assert np.all(mat[np.ix_([1, 4], [0, 2, 3, 5])] == 0.0)
