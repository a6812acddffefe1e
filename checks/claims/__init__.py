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
    # §5 positional heads
    # §6 semantic channels, p-RoPE, base wavelength
    # beyond: precision
    "precision",
)
