"""Per-pair logit attribution: exact shares that add up to the logit and to the margin, with controls."""

import math

import numpy as np
import pytest

from ropelab.constructions import attribution, semantic_channels, frequencies, rotary
from ropelab.theory import semantic_channels as th_sc

D, N, THETA = 16, 9, 10_000.0


def vectors(seed: int = 0, n: int = N, d: int = D) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d))


def direct_logits(q, k, freqs, layout="half"):
    """a_ij = (R^i q_i)^T (R^j k_j) with explicit rotation matrices (an independent route)."""
    rot = [rotary.rotation_matrix(p, freqs, layout) for p in range(q.shape[0])]
    qr = np.stack([r @ x for r, x in zip(rot, q)])
    kr = np.stack([r @ x for r, x in zip(rot, k)])
    return qr @ kr.T


def tolerance(q, k, freqs):
    # d-term dot products of float64 rotations at angles up to n g_max: c d A eps |q||k|
    largest_angle = max(1.0, N * float(np.max(freqs)))
    scale = np.linalg.norm(q, axis=-1)[:, None] * np.linalg.norm(k, axis=-1)[None, :]
    return 8 * D * largest_angle * np.finfo(np.float64).eps * scale


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_pair_terms_sum_to_the_logit(layout):
    q, k = vectors()
    freqs = frequencies.rope(D, THETA)
    terms = attribution.pair_logits(q, k, freqs, layout)
    assert terms.shape == (N, N, D // 2)
    expected = direct_logits(q, k, freqs, layout)
    assert np.all(np.abs(terms.sum(-1) - expected) <= tolerance(q, k, freqs))
    bands = attribution.band_sums(terms)
    assert np.all(np.abs(sum(bands.values()) - expected) <= tolerance(q, k, freqs))


def test_wrong_rotation_direction_does_not_sum_to_the_logit():
    q, k = vectors()
    freqs = frequencies.rope(D, THETA)
    wrong = attribution.pair_logits(q, k, -freqs)  # the key rotated the wrong way
    excess = np.abs(wrong.sum(-1) - direct_logits(q, k, freqs)) - tolerance(q, k, freqs)
    assert excess.max() > 0.1


def test_margin_terms_sum_to_the_margin_and_pick_the_argmax():
    q, k = vectors(1)
    freqs = frequencies.rope(D, THETA)
    mask = np.tril(np.ones((N, N), bool))
    d = attribution.decisions(attribution.pair_logits(q, k, freqs), mask)
    logits = np.where(mask, direct_logits(q, k, freqs), -np.inf)
    np.testing.assert_array_equal(d.winner, logits[d.rows].argmax(-1))
    assert np.all(d.margin >= 0)
    assert np.allclose(d.terms.sum(-1), d.margin, rtol=0, atol=1e-10)
    assert math.isclose(sum(d.band_shares().values()), 1.0, rel_tol=1e-9)


def test_shift_test_separates_content_from_position():
    freqs = frequencies.rope(D, THETA)
    mask = np.tril(np.ones((N, N), bool))
    rng = np.random.default_rng(2)
    content = rng.normal(size=(N, D))
    content[:, : D // 4], content[:, D // 2 : D // 2 + D // 4] = 0.0, 0.0  # lowest pairs only
    assert attribution.shift_keep_rate(content, content[::-1], freqs, mask, 3) >= 0.8
    # a Thm 5.3 diagonal head from the top pairs: shifting moves every target
    psi = np.zeros(D)
    psi[: D // 4], psi[D // 2 : D // 2 + D // 4] = 3.0, 0.0
    diag = np.tile(psi, (N, 1))
    assert attribution.shift_keep_rate(diag, diag, freqs, mask, 3) == 0.0


@pytest.mark.parametrize("freq,angle,ratio", [(0.01, math.pi, 1.0), (0.003, 2.0, 1.0), (0.02, -1.0, 0.7), (0.05, 2.5, 1.3)])
def test_margin_break_matches_the_closed_form_on_one_channel(freq, angle, ratio):
    rival = semantic_channels.rival_key(angle, ratio)
    found = attribution.margin_breaking_context([1.0, 0.0], [1.0, 0.0], rival, [freq], [0], 100_000)
    assert found.context == th_sc.breaking_context(freq, angle, ratio)
    assert attribution.channel_breaking_contexts([1.0, 0.0], rival, [freq], [0])[0] == found.context


def test_margin_break_of_a_zero_frequency_pair_never_comes():
    assert attribution.margin_breaking_context([1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0], [0], 10_000) is None
