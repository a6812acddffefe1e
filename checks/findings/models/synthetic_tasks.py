r"""Synthetic tasks that need one kind of head each, and their masked-loss training.

- **Recall across distance** (:class:`RecallTask`): distractor tokens with one *value* token
  somewhere and a *query* token at the end; the model must name the value. Which position holds
  the value is random, so no fixed offset helps: the query's head has to find the value by
  content, the setting of Thm 6.1 (a semantic channel).
- **Copy at an offset** (:class:`OffsetTask`): every token after the first ``offset`` must be
  predicted as the token ``offset`` places back, which needs a fixed-offset (positional) head,
  the setting of Thm 5.3 and Prop 5.2. Sequences start with a BOS token, the anchor a NoPE head
  can use.

A batch is ``(tokens, targets, mask)``, each ``(B, L)``; the loss is the cross-entropy at the
positions where ``mask`` is 1.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import mesh as mesh_lib
from . import training
from . import transformer as tf

__all__ = [
    "OffsetTask",
    "RecallTask",
    "TaskTrainer",
    "offset_batch",
    "recall_batch",
    "recall_targets",
    "task_trainer",
    "train_task",
]


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
    """Token sequences ``(B, length)`` and their answers ``(B,)`` (see :func:`recall_targets`).

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


def recall_targets(tokens: np.ndarray, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The recall batch as ``(tokens, targets, mask)``: only the query position is scored."""
    targets = np.zeros_like(tokens)
    targets[:, -1] = answers
    mask = np.zeros(tokens.shape, dtype=np.float32)
    mask[:, -1] = 1.0
    return tokens, targets, mask


@dataclass(frozen=True)
class OffsetTask:
    """Copy at a fixed offset: target ``t`` is token ``t - offset``; token 0 is BOS.

    >>> OffsetTask(n_symbols=8, offset=3).vocab_size
    9
    """

    n_symbols: int = 32
    offset: int = 3

    @property
    def bos(self) -> int:
        return self.n_symbols

    @property
    def vocab_size(self) -> int:
        return self.n_symbols + 1


def offset_batch(task: OffsetTask, rng: np.random.Generator, batch_size: int, length: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tokens, targets, mask)`` of shape ``(B, length)``: BOS, then random symbols; positions
    ``t >= offset + 1`` are scored against ``tokens[t - offset]``.

    >>> tokens, targets, mask = offset_batch(OffsetTask(8, 2), np.random.default_rng(0), 1, 6)
    >>> bool(np.all(targets[0, 3:] == tokens[0, 1:4])), mask[0].tolist()
    (True, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    """
    if not 1 <= task.offset < length - 1:
        raise ValueError(f"offset must lie in 1 .. length - 2 = {length - 2}, got {task.offset}")
    tokens = rng.integers(0, task.n_symbols, size=(batch_size, length))
    tokens[:, 0] = task.bos
    targets = np.zeros_like(tokens)
    targets[:, task.offset :] = tokens[:, : length - task.offset]
    mask = np.zeros(tokens.shape, dtype=np.float32)
    mask[:, task.offset + 1 :] = 1.0  # the first scored target is a symbol, never BOS
    return tokens.astype(np.int32), targets.astype(np.int32), mask


@functools.cache
def _task_programs(model: tf.ModelConfig, config: training.TrainConfig, mesh):
    """The optimiser and the jitted masked-loss step and logits of one architecture and
    optimisation on ``mesh``, the encoding passed in as :class:`.transformer.RotaryTables`
    (shared by every encoding of a layout, as in :func:`.training._programs`)."""
    if config.micro_batches != 1:  # the masked task loss is one batch; never silently drop the setting
        raise ValueError(f"micro_batches: the task trainer takes whole batches (1), got {config.micro_batches}")
    optimizer = training.make_optimizer(config)

    def batch_logits(params, tokens, tables):
        return jax.vmap(lambda seq: tf.forward(params, seq, model, tables))(tokens)

    def loss(params, tokens, targets, mask, tables):
        logits = batch_logits(params, tokens, tables).astype(jnp.float32)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
        return jnp.sum(nll * mask) / jnp.sum(mask)

    def step(params, opt_state, tokens, targets, mask, tables):
        value, grads = jax.value_and_grad(loss)(params, tokens, targets, mask, tables)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return (optimizer, training.compile_step(step, model, optimizer, mesh, (2, 2, 2)),
            training.compile_eval(batch_logits, mesh, 3))


class TaskTrainer:
    """The masked-loss step and masked accuracy of one (model, encoding, optimisation) on one mesh."""

    def __init__(self, model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: training.TrainConfig,
                 mesh=None):
        self.model, self.encoding, self.config = model, encoding, config
        self.mesh = training.default_mesh() if mesh is None else mesh
        self.optimizer, self._step, self._batch_logits = _task_programs(model, config, self.mesh)

    def step(self, params: dict, opt_state, tokens: np.ndarray, targets: np.ndarray, mask: np.ndarray):
        """One optimiser step on a batch ``(B, T)``: new params, new optimiser state, the loss."""
        batch = (mesh_lib.place_batch(x, self.mesh) for x in (tokens, targets, mask))
        return self._step(params, opt_state, *batch, training.replicated_tables(self.encoding, np.shape(tokens)[-1], self.model.head_dim, self.mesh))

    def batch_logits(self, params: dict, tokens: np.ndarray) -> jax.Array:
        """Logits of ``tokens`` ``(B, T)``, shape ``(B, T, vocab)``."""
        return self._batch_logits(params, mesh_lib.place_batch(tokens, self.mesh), training.replicated_tables(self.encoding, np.shape(tokens)[-1], self.model.head_dim, self.mesh))

    def place(self, state: training.TrainState) -> training.TrainState:
        """``state`` on this trainer's mesh (see :meth:`.training.Trainer.place`)."""
        return training.place_state(state, self.mesh)

    def init(self, seed: int) -> training.TrainState:
        params = tf.init_params(self.model, jax.random.PRNGKey(seed))
        return self.place(training.TrainState(params=params, opt_state=self.optimizer.init(params)))

    def accuracy(self, params: dict, tokens: np.ndarray, targets: np.ndarray, mask: np.ndarray,
                 batch_size: int = 32) -> float:
        """Share of scored positions whose argmax is the target."""
        hits = total = 0.0
        data = self.mesh.shape[mesh_lib.DATA]
        for start in range(0, tokens.shape[0], batch_size):
            chunk = tokens[start : start + batch_size]  # padded to a multiple of the data axis, the copies dropped
            padded = np.concatenate([chunk, np.repeat(chunk[:1], -len(chunk) % data, axis=0)])
            logits = mesh_lib.fetch(self.batch_logits(params, padded))[: len(chunk)]
            right = logits.argmax(axis=-1) == targets[start : start + batch_size]
            hits += float(np.sum(right * mask[start : start + batch_size]))
            total += float(np.sum(mask[start : start + batch_size]))
        return hits / total


def task_trainer(model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: training.TrainConfig,
                 mesh=None) -> TaskTrainer:
    """The cached :class:`TaskTrainer` of a configuration on ``mesh`` (default: :func:`.training.default_mesh`)."""
    return _task_trainer(model, encoding, config, training.default_mesh() if mesh is None else mesh)


@functools.cache
def _task_trainer(model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: training.TrainConfig,
                  mesh) -> TaskTrainer:
    return TaskTrainer(model, encoding, config, mesh)


def task_batch(task: RecallTask | OffsetTask, rng: np.random.Generator, batch_size: int, length: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A training batch ``(tokens, targets, mask)`` of either task."""
    if isinstance(task, OffsetTask):
        return offset_batch(task, rng, batch_size, length)
    return recall_targets(*recall_batch(task, rng, batch_size, length))


def train_task(task: RecallTask | OffsetTask, run: training.RunSpec, checkpoint=None, until_step: int | None = None,
               on_step=None, mesh=None) -> training.TrainState:
    """Train ``run`` on fresh batches of ``task`` (batch ``s`` from ``default_rng((seed, s))``), resumable.

    Stops after step ``until_step`` (default: the last) and checkpoints there, so a later call
    continues and ends bit for bit where an uninterrupted run ends.

    The validation curve is the accuracy on a fixed held-out set of training-length sequences
    (drawn from ``default_rng((seed, 2**31))``, a stream no training step uses), measured
    every ``eval_every`` steps; checkpoints as :func:`ropelab.checks.findings.models.training.train`.
    """
    cfg = run.train
    stop = cfg.steps if until_step is None else min(int(until_step), cfg.steps)
    engine = task_trainer(run.model, run.encoding, cfg, mesh)
    fingerprint = run.fingerprint(f"task:{task}")
    state = engine.init(run.seed)
    if checkpoint is not None and checkpoint.exists():
        state = engine.place(training.load_checkpoint(checkpoint, state, fingerprint))
    held = task_batch(task, np.random.default_rng((run.seed, 2**31)), cfg.eval_windows, cfg.seq_len)
    params, opt_state = state.params, state.opt_state
    while state.step < stop:
        batch = task_batch(task, np.random.default_rng((run.seed, state.step)), cfg.batch_size, cfg.seq_len)
        params, opt_state, loss = engine.step(params, opt_state, *batch)
        state.step += 1
        state.train_loss.append(float(loss))
        state.params, state.opt_state = params, opt_state
        if state.step % cfg.eval_every == 0 or state.step == cfg.steps:
            state.validation.append((state.step, engine.accuracy(params, *held)))
        if checkpoint is not None and (state.step % cfg.checkpoint_every == 0 or state.step == stop):
            training.save_checkpoint(checkpoint, state, fingerprint)
        if on_step is not None:
            on_step(state.step, float(loss))
    return state
