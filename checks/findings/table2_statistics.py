"""Table 2's statistics: spreads over seeds, paired differences from the reference, rankings,
whether training had flattened and whether the differences had settled.

Every number here is recomputed from a results file's stored runs (:func:`summarise`), so a
committed summary can be checked against the code that states it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ropelab.checks.findings.paired_tests import holm, minimum_detectable_difference, paired_difference, verdict
from ropelab.checks.findings.table2_rows import (ANALYSED, FLAT_SHARE, REFERENCE, ROW_OF, context_multiples, runs_of,
                                                 paper_direction, paper_facts, trained_ids)

__all__ = ["SEED_SEARCH", "flattening", "learning_pace", "seeds_for_paper", "settling", "summarise"]


SEED_SEARCH = 64
"""The most seeds the power analysis considers (:func:`seeds_for_paper`)."""


def _spread(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(arr.mean()),
        "sd": float(arr.std(ddof=1)) if arr.size > 1 else None,
        "min": float(arr.min()),
        "max": float(arr.max()),
        "per_seed": arr.tolist(),
    }


def flattening(curve: list[tuple[int, float]]) -> dict:
    """How much of a validation curve's fall came in its last quarter of steps.

    ``curve`` lists ``(step, nll)``; ``share`` is the fall from the evaluation nearest three
    quarters of the last step to the last, over the fall from the first evaluation to the
    last; the run has ``flattened`` when that share is below :data:`FLAT_SHARE`.

    >>> flattening([(100, 3.0), (200, 2.2), (300, 2.05), (400, 2.0)])["share"]
    0.05
    """
    steps = np.array([step for step, _ in curve], dtype=np.float64)
    nll = np.array([value for _, value in curve], dtype=np.float64)
    if steps.size < 3:
        return {"share": None, "flattened": False}
    quarter = int(np.argmin(np.abs(steps - 0.75 * steps[-1])))
    total = nll[0] - nll[-1]
    share = float((nll[quarter] - nll[-1]) / total) if total > 0 else math.inf
    return {"share": round(share, 12), "flattened": bool(share < FLAT_SHARE), "from_step": int(steps[quarter])}


def learning_pace(curve: list[tuple[int, float]]) -> dict:
    """How fast a validation curve falls per e-fold of steps, over its first and its second half.

    ``first`` and ``second`` are the least-squares slopes of NLL on ln(step) over the first and
    the second half of the evaluations (nats per e-fold of steps; negative: falling).
    ``steady_share`` is the last-quarter share :func:`flattening` reads off a curve that keeps
    one pace throughout, ``ln(N / s_q) / ln(N / s_0)`` (``s_0`` the first evaluation, ``s_q``
    the one nearest three quarters of the last step ``N``): with evaluations at fixed fractions
    of the schedule it is the same at every length, so a longer run of the same schedule shape
    flattens a curve only if its pace slows.

    >>> curve = [(s, 3.0 - 0.1 * math.log(s)) for s in range(100, 2001, 100)]
    >>> pace = learning_pace(curve)
    >>> round(pace["first"], 9), round(pace["second"], 9), round(pace["steady_share"], 4)
    (-0.1, -0.1, 0.096)
    >>> round(flattening(curve)["share"], 9) == round(pace["steady_share"], 9)
    True
    """
    steps = np.array([step for step, _ in curve], dtype=np.float64)
    nll = np.array([value for _, value in curve], dtype=np.float64)
    if steps.size < 4:
        return {"first": None, "second": None, "steady_share": None}
    half = steps.size // 2
    first, second = (float(np.polyfit(np.log(steps[part]), nll[part], 1)[0])
                     for part in (slice(0, half), slice(half, None)))
    quarter = int(np.argmin(np.abs(steps - 0.75 * steps[-1])))
    return {"first": first, "second": second,
            "steady_share": float(math.log(steps[-1] / steps[quarter]) / math.log(steps[-1] / steps[0]))}


def settling(runs: list[dict], reference: list[dict], resolution: float | None) -> dict | None:
    """How much a row's paired difference from the reference moved over the last quarter of training.

    Both ends are read off the validation curves (the same windows at every evaluation): the
    per-seed difference at the evaluation nearest three quarters of the steps and at the last.
    The comparison has ``settled`` when the mean change is smaller than ``resolution``, the
    minimum detectable difference of the reported comparison: training longer moved it by less
    than the comparison can resolve. ``None`` with fewer than three evaluations or two seeds.
    """
    curves = [(dict(map(tuple, r["validation_curve"])), dict(map(tuple, b["validation_curve"])))
              for r, b in zip(runs, reference, strict=True)]
    steps = sorted(curves[0][0]) if curves else []
    if len(steps) < 3 or len(curves) < 2:
        return None
    last = steps[-1]
    quarter = min(steps, key=lambda step: abs(step - 0.75 * last))
    at = {step: [row[step] - ref[step] for row, ref in curves] for step in (quarter, last)}
    change = paired_difference(at[last], at[quarter])
    return {"from_step": quarter, "to_step": last, "difference_from": float(np.mean(at[quarter])),
            "difference_to": float(np.mean(at[last])), "change": change, "resolution": resolution,
            "settled": None if resolution is None else bool(abs(change["mean"]) < resolution)}


def summarise(results: dict) -> dict:
    """Per-variant spreads over seeds, paired differences, rankings and head-usage statistics."""
    ids = trained_ids(results)
    multiples = context_multiples(results)
    reference = runs_of(results, REFERENCE)
    per_variant = {}
    for vid in ids:
        runs = runs_of(results, vid)
        entry = {
            "perplexity": {m: _spread([r["perplexity"][m] for r in runs]) for m in map(str, multiples)},
            # a preset without the reference row (nope_long) pairs nothing
            "nll_minus_reference": {
                m: paired_difference([r["nll"][m] for r in runs], [r["nll"][m] for r in reference])
                for m in map(str, multiples)
            } if reference else None,
            "tokens_per_second": _spread([r["tokens_per_second"] for r in runs]),
            "final_train_loss": _spread([r["train_loss"][-1] for r in runs]),
            "flattening_share": _spread(shares) if (shares := [f["share"] for r in runs
                                                               if (f := flattening(r["validation_curve"]))["share"] is not None]) else None,
            "flattened_runs": sum(flattening(r["validation_curve"])["flattened"] for r in runs),
        }
        if vid in ANALYSED:
            summaries = [r["usage_summary"] for r in runs]
            top_pos, top_other = [], []
            for s in summaries:
                positional = {(layer, head) for layer, head, _ in s["positional_heads"]}
                for layer, row in enumerate(s["top_share"]):
                    for head, share in enumerate(row):
                        (top_pos if (layer, head) in positional else top_other).append(share)
            entry["usage"] = {
                "low_high_ratio_q": _spread([float(np.mean(s["low_high_ratio_q"])) for s in summaries]),
                "low_high_ratio_k": _spread([float(np.mean(s["low_high_ratio_k"])) for s in summaries]),
                "low_high_ratio_q_per_layer": np.mean([s["low_high_ratio_q"] for s in summaries], axis=0).tolist(),
                "low_high_ratio_k_per_layer": np.mean([s["low_high_ratio_k"] for s in summaries], axis=0).tolist(),
                "positional_heads_per_seed": [len(s["positional_heads"]) for s in summaries],
                "positional_kinds": sorted({kind for s in summaries for _, _, kind in s["positional_heads"]}),
                "top_share_positional": _spread(top_pos) if top_pos else None,
                "top_share_other": _spread(top_other) if top_other else None,
            }
        per_variant[vid] = entry
    table = paper_facts()["table2_validation_perplexity"]["rows"]
    ranking = {m: sorted(ids, key=lambda v: per_variant[v]["perplexity"][m]["mean"]) for m in map(str, multiples)}
    seeds = results["seeds"]
    per_seed_order = [sorted(ids, key=lambda v: runs_of(results, v)[i]["perplexity"]["1"]) for i in range(len(seeds))]
    comparisons = _comparisons(results, per_variant, ids) if reference else []
    out = {
        "variants": per_variant,
        "ranking": ranking,
        "ranking_per_seed_at_T": per_seed_order,
        "paper_ranking_wiki": sorted(ids, key=lambda v: table[ROW_OF[v].paper_row][0]),
        "paper_ranking_flanv2": sorted(ids, key=lambda v: table[ROW_OF[v].paper_row][1]),
        "comparisons": comparisons,
        "flattened_runs": sum(e["flattened_runs"] for e in per_variant.values()),
        "runs": len(results["runs"]),
    }
    if len(ids) >= 3:
        ours = [per_variant[v]["perplexity"]["1"]["mean"] for v in ids]
        out["rank_correlation_with_paper_at_T"] = {
            column: dict(zip(("spearman_rho", "p_value"),
                             map(float, stats.spearmanr(ours, [table[ROW_OF[v].paper_row][index] for v in ids]))))
            for column, index in (("wiki", 0), ("flanv2", 1))
        }
    if len(seeds) > 1 and reference:
        out["seeds_needed"] = _seeds_needed(per_variant, ids)
    return out


def _comparisons(results: dict, per_variant: dict, ids: list[str]) -> list[dict]:
    """Each trained row against the reference at ``T``, beside the paper's Wiki and FlanV2 change.

    The paired tests of one column form one family, Holm-adjusted; the relative perplexity
    change ``exp(ΔNLL) - 1`` is the unit both the paper's numbers and ours are stated in (the
    paper's tokens and our bytes differ, so only signs and rough sizes compare).
    """
    rows = [v for v in ids if v != REFERENCE]
    diffs = {v: dict(per_variant[v]["nll_minus_reference"]["1"]) for v in rows}
    tested = [v for v in rows if diffs[v]["p_value"] is not None]
    for v, p in zip(tested, holm([diffs[v]["p_value"] for v in tested]), strict=True):
        diffs[v]["p_holm"] = p
    out = []
    for v in rows:
        d = diffs[v]
        entry = {"variant": v, "difference": d,
                 "relative_change": math.expm1(d["mean"]),
                 "relative_mdd": None if d["mdd"] is None else math.expm1(d["mdd"]),
                 "settling": settling(runs_of(results, v), runs_of(results, REFERENCE), d["mdd"])}
        for column, index in (("wiki", 0), ("flanv2", 1)):
            change = paper_direction(v, index)
            entry[column] = {"paper_relative_change": change, "verdict": verdict(d, change)}
        out.append(entry)
    return out


def seeds_for_paper(results: dict) -> dict:
    """The seeds a run needs to detect the paper's Wiki changes at :data:`POWER`, from ``results``' paired sds.

    Each row's count is :func:`summarise`'s ``seeds_needed`` (the least ``n`` whose minimum
    detectable difference at this run's paired sd is at most the paper's change, searched up to
    :data:`SEED_SEARCH`); ``seeds`` is the largest count found, so every change detectable within
    the search is detected, and ``beyond`` names the rows whose change needs more. It assumes the
    sd of the paired log-perplexity ratio (a relative measure) is the same at the scale the seeds
    are used at.
    """
    needed = summarise(results)["seeds_needed"]
    by_row = {v: entry["seeds_for_paper_change"] for v, entry in needed.items()}
    found = {v: n for v, n in by_row.items() if n is not None}
    if not found:
        raise ValueError(f"no row of this run detects the paper's change within {SEED_SEARCH} seeds")
    largest = max(found, key=found.get)
    return {"seeds": found[largest], "hardest_detected": largest, "by_row": by_row,
            "beyond": [v for v, n in by_row.items() if n is None], "searched_up_to": SEED_SEARCH,
            "paper_wiki_nll_change": {v: entry["paper_wiki_nll_change"] for v, entry in needed.items()},
            "paired_sd": {v: entry["paired_sd"] for v, entry in needed.items()}}


def _seeds_needed(per_variant: dict, ids: list[str], largest: int = SEED_SEARCH) -> dict:
    """For each row, the minimum detectable difference at ``n`` seeds from this run's paired sd,
    and the seeds needed to detect the paper's Wiki change at :data:`POWER`."""
    out = {}
    for v in ids:
        d = per_variant[v]["nll_minus_reference"]["1"]
        if v == REFERENCE or not d["sd"]:
            continue
        target = abs(math.log1p(paper_direction(v, 0)))
        needed = next((n for n in range(2, largest + 1) if minimum_detectable_difference(d["sd"], n) <= target), None)
        out[v] = {"paired_sd": d["sd"], "paper_wiki_nll_change": target,
                  "mdd_by_seeds": {n: minimum_detectable_difference(d["sd"], n) for n in (2, 3, 4, 5, 6, 8, 10, 16)},
                  "seeds_for_paper_change": needed, "searched_up_to": largest}
    return out
