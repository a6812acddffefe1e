r"""Recall across distance: a synthetic task whose answer needs content matching far back.

A sequence is distractor tokens with one *value* token somewhere and a *query* token at the end;
the model must name the value. Which position holds the value is random, so no fixed offset
helps: the query's head has to find the value by content, the setting of Thm 6.1 (a semantic
channel). Trained at distances up to ``T`` and evaluated at distances up to ``16 T``, the accuracy
shows where the channels the model relies on stop keeping their target.

Vocabulary: ``0 .. n_values-1`` values, then ``n_distractors`` distractor tokens, then the query.
Only the answer position is scored (a masked cross-entropy).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import training
from . import transformer as tf


@dataclass(frozen=True)
class RecallTask:
    """Sizes of the task: how many values and distractors, the shortest distance drawn.

    >>> RecallTask(n_values=8, n_distractors=16).vocab_size
    25
    """

    n_values: int = 16
    n_distractors: int = 32
    min_distance: int = 1

    @property
    def query(self) -> int:
        return self.n_values + self.n_distractors

    @property
    def vocab_size(self) -> int:
        return self.query + 1


def recall_batch(task: RecallTask, rng: np.random.Generator, batch_size: int, length: int,
                 distances: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences ``(B, length)`` and their answers ``(B,)``.

    The value sits ``distance`` tokens before the query (the last token), with ``distance``
    drawn uniformly from ``min_distance .. length - 1`` unless ``distances`` ``(B,)`` is given.

    >>> tokens, answers = recall_batch(RecallTask(4, 8), np.random.default_rng(0), 3, 10, np.array([1, 5, 9]))
    >>> tokens.shape, bool(np.all(tokens[:, -1] == 12)), bool(np.all(tokens[[0, 1, 2], [8, 4, 0]] == answers))
    ((3, 10), True, True)
    """
    if distances is None:
        distances = rng.integers(task.min_distance, length, size=batch_size)
    distances = np.asarray(distances)
    if np.any(distances < 1) or np.any(distances > length - 1):
        raise ValueError(f"distances must lie in 1 .. length - 1 = {length - 1}")
    tokens = rng.integers(task.n_values, task.query, size=(batch_size, length))
    answers = rng.integers(0, task.n_values, size=batch_size)
    tokens[np.arange(batch_size), length - 1 - distances] = answers
    tokens[:, -1] = task.query
    return tokens.astype(np.int32), answers.astype(np.int32)


def answer_logits(params: dict, tokens: jax.Array, model: tf.ModelConfig, encoding: tf.PositionalEncoding) -> jax.Array:
    """The model's logits at the query position, shape ``(vocab,)`` for tokens ``(T,)``."""
    return tf.forward(params, tokens, model, encoding)[-1]


class RecallTrainer:
    """The compiled masked-loss step and the accuracy of one (model, encoding, optimisation)."""

    def __init__(self, model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: training.TrainConfig):
        self.model, self.encoding, self.config = model, encoding, config
        self.optimizer = training.make_optimizer(config)

        def batch_logits(params, tokens):
            return jax.vmap(lambda seq: answer_logits(params, seq, model, encoding))(tokens)

        def loss(params, tokens, answers):
            logits = batch_logits(params, tokens).astype(jnp.float32)
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, answers))

        def step(params, opt_state, tokens, answers):
            value, grads = jax.value_and_grad(loss)(params, tokens, answers)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, value

        self.step = jax.jit(step)
        self.batch_logits = jax.jit(batch_logits)

    def init(self, seed: int) -> training.TrainState:
        params = tf.init_params(self.model, jax.random.PRNGKey(seed))
        return training.TrainState(params=params, opt_state=self.optimizer.init(params))

    def accuracy(self, params: dict, tokens: np.ndarray, answers: np.ndarray, batch_size: int = 32) -> float:
        """Share of sequences whose argmax at the query is the answer."""
        hits = 0
        for start in range(0, tokens.shape[0], batch_size):
            logits = np.asarray(self.batch_logits(params, jnp.asarray(tokens[start : start + batch_size])))
            hits += int(np.sum(logits.argmax(axis=-1) == answers[start : start + batch_size]))
        return hits / tokens.shape[0]


@functools.cache
def recall_trainer(model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: training.TrainConfig) -> RecallTrainer:
    """The cached :class:`RecallTrainer` of a configuration (one compilation per process)."""
    return RecallTrainer(model, encoding, config)


def train_recall(task: RecallTask, run: training.RunSpec, checkpoint=None, until_step: int | None = None,
                 on_step=None) -> training.TrainState:
    """Train ``run`` on fresh recall batches (batch ``s`` from ``default_rng((seed, s))``), resumable.

    Stops after step ``until_step`` (default: the last) and checkpoints there, so a later call
    continues and ends bit for bit where an uninterrupted run ends.

    The validation curve is the accuracy on a fixed held-out set of training-length sequences
    (drawn from ``default_rng((seed, 2**31))``, a stream no training step uses), measured
    every ``eval_every`` steps; checkpoints as :func:`ropelab.constructions.models.training.train`.
    """
    cfg = run.train
    stop = cfg.steps if until_step is None else min(int(until_step), cfg.steps)
    engine = recall_trainer(run.model, run.encoding, cfg)
    fingerprint = run.fingerprint(f"recall:{task}")
    state = engine.init(run.seed)
    if checkpoint is not None and checkpoint.exists():
        state = training.load_checkpoint(checkpoint, state, fingerprint)
    held_tokens, held_answers = recall_batch(task, np.random.default_rng((run.seed, 2**31)), cfg.eval_windows, cfg.seq_len)
    params, opt_state = state.params, state.opt_state
    while state.step < stop:
        tokens, answers = recall_batch(task, np.random.default_rng((run.seed, state.step)), cfg.batch_size, cfg.seq_len)
        params, opt_state, loss = engine.step(params, opt_state, jnp.asarray(tokens), jnp.asarray(answers))
        state.step += 1
        state.train_loss.append(float(loss))
        state.params, state.opt_state = params, opt_state
        if state.step % cfg.eval_every == 0 or state.step == cfg.steps:
            state.validation.append((state.step, engine.accuracy(params, held_tokens, held_answers)))
        if checkpoint is not None and (state.step % cfg.checkpoint_every == 0 or state.step == stop):
            training.save_checkpoint(checkpoint, state, fingerprint)
        if on_step is not None:
            on_step(state.step, float(loss))
    return state
