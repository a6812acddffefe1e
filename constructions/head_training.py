r"""Gradient ascent (optax) on a head's ``W_Q``, ``W_K`` to maximise one attention weight.

Used to ask Prop 5.2's question empirically: how close can an optimiser bring a NoPE head to
a diagonal head on ``[bos, x, x]``, and how fast does a RoPE head with the same optimiser,
budget and initialisation get there? The loss is :math:`-\log\alpha_{\text{row},\text{key}}`
of the causal softmax; positions are ``0 .. n-1`` and the rotations are the package's
:func:`ropelab.constructions.rotary.rotation_matrix` (so one compiled step serves every
schedule of the same shape).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import rotary
from . import validation as _v

__all__ = ["AscentRun", "maximise_attention_weight", "random_start"]


@dataclass(frozen=True)
class AscentRun:
    """The outcome of :func:`maximise_attention_weight`."""

    weights: np.ndarray  # (steps + 1,): the target weight before each step and after the last
    w_q: np.ndarray  # (D, d) final
    w_k: np.ndarray  # (D, d) final
    logits: np.ndarray  # (n, n) final logits

    @property
    def best(self) -> float:
        return float(np.max(self.weights))


def _log_weight(params, x, rotations, row, key):
    q = jnp.einsum("nab,nb->na", rotations, x @ params["w_q"])
    k = jnp.einsum("nab,nb->na", rotations, x @ params["w_k"])
    a = q @ k.T
    mask = jnp.tril(jnp.ones(a.shape, dtype=bool))
    return jax.nn.log_softmax(jnp.where(mask, a, -jnp.inf), axis=-1)[row, key], a


@functools.partial(jax.jit, static_argnames=("steps", "learning_rate", "row", "key"))
def _ascend(params, x, rotations, steps, learning_rate, row, key):
    optimiser = optax.adam(learning_rate)

    def step(carry, _):
        p, state = carry
        (log_w, _), grads = jax.value_and_grad(_log_weight, has_aux=True)(p, x, rotations, row, key)
        grads = jax.tree_util.tree_map(jnp.negative, grads)  # ascend log alpha
        # optax raises a Python float to an int32 step count (Adam's bias correction).
        with jax.numpy_dtype_promotion("standard"):
            updates, state = optimiser.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), jnp.exp(log_w)

    (params, _), curve = jax.lax.scan(step, (params, optimiser.init(params)), None, length=steps)
    final, logits = _log_weight(params, x, rotations, row, key)
    return params, jnp.append(curve, jnp.exp(final)), logits


def maximise_attention_weight(
    embeddings: object,
    tokens: object,
    freqs: object,
    w_q: object,
    w_k: object,
    row: int,
    key: int,
    steps: int = 200,
    learning_rate: float = 0.01,
) -> AscentRun:
    r"""Adam on ``(W_Q, W_K)`` maximising :math:`\log\alpha_{\text{row},\text{key}}`, from the given start.

    Shapes: ``embeddings`` ``(V, D)``, ``tokens`` ``(n,)``, ``freqs`` ``(d/2,)``, ``w_q`` and
    ``w_k`` ``(D, d)`` (the initialisation). Needs ``jax_enable_x64``. Deterministic.

    >>> e = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> run = maximise_attention_weight(e, [0, 1, 1], [0.0], np.eye(2), np.eye(2), 2, 2, steps=50)
    >>> bool(run.best <= 0.5), bool(run.weights[-1] > run.weights[0])
    (True, True)
    """
    _v.require_x64("head_training.maximise_attention_weight")
    emb = np.asarray(_v.finite_vector(embeddings, "embeddings"), dtype=np.float64)
    tok = np.asarray(tokens)
    if emb.ndim != 2 or tok.ndim != 1 or not np.issubdtype(tok.dtype, np.integer):
        raise ValueError("embeddings must be (V, D) and tokens a 1-D array of integer ids")
    n = tok.size
    if not (0 <= key <= row < n):
        raise ValueError(f"need 0 <= key <= row < n = {n} (a causal weight), got row={row}, key={key}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    _v.positive(learning_rate, "learning_rate")
    rotations = np.stack([rotary.rotation_matrix(p, freqs) for p in range(n)])
    params = {"w_q": jnp.asarray(w_q, dtype=jnp.float64), "w_k": jnp.asarray(w_k, dtype=jnp.float64)}
    if params["w_q"].shape != (emb.shape[1], rotations.shape[1]) or params["w_k"].shape != params["w_q"].shape:
        raise ValueError(f"w_q and w_k must be (D={emb.shape[1]}, d={rotations.shape[1]}) matrices")
    final, curve, logits = _ascend(params, jnp.asarray(emb[tok]), jnp.asarray(rotations), steps,
                                   float(learning_rate), int(row), int(key))
    return AscentRun(np.asarray(curve), np.asarray(final["w_q"]), np.asarray(final["w_k"]), np.asarray(logits))


def random_start(d_model: int, d: int, seed: int, vocab: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Token embeddings and one ``(W_Q, W_K)`` initialisation, shared by the encodings compared.

    Embeddings ``N(0, 1)``, weights ``N(0, 1/D)`` from ``numpy.random.default_rng(seed)``.
    Shapes: returns ``(vocab, D)``, ``(D, d)``, ``(D, d)``.

    >>> emb, w_q, w_k = random_start(8, 4, 0)
    >>> emb.shape, w_q.shape, w_k.shape
    ((2, 8), (8, 4), (8, 4))
    """
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((vocab, d_model))
    w_q = rng.standard_normal((d_model, d)) / np.sqrt(d_model)
    w_k = rng.standard_normal((d_model, d)) / np.sqrt(d_model)
    return emb, w_q, w_k
