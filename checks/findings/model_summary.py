"""The summary of a real model's captures: frequency usage, head types and the findings, JSON-able.

:func:`summarise` turns captures of the prompts (:mod:`ropelab.checks.findings.models.model_adapter`)
into the dict that ``ropelab analyze-model`` writes and the ``paper_figs.gemma_*`` figures draw:
pair-norm profiles, the chosen heads' tables and maps, the capture check, and the findings of
:mod:`ropelab.checks.findings.model_findings` and :mod:`ropelab.checks.findings.head_findings`
beside the paper's Gemma 7B numbers. Capturing and caching: :mod:`ropelab.checks.findings.model_analysis`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ropelab.constructions import attribution as at
from ropelab.constructions import frequency_usage as fu
from ropelab.checks.findings.models import model_adapter as ma
from ropelab.checks.findings.models import model_cache as mc

from ropelab.checks.findings import head_findings as hf
from ropelab.checks.findings import head_types as ht
from ropelab.checks.findings import model_findings as mf
from ropelab.checks.reference import paper_facts

NOT_THE_PAPER_MODEL = (
    "This is Gemma 3 270M (18 layers, 4 heads, head_dim 256, local theta=1e4 / global theta=1e6, QK-norm), "
    "not the paper's Gemma 7B (28 layers, 16 heads, head_dim 256, theta=1e4 everywhere); "
    "compare patterns, not layer or head numbers."
)


def not_the_paper_model(label: str) -> str:
    """The sentence every output carries: which model this is, and that it is not the paper's."""
    if label == mc.GEMMA_NAME:
        return NOT_THE_PAPER_MODEL
    return f"This is {label}, not the paper's Gemma 7B; compare patterns, not layer or head numbers."


TABLE_TOKENS = 8  # the paper's Tables 3-5 show BOS and the next 7 tokens
SUMMARY_FORMAT = 4


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


def summarise(captures: Mapping[str, ma.Capture], model: Mapping[str, Any]) -> dict:
    """Everything the report and the figures need, from captures of the prompts (JSON-able).

    ``captures`` maps a domain name to its capture; ``model`` describes the model (label,
    file hash). Findings are measured here; the capture check runs on every prompt.
    """
    pooled = pool(captures)
    first = next(iter(captures.values()))
    measured = ht.measure(captures)
    types = ht.classify(measured)
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
