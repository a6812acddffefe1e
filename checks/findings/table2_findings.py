"""Table 2's findings: plain statements of the outcome, each with its numbers and uncertainty.

They read a results file's summary (:mod:`~ropelab.checks.findings.table2_statistics`) and, for
the length checks, the committed shorter runs beside it.
"""

from __future__ import annotations

import math

import numpy as np

from ropelab.checks.findings.models import transformer_usage as usage_mod
from ropelab.checks.findings.paired_tests import CONFIDENCE, POWER
from ropelab.checks.findings.table2_rows import (FLAT_SHARE, LONG_RESULTS, PAPER_CONTEXT, REFERENCE, REPORTED_RESULTS,
                                                 context_multiples, is_pipeline_check, load_results, runs_of,
                                                 trained_ids, turning_share)
from ropelab.checks.findings.table2_statistics import flattening, learning_pace

__all__ = ["findings", "format_interval", "format_spread", "length_check", "nope_length_check"]


def format_spread(s: dict, digits: int = 3) -> str:
    sd = "" if s["sd"] is None else f" ± {s['sd']:.{digits}f}"
    return f"{s['mean']:.{digits}f}{sd}"


def format_interval(d: dict) -> str:
    if d["ci_low"] is None:
        return f"{d['mean']:+.4f}"
    return f"{d['mean']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"


def _regime_sentence(results: dict) -> str:
    cfg = results["config"]
    T, d = cfg["train"]["seq_len"], cfg["model"]["head_dim"]
    rows = {v["id"]: v for v in cfg["variants"]}
    parts = []
    for vid, paper_theta in ((REFERENCE, 1e4), ("rope_500k", 5e5)):
        if vid in rows:
            theta = rows[vid]["encoding"]["theta"]
            parts.append(f"the paper's theta={paper_theta:.0e} at {cfg.get('paper_context', PAPER_CONTEXT)} tokens "
                         f"(log_theta(L/2pi) = {turning_share(paper_theta, cfg.get('paper_context', PAPER_CONTEXT)):.3f}) "
                         f"becomes theta={theta:.1f} here (log_theta(T/2pi) = {turning_share(theta, T):.3f}; "
                         f"{rows[vid]['turning_share']:.0%} of the {d // 2} pairs turn within T)")
    return (f"Regime: bases matched by the share of pairs completing a full turn within the training context: "
            + "; ".join(parts) + f". Still different: d={d} against 256 (so {d // 2} pairs, not 128) and the "
            f"octaves the schedule spans (log2 theta = {math.log2(rows[REFERENCE]['encoding']['theta']):.1f} against "
            f"{math.log2(1e4):.1f}); the p-RoPE rows keep or drop the same shares of pairs as the paper's.")


def _flattening_sentence(results: dict) -> str:
    s = results["summary"]
    shares = [share for r in results["runs"] if (share := flattening(r["validation_curve"])["share"]) is not None]
    spread = (f"the share per run is {min(shares):.3f} to {max(shares):.3f}" if shares
              else "too few evaluations per run to measure it")
    by_row = ", ".join(f"{v} {e['flattened_runs']}/{len(runs_of(results, v))}" for v, e in s["variants"].items())
    return (f"Training length: {results['config']['train']['steps']} steps; {s['flattened_runs']} of {s['runs']} runs "
            f"have flattened (validation NLL fell by less than {FLAT_SHARE:.0%} of its total fall over the last "
            f"quarter of the steps; {spread}; flattened by row: {by_row}).")


def _settling_sentence(results: dict) -> str | None:
    moved = [(c["variant"], c["settling"]) for c in results["summary"]["comparisons"]
             if c.get("settling") and c["settling"]["settled"] is not None]
    if not moved:
        return None
    first = moved[0][1]
    return (f"Settling: from step {first['from_step']} to {first['to_step']} (the last quarter) the paired difference "
            f"from {REFERENCE} on the validation curve moved by less than its comparison's MDD in "
            f"{sum(m['settled'] for _, m in moved)} of {len(moved)} rows: "
            + "; ".join(f"{v} {m['difference_from']:+.4f} -> {m['difference_to']:+.4f} (change "
                        f"{format_interval(m['change'])}, MDD {m['resolution']:.4f})" for v, m in moved)
            + ". Both points lie on one schedule, whose learning rate has decayed by then: this does not show "
            "that a longer schedule would leave a difference where it is (the `long` preset tests that).")


def _length_sentences(results: dict, shorter: dict) -> list[str]:
    """The long preset against the reported run: the same seeds' paired differences at ``T``."""
    steps, short_steps = results["config"]["train"]["steps"], shorter["config"]["train"]["steps"]
    seeds = [seed for seed in results["seeds"] if seed in shorter["seeds"]]
    out = []
    for vid in trained_ids(results):
        if vid == REFERENCE or vid not in trained_ids(shorter):
            continue
        pairs = []
        for seed in seeds:
            long_d, short_d = (
                next(r for r in res["runs"] if r["variant"] == vid and r["seed"] == seed)["nll"]["1"]
                - next(r for r in res["runs"] if r["variant"] == REFERENCE and r["seed"] == seed)["nll"]["1"]
                for res in (results, shorter))
            pairs.append(f"seed {seed} {short_d:+.4f} -> {long_d:+.4f}")
        out.append(f"{vid} - {REFERENCE} at T (nats/byte), {short_steps} -> {steps} steps: " + ", ".join(pairs))
    return [f"Against the reported run ({short_steps} steps: the same model, seeds and batch order, a schedule "
            f"{steps / short_steps:.0f}x shorter): " + "; ".join(out) + "."] if out else []


def _pace_sentence(results: dict) -> str | None:
    paces = {v: [learning_pace(r["validation_curve"]) for r in runs_of(results, v)] for v in trained_ids(results)}
    paces = {v: p for v, p in paces.items() if p and all(x["first"] is not None for x in p)}
    if not paces:
        return None
    steady = next(iter(paces.values()))[0]["steady_share"]
    return (f"Pace (NLL change per e-fold of steps, nats/byte; slope on ln(step) over the first -> the second half "
            f"of the evaluations, mean over seeds): "
            + "; ".join(f"{v} {np.mean([x['first'] for x in p]):+.3f} -> {np.mean([x['second'] for x in p]):+.3f} "
                        f"(slowing in {sum(x['second'] > x['first'] for x in p)} of {len(p)} runs)"
                        for v, p in paces.items())
            + f". A curve that keeps its pace has a last-quarter share of {steady:.3f} at any length of this "
            f"schedule shape, above the {FLAT_SHARE:.0%} rule: only a slowing pace flattens.")


def _training_length_sentences(results: dict) -> list[str]:
    """Whether a run's curves flattened, how fast they still fell, and whether its paired differences settled."""
    settled, pace = _settling_sentence(results), _pace_sentence(results)
    return [_flattening_sentence(results)] + [s for s in (pace, settled) if s is not None]


def length_check(results: dict) -> list[str]:
    """What the ``long`` preset shows about the reported run's training length: whether its
    curves flatten, whether its differences settle, and each seed's difference at both lengths."""
    out = _training_length_sentences(results)
    if REPORTED_RESULTS.is_file():
        out += _length_sentences(results, load_results(REPORTED_RESULTS))
    return out


def nope_length_check(results: dict) -> list[str]:
    """What the ``nope_long`` preset shows: whether NoPE flattens when trained six times as long,
    its pace, and each seed's NLL at ``T`` beside the shorter runs' (each its own schedule)."""
    out = _training_length_sentences(results)
    shorter = [load_results(path) for path in (REPORTED_RESULTS, LONG_RESULTS) if path.is_file()]
    runs = [results] + shorter
    for vid in ("nope", REFERENCE):
        by_seed = []
        for seed in results["seeds"]:
            points = sorted((res["config"]["train"]["steps"], r["nll"]["1"]) for res in runs for r in res["runs"]
                            if r["variant"] == vid and r["seed"] == seed)
            if points:
                by_seed.append(f"seed {seed} " + ", ".join(f"{nll:.4f} at {steps}" for steps, nll in points))
        if by_seed:
            out.append(f"{vid} validation NLL at T (nats/byte) by training length: " + "; ".join(by_seed) + ".")
    if REFERENCE not in trained_ids(results):
        out.append(f"{REFERENCE} was not trained for {results['config']['train']['steps']} steps, so no gap from "
                   "it is measured at that length; each length above is its own schedule.")
    return out


def _pilot_sentences(results: dict) -> list[str]:
    out = []
    for vid, need in results["summary"].get("seeds_needed", {}).items():
        mdd = need["mdd_by_seeds"]
        seeds = need["seeds_for_paper_change"]
        out.append(
            f"Paired difference {vid} - {REFERENCE} at T: sd {need['paired_sd']:.4f} nats/byte over "
            f"{len(results['seeds'])} seeds; minimum detectable difference ({POWER:.0%} power, {1 - CONFIDENCE:.0%} "
            "level) by seeds: " + ", ".join(f"{k}: {v:.4f}" for k, v in mdd.items())
            + f". The paper's Wiki change for this row is {need['paper_wiki_nll_change']:.4f} nats (per token); "
            + (f"detecting a change of that size would take {seeds} seeds." if seeds else
               f"detecting a change of that size would take more than {need['searched_up_to']} seeds.")
        )
    out.append("This pilot only sets the reported run's design: it compares nothing with the paper.")
    return out


def _comparison_phrase(c: dict, flattened_runs: int) -> str:
    d = c["difference"]
    return (f"{c['variant']} {format_interval(d)}"
            + ("" if c["relative_mdd"] is None else f" (MDD {c['relative_mdd']:.2%} of perplexity)")
            + f": paper Wiki {c['wiki']['paper_relative_change']:+.2%} {c['wiki']['verdict']}, "
            f"FlanV2 {c['flanv2']['paper_relative_change']:+.2%} {c['flanv2']['verdict']}"
            # a row none of whose runs flattened is compared at this training length only
            + (" (at this training length: none of its runs had flattened)" if flattened_runs == 0 else ""))


def findings(results: dict) -> list[str]:
    """Plain statements of the outcome, each with its numbers and uncertainty.

    A pipeline check (the ``smoke`` preset: models trained for a few steps) states only what
    ran: its numbers describe untrained models, so nothing is compared with the paper. The
    pilot states what it measured for the design of the reported run and nothing else.
    """
    s = results["summary"]
    var = s["variants"]
    n = len(results["seeds"])
    T = results["config"]["train"]["seq_len"]
    steps = results["config"]["train"]["steps"]
    multiples = context_multiples(results)
    if is_pipeline_check(results):
        return [
            f"Pipeline check ({results['preset']} preset): {len(var)} encodings x {n} seed(s) trained for {steps} "
            f"steps each, scored at " + ", ".join(f"{m}T" for m in multiples) + f" (T={T}), head usage "
            "measured; every stage ran.",
            "These models are barely trained, so their perplexities and norms say nothing about the encodings: "
            "nothing here is compared with the paper. Run `ropelab experiment table2 --preset small` for that.",
        ]
    if results["preset"] == "pilot":
        return [_regime_sentence(results), _flattening_sentence(results)] + _pilot_sentences(results)
    if REFERENCE not in trained_ids(results):
        return _training_length_sentences(results) + [
            "Validation perplexity at " + " / ".join("T" if m == 1 else f"{m}T" for m in multiples)
            + f" (mean over {n} seeds): "
            + "; ".join(f"{v} " + " / ".join(format_spread(var[v]["perplexity"][m]) for m in map(str, multiples))
                        for v in trained_ids(results))
            + f". Without the {REFERENCE} row nothing here is paired or compared with the paper."]
    out = [_regime_sentence(results)] + (length_check(results) if results["preset"] == "long"
                                         else _training_length_sentences(results))
    order = s["ranking"]["1"]
    out.append(
        f"Validation perplexity at the training length T={T} (mean over {n} seed(s), lower is better): "
        + " < ".join(f"{v} {var[v]['perplexity']['1']['mean']:.3f}" for v in order) + "."
    )
    if n > 1:
        out.append(
            f"Paired against {REFERENCE} (same seed: same initial weights and batches), each row's difference in "
            f"validation NLL at T (nats/byte, {CONFIDENCE:.0%} t-interval), its minimum detectable difference "
            f"(MDD, {POWER:.0%} power) and the paper's claim (the sign of its change in each column; Holm-adjusted "
            "paired t-tests, one family per column): "
            + "; ".join(_comparison_phrase(c, var[c["variant"]]["flattened_runs"]) for c in s["comparisons"]) + "."
        )
    agree = sum(order == seed_order for seed_order in s["ranking_per_seed_at_T"])
    out.append(f"The full ranking at T is the same in {agree} of {n} seed(s); per-seed orders: "
               + "; ".join(" < ".join(o) for o in s["ranking_per_seed_at_T"]) + ".")
    corr = s.get("rank_correlation_with_paper_at_T")
    if corr:
        out.append(
            "The paper's order (Gemma 2B, Wiki): " + " < ".join(s["paper_ranking_wiki"])
            + f". Spearman correlation of our perplexities at T with the paper's: Wiki rho={corr['wiki']['spearman_rho']:.2f} "
            f"(p={corr['wiki']['p_value']:.2f}), FlanV2 rho={corr['flanv2']['spearman_rho']:.2f} "
            f"(p={corr['flanv2']['p_value']:.2f}); with 7 rows only |rho| >= 0.79 is significant at 5%."
        )
    longest = str(max(multiples))
    out.append(
        "Length generalisation (perplexity at " + " / ".join("T" if m == 1 else f"{m}T" for m in multiples)
        + ", targets identical): "
        + "; ".join(
            f"{v} " + " / ".join(f"{var[v]['perplexity'][m]['mean']:.2f}" for m in map(str, multiples))
            for v in s["ranking"][longest]
        ) + f" (ordered by {longest}T)."
    )
    if n > 1:
        out.append(
            f"Paired against {REFERENCE} at {longest}T (nats/byte, {CONFIDENCE:.0%} t-interval, unadjusted): "
            + "; ".join(f"{v} {format_interval(var[v]['nll_minus_reference'][longest])}"
                        for v in trained_ids(results) if v != REFERENCE) + "."
        )
    for v in ("rope_10k", "rope_500k", "p_rope_0.75"):
        u = var.get(v, {}).get("usage")
        if not u:
            continue
        q, k = u["low_high_ratio_q"], u["low_high_ratio_k"]
        if min(q["mean"], k["mean"]) > 1:
            band = "the low frequencies carry the larger norms, as in the paper's Gemma 7B"
        elif max(q["mean"], k["mean"]) < 1:
            band = "the HIGH frequencies carry the larger norms, unlike the paper's Gemma 7B"
        else:
            band = "q and k disagree on which band carries the larger norms"
        text = (f"{v}: lowest-quarter / highest-quarter mean pair norm q {format_spread(q, 2)}, k {format_spread(k, 2)} "
                f"({band}); "
                f"positional heads (> {usage_mod.POSITIONAL_WEIGHT} of attention on offset 0 or 1) per seed: "
                f"{u['positional_heads_per_seed']} of {results['config']['model']['n_layers'] * results['config']['model']['n_heads']}")
        if u["top_share_positional"] and u["top_share_other"]:
            text += (f", their share of |q||k| on the highest-frequency quarter {format_spread(u['top_share_positional'], 2)} "
                     f"vs {format_spread(u['top_share_other'], 2)} for the other heads (0.25 = flat)")
        out.append(text + ".")
    u = var.get("nope", {}).get("usage")
    if u:
        out.append(f"Control (NoPE, whose pairs have no frequency): the same ratio is q {format_spread(u['low_high_ratio_q'], 2)}, "
                   f"k {format_spread(u['low_high_ratio_k'], 2)}.")
    return out
