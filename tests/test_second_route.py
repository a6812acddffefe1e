"""Each statistic a finding prints, recomputed here by a second route on synthetic models with known answers.

A grouped-query layer (6 query heads reading 3 key/value heads) is built so that each key/value
head's pair of query heads is diagonal, previous-token or content by construction. The test
rotates with its own cos/sin (not ropelab's rotary map), takes its own argmax, and checks the
head-to-key-head assignment, each row's winner and kind, the 16-token shift test, the head types,
the band onset (half-maximum of an 8-pair moving average) and the critical pair index (the share
of pairs that turn a full circle within the context) against what the measuring code reports;
on a synthetic pooled model, the head rank correlation and the per-layer low-half shares.
"""

import numpy as np
import pytest

from ropelab.checks.findings import head_findings, head_types
from ropelab.checks.findings.models import capture_records
from ropelab.constructions import frequencies
from ropelab.constructions import frequency_usage as fu

D, N, THETA, H, G = 32, 16, 10_000.0, 6, 3
P = D // 2
TOP = np.r_[np.arange(P // 4), P + np.arange(P // 4)]  # half layout: pair m is (m, m + P)
BOTTOM = np.r_[np.arange(3 * P // 4, P), P + np.arange(3 * P // 4, P)]


def rotate(x: np.ndarray, positions: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """R^p x in the half layout, written out: (x1 cos - x2 sin, x1 sin + x2 cos)."""
    angle = positions[:, None] * freqs[None, :]
    x1, x2 = x[..., :P], x[..., P:]
    return np.concatenate([x1 * np.cos(angle) - x2 * np.sin(angle), x1 * np.sin(angle) + x2 * np.cos(angle)], axis=-1)


def gqa_capture(seed: int) -> capture_records.Capture:
    rng = np.random.default_rng(seed)
    freqs = frequencies.rope(D, THETA)
    q, k = np.zeros((H, N, D)), np.zeros((G, N, D))
    psi = np.zeros(D)
    psi[TOP] = 3.0 * rng.normal(size=TOP.size)
    k[0] = psi  # kv head 0: diagonal for query heads 0 and 1
    k[1] = rotate(np.tile(psi, (N, 1)), np.ones(N), freqs)  # kv head 1: previous token for query heads 2 and 3
    units = rng.normal(size=(N, BOTTOM.size))
    units /= np.linalg.norm(units, axis=-1, keepdims=True)
    k[2][:, BOTTOM] = 4.0 * units  # kv head 2: content for query heads 4 and 5
    targets = [1, 1, 1] + [1 + (5 * i) % (i - 2) for i in range(3, N)]
    q[0], q[1], q[2], q[3] = psi, 0.8 * psi, psi, 1.2 * psi
    q[4][:, BOTTOM] = 4.0 * units[targets]
    q[5][:, BOTTOM] = 3.0 * units[targets]
    schedule = capture_records.LayerSchedule(0, "full_attention", THETA, "default", freqs, 1.0, D**-0.5)
    return capture_records.Capture(
        "gqa", np.arange(N), tuple(f"t{i}" for i in range(N)), q[None], k[None], k[None] * 0, np.zeros((1, H, N, N)),
        np.zeros((N, 2)), np.zeros((1, N, D)), np.zeros((1, N, D)), (schedule,), "float64",
        meta={"max_position_embeddings": 4096})


def second_route(cap: capture_records.Capture, head: int, shift: int = 0):
    """Winners of rows 2.. of a query head, by the test's own rotation and argmax (key head = head // (H / G))."""
    freqs = cap.schedules[0].freqs
    key_head = head // (cap.queries.shape[1] // cap.keys.shape[1])
    pos = np.arange(N, dtype=float)
    logits = rotate(cap.queries[0, head], pos + shift, freqs) @ rotate(cap.keys[0, key_head], pos, freqs).T
    logits = np.where(np.tril(np.ones((N, N), bool)), logits, -np.inf)
    rows = np.arange(2, N)
    return rows, np.argmax(logits[rows], axis=-1)


@pytest.fixture(scope="module")
def measured():
    captures = {f"prompt {s}": gqa_capture(s) for s in range(3)}
    result = head_types.measure(captures)
    return captures, result, head_types.classify(result)


def test_query_heads_read_their_own_key_head(measured):
    captures, _, _ = measured
    cap = captures["prompt 0"]
    for h in range(H):
        np.testing.assert_array_equal(cap.keys_for_query_heads(0)[h], cap.keys[0, h // 2])
    assert not np.array_equal(cap.keys_for_query_heads(0)[1], cap.keys[0, 1])  # not h % G


def test_winners_kinds_and_shift_test_by_a_second_route(measured):
    captures, result, _ = measured
    for name, cap in captures.items():
        for h in range(H):
            rows, winner = second_route(cap, h)
            got = result[name][0, h]
            np.testing.assert_array_equal(got.decisions.rows, rows)
            np.testing.assert_array_equal(got.decisions.winner, winner)
            kinds = np.where(winner == rows, "diagonal", np.where(winner == rows - 1, "previous_token",
                             np.where(winner == 0, "bos", "content")))
            np.testing.assert_array_equal(got.kinds, kinds)
            _, moved = second_route(cap, h, shift=head_types.SHIFT)
            np.testing.assert_array_equal(got.kept, winner == moved)


def test_head_types_follow_the_construction(measured):
    _, result, types = measured
    assert [types[0, h]["type"] for h in range(H)] == ["diagonal"] * 2 + ["previous_token"] * 2 + ["content"] * 2
    # second route for the content criterion: share of content rows and their keep rate under the shift
    for h in (4, 5):
        kinds = np.concatenate([result[n][0, h].kinds for n in result])
        kept = np.concatenate([result[n][0, h].kept[result[n][0, h].kinds == "content"] for n in result])
        assert np.mean(kinds == "content") >= head_types.CONTENT_ROWS and kept.mean() >= head_types.KEEP
        assert types[0, h]["content_keep_rate"] == pytest.approx(kept.mean())
    # a positional head moves its winners under the shift: keep rate 0 by construction
    assert all(not result[n][0, 0].kept.any() for n in result)


def test_band_onset_and_turning_share_by_a_second_route():
    rng = np.random.default_rng(3)
    for onset in (5, 11, 20):
        profile = np.r_[np.ones(onset), 6.0 * np.ones(32 - onset)] + 0.01 * rng.random(32)
        # centred moving average over 8 pairs (pairs m-4 .. m+3), the edge pairs repeated past the ends
        smooth = np.array([np.mean([profile[min(max(j, 0), 31)] for j in range(m - 4, m + 4)]) for m in range(32)])
        half = smooth.min() + 0.5 * (smooth.max() - smooth.min())
        expected = int(np.argmax(smooth >= half))
        assert int(fu.band_onset(profile)) == expected and abs(expected - onset) <= 4
    # the critical pair index: pairs m with g_m L >= 2 pi complete a turn within the context
    for theta, context in ((1e4, 512), (1e5, 8192), (1e6, 32768)):
        freqs = theta ** (-np.arange(64) / 64)
        turning = int(np.sum(freqs * context >= 2 * np.pi))
        f = head_findings.band_onset_near_critical_pair_index(np.array([turning]), 128, [theta], [context])
        assert turning - 1 <= f.details["critical_index"][0] <= turning and f.holds
        far = head_findings.band_onset_near_critical_pair_index(np.array([turning + 64 // 8 + 2]), 128, [theta], [context])
        assert not far.holds


def test_rank_correlation_and_half_shares_by_a_second_route():
    from test_model_adapter import synthetic

    from ropelab.checks.findings import model_findings, model_statistics

    pooled = synthetic(low_tilt=3.0, band_link=True)
    f = model_findings.positional_heads_use_highest_frequencies(pooled)
    band = 32 // model_statistics.BAND_FRACTION
    budget = pooled.q.mean(axis=2) * np.repeat(pooled.k.mean(axis=2), pooled.q.shape[1] // pooled.k.shape[1], axis=1)
    usage = (budget[..., :band].sum(-1) / budget.sum(-1)).ravel()  # top band = the first (highest-frequency) pairs
    positional = np.maximum(pooled.scores["diagonal"], pooled.scores["previous_token"]).ravel()

    def ranks(x):
        r = np.empty(x.size)
        r[np.argsort(x)] = np.arange(x.size)
        return r

    assert f.value == pytest.approx(np.corrcoef(ranks(positional), ranks(usage))[0, 1], abs=1e-12)  # Spearman, no ties
    halves = model_findings.low_frequencies_carry_largest_query_key_norms(pooled).details["layers"]
    for name in ("q", "k"):
        energy = (getattr(pooled, name) ** 2).mean(axis=(1, 2))  # (L, P): mean squared pair norm
        share = energy[:, energy.shape[1] // 2:].sum(-1) / energy.sum(-1)  # the low-frequency half: the later pairs
        np.testing.assert_allclose([row["low_half_share"] for row in halves[name]], share, rtol=1e-12)
