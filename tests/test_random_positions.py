"""Randomised positions (App B.3): sampling, the mean gap and last-row logits at absolute positions."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ropelab.constructions import frequencies, random_positions, rotary
from ropelab.theory import random_positions as th_random


@given(tokens=st.integers(1, 50), extra=st.integers(0, 200), seed=st.integers(0, 2**16))
def test_randomised_positions_are_sorted_distinct_and_in_range(tokens, extra, seed):
    pos = random_positions.randomised_positions(np.random.default_rng(seed), tokens, tokens + extra)
    assert pos.shape == (tokens,) and np.all(np.diff(pos) > 0)
    assert pos[0] >= 0 and pos[-1] < tokens + extra


def test_last_row_logits_match_the_rotary_map_at_absolute_positions():
    rng = np.random.default_rng(2)
    q, k = rng.standard_normal((2, 16))
    freqs = frequencies.rope(16, 1e4)
    pos = random_positions.randomised_positions(rng, 30, 50_000)
    query = np.asarray(rotary.apply(q, pos[-1], freqs))
    expected = np.array([np.asarray(rotary.apply(k, p, freqs)) @ query for p in pos[::-1]])
    np.testing.assert_allclose(random_positions.last_row_logits(q, k, freqs, pos), expected, atol=1e-9)


def test_mean_gap_agrees_with_sampling():
    rng = np.random.default_rng(3)
    draws = np.stack([random_positions.randomised_positions(rng, 5, 40) for _ in range(4000)])
    sampled = np.mean(draws[:, 3] - draws[:, 1])
    exact = float(th_random.mean_gap(40, 5, 1, 2))
    assert exact == pytest.approx(2 * 41 / 6)
    assert sampled == pytest.approx(exact, abs=5 * np.std(draws[:, 3] - draws[:, 1]) / math.sqrt(4000))


@pytest.mark.parametrize("tokens, max_position", [(0, 10), (5, 4), (2.0, 10)])
def test_randomised_positions_reject_bad_sizes(tokens, max_position):
    with pytest.raises(ValueError, match="tokens must|max_position must"):
        random_positions.randomised_positions(np.random.default_rng(0), tokens, max_position)


def test_last_row_logits_need_increasing_positions():
    with pytest.raises(ValueError, match="strictly increasing"):
        random_positions.last_row_logits(np.ones(2), np.ones(2), [1.0], [0, 3, 3])


# --- claims and figures ----------------------------------------------------------------------
