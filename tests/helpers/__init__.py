"""Shared test helpers: conformance targets, figure stubs, real models' RoPE configurations."""
