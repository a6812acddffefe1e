"""What the report and the figures show of a model's captures: pooled pair norms, chosen heads, per-head views.

:func:`pool` pools the pair norms of every non-BOS token of every prompt with the heads'
attention scores (:class:`ropelab.checks.findings.model_statistics.Pooled`); :func:`chosen_heads`
picks the heads the paper's Tables 3-5 and Figs 5-6 look at; :func:`head_type_views` and
:func:`head_views` cut out what the figures draw for one head; :func:`next_token_loss` and
:func:`zero_gain_pairs` are sanity readings of the capture.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ropelab.constructions import attribution as at
from ropelab.constructions import frequency_usage as fu
from ropelab.checks.findings.models import capture_records as cr
from ropelab.checks.findings.models import capture_validation as cv

from ropelab.checks.findings import head_types as ht
from ropelab.checks.findings import model_statistics as ms

__all__ = [
    "TABLE_TOKENS",
    "chosen_heads",
    "head_type_views",
    "head_views",
    "next_token_loss",
    "pool",
    "zero_gain_pairs",
]

TABLE_TOKENS = 8  # the paper's Tables 3-5 show BOS and the next 7 tokens



def pool(captures: Mapping[str, cr.Capture]) -> ms.Pooled:
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
    return ms.Pooled(
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


def _typed_head(pooled: ms.Pooled, types: Mapping[tuple[int, int], dict], kind: str, layer: int | None = None) -> dict:
    """The head of type ``kind`` (in ``layer`` if given) with most rows of its kind, else the largest attention mass."""
    found = [k for k, v in types.items() if v["type"] == kind and (layer is None or k[0] == layer)]
    if not found:
        return {**_head(pooled.scores[kind], layer), "typed": False}
    l, h = max(found, key=lambda k: types[k]["row_shares"][kind])
    return {"layer": int(l), "head": int(h), "score": float(pooled.scores[kind][l, h]), "typed": True}


def chosen_heads(pooled: ms.Pooled, types: Mapping[tuple[int, int], dict]) -> dict[str, dict]:
    """The heads the paper's Tables 3-5 and Figs 5-6 look at: found by the head-type criteria
    (:mod:`ropelab.checks.findings.head_types`), else by attention mass (``typed`` says which)."""
    last = pooled.n_layers - 1
    return {
        "diagonal": _typed_head(pooled, types, "diagonal"),
        "last_layer_diagonal": _typed_head(pooled, types, "diagonal", last),
        "previous_token": _typed_head(pooled, types, "previous_token"),
    }


def head_type_views(captures: Mapping[str, cr.Capture], types: Mapping[tuple[int, int], dict], measured) -> dict[str, dict]:
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
        logits = np.where(cv.attention_mask(cap.n_tokens, schedule.sliding_window), logits, np.nan)
        out[kind] = {"layer": layer, "head": head, "type": types[key]["type"], "prompt": prompt, "tokens": list(cap.tokens),
                     "attention": cap.attention[layer, head].tolist(), "logits": logits.tolist(),
                     "q": fu.pair_norms(q).tolist(), "k": fu.pair_norms(k).tolist(),
                     "keyed_tokens": ht.keyed_tokens(captures, measured, key)}
    return out


def head_views(cap: cr.Capture, head: dict, n_table: int) -> tuple[dict, dict, dict]:
    """One head's Table 3-5 view (first ``n_table`` tokens), per-token pair norms and attention map."""
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


def zero_gain_pairs(captures: Mapping[str, cr.Capture]) -> dict[str, list[list[int]]]:
    """Per layer, pairs whose query or key is exactly zero on every captured token (QK-norm gain 0)."""
    out = {"q": [], "k": []}
    for name, attr in (("q", "queries"), ("k", "keys")):
        stacked = np.concatenate([fu.pair_norms(getattr(c, attr)) for c in captures.values()], axis=2)  # (L, heads, N, P)
        dead = (stacked == 0).all(axis=(1, 2))
        out[name] = [np.flatnonzero(row).tolist() for row in dead]
    return out


def next_token_loss(cap: cr.Capture) -> float:
    """Mean cross-entropy (nats) of each next token under the captured logits: a sanity check of the capture.

    A model that loaded wrongly (scrambled weights, wrong layout) predicts its own prompt
    no better than chance, ``ln V`` nats.
    """
    logits = cap.logits[:-1].astype(np.float64)
    top = logits.max(axis=-1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=-1))
    target = logits[np.arange(logits.shape[0]), cap.token_ids[1:]]
    return float(np.mean(log_norm - target))
