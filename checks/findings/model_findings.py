"""The paper's five empirical claims about frequency usage (§4, App C), measured on captured activations.

Each function takes :class:`Pooled` measurements and returns a :class:`Finding` with its
statistic, uncertainty and decision rule, whatever the outcome:

1. ``low_frequencies_carry_largest_query_key_norms`` — in most layers the low-frequency half
   of the pairs holds more than half of the squared query and key norm;
2. ``positional_heads_use_highest_frequencies`` — heads whose attention sits on the diagonal
   or the previous token give their top frequency band a larger share of their logit budget
   (Spearman rank correlation over all heads);
3. ``values_show_no_frequency_pattern`` — the same split of the (unrotated) values is no
   more lopsided than chance;
4. ``frequency_pattern_is_similar_across_domains`` — a layer's per-pair profile is more alike
   across English, Italian, code and arithmetic than across layers;
5. ``larger_base_starts_band_at_lower_pair_index`` — App C: the high-norm band begins near a
   fixed frequency, so layers with a larger base begin it at a lower pair index.

Uncertainty: token bootstrap (fixed seed) for per-layer statistics, head bootstrap for the
rank correlation, a permutation of pair labels for "is this a pattern in the pair index at
all", and exact rank tests across layer groups. The measurements (:class:`Pooled`) and the
statistics they go through live in :mod:`ropelab.checks.findings.model_statistics`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ropelab.constructions import frequency_usage as fu

from ropelab.checks.findings.finding import Finding
from ropelab.checks.findings.model_statistics import (
    ALPHA,
    BOOTSTRAP,
    SEED,
    Pooled,
    _interval,
    _similarities,
    band_pairs,
    budget_by_layer,
    domain_profiles,
    domain_weights,
    half_split,
    head_budget_band_share,
    resample_weights,
)

__all__ = [
    "FINDINGS",
    "larger_base_starts_band_at_lower_pair_index",
    "low_frequencies_carry_largest_query_key_norms",
    "measure_all",
    "positional_heads_use_highest_frequencies",
    "values_show_no_frequency_pattern",
]


def _significant_low(split: dict[str, np.ndarray]) -> np.ndarray:
    return (split["low"] > 0.5) & (split["p_value"] < ALPHA)


def _significant_any(split: dict[str, np.ndarray]) -> np.ndarray:
    return ((split["low"] > 0.5) | (split["high"] < 0.5)) & (split["p_value"] < ALPHA)


def _layer_table(split: dict[str, np.ndarray]) -> list[dict]:
    return [
        {"layer": i, "low_half_share": float(s), "ci95": [float(a), float(b)], "permutation_p": float(p)}
        for i, (s, a, b, p) in enumerate(zip(split["share"], split["low"], split["high"], split["p_value"]))
    ]


def low_frequencies_carry_largest_query_key_norms(pooled: Pooled) -> Finding:
    """Finding 1: the low-frequency half holds most of the q and k norm in most layers."""
    splits = {"q": half_split(pooled.q, pooled.domain), "k": half_split(pooled.k, pooled.domain)}
    counts = {name: int(_significant_low(s).sum()) for name, s in splits.items()}
    L = pooled.n_layers
    holds = all(c > L / 2 for c in counts.values())
    return Finding(
        id="low_frequencies_carry_largest_query_key_norms",
        label="Sec 4, Fig 3",
        paper_statement="Gemma 7B's queries and keys put their largest norms on the lowest frequencies, in most layers.",
        measured="share of the squared pair norm (mean over heads and non-BOS tokens) in the low-frequency half of the pairs, per layer, for q and for k",
        holds=holds,
        statistic="layers (of %d) where the low half holds > 1/2 of the norm, q / k" % L,
        value=float(min(counts.values())),
        uncertainty=(f"q: {counts['q']}/{L}, k: {counts['k']}/{L} layers; a layer counts only if its 95% token-bootstrap "
                     f"interval lies above 1/2 and a pair-label permutation test gives p < {ALPHA}"),
        rule="holds if more than half of the layers count, for q and for k",
        details={"counts": counts, "layers": {name: _layer_table(s) for name, s in splits.items()},
                 "median_share": {name: float(np.median(s["share"])) for name, s in splits.items()}},
    )


def values_show_no_frequency_pattern(pooled: Pooled) -> Finding:
    """Finding 3: values (never rotated) are no more lopsided between the pair halves than chance."""
    split = half_split(pooled.v, pooled.domain)
    L = pooled.n_layers
    count = int(_significant_any(split).sum())
    chance = int(stats.binom.ppf(0.95, L, ALPHA))
    q_count = int(_significant_any(half_split(pooled.q, pooled.domain)).sum())
    k_count = int(_significant_any(half_split(pooled.k, pooled.domain)).sum())
    return Finding(
        id="values_show_no_frequency_pattern",
        label="Sec 4, Fig 13",
        paper_statement="Values, which RoPE does not rotate, show no preference for any frequency pair.",
        measured="the same low-half share for the values, with the same bootstrap and permutation tests, either direction",
        holds=count <= chance,
        statistic=f"layers (of {L}) whose values are lopsided between the pair halves",
        value=float(count),
        uncertainty=(f"{count}/{L} layers lopsided (95% bootstrap interval excludes 1/2 and permutation p < {ALPHA}); "
                     f"chance alone gives at most {chance} (95th percentile of Binomial({L}, {ALPHA})); "
                     f"for contrast q: {q_count}/{L}, k: {k_count}/{L}"),
        rule=f"holds if the count is at most {chance}",
        details={"layers": _layer_table(split), "chance_limit": chance, "contrast": {"q": q_count, "k": k_count}},
    )


def positional_heads_use_highest_frequencies(pooled: Pooled, band: int | None = None, seed: int = SEED) -> Finding:
    """Finding 2: rank correlation over heads between positional score and top-band usage."""
    band = band_pairs(pooled) if band is None else band
    usage = head_budget_band_share(pooled, band).ravel()
    diagonal = pooled.scores["diagonal"].ravel()
    previous = pooled.scores["previous_token"].ravel()
    positional = np.maximum(diagonal, previous)
    rho, p_value = stats.spearmanr(positional, usage)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(1000):
        idx = rng.integers(0, usage.size, usage.size)
        boot.append(stats.spearmanr(positional[idx], usage[idx]).statistic)
    lo, hi = _interval(np.asarray(boot))
    H = pooled.q.shape[1]
    order = np.argsort(-positional)
    top = [
        {"layer": int(i // H), "head": int(i % H), "positional_score": float(positional[i]),
         "kind": "diagonal" if diagonal[i] >= previous[i] else "previous_token", "band_share": float(usage[i])}
        for i in order[:6]
    ]
    holds = bool(rho > 0 and p_value < ALPHA)
    return Finding(
        id="positional_heads_use_highest_frequencies",
        label="Sec 4, Figs 4-6",
        paper_statement="Diagonal and previous-token heads are built from the highest frequencies, which other heads use little.",
        measured=(f"per head: positional score max(diagonal mass, previous-token mass) against the share of the top {band} "
                  "frequency pairs in the head's logit budget sum_m |q^(m)||k^(m)| (mean pair norms)"),
        holds=holds,
        statistic=f"Spearman rank correlation over all {usage.size} heads",
        value=float(rho),
        uncertainty=f"p = {p_value:.2g}; 95% head-bootstrap interval [{lo:.2f}, {hi:.2f}]",
        rule=f"holds if rho > 0 with p < {ALPHA}",
        details={
            "p_value": float(p_value), "ci95": [float(lo), float(hi)],
            "rho_diagonal_only": float(stats.spearmanr(diagonal, usage).statistic),
            "rho_previous_only": float(stats.spearmanr(previous, usage).statistic),
            "median_band_share": float(np.median(usage)), "most_positional_heads": top, "band_pairs": band,
        },
    )

def frequency_pattern_is_similar_across_domains(pooled: Pooled, seed: int = SEED) -> Finding:
    """Finding 4: same-layer profiles agree across domains more than different layers agree."""
    across, baseline = _similarities(domain_profiles(pooled))
    gap = float(np.mean(list(across.values())) - baseline)
    weights = resample_weights(pooled.domain, seed)
    boot_across, boot_base = _similarities({n: budget_by_layer(pooled, w) for n, w in domain_weights(pooled, weights).items()})
    boot = np.mean(list(boot_across.values()), axis=0) - boot_base
    lo, hi = _interval(boot)
    return Finding(
        id="frequency_pattern_is_similar_across_domains",
        label="Sec 4, Fig 19",
        paper_statement="The frequency-usage pattern is much the same whatever the input domain.",
        measured=("per layer, the per-pair logit budget (mean over heads) on each prompt; Spearman correlation of the same "
                  "layer across domains, against the correlation of different layers within a domain"),
        holds=bool(lo > 0),
        statistic="mean same-layer cross-domain rho minus mean cross-layer rho",
        value=gap,
        uncertainty=f"95% token-bootstrap interval [{lo:.2f}, {hi:.2f}] ({BOOTSTRAP} resamples within domains)",
        rule="holds if the interval lies above 0: a layer's pattern is a property of the layer, not of the text",
        details={"same_layer_across_domains": {k: float(v) for k, v in across.items()},
                 "different_layers_same_domain": float(baseline), "ci95": [float(lo), float(hi)],
                 "min_domain_pair": float(min(across.values()))},
    )


def larger_base_starts_band_at_lower_pair_index(pooled: Pooled, seed: int = SEED) -> Finding:
    """Finding 5 (App C): layers with the larger base begin their high-norm band at a lower pair index."""
    bases = sorted(set(pooled.thetas.tolist()))
    point = fu.band_onset(budget_by_layer(pooled, np.full(pooled.domain.size, 1.0 / pooled.domain.size)))
    P = pooled.q.shape[-1]
    if len(bases) < 2:
        from ropelab.checks.findings.onset_substitute import fixed_frequency_onset

        boot = fu.band_onset(budget_by_layer(pooled, resample_weights(pooled.domain, seed)))
        return fixed_frequency_onset(point, boot, float(bases[0]), int(pooled.q.shape[-1]))
    small, large = bases[0], bases[-1]
    in_small, in_large = pooled.thetas == small, pooled.thetas == large
    test = stats.mannwhitneyu(point[in_large], point[in_small], alternative="less", method="exact")
    two_sided = stats.mannwhitneyu(point[in_large], point[in_small], alternative="two-sided", method="exact")
    diff = float(np.median(point[in_large]) - np.median(point[in_small]))
    onsets = fu.band_onset(budget_by_layer(pooled, resample_weights(pooled.domain, seed)))  # (BOOTSTRAP, L)
    boot = np.median(onsets[:, in_large], axis=1) - np.median(onsets[:, in_small], axis=1)
    lo, hi = _interval(boot)

    def frequency(index, theta):
        return float(theta ** (-2.0 * index / (2 * P)))

    groups = {
        str(theta): {
            "layers": np.flatnonzero(pooled.thetas == theta).tolist(),
            "onsets": point[pooled.thetas == theta].tolist(),
            "median_onset": float(np.median(point[pooled.thetas == theta])),
            "median_relative_onset": float(np.median(point[pooled.thetas == theta]) / P),
            "onset_frequency": frequency(np.median(point[pooled.thetas == theta]), theta),
        }
        for theta in (small, large)
    }
    return Finding(
        id="larger_base_starts_band_at_lower_pair_index",
        label="App C",
        paper_statement=("The high-norm band begins near a fixed frequency (Gemma 7B, theta=1e4: pair 0.8 d/2; Llama 3, "
                         "theta=5e5: pair 40 of 64), so a larger base begins it at a lower pair index."),
        measured=(f"per layer, the first pair (from the highest frequency) where the 8-pair moving average of the logit-budget "
                  f"profile reaches half its range; layers with theta={large:g} against theta={small:g}"),
        holds=bool(test.pvalue < ALPHA and diff < 0),
        statistic=f"median onset (theta={large:g}) minus median onset (theta={small:g}), in pairs",
        value=diff,
        uncertainty=(f"one-sided exact Mann-Whitney p = {test.pvalue:.2g} (two-sided p = {two_sided.pvalue:.2g}); "
                     f"95% token-bootstrap interval [{lo:.1f}, {hi:.1f}]"),
        rule=f"holds if the larger base's onsets are lower with one-sided p < {ALPHA}",
        details={"groups": groups, "two_sided_p": float(two_sided.pvalue), "one_sided_p": float(test.pvalue),
                 "ci95": [float(lo), float(hi)], "paper_onsets": {"Gemma 7B (1e4)": 10000 ** -0.8, "Llama 3 (5e5)": 500000 ** (-40 / 64)}},
    )


FINDINGS = (
    low_frequencies_carry_largest_query_key_norms,
    positional_heads_use_highest_frequencies,
    values_show_no_frequency_pattern,
    frequency_pattern_is_similar_across_domains,
    larger_base_starts_band_at_lower_pair_index,
)


def measure_all(pooled: Pooled) -> list[Finding]:
    """The five findings, in the paper's order."""
    return [finding(pooled) for finding in FINDINGS]
