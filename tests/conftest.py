"""Test configuration: float64 JAX for proofs and a derandomised hypothesis profile."""

import jax
from hypothesis import HealthCheck, settings

# Proof checks run in float64 (DESIGN §6); set once at the process edge, not in test bodies.
jax.config.update("jax_enable_x64", True)
# A broadcast between arrays of different rank, or an implicit promotion between array dtypes,
# is an error in tests, so that the package code states every such step explicitly.
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

settings.register_profile(
    "ropelab",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ropelab")
