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
all", and exact rank tests across layer groups.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ropelab.constructions import frequency_usage as fu

from ropelab.checks.findings.finding import Finding

__all__ = [
    "BAND_FRACTION",
    "BOOTSTRAP",
    "FINDINGS",
    "PERMUTATIONS",
    "Pooled",
    "SEED",
    "budget_by_layer",
    "domain_profiles",
    "head_budget_band_share",
    "larger_base_starts_band_at_lower_pair_index",
    "low_frequencies_carry_largest_query_key_norms",
    "measure_all",
    "positional_heads_use_highest_frequencies",
    "values_show_no_frequency_pattern",
]

SEED = 20241008
BOOTSTRAP = 200  # token resamples; the 2.5/97.5 percentiles make the 95% intervals
PERMUTATIONS = 2000  # pair-label permutations for the "pattern in the pair index" p-value
ALPHA = 0.05
BAND_FRACTION = 8  # the "highest frequencies": the top 1/8 of the pairs (16 of Gemma's 128)


def band_pairs(pooled: "Pooled") -> int:
    """Number of top-frequency pairs that count as the highest band: ``max(1, P // 8)``."""
    return max(1, pooled.q.shape[-1] // BAND_FRACTION)


@dataclass
class Pooled:
    """Pair norms of every non-BOS token of every prompt, and the heads' attention scores.

    Shapes (``L`` layers, ``H`` query heads, ``G`` key/value heads, ``N`` pooled tokens,
    ``P`` pairs): ``q (L, H, N, P)``, ``k (L, G, N, P)``, ``v (L, G, N, P)``; ``domain (N,)``
    names each token's prompt; ``scores[name] (L, H)`` for ``diagonal``, ``previous_token``
    and ``bos``; ``thetas (L,)`` the layers' bases.
    """

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    domain: np.ndarray
    scores: dict[str, np.ndarray]
    thetas: np.ndarray

    @property
    def n_layers(self) -> int:
        return int(self.q.shape[0])

    def k_per_query_head(self) -> np.ndarray:
        return np.repeat(self.k, self.q.shape[1] // self.k.shape[1], axis=1)


def _interval(samples: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return np.percentile(samples, 2.5, axis=axis), np.percentile(samples, 97.5, axis=axis)


def resample_weights(groups: np.ndarray, seed: int = SEED, draws: int = BOOTSTRAP) -> np.ndarray:
    """Bootstrap draws as weights ``(draws, N)``: token counts of a resample within each group, over its size.

    Resampling inside each group (a prompt's domain) keeps every domain's share of tokens;
    a weighted mean with one row of weights is the mean over that bootstrap resample.
    """
    rng = np.random.default_rng(seed)
    weights = np.zeros((draws, groups.size))
    for name in dict.fromkeys(groups.tolist()):
        members = np.flatnonzero(groups == name)
        picks = rng.integers(0, members.size, size=(draws, members.size))
        for row in range(draws):
            np.add.at(weights[row], members[picks[row]], 1.0)
    return weights / groups.size


def rank_correlation_matrix(profiles: np.ndarray) -> np.ndarray:
    """Spearman correlations between all rows of ``profiles (..., R, P)``: shape ``(..., R, R)``."""
    ranks = stats.rankdata(profiles, axis=-1)
    ranks = ranks - ranks.mean(axis=-1, keepdims=True)
    ranks = ranks / np.linalg.norm(ranks, axis=-1, keepdims=True)
    return ranks @ np.ascontiguousarray(np.swapaxes(ranks, -1, -2))


def half_split(norms: np.ndarray, groups: np.ndarray, seed: int = SEED) -> dict[str, np.ndarray]:
    """Per layer: low-half share of the squared norm, its bootstrap interval and permutation p-value.

    ``norms`` is ``(L, heads, N, P)``. The permutation p-value is two-sided: how often a random
    relabelling of the pairs puts the share at least as far from 1/2 as observed.
    """
    per_token = (norms**2).mean(axis=1, keepdims=True)  # (L, 1, N, P)
    energy = per_token.mean(axis=2)[:, 0]  # (L, P)
    share = fu.low_half_share(energy)
    boot = fu.low_half_share(weighted_token_mean(resample_weights(groups, seed), per_token)[..., 0, :])
    lo, hi = _interval(boot)
    rng = np.random.default_rng(seed + 1)
    perms = np.stack([rng.permutation(energy.shape[1]) for _ in range(PERMUTATIONS)])
    null = fu.low_half_share(energy[:, perms])  # (L, PERMUTATIONS)
    extreme = np.abs(null - 0.5) >= np.abs(share - 0.5)[:, None] - 1e-12
    p_value = (extreme.sum(axis=1) + 1) / (PERMUTATIONS + 1)
    return {"share": share, "low": lo, "high": hi, "p_value": p_value}


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


def head_budget_band_share(pooled: Pooled, band: int | None = None) -> np.ndarray:
    """Each head's top-band share of its logit budget ``sum_m |q^(m)||k^(m)|``; ``(L, H)``."""
    band = band_pairs(pooled) if band is None else band
    budget = fu.budget_profile(pooled.q.mean(axis=2), pooled.k_per_query_head().mean(axis=2))
    return fu.band_share(budget, band)


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


def weighted_token_mean(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sum_n weights[..., n] x[:, :, n]`` for ``x (L, heads, N, P)``: shape ``(..., L, heads, P)`` (one BLAS product)."""
    L, heads, N, P = x.shape
    flat = np.moveaxis(x, 2, 0).reshape(N, L * heads * P)
    return (np.asarray(weights) @ flat).reshape(*np.shape(weights)[:-1], L, heads, P)


def budget_by_layer(pooled: Pooled, weights: np.ndarray) -> np.ndarray:
    """Per-layer logit-budget profile (mean over heads) under token weights ``(..., N)`` summing to 1: ``(..., L, P)``."""
    q = weighted_token_mean(weights, pooled.q)
    k = weighted_token_mean(weights, pooled.k)
    k = np.repeat(k, q.shape[-2] // k.shape[-2], axis=-2)
    return fu.budget_profile(q, k).mean(axis=-2)


def domain_weights(pooled: Pooled, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Token weights ``(..., N)`` that average over one domain each (optionally under bootstrap weights)."""
    base = np.ones(pooled.domain.size) if weights is None else weights
    out = {}
    for name in dict.fromkeys(pooled.domain.tolist()):
        w = base * (pooled.domain == name)
        out[name] = w / w.sum(axis=-1, keepdims=True)
    return out


def domain_profiles(pooled: Pooled) -> dict[str, np.ndarray]:
    """Per domain, per layer budget profile (mean over heads); ``{domain: (L, P)}``."""
    return {name: budget_by_layer(pooled, w) for name, w in domain_weights(pooled).items()}


def _similarities(profiles: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Same-layer rank correlation per domain pair, and the mean different-layer correlation within domains.

    Profiles are ``(..., L, P)``; results keep the leading axes.
    """
    names = list(profiles)
    stacked = np.stack([profiles[n] for n in names], axis=-3)  # (..., D, L, P)
    D, L = stacked.shape[-3], stacked.shape[-2]
    corr = rank_correlation_matrix(stacked.reshape(*stacked.shape[:-3], D * L, stacked.shape[-1]))
    corr = corr.reshape(*corr.shape[:-2], D, L, D, L)
    layer = np.arange(L)
    across = {f"{names[a]} / {names[b]}": corr[..., a, layer, b, layer].mean(-1) for a, b in itertools.combinations(range(D), 2)}
    off = ~np.eye(L, dtype=bool)
    within = np.stack([corr[..., a, :, a, :][..., off].mean(-1) for a in range(D)], -1).mean(-1)
    return across, within


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
