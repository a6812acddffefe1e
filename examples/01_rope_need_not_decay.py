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
# # Why RoPE need not decay
#
# *Needs:* [00](00_rope_from_scratch.md) (the rotation and the logit at a distance).
#
# A common belief is that RoPE makes attention fade with distance. The paper (Section 3)
# shows that this depends entirely on the queries and keys. With identical tokens, the logit
# at distance $r = i - j$ is a curve
#
# $$c(r) = q^\top R^{-r} k = \sum_m A_m \cos(r g_m) + B_m \sin(r g_m),$$
#
# where $A_m, B_m$ come from pair $m$ of $q$ and $k$. We look at three choices: all-ones
# $q = k$ (the curve that is usually drawn), independent Gaussian $q, k$, and a key aligned
# with the query at a chosen distance. Head dimension $d = 256$, base $\theta = 10^4$.

# %%
import jax

jax.config.update("jax_enable_x64", True)  # angles r * g in float64 (a script is a process edge)

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ropelab.constructions import frequencies, relative_position, rotary

OUT = Path(os.environ.get("ROPELAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="ropelab-example-"))
print(f"figures in {OUT}")

d, theta, length = 256, 10_000.0, 5001
freqs = frequencies.rope(d, theta)
rng = np.random.default_rng(1)
pair_coefficients = np.vectorize(relative_position.pair_coefficients, signature="(d),(d)->(h),(h)")


def logits_at(A: np.ndarray, B: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """c(r) for many (q, k) at once: A, B are (draws, d/2) pair coefficients; returns (draws, r)."""
    angle = np.outer(freqs, distances)  # float64, exact integer distances
    return A @ np.cos(angle) + B @ np.sin(angle)

# %% [markdown]
# ## All-ones: the decay everyone draws
#
# With $q = k = \mathbf{1}$ every pair contributes $A_m = 2$, so
# $A(r) = c(r)/d = \frac{2}{d}\sum_m \cos(r g_m)$. Plotted over 5000 tokens, it starts at 1
# and its swings shrink with distance.

# %%
ones = np.ones(d)
all_ones = relative_position.logit_curve(ones, ones, freqs, length) / d
windows = [np.abs(all_ones[w:w + 1000]).mean() for w in range(0, 5000, 1000)]  # mean |A| per window
print(f"all-ones A(0) = {all_ones[0]:.3f}, A(500) = {all_ones[500]:.3f}, A(4500) = {all_ones[4500]:.3f}")

# %% [markdown]
# ## Independent Gaussian queries and keys: no decay
#
# Draw one Gaussian $q$ and one Gaussian $k$ and repeat them over the whole sequence. The
# curve oscillates, but its size at distance 4000-5000 is the same as at distance 1-1000.
# Over 256 draws the ratio of the mean squares is close to 1 (an estimate from 64 draws
# scatters by about 10% from seed to seed, one from 256 draws by about 5%).

# %%
curves = logits_at(*pair_coefficients(rng.standard_normal((256, d)), rng.standard_normal((256, d))),
                   np.arange(length))
gaussian_ratio = np.mean(curves[:, 4000:5001] ** 2) / np.mean(curves[:, 1:1001] ** 2)
print(f"mean square logit over r in [4000, 5000] / over r in [1, 1000], 256 draws: {gaussian_ratio:.3f}")

fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
axes[0].plot(all_ones, lw=0.6)
axes[0].set(ylabel="A(r) = c(r) / d", title="all-ones q = k: the curve decays")
axes[1].plot(curves[0] / d, lw=0.4, color="tab:orange")
axes[1].set(xlabel="distance r", ylabel="c(r) / d", title="one Gaussian draw of q, k: it does not")
fig.tight_layout()
fig.savefig(OUT / "01_decay_or_not.png", dpi=100)

# %% [markdown]
# Over many independent draws, the logit at any fixed distance has mean 0 (Proposition 3.2)
# and variance $d$: nothing about its distribution depends on $r$. We estimate both at a few
# distances from 4000 draws and compare with 0 and $d$ in units of the standard error.

# %%
draws = 4000
q = rng.standard_normal((draws, d))
k = rng.standard_normal((draws, d))
distances = np.array([0, 10, 1000, 4500])
logits = logits_at(*pair_coefficients(q, k), distances)  # (draws, distances)
mean_z = logits.mean(0) / (logits.std(0, ddof=1) / np.sqrt(draws))
centred_sq = (logits - logits.mean(0)) ** 2
var_z = (centred_sq.mean(0) - d) / (centred_sq.std(0, ddof=1) / np.sqrt(draws))
for r, m, v, mz, vz in zip(distances, logits.mean(0), logits.var(0, ddof=1), mean_z, var_z):
    print(f"r = {r:5d}: mean {m:+7.3f} ({mz:+.1f} SE from 0), variance {v:6.1f} ({vz:+.1f} SE from d = {d})")

# %% [markdown]
# ## Correlated queries and keys: the decay comes back
#
# Men et al. (2024) take $k = q + \text{noise}$. Then the expected logit is
# $2\sum_m \cos(r g_m) = d\,A(r)$: exactly the all-ones curve. Decay is what RoPE does *on
# average* to queries and keys that point the same way, not a property of RoPE alone.

# %%
noise = rng.standard_normal((draws, d))
correlated = logits_at(*pair_coefficients(q, q + noise), distances)
expected = d * all_ones[distances]
correlated_z = (correlated.mean(0) - expected) / (correlated.std(0, ddof=1) / np.sqrt(draws))
for r, m, e, z in zip(distances, correlated.mean(0), expected, correlated_z):
    print(f"r = {r:5d}: mean logit {m:7.2f}, 2 sum cos(r g) = {e:7.2f} ({z:+.1f} SE)")

# %% [markdown]
# ## Aligned: the logit can peak wherever we like
#
# Choose the key $k = R^{r^*} q$. Then $c(r) = \sum_m |q_m|^2 \cos((r^* - r) g_m)$, which is
# largest exactly at $r = r^*$: far from decaying, this head prefers a token 3000 positions
# back over every nearer one (Proposition 3.1; the next example builds a whole head on it).

# %%
target = 3000
q = rng.standard_normal(d)
aligned = relative_position.logit_curve(q, np.asarray(rotary.apply(q, target, freqs)), freqs, length)
runner_up = np.max(np.delete(aligned, target))
print(f"argmax of the aligned curve: r = {aligned.argmax()}; c(r*) = {aligned[target]:.2f} "
      f"= |q|^2 = {q @ q:.2f}; next best {runner_up:.2f}")

# %% [markdown]
# ## Conclusion
#
# Only the all-ones (or correlated) curve decays. For independent Gaussian queries and keys
# the logit's mean and spread are the same at every distance, and an aligned key puts the
# maximum at any distance we choose.

# %%
assert all(a > b for a, b in zip(windows, windows[1:])) and windows[-1] < windows[0] / 5
assert 0.8 <= gaussian_ratio <= 1.25  # no decay for a fixed Gaussian pair
assert np.all(np.abs(mean_z) < 5) and np.all(np.abs(var_z) < 5)  # mean 0, variance d, at every r
assert np.all(np.abs(correlated_z) < 5)  # correlated q, k: the all-ones curve on average
assert aligned.argmax() == target and aligned[target] - runner_up > 0
print("conclusion holds")

# %% [markdown]
# ## Exercise
#
# Without ropelab, write $A(r) = \frac{2}{d}\sum_m \cos(r g_m)$ in one line of NumPy (the
# frequencies are $g_m = \theta^{-2m/d}$, as in example 00) and find the first distance at
# which the all-ones curve turns negative. Check it against `all_ones` above.
#
# <details markdown="1"><summary>Solution</summary>
#
# `A = 2 / d * np.cos(np.outer(r, theta ** (-np.arange(0, d, 2) / d))).sum(axis=1)` over
# `r = 0 .. 5000`, then `np.argmax(A < 0)`. The fast pairs swing negative within a few
# tokens, but the many slow pairs still point forward and keep the sum positive: the first
# negative value comes only after about 2,650 tokens.
#
# </details>

# %%
r = np.arange(length)
by_hand = 2 / d * np.cos(np.outer(r, theta ** (-np.arange(0, d, 2) / d))).sum(axis=1)
first_negative = int(np.argmax(by_hand < 0))
print(f"A(r) first turns negative at r = {first_negative}; largest difference from ropelab's curve "
      f"{np.max(np.abs(by_hand - all_ones)):.1e}")
assert np.max(np.abs(by_hand - all_ones)) < 1e-9
assert first_negative == int(np.argmax(all_ones < 0)) and 2600 < first_negative < 2700
print("exercise solved")

# %% [markdown]
# ## What you now know
#
# - The decaying curve usually drawn for RoPE is the all-ones (or correlated) case; it is a
#   property of the queries and keys, not of RoPE.
# - For independent Gaussian queries and keys the logit has mean 0 and variance $d$ at every
#   distance (Proposition 3.2): no decay.
# - A key aligned with the query at distance $r^*$ puts the largest logit at $r^*$, however
#   far back. Example [02](02_point_a_head_at_any_distance.md) turns this into a head.
