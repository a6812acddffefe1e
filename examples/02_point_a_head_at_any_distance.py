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
# # Pointing a logit at any distance, and what its margin depends on
#
# *Needs:* [00](00_rope_from_scratch.md) (the rotation $R^r$ and the curve
# $c(t) = q^\top R^{-t} k$).
#
# Proposition 3.1 of the paper: for any nonzero query $q$ and any distance $r \ge 0$, the key
# $k = R^{r} q$, placed at every position, makes the logit at distance $r$ the unique
# maximum over all keys $j \le i$. The logit at distance $t$ is
#
# $$c(t) = q^\top R^{-t} R^{r} q = \sum_m |q_m|^2 \cos\big((r - t)\, g_m\big) \le |q|^2,$$
#
# with equality only at $t = r$: a cosine equals 1 only at a multiple of $2\pi$, and
# $(r-t)\,g_m$ never is one for a nonzero integer $r - t$ (Lemma A.1; $g_1 = 1$ and $\pi$ is
# transcendental). So RoPE can aim a logit at *any* distance, near or far
# (`ropelab explain rotated_key_maximises_logit_at_distance`). How far the maximum stands
# above the runner-up, its *margin*, is what a softmax can later use; this example measures it.

# %%
import os
import tempfile
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # angles r * g in float64 (a script is a process edge)

import matplotlib.pyplot as plt
import numpy as np

from ropelab.constructions import frequencies, positional_heads, relative_position, rotary
from ropelab.theory import diophantine

OUT = Path(os.environ.get("ROPELAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="ropelab-example-"))
print(f"figures in {OUT}")
rng = np.random.default_rng(2)

# %% [markdown]
# ## The maximum sits at $r$, for any query
#
# A random query, a few head sizes and bases, distances from 0 to $10^5$.

# %%
found = []
for d, theta, r, context in [(8, 1e4, 0, 1000), (64, 1e4, 37, 5000), (256, 5e5, 4000, 8192),
                             (64, 1e4, 100_000, 200_000)]:
    freqs = frequencies.rope(d, theta)
    q = rng.standard_normal(d)
    curve = relative_position.logit_curve(q, np.asarray(rotary.apply(q, r, freqs)), freqs, context)
    margin = curve[r] - np.max(np.delete(curve, r))
    found.append((r, int(curve.argmax()), margin))
    print(f"d={d:3d} theta={theta:.0e} r={r:6d} over {context:6d} keys: argmax {curve.argmax():6d}, "
          f"c(r) = {curve[r]:.3f} = |q|^2 = {q @ q:.3f}, margin to the runner-up {margin:.2e}")

# %% [markdown]
# ## The wrong way round points at the future
#
# With $k = R^{-r} q$ the maximum would be at $t = -r$, a key $r$ positions *ahead*, which a
# causal head never sees. Among the keys it does see, the best one is not at distance $r$.

# %%
d, theta, r = 64, 1e4, 37
freqs = frequencies.rope(d, theta)
q = rng.standard_normal(d)
aimed = relative_position.logit_curve(q, np.asarray(rotary.apply(q, r, freqs)), freqs, 400)
turned_back = rotary.rotation_matrix(r, freqs).T @ q  # R^(-r) q = (R^r)^T q
backwards = relative_position.logit_curve(q, turned_back, freqs, 400)
print(f"k = R^(-r) q: argmax over the past at distance {backwards.argmax()} (wanted {r})")

fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(aimed, label=r"$k = R^{r} q$: peak at $t = r$")
ax.plot(backwards, label=r"$k = R^{-r} q$: no peak at $r$", alpha=0.7)
ax.axvline(r, color="grey", ls=":")
ax.set(xlabel="distance t", ylabel="logit c(t)", title=f"aiming at r = {r} (d = {d})")
ax.legend()
fig.savefig(OUT / "02_aimed_logit.png", dpi=100, bbox_inches="tight")

# %% [markdown]
# ## The margin shrinks with the context: near-returns
#
# The margin shrinks as the context grows, because somewhere in a long context
# $(r - t)\,g_m$ comes close to a full turn on every pair. For a single frequency $g$ the
# closest return within $N$ tokens, $\delta_N = \min_{n \le N} (1 - \cos n g)$, is reached
# at a continued-fraction convergent of $g/2\pi$
# (`ropelab explain near_returns_at_continued_fraction_convergents`). For $g = 1$:

# %%
returns = {}
for context in (100, 1000, 10**5, 10**6):
    returns[context] = near = diophantine.closest_return(1.0, context)
    print(f"N = {context:>7}: closest return at n = {near.n:6d}, 1 - cos(n) = {near.delta:.2e}")

# %% [markdown]
# ## One frequency alone has a tiny margin; a band does not
#
# Put all of a unit query on one pair $m$ and aim it at the previous token ($r = 1$). A slow
# pair turns little from one token to the next, so its neighbours nearly tie: the margin is
# at most $1 - \cos g_m \approx g_m^2/2$. A fast pair turns a lot, but over 8192 tokens
# $n g_m$ comes back close to a full turn and the token $n$ places further back nearly ties.
# Either way the margin is tiny. Spread over the 16 fastest pairs, the returns of different
# frequencies never coincide, and the margin is about a million times larger.

# %%
d, theta, context = 256, 10_000.0, 8192
freqs = frequencies.rope(d, theta)


def previous_token_margin(psi: np.ndarray) -> float:
    """c(1) - max_{t != 1} c(t) over the context, for q = psi, k = R^1 psi."""
    curve = positional_heads.target_curve(psi, freqs, context, distance=1)
    return float(curve[1] - np.max(np.delete(curve, 1)))


margins = {m: previous_token_margin(positional_heads.band_vector(d, [m])) for m in (0, 4, 16, 48)}
band_margin = previous_token_margin(positional_heads.band_vector(d, range(16)))
for m, value in margins.items():
    print(f"pair {m:2d} alone (g = {freqs[m]:.3g}): margin {value:.2e}")
print(f"the 16 fastest pairs together: margin {band_margin:.3f}")

fig, ax = plt.subplots(figsize=(6, 3))
ax.bar([f"pair {m}" for m in margins] + ["top 16"], [*margins.values(), band_margin], color="tab:blue")
ax.set(yscale="log", ylabel="margin of the previous token", title="over 8192 tokens, d = 256")
fig.savefig(OUT / "02_margins.png", dpi=100, bbox_inches="tight")

# %% [markdown]
# ## Conclusion
#
# $k = R^r q$ makes distance $r$ the unique maximum for every query, size and base tried,
# even 100,000 tokens back; turning the key the wrong way loses it. The margin over the
# runner-up is set by near-returns: tiny for any single frequency, large for a band of fast
# ones. The next example turns the margin into a sharp head.

# %%
assert all(argmax == r and margin > 0 for r, argmax, margin in found)
assert aimed.argmax() == 37 and backwards.argmax() != 37
assert [returns[n].n for n in (1000, 10**6)] == [710, 312689]
assert all(value < 1e-6 for value in margins.values()) and band_margin > 1e5 * max(margins.values())
print("conclusion holds")

# %% [markdown]
# ## Exercise
#
# With nothing but NumPy, find the $n \le 1000$ at which $\cos n$ is closest to 1 (the
# closest return of $g = 1$ in 1000 tokens), and explain the answer with a famous fraction
# for $\pi$.
#
# <details markdown="1"><summary>Solution</summary>
#
# `n = np.arange(1, 1001); n[np.argmax(np.cos(n))]` gives $n = 710$. Since
# $\pi \approx 355/113$ (correct to 7 digits), $710 = 2 \cdot 355 \approx 113 \cdot 2\pi$:
# 710 radians is almost exactly 113 full turns. 710 is a denominator of a convergent of
# $1/2\pi$, as the closest-return search above found.
#
# </details>

# %%
n = np.arange(1, 1001)
best = int(n[np.argmax(np.cos(n))])
print(f"closest return of g = 1 within 1000 tokens: n = {best}; 710 - 113 * 2 pi = {710 - 113 * 2 * np.pi:.2e}")
assert best == 710 == returns[1000].n and abs(710 - 113 * 2 * np.pi) < 1e-3
print("exercise solved")

# %% [markdown]
# ## What you now know
#
# - $k = R^r q$ aims the logit at distance $r$, for any nonzero $q$ and any $r$
#   (Proposition 3.1); $k = R^{-r} q$ aims it at the future.
# - The margin of the maximum is limited by near-returns $1 - \cos(n g) \approx 0$, which fall
#   at continued-fraction convergents of $g/2\pi$.
# - One frequency alone leaves a tiny margin; a band of the fastest pairs a large one.
#   Example [03](03_previous_token_head_by_hand.md) builds the head and prices the margin.
