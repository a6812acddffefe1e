"""A wrong sign or constant planted in a §2 closed form makes every claim that uses it fail.

Each fault replaces one function of :mod:`ropelab.theory.rotations`; the claims listed with it
call that function (on their symbolic side, their numeric side or both), so each must now
fail. If a claim stopped calling its closed form, the fault would not reach it and this test
would fail.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy as sp

from ropelab.checks import runner
from ropelab.checks.claims import _common
from ropelab.checks.registry import REGISTRY
from ropelab.theory import rotations as th

ORIGINAL = {name: getattr(th, name) for name in
            ("rho", "frequency", "chunk_logit", "chunk_score_closed_form", "interleaved_source", "rotary_entry",
             "pair_of", "layout_block")}


def clockwise_rho(angle):
    return ORIGINAL["rho"](-angle)


def doubled_cosine_rho(angle):
    return sp.Matrix([[sp.cos(2 * angle), -sp.sin(angle)], [sp.sin(angle), sp.cos(2 * angle)]])


def shifted_frequency(k, d, theta):
    return ORIGINAL["frequency"](k + 1, d, theta)


def sine_flipped_chunk_logit(query_position=th.i, key_position=th.j, freq=th.g, q=(th.q1, th.q2), k=(th.k1, th.k2)):
    (a1, a2), (b1, b2) = q, k
    delta = (key_position - query_position) * freq
    return (a1 * b1 + a2 * b2) * sp.cos(delta) - (a2 * b1 - a1 * b2) * sp.sin(delta)


def angles_swapped_closed_form():
    right = ORIGINAL["chunk_score_closed_form"]()
    rx, alpha, ry, beta, phi = right.variables
    return sp.Lambda(right.variables, rx * ry * sp.cos(phi - beta + alpha))


def off_by_one_source(coordinate, h):
    c = sp.sympify(coordinate)
    return sp.Piecewise((c / 2, sp.Eq(sp.Mod(c, 2), 0)), ((c - 1) / 2 + h - 1, True))


def off_diagonal_entry(position, row, column):
    (k, c), (l, c_) = row, column
    return sp.KroneckerDelta(k, l + 1) * ORIGINAL["rho"](position * th.freqs[l])[c - 1, c_ - 1]


def swapped_pair_of(v, k):
    return sp.Matrix([v[k, 2], v[k, 1]])


def clockwise_interleaved_block(angles, layout):
    right = ORIGINAL["layout_block"](angles, layout)
    return right.T if layout == "interleaved" else right


FAULTS = [
    ("rho", clockwise_rho, ("rotation_composition", "rope_score_depends_on_relative_position",
                            "chunk_score_is_norm_times_cosine")),
    ("rho", doubled_cosine_rho, ("rotation_composition", "rope_preserves_norm",
                                 "rope_score_depends_on_relative_position", "chunk_score_is_norm_times_cosine")),
    ("frequency", shifted_frequency, ("rotation_composition", "rope_score_depends_on_relative_position")),
    ("chunk_logit", sine_flipped_chunk_logit, ("rope_score_depends_on_relative_position",)),
    ("chunk_score_closed_form", angles_swapped_closed_form, ("chunk_score_is_norm_times_cosine",)),
    ("interleaved_source", off_by_one_source, ("layouts_agree_up_to_permutation",)),
    ("rotary_entry", off_diagonal_entry, ("rope_preserves_norm", "rope_score_depends_on_relative_position")),
    ("pair_of", swapped_pair_of, ("rope_preserves_norm", "rope_score_depends_on_relative_position")),
    ("layout_block", clockwise_interleaved_block, ("layouts_agree_up_to_permutation",)),
]
CASES = [(name, fault, claim_id) for name, fault, claims in FAULTS for claim_id in claims]


def _clear_caches():
    # derivations and lambdified closed forms are cached per process: a fault must not leak
    runner.derivation.cache_clear()
    _common.chunk_logit_function.cache_clear()
    _common.pair_rotation_function.cache_clear()


@pytest.fixture
def planted(monkeypatch):
    def plant(name, fault):
        _clear_caches()
        monkeypatch.setattr(th, name, fault)

    yield plant
    monkeypatch.undo()
    _clear_caches()


@pytest.mark.parametrize("name, fault, claim_id", CASES,
                         ids=[f"{claim_id}-{fault.__name__}" for _, fault, claim_id in CASES])
def test_planted_fault_fails_the_claim(planted, name, fault, claim_id):
    planted(name, fault)
    result = runner.run_claim(REGISTRY[claim_id], quick=True)
    assert result.status == "fail", f"{claim_id} passed with {name} replaced by {fault.__name__}"


def test_every_closed_form_with_a_fault_is_used_by_a_section_2_claim():
    section_2 = {cid for cid, claim in REGISTRY.items() if claim.section.startswith("§2")}
    assert {claim for _, _, claims in FAULTS for claim in claims} <= section_2
    assert {name for name, _, _ in FAULTS} == set(ORIGINAL)


def test_unplanted_closed_forms_pass():
    _clear_caches()
    for claim_id in sorted({cid for _, _, claims in FAULTS for cid in claims}):
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
