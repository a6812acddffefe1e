"""Breaking the rotary map makes both `ropelab verify` and the claim checks fail."""

import numpy as np
import pytest

from ropelab.checks.registry import REGISTRY
from ropelab.checks.runner import run_claim
from ropelab.constructions import frequencies, rotary

_original_rotate = rotary.rotate
_original_rope = frequencies.rope


def _sine_flipped(x, cos, sin, layout="half"):
    return _original_rotate(x, cos, -sin, layout)


def _half_exponent(d, theta=10_000.0):
    # d/2 instead of d in the exponent
    return np.power(float(theta), np.arange(d // 2, dtype=np.float64) * (-4.0 / d))


@pytest.mark.parametrize(
    ("target", "name", "broken", "must_fail"),
    [
        (rotary, "rotate", _sine_flipped, {"rope_score_depends_on_relative_position", "rope_matches_peer_implementations",
                                             "rotation_composition", "chunk_score_is_norm_times_cosine"}),
        (frequencies, "rope", _half_exponent, {"rope_score_depends_on_relative_position", "rope_matches_peer_implementations",
                                                "rotation_composition"}),
    ],
    ids=["sine-sign-flipped", "d/2-in-exponent"],
)
def test_broken_map_fails_claims_and_cli(monkeypatch, capsys, target, name, broken, must_fail):
    monkeypatch.setattr(target, name, broken)
    failed = {cid for cid in must_fail if run_claim(REGISTRY[cid], quick=True).status == "fail"}
    assert failed == must_fail
    from ropelab.cli import app as cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", "--quick", "rope_matches_peer_implementations"])
    assert exit_info.value.code == 1
    assert "FAIL" in capsys.readouterr().out
