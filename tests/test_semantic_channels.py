"""Section 6: semantic channels, the orbit of a rotation, p-RoPE, the base and its bounds."""

import dataclasses
import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ropelab.checks import reference
from ropelab.checks.claims import apostrophe, base_wavelength
from ropelab.checks.claims import base_bounds as base_bound
from ropelab.checks.claims import encoding_properties as table1
from ropelab.checks.claims import semantic_channels as semantic_breaking
from ropelab.constructions import base_bounds, frequencies, orbits
from ropelab.constructions import p_rope as partial
from ropelab.constructions import relative_position as relative
from ropelab.constructions import semantic_channels as channels
from ropelab.theory import base_bounds as th_base
from ropelab.theory import orbits as th_orbits
from ropelab.theory import p_rope as th_p
from ropelab.theory import semantic_channels as th_sc

# --- breaking context: closed form against brute force ------------------------------------


@given(
    log_g=st.floats(math.log(2e-3), math.log(0.5)),
    phi=st.floats(-math.pi, math.pi),
    log_ratio=st.floats(math.log(0.5), math.log(2.0)),
)
@example(log_g=math.log(0.01), phi=math.pi, log_ratio=0.0)
@example(log_g=math.log(0.01), phi=-0.3, log_ratio=0.0)
@example(log_g=math.log(0.05), phi=1.0, log_ratio=math.log(0.6))
def test_closed_form_breaking_context_is_exact(log_g, phi, log_ratio):
    g, ratio = math.exp(log_g), math.exp(log_ratio)
    if ratio * math.cos(phi) >= 0.999:
        return  # the channel never preferred its target: outside the theorem
    limit = int(1.2 * math.pi / g) + 16
    found = channels.breaking_context(g, phi, ratio, limit=limit)
    assert found is not None
    exact = th_sc.breaking_context(g, phi, ratio)
    if found.context != exact:
        # only where float64 cannot resolve the deciding comparison (e.g. 30 g = 0.3 exactly
        # in decimals but not in binary), and then by one token
        assert min(found.margin, -found.closest_before) < semantic_breaking.tie_tolerance(g, ratio, limit)
        assert abs(found.context - exact) == 1
    assert found.margin > 0 >= found.closest_before
    assert max(found.target_distance, found.rival_distance) == found.context - 1


def test_rival_beats_target_weight_below_half_at_every_scale():
    found = channels.breaking_context(0.004, 2.5, 1.3)
    for scale in (0.1, 1.0, 10.0, 300.0):
        assert channels.target_weight(0.004, 2.5, 1.3, found.context, found.target_distance, scale) < 0.5
    # one token earlier the target wins every placement: large norms make it the argmax
    assert found.closest_before < 0


def test_equal_norm_formula_and_gemma_value():
    for g in (0.02, 0.001, 1e-4):
        for phi in (0.51, math.pi / 2, math.pi):  # away from exact ties phi/(2g) + 3/2 in Z
            assert th_sc.breaking_context(g, phi) == math.floor(phi / (2 * g) + 1.5) + 1
    g = float(frequencies.rope(256, 1e4)[-1])
    assert th_sc.semantic_range(g) == 14619  # SPEC: about 14.6k tokens
    assert abs(th_sc.semantic_range(g) - math.pi / (2 * g)) < 3


def test_unrotated_channel_never_breaks_and_bad_arguments():
    assert channels.breaking_context(0.0, math.pi, limit=50_000) is None
    assert th_sc.breaking_context(0.0, math.pi) == math.inf
    with pytest.raises(ValueError, match="ratio must be a finite number > 0"):
        channels.breaking_context(0.01, 1.0, ratio=0.0)
    with pytest.raises(ValueError, match="rho cos\\(phi\\) must be < 1"):
        th_sc.breaking_context(0.01, 0.1, 2.0)
    with pytest.raises(ValueError, match="freq must lie in \\[0, 1\\]"):
        th_sc.breaking_context(2.0, 1.0)


def test_streamed_blocks_join_into_the_whole_curve():
    r = np.random.default_rng(3)
    q, k = r.standard_normal(8), r.standard_normal(8)
    freqs = frequencies.rope(8, 1e4)
    whole = relative.logit_curve(q, k, freqs, 1000)
    for block, first in ((7, None), (64, 5), (1000, None)):
        parts = [v for _, v in channels.curve_blocks(q, k, freqs, 1000, block, first)]
        np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-12)
    small = channels.breaking_context(0.003, 2.0, limit=5000, block=13)
    assert small.context == channels.breaking_context(0.003, 2.0, limit=5000).context


@pytest.mark.slow
def test_ten_million_token_search_streams():
    g = 1.5e-7  # a Gemma 3 global-like slowest channel: breaks after 10.5M tokens
    assert channels.breaking_context(g, math.pi, limit=10**7) is None
    assert th_sc.semantic_range(g) > 10**7
    env = channels.drift_envelope(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([g]), 10**7, samples=50)
    assert env.running_min[-1] == pytest.approx(math.cos((10**7 - 1) * g), abs=1e-9)


def test_drift_envelope_matches_the_full_curve():
    q = np.array([0.6, 0.8, 0.0, 0.0])
    freqs = frequencies.rope(4, 100.0)
    whole = relative.logit_curve(q, q, freqs, 3000)
    env = channels.drift_envelope(q, q, freqs, 3000, samples=40, block=100)
    np.testing.assert_allclose(env.values, whole[env.distances], atol=1e-12)
    np.testing.assert_allclose(env.running_min, np.minimum.accumulate(whole)[env.distances], atol=1e-12)


# --- orbit and three gaps ---------------------------------------------------------------------


@pytest.mark.parametrize("g", [1.0, 0.3, 2.0, 5.5, 1e-3])
@pytest.mark.parametrize("n", [1, 2, 5, 37, 500])
def test_three_gap_formula_against_brute_force(g, n):
    with mpmath.workdps(40):
        pts = sorted((k * mpmath.mpf(g)) % (2 * mpmath.pi) for k in range(n + 1))
        gaps = [float(b - a) for a, b in zip(pts, pts[1:])] + [float(2 * mpmath.pi - pts[-1] + pts[0])]
    lengths, counts = orbits.distinct_lengths(np.array(gaps), 1e-12)
    predicted = th_orbits.three_gaps(g, n)
    assert tuple(counts) == predicted.counts
    np.testing.assert_allclose(lengths, predicted.lengths, rtol=0, atol=1e-12)
    assert len(predicted.lengths) <= 3 and max(gaps) < predicted.largest_bound


def test_float32_orbit_loses_the_gap_structure():
    g, n = 1.0, 10**5
    tau = orbits.gap_error_bound(g, n)
    predicted = th_orbits.three_gaps(g, n)
    lengths64, counts64 = orbits.distinct_lengths(orbits.orbit_gaps(g, n, np.float64), tau)
    assert tuple(counts64) == predicted.counts
    assert np.max(np.abs(lengths64 - predicted.lengths)) <= tau
    # float32 reduces modulo fl32(2 pi), off by 1.7e-7: the arcs of another rotation
    lengths32, counts32 = orbits.distinct_lengths(orbits.orbit_gaps(g, n, np.float32), tau)
    assert tuple(counts32) != predicted.counts or np.max(np.abs(lengths32 - predicted.lengths)) > 1e3 * tau


# --- p-RoPE ------------------------------------------------------------------------------------


def test_p_rope_float_hazard_is_documented_and_followed():
    assert 0.58 * 100 < 58  # binary 0.58 is slightly below 0.58
    assert frequencies.p_rope_pairs(100, 0.58) == th_p.kept_pairs_ieee(0.58, 100) == 28
    assert th_p.kept_pairs_decimal("0.58", 100) == 29
    assert int(np.sum(frequencies.p_rope(100, 1e4, 0.58) > 0)) == 28
    hazards = th_p.float_hazards(128)
    assert (0.58, 100, 28, 29) in hazards
    # every hazard is a product just below an even integer, and the construction follows IEEE
    for p, d, ieee, decimal in hazards:
        assert decimal == ieee + 1 and frequencies.p_rope_pairs(d, p) == ieee


def test_p_rope_extremes_and_reversed():
    np.testing.assert_array_equal(frequencies.p_rope(64, 1e4, 1.0), frequencies.rope(64, 1e4))
    np.testing.assert_array_equal(frequencies.p_rope(64, 1e4, 0.0), frequencies.nope(64))
    kept = frequencies.p_rope(256, 1e4, 0.75)
    assert np.all(kept[:96] == frequencies.rope(256, 1e4)[:96]) and np.all(kept[96:] == 0)


@pytest.mark.parametrize("d,kept", [(8, 2), (16, 3), (256, 96), (64, 32)])
def test_partial_permutation_theory_and_construction_agree(d, kept):
    assert partial.to_partial_order(d, kept).tolist() == th_p.p_rope_partial_permutation(d, kept)


def test_partial_rotary_without_permutation_is_not_weight_compatible():
    r = np.random.default_rng(5)
    d, theta, p = 16, 1e4, 0.5
    kept = frequencies.p_rope_pairs(d, p)
    q, k = r.standard_normal((4, d)), r.standard_normal((4, d))
    pos = np.array([0, 3, 70, 900])
    from ropelab.constructions import rotary

    freqs = frequencies.p_rope(d, theta, p)
    ours = np.asarray(rotary.apply(q, pos, freqs)) @ np.asarray(rotary.apply(k, pos, freqs)).T
    base = partial.scaled_base(d, theta, kept)
    perm = partial.to_partial_order(d, kept)
    same = (np.asarray(rotary.partial_rotary(q[:, perm], pos, 2 * kept, base))
            @ np.asarray(rotary.partial_rotary(k[:, perm], pos, 2 * kept, base)).T)
    unpermuted = (np.asarray(rotary.partial_rotary(q, pos, 2 * kept, base))
                  @ np.asarray(rotary.partial_rotary(k, pos, 2 * kept, base)).T)
    np.testing.assert_allclose(same, ours, atol=1e-10)
    assert np.max(np.abs(unpermuted - ours)) > 0.1


# --- Table 1 and the diagonal head ------------------------------------------------------------


def test_table1_is_the_papers_and_measured():
    table = table1.table1(10**5, 2048)
    paper = reference.paper_facts()["table1_properties"]
    for col, name in enumerate(paper["columns"]):
        assert table[name]["positional"] == paper["Positional"][col]
        assert table[name]["semantic"] == paper["Semantic"][col]
    assert table["NoPE"]["min_diagonal_weight"] == pytest.approx(1 / 2048)
    assert table["RoPE"]["range"] == 14619 and table["p-RoPE"]["range"] == math.inf
    # the extra columns: reversed p-RoPE keeps only slow pairs, partial rotary the fastest one
    assert not table["reversed p-RoPE"]["positional"] and table["reversed p-RoPE"]["semantic"]
    assert table["partial rotary"]["positional"] and table["partial rotary"]["semantic"]


def test_table1_with_two_cells_swapped_is_rejected():
    from ropelab.checks.runner import run_claim

    swapped = dataclasses.replace(table1.TABLE1, construction=table1.TABLE1.wrong)
    assert run_claim(swapped, quick=True).status == "fail"
    measured = table1.cells(table1.measure(10**5, 2048))
    for first, second in (("NoPE", "Positional"), ("p-RoPE", "Semantic")), (("RoPE", "Semantic"), ("RoPE", "Positional")):
        assert table1.swap(measured, first, second) != measured


def test_top_band_head_matches_spec_and_proof_scale_suffices():
    freqs = frequencies.rope(256, 1e4)
    curve = channels.diagonal_head_curve(freqs, channels.top_band(freqs, 16), 8192)
    cheapest = channels.cheapest_scale_sq(curve, 0.01)
    assert cheapest == pytest.approx(23.6, abs=0.05)  # SPEC: about 23.6 (|psi| about 4.9)
    sufficient = channels.sufficient_scale_sq(curve, 0.01)
    assert sufficient >= cheapest
    assert channels.diagonal_head_min_weight(curve, sufficient) >= 0.99
    assert channels.diagonal_head_min_weight(curve, 0.99 * cheapest) < 0.99


# --- base wavelength, critical pair, Men et al. ------------------------------------------------


def test_base_constants_and_errata():
    k = base_wavelength.base_constants()
    assert k["turns (1/theta)"]["exact"] == pytest.approx(2.0372, abs=1e-4) and k["turns (1/theta)"]["agrees"]
    assert k["turns (exact g_64, d=128) [E4]"]["exact"] == pytest.approx(2.3526, abs=1e-4)
    llama = k["Llama onset 500000^(-40/64) [E2]"]
    assert llama["exact"] == pytest.approx(2.74e-4, rel=1e-3) and not llama["agrees"] and llama["erratum_flagged"]
    assert k["Gemma onset 10000^-0.8"]["agrees"]


def test_critical_pair_counts_match_rotation():
    assert th_base.critical_dimension(128, 10_000, 4096) == 92
    freqs = frequencies.rope(128, 1e4)
    turns = channels.completed_turns(freqs, 4096, block=1000)
    np.testing.assert_array_equal(turns, np.floor(4096 * freqs / (2 * math.pi)).astype(int))
    assert float(th_base.critical_pair_index(256, 10_000, 8192) / 128) == pytest.approx(0.779, abs=5e-4)
    with pytest.raises(ValueError, match="freqs must lie in \\[0, pi\\)"):
        channels.completed_turns(np.array([4.0]), 10)


def test_men_bound_1k_and_non_monotone_witness():
    scan = base_bound.men_scans(True)[1024]
    assert scan.smallest == pytest.approx(4.3e3, abs=50)
    assert not scan.is_monotone and scan.monotone_from > scan.smallest
    w = base_bound.witness(scan)
    assert w["holds"] and w["larger_infeasible"] > w["feasible"]
    # the 40-digit evaluation agrees with the float64 kernel at the witness
    fast = base_bounds.cosine_sum(w["larger_infeasible"], 128, w["distance"] + 1)[-1]
    assert fast == pytest.approx(w["B_mpmath"], abs=1e-9)


@pytest.mark.slow
def test_men_bound_8k_and_64k():
    eight = base_bounds.feasible_bases(128, 8192, 4.29e3, 1e5)
    assert eight.smallest == pytest.approx(8.4e4, abs=500)
    sixty_four = base_bounds.feasible_bases(128, 65536, 0.999 * eight.smallest, 2.3e6)
    assert sixty_four.smallest == pytest.approx(2.1e6, abs=5e4)
    assert not sixty_four.is_monotone


def test_apostrophe_numbers():
    n = apostrophe.apostrophe_numbers(119)
    assert n["g_119"] == pytest.approx(2.0535e-4, rel=1e-4)
    assert n["8000 g"] == pytest.approx(1.6428, abs=1e-4)
    assert n["q.k not-BOS"] == pytest.approx(-85.47) and n["q.k BOS"] == pytest.approx(24.94)
    # what the vectors imply: an anti-aligned rival breaks chunk 119 inside 8k, the printed keys swap beyond it
    implied = apostrophe.implied_breaking(119)
    assert implied["semantic_range"] == implied["anti_aligned_brute_force"] == 7651
    assert implied["printed_vectors_break_at"] == 11964


def test_first_overtaking_is_breaking_context_for_an_aligned_target():
    for g, phi, ratio in ((0.01, math.pi, 1.0), (0.003, 1.0, 1.7), (0.02, -2.0, 0.6)):
        general = channels.first_overtaking(np.array([1.0, 0.0]), np.array([1.0, 0.0]),
                                            channels.rival_key(phi, ratio), np.array([g]), 5000)
        assert general.context == channels.breaking_context(g, phi, ratio, limit=5000).context


# --- the checks notice a broken rotary map ------------------------------------------------------

def test_section6_checks_fail_on_broken_rotary_maps(monkeypatch):
    from ropelab.checks.registry import REGISTRY
    from ropelab.checks.runner import run_claim
    from ropelab.constructions import rotary

    original_rotate, original_rope = rotary.rotate, frequencies.rope
    monkeypatch.setattr(rotary, "rotate", lambda x, cos, sin, layout="half": original_rotate(x, cos, -sin, layout))
    for cid in ("p_rope_keeps_highest_frequencies", "critical_pair_index"):
        assert run_claim(REGISTRY[cid], quick=True).status == "fail", cid
    monkeypatch.setattr(rotary, "rotate", original_rotate)
    # d/2 instead of d in the exponent
    monkeypatch.setattr(frequencies, "rope", lambda d, theta=1e4: np.power(float(theta), np.arange(d // 2) * (-4.0 / d)))
    for cid in ("larger_base_lengthens_semantic_range", "critical_pair_index", "apostrophe_channel_arithmetic"):
        assert run_claim(REGISTRY[cid], quick=True).status == "fail", cid
    assert original_rope(8, 1e4)[1] != frequencies.rope(8, 1e4)[1]
