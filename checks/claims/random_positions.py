"""Randomised positions (Ruoss et al. 2023) stretch distances: the all-ones curve decays faster (Fig 8)."""

from __future__ import annotations

import math

import numpy as np

from ropelab.constructions import frequencies, random_positions
from ropelab.theory import logit_statistics as th_stats
from ropelab.theory import random_positions as th_random
from ropelab.theory.derivation import Derivation

from ..claim import Claim, Part, Shown, Symbolic, Trust, Variant
from ..laws import AtMost, Point, StandardErrors, ZeroCount
from . import _common as c
from .decay_curves import FIG2_D, FIG2_THETA, SEEDS, SPEC_BAND, STANDARD_ERRORS, ratio_with_error

__all__ = ["CLAIMS", "RANDOM_RANGES", "RANDOM_TOKENS"]

SECTION = "§3 does RoPE decay?"

RANDOM_TOKENS = 2048
RANDOM_RANGES = (10_000, 20_000, 50_000)
STRETCH_MAX_L = 9  # the exact enumeration of the stretch covers every L up to this


def _stretch_and_second_moment() -> Derivation:
    stretch = th_random.randomised_distance_is_stretched(STRETCH_MAX_L)
    second = th_stats.gaussian_logit_variance_is_dimension()
    return Derivation("randomised positions stretch distances by (L+1)/(N+1); a Gaussian logit's second moment "
                      "is d at every distance", stretch.holds and second.holds, stretch.steps + second.steps)


RANDOM = Claim(
    id="random_positions_speed_decay",
    label="Fig 8 (App B.3)",
    section=SECTION,
    statement="Randomised positions (Ruoss et al.: sorted positions drawn from 0..L-1) make the all-ones "
    "curve decay faster as L grows (L = 10k, 20k, 50k) and leave a Gaussian pair's mean square unchanged.",
    symbolic=Symbolic(_stretch_and_second_moment,
                      Shown(Trust.PROVED_FINITE, f"the stretch E[p_(s+r) - p_(s)] = r (L+1)/(N+1): every L <= "
                                                 f"{STRETCH_MAX_L}, 2 <= N <= L, every start s and distance r (exact "
                                                 "enumeration of every subset); the second moment d: symbolic r, g")),
    parts=(Part("Randomised positions (Ruoss et al.: sorted positions drawn from 0..L-1) make the all-ones curve decay faster as L grows (L = 10k, 20k, 50k)", ("numeric",)),
           Part("and leave a Gaussian pair's mean square unchanged", ("numeric",))),
    law={"all-ones decays faster as L grows": ZeroCount("ranges L whose mean |A| does not fall"),
         "Gaussian mean square unchanged": StandardErrors(STANDARD_ERRORS),
         "Gaussian ratio within [0.8, 1.25]": AtMost("|ln ratio| / ln 1.25 - 1")},
    check=lambda position_fn, quick, rng: _random_positions(position_fn, quick, rng),
    construction=Variant(random_positions.randomised_positions, "sorted positions drawn from 0..L-1"),
    wrong=Variant(lambda rng, tokens, max_position: np.arange(tokens), "positions 0..N-1 for every L (no randomisation)"),
    numeric=Shown(Trust.ESTIMATED, f"N = {RANDOM_TOKENS}, d = 256, theta = 1e4, L in {{10k, 20k, 50k}}, 4 position "
                                   "draws per L (1 quick), all-ones and 64 Gaussian pairs, seed 40"),
    tolerance_reason="mean |A| strictly decreasing in L; Gaussian mean-square ratio within [0.8, 1.25] "
    "and within 5 paired standard errors of 1 (fixed seed)",
    explain=lambda: _explain_random_positions(),
    figures=("fig8_random_positions",),
    seed=40,
    numeric_scope=c.other_seeds(lambda: RANDOM, seed=40, slow=True),
)

CLAIMS = [RANDOM]


def position_runs(position_fn, quick: bool, rng: np.random.Generator) -> dict:
    """Last-row logits of all-ones and of 64 Gaussian pairs under each position scheme.

    One position draw per range ``L`` (``draws`` of them in full mode), shared by the pairs, so
    each draw costs one ``N x d/2`` table of cosines. Returns per variant (``None`` = plain
    RoPE, else ``L``): the all-ones mean |A| over the row, each pair's mean square logit, and
    the mean gap between neighbouring positions.
    """
    draws = 1 if quick else 4
    freqs = frequencies.rope(FIG2_D, FIG2_THETA)
    q, k = rng.standard_normal((2, SEEDS, FIG2_D))
    queries = np.concatenate([np.ones((1, FIG2_D)), q])
    keys = np.concatenate([np.ones((1, FIG2_D)), k])
    decay, square, gaps = {}, {}, {}
    for big_l in (None,) + RANDOM_RANGES:
        rows = []
        for _ in range(1 if big_l is None else draws):
            pos = np.arange(RANDOM_TOKENS) if big_l is None else position_fn(rng, RANDOM_TOKENS, big_l)
            rows.append(random_positions.last_row_logits(queries, keys, freqs, pos))
            gaps.setdefault(big_l, []).append(float(np.mean(np.diff(pos))))
        logits = np.stack(rows)  # (position draws, 1 + pairs, N)
        decay[big_l] = float(np.mean(np.abs(logits[:, 0, 1:]))) / FIG2_D
        square[big_l] = np.mean(logits[:, 1:, 1:] ** 2, axis=(0, 2))  # per pair, over draws and the row
    return {"decay": decay, "square": square, "gaps": {key: float(np.mean(v)) for key, v in gaps.items()},
            "draws": draws}


def _random_positions(position_fn, quick: bool, rng: np.random.Generator) -> dict[str, list[Point]]:
    runs = position_runs(position_fn, quick, rng)
    order = (None,) + RANDOM_RANGES
    faster, unchanged, band = [], [], []
    for before, big_l in zip(order, order[1:]):
        faster.append(Point({"L": big_l}, violations=float(runs["decay"][big_l] >= runs["decay"][before]),
                            extra={"mean_abs_A": runs["decay"][big_l], "previous": runs["decay"][before],
                                   "mean_gap": runs["gaps"][big_l], "expected_gap": (big_l + 1) / (RANDOM_TOKENS + 1)}))
        ratio, se = ratio_with_error(runs["square"][big_l], runs["square"][None])
        unchanged.append(Point({"L": big_l}, deviation=ratio - 1.0, stderr=se if se > 0 else 1e-300,
                               extra={"ratio": ratio}))
        band.append(Point({"L": big_l}, value=abs(math.log(ratio)) / math.log(SPEC_BAND[1]), limit=1.0,
                          extra={"ratio": ratio}))
    return {"all-ones decays faster as L grows": faster, "Gaussian mean square unchanged": unchanged,
            "Gaussian ratio within [0.8, 1.25]": band}


def _explain_random_positions() -> str:
    runs = position_runs(random_positions.randomised_positions, True, np.random.default_rng(RANDOM.seed))
    order = (None,) + RANDOM_RANGES
    names = ["RoPE (0..N-1)"] + [f"L = {L:,}" for L in RANDOM_RANGES]
    decay = ", ".join(f"{n}: {runs['decay'][L]:.4f}" for n, L in zip(names, order))
    squares = ", ".join(f"{n}: {runs['square'][L].mean():.0f}" for n, L in zip(names, order))
    return (
        f"Ruoss et al. (2023): a sequence of N = {RANDOM_TOKENS} tokens gets sorted positions drawn from 0..L-1, "
        "so neighbours in the sequence are about L/N positions apart (exactly r(L+1)/(N+1) on average; "
        f"SymPy enumerates every case with L <= {STRETCH_MAX_L}).\nLast query against all keys, d = 256, "
        f"theta = 1e4, {SEEDS} Gaussian pairs:\n  mean |A| over the row (all-ones): {decay}\n"
        f"  mean square logit (Gaussian pair): {squares}\n"
        "The all-ones curve decays faster as L grows (the cosines are sampled further out); the Gaussian "
        "logit keeps its mean square d whatever the positions. Keeping positions 0..N-1 for every L (no "
        "randomisation) is the rejected control."
    )
