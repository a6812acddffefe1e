"""The claim registry: each claim joins its SymPy side and its JAX side with a tolerance.

``REGISTRY`` (in :mod:`ropelab.checks.registry`) drives the ``ropelab`` command, the JSON
report, the docs index and the contract test.
"""

__all__ = [
    "atomic",
    "claim",
    "claims",
    "claims_index",
    "conformance",
    "errata",
    "findings",
    "laws",
    "reference",
    "registry",
    "runner",
    "scope",
    "shards",
    "tolerances",
]
