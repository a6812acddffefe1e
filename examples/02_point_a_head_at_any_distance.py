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
# # Pointing a head at any distance
#
# Proposition 3.1 of the paper: for any nonzero query $q$ and any distance $r \ge 0$, the key
# $k = R^{r} q$, placed at every position, makes the logit at distance $r$ the unique
# maximum over all keys $j \le i$. The logit at distance $t$ is
#
# $$c(t) = q^\top R^{-t} R^{r} q = \sum_m |q_m|^2 \cos\big((r - t)\, g_m\big) \le |q|^2,$$
#
# with equality only at $t = r$: a cosine equals 1 only at a multiple of $2\pi$, and
# $(r-t)\,g_m$ never is one for a nonzero integer $r - t$ (Lemma A.1; $g_1 = 1$ and $\pi$ is
# transcendental). So RoPE can aim a head at *any* distance, near or far.

# %%
import jax

jax.config.update("jax_enable_x64", True)  # angles r * g in float64 (a script is a process edge)

import numpy as np

from ropelab.constructions import attention, frequencies, positional_heads, relative_position, rotary
from ropelab.theory import diophantine

rng = np.random.default_rng(2)

# %% [markdown]
# ## The maximum sits at $r$, for any query
#
# A random query, a few head sizes and bases, distances from 0 to $10^5$.

# %%
found = []
for d, theta, r, context in [(8, 1e4, 0, 1000), (64, 1e4, 37, 5000), (256, 5e5, 4000, 8192),
                             (64, 1e4, 100_000, 200_000)]:
    q = rng.standard_normal(d)
    curve = relative_position.logit_curve(q, np.asarray(rotary.apply(q, r, frequencies.rope(d, theta))),
                                 frequencies.rope(d, theta), context)
    margin = curve[r] - np.max(np.delete(curve, r))
    found.append((r, int(curve.argmax()), margin))
    print(f"d={d:3d} theta={theta:.0e} r={r:6d} over {context:6d} keys: argmax {curve.argmax():6d}, "
          f"c(r) = {curve[r]:.3f} = |q|^2 = {q @ q:.3f}, margin to the runner-up {margin:.2e}")

# %% [markdown]
# The margin to the runner-up is what a softmax can use. It shrinks as the context grows,
# because somewhere in a long context $(r - t)\,g_m$ comes close to a full turn on every pair.
# For a single frequency $g$ the closest return within $N$ tokens is a continued-fraction
# convergent of $g/2\pi$; for $g = 1$:

# %%
for context in (100, 1000, 10**5, 10**6):
    near = diophantine.closest_return(1.0, context)
    print(f"N = {context:>7}: closest return at n = {near.n:6d}, 1 - cos(n) = {near.delta:.2e}")

# %% [markdown]
# ## The wrong way round points at the future
#
# With $k = R^{-r} q$ the maximum would be at $t = -r$, a key $r$ positions *ahead*, which a
# causal head never sees. Among the keys it does see, the best one is not at distance $r$.

# %%
d, theta, r = 64, 1e4, 37
freqs = frequencies.rope(d, theta)
q = rng.standard_normal(d)
turned_back = rotary.rotation_matrix(r, freqs).T @ q  # R^(-r) q = (R^r)^T q
backwards = relative_position.logit_curve(q, turned_back, freqs, 5000)
print(f"k = R^(-r) q: argmax over the past at distance {backwards.argmax()} (wanted {r})")

# %% [markdown]
# ## From a logit to an attention head
#
# Scale the query and key, $q = s\psi$ and $k = s R^r \psi$: every logit is multiplied by
# $s^2$, so the softmax puts more and more of each row's weight on the key $r$ behind. We
# use a $\psi$ spread over the 16 fastest pairs (the next example explains why) and report
# the smallest weight on distance $r$ over all rows of a 2048-token head.

# %%
d, theta, r, context = 256, 1e4, 100, 2048
freqs = frequencies.rope(d, theta)
psi = positional_heads.band_vector(d, range(16))  # unit norm, equal weight on the 16 fastest pairs
unit_curve = positional_heads.target_curve(psi, freqs, context, distance=r)  # the logit at s = 1
weights = {}
for s2 in (1, 3, 10, 30, 100):
    weights[s2] = relative_position.weight_at_distance(s2 * unit_curve, r).min()
    print(f"s^2 = {s2:3d}: every row puts at least {weights[s2]:.6f} on the key {r} behind "
          f"(at most {1 - weights[s2]:.1e} elsewhere)")

# %% [markdown]
# The same head built densely, as an $N \times N$ attention matrix over a short sequence,
# agrees with the curve: its $r$-th sub-diagonal carries the weight.

# %%
n, s2 = 160, 30
q, k = positional_heads.head_vectors(psi, freqs, np.sqrt(s2), distance=r)  # q = s psi, k = s R^r psi
alpha = np.asarray(attention.attention_weights(np.tile(q, (n, 1)), np.tile(k, (n, 1)), freqs))
dense = alpha[np.arange(r, n), np.arange(0, n - r)]
from_curve = relative_position.weight_at_distance(s2 * unit_curve[:n], r)
print(f"dense vs curve, weight on distance {r} in rows {r}..{n - 1}: max difference "
      f"{np.max(np.abs(dense - from_curve)):.1e}")

# %% [markdown]
# ## Conclusion
#
# $k = R^r q$ makes distance $r$ the unique maximum for every query, size and base tried,
# even 100,000 tokens back; turning the key the wrong way loses it; and scaling turns the
# maximum into a head that attends to the key $r$ behind in every row.

# %%
assert all(argmax == r and margin > 0 for r, argmax, margin in found)
assert backwards.argmax() != 37
assert all(weights[a] < weights[b] for a, b in ((1, 3), (3, 10), (10, 30), (30, 100)))
assert weights[30] > 0.99
assert np.max(np.abs(dense - from_curve)) < 1e-12  # two float64 computations of one softmax
print("conclusion holds")
