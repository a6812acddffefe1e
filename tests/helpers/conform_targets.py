"""Implementations for ``ropelab conform`` to judge: transformers' own, ropelab's, and broken ones.

Each has the documented signature ``f(x, positions, config) -> rotated x``. The broken ones are
one independent NumPy implementation of every rope type with one known bug switched on each.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np

ROPE_KEYS = ("rope_type", "rope_theta", "partial_rotary_factor", "factor", "original_max_position_embeddings",
             "beta_fast", "beta_slow", "truncate", "attention_factor", "mscale", "mscale_all_dim", "short_factor",
             "long_factor", "low_freq_factor", "high_freq_factor")


def _rope_parameters(config: dict) -> dict:
    return {k: config[k] for k in ROPE_KEYS if k in config}


def _to_half(x: np.ndarray, d_rot: int) -> np.ndarray:
    """Interleaved prefix pairs (2m, 2m+1) -> half-split (m, m + d_rot/2), as a GGUF loader permutes."""
    out = x.copy()
    out[..., :d_rot] = np.concatenate([x[..., 0:d_rot:2], x[..., 1:d_rot:2]], axis=-1)
    return out


def _from_half(x: np.ndarray, d_rot: int) -> np.ndarray:
    out = x.copy()
    n = d_rot // 2
    out[..., 0:d_rot:2], out[..., 1:d_rot:2] = x[..., :n], x[..., n:d_rot]
    return out


def transformers_apply(x, positions, config, family: str = "gpt_neox"):
    """transformers' rotary class of a model family (GPT-NeoX's by default; every rope type) and that family's
    ``apply_rotary_pos_emb``."""
    import importlib

    import torch
    import transformers

    neox = importlib.import_module(f"transformers.models.{family}.modeling_{family}")

    d = config["head_dim"]
    hf = transformers.LlamaConfig(hidden_size=4 * d, num_attention_heads=4, head_dim=d,
                                  max_position_embeddings=config["max_position_embeddings"],
                                  rope_parameters=_rope_parameters(config))
    rotary = next(getattr(neox, n) for n in dir(neox) if n.endswith("RotaryEmbedding"))(hf)
    dtype = {"bfloat16": torch.bfloat16}.get(str(x.dtype), getattr(torch, str(x.dtype)))
    q = torch.from_numpy(x.astype(np.float32)).to(dtype)
    cos, sin = rotary(q, torch.from_numpy(positions)[None])
    d_rot = cos.shape[-1]
    if config["layout"] == "interleaved":
        q = torch.from_numpy(_to_half(x.astype(np.float32), d_rot)).to(dtype)
    out, _ = neox.apply_rotary_pos_emb(q[None, None], q[None, None], cos, sin)  # cos, sin: (1, n, d_rot)
    out = out[0, 0].float().numpy()
    return _from_half(out, d_rot) if config["layout"] == "interleaved" else out


def _family(family):
    def apply(x, positions, config):
        return transformers_apply(x, positions, config, family)

    apply.__name__ = f"transformers_{family}_apply"
    return apply


TRANSFORMERS_FAMILIES = ("llama", "qwen2", "phi3", "gpt_neox")
for _family_name in TRANSFORMERS_FAMILIES:
    globals()[f"transformers_{_family_name}_apply"] = _family(_family_name)


def ropelab_apply(x, positions, config):
    """ropelab's own ``rotary.apply`` on the schedule it is handed (float64 angles)."""
    from ropelab.constructions import rotary

    freqs = np.asarray(config["inv_freq"])
    d_rot = 2 * freqs.size
    x64 = x.astype(np.float64)
    out = x64.copy()
    layout = config["layout"]
    out[:, :d_rot] = np.asarray(rotary.apply(x64[:, :d_rot], positions, freqs, layout)) * config["attention_scaling"]
    return out.astype(x.dtype)


# ---------------------------------------------------------------- an independent NumPy RoPE with bugs


def _bf16(v):
    return np.asarray(v).astype(ml_dtypes.bfloat16).astype(np.float32)


def _tf32(v):
    m, e = np.frexp(np.asarray(v, dtype=np.float64))
    return np.ldexp(np.round(m * 2048.0) / 2048.0, e).astype(np.float32)


_THETA_BLIND: dict = {}  # a cache keyed on everything but rope_theta (the bug class of theta_blind_cache)


def numpy_schedule(config: dict, seq_len: int, bug: str | None = None) -> tuple[np.ndarray, float, int]:
    """(inv_freq, attention factor, rotary width) written from the HF formulas, with ``bug`` planted."""
    if bug == "theta_blind_cache":
        key = (seq_len, tuple(sorted((k, str(v)) for k, v in config.items()
                                     if k in ROPE_KEYS + ("head_dim",) and k != "rope_theta")))
        return _THETA_BLIND.setdefault(key, numpy_schedule(config, seq_len))
    kind = config.get("rope_type", "default")
    d = config["head_dim"]
    theta = config["rope_theta"]
    partial = config.get("partial_rotary_factor", 1.0)
    if kind == "proportional":
        kept = int(partial * d // 2)
        denominator = 2 * kept if bug == "proportional_denominator" else d
        inv = np.zeros(d // 2)
        inv[:kept] = theta ** (-np.arange(0, 2 * kept, 2) / denominator)
        return inv / config.get("factor", 1.0), 1.0, d
    dim = int(d * partial)
    inv = theta ** (-np.arange(0, dim, 2) / dim)
    if bug == "exponent_off_by_one":
        inv = theta ** (-np.arange(2, dim + 2, 2) / dim)
    if kind == "linear":
        return inv / config["factor"], 1.0, dim
    if kind == "dynamic":
        m = config["max_position_embeddings"]
        n = config["factor"] * m if bug == "dynamic_ntk_constant" else max(seq_len, m)
        base = theta * (config["factor"] * n / m - (config["factor"] - 1)) ** (dim / (dim - 2))
        return base ** (-np.arange(0, dim, 2) / dim), 1.0, dim
    if kind == "longrope":
        original = config["original_max_position_embeddings"]
        long_ = seq_len >= original if bug == "longrope_switch_early" else seq_len > original
        ext = np.asarray(config["long_factor"] if long_ else config["short_factor"])
        s = config["max_position_embeddings"] / original
        return inv / ext, math.sqrt(1 + math.log(s) / math.log(original)), dim
    if kind == "llama3":
        lo, hi, f, ctx = (config["low_freq_factor"], config["high_freq_factor"], config["factor"],
                          config["original_max_position_embeddings"])
        wl = 2 * math.pi / inv
        out = np.where(wl > ctx / lo, inv / f, inv)
        if hi > lo:
            s = (ctx / wl - lo) / (hi - lo)
            mid = (wl >= ctx / hi) & (wl <= ctx / lo)
            blend = s * inv / f + (1 - s) * inv if bug == "llama3_blend_inverted" else (1 - s) * inv / f + s * inv
            out = np.where(mid, blend, out)
        return out, 1.0, dim
    if kind == "yarn":
        f, ctx = config["factor"], config["original_max_position_embeddings"]
        fast, slow = config.get("beta_fast") or 32, config.get("beta_slow") or 1

        def corr(rot):
            return dim * math.log(ctx / (rot * 2 * math.pi)) / (2 * math.log(theta))

        lo, hi = corr(fast), corr(slow)
        if config.get("truncate", True):
            lo, hi = math.floor(lo), math.ceil(hi)
        lo, hi = max(lo, 0), min(hi, dim - 1)
        ramp = np.clip((np.arange(dim // 2) - lo) / ((hi + 0.001 if hi == lo else hi) - lo), 0, 1)
        freqs = inv / f * ramp + inv * (1 - ramp)

        def ms(scale, m=1.0):
            return 0.1 * m * math.log(scale) + 1.0 if scale > 1 else 1.0

        if config.get("mscale") and config.get("mscale_all_dim") and bug != "yarn_mscale_ignored":
            att = ms(f, config["mscale"]) / ms(f, config["mscale_all_dim"])
        else:
            att = ms(f)
        att = {"yarn_attention_squared": att * att, "yarn_attention_dropped": 1.0}.get(bug, att)
        return freqs, att, dim
    return inv, 1.0, dim


def numpy_apply(x, positions, config, bug: str | None = None):
    """RoPE in float32 angles like HF, optionally with one named bug."""
    inv, att, d_rot = numpy_schedule(config, int(positions.max()) + 1, bug)
    pos = positions.astype(np.float32)
    inv32 = inv.astype(np.float32)
    if bug == "bf16_inv_freq":
        inv32 = _bf16(inv32)
    if bug == "bf16_positions":
        pos = _bf16(pos)
    if bug == "tf32_angles":
        pos, inv32 = _tf32(pos), _tf32(inv32)
    angles = np.multiply.outer(pos, inv32).astype(np.float32)
    if bug == "sign_flip":
        angles = -angles
    if bug in ("float16_angles", "bf16_angles"):
        with np.errstate(over="ignore"):  # float16 angles overflow to inf past 65504
            angles = angles.astype(np.float16 if bug == "float16_angles" else ml_dtypes.bfloat16).astype(np.float32)
    with np.errstate(invalid="ignore"):  # cos(inf) is NaN: what such an implementation returns
        cos, sin = (np.cos(angles) * att).astype(np.float32), (np.sin(angles) * att).astype(np.float32)
    x32 = x.astype(np.float32)
    n = inv.size
    layout = config["layout"]
    if bug == "layout_confused":
        layout = "half" if layout == "interleaved" else "interleaved"
    first = np.arange(n) if layout == "half" else 2 * np.arange(n)
    second = first + n if layout == "half" else first + 1
    out = x32.copy()
    a, b = x32[:, first], x32[:, second]
    out[:, first], out[:, second] = a * cos - b * sin, a * sin + b * cos
    return out.astype(x.dtype)


def correct(x, positions, config):
    return numpy_apply(x, positions, config)


def _broken(bug):
    def apply(x, positions, config):
        return numpy_apply(x, positions, config, bug)

    apply.__name__ = f"with_{bug}"
    return apply


BUG_NAMES = ("proportional_denominator", "yarn_attention_squared", "yarn_attention_dropped", "yarn_mscale_ignored",
             "llama3_blend_inverted", "longrope_switch_early", "dynamic_ntk_constant", "bf16_inv_freq",
             "bf16_positions", "tf32_angles", "layout_confused", "sign_flip", "exponent_off_by_one",
             "float16_angles", "bf16_angles", "theta_blind_cache")
for _name in BUG_NAMES:
    globals()[f"with_{_name}"] = _broken(_name)


def nan_past_65504(x, positions, config):
    """Exact, except float16 rows past position 65504 come back NaN (what an overflowing cache gives)."""
    out = correct(x, positions, config)
    if x.dtype == np.float16:
        out[positions > 65504] = np.nan
    return out


def jax_sine_from_cosine(x, positions, config):
    """A JAX RoPE whose sine is recovered from the cosine, sqrt(1 - cos^2) with the sign of sin: in float64
    (x64 on) that costs ~1e-8, inside every float32 bound; in JAX's default float32 it costs ~3e-4 at small
    angles (cos rounds to 1), far outside them. Wrong only where the user's JAX is float32."""
    import jax.numpy as jnp

    inv = jnp.asarray(config["inv_freq"])  # float64 with x64 on, float32 without
    angles = jnp.asarray(positions)[:, None] * inv[None, :]
    cos = jnp.cos(angles)
    sin = jnp.sign(jnp.sin(angles)) * jnp.sqrt(jnp.maximum(1 - cos * cos, 0))
    n = inv.shape[0]
    xj = jnp.asarray(x.astype(np.float32)).astype(cos.dtype)
    first = np.arange(n) if config["layout"] == "half" else 2 * np.arange(n)
    second = first + n if config["layout"] == "half" else first + 1
    a, b = xj[:, first], xj[:, second]
    scale = jnp.asarray(config["attention_scaling"], dtype=cos.dtype)
    out = xj.at[:, first].set((a * cos - b * sin) * scale).at[:, second].set((a * sin + b * cos) * scale)
    return np.asarray(out)


def not_callable_target():
    raise AssertionError("never called")


NOT_A_FUNCTION = 3
