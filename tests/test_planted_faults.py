"""Planted faults: a wrong quantity in what a claim is about makes that claim fail.

One table, one row per fault: the module and the name replaced, the wrong version (built from
the original), the claims that must now fail, and among them those whose proof must fail too.
A fault in the quantity a proof step is about (a closed form, the rotation, the margin of a
placement, a breaking context, a head's logit) must make the derivation itself fail (not hold,
or refuse to build), so that no step passes by algebra alone; a fault in a construction or in
the exact values a numeric side compares with must make the claim fail. Contract tests assert
that every ``proved`` and ``proved (finite)`` claim of the registry appears in the table, and
that some fault in it makes its derivation fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest
import sympy as sp

from ropelab.checks import runner
from ropelab.checks.claim import Trust
from ropelab.checks.registry import REGISTRY
from ropelab.constructions import base_bounds as base_cx
from ropelab.constructions import frequencies, orbits, positional_heads, rotary
from ropelab.constructions import precision as precision_cx
from ropelab.constructions import semantic_channels as channels_cx
from ropelab.theory import abel_bound, diophantine
from ropelab.theory import base_bounds as th_base
from ropelab.theory import logit_statistics as th_stats
from ropelab.theory import near_returns as th_nr
from ropelab.theory import orbits as th_orbits
from ropelab.theory import p_rope as th_p
from ropelab.theory import positional_heads as th_ph
from ropelab.theory import random_positions as th_random
from ropelab.theory import rotated_key as th_key
from ropelab.theory import rotations as th
from ropelab.theory import semantic_channels as th_sc
from ropelab.theory import softmax_bounds as th_sb


class Fault(NamedTuple):
    """One planted fault: ``wrong(original)`` replaces ``target.name``; each of ``claims`` must fail."""

    name: str  # the fault, for test ids
    target: Any
    attribute: str
    wrong: Callable[[Any], Any]
    claims: tuple[str, ...]  # each must fail
    proofs: tuple[str, ...] | str = ()  # those whose proof must fail too ("all": every one of claims)


def _scaled(factor):
    return lambda original: lambda *args, **kwargs: factor * original(*args, **kwargs)


def _shifted(offset):
    return lambda original: lambda *args, **kwargs: original(*args, **kwargs) + offset


def _constant(value):
    return lambda original: value


# --- §2 closed forms and the rotary map ------------------------------------------------------------

def _clockwise_rho(original):
    return lambda angle: original(-angle)


def _doubled_cosine_rho(original):
    return lambda angle: sp.Matrix([[sp.cos(2 * angle), -sp.sin(angle)], [sp.sin(angle), sp.cos(2 * angle)]])


def _shifted_frequency(original):
    return lambda k, d, theta: original(k + 1, d, theta)


def _sine_flipped_chunk_logit(original):
    def chunk_logit(query_position=th.i, key_position=th.j, freq=th.g, q=(th.q1, th.q2), k=(th.k1, th.k2)):
        (a1, a2), (b1, b2) = q, k
        delta = (key_position - query_position) * freq
        return (a1 * b1 + a2 * b2) * sp.cos(delta) - (a2 * b1 - a1 * b2) * sp.sin(delta)
    return chunk_logit


def _leaking_zero_frequency(original):
    """A pair of frequency 0 that still turns by 1/100 rad per token."""
    def chunk_logit(query_position=th.i, key_position=th.j, freq=th.g, *args, **kwargs):
        if isinstance(freq, sp.Basic) and freq == 0:
            freq = sp.Rational(1, 100)
        return original(query_position, key_position, freq, *args, **kwargs)
    return chunk_logit


def _angles_swapped_closed_form(original):
    def closed_form():
        right = original()
        rx, alpha, ry, beta, phi = right.variables
        return sp.Lambda(right.variables, rx * ry * sp.cos(phi - beta + alpha))
    return closed_form


def _off_by_one_source(original):
    def source(coordinate, h):
        c = sp.sympify(coordinate)
        return sp.Piecewise((c / 2, sp.Eq(sp.Mod(c, 2), 0)), ((c - 1) / 2 + h - 1, True))
    return source


def _off_diagonal_entry(original):
    rho = th.rho

    def entry(position, row, column):
        (k, c), (l, c_) = row, column
        return sp.KroneckerDelta(k, l + 1) * rho(position * th.freqs[l])[c - 1, c_ - 1]
    return entry


def _swapped_pair_of(original):
    return lambda v, k: sp.Matrix([v[k, 2], v[k, 1]])


def _clockwise_interleaved_block(original):
    def block(angles, layout):
        right = original(angles, layout)
        return right.T if layout == "interleaved" else right
    return block


def _sine_flipped_rotate(original):
    return lambda x, cos, sin, layout="half": original(x, cos, -sin, layout)


def _half_exponent(original):
    # d/2 instead of d in the exponent
    return lambda d, theta=10_000.0: np.power(float(theta), np.arange(d // 2, dtype=np.float64) * (-4.0 / d))


# --- §3 --------------------------------------------------------------------------------------------

def _sign_flipped_abel_step(original):
    def sides(m):
        left, right = original(m)
        return left, right.subs(abel_bound.h[m - 1], -abel_bound.h[m - 1])
    return sides


def _frequency_in_turns(original):
    """g_k read as turns per token and converted to radians: 2 pi theta^(-2(k-1)/d) per token."""
    return lambda k, d, theta: 2 * sp.pi * original(k, d, theta)


def _squared_frequency(original):
    return lambda k, d, theta: original(k, d, theta) ** 2


# --- §5 --------------------------------------------------------------------------------------------

T = sp.Symbol("t", positive=True)
A31, A33 = sp.symbols("a_31 a_33", real=True)
B, TT, MARGIN = sp.symbols("b t Delta", positive=True)
TARGET, REST = sp.symbols("T S", nonnegative=True)


def _logit_with_wrong_sign(original):
    return lambda distance: th_ph.s**2 * th_ph.w * sp.cos((th_ph.i - th_ph.j + distance) * th_ph.g)


def _logit_with_wrong_constant(original):
    return lambda distance: 2 * th_ph.s**2 * th_ph.w * sp.cos((th_ph.i - th_ph.j - distance) * th_ph.g)


def _chord_as_pair_gap(original):
    """A pair's gap taken as the chord 2 w sin(r g / 2) between the two unit vectors, not w (1 - cos(r g))."""
    return lambda weight, distance, freq: weight * 2 * sp.sin(distance * freq / 2)


def _half_angle_not_halved(original):
    """1 - cos(x) written as 2 sin^2(x) (the half-angle formula without halving the angle)."""
    return lambda angle: 2 * sp.sin(angle) ** 2


def _convergents_skipping_710(original):
    return lambda alpha, limit, terms=64: [q for q in original(alpha, limit, terms) if q != 710]


# --- §6 and precision ------------------------------------------------------------------------------

def _half_speed_target_margin(original):
    """The target turns at half the rival's speed: the margin of a placement is wrong."""
    return lambda shift: th_sc.rho * sp.cos(th_sc.phi - th_sc.y) - sp.cos(th_sc.y / 2 + shift)


def _rival_angle_shrunk(original):
    """The brute force places the rival at 0.9 phi: the breaking context it finds is wrong."""
    return lambda freq, rival_angle, *args, **kwargs: original(freq, 0.9 * rival_angle, *args, **kwargs)


def _respread_p_rope_frequency(original):
    """Kept pairs spread over 2n coordinates instead of the full d in the exponent."""
    return lambda m, d, kept: original(m, 2 * sp.sympify(kept), kept)


def _flipped_sinusoid_sine(original):
    """The neighbour's sine term with the other sign: the crossing of the sinusoid moves."""
    return lambda sign: original(-sign)


def _one_kept_pair_too_many(original):
    """p-RoPE keeping pair m = kept too (m <= kept instead of m < kept)."""
    return lambda m, d, kept: original(m, d, kept + 1)


def _kept_pairs_by_decimal_arithmetic(original):
    """int(p*d//2) read in decimal, not IEEE arithmetic (differs where p*d rounds across an integer)."""
    import math

    return lambda p, d: math.floor(round(p * d, 9) / 2)


def _swapped_rotated_coordinates(original):
    def permutation(d, kept):
        perm = original(d, kept)
        return [perm[1], perm[0], *perm[2:]]
    return permutation


def _paper_slowest_frequency(original):
    """The paper's 1/theta for the slowest pair (instead of theta^(-(d-2)/d))."""
    return lambda d, base: 1 / sp.sympify(base)


def _wavelength_read_as_frequency(original):
    """i* solved for g L = 1 (L tokens per radian) instead of a wavelength of L tokens."""
    return lambda d, base, length: original(d, base, length * 2 * sp.pi)


def _larger_base_cosine_sum(original):
    return lambda distance, base, d, *args, **kwargs: original(distance, 1.5 * base, d, *args, **kwargs)


def _larger_base_cosine_sums(original):
    return lambda base, d, length, *args, **kwargs: original(1.5 * base, d, length, *args, **kwargs)


def _one_rounding_fewer(original):
    return lambda u_in, u_out, roundings_in: original(u_in, u_out, roundings_in - 1)


def _subtracted_convergent_step(original):
    """The convergent recursion with a minus sign, p_k = a_k p_(k-1) - p_(k-2) (backward continued fractions)."""
    return lambda a, previous, before: a * previous - before


def _nudged_three_gaps(original):
    return lambda g, points: original(g * 1.01, points)


def _one_point_more(original):
    return lambda freq, points, *args, **kwargs: original(freq, points + 1, *args, **kwargs)


def _band_scales_of_another_base(original):
    return lambda d, theta, offsets, *args, **kwargs: original(d, theta**1.2, offsets, *args, **kwargs)


S2 = ("rotation_composition", "rope_score_depends_on_relative_position", "chunk_score_is_norm_times_cosine")
GAUSSIAN = ("gaussian_logit_mean_is_zero", "gaussian_logit_variance_is_dimension", "correlated_logit_mean_is_cosine_sum")
HEADS = ("rope_head_can_be_diagonal", "rope_head_can_be_previous_token")

FAULTS = [
    # §2: the rotation, the frequency schedule, a chunk's logit, a layout
    Fault("clockwise_rho", th, "rho", _clockwise_rho, S2, "all"),
    Fault("doubled_cosine_rho", th, "rho", _doubled_cosine_rho,
          (*S2, "rope_preserves_norm", "base_lower_bound_for_context"), "all"),
    Fault("shifted_frequency", th, "frequency", _shifted_frequency,
          ("rotation_composition", "rope_score_depends_on_relative_position")),
    Fault("sine_flipped_chunk_logit", th, "chunk_logit", _sine_flipped_chunk_logit,
          ("rope_score_depends_on_relative_position",), "all"),
    Fault("leaking_zero_frequency", th, "chunk_logit", _leaking_zero_frequency,
          ("p_rope_unrotated_channels_ignore_distance",), "all"),
    Fault("angles_swapped_closed_form", th, "chunk_score_closed_form", _angles_swapped_closed_form,
          ("chunk_score_is_norm_times_cosine",), "all"),
    Fault("off_by_one_source", th, "interleaved_source", _off_by_one_source,
          ("layouts_agree_up_to_permutation",), "all"),
    Fault("off_diagonal_entry", th, "rotary_entry", _off_diagonal_entry,
          ("rope_preserves_norm", "rope_score_depends_on_relative_position"), "all"),
    Fault("swapped_pair_of", th, "pair_of", _swapped_pair_of,
          ("rope_preserves_norm", "rope_score_depends_on_relative_position"), "all"),
    Fault("clockwise_interleaved_block", th, "layout_block", _clockwise_interleaved_block,
          ("layouts_agree_up_to_permutation",), "all"),
    Fault("sine_flipped_rotate", rotary, "rotate", _sine_flipped_rotate,
          ("rope_matches_peer_implementations", *S2)),
    Fault("d/2_in_exponent", frequencies, "rope", _half_exponent,
          ("rope_score_depends_on_relative_position", "rope_matches_peer_implementations", "rotation_composition")),
    # §3: the rotated key's gap, full turns, logit moments, the Abel step, random positions
    Fault("chunk_gap_x1.5", th_key, "chunk_gap", _scaled(sp.Rational(3, 2)),
          ("rotated_key_maximises_logit_at_distance",), "all"),
    Fault("one_minus_cos_x100", diophantine, "one_minus_cos", _scaled(100),
          ("frequency_multiple_never_full_turn", "float32_cannot_certify_rotated_key_argmax")),
    Fault("pair_logit_x2", th_stats, "pair_logit", _scaled(2),
          (*GAUSSIAN, "all_ones_logit_decays", "fixed_gaussian_logit_does_not_decay", "random_positions_speed_decay"),
          (*GAUSSIAN[1:], "all_ones_logit_decays", "fixed_gaussian_logit_does_not_decay", "random_positions_speed_decay")),
    Fault("pair_logit_covariance_x1.5", th_stats, "pair_logit_covariance", _scaled(sp.Rational(3, 2)),
          ("gaussian_logit_mean_is_zero",)),
    Fault("pair_logit_product_moment_/100", th_stats, "pair_logit_product_moment", _scaled(sp.Rational(1, 100)),
          ("gaussian_logit_mean_is_zero",)),
    Fault("gaussian_expectation_+1", th_stats, "gaussian_expectation", _shifted(1), GAUSSIAN, "all"),
    Fault("all_ones_pair_logit_x1.5", th_stats, "all_ones_pair_logit", _scaled(sp.Rational(3, 2)),
          ("all_ones_logit_decays",), "all"),
    Fault("frequency_in_turns", th, "frequency", _frequency_in_turns, ("frequency_multiple_never_full_turn",), "all"),
    Fault("squared_frequency", th, "frequency", _squared_frequency,
          ("gaussian_logit_mean_is_zero", "correlated_logit_mean_is_cosine_sum", "all_ones_logit_decays")),
    Fault("sign_flipped_abel_step", abel_bound, "abel_sides", _sign_flipped_abel_step,
          ("abel_bound_is_vacuous_for_gaussian_logits",), "all"),
    Fault("mean_gap_+1/7", th_random, "mean_gap", _shifted(sp.Rational(1, 7)), ("random_positions_speed_decay",),
          "all"),
    # §5: softmax bounds, the head's logits, its scale, patterns, near returns
    Fault("two_key_bound", th_sb, "two_key_bound", _constant(lambda: sp.Lambda(T, 1 / (2 + sp.exp(T)))),
          ("non_argmax_softmax_weight_below_half",), "all"),
    Fault("nope_repeated_pair_weight", th_sb, "nope_repeated_pair_weight",
          _constant(lambda: sp.Lambda((A31, A33), 1 / (sp.exp(A31 - A33) + 3))),
          ("nope_cannot_be_diagonal_or_previous_token",), "all"),
    Fault("other_keys_may_be_negative", th_sb, "R", _constant(sp.Symbol("R", real=True)),
          ("nope_weight_bounded_by_repeat_count",), "all"),
    Fault("head_logit_wrong_sign", th_ph, "chunk_head_logit", _logit_with_wrong_sign,
          ("rope_head_can_be_previous_token",), "all"),
    Fault("head_logit_wrong_constant", th_ph, "chunk_head_logit", _logit_with_wrong_constant, HEADS, "all"),
    Fault("scale_with_halved_gap", th_ph, "sufficient_scale_squared_expr",
          _constant(lambda: sp.log((th_ph.N - 1) * (1 - th_ph.eps) / th_ph.eps) / (2 * th_ph.delta)), HEADS, "all"),
    Fault("target_weight_bound_doubled_gap", th_ph, "target_weight_lower_bound",
          _constant(lambda: 1 / (1 + th_ph.M * sp.exp(-2 * th_ph.x * th_ph.delta))), HEADS, "all"),
    Fault("off_pattern_mass", th_ph, "off_pattern_mass",
          _constant(lambda: sp.Lambda((TARGET, REST), REST / (TARGET + 2 * REST))),
          ("positional_patterns_are_defined",), "all"),
    Fault("figure_1_printed_logit", th_ph, "figure_1_printed_logit",
          _constant(lambda: th_ph.w * sp.cos((th_ph.j - th_ph.i + 1) * th_ph.g)),
          ("figure_1_convention_attends_to_future",), "all"),
    Fault("single_frequency_scale_x100", th_ph, "single_frequency_necessary_scale",
          _constant(lambda: sp.log((1 - th_ph.eps) / th_ph.eps) / (2 * sp.sin(sp.pi / th_ph.N) ** 2) * 100),
          ("top_frequency_band_makes_sharp_head_cheaply",)),
    Fault("single_frequency_scale_/1000", th_ph, "single_frequency_necessary_scale",
          _constant(lambda: sp.log((1 - th_ph.eps) / th_ph.eps) / (2 * sp.sin(sp.pi / th_ph.N) ** 2) / 1000),
          ("top_frequency_band_makes_sharp_head_cheaply",), "all"),
    Fault("bos_anchor_signal", th_ph, "bos_anchor_signal", _constant(lambda: sp.Lambda((B, TT), sp.exp(B) / (sp.exp(B) + TT))),
          ("nope_bos_position_signal_needs_growing_logits",), "all"),
    Fault("bos_separation_gain", th_ph, "bos_separation_gain",
          _constant(lambda: sp.Lambda((B, TT, MARGIN), MARGIN * (sp.exp(B) + TT) * (sp.exp(B) + TT - 2) / sp.exp(B))),
          ("nope_bos_position_signal_needs_growing_logits",), "all"),
    Fault("frequency_ratio_without_2", th_nr, "frequency_ratio", _constant(lambda g: sp.Rational(g) / sp.pi),
          ("near_returns_at_continued_fraction_convergents",)),
    Fault("half_angle_not_halved", th_nr, "return_gap", _half_angle_not_halved,
          ("near_returns_at_continued_fraction_convergents",), "all"),
    Fault("convergents_skipping_710", th_nr, "convergent_denominators", _convergents_skipping_710,
          ("near_returns_at_continued_fraction_convergents",)),
    Fault("band_scales_of_another_base", positional_heads, "band_offset_scales", _band_scales_of_another_base,
          ("head_norm_grows_as_inverse_square_frequency",)),
    Fault("chord_as_pair_gap", th_ph, "pair_gap", _chord_as_pair_gap,
          ("head_norm_grows_as_inverse_square_frequency",), "all"),
    # §6: the orbit, the breaking context, p-RoPE, the base, the apostrophe head; precision
    Fault("subtracted_convergent_step", th_orbits, "convergent_step", _subtracted_convergent_step,
          ("rotation_orbit_is_dense",), "all"),
    Fault("nudged_three_gaps", th_orbits, "three_gaps", _nudged_three_gaps, ("rotation_orbit_is_dense",)),
    Fault("orbit_with_one_point_more", orbits, "orbit_gaps", _one_point_more, ("rotation_orbit_is_dense",)),
    Fault("half_speed_target_margin", th_sc, "margin", _half_speed_target_margin,
          ("semantic_channel_breaks_at_long_context", "semantic_range_scales_inverse_frequency",
           "apostrophe_channel_arithmetic"), "all"),
    Fault("semantic_range_+1", th_sc, "semantic_range", _shifted(1),
          ("semantic_range_scales_inverse_frequency", "apostrophe_channel_arithmetic"), "all"),
    Fault("breaking_context_+1", th_sc, "breaking_context", _shifted(1),
          ("semantic_channel_breaks_at_long_context",)),
    Fault("rival_angle_shrunk", channels_cx, "breaking_context", _rival_angle_shrunk,
          ("semantic_channel_breaks_at_long_context",)),
    Fault("flipped_sinusoid_sine", th_sc, "sinusoid_coefficients", _flipped_sinusoid_sine,
          ("semantic_channel_breaks_at_long_context",), "all"),
    Fault("one_kept_pair_too_many", th_p, "p_rope_frequency", _one_kept_pair_too_many,
          ("p_rope_keeps_highest_frequencies",)),
    Fault("kept_pairs_by_decimal_arithmetic", th_p, "kept_pairs_ieee", _kept_pairs_by_decimal_arithmetic,
          ("p_rope_keeps_highest_frequencies",)),
    Fault("respread_p_rope_frequency", th_p, "p_rope_frequency", _respread_p_rope_frequency,
          ("p_rope_keeps_highest_frequencies",), "all"),
    Fault("swapped_rotated_coordinates", th_p, "p_rope_partial_permutation", _swapped_rotated_coordinates,
          ("p_rope_equals_partial_rotary_with_scaled_base",), "all"),
    Fault("paper_slowest_frequency", th_base, "slowest_frequency", _paper_slowest_frequency,
          ("larger_base_lengthens_semantic_range",), "all"),
    Fault("wavelength_read_as_frequency", th_base, "critical_pair_index", _wavelength_read_as_frequency,
          ("critical_pair_index",), "all"),
    Fault("exact_cosine_sum_of_larger_base", th_base, "cosine_sum", _larger_base_cosine_sum,
          ("base_lower_bound_for_context",)),
    Fault("cosine_sums_of_larger_base", base_cx, "cosine_sum", _larger_base_cosine_sums,
          ("base_lower_bound_for_context",)),
    Fault("one_rounding_fewer", precision_cx, "relative_phase_bound", _one_rounding_fewer,
          ("rope_phase_error_within_format_bound",), "all"),
]
CASES = [(fault, claim_id) for fault in FAULTS for claim_id in fault.claims]


def _clear_caches() -> None:
    """Forget every cached derivation, lambdified closed form and cached measurement, so that a
    fault reaches what it replaces and does not outlive its test."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("ropelab.") or module is None:
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", "") == name:
                value.cache_clear()
    runner.derivation.cache_clear()


@pytest.fixture
def planted(monkeypatch):
    def plant(fault: Fault) -> None:
        _clear_caches()
        monkeypatch.setattr(fault.target, fault.attribute, fault.wrong(getattr(fault.target, fault.attribute)))
        _clear_caches()

    yield plant
    monkeypatch.undo()
    _clear_caches()


def _proofs(fault: Fault) -> tuple[str, ...]:
    return fault.claims if fault.proofs == "all" else fault.proofs


def _proof_fails(claim_id: str) -> bool:
    """The derivation does not hold, or refuses to build (a theory helper's own check raised)."""
    try:
        return not REGISTRY[claim_id].symbolic.derive().holds
    except (AssertionError, ValueError, TypeError):
        return True


@pytest.mark.parametrize("fault, claim_id", CASES, ids=[f"{claim_id}-{fault.name}" for fault, claim_id in CASES])
def test_planted_fault_fails_the_claim(planted, fault, claim_id):
    planted(fault)
    if claim_id in _proofs(fault):
        assert _proof_fails(claim_id), f"{claim_id}'s proof still holds with {fault.name} planted in {fault.attribute}"
        _clear_caches()
    result = runner.run_claim(REGISTRY[claim_id], quick=True)
    assert result.status == "fail", f"{claim_id} still passes with {fault.name} planted in {fault.attribute}"


def _proved() -> set[str]:
    return {cid for cid, claim in REGISTRY.items() if claim.symbolic is not None
            and claim.symbolic.shown.trust in (Trust.PROVED, Trust.PROVED_FINITE)}


def test_every_proved_claim_has_a_planted_fault():
    planted = {claim for fault in FAULTS for claim in fault.claims}
    assert _proved() - planted == set(), f"proved claims no planted fault reaches: {sorted(_proved() - planted)}"
    assert planted <= set(REGISTRY), sorted(planted - set(REGISTRY))


def test_every_proved_claim_has_a_fault_that_breaks_its_proof():
    broken = {claim for fault in FAULTS for claim in _proofs(fault)}
    assert _proved() - broken == set(), f"proved claims whose proof no fault breaks: {sorted(_proved() - broken)}"


def test_the_table_is_well_formed():
    assert len({fault.name for fault in FAULTS}) == len(FAULTS)
    for fault in FAULTS:
        assert hasattr(fault.target, fault.attribute), f"{fault.target.__name__} has no {fault.attribute}"
        assert fault.proofs == "all" or set(fault.proofs) <= set(fault.claims), fault.name


def test_unplanted_claims_pass():
    _clear_caches()
    for claim_id in ("rotation_composition", "semantic_range_scales_inverse_frequency", "apostrophe_channel_arithmetic",
                     "p_rope_unrotated_channels_ignore_distance", "nope_weight_bounded_by_repeat_count"):
        assert runner.run_claim(REGISTRY[claim_id], quick=True).status == "pass", claim_id


HOOK = textwrap.dedent('''
    """Test hook: plant a wrong closed form before ropelab runs (loaded via PYTHONPATH)."""
    import sympy as sp

    from ropelab.theory import rotations as th

    right = th.chunk_score_closed_form

    def angles_swapped():
        rx, alpha, ry, beta, phi = right().variables
        return sp.Lambda((rx, alpha, ry, beta, phi), rx * ry * sp.cos(phi - beta + alpha))

    th.chunk_score_closed_form = angles_swapped
''')


def test_planted_fault_makes_verify_exit_nonzero(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(HOOK)
    command = [str(Path(sys.executable).parent / "ropelab"), "verify", "chunk_score_is_norm_times_cosine", "--quick"]
    planted_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    faulty = subprocess.run(command, env=planted_env, capture_output=True, text=True, timeout=600)
    assert faulty.returncode == 1, faulty.stdout + faulty.stderr
    assert "chunk_score_is_norm_times_cosine failed" in faulty.stdout
    clean = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_a_broken_rotary_map_fails_verify_in_process(planted, capsys):
    planted(next(fault for fault in FAULTS if fault.name == "sine_flipped_rotate"))
    from ropelab.cli import app as cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", "--quick", "rope_matches_peer_implementations"])
    assert exit_info.value.code == 1
    assert "FAIL" in capsys.readouterr().out
