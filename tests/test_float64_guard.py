"""float64 when promised: importing ropelab leaves JAX's configuration alone, and every public
entry point that computes in float64 either delivers float64 or refuses with a ValueError that
says how to switch 64-bit JAX on. Each check runs in a fresh process without x64."""

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow


def fresh_process(code: str) -> dict:
    """Run ``code`` in a new interpreter (JAX in its default 32-bit mode); it prints one JSON line."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_ropelab_never_switches_x64_on():
    found = fresh_process("""
        import importlib, json, pkgutil
        import jax
        import ropelab
        names = []
        for package in ("theory", "constructions", "checks", "checks.claims",
                        "checks.findings", "checks.findings.models", "paper_figs", "cli"):
            module = importlib.import_module(f"ropelab.{package}")
            names.append(module.__name__)
            for info in pkgutil.iter_modules(module.__path__):
                names.append(importlib.import_module(f"{module.__name__}.{info.name}").__name__)
        importlib.import_module("ropelab.catalogue")
        print(json.dumps({"x64": bool(jax.config.jax_enable_x64), "modules": len(names)}))
    """)
    assert found["x64"] is False and found["modules"] > 20


ENTRY_POINTS = """
    import json
    import numpy as np
    from ropelab.constructions import (attention, base_bounds, blockwise_attention, frequencies, head_training,
                                       logit_statistics, relative_position, rotary, rotated_key, token_heads)
    g = frequencies.rope(8, 1e4)
    q, k = np.linspace(0.1, 0.8, 8), np.linspace(-0.5, 0.6, 8)
    calls = {
        "rotary.apply": lambda: rotary.apply(np.ones(8), [10**6], g),
        "rotary.partial_rotary": lambda: rotary.partial_rotary(np.ones(8), [3], 4),
        "attention.logits": lambda: attention.logits(np.ones((3, 8)), np.ones((3, 8)), g),
        "attention.attention_weights": lambda: attention.attention_weights(np.ones((3, 8)), np.ones((3, 8)), g),
        "logit_statistics.logits_at_distances": lambda: logit_statistics.logits_at_distances(q, k, g, [0, 5]),
        "logit_statistics.curves_at_distances": lambda: logit_statistics.curves_at_distances(q, k, g, [0, 5]),
        "rotated_key.rotated_key": lambda: rotated_key.rotated_key(q, 3, g),
        "rotated_key.rotated_key_curve": lambda: rotated_key.rotated_key_curve(q, 3, g, 16),
        "relative_position.logit_curve": lambda: relative_position.logit_curve(q, k, g, 16),
        "relative_position.logits_at_distances": lambda: relative_position.logits_at_distances(q, k, g, [0, 5]),
        "blockwise_attention.causal_attention": lambda: blockwise_attention.causal_attention(
            np.ones((4, 8)), np.ones((4, 8)), np.ones((4, 8)), g),
        "token_heads.token_head_logits": lambda: token_heads.token_head_logits(
            np.eye(8), [0, 1, 1], np.eye(8), np.eye(8), g),
        "base_bounds.cosine_sum": lambda: base_bounds.cosine_sum(100.0, 4, 3),
        "head_training.maximise_attention_weight": lambda: head_training.maximise_attention_weight(
            np.eye(2), [0, 1, 1], [0.0], np.eye(2), np.eye(2), 2, 2, steps=2),
    }
    out = {}
    for name, call in calls.items():
        try:
            value = call()
        except ValueError as err:
            out[name] = {"refused": str(err)}
            continue
        arrays = [np.asarray(v) for v in (value if isinstance(value, tuple) else (value,))
                  if hasattr(v, "dtype") or isinstance(v, np.ndarray)]
        out[name] = {"dtypes": sorted({str(a.dtype) for a in arrays if a.dtype.kind == "f"})}
    print(json.dumps(out))
"""


def test_entry_points_deliver_float64_or_say_how_to_enable_it():
    outcome = fresh_process(ENTRY_POINTS)
    assert len(outcome) == 14
    for name, result in outcome.items():
        if "refused" in result:
            assert 'jax.config.update("jax_enable_x64", True)' in result["refused"], (name, result)
        else:
            assert result["dtypes"] and set(result["dtypes"]) <= {"float64"}, (name, result)
    assert "refused" in outcome["rotary.apply"]  # the case that once returned float32 silently
