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
# # When a semantic channel breaks, and what the base buys
#
# *Needs:* [00](00_rope_from_scratch.md) (pairs turning at $g_m$) and
# [02](02_point_a_head_at_any_distance.md) (logits as sums of cosines).
#
# A slowly turning pair can match keys by content: over a short context its angle hardly
# moves, so a key aligned with the query keeps the highest logit. Theorem 6.1 of the paper
# says this cannot last. With one pair of frequency $g \ne 0$, a query $(1, 0)$, the intended
# key $(1, 0)$ and a rival key at angle $\phi$ from it (equal norms), a long enough context
# has an arrangement where the rival out-scores the target, so the target gets at most half
# of the weight (Lemma A.3). Both keys only need to turn half the angle between them:
#
# $$N^* \approx \frac{\phi}{2g} \quad\text{tokens}, \qquad \text{anti-aligned } (\phi = \pi):\ N^* \approx \frac{\pi}{2g}.$$

# %%
import jax

jax.config.update("jax_enable_x64", True)  # angles r * g in float64 (a script is a process edge)

import math
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from ropelab.checks.findings import zoo
from ropelab.constructions import configs, frequencies
from ropelab.constructions import semantic_channels as channels
from ropelab.theory import semantic_channels

OUT = Path(os.environ.get("ROPELAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="ropelab-example-"))
print(f"figures in {OUT}")

# %% [markdown]
# ## The closed form against a brute-force search
#
# `semantic_channels.breaking_context` is the exact closed form; `channels.breaking_context`
# streams every distance and every placement of target and rival and returns the first
# context in which the rival wins.

# %%
g = 0.01
agree = []
for phi in (math.pi, math.pi / 2, math.pi / 4, 0.1):
    closed = semantic_channels.breaking_context(g, phi)
    found = channels.breaking_context(g, phi)
    agree.append(closed == found.context)
    print(f"phi = {phi:.3f}: closed form N* = {closed}, brute force N* = {found.context} "
          f"(target at distance {found.target_distance}, rival at {found.rival_distance}); phi/(2g) = {phi / (2 * g):.0f}")

# %% [markdown]
# At $N^*$ one rival's logit is above the target's, so the target's weight is below one half
# however large the query (Lemma A.3): a sharper softmax cannot rescue it, only bring it
# closer to a tie.

# %%
broken = channels.breaking_context(g, math.pi)
weights = [channels.target_weight(g, math.pi, 1.0, broken.context, broken.target_distance, scale=s)
           for s in (1.0, 10.0, 100.0)]
print("target weight at N* for query norms 1, 10, 100:", [f"{w:.3g}" for w in weights])

# %% [markdown]
# ## The range grows like $1/g$
#
# Every pair of a $d = 256$, $\theta = 10^4$ head has its own breaking context against an
# anti-aligned rival. A log-log fit over the slow pairs gives a slope of $-1$; a pair that does
# not rotate ($g = 0$, as in p-RoPE) never breaks.

# %%
freqs = frequencies.rope(256, 10_000.0)
slow = freqs[freqs <= 0.01]
ranges = np.array([semantic_channels.semantic_range(float(f)) for f in slow])
fit = stats.linregress(np.log(slow), np.log(ranges))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(slow, ranges, "o", ms=3, label="breaking context of each pair")
ax.loglog(slow, np.pi / (2 * slow), "-", lw=0.8, label=r"$\pi / (2g)$")
ax.set(xlabel="frequency g of the pair", ylabel="tokens until it breaks", title="d = 256, theta = 1e4")
ax.legend()
fig.savefig(OUT / "05_breaking_context.png", dpi=100, bbox_inches="tight")
print(f"{slow.size} pairs with g <= 0.01: breaking contexts {ranges.min():.0f} .. {ranges.max():.0f} tokens; "
      f"log-log slope {fit.slope:.3f}")
print(f"Gemma 7B's slowest pair (g = {freqs[-1]:.3g}) breaks at {semantic_channels.semantic_range(float(freqs[-1])):,} tokens")
frozen = channels.breaking_context(0.0, math.pi, limit=10**6)
print("an unrotated pair (g = 0), searched up to 10^6 tokens:", "never breaks" if frozen is None else frozen.context)

# %% [markdown]
# ## What a larger base buys
#
# The slowest pair of a head turns at $g_{d/2} = \theta^{-(d-2)/d}$, so raising the base
# lengthens the slowest channel's range about in proportion. For a $d = 128$ head:

# %%
bases = (1e4, 5e5, 1e6)
slowest_range = {}
for theta in bases:
    slowest = frequencies.rope(128, theta)[-1]
    slowest_range[theta] = semantic_channels.semantic_range(float(slowest))
    print(f"theta = {theta:.0e}: slowest g = {slowest:.3g}, breaks after {slowest_range[theta]:,} tokens")

# %% [markdown]
# ## The zoo: how many channels survive each model's context
#
# `ropelab zoo` prints this table for real configurations; here are a few rows through its
# Python API. "Unbroken" counts the pairs whose breaking context (anti-aligned rival) exceeds
# the model's context; p-RoPE's unrotated pairs never break.

# %%
rows = {}
for name in ("Gemma 7B", "Llama 2 7B", "Llama 3.1 8B", "Gemma 4 global"):
    row = zoo.summarise(configs.ZOO_BY_NAME[name])
    rows[name] = row
    print(f"{name:15s} {row.rope:32s} context {row.context:>7,}: {row.unbroken_channels:3d} of "
          f"{row.head_dim // 2} channels unbroken; slowest rotating pair breaks at {row.slowest_breaks_at:,.0f}")

# %% [markdown]
# ## Conclusion
#
# Every rotating channel breaks once the context reaches about $\phi/(2g)$ tokens, and then the
# intended key gets less than half of the weight at any query norm; the range scales like
# $1/g$, a larger base buys a proportionally longer one, and only unrotated pairs never break.

# %%
assert all(agree)
assert all(w < 0.5 for w in weights)
assert -1.05 <= fit.slope <= -0.95
assert frozen is None
assert slowest_range[1e4] < slowest_range[5e5] < slowest_range[1e6]
assert rows["Gemma 7B"].slowest_breaks_at == 14619 and rows["Gemma 7B"].unbroken_channels < 128
assert rows["Gemma 4 global"].unbroken_channels >= rows["Gemma 4 global"].unrotated_pairs > 0
print("conclusion holds")

# %% [markdown]
# ## Exercise
#
# Your model has head dimension $d = 128$ and base $\theta = 5\times 10^5$. Without ropelab,
# estimate after how many tokens its slowest rotating pair stops working as a semantic
# channel against an anti-aligned rival. Then compare with
# `semantic_channels.semantic_range`.
#
# <details markdown="1"><summary>Solution</summary>
#
# The slowest pair is $m = d/2 - 1$, with $g = \theta^{-(d-2)/d} = (5\times 10^5)^{-126/128}
# \approx 2.4\times 10^{-6}$; it breaks after about $\pi/(2g) \approx 6.4\times 10^5$ tokens.
# The exact count agrees to well under one percent.
#
# </details>

# %%
g_slowest = 5e5 ** (-126 / 128)
estimate = math.pi / (2 * g_slowest)
exact = semantic_channels.semantic_range(float(frequencies.rope(128, 5e5)[-1]))
print(f"slowest g = {g_slowest:.3e}: pi / (2 g) = {estimate:,.0f} tokens; exact {exact:,}")
assert abs(exact - estimate) < 0.01 * estimate and exact == slowest_range[5e5]
print("exercise solved")

# %% [markdown]
# ## What you now know
#
# - A pair of frequency $g$ can match keys by content only over about $\phi/(2g)$ tokens;
#   beyond that a rival at angle $\phi$ wins, and no query norm rescues the target
#   (Theorem 6.1, Lemma A.3). For the slowest pair of a head, $N^* \approx \pi/(2g)$.
# - The range scales like $1/g$; a larger base makes the slowest pairs slower and the
#   range proportionally longer; unrotated pairs never break.
#
# Next: [06](06_p_rope_partial_rotary_reversed.md), which stops the slowest pairs from rotating.
