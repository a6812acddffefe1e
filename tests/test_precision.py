"""The precision model: phase bounds per format against exact errors, thresholds, claims, the CLI."""

import json
import math

import numpy as np
import pytest

from ropelab.checks.claims import precision as claims
from ropelab.checks.runner import run_claim
from ropelab.cli import app as cli
from ropelab.constructions import frequencies
from ropelab.constructions import precision as prec


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    return exit_info.value.code, capsys.readouterr().out


@pytest.mark.parametrize("name", list(prec.FORMATS))
def test_simulated_rounding_matches_the_real_dtype(name):
    """format_phase is the dtype's own arithmetic (ml_dtypes / NumPy), not a model of it."""
    import ml_dtypes

    dtype = {"float32": np.float32, "bf16": ml_dtypes.bfloat16, "fp16": np.float16}.get(name)
    if dtype is None:  # TF32: 10-bit inputs, float32 product
        fmt = prec.FORMATS["tf32"]
        assert fmt.u_in == 2.0**-11 and fmt.u_out == prec.FORMATS["float32"].u_out
        return
    rng = np.random.default_rng(5)
    positions = rng.integers(0, 60000, 200)
    g = float(frequencies.rope(64, 1e4)[7])
    theirs = (positions.astype(dtype) * np.asarray(g, dtype=dtype)).astype(np.float64)
    np.testing.assert_array_equal(prec.format_phases(positions, g, prec.FORMATS[name]), theirs)


def test_known_values():
    bf16 = prec.FORMATS["bf16"]
    assert prec.format_phase(15962, 1.0, bf16) == 15936.0
    assert prec.exact_phase_error(4095, 1.0, bf16) == 1.0
    assert prec.phase_error_bound(65505, 1.0, prec.FORMATS["fp16"]) == math.inf
    g = frequencies.rope(256, 1e4)
    t = prec.thresholds(g, bf16, 8192)
    assert (t.relative_position, t.head, t.semantic) == (1, 21, 19775)
    t32 = prec.thresholds(g, prec.FORMATS["float32"], 8192)
    assert t32.relative_position == 14562 and t32.head == 1326514 and t32.semantic is None
    # thresholds move the right way: more precision, later failure
    order = [prec.thresholds(g, prec.FORMATS[f], 8192).relative_position for f in ("bf16", "fp16", "tf32", "float32")]
    assert order == sorted(order)


def test_threshold_is_the_first_failing_position():
    g = float(frequencies.rope(256, 1e4)[-1])
    fmt = prec.FORMATS["bf16"]
    p = prec.semantic_threshold(g, 0.1, fmt)
    assert 4 * prec.phase_error_bound(p, g, fmt) >= 0.1 > 4 * prec.phase_error_bound(p - 1, g, fmt)


@pytest.mark.parametrize("claim", claims.CLAIMS, ids=lambda c: c.id)
def test_precision_claims_pass_and_reject_their_controls(claim):
    result = run_claim(claim, quick=True)
    assert result.status == "pass", result.error or result.worst_point
    assert result.negative_rejected


def test_a_wrong_closed_form_fails_the_symbolic_side(monkeypatch):
    monkeypatch.setattr(prec, "relative_phase_bound", lambda u_in, u_out, k: (1 + u_in) ** k * (1 + u_out) ** 0 - 1)
    derived = claims.PHASE.symbolic.derive()  # called directly: the runner caches derivations per process
    assert not derived.holds and any(step.startswith("NOT proved") for step in derived.steps)


def test_precision_cli(tmp_path, capsys):
    out_json = tmp_path / "p.json"
    hf = tmp_path / "config.json"
    hf.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32,
                              "num_hidden_layers": 32, "max_position_embeddings": 4096, "rope_theta": 10000.0}))
    code, out = run(capsys, "precision", "--config", str(hf), "--dtype", "bf16", "--json", str(out_json))
    assert code == 0, out
    (row,) = json.loads(out_json.read_text())["rows"]
    assert row["dtype"] == "bf16" and row["relative_position"] == 1 and row["semantic"] == 18402
    # the last line answers the question: where bf16 first breaks this layer's positional head
    flat = " ".join(out.split())
    answer = flat[flat.rindex("First position where the dtype breaks the layer's positional heads"):]
    assert row["head"] is not None and row["head"] < 4096
    assert answer.endswith(f"bf16 at position {row['head']:,} ({hf.parent.name}, inside its context of 4,096).")
    code, out = run(capsys, "precision", "--dtype", "fp8")
    assert code == 2 and "dtype must be one of" in out
