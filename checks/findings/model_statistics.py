"""The statistics behind the five frequency-usage findings (:mod:`ropelab.checks.findings.model_findings`).

:class:`Pooled` holds the measurements (pair norms of every non-BOS token, the heads' attention
scores, the layers' bases); the functions here turn them into per-layer and per-domain profiles
and their uncertainty: token bootstrap (fixed seed) for per-layer statistics, a permutation of
pair labels for "is this a pattern in the pair index at all", and rank correlations between
profiles.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ropelab.constructions import frequency_usage as fu

__all__ = [
    "ALPHA",
    "BAND_FRACTION",
    "BOOTSTRAP",
    "PERMUTATIONS",
    "Pooled",
    "SEED",
    "band_pairs",
    "budget_by_layer",
    "domain_profiles",
    "domain_weights",
    "half_split",
    "head_budget_band_share",
    "resample_weights",
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


def head_budget_band_share(pooled: Pooled, band: int | None = None) -> np.ndarray:
    """Each head's top-band share of its logit budget ``sum_m |q^(m)||k^(m)|``; ``(L, H)``."""
    band = band_pairs(pooled) if band is None else band
    budget = fu.budget_profile(pooled.q.mean(axis=2), pooled.k_per_query_head().mean(axis=2))
    return fu.band_share(budget, band)


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
