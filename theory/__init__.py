"""SymPy side of ropelab: statements, derivations and closed forms. Imports only SymPy and mpmath."""

__all__ = [
    "abel_bound",
    "base_bounds",
    "derivation",
    "diophantine",
    "full_turns",
    "logit_statistics",
    "near_returns",
    "orbits",
    "p_rope",
    "positional_heads",
    "random_positions",
    "rotated_key",
    "rotations",
    "semantic_channels",
    "softmax_bounds",
]
