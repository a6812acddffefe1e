"""Models: the real-model adapter and its capture cache, the small JAX transformer, its training
loop and the corpus it trains on."""

__all__ = [
    "checkpoints",
    "corpus",
    "gguf_check",
    "model_adapter",
    "model_cache",
    "synthetic_tasks",
    "training",
    "transformer",
    "transformer_usage",
]
