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
# # A previous-token head by hand
#
# *Needs:* [00](00_rope_from_scratch.md) (writing RoPE) and [02](02_point_a_head_at_any_distance.md)
# (aiming a logit, its margin).
#
# Theorem 5.3 of the paper builds positional heads from RoPE alone. Give every token the
# query $q = s\psi$ and the key $k = s R^{1}\psi$. The logit between tokens $t$ apart is
#
# $$a_{i,i-t} = s^2 \sum_m w_m \cos\big((t - 1)\, g_m\big) = s^2 c(t), \qquad w_m = |\psi_m|^2,$$
#
# largest at $t = 1$, the previous token. As $s$ grows the softmax puts almost all of each
# row's weight there. We build the head ourselves, with the rotation written out, and find by
# hand how large $s$ must be for every row of an 8192-token context to put at least
# $1 - \varepsilon = 0.99$ on its previous token.

# %%
import os
import tempfile
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # angles r * g in float64 (a script is a process edge)

import matplotlib.pyplot as plt
import numpy as np

OUT = Path(os.environ.get("ROPELAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="ropelab-example-"))
print(f"figures in {OUT}")
d, theta, context, eps = 256, 10_000.0, 8192, 0.01

# %% [markdown]
# ## The rotation, and $\psi$ on the fastest pairs
#
# As in example 00 (half layout: pair $m$ is $(x_m, x_{m+d/2})$). $\psi$ has equal weight
# $w_m = 1/16$ on the 16 fastest pairs, so $|\psi| = 1$ and $s$ is the norm of the query.

# %%
g = theta ** (-np.arange(0, d, 2) / d)


def rope(x: np.ndarray, position: int) -> np.ndarray:
    a = position * g
    x1, x2 = x[: d // 2], x[d // 2:]
    return np.concatenate([x1 * np.cos(a) - x2 * np.sin(a), x1 * np.sin(a) + x2 * np.cos(a)])


psi = np.zeros(d)
psi[:16] = 1 / 4  # pair m = (psi[m], psi[m + d/2]) = (1/4, 0): w_m = 1/16
w = psi[: d // 2] ** 2 + psi[d // 2:] ** 2

# %% [markdown]
# ## A small head, as a matrix
#
# Every token $i$ carries $R^i q$ and $R^i k$; the causal softmax of
# $(R^i q)^\top (R^j k)$ over $j \le i$ is the attention matrix. With $s^2 = 20$:

# %%
def attention_matrix(s2: float, n: int) -> np.ndarray:
    s = np.sqrt(s2)
    queries = np.stack([rope(s * psi, i) for i in range(n)])
    keys = np.stack([rope(rope(s * psi, 1), j) for j in range(n)])  # k = s R^1 psi, then R^j
    logits = queries @ keys.T
    logits[np.triu_indices(n, 1)] = -np.inf  # causal: no key after the query
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


alpha = attention_matrix(20.0, 24)
print(np.array2string(alpha[:6, :6], precision=3, suppress_small=True))
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(alpha, cmap="Greys")
ax.set(xlabel="key j", ylabel="query i", title=r"previous-token head, $s^2 = 20$")
fig.savefig(OUT / "03_head.png", dpi=100, bbox_inches="tight")

# %% [markdown]
# Row 0 has only itself to attend to; every later row puts its weight on the sub-diagonal,
# the token just before it.
#
# ## How large must $s$ be? By hand
#
# Row $i$ sees distances $t = 0 .. i$, and its weight on the previous token is
# $1 / \sum_{t \le i} e^{s^2 (c(t) - c(1))}$. The sum only grows with $i$, so the last row is
# the hardest. Bisect on $s^2$ until that row's weight is $1 - \varepsilon$.

# %%
t = np.arange(context)
c = np.cos(np.outer(t - 1, g[:16])) @ w[:16]  # c(t), only the 16 pairs psi uses


def last_row_weight(s2: float) -> float:
    return 1 / np.sum(np.exp(s2 * (c - c[1])))


low, high = 0.0, 1000.0
for _ in range(60):
    middle = (low + high) / 2
    low, high = (middle, high) if last_row_weight(middle) < 1 - eps else (low, middle)
s2_by_hand = high
margin = c[1] - np.max(np.delete(c, 1))
sufficient = np.log((context - 1) * (1 - eps) / eps) / margin
print(f"smallest s^2 by bisection: {s2_by_hand:.3f}; Theorem 5.3's sufficient s^2 = "
      f"ln((N-1)(1-eps)/eps) / margin = {sufficient:.2f} (margin {margin:.3f})")

s2_grid = np.linspace(1, 40, 80)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(s2_grid, [last_row_weight(s) for s in s2_grid])
ax.axhline(1 - eps, color="grey", ls=":")
ax.axvline(s2_by_hand, color="tab:red", ls="--", label=f"smallest $s^2$ = {s2_by_hand:.1f}")
ax.set(xlabel="$s^2$", ylabel="weight on the previous token", title=f"the hardest row of {context} tokens")
ax.legend()
fig.savefig(OUT / "03_scale.png", dpi=100, bbox_inches="tight")

# %% [markdown]
# Theorem 5.3's explicit scale is sufficient, not the smallest: it pretends every one of the
# $N - 1$ rivals is as close as the runner-up. The margin from example 02 sets the price:
# $s^2 \approx \ln(N/\varepsilon)/\text{margin}$, which is why a tiny single-frequency margin
# would need an enormous query.
#
# ## Checked against ropelab
#
# `positional_heads.smallest_sharp_scale` does the same search (Brent's method on the last
# row, then a check of every row); `attention.attention_weights` builds the matrix.
# (`ropelab explain rope_head_can_be_previous_token` checks every row up to $10^6$ tokens, and
# `ropelab explain top_frequency_band_makes_sharp_head_cheaply` prices bands against single pairs.)

# %%
from ropelab.constructions import attention, frequencies, positional_heads

band = positional_heads.band_vector(d, range(16))
sharp = positional_heads.smallest_sharp_scale(band, frequencies.rope(d, theta), context, eps, distance=1)
q, k = positional_heads.head_vectors(band, frequencies.rope(d, theta), np.sqrt(20.0), distance=1)
library_alpha = np.asarray(attention.attention_weights(np.tile(q, (24, 1)), np.tile(k, (24, 1)), frequencies.rope(d, theta)))
print(f"ropelab: smallest s^2 = {sharp.scale_squared:.3f}, sufficient {sharp.sufficient_scale_squared:.2f}; "
      f"attention matrices differ by at most {np.max(np.abs(library_alpha - alpha)):.1e}")

# %% [markdown]
# ## Conclusion
#
# Sixteen fast pairs and a query of norm about 5 make a head that puts at least 99% of
# every row's weight on the previous token, over 8192 tokens; our bisection and ropelab's
# agree, and Theorem 5.3's explicit scale is larger but of the same order.

# %%
assert np.all(alpha[np.arange(1, 24), np.arange(0, 23)] > 0.9)
assert abs(s2_by_hand - sharp.scale_squared) < 1e-3 * sharp.scale_squared
assert 10 < s2_by_hand < sufficient and abs(sufficient - sharp.sufficient_scale_squared) < 1e-6 * sufficient
assert np.max(np.abs(library_alpha - alpha)) < 1e-9
print("conclusion holds")

# %% [markdown]
# ## Exercise
#
# Figure 1 of the paper gives the rotation to the *query* instead: $q = R^1\psi$, $k = \psi$.
# Using your `rope` above, compute the logit $q^\top R^{-t} k$ at distances $t = 0 .. 8191$
# (or build the matrix with the roles swapped). Which visible key gets the largest logit?
# What kind of head is this?
#
# <details markdown="1"><summary>Solution</summary>
#
# Now $c(t) = \sum_m w_m \cos\big((t + 1) g_m\big)$, largest at $t = -1$: the *next* token,
# which a causal head cannot see. Among the visible keys ($t \ge 0$) the largest is at
# $t = 0$, so this convention builds a diagonal head, not a previous-token head: erratum E1
# (`ropelab explain figure_1_convention_attends_to_future`).
#
# </details>

# %%
swapped = np.array([rope(psi, 1) @ rope(psi, -distance) for distance in range(context)])  # q^T R^-t k
print(f"q = R psi, k = psi: the largest visible logit is at distance {swapped.argmax()}")
assert swapped.argmax() == 0 and np.allclose(swapped, np.cos(np.outer(t + 1, g[:16])) @ w[:16])
print("exercise solved")

# %% [markdown]
# ## What you now know
#
# - A positional head is $q = s\psi$, $k = sR^t\psi$ for every token; the scale $s$ turns the
#   logit's maximum into attention weight (Theorem 5.3).
# - The smallest sufficient $s^2$ is found on the last row, the hardest one, and costs about
#   $\ln(N/\varepsilon)$ divided by the margin: cheap for a band of fast pairs.
# - Which vector carries the rotation matters: rotating the query points the head at the
#   future (erratum E1). Example [04](04_nope_cannot_and_bos.md) shows what a head without
#   RoPE cannot do.
