"""JAX constructions: frequency schedules, rotary maps, logits and attention.

Everything here is a pure function of its arguments (head dimension, base, schedule,
positions, dtype). Importing this package does not switch on 64-bit JAX; proofs run with
``jax_enable_x64`` set by the caller (the ``ropelab`` command and the test suite do so).
"""
