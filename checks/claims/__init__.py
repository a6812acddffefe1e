"""Claim modules, one per concept; each exposes ``CLAIMS: list[Claim]`` with its records on top.

:data:`MODULES` is where the paper's order appears: the registry, the verify table, the report
and the site list the claims in this order.
"""

__all__ = [
    "MODULES",
    "abel_bound",
    "apostrophe",
    "base_bounds",
    "base_wavelength",
    "decay_curves",
    "encoding_properties",
    "full_turns",
    "head_norms",
    "layouts",
    "logit_statistics",
    "near_returns",
    "nope_heads",
    "orbits",
    "p_rope",
    "peers",
    "positional_heads",
    "positional_patterns",
    "precision",
    "random_positions",
    "relative_position",
    "rotated_key",
    "rotations",
    "semantic_channels",
    "softmax_bounds",
]

MODULES: tuple[str, ...] = (
    # §2 RoPE algebra
    "rotations",
    "relative_position",
    "layouts",
    "peers",
    # §3 does RoPE decay?
    "rotated_key",
    "full_turns",
    "logit_statistics",
    "decay_curves",
    "abel_bound",
    "random_positions",
    # §5 positional heads
    "softmax_bounds",
    "positional_patterns",
    "nope_heads",
    "positional_heads",
    "near_returns",
    "head_norms",
    # §6 semantic channels, p-RoPE, base wavelength
    "orbits",
    "semantic_channels",
    "p_rope",
    "encoding_properties",
    "base_wavelength",
    "base_bounds",
    "apostrophe",
    # beyond: precision
    "precision",
)
