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
# # Why NoPE cannot build a diagonal or previous-token head, and what a BOS token changes
#
# *Needs:* [03](03_previous_token_head_by_hand.md) (a positional head built from RoPE).
#
# Without positional encoding (NoPE) a head sees tokens only through their content. Take the
# sequence $[\text{bos}, x, x]$: the last two tokens are identical, so for the query at
# position 3 they have the same logit, $a_{32} = a_{33}$. Whatever $W_Q$ and $W_K$ are,
#
# $$\alpha_{33} = \frac{e^{a_{33}}}{e^{a_{31}} + 2e^{a_{33}}} = \frac{1}{e^{a_{31} - a_{33}} + 2} < \frac12,$$
#
# and $\alpha_{32} = \alpha_{33}$: the head can attend neither to itself nor to the previous
# token with more than half of its weight (Proposition 5.2). RoPE can, with both.

# %%
import jax

jax.config.update("jax_enable_x64", True)  # angles in float64 (a script is a process edge)

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ropelab.constructions import attention, frequencies

OUT = Path(os.environ.get("ROPELAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="ropelab-example-"))
print(f"figures in {OUT}")

rng = np.random.default_rng(4)
d_model, d = 16, 8
bos, x = rng.standard_normal(d_model), rng.standard_normal(d_model)
tokens = np.stack([bos, x, x])


def head_weights(w_q: np.ndarray, w_k: np.ndarray, freqs: np.ndarray, embeddings: np.ndarray = tokens) -> np.ndarray:
    """Causal attention weights of one head on a sequence of token embeddings (n, d_model)."""
    return np.asarray(attention.attention_weights(embeddings @ w_q, embeddings @ w_k, freqs))


def logits(w_q: np.ndarray, w_k: np.ndarray, embeddings: np.ndarray = tokens) -> np.ndarray:
    """NoPE logits a_ij = (W_Q^T e_i) . (W_K^T e_j), shape (n, n)."""
    return (embeddings @ w_q) @ (embeddings @ w_k).T


# Many heads at once: vmap over stacks of (W_Q, W_K) at the call site.
many_heads = jax.vmap(lambda q, k, freqs: attention.attention_weights(q, k, freqs), in_axes=(0, 0, None))

# %% [markdown]
# ## Ten thousand random NoPE heads
#
# Draw $W_Q, W_K$ at random, at several scales: the larger the scale, the more extreme the
# logits. The weight of the last row on itself never exceeds one half, equals the weight on
# the previous token, and is exactly $1/(e^{a_{31} - a_{33}} + 2)$.

# %%
nope = frequencies.nope(d)
w_q = np.concatenate([s * rng.standard_normal((3334, d_model, d)) for s in (0.1, 1.0, 10.0)])
w_k = np.concatenate([s * rng.standard_normal((3334, d_model, d)) for s in (0.1, 1.0, 10.0)])
alpha = np.asarray(many_heads(tokens @ w_q, tokens @ w_k, nope))  # (heads, 3, 3)
a = np.einsum("hnd,hmd->hnm", tokens @ w_q, tokens @ w_k)  # (heads, 3, 3) logits
closed_form = np.exp(-np.logaddexp(a[:, 2, 0] - a[:, 2, 2], np.log(2)))  # 1/(e^gap + 2), overflow-free
best_diagonal = alpha[:, 2, 2].max()
largest_mismatch = np.abs(alpha[:, 2, 2] - alpha[:, 2, 1]).max()
closed_form_error = np.abs(alpha[:, 2, 2] - closed_form).max()
print(f"{len(w_q)} random NoPE heads: largest alpha_33 = {best_diagonal:.12f}")
print(f"largest |alpha_33 - alpha_32| = {largest_mismatch:.1e}; "
      f"largest |alpha_33 - 1/(exp(a_31 - a_33) + 2)| = {closed_form_error:.1e}")

# %% [markdown]
# One half is a limit, not a value: it is approached only as the BOS token's logit falls far
# below the others, and then the head splits its weight evenly between the two copies of $x$.
# In float64 the limit is reached by rounding once $a_{31} - a_{33}$ is below about $-37$.

# %%
for low in (-1, -5, -20, -40):
    nearest = np.argmin(np.abs(a[:, 2, 0] - a[:, 2, 2] - low))
    print(f"a_31 - a_33 = {a[nearest, 2, 0] - a[nearest, 2, 2]:7.2f}: alpha_33 = {alpha[nearest, 2, 2]:.12f}, "
          f"alpha_32 = {alpha[nearest, 2, 1]:.12f}")

# %% [markdown]
# ## Gradient ascent does no better
#
# Random search might miss a clever head, so let an optimiser look for one: Adam on $W_Q$ and
# $W_K$ maximising $\log \alpha_{33}$ on $[\text{bos}, x, x]$, from the same start with and
# without RoPE (`ropelab explain nope_cannot_be_diagonal_or_previous_token`).

# %%
from ropelab.constructions import head_training

embeddings = np.stack([bos, x])  # vocabulary: 0 = bos, 1 = x
start_q, start_k = 0.3 * rng.standard_normal((2, d_model, d))
ascent = {name: head_training.maximise_attention_weight(embeddings, [0, 1, 1], freqs, start_q, start_k,
                                                        row=2, key=2, steps=200)
          for name, freqs in (("NoPE", frequencies.nope(d)), ("RoPE", frequencies.rope(d, 10_000.0)))}
for name, run in ascent.items():
    print(f"{name}: alpha_33 from {run.weights[0]:.4f} to {run.weights[-1]:.12f} in 200 Adam steps")

fig, ax = plt.subplots(figsize=(6, 3))
for name, run in ascent.items():
    ax.plot(run.weights, label=name)
ax.axhline(0.5, color="grey", ls=":")
ax.set(xlabel="Adam step", ylabel=r"$\alpha_{33}$", title="gradient ascent on the diagonal weight")
ax.legend()
fig.savefig(OUT / "04_ascent.png", dpi=100, bbox_inches="tight")

# %% [markdown]
# ## The same sequence under RoPE
#
# Under RoPE the two copies of $x$ sit at different positions, so their logits differ. The
# diagonal construction of Theorem 5.3 ($q = k = s\psi$ on the fastest pairs) puts nearly
# all of the last row's weight on itself. Here $W_Q$ and $W_K$ map every token to the same
# $s\psi$, so the head is purely positional.

# %%
rope = frequencies.rope(d, 10_000.0)
psi = np.zeros(d)
psi[0] = 1.0  # first coordinate of the fastest pair
for s in (1.0, 3.0, 10.0):
    w = np.linalg.lstsq(tokens, np.tile(s * psi, (3, 1)), rcond=None)[0]  # maps each token to s psi
    alpha = head_weights(w, w, rope)
    print(f"RoPE, s = {s:4.1f}: alpha_33 = {alpha[2, 2]:.6f}")
rope_diagonal = alpha[2, 2]

# %% [markdown]
# ## Repeats: the NoPE bound tightens to $1/c$
#
# The same argument with a token repeated $c$ times gives $\alpha_{ii} \le 1/c$ for its last
# copy: the head cannot tell the copies apart (`ropelab explain nope_weight_bounded_by_repeat_count`).

# %%
# Row c of [bos, x, x, ..., x] sees c copies of x: one sequence of 8 copies covers c = 1..8.
seq = np.stack([bos] + [x] * 8)
w_q, w_k = 3.0 * rng.standard_normal((2, 500, d_model, d))
alpha = np.asarray(many_heads(seq @ w_q, seq @ w_k, nope))  # (heads, 9, 9)
repeat_bound = {c: float(alpha[:, c, c].max()) for c in (2, 4, 8)}
for c, worst in repeat_bound.items():
    print(f"{c} copies of x: largest alpha_ii over 500 random NoPE heads = {worst:.6f} (bound 1/{c} = {1 / c:.6f})")

# %% [markdown]
# ## What the BOS token changes
#
# Without a BOS token, on $[x, x]$ every NoPE head has $\alpha_{22} = 1/2$ exactly. With one,
# a NoPE head can move weight between the BOS token and the content, and because the number
# of content tokens grows along the sequence, the weight on BOS falls like
#
# $$\alpha_{t,\text{bos}} = \frac{1}{1 + (t-1)\,e^{a_x - a_{\text{bos}}}},$$
#
# a signal of the position $t$. It is a weak one: neighbouring positions differ by about
# $1/t^2$ in it, so telling $t$ from $t - 1$ far into a sequence needs ever larger logits
# (`ropelab explain nope_bos_position_signal_needs_growing_logits`).
# A head with small weights ($a_x \approx a_{\text{bos}}$) shows it plainly:

# %%
from scipy import stats

w_q, w_k = 0.1 * rng.standard_normal((2, d_model, d))
gap = logits(w_q, w_k)[2, 2] - logits(w_q, w_k)[2, 0]  # a_x - a_bos for the query x
# Row t-1 of one long sequence [bos, x, ..., x] holds the BOS token and t-1 copies of x.
weights = head_weights(w_q, w_k, nope, np.stack([bos] + [x] * 511))
lengths = np.array([16, 32, 64, 128, 256, 512])
bos_weight = weights[lengths - 1, 0]
step = weights[lengths - 2, 0] - weights[lengths - 1, 0]  # how much the signal moves from t-1 to t
closed_form_bos = 1 / (1 + (lengths - 1) * np.exp(gap))
fit = stats.linregress(np.log(lengths), np.log(step))
for t, got, want, dt in zip(lengths, bos_weight, closed_form_bos, step):
    print(f"t = {t:4d}: weight on BOS {got:.6f} (closed form {want:.6f}); change from t-1: {dt:.2e}")
print(f"log-log slope of the change against t: {fit.slope:.3f}")

# %% [markdown]
# ## Conclusion
#
# No NoPE head puts half of its weight on the diagonal of $[\text{bos}, x, x]$ (or on the
# previous token), and $c$ repeats cap it at $1/c$; a RoPE head does it with a modest norm.
# A BOS token gives NoPE only a $1/t$-shaped position signal.

# %%
assert best_diagonal <= 0.5 and largest_mismatch < 1e-12 and closed_form_error < 1e-12
assert all(worst <= 1 / c + 1e-12 for c, worst in repeat_bound.items())
assert rope_diagonal > 0.99
assert ascent["NoPE"].best < 0.5 < 0.99 < ascent["RoPE"].best
assert np.allclose(bos_weight, closed_form_bos, rtol=1e-12)
assert -2.1 <= fit.slope <= -1.9  # neighbouring positions differ by ~ 1/t^2
print("conclusion holds")

# %% [markdown]
# ## Exercise
#
# Drop the BOS token: the sequence is $[x, x, x, x]$. What weight does the last row put on
# itself, for *any* NoPE head? Check your answer on 100 random heads.
#
# <details markdown="1"><summary>Solution</summary>
#
# All four keys are the same vector, so the query's four logits are equal and the softmax
# is uniform: $\alpha_{44} = 1/4$ exactly, whatever $W_Q, W_K$ (the bound $1/c$ with $c = 4$,
# reached). With no BOS token there is nothing to shift weight to.
#
# </details>

# %%
four = np.stack([x] * 4)
w_q, w_k = 3.0 * rng.standard_normal((2, 100, d_model, d))
last_row = np.asarray(many_heads(four @ w_q, four @ w_k, nope))[:, 3, :]  # (heads, 4)
print(f"largest |alpha_4j - 1/4| over 100 heads: {np.abs(last_row - 0.25).max():.1e}")
assert np.allclose(last_row, 0.25, rtol=0, atol=1e-12)
print("exercise solved")

# %% [markdown]
# ## What you now know
#
# - A head without positional encoding cannot tell identical tokens apart, so on
#   $[\text{bos}, x, x]$ it cannot put more than half of a row on itself or on the previous
#   token (Proposition 5.2), and $c$ copies cap it at $1/c$; no optimiser gets round this.
# - RoPE gives the copies different positions, and the diagonal head of Theorem 5.3 then
#   takes almost all of the weight.
# - A BOS token gives NoPE only a weak $1/t$-shaped position signal.
#
# Next: [05](05_semantic_channel_breaks.md), where RoPE's rotation becomes a cost for
# matching by content.
