"""Models: the real-model adapter, its layer-streamed path and its capture cache, the small JAX
transformer, its training loop on a device mesh and the corpus it trains on."""

__all__ = [
    "batches",
    "capture_records",
    "capture_validation",
    "checkpoints",
    "corpus",
    "gemma_files",
    "gguf_check",
    "layer_stream",
    "mesh",
    "model_adapter",
    "model_cache",
    "model_schedules",
    "synthetic_tasks",
    "training",
    "transformer",
    "transformer_usage",
]
