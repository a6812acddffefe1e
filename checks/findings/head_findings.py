"""Findings about which frequencies decide real heads (§4-§6, Figs 6, 7, 12, 17, 18, App C).

- ``positional_margins_come_from_high_band``: the margins of diagonal and previous-token heads
  (winner over runner-up) are carried by the top quarter of the pairs;
- ``content_margins_come_from_low_band``: the margins of content (semantic) decisions are
  carried by the bottom quarter;
- ``semantic_channels_hold_within_context``: Thm 6.1 on the heads closest to semantic: the
  first context in which the runner-up key out-scores the winner through the bottom quarter,
  against the context the layer sees;
- ``band_onset_near_critical_pair_index``: the q/k high-norm band begins near
  :math:`i^* = (d/2)\\log_\\theta(L/2\\pi)` for the layer's base and context (App C read the same way).

Uncertainty: a bootstrap over prompts (scipy.stats.bootstrap) and a permutation test between
head groups (scipy.stats.permutation_test), fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats

from ropelab.constructions import attribution as at
from ropelab.checks.findings.models import capture_records as cr
from ropelab.theory import base_bounds as th_bb

from ropelab.checks.findings import head_types as ht
from ropelab.checks.findings.finding import Finding

__all__ = [
    "SEED",
    "band_onset_near_critical_pair_index",
    "content_margins_come_from_low_band",
    "layer_context",
    "positional_margins_come_from_high_band",
    "semantic_channels_hold_within_context",
]

SEED = 20241008
RESAMPLES = 999
ALPHA = 0.05
BREAK_LIMIT_FACTOR = 4  # search breaking contexts out to 4x the layer's context
ONSET_TOLERANCE = 1 / 8  # "near i*": within an eighth of the pairs (16 of Gemma's 128)


def _units(measured, types, pick) -> list[tuple[int, dict[str, float]]]:
    """``(prompt index, band shares)`` for every (prompt, head) that ``pick(type)`` names a row kind for."""
    out = []
    for p, per_head in enumerate(measured.values()):
        for key, rows in per_head.items():
            kind = pick(types[key]["type"])
            shares = None if kind is None else ht.band_shares(rows, kind)
            if shares is not None and rows.kinds.tolist().count(kind) >= 3:
                out.append((p, shares))
    return out


def _band_test(units, others, favoured: str, against: str, seed: int) -> dict:
    """Mean favoured-minus-against share, its prompt-bootstrap interval, and a permutation p-value."""
    prompts = np.asarray([p for p, _ in units])
    diff = np.asarray([s[favoured] - s[against] for _, s in units])
    stat = float(diff.mean())
    present = np.unique(prompts)

    def statistic(sample):
        return float(np.concatenate([diff[prompts == p] for p in sample]).mean())

    boot = stats.bootstrap((present,), statistic, vectorized=False, n_resamples=RESAMPLES, method="percentile",
                           random_state=np.random.default_rng(seed))
    mine = np.asarray([s[favoured] for _, s in units])
    theirs = np.asarray([s[favoured] for _, s in others])
    perm = stats.permutation_test((mine, theirs), lambda a, b: np.mean(a) - np.mean(b), alternative="greater",
                                  n_resamples=RESAMPLES, random_state=np.random.default_rng(seed + 1))
    return {"value": stat, "ci95": [float(boot.confidence_interval.low), float(boot.confidence_interval.high)],
            "p_value": float(perm.pvalue), "units": int(diff.size), "other_units": int(theirs.size),
            "mean_shares": {band: float(np.mean([s[band] for _, s in units])) for band in at.BANDS},
            "other_mean_shares": {band: float(np.mean([s[band] for _, s in others])) for band in at.BANDS}}


def _testable(units, others) -> bool:
    """A prompt bootstrap needs units from two prompts at least; the permutation test needs both groups."""
    return len({p for p, _ in units}) >= 2 and bool(others)


def _positional(kind):
    return kind if kind in ("diagonal", "previous_token") else None


def positional_margins_come_from_high_band(measured, types, seed: int = SEED) -> Finding:
    """Positional heads' margins: top-quarter share minus bottom-quarter share, against content decisions."""
    units = _units(measured, types, _positional)
    others = _units(measured, types, lambda kind: None if _positional(kind) else "content")
    test = _band_test(units, others, "top", "bottom", seed) if _testable(units, others) else None
    return Finding(
        id="positional_margins_come_from_high_band", label="Sec 5, Figs 5-6",
        paper_statement="Diagonal and previous-token heads are built from the highest frequencies.",
        measured=("per (prompt, head) of the diagonal and previous-token heads: the share of the summed margin "
                  "(argmax logit minus runner-up, over rows of the head's type) in the top quarter of the pairs "
                  "minus that in the bottom quarter; exact per-pair attribution"),
        holds=None if test is None else bool(test["ci95"][0] > 0 and test["p_value"] < ALPHA),
        statistic="mean top-quarter minus bottom-quarter share of positional margins",
        value=None if test is None else test["value"],
        uncertainty=("no positional head on two prompts or more" if test is None else
                     f"95% prompt-bootstrap interval [{test['ci95'][0]:.2f}, {test['ci95'][1]:.2f}]; permutation p = "
                     f"{test['p_value']:.2g} that their top-quarter share exceeds that of content decisions in other heads"),
        rule=f"holds if the interval lies above 0 and p < {ALPHA}",
        details=test or {},
    )


def content_margins_come_from_low_band(measured, types, seed: int = SEED) -> Finding:
    """Content decisions' margins: bottom-quarter share minus top-quarter share, against positional heads."""
    has_content = any(t["type"] == "content" for t in types.values())
    if has_content:
        pick, which = (lambda kind: "content" if kind == "content" else None), "content heads"
    else:
        pick, which = (lambda kind: None if _positional(kind) else "content"), "content rows of all non-positional heads (no head met the content criterion)"
    units = _units(measured, types, pick)
    others = _units(measured, types, _positional)
    test = _band_test(units, others, "bottom", "top", seed) if _testable(units, others) else None
    return Finding(
        id="content_margins_come_from_low_band", label="Sec 6, Figs 7, 12, 17, 18",
        paper_statement="Semantic heads (the apostrophe head) choose by content through a low-frequency band.",
        measured=(f"per (prompt, head) over {which}: the share of the summed margin of content rows (winner not BOS, "
                  "i or i-1) in the bottom quarter of the pairs minus that in the top quarter"),
        holds=None if test is None else bool(test["ci95"][0] > 0 and test["p_value"] < ALPHA),
        statistic="mean bottom-quarter minus top-quarter share of content margins",
        value=None if test is None else test["value"],
        uncertainty=("no content decisions on two prompts or more" if test is None else
                     f"95% prompt-bootstrap interval [{test['ci95'][0]:.2f}, {test['ci95'][1]:.2f}]; permutation p = "
                     f"{test['p_value']:.2g} that their bottom-quarter share exceeds that of positional heads"),
        rule=f"holds if the interval lies above 0 and p < {ALPHA}",
        details={**(test or {}), "group": which},
    )


def layer_context(cap: cr.Capture, layer: int) -> int:
    """Tokens a layer can see: its sliding window, else the model's context (``meta``)."""
    window = cap.schedules[layer].sliding_window
    return int(window) if window is not None else int(cap.meta["max_position_embeddings"])


def head_breaks(captures: Mapping[str, cr.Capture], measured, key: tuple[int, int]) -> dict:
    """Thm 6.1 for one head: per content row, the breaking context through the bottom quarter."""
    layer, head = key
    contexts, per_channel, within = [], [], []
    limit, undecided = None, 0
    for name, cap in captures.items():
        rows = measured[name][key]
        schedule = cap.schedules[layer]
        context = layer_context(cap, layer)
        limit = BREAK_LIMIT_FACTOR * context
        bottom = np.arange(schedule.freqs.size)[at.band_slices(schedule.freqs.size)["bottom"]]
        keys = cap.keys_for_query_heads(layer)[head]
        content = rows.kinds == "content"
        # the theorem's channels must prefer the winner where it stands: rows whose bottom quarter
        # favours the runner-up are not decided by that band and cannot be broken by it
        favours = at.band_sums(rows.decisions.terms)["bottom"] > 0
        undecided += int(np.sum(content & ~favours))
        pick = content & favours
        for i, w, r in zip(rows.decisions.rows[pick], rows.decisions.winner[pick], rows.decisions.runner_up[pick]):
            found = at.margin_breaking_context(cap.queries[layer, head, i], keys[w], keys[r], schedule.freqs, bottom, limit)
            n_star = math.inf if found is None else found.context
            contexts.append(n_star)
            within.append(n_star <= context)
            per_channel.append(float(np.min(at.channel_breaking_contexts(keys[w], keys[r], schedule.freqs, bottom))))
    theta = captures[next(iter(captures))].schedules[layer].theta
    finite = [c for c in contexts if math.isfinite(c)]
    return {"layer": layer, "head": head, "theta": theta, "context": layer_context(next(iter(captures.values())), layer),
            "rows": len(contexts), "share_breaking_within_context": float(np.mean(within)) if within else None,
            "median_breaking_context": float(np.median(contexts)) if contexts else None,
            "unbroken_up_to_limit": len(contexts) - len(finite), "limit": limit,
            "content_rows_not_decided_by_bottom_quarter": undecided,
            "median_single_channel_closed_form": float(np.median(per_channel)) if per_channel else None}


def semantic_channels_hold_within_context(captures, measured, types) -> Finding:
    """Thm 6.1 on the heads closest to semantic: do their low-band channels break inside the layer's context?"""
    heads = ht.closest_content_heads(types)
    # for contrast, each base the chosen heads miss contributes its head with the most content rows
    schedules = next(iter(captures.values())).schedules
    for theta in sorted({s.theta for s in schedules} - {schedules[l].theta for l, _ in heads}):
        pool = [k for k in types if schedules[k[0]].theta == theta and types[k]["type"] not in ("diagonal", "previous_token")]
        if pool:
            heads.append(max(pool, key=lambda k: types[k]["row_shares"]["content"]))
    rows = [head_breaks(captures, measured, key) for key in heads]
    rows = [r for r in rows if r["rows"]]
    share = float(np.mean([r["share_breaking_within_context"] for r in rows])) if rows else None
    return Finding(
        id="semantic_channels_hold_within_context", label="Thm 6.1",
        paper_statement="A low-frequency semantic channel breaks once the context is long enough (about pi/(2g) tokens).",
        measured=("for each content row of the heads closest to semantic (and, for each base they miss, that base's head "
                  "with most content rows) whose bottom quarter favours the winner: the first context in which some placement of "
                  "the runner-up key out-scores the winner through the bottom quarter of the pairs (Thm 6.1 for the "
                  "multi-pair margin), against the layer's context (sliding window or the model's full context)"),
        holds=None if share is None else bool(share <= 0.5),
        statistic="share of content decisions whose low band breaks within the layer's context",
        value=share,
        uncertainty=("no content rows" if share is None else
                     "; ".join(f"layer {r['layer']} head {r['head']} (theta={r['theta']:g}, context {r['context']}): "
                               f"{r['share_breaking_within_context']:.2f} of {r['rows']} rows, median N* "
                               f"{r['median_breaking_context']:.0f}" for r in rows)),
        rule="holds if at most half of the decisions break within the context the layer sees (the band protects them)",
        details={"heads": rows},
    )


def band_onset_near_critical_pair_index(onsets: np.ndarray, head_dim: int, thetas, contexts) -> Finding:
    """App C: each layer's band onset against i* for its base and context; the paper's two onsets read alike."""
    P = head_dim // 2
    critical = np.asarray([float(th_bb.critical_pair_index(head_dim, t, c)) for t, c in zip(thetas, contexts)])
    gap = np.asarray(onsets, dtype=float) - critical
    near = np.abs(gap) <= ONSET_TOLERANCE * P
    paper = {
        "Gemma 7B (d=256, theta=1e4, L=8192): onset 0.8 d/2": [0.8 * 128, float(th_bb.critical_pair_index(256, 10_000, 8192))],
        "Llama 3 (d=128, theta=5e5, L=8192): onset pair 40": [40.0, float(th_bb.critical_pair_index(128, 500_000, 8192))],
    }
    return Finding(
        id="band_onset_near_critical_pair_index", label="App C",
        paper_statement="The high-norm band begins where the pairs stop completing a turn within the context.",
        measured=("per layer, the half-maximum onset of the q/k logit-budget profile against the critical pair index "
                  "i* = (d/2) log_theta(L/2 pi), L the layer's context (sliding window or full context)"),
        holds=bool(near.mean() > 0.5),
        statistic="share of layers whose onset lies within P/8 pairs of i*",
        value=float(near.mean()),
        uncertainty=f"{int(near.sum())}/{near.size} layers; median onset - i* = {np.median(gap):+.1f} pairs",
        rule="holds if more than half of the layers lie within P/8 pairs of i*",
        details={"critical_index": critical.tolist(), "onset_minus_critical": gap.tolist(), "paper_onset_vs_critical": paper},
    )
