"""Head types and the band findings on constructed heads whose type and deciding band are known.

Four heads are built by hand on a d = 32 layer: a Thm 5.3 diagonal head and a previous-token
head from the top quarter of the pairs, a content head whose queries match one earlier key
through the bottom quarter, and a BOS sink. The criteria must type each one right, the
findings must see the positional margins in the top band and the content margins in the
bottom band, and Thm 6.1 on the content head must match the layer's low frequencies.
"""

import numpy as np
import pytest

from ropelab.checks.findings import head_findings, head_types
from ropelab.constructions import attribution, frequencies, rotary
from ropelab.checks.findings.models import capture_records

D, N, THETA = 32, 14, 10_000.0
P = D // 2


def coords(pairs):
    first, second = rotary.pair_indices(D)
    return np.r_[first[pairs], second[pairs]]


TOP, BOTTOM = coords(np.arange(P // 4)), coords(np.arange(3 * P // 4, P))


def constructed(seed: int) -> capture_records.Capture:
    rng = np.random.default_rng(seed)
    freqs = frequencies.rope(D, THETA)
    q, k = np.zeros((4, N, D)), np.zeros((4, N, D))
    psi = np.zeros(D)
    psi[TOP] = 3.0 * rng.normal(size=TOP.size)
    q[0], k[0] = psi, psi  # diagonal (Thm 5.3)
    q[1], k[1] = psi, np.asarray(rotary.apply(psi, 1, freqs))  # previous token (the proof's convention)
    units = rng.normal(size=(N, BOTTOM.size))
    units /= np.linalg.norm(units, axis=-1, keepdims=True)
    k[2][:, BOTTOM] = 4.0 * units
    targets = [1, 1, 1] + [1 + (5 * i) % (i - 2) for i in range(3, N)]  # never BOS, i or i - 1 from row 3 on
    q[2][:, BOTTOM] = 4.0 * units[targets]
    k[3][:, BOTTOM] = 0.3 * units
    k[3][0, BOTTOM] = 5.0 * units[0]
    q[3][:, BOTTOM] = 5.0 * units[0]
    schedule = capture_records.LayerSchedule(0, "full_attention", THETA, "default", freqs, 1.0, D**-0.5)
    zeros = np.zeros((1, 4, N, N))
    return capture_records.Capture(
        "constructed", np.arange(N), tuple(f"t{i}" for i in range(N)), q[None], k[None], k[None] * 0, zeros,
        np.zeros((N, 2)), np.zeros((1, N, D)), np.zeros((1, N, D)), (schedule,), "float64",
        meta={"max_position_embeddings": 4096})


@pytest.fixture(scope="module")
def measured():
    captures = {f"prompt {s}": constructed(s) for s in range(4)}
    result = head_types.measure(captures)
    return captures, result, head_types.classify(result)


def test_each_constructed_head_gets_its_type(measured):
    _, _, types = measured
    assert [types[0, h]["type"] for h in range(4)] == ["diagonal", "previous_token", "content", "bos_sink"]
    assert types[0, 2]["content_keep_rate"] == 1.0


def test_margins_split_exactly_and_land_in_the_built_band(measured):
    _, result, _ = measured
    rows = result["prompt 0"][0, 0]
    assert np.allclose(rows.decisions.terms.sum(-1), rows.decisions.margin, atol=1e-9)
    assert head_types.band_shares(rows, "diagonal")["top"] == pytest.approx(1.0)
    assert head_types.band_shares(result["prompt 0"][0, 2], "content")["bottom"] == pytest.approx(1.0)


def test_band_findings_hold_on_the_construction(measured):
    captures, result, types = measured
    positional = head_findings.positional_margins_come_from_high_band(result, types)
    content = head_findings.content_margins_come_from_low_band(result, types)
    assert positional.holds and positional.value == pytest.approx(1.0)
    assert content.holds and content.value == pytest.approx(1.0)
    assert content.details["group"] == "content heads"


def test_band_findings_reject_swapped_bands(measured):
    """Control: with the content head's vectors moved to the top band, its margins no longer come from the bottom."""
    captures, _, _ = measured
    swapped = {}
    for name, cap in captures.items():
        q, k = cap.queries.copy(), cap.keys.copy()
        q[0, 2][:, TOP], q[0, 2][:, BOTTOM] = q[0, 2][:, BOTTOM], 0.0
        k[0, 2][:, TOP], k[0, 2][:, BOTTOM] = k[0, 2][:, BOTTOM], 0.0
        swapped[name] = capture_records.Capture(**{**cap.__dict__, "queries": q, "keys": k})
    result = head_types.measure(swapped)
    types = head_types.classify(result)
    assert types[0, 2]["type"] != "content"
    assert not head_findings.content_margins_come_from_low_band(result, types).holds


def test_thm_6_1_on_the_content_head_uses_its_low_frequencies(measured):
    captures, result, types = measured
    finding = head_findings.semantic_channels_hold_within_context(captures, result, types)
    (row,) = finding.details["heads"]
    assert (row["layer"], row["head"]) == (0, 2) and row["context"] == 4096
    # the slowest bottom pair turns pi/2 in about pi/(2 g) tokens: the band outlasts a 14-token prompt by far
    slowest = frequencies.rope(D, THETA)[-1]
    assert row["median_breaking_context"] > 14
    assert row["median_single_channel_closed_form"] < 4 * np.pi / slowest


def test_band_onset_against_the_critical_index():
    onsets = np.array([61, 79])
    f = head_findings.band_onset_near_critical_pair_index(onsets, 256, [1e4, 1e6], [512, 32768])
    assert f.holds and f.details["critical_index"] == pytest.approx([128 * np.log(512 / (2 * np.pi)) / np.log(1e4), 128 * np.log(32768 / (2 * np.pi)) / np.log(1e6)])
    far = head_findings.band_onset_near_critical_pair_index(np.array([10, 10]), 256, [1e4, 1e6], [512, 32768])
    assert not far.holds


def test_apostrophe_head_is_the_head_whose_content_winners_are_the_mark(measured):
    captures, result, types = measured
    marked = {}
    for name, cap in captures.items():
        tokens = list(cap.tokens)
        for j in set(result[name][0, 2].decisions.winner[result[name][0, 2].kinds == "content"].tolist()):
            tokens[j] = "'"
        marked[name] = capture_records.Capture(**{**cap.__dict__, "tokens": tuple(tokens)})
    found = head_types.apostrophe_head(marked, result, types)
    assert (found["layer"], found["head"], found["type"]) == (0, 2, "content") and found["share"] > 0.5
    assert head_types.apostrophe_head(captures, result, types) is None  # no prompt holds the mark


def test_band_findings_on_one_prompt_are_not_measurable(measured):
    captures, result, types = measured
    one = {"prompt 0": result["prompt 0"]}
    assert head_findings.positional_margins_come_from_high_band(one, types).holds is None
    assert head_findings.content_margins_come_from_low_band(one, types).outcome == "not measurable"
