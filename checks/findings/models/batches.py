"""Token windows for training and evaluation, drawn deterministically from a token array.

The batch of step ``s`` comes from ``numpy.random.default_rng((seed, s))``
(:func:`sample_batch`), so a resumed run replays exactly the batches it would have seen; the
evaluation chunks are fixed and evenly spaced (:func:`evaluation_chunks`) and can be cut into
windows of several lengths that score the same target tokens (:func:`split_windows`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["evaluation_chunks", "sample_batch", "split_windows"]


def sample_batch(tokens: np.ndarray, seed: int, step: int, batch_size: int, seq_len: int) -> np.ndarray:
    """The training batch of ``step``: ``batch_size`` random windows of ``seq_len + 1`` tokens.

    Window starts are drawn from ``numpy.random.default_rng((seed, step))``, so any step's
    batch can be regenerated without replaying the ones before it. Shape ``(B, T + 1)``.

    >>> b = sample_batch(np.arange(100, dtype=np.uint8), seed=0, step=3, batch_size=2, seq_len=4)
    >>> b.shape, bool(np.all(np.diff(b, axis=1) == 1))
    ((2, 5), True)
    """
    tokens = np.asarray(tokens)
    if tokens.size < seq_len + 2:
        raise ValueError(f"tokens must hold more than seq_len + 1 = {seq_len + 1} tokens, got {tokens.size}")
    rng = np.random.default_rng((seed, step))
    starts = rng.integers(0, tokens.size - seq_len - 1, size=batch_size)
    return tokens[starts[:, None] + np.arange(seq_len + 1)].astype(np.int32)


def evaluation_chunks(tokens: np.ndarray, n_chunks: int, chunk_len: int) -> np.ndarray:
    """``n_chunks`` evenly spaced chunks of ``chunk_len + 1`` tokens, shape ``(n, chunk_len + 1)``.

    Splitting the same chunks into windows of several lengths (:func:`split_windows`) scores
    exactly the same target tokens at every context length.

    >>> evaluation_chunks(np.arange(20), 3, 4).tolist()
    [[0, 1, 2, 3, 4], [8, 9, 10, 11, 12], [15, 16, 17, 18, 19]]
    """
    tokens = np.asarray(tokens)
    if tokens.size < chunk_len + 1:
        raise ValueError(f"tokens must hold at least chunk_len + 1 = {chunk_len + 1} tokens, got {tokens.size}")
    starts = np.linspace(0, tokens.size - chunk_len - 1, n_chunks).round().astype(np.int64)
    return tokens[starts[:, None] + np.arange(chunk_len + 1)].astype(np.int32)


def split_windows(chunks: np.ndarray, length: int) -> np.ndarray:
    """Cut chunks of ``C + 1`` tokens into windows of ``length + 1`` that share one token.

    Window ``w`` of a chunk is ``chunk[w*length : (w+1)*length + 1]``: its ``length`` targets
    are the chunk's targets ``w*length+1 .. (w+1)*length``. ``C`` must be a multiple of
    ``length``. Shape ``(n * C / length, length + 1)``.

    >>> split_windows(np.arange(9)[None], 4).tolist()
    [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8]]
    """
    chunks = np.asarray(chunks)
    n, width = chunks.shape
    if (width - 1) % length:
        raise ValueError(f"length must divide the chunk length {width - 1}, got {length}")
    pieces = [chunks[:, w * length : (w + 1) * length + 1] for w in range((width - 1) // length)]
    return np.stack(pieces, axis=1).reshape(n * len(pieces), length + 1)
