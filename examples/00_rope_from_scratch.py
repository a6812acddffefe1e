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
# # RoPE from scratch
#
# Rotary positional encoding (RoPE, Su et al. 2021) tells attention where a token sits by
# *turning* its query and key. Cut a vector $x \in \mathbb{R}^d$ into $d/2$ coordinate pairs.
# At position $i$, pair $m$ is turned by the angle $i\, g_m$, with frequencies
#
# $$g_m = \theta^{-2m/d}, \qquad m = 0, \dots, d/2 - 1,$$
#
# fast for the first pairs ($g_0 = 1$ radian per token) and slow for the last. Turning a pair
# $(x_1, x_2)$ by an angle $a$ is the $2\times 2$ rotation
#
# $$\rho(a)\begin{pmatrix}x_1\\x_2\end{pmatrix} = \begin{pmatrix}x_1\cos a - x_2\sin a\\ x_1\sin a + x_2\cos a\end{pmatrix}.$$
#
# Write $R^i$ for all the pair rotations at position $i$ together. This example builds RoPE in
# a few lines of NumPy, shows why it encodes *relative* position, and checks the result
# against ropelab's own map. Nothing here needs more than NumPy and the formula above.

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

# %% [markdown]
# ## RoPE in twenty lines
#
# Which coordinates form a pair is a convention, the *layout*. In the **half** layout
# (HF transformers, GPT-NeoX, Gemma) pair $m$ is $(x_m, x_{m+d/2})$; in the **interleaved**
# layout (Meta's original Llama) it is $(x_{2m}, x_{2m+1})$.

# %%
def rope_frequencies(d: int, theta: float = 10_000.0) -> np.ndarray:
    """g_m = theta^(-2m/d), m = 0 .. d/2 - 1."""
    return theta ** (-np.arange(0, d, 2) / d)


def turn(x1, x2, a):
    """Rotate the pair (x1, x2) counter-clockwise by the angle a."""
    return x1 * np.cos(a) - x2 * np.sin(a), x1 * np.sin(a) + x2 * np.cos(a)


def rope(x: np.ndarray, position: int, theta: float = 10_000.0, layout: str = "half") -> np.ndarray:
    """R^position x: pair m of x turned by position * g_m."""
    d = x.shape[-1]
    a = position * rope_frequencies(d, theta)  # float64 angles from an exact integer position
    y = np.empty_like(x, dtype=float)
    if layout == "half":
        y[: d // 2], y[d // 2:] = turn(x[: d // 2], x[d // 2:], a)
    elif layout == "interleaved":
        y[0::2], y[1::2] = turn(x[0::2], x[1::2], a)
    else:
        raise ValueError(f"layout must be 'half' or 'interleaved', got {layout!r}")
    return y


# %% [markdown]
# A rotation keeps lengths, so RoPE never changes the norm of a query or key:

# %%
d, theta = 64, 10_000.0
rng = np.random.default_rng(0)
x = rng.standard_normal(d)
norm_change = max(abs(np.linalg.norm(rope(x, i)) - np.linalg.norm(x)) for i in (1, 10, 10**4, 10**6))
print(f"largest change of |x| over positions up to 10^6: {norm_change:.1e}")

# %% [markdown]
# ## Why it encodes relative position
#
# Attention compares a query at position $i$ with a key at position $j$ through the dot
# product $(R^i q)^\top (R^j k)$. Rotations of the same pair add their angles, and turning
# back is the transpose, so
#
# $$(R^i q)^\top (R^j k) = q^\top R^{j-i} k:$$
#
# the logit depends on the positions only through their difference. Check it numerically:
# shift both positions by the same amount and the logit does not move.

# %%
q, k = rng.standard_normal(d), rng.standard_normal(d)
pairs_of_positions = [(3, 10), (103, 110), (5003, 5010), (1_000_003, 1_000_010)]
logits = [rope(q, i) @ rope(k, j) for i, j in pairs_of_positions]
relative = q @ rope(k, 7)  # q^T R^(j - i) k with j - i = 7
for (i, j), value in zip(pairs_of_positions, logits):
    print(f"i = {i:>9,}, j = {j:>9,}: (R^i q)^T (R^j k) = {value:+.10f}")
print(f"q^T R^7 k = {relative:+.10f}")

# %% [markdown]
# The same thing as a picture: the logit for every query position $i$ and key position $j$
# below 64. Each diagonal ($j - i$ fixed) has one colour.

# %%
positions = np.arange(64)
rotated_q = np.stack([rope(q, i) for i in positions])
rotated_k = np.stack([rope(k, j) for j in positions])
grid = rotated_q @ rotated_k.T
fig, ax = plt.subplots(figsize=(4.5, 4))
image = ax.imshow(grid, cmap="RdBu_r")
ax.set(xlabel="key position j", ylabel="query position i", title=r"$(R^i q)^\top (R^j k)$: constant along diagonals")
fig.colorbar(image, ax=ax)
fig.savefig(OUT / "00_relative_position.png", dpi=100, bbox_inches="tight")

# %% [markdown]
# ## Checked against ropelab
#
# ropelab's own map is `ropelab.constructions.rotary.apply(x, position, freqs, layout)`, with
# the frequencies from `ropelab.constructions.frequencies.rope(d, theta)`. Our twenty lines
# agree with it in both layouts, at short and very long positions.

# %%
from ropelab.constructions import frequencies, rotary

freqs = frequencies.rope(d, theta)
frequency_error = np.max(np.abs(freqs - rope_frequencies(d, theta)))
map_error = max(np.max(np.abs(np.asarray(rotary.apply(x, i, freqs, layout)) - rope(x, i, theta, layout)))
                for layout in ("half", "interleaved") for i in (0, 1, 7, 4096, 10**6))
print(f"frequencies: max difference {frequency_error:.1e}; rotated vectors: max difference {map_error:.1e}")

# %% [markdown]
# ## Conclusion
#
# RoPE is a rotation of each coordinate pair by position times frequency; it keeps norms, its
# logits depend only on the distance $j - i$, and ropelab's map is the same function.

# %%
assert norm_change < 1e-12
assert np.allclose(logits, relative, rtol=0, atol=1e-9)  # float64 rounding of angles up to 1e6
assert np.allclose(grid[np.arange(63), np.arange(1, 64)], grid[0, 1], atol=1e-12)  # one diagonal, one value
assert frequency_error < 1e-15 and map_error < 1e-9
print("conclusion holds")

# %% [markdown]
# ## Exercise
#
# The two layouts pair up different coordinates, but they are the same map up to a
# reordering. Find the index array `perm` (a permutation of `0 .. d-1`) such that
# `rope(x, i, layout="half")[perm] == rope(x[perm], i, layout="interleaved")` for every `x`
# and `i`, and compare it with `rotary.layout_permutation(d)`.
#
# <details markdown="1"><summary>Solution</summary>
#
# Interleaved pair $m$ sits at coordinates $2m, 2m+1$; half pair $m$ at $m, m + d/2$. So
# reading the half-layout vector in the order $0, d/2, 1, d/2+1, \dots$ puts each half pair
# where the interleaved layout expects it: `perm = [0, d/2, 1, d/2 + 1, ...]`.
#
# </details>

# %%
perm = np.stack([np.arange(d // 2), np.arange(d // 2) + d // 2], axis=1).reshape(-1)
worst = max(np.max(np.abs(rope(x, i, layout="half")[perm] - rope(x[perm], i, layout="interleaved")))
            for i in (1, 5, 999))
print(f"perm starts {perm[:6].tolist()}; largest mismatch {worst:.1e}")
assert worst == 0.0 and np.array_equal(perm, rotary.layout_permutation(d))
print("exercise solved")

# %% [markdown]
# ## What you now know
#
# - RoPE turns coordinate pair $m$ by $i\,g_m$ with $g_m = \theta^{-2m/d}$; the half and
#   interleaved layouts differ only by which coordinates form a pair.
# - Rotations keep norms, and $(R^i q)^\top (R^j k) = q^\top R^{j-i} k$: the logit depends
#   on the distance $r = j - i$ alone. Every later example studies the curve
#   $c(r) = q^\top R^{-r} k$ over distances (in a causal head, the key sits $r$ tokens back).
# - `rotary.apply` and `frequencies.rope` are ropelab's names for the two functions you wrote.
#
# Next: [01](01_rope_need_not_decay.md) asks whether this curve must decay with distance.
