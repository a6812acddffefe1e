"""The adapter and the analysis on the real Gemma 3 270M (installed by the test extra; never skipped).

Slow: the first run on a machine assembles and dequantises the GGUF (about a minute); later
runs load the cached checkpoint. The capture check is the adapter's correctness test on the
real model: ropelab's rotary map with each layer's own base reproduces Gemma's attention maps
within the float32 bound, and the same check rejects swapped bases and the wrong layout.
"""

import dataclasses
import math

import numpy as np
import pytest

from ropelab.checks.findings import model_analysis
from ropelab.constructions import frequencies
from ropelab.checks.findings.models import capture_validation, gemma_files, model_adapter, model_cache, model_schedules
from ropelab.paper_figs import gemma_head_types, gemma_layer_norms

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gemma():
    model, tokenizer, sha = gemma_files.load_gemma()
    assert sha == gemma_files.gemma_package().EXPECTED_SHA256
    return model, tokenizer


@pytest.fixture(scope="module")
def captures(gemma):
    model, tokenizer = gemma
    return {name: model_adapter.capture_text(model, tokenizer, text, model_name=gemma_files.GEMMA_NAME)
            for name, text in model_analysis.PROMPTS.items()}


def test_cached_gguf_matches_the_package_hash():
    path = gemma_files.gemma_gguf()
    assert model_cache.sha256_file(path) == gemma_files.gemma_package().EXPECTED_SHA256


def test_schedules_read_from_the_config(gemma):
    model, _ = gemma
    schedules = model_schedules.layer_schedules(model)
    assert len(schedules) == model.config.num_hidden_layers == 18
    for s in schedules:
        is_global = s.layer_type == "full_attention"
        assert s.theta == (1e6 if is_global else 1e4)
        assert s.sliding_window == (None if is_global else 512)
        assert s.scaling == pytest.approx(256**-0.5)
        np.testing.assert_array_equal(s.freqs, frequencies.rope(256, s.theta))
    assert [s.layer for s in schedules if s.layer_type == "full_attention"] == [5, 11, 17]


def test_capture_reproduces_gemma_attention(captures):
    cap = captures["English"]
    assert cap.queries.shape == (18, 4, cap.n_tokens, 256) and cap.keys.shape == (18, 1, cap.n_tokens, 256)
    assert cap.tokens[0] == "<bos>"
    result = capture_validation.validate_capture(cap)
    assert result.passed, result.worst
    flipped = [dataclasses.replace(s, theta=t, freqs=frequencies.rope(256, t))
               for s, t in ((s, 1e6 if s.theta == 1e4 else 1e4) for s in cap.schedules)]
    assert capture_validation.validate_capture(cap, schedules=flipped).attention_ratio > 1.0
    assert capture_validation.validate_capture(cap, layout="interleaved").attention_ratio > 1.0
    # the model predicts its own prompt far better than chance (ln V nats): the weights loaded right
    assert model_analysis.next_token_loss(cap) < 0.5 * math.log(cap.logits.shape[-1])


def test_findings_and_figures_on_gemma(captures, tmp_path):
    summary = model_analysis.summarise(captures, {"label": gemma_files.GEMMA_NAME, "sha256": "test", "prompts": model_analysis.PROMPTS})
    assert summary["capture_check"]["passed"]
    assert "not the paper's Gemma 7B" in summary["model"]["not_the_paper_model"]
    findings = summary["findings"]
    assert [f["id"] for f in findings] == list(model_analysis.FINDING_IDS)
    for f in findings:  # an outcome either way is a result; each must carry its evidence
        assert f["outcome"] in {"holds", "does not hold"} and f["value"] is not None and f["uncertainty"]
    for table in summary["tables"].values():  # Cauchy-Schwarz: no logit exceeds its bound
        assert np.all(np.abs(table["diagonal"]) <= np.asarray(table["upper_bound"]) * (1 + 1e-9))
    assert len(model_analysis.paper_comparison(summary)) == 3
    kinds = {h["type"] for h in summary["head_types"]}
    assert {"diagonal", "previous_token"} <= kinds  # Gemma 3 270M has both (layer 8 head 0; layers 2 and 4 head 3 / 1)
    assert summary["chosen_heads"]["diagonal"]["typed"] and summary["chosen_heads"]["previous_token"]["typed"]
    assert summary["layer_contexts"] == [512 if t == "sliding_attention" else 32768 for t in summary["model"]["layer_types"]]
    paths = gemma_layer_norms.draw(summary, tmp_path) + gemma_head_types.draw(summary, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)
