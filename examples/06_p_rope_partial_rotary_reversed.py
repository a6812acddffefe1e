# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # p-RoPE in one line, and how it differs from partial rotary and from its reverse
#
# *Needs:* [03](03_previous_token_head_by_hand.md) (the cost of a positional head) and
# [05](05_semantic_channel_breaks.md) (where a semantic channel breaks).
#
# p-RoPE (Section 6.1 of the paper) keeps the $n = \lfloor p d / 2 \rfloor$ *highest*
# RoPE frequencies, computed with the full head dimension $d$, and leaves every other pair
# unrotated. Two other schemes sound alike and are not:
#
# - **partial rotary** (GPT-NeoX, HF's `partial_rotary_factor`) rotates the first $2n$
#   coordinates with the whole schedule re-spread over them, $\theta^{-2m/(2n)}$, so it keeps
#   the slow, long-wavelength pairs that p-RoPE removes;
# - **reversed p-RoPE** keeps the $n$ *lowest* frequencies and freezes the fastest ones.
#
# This example puts numbers on the three, for $d = 256$, $\theta = 10^4$, $p = 0.75$.

# %%
import jax

jax.config.update("jax_enable_x64", True)  # angles r * g in float64 (a script is a process edge)

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ropelab.constructions import frequencies, positional_heads, rotary

OUT = Path(os.environ.get("ROPELAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="ropelab-example-"))
print(f"figures in {OUT}")

d, theta, p = 256, 10_000.0, 0.75
rng = np.random.default_rng(6)

# %% [markdown]
# ## p-RoPE in one line
#
# Take the RoPE schedule and set every frequency after the first $n$ to zero.

# %%
one_line = frequencies.rope(d, theta)
one_line[int(p * d // 2):] = 0.0  # <- p-RoPE

n = frequencies.p_rope_pairs(d, p)
assert np.array_equal(one_line, frequencies.p_rope(d, theta, p))
kept = one_line[:n]
print(f"n = {n} of {d // 2} pairs rotate; frequencies {kept[0]:.3g} .. {kept[-1]:.3g} rad/token")
print(f"slowest kept wavelength: {2 * np.pi / kept[-1]:,.0f} tokens; {d // 2 - n} pairs are frozen")

# %% [markdown]
# ## The frozen pairs ignore position
#
# A frozen pair is never rotated, so its share of the logit $a_{ij}$ is the plain dot
# product of the query's and the key's frozen coordinates, wherever the two tokens stand.

# %%
q, k = rng.standard_normal(d), rng.standard_normal(d)
frozen = np.r_[n:d // 2, d // 2 + n:d]  # coordinates of pairs m >= n (half layout)
positions = np.array([0, 1, 17, 4096, 10**6, 10**7])
q_rot = np.asarray(rotary.apply(q, positions, one_line))
k_rot = np.asarray(rotary.apply(k, positions, one_line))
frozen_share = q_rot[:, frozen] @ k_rot[:, frozen].T  # every (i, j) pair of positions
spread = np.ptp(frozen_share)
print(f"frozen share of a_ij over all position pairs: {frozen_share[0, 0]:.6f}, spread {spread:.1e}")

# %% [markdown]
# ## Partial rotary keeps the slow pairs
#
# Partial rotary with the same $2n = 192$ rotated coordinates re-spreads the schedule, so its
# slowest pair turns almost as slowly as RoPE's slowest.

# %%
partial = frequencies.rope(2 * n, theta)
rope_freqs = frequencies.rope(d, theta)
for name, g in (("RoPE", rope_freqs), ("p-RoPE", kept), ("partial rotary", partial)):
    print(f"{name:15s} {g.size:3d} rotating pairs, slowest {g.min():.3g} rad/token "
          f"(wavelength {2 * np.pi / g.min():>9,.0f} tokens)")

fig, ax = plt.subplots(figsize=(7, 3.5))
schedules = {"RoPE": rope_freqs, "p-RoPE, p = 0.75": one_line, "partial rotary, 192 coordinates": partial,
             "reversed p-RoPE": frequencies.reversed_p_rope(d, theta, p)}
for name, g in schedules.items():
    rotating = np.flatnonzero(g > 0)
    ax.semilogy(rotating, g[rotating], ".", ms=3, label=f"{name} ({rotating.size} rotating)")
ax.set(xlabel="pair m", ylabel="frequency g (rad/token)", title="which pairs turn (frozen pairs are not drawn)")
ax.legend(fontsize=8)
fig.savefig(OUT / "06_schedules.png", dpi=100, bbox_inches="tight")

# %% [markdown]
# Yet the two are one family. p-RoPE's kept frequencies are $\theta^{-2m/d}$ for $m < n$;
# writing $\theta^{-2m/d} = (\theta^{2n/d})^{-2m/(2n)}$ shows they are partial rotary with
# the base $\theta^{2n/d}$. The coordinates differ only in order: p-RoPE pairs
# $(x_m, x_{m+d/2})$, partial rotary pairs $(x_m, x_{m+n})$ in its prefix.

# %%
order = np.r_[0:n, d // 2:d // 2 + n, n:d // 2, d // 2 + n:d]  # p-RoPE coordinates -> prefix first
i, j = 5000, 1234
a_p_rope = np.asarray(rotary.apply(q, i, one_line)) @ np.asarray(rotary.apply(k, j, one_line))
scaled_base = theta ** (2 * n / d)
a_partial = (np.asarray(rotary.partial_rotary(q[order], i, 2 * n, scaled_base))
             @ np.asarray(rotary.partial_rotary(k[order], j, 2 * n, scaled_base)))
a_unpermuted = (np.asarray(rotary.partial_rotary(q, i, 2 * n, scaled_base))
                @ np.asarray(rotary.partial_rotary(k, j, 2 * n, scaled_base)))
print(f"a_ij, p-RoPE:                                  {a_p_rope:.12f}")
print(f"a_ij, partial rotary, base {scaled_base:.0f}, permuted: {a_partial:.12f}")
print(f"a_ij, partial rotary, same weights unpermuted: {a_unpermuted:.12f}")

# %% [markdown]
# Same function, different weights: a checkpoint trained with one cannot be loaded into the
# other without permuting the rows of $W_Q$ and $W_K$.
#
# ## Reversed p-RoPE gives up the cheap positional heads
#
# A sharp diagonal head (every token attends to itself with weight at least $1-\varepsilon$)
# is built from $q = k = s\psi$ with $\psi$ spread evenly over a band of 16 pairs. Its logit
# at distance $r$ is $s^2 \sum_m |\psi_m|^2 \cos(r g_m)$; the smallest $s^2$ that makes every
# row of an $N$-token head $\varepsilon$-sharp depends on how fast the band turns
# (`ropelab explain head_norm_grows_as_inverse_square_frequency`: it grows like $g^{-2}$).

# %%
def cheapest_sharp_head(freqs: np.ndarray, context: int, eps: float) -> float:
    """Smallest s^2 of an eps-sharp diagonal head on the 16 fastest rotating pairs of a schedule."""
    psi = positional_heads.band_vector(d, np.flatnonzero(freqs > 0)[:16])
    return positional_heads.smallest_sharp_scale(psi, freqs, context, eps).scale_squared


context, eps = 4096, 0.01
reversed_freqs = frequencies.reversed_p_rope(d, theta, p)
cost_p_rope = cheapest_sharp_head(one_line, context, eps)
cost_reversed = cheapest_sharp_head(reversed_freqs, context, eps)
print(f"fastest pair: p-RoPE {one_line.max():.3g}, reversed {reversed_freqs.max():.3g} rad/token")
print(f"smallest s^2 for an {eps}-sharp diagonal head over {context} tokens: "
      f"p-RoPE {cost_p_rope:.1f}, reversed {cost_reversed:.1f} ({cost_reversed / cost_p_rope:.0f}x)")

# %% [markdown]
# ## What training says, at small scale
#
# `ropelab experiment table2` trains small byte-level language models that differ only in the
# positional encoding (4 seeds, paired: the same weights and batches for every variant of a
# seed; bases matched to the paper's share of pairs that turn within the context) and reports
# validation perplexity at the training length T and beyond it. The package ships its
# reported results; the paired difference in loss from RoPE, with a 95% interval, says which
# gaps are resolved.

# %%
from ropelab.checks.findings import table2

results = table2.load_results()
variants = results["summary"]["variants"]


def gap_text(variant: str, multiple: str) -> str:
    gap = variants[variant]["nll_minus_reference"][multiple]
    return f"{gap['mean']:+.3f} nats [{gap['ci_low']:+.3f}, {gap['ci_high']:+.3f}]"


for variant in ("nope", "rope_10k", "p_rope_0.75", "partial_0.75", "reversed_0.75"):
    at_t, at_8t = variants[variant]["perplexity"]["1"], variants[variant]["perplexity"]["8"]
    vs = "the reference" if variant == table2.REFERENCE else f"at T {gap_text(variant, '1')}, at 8T {gap_text(variant, '8')}"
    print(f"{variant:14s} perplexity at T {at_t['mean']:.3f}, at 8T {at_8t['mean']:.2f}; vs RoPE: {vs}")

# %% [markdown]
# At the training length, p-RoPE, partial rotary and even the reversed variant are within
# about 0.01 nats/byte of RoPE, and none of these gaps is resolved with four seeds. Beyond
# it, removing the fastest quarter (reversed) costs the most in every seed (at 8T its loss is
# 0.79-1.12 nats/byte above RoPE's, with a 95% interval), in line with the price of positional
# heads above; why the loss grows beyond T is not measured here (`ropelab explain table2`
# states the set-up, the power and its caveats).
#
# ## Conclusion
#
# p-RoPE is one line; its frozen pairs are position-free channels; partial rotary keeps the
# slow pairs p-RoPE removes, although with a scaled base and a permutation it is the same
# function; and reversing p-RoPE makes positional heads far more expensive, which training at
# small scale shows beyond the training length.

# %%
assert spread <= 1e-12 * np.linalg.norm(q) * np.linalg.norm(k)  # float64 rounding of a dot product
assert partial.min() < kept.min() / 5  # partial rotary turns at least 5x slower at its slowest
assert abs(a_partial - a_p_rope) <= 1e-9 * np.linalg.norm(q) * np.linalg.norm(k)
assert abs(a_unpermuted - a_p_rope) > 1.0  # without the permutation the weights mean something else
assert cost_reversed > 20 * cost_p_rope
assert variants["reversed_0.75"]["nll_minus_reference"]["8"]["ci_low"] > 0  # resolved at 8T: reversed is worse
assert all(variants[v]["nll_minus_reference"]["8"]["mean"] < variants["reversed_0.75"]["nll_minus_reference"]["8"]["mean"]
           for v in ("nope", "p_rope_0.75", "partial_0.75"))
print("conclusion holds")

# %% [markdown]
# ## Exercise
#
# With $d = 256$, $\theta = 10^4$ and $p = 0.75$, which is the slowest pair p-RoPE still
# rotates, and after how many tokens does it stop working as a semantic channel against an
# anti-aligned rival (example 05)? How does that compare with RoPE's slowest pair, and what
# happens to the 32 frozen pairs?
#
# <details markdown="1"><summary>Solution</summary>
#
# The kept pairs are $m < n = 96$, so the slowest is $m = 95$ with
# $g = 10^{4 \cdot (-190/256)} \approx 1.07\times 10^{-3}$: it breaks after about
# $\pi/(2g) \approx 1{,}500$ tokens, against about 14,600 for RoPE's slowest pair
# ($m = 127$). The frozen pairs never break: p-RoPE trades the slow pairs' long but finite
# semantic range for pairs that match content at any distance.
#
# </details>

# %%
from ropelab.theory import semantic_channels

slowest_kept = float(one_line[n - 1])
breaks_kept = semantic_channels.semantic_range(slowest_kept)
breaks_rope = semantic_channels.semantic_range(float(rope_freqs[-1]))
print(f"slowest rotating pair of p-RoPE: m = {n - 1}, g = {slowest_kept:.3e}, breaks after {breaks_kept:,} tokens "
      f"(pi / 2g = {np.pi / (2 * slowest_kept):,.0f}); RoPE's slowest: {breaks_rope:,}")
assert n - 1 == 95 and abs(slowest_kept - 10_000 ** (-190 / 256)) < 1e-15
assert abs(breaks_kept - np.pi / (2 * slowest_kept)) < 0.01 * breaks_kept and breaks_kept < breaks_rope / 5
assert np.all(one_line[n:] == 0.0)  # frozen: no rotation, so no breaking context
print("exercise solved")

# %% [markdown]
# ## What you now know
#
# - p-RoPE keeps the fastest $\lfloor pd/2 \rfloor$ frequencies of the full schedule and
#   freezes the rest; frozen pairs are position-free semantic channels that never break.
# - Partial rotary keeps the slow pairs; it equals p-RoPE only with a scaled base and a
#   permutation of the coordinates.
# - Reversed p-RoPE freezes the fast pairs and makes positional heads far more expensive;
#   small-scale training shows the price beyond the training length.
#
# Next: [07](07_is_my_base_large_enough.md) turns all of this into a check of your own
# configuration.
