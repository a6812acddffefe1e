"""Test configuration: float64 JAX for proofs and a derandomised hypothesis profile."""

import jax
from hypothesis import HealthCheck, settings

# Proof checks run in float64 (DESIGN §6); set once at the process edge, not in test bodies.
jax.config.update("jax_enable_x64", True)

settings.register_profile(
    "ropelab",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ropelab")
