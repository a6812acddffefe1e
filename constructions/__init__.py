"""JAX constructions: frequency schedules, rotary maps, logits and attention.

Everything here is a pure function of its arguments (head dimension, base, schedule,
positions, dtype). Importing this package does not switch on 64-bit JAX; proofs run with
``jax_enable_x64`` set by the caller (the ``ropelab`` command and the test suite do so).
"""

__all__ = [
    "attention",
    "attribution",
    "base_bounds",
    "blockwise_attention",
    "configs",
    "encoding_properties",
    "frequencies",
    "frequency_usage",
    "head_training",
    "logit_statistics",
    "orbits",
    "p_rope",
    "phases",
    "positional_heads",
    "precision",
    "random_positions",
    "relative_position",
    "rotary",
    "rotated_key",
    "semantic_channels",
    "shapes",
    "token_heads",
    "validation",
    "wrong_rotations",
]
