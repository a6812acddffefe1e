"""Claim modules, one per concept; each exposes ``CLAIMS: list[Claim]`` with its records on top.

:data:`MODULES` is where the paper's order appears: the registry, the verify table, the report
and the site list the claims in this order.
"""

MODULES: tuple[str, ...] = (
    # §2 RoPE algebra
    "rotations",
    "relative_position",
    "layouts",
    "peers",
    # §3 does RoPE decay?
    "rotated_key",
    "full_turns",
    "gaussian_moments",
    "decay_curves",
    "abel_bound",
    "random_positions",
    # §5 positional heads
    "softmax_bounds",
    "positional_patterns",
    "nope_heads",
    "rope_heads",
    "near_returns",
    "head_norms",
    # §6 semantic channels, p-RoPE, base wavelength
    "orbits",
    "semantic_breaking",
    "p_rope",
    "table1",
    "base_wavelength",
    "base_bound",
    "apostrophe",
    # beyond: precision
    "precision",
)
