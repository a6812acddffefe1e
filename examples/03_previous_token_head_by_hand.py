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
# # A previous-token head by hand, and why one frequency is not enough
#
# Theorem 5.3 of the paper builds positional heads from RoPE alone. Give every token the
# query $q = s\psi$ and the key $k = s R^{1}\psi$. The logit between tokens $r$ apart is
#
# $$a_{i,i-r} = s^2 \sum_m w_m \cos\big((r - 1)\, g_m\big), \qquad w_m = |\psi_m|^2,$$
#
# largest at $r = 1$, the previous token; as $s$ grows the softmax puts almost all of each
# row's weight there. How large must $s$ be? That depends on which pairs $\psi$ uses, and the
# answer is why trained models keep their highest frequencies for positional work.

# %%
import jax

jax.config.update("jax_enable_x64", True)  # angles r * g in float64 (a script is a process edge)

import mpmath
import numpy as np

from ropelab.constructions import attention, frequencies, positional_heads, relative_position, rotary
from ropelab.theory import diophantine

d, theta, context, eps = 256, 10_000.0, 8192, 0.01
freqs = frequencies.rope(d, theta)

# %% [markdown]
# ## Build it
#
# Spread $\psi$ evenly over the 16 fastest pairs and look at the first rows of the head.

# %%
band = positional_heads.band_vector(d, range(16))  # unit psi, equal weight on pairs 0..15
sharp = positional_heads.smallest_sharp_scale(band, freqs, context, eps, distance=1)
s2_band = sharp.scale_squared
q, k = positional_heads.head_vectors(band, freqs, sharp.scale, distance=1)  # q = s psi, k = s R^1 psi
n = 6
alpha = np.asarray(attention.attention_weights(np.tile(q, (n, 1)), np.tile(k, (n, 1)), freqs))
print(f"smallest s^2 = {s2_band:.2f} (|q| = {sharp.scale:.2f}); Theorem 5.3's sufficient s^2 = "
      f"{sharp.sufficient_scale_squared:.2f}; the first {n} rows of the head:")
print(np.array2string(alpha, precision=3, suppress_small=True))

# %% [markdown]
# Row 0 has only itself to attend to; every later row puts at least $1 - \varepsilon = 0.99$
# on the token just before it, and that stays true for every row of an 8192-token context.
# Theorem 5.3's explicit scale $s^2 = \ln\big((N-1)(1-\varepsilon)/\varepsilon\big)/\delta_N$
# is sufficient; the smallest one is found by bisection on the last row, the hardest.
# (`ropelab explain rope_head_can_be_previous_token` checks this for every row up to $10^6$.)
#
# ## The convention of Figure 1 points the other way
#
# Figure 1 of the paper gives the rotated vector to the *query*: $q = R^1\psi$, $k = \psi$.
# Then the logit is $\sum_m w_m \cos((r + 1) g_m)$, largest at $r = -1$: the next token,
# which a causal head cannot see (erratum E1). Among the visible keys it prefers the
# diagonal, so this convention builds a diagonal head instead
# (`ropelab explain figure_1_convention_attends_to_future`).

# %%
figure_1 = relative_position.logit_curve(np.asarray(rotary.apply(band, 1, freqs)), band, freqs, context)
print(f"q = R psi, k = psi: the largest visible logit is at distance {figure_1.argmax()}")

# %% [markdown]
# ## One frequency at a time
#
# Now put all of $\psi$ on a single pair $m$. Two things make this expensive. A slow pair
# turns little from one token to the next, so the previous token barely out-scores the
# others: the gap is about $g_m^2/2$. A fast pair turns a lot, but over a long context
# $n g_m$ comes back close to a full turn, and the token $n$ places further back nearly ties.

# %%
single = {}
for m in (0, 4, 16, 48):
    single[m] = positional_heads.smallest_sharp_scale(positional_heads.band_vector(d, [m]), freqs, context, eps, distance=1).scale_squared
    near = diophantine.closest_return(freqs[m], context - 2)
    print(f"pair {m:2d} alone (g = {freqs[m]:.3g}): smallest s^2 = {single[m]:.3g}; "
          f"its closest return within the context: {near.n} steps, 1 - cos = {near.delta:.2e}")

# %% [markdown]
# For $g = 1$ the near-returns are the continued-fraction convergents of $1/2\pi$: the steps
# $n$ at which $1 - \cos n$ sets a new record low are exactly those denominators
# (`ropelab explain near_returns_at_continued_fraction_convergents`).

# %%
lows = diophantine.record_lows(1.0, 200_000)
with mpmath.workdps(diophantine.DIGITS):
    convergents = diophantine.convergent_denominators(1 / (2 * mpmath.pi), 200_000)
print("record lows of 1 - cos(n):", lows)
print("convergent denominators of 1/(2 pi):", convergents)

# %% [markdown]
# ## Conclusion
#
# A band of the fastest pairs makes a sharp previous-token head over 8192 tokens with
# $|q| \approx 5$; any single pair needs $s^2$ in the hundreds of thousands or more, because
# one frequency either turns too slowly or keeps coming back. The different frequencies of a
# band never return at the same time, which is what makes the band cheap
# (`ropelab explain top_frequency_band_makes_sharp_head_cheaply`).

# %%
assert np.all(alpha[np.arange(1, n), np.arange(0, n - 1)] >= 1 - eps)
assert figure_1.argmax() == 0  # Figure 1's convention: a diagonal head, not a previous-token one
assert 10 < s2_band < 30
assert all(s2 > 1e5 for s2 in single.values())
assert set(lows) <= set(convergents) and {6, 19, 25, 44, 333, 710, 103993} <= set(lows)
print("conclusion holds")
