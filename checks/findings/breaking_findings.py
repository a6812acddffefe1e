"""The breaking experiment's statistics and findings: where recall collapses, the fitted law,
and what the numbers say beside Thm 6.1's prediction.

Everything here reads a results file (the runs stored by the runner), so a committed summary and
its findings can be recomputed from the committed runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

from ropelab.checks.findings import task_experiments
from ropelab.checks.findings.paired_tests import CONFIDENCE, POWER, detectable_difference

__all__ = [
    "COLLAPSE_ACCURACY",
    "REPORTED_RESULTS",
    "collapse_distance",
    "explain",
    "findings",
    "load_results",
    "slope_fit",
    "summarise",
    "table_rows",
]

COLLAPSE_ACCURACY = 0.5
"""A distance has collapsed when fewer than half the recalls are right (chance is 1/n_values)."""



def collapse_distance(distances: list[int], accuracy: list[float], level: float = COLLAPSE_ACCURACY) -> float | None:
    """The first distance where accuracy falls below ``level``, interpolated in log distance.

    ``None`` when it never falls within the evaluated range (censored).

    >>> collapse_distance([10, 20, 40], [1.0, 0.8, 0.2])
    28.28...
    """
    for k in range(len(distances)):
        if accuracy[k] < level:
            if k == 0:
                return float(distances[0])
            a0, a1 = accuracy[k - 1], accuracy[k]
            x0, x1 = math.log(distances[k - 1]), math.log(distances[k])
            return float(math.exp(x0 + (a0 - level) / (a0 - a1) * (x1 - x0)))
    return None


def slope_fit(x: list[float], y: list[float]) -> dict | None:
    """Least-squares slope of log y on log x with its 95% t-interval and the smallest deviation
    from any slope it detects with 80% power (:func:`~.paired_tests.detectable_difference`;
    ``None`` for a perfect fit); ``None`` below 3 points."""
    if len(x) < 3:
        return None
    fit = stats.linregress(np.log(x), np.log(y))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 2) * fit.stderr
    return {"slope": float(fit.slope), "interval": [float(fit.slope - half), float(fit.slope + half)],
            "points": len(x), "stderr": float(fit.stderr),
            "detectable": detectable_difference(fit.stderr, len(x) - 2) if fit.stderr > 0 else None}


def summarise(results: dict) -> dict:
    """Per schedule: the collapse-vs-frequency slope fit and how many runs never collapsed."""
    out = {}
    for schedule in ("rope", "p_rope", "nope"):
        runs = [r for r in results["runs"] if r["schedule"] == schedule]
        if not runs:
            continue
        collapsed = [r for r in runs if r["collapse_distance"] is not None and r["slowest_rotating_frequency"] > 0]
        out[schedule] = {
            "runs": len(runs),
            "never_collapsed": len(runs) - len(collapsed),
            "fit": slope_fit([r["slowest_rotating_frequency"] for r in collapsed],
                             [r["collapse_distance"] for r in collapsed]),
            "mean_slowest_pair_share": float(np.mean([np.max(np.abs(np.asarray(r["pair_share_by_head"])[:, -1]))
                                                      for r in runs])),
        }
    return out


def findings(results: dict, preset) -> list[str]:
    """What the numbers show, beside Thm 6.1's prediction (nothing for a pipeline check)."""
    if not preset.reports_findings:
        return [task_experiments.PIPELINE_ONLY]
    s = results["summary"]
    lines = []
    rope = s.get("rope", {})
    fit = rope.get("fit")
    if fit is None:
        lines.append("RoPE collapse law: undecided (fewer than 3 runs collapsed within the evaluated range)")
    else:
        lo, hi = fit["interval"]
        verdict = ("holds" if lo <= -1.0 <= hi and hi < 0 else
                   "undecided at this power" if lo <= -1.0 <= hi else "does not hold")
        power = ("" if fit.get("detectable") is None else
                 f"; this fit tells apart slopes {fit['detectable']:.2f} or more from -1 with {POWER:.0%} power")
        lines.append(f"RoPE collapse distance vs slowest frequency: log-log slope {fit['slope']:.3f}, {CONFIDENCE:.0%} CI "
                     f"[{lo:.3f}, {hi:.3f}] over {fit['points']} runs; the 1/g_min law (slope -1) {verdict}{power}")
    p = s.get("p_rope", {})
    if p:
        lines.append(f"p-RoPE 0.75: {p['never_collapsed']} of {p['runs']} runs never collapsed within "
                     f"{max(results['config']['distances'])} tokens (its unrotated pairs cannot break; a collapse "
                     "means the trained head also leans on rotating pairs)")
    n = s.get("nope", {})
    if n:
        lines.append(f"NoPE: {n['never_collapsed']} of {n['runs']} runs never collapsed (no rotation to break)")
    return lines


REPORTED_RESULTS = task_experiments.committed_results("breaking")
"""The committed ``small`` run, shipped as package data."""


def load_results(path: str | Path = REPORTED_RESULTS) -> dict:
    """Read a results JSON written by the runner (default: the committed ``small`` run)."""
    return task_experiments.load("breaking", path)


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    """One row per (encoding, base): slowest rotating range, collapse distance per seed, last pair's share."""
    header = ["encoding", "theta", "slowest rotating range pi/(2 g_min)", "collapse distance by seed",
              "last-pair share (slowest; unrotated under p-RoPE)"]
    groups: dict[str, list[dict]] = {}
    for r in results["runs"]:
        groups.setdefault(r["label"], []).append(r)
    rows = []
    for label, runs in groups.items():
        first = runs[0]
        share = np.mean([np.max(np.abs(np.asarray(r["pair_share_by_head"])[:, -1])) for r in runs])
        rows.append([first["schedule"] if first["schedule"] != "p_rope" else f"p-RoPE {first['fraction']:g}",
                     "-" if first["schedule"] == "nope" else f"{first['theta']:.4g}",
                     "never" if first["slowest_semantic_range"] is None else f"{first['slowest_semantic_range']:.0f}",
                     ", ".join("none" if r["collapse_distance"] is None else f"{r['collapse_distance']:.0f}" for r in runs),
                     f"{share:.2f}"])
    return header, rows


def explain(results: dict | None = None) -> str:
    """The set-up, the result and the comparison with Thm 6.1, from the committed run."""
    results = load_results() if results is None else results
    c = results["config"]
    T, d = c["train"]["seq_len"], c["model"]["head_dim"]
    header, rows = table_rows(results)
    lines = [
        "Thm 6.1's breaking law in trained models (experiment `breaking`).",
        f"Set-up: one-layer models (d_model {c['model']['d_model']}, {c['model']['n_heads']} heads of d={d}) learn to "
        f"name the one value token seen up to T={T} tokens back among {c['task']['n_distractors']} distractor types "
        f"({c['task']['n_values']} values; chance 1/{c['task']['n_values']}), {c['train']['steps']} steps, seeds "
        f"{results['seeds']}. Bases {', '.join(f'{b:.4g}' for b in c['bases'])} put the slowest pair's semantic range "
        f"pi/(2 g_min) at {', '.join(f'{m:.3g}' for m in c['range_multiples'])} x T. Accuracy is measured at distances "
        f"{c['distances'][0]}..{c['distances'][-1]} ({c['eval_sequences']} sequences each); a run collapses where "
        f"accuracy first falls below {COLLAPSE_ACCURACY} (log-interpolated).",
        "",
        " | ".join(header),
        *(" | ".join(row) for row in rows),
        "",
        "Findings:",
        *(f"- {line}" for line in results["findings"]),
        "",
        "What still differs from the theorem's setting: a trained head spreads its match over several pairs "
        "(the last-pair share above), and distances beyond T also put the model at relative positions it never "
        "saw in training, so a collapse near T mixes Thm 6.1's breaking with plain length extrapolation. Two seeds "
        "per cell: the interval is over runs, not over seeds of one cell.",
        task_experiments.regenerate_line(results),
    ]
    return "\n".join(lines)
