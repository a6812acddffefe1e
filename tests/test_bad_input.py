"""Bad input gets a ValueError naming the parameter and the allowed range."""

import numpy as np
import pytest

from ropelab.constructions import frequencies, rotary


@pytest.mark.parametrize("d", [3, 1, 0, -2, 7.0, "8", True])
def test_head_dim_must_be_even_integer(d):
    with pytest.raises(ValueError, match=r"d \(head dimension\) must be an even integer >= 2"):
        frequencies.rope(d, 1e4)


@pytest.mark.parametrize("theta", [1.0, 0.5, -10.0, float("nan"), float("inf")])
def test_theta_must_exceed_one(theta):
    with pytest.raises(ValueError, match=r"theta \(base wavelength\) must be a finite number > 1"):
        frequencies.rope(8, theta)


@pytest.mark.parametrize("p", [-0.1, 1.01, float("nan")])
def test_p_must_lie_in_unit_interval(p):
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\]"):
        frequencies.p_rope(8, 1e4, p)


@pytest.mark.parametrize("positions", [[-1], [0.5], [np.nan], [2.0**60]])
def test_positions_must_be_non_negative_integers(positions):
    with pytest.raises(ValueError, match="positions must"):
        rotary.apply(np.ones(4), positions, frequencies.rope(4, 1e4))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_vectors_must_be_finite(bad):
    with pytest.raises(ValueError, match="x must be finite"):
        rotary.apply(np.array([1.0, bad]), [0], [1.0])


def test_unknown_layout():
    with pytest.raises(ValueError, match=r"layout must be one of \('half', 'interleaved'\)"):
        rotary.apply(np.ones(4), [0], frequencies.rope(4, 1e4), layout="neox")


def test_freqs_length_must_match_head_dim():
    with pytest.raises(ValueError, match="freqs must have length d/2 = 2"):
        rotary.apply(np.ones(4), [0], frequencies.rope(8, 1e4))


def test_partial_rotary_prefix_within_head():
    with pytest.raises(ValueError, match=r"d_rot must be an even integer in \[2, d=4\]"):
        rotary.partial_rotary(np.ones(4), [0], 8)


def test_unknown_rope_type_and_missing_theta():
    with pytest.raises(ValueError, match="rope_type must be one of"):
        frequencies.from_hf_parameters(8, {"rope_type": "ntk-magic", "rope_theta": 1e4})
    with pytest.raises(ValueError, match="rope_theta"):
        frequencies.from_hf_parameters(8, {"rope_type": "default"})
    with pytest.raises(ValueError, match="needs 'factor'"):
        frequencies.from_hf_parameters(8, {"rope_type": "linear", "rope_theta": 1e4})
