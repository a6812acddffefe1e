"""Small stored reductions of a model's captures, from which a committed summary's numbers are recomputed.

A capture holds every query and key; a committed result cannot ship them. :func:`reduce` keeps,
per prompt, layer, head and pair, the token sums the findings' point statistics are built from
(pair norms and squared pair norms of q, k and v), the attention masses per head, and per
(prompt, head, row kind) the band shares of the summed margin with the row count. The same
library functions that produced the summary recompute from them (:func:`recompute`):

- the per-layer low-half shares of q, k and v (Fig 3 / Fig 13 findings; their bootstrap and
  permutation intervals need the tokens and are not recomputed),
- the head rank correlation between positional score and top-band budget share (Sec 4, Figs 4-6),
- the same-layer-across-domains gap (Fig 19), the per-layer band onsets and both App C readings,
- the positional and content margin tests with their prompt bootstrap and permutation p-values.

Shapes: ``Pn`` prompts, ``L`` layers, ``H`` query heads, ``G`` key/value heads, ``P`` pairs:
``q_abs, q_sq (Pn, L, H, P)``, ``k_abs, k_sq, v_sq (Pn, L, G, P)``, ``tokens (Pn,)``,
``score_* (Pn, L, H)``, ``margin_shares (Pn, L, H, 3 kinds, 3 bands)``, ``margin_rows (Pn, L, H, 3)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import stats

from ropelab.constructions import attribution as at
from ropelab.constructions import frequency_usage as fu

from ropelab.checks.findings import head_findings as hf
from ropelab.checks.findings import model_statistics as ms

__all__ = ["recompute", "reduce"]

KINDS = ("diagonal", "previous_token", "content")
SCORES = ("diagonal", "previous_token", "bos")


def reduce(captures: Mapping, measured: Mapping) -> dict[str, np.ndarray]:
    """The reductions of :mod:`this module <ropelab.checks.findings.model_reductions>` from captures and head rows."""
    out: dict[str, list] = {name: [] for name in ("q_abs", "q_sq", "k_abs", "k_sq", "v_sq", "tokens", "score_weights",
                                                  *(f"score_{s}" for s in SCORES), "margin_shares", "margin_rows")}
    for name, cap in captures.items():
        for key, attr in (("q", "queries"), ("k", "keys")):
            norms = fu.pair_norms(getattr(cap, attr)[:, :, 1:])
            out[f"{key}_abs"].append(norms.sum(axis=2))
            out[f"{key}_sq"].append((norms**2).sum(axis=2))
        out["v_sq"].append((fu.pair_norms(cap.values[:, :, 1:]) ** 2).sum(axis=2))
        out["tokens"].append(cap.n_tokens - 1)
        out["score_weights"].append(cap.n_tokens - 2)
        for s, value in fu.attention_scores(cap.attention).items():
            out[f"score_{s}"].append(value)
        L, H = cap.queries.shape[:2]
        shares = np.full((L, H, len(KINDS), len(at.BANDS)), np.nan)
        rows = np.zeros((L, H, len(KINDS)), dtype=np.int64)
        for (l, h), head in measured[name].items():
            for i, kind in enumerate(KINDS):
                found = head.kinds == kind
                rows[l, h, i] = int(found.sum())
                if found.any():
                    margin = float(head.decisions.margin[found].sum())
                    sums = at.band_sums(head.decisions.terms[found])
                    shares[l, h, i] = [float(sums[b].sum()) / margin for b in at.BANDS]
        out["margin_shares"].append(shares)
        out["margin_rows"].append(rows)
    arrays = {k: np.asarray(v) for k, v in out.items()}
    arrays["prompts"] = np.asarray(list(captures))
    first = next(iter(captures.values()))
    arrays["thetas"] = np.asarray([s.theta for s in first.schedules])
    return arrays


def _check(red: Mapping[str, np.ndarray]) -> None:
    for name, value in red.items():
        if value.dtype.kind == "f" and name != "margin_shares" and not np.all(np.isfinite(value)):
            raise ValueError(f"reductions: {name} holds NaN or inf")


def _units(red, types: Mapping[tuple[int, int], str], pick) -> list[tuple[int, dict[str, float]]]:
    """:func:`head_findings._units` read from the reductions: ``(prompt, band shares)`` per counted (prompt, head)."""
    out = []
    Pn, L, H = red["margin_rows"].shape[:3]
    for p in range(Pn):
        for l in range(L):
            for h in range(H):
                kind = pick(types[(l, h)])
                if kind is None:
                    continue
                i = KINDS.index(kind)
                if red["margin_rows"][p, l, h, i] >= 3:
                    out.append((p, dict(zip(at.BANDS, map(float, red["margin_shares"][p, l, h, i])))))
    return out


def recompute(red: Mapping[str, np.ndarray], head_types: list[dict], head_dim: int, contexts: list[int]) -> dict:
    """The summary's recomputable statistics from reductions and the summary's head types (see module doc)."""
    _check(red)
    N = red["tokens"].sum()
    q_mean, k_mean = red["q_abs"].sum(0) / N, red["k_abs"].sum(0) / N  # (L, H, P), (L, G, P)
    shares = {name: fu.low_half_share(red[f"{name}_sq"].sum(0).mean(axis=1) / N) for name in ("q", "k", "v")}
    k_rep = np.repeat(k_mean, q_mean.shape[1] // k_mean.shape[1], axis=1)
    band = max(1, q_mean.shape[-1] // ms.BAND_FRACTION)
    usage = fu.band_share(fu.budget_profile(q_mean, k_rep), band).ravel()
    w = red["score_weights"] / red["score_weights"].sum()
    scores = {s: np.tensordot(w, red[f"score_{s}"], axes=1) for s in SCORES}
    positional = np.maximum(scores["diagonal"], scores["previous_token"]).ravel()
    rho = float(stats.spearmanr(positional, usage).statistic)

    def layer_budget(qm, km):
        return fu.budget_profile(qm, np.repeat(km, qm.shape[-2] // km.shape[-2], axis=-2)).mean(axis=-2)

    profiles = {}
    for p, name in enumerate(red["prompts"].tolist()):
        profiles.setdefault(name, []).append(p)
    domain = {name: layer_budget(red["q_abs"][idx].sum(0) / red["tokens"][idx].sum(), red["k_abs"][idx].sum(0) / red["tokens"][idx].sum())
              for name, idx in profiles.items()}
    across, within = ms._similarities(domain)
    onsets = fu.band_onset(layer_budget(q_mean, k_mean))
    types = {(t["layer"], t["head"]): t["type"] for t in head_types}
    positional_units = _units(red, types, hf._positional)
    positional_others = _units(red, types, lambda kind: None if hf._positional(kind) else "content")
    has_content = any(t == "content" for t in types.values())
    pick = (lambda kind: "content" if kind == "content" else None) if has_content else (lambda kind: None if hf._positional(kind) else "content")
    content_units, content_others = _units(red, types, pick), _units(red, types, hf._positional)
    margins = {
        "positional_margins_come_from_high_band": hf._band_test(positional_units, positional_others, "top", "bottom", hf.SEED)
        if hf._testable(positional_units, positional_others) else None,
        "content_margins_come_from_low_band": hf._band_test(content_units, content_others, "bottom", "top", hf.SEED)
        if hf._testable(content_units, content_others) else None,
    }
    near = hf.band_onset_near_critical_pair_index(onsets, head_dim, red["thetas"].tolist(), contexts)
    return {"low_half_share": {k: v.tolist() for k, v in shares.items()}, "rho": rho,
            "domain_gap": float(np.mean(list(across.values())) - within), "band_onsets": onsets.tolist(),
            "onset_near_critical": near.value, "margins": margins}
