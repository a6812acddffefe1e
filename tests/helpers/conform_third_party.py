"""Adapters: third-party RoPE implementations, used as installed packages, in ``ropelab conform``'s signature.

Each adapter builds the package's own rotary module for the case's head (the rotating prefix
``d_rot = int(d * partial_rotary_factor)``; linear scaling as the package's own interpolation
factor where it has one) and calls it; nothing of theirs is copied here.

- ``rotary_embedding_torch_apply``: lucidrains' rotary-embedding-torch (interleaved pairs).
- ``x_transformers_apply``: lucidrains' x-transformers ``RotaryEmbedding`` (interleaved pairs).
- ``equinox_apply``: ``equinox.nn.RotaryPositionalEmbedding`` (half-split pairs; positions 0..n-1 only, so the
  rows are placed at their positions in a sequence of ``max(positions) + 1``).
"""

from __future__ import annotations

import numpy as np

from helpers.conform_targets import _from_half, _to_half


def _rotary_width(config: dict) -> int:
    return int(config["head_dim"] * config.get("partial_rotary_factor", 1.0))


def _torch(x: np.ndarray):
    import torch

    dtype = torch.bfloat16 if x.dtype.name == "bfloat16" else getattr(torch, x.dtype.name)
    return torch.from_numpy(x.astype(np.float32) if x.dtype.name == "bfloat16" else x).to(dtype)


def _back(out, like: np.ndarray) -> np.ndarray:
    return out.float().numpy().astype(like.dtype) if like.dtype.name == "bfloat16" else out.numpy()


def rotary_embedding_torch_apply(x, positions, config):
    import torch
    from rotary_embedding_torch import RotaryEmbedding, apply_rotary_emb

    d_rot = _rotary_width(config)
    rotary = RotaryEmbedding(dim=d_rot, theta=config["rope_theta"], interpolate_factor=config.get("factor", 1.0),
                             cache_if_possible=False)
    freqs = rotary(torch.from_numpy(positions) / rotary.interpolate_factor)  # as its rotate_queries_or_keys does
    return _back(apply_rotary_emb(freqs, _torch(x)), x)


def x_transformers_apply(x, positions, config):
    import torch
    from x_transformers.x_transformers import RotaryEmbedding, apply_rotary_pos_emb

    d_rot = _rotary_width(config)
    rotary = RotaryEmbedding(d_rot, base=config["rope_theta"], interpolation_factor=config.get("factor", 1.0))
    freqs, scale = rotary(torch.from_numpy(positions))
    return _back(apply_rotary_pos_emb(_torch(x)[None], freqs, scale)[0], x)


def equinox_apply(x, positions, config):
    import equinox as eqx
    import jax.numpy as jnp

    d_rot = _rotary_width(config)
    rotary = eqx.nn.RotaryPositionalEmbedding(d_rot, theta=config["rope_theta"], dtype=jnp.float32)
    x32 = x.astype(np.float32)
    if config["layout"] == "interleaved":
        x32 = _to_half(x32, d_rot)
    sequence = np.zeros((int(positions.max()) + 1, d_rot), dtype=np.float32)
    sequence[positions] = x32[:, :d_rot]
    out = x32.copy()
    out[:, :d_rot] = np.asarray(rotary(jnp.asarray(sequence)))[positions]
    if config["layout"] == "interleaved":
        out = _from_half(out, d_rot)
    return out.astype(x.dtype)
