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
# # Is my model's base large enough for my context?
#
# *Needs:* [01](01_rope_need_not_decay.md) (the all-ones and correlated curves),
# [03](03_previous_token_head_by_hand.md) (the price of a positional head) and
# [05](05_semantic_channel_breaks.md) (breaking contexts).
#
# Three yardsticks answer this from the RoPE configuration alone, before any training:
#
# 1. **The critical pair** (Liu et al. 2023): pair $m$ turns a full circle within $L$ tokens
#    when its wavelength $2\pi/g_m$ is at most $L$. The pairs up to
#    $i^* = \frac d2 \log_\theta\frac{L}{2\pi}$ do; the slower ones never complete a turn, so
#    they never see every angle during training.
# 2. **Men et al.'s bound** (2024): with keys that are noisy copies of the query, the expected
#    logit at distance $r$ is $2B(r)$ with $B(r) = \sum_m \cos(r g_m)$. Requiring $B(r) \ge 0$
#    for every $r \le L$ gives a smallest base for a context.
# 3. **Semantic channels** (Theorem 6.1): how many pairs still work as content matchers over
#    $L$ tokens, and what the cheapest positional head costs.
#
# They disagree, because each answers a different question. We apply all three to a model of
# our own, described in a small JSON file, next to built-in configurations from the zoo, and
# end with a rule that says which one to use when.

# %%
import jax

jax.config.update("jax_enable_x64", True)  # angles r * g in float64 (a script is a process edge)

import json
import math
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ropelab.checks.findings import zoo
from ropelab.constructions import base_bounds, configs, frequencies
from ropelab.theory import base_bounds as base_theory

OUT = Path(os.environ.get("ROPELAB_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="ropelab-example-"))
print(f"figures in {OUT}")

# %% [markdown]
# ## The critical pair
#
# Llama 2 ($d = 128$, $\theta = 10^4$, 4096 tokens): $i^* \approx 45$, so $2\lceil i^* \rceil = 92$
# of its 128 dimensions turn at least once within its context.

# %%
critical = float(base_theory.critical_pair_index(128, 10_000, 4096))
dimension = base_theory.critical_dimension(128, 10_000, 4096)
turning = int(np.sum(2 * np.pi / frequencies.rope(128, 10_000.0) <= 4096))
print(f"Llama 2: i* = {critical:.2f}, critical dimension {dimension}; pairs with wavelength <= 4096: {turning}")

# %% [markdown]
# The paper trains at 8k tokens with $\theta = 10^4$, where $\log_\theta(L/2\pi) \approx 0.78$:
# the pairs that complete a turn are the fastest 78%, just above the best p-RoPE fraction it
# finds, $p = 0.75$, which keeps exactly such pairs.

# %%
fraction = math.log(8192 / (2 * math.pi)) / math.log(10_000)
print(f"8k tokens, theta 1e4: log_theta(L / 2 pi) = {fraction:.3f}")

# %% [markdown]
# ## Men et al.'s lower bound on the base
#
# Scan bases on a fine log grid and keep those with $B(r) \ge 0$ for every $r \le L$. The
# smallest feasible base for 1024 tokens is about $4.3 \times 10^3$; note that the feasible set
# is not an interval: some larger bases fail again.

# %%
scan = base_bounds.feasible_bases(128, 1024, 3000.0, 8000.0, step=0.01)
print(f"L = 1024, d = 128: smallest feasible base {scan.smallest:,.0f}; "
      f"every base from {scan.monotone_from:,.0f} on is feasible; feasible islands: {len(scan.islands)}")
for theta in (3000.0, scan.smallest * 1.001, 10_000.0):
    b = base_bounds.cosine_sum(theta, 128, 1024)  # B(r) for r = 0 .. L
    print(f"  theta = {theta:>8,.0f}: min over r <= 1024 of B(r) = {b.min():+.3f} at r = {int(b.argmin())}")

# %% [markdown]
# ## Your own configuration
#
# `ropelab zoo --config my_models.json` reads a list like the one below (or an HF
# `config.json`). Here we build the same rows through the Python API: a model of ours with
# $d = 128$ that we want to run at 32k tokens, with three candidate bases, next to Llama 2.
# The last column is Men et al.'s test at 32k: the smallest $B(r)$ over $r \le 32768$.

# %%
mine = {"models": [
    {"name": "ours, theta 1e4", "head_dim": 128, "context": 32768, "rope_theta": 10000.0},
    {"name": "ours, theta 5e5", "head_dim": 128, "context": 32768, "rope_theta": 500000.0},
    {"name": "ours, theta 2e6", "head_dim": 128, "context": 32768, "rope_theta": 2000000.0},
]}
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "my_models.json"
    path.write_text(json.dumps(mine))
    ours = zoo.load_configs(path)
rows, men, b_curve = {}, {}, {}
for config in (*ours, configs.ZOO_BY_NAME["Llama 2 7B"]):
    row = rows[config.name] = zoo.summarise(config)
    b_curve[config.name] = base_bounds.cosine_sum(config.parameters["rope_theta"], row.head_dim, row.context)
    men[config.name] = b_curve[config.name].min()
    print(f"{row.name:16s} context {row.context:>6,}: {row.critical_pairs:2d} of {row.head_dim // 2} pairs turn "
          f"(i* = {row.critical_index:.1f}); {row.unbroken_channels:2d} channels unbroken; "
          f"cheapest sharp head s^2 = {row.head_scale_sq:4.1f}; min B(r) = {men[config.name]:+6.2f}")

# %% [markdown]
# Men et al.'s sum over the whole window, for the three candidate bases:

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
for config in ours:
    ax.plot(b_curve[config.name], lw=0.6, label=f"theta = {config.parameters['rope_theta']:.0e}")
ax.axhline(0, color="black", lw=0.8)
ax.set(xlabel="distance r", ylabel="B(r)", title="d = 128 over 32k tokens: B(r) >= 0 everywhere only for the largest base")
ax.legend()
fig.savefig(OUT / "07_men_bound.png", dpi=100, bbox_inches="tight")

# %% [markdown]
# Read the rows like this. At $\theta = 10^4$ and 32k tokens, 60 of the 64 pairs complete a
# turn and not one channel survives an anti-aligned rival over the window; Men et al.'s sum
# dips well below zero. At $5\times 10^5$, 22 pairs never complete a turn and 15 channels
# stay unbroken, but $B(r)$ still turns negative before 32k; at $2\times 10^6$ it does not
# (`ropelab explain base_lower_bound_for_context`). Llama 2 itself fails that test within
# its 4k tokens. The price is in the positional heads: the fastest 16 pairs turn more slowly
# as the base grows, so the cheapest sharp diagonal head needs a somewhat larger norm.
#
# ## The rule
#
# The yardsticks disagree because they assume different queries and keys. Pick the one whose
# assumption matches how your model will be used, and take the smallest base that passes it:
#
# 1. **Content must beat any rival key over the whole context** (retrieval among distractors,
#    the worst case): use the **semantic channels** of Theorem 6.1. Require at least one
#    unbroken channel at your context (more is safer), or keep frozen pairs with p-RoPE,
#    which never break. It holds for every query and key, so it is the one to trust when
#    nothing is known about them.
# 2. **Keys are noisy copies of the query** (repeated content, on average): use **Men et al.'s
#    bound**, $B(r) \ge 0$ for every $r \le L$. It is an average-case statement: it says
#    nothing about a particular rival, and it is stricter than rule 1 at long contexts.
# 3. **You will run beyond the training length $T$**: use the **critical pair**. Pairs that
#    never completed a turn within $T$ meet unseen angles at $L > T$; keep the critical
#    dimension fixed by scaling the base to $\theta' = \theta^{\ln(L/2\pi)/\ln(T/2\pi)}$ (the
#    exercise below works it out).
#
# When several conditions apply, take the largest base any of them asks for; the cost, a
# slightly larger norm for positional heads, stays small (under 3x in $s^2$ here).

# %%
def smallest_passing(use: str) -> str:
    """The smallest of our candidate bases that passes the yardstick for a use (rules 1 and 2)."""
    for name in ("ours, theta 1e4", "ours, theta 5e5", "ours, theta 2e6"):
        passes = rows[name].unbroken_channels >= 1 if use == "any rival" else men[name] >= 0
        if passes:
            return name
    raise ValueError(f"no candidate base passes the yardstick for {use!r}")


choice = {use: smallest_passing(use) for use in ("any rival", "noisy copies")}
for use, name in choice.items():
    print(f"at 32k tokens, {use:12s}: take {name} ({rows[name].unbroken_channels} unbroken channels, "
          f"min B(r) = {men[name]:+.2f})")

# %% [markdown]
# ## Conclusion
#
# For our $d = 128$ model at 32k tokens, $\theta = 10^4$ fails every yardstick; if content
# only has to beat arbitrary rivals, $5\times 10^5$ is enough (15 unbroken channels); if keys
# are noisy copies of the query, Men et al.'s bound asks for $2\times 10^6$. Each larger base
# costs the positional heads only a modestly larger norm.

# %%
low, mid, high, llama = (rows[name] for name in ("ours, theta 1e4", "ours, theta 5e5", "ours, theta 2e6", "Llama 2 7B"))
assert dimension == 92 and turning == math.ceil(critical) == 46
assert 0.75 < fraction < 0.8
assert 4000 < scan.smallest < 4600 and not scan.is_monotone
assert base_bounds.cosine_sum(10_000.0, 128, 1024).min() >= 0 > base_bounds.cosine_sum(3000.0, 128, 1024).min()
assert low.unbroken_channels == 0 < llama.unbroken_channels and mid.unbroken_channels < high.unbroken_channels
assert low.critical_pairs > mid.critical_pairs > high.critical_pairs
assert men["ours, theta 1e4"] < 0 and men["ours, theta 5e5"] < 0 <= men["ours, theta 2e6"] and men["Llama 2 7B"] < 0
assert low.head_scale_sq < mid.head_scale_sq < high.head_scale_sq < 3 * low.head_scale_sq
assert choice == {"any rival": "ours, theta 5e5", "noisy copies": "ours, theta 2e6"}
print("conclusion holds")

# %% [markdown]
# ## Exercise
#
# Llama 2 was trained at $T = 4096$ tokens with $\theta = 10^4$ and $d = 128$. You want to run
# it at $L = 32768$. Using rule 3, which base keeps the critical pair index
# $i^* = \frac d2 \log_\theta \frac{L}{2\pi}$ where it was in training? How many pairs
# complete a turn within the window before and after?
#
# <details markdown="1"><summary>Solution</summary>
#
# Keep $\ln(L/2\pi)/\ln\theta'$ equal to $\ln(T/2\pi)/\ln\theta$:
# $\theta' = \theta^{\ln(L/2\pi)/\ln(T/2\pi)} = 10^{4 \cdot 8.56/6.48} \approx 1.9\times 10^5$.
# Then $i^*$ at 32k with $\theta'$ equals $i^*$ at 4k with $10^4$ (about 45), and the same 46
# pairs complete a turn in either window.
#
# </details>

# %%
T, L = 4096, 32768
theta_scaled = 10_000.0 ** (math.log(L / (2 * math.pi)) / math.log(T / (2 * math.pi)))
before = float(base_theory.critical_pair_index(128, 10_000, T))
after = float(base_theory.critical_pair_index(128, theta_scaled, L))
turning_before = int(np.sum(2 * np.pi / frequencies.rope(128, 10_000.0) <= T))
turning_after = int(np.sum(2 * np.pi / frequencies.rope(128, theta_scaled) <= L))
print(f"theta' = {theta_scaled:,.0f}: i* = {after:.4f} at {L} tokens (was {before:.4f} at {T}); "
      f"pairs that turn: {turning_after} (was {turning_before})")
assert abs(after - before) < 1e-9 and turning_after == turning_before == 46
assert 1.5e5 < theta_scaled < 2.5e5
print("exercise solved")

# %% [markdown]
# ## What you now know
#
# - Three yardsticks judge a base from its configuration alone: the critical pair (Liu et
#   al.), the cosine-sum bound (Men et al.) and the semantic channel count (Theorem 6.1).
# - They disagree because they assume different queries and keys: worst-case rivals (use the
#   channel count), noisy copies (use Men et al.'s bound), extrapolation beyond training
#   (keep the critical dimension). Take the smallest base that passes the one that matches
#   your use; the positional heads pay only a little for a larger base.
#
# Next: [08](08_reading_gemma_frequency_usage.md) reads how a real model uses its frequencies.
