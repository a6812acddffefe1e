"""Models: the real-model adapter and its capture cache, the small JAX transformer, its training
loop and the corpus it trains on."""
