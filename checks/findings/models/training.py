r"""Deterministic, resumable training of :mod:`.transformer` language models with optax.

AdamW with a linear warm-up to the peak learning rate and a cosine decay to
``final_lr_ratio * peak`` (:func:`make_optimizer`), gradient clipping by global norm. A run is
a pure function of its :class:`RunSpec` and the corpus: the initial weights come from
``jax.random.PRNGKey(seed)`` and the batch of step ``s`` from ``numpy.random.default_rng((seed,
s))``, so an interrupted run that resumes from a checkpoint replays exactly the batches it
would have seen, and ends bit-for-bit where an uninterrupted run ends.

Checkpoints (one file, written atomically, verified on reading):
:mod:`ropelab.checks.findings.models.checkpoints`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ropelab.checks.findings.models import transformer as tf
from ropelab.constructions import validation as _v
from ropelab.checks.findings.models.batches import sample_batch
from ropelab.checks.findings.models.checkpoints import (CHECKPOINT_MAGIC, CheckpointError, TrainState, load_checkpoint,
                                                        save_checkpoint)

__all__ = [
    "CheckpointError",
    "RunSpec",
    "TrainConfig",
    "TrainState",
    "learning_rate_schedule",
    "load_checkpoint",
    "make_optimizer",
    "rotary_tables",
    "save_checkpoint",
    "train",
    "trainer",
]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every model of an experiment.

    ``seq_len`` is the training context ``T``; ``eval_every`` steps the validation loss at
    ``T`` is measured on ``eval_windows`` fixed windows; a checkpoint is written every
    ``checkpoint_every`` steps and at the end.
    """

    seq_len: int = 128
    batch_size: int = 32
    steps: int = 600
    warmup_steps: int = 60
    peak_lr: float = 3e-3
    final_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_windows: int = 32
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        _v.positive_integers(self, ("seq_len", "batch_size", "steps", "eval_every", "eval_windows", "checkpoint_every"))
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps={self.steps}), got {self.warmup_steps}")
        if not (math.isfinite(self.peak_lr) and self.peak_lr > 0):
            raise ValueError(f"peak_lr must be a finite number > 0, got {self.peak_lr}")
        if not 0 <= self.final_lr_ratio <= 1:
            raise ValueError(f"final_lr_ratio must be in [0, 1], got {self.final_lr_ratio}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RunSpec:
    """One training run: a model, its positional encoding, the optimisation and a seed."""

    model: tf.ModelConfig
    encoding: tf.PositionalEncoding
    train: TrainConfig
    seed: int

    def fingerprint(self, corpus_checksum: str) -> str:
        """SHA-256 of everything that determines the run's result (the corpus included)."""
        facts = {
            "model": self.model.as_dict(),
            "encoding": asdict(self.encoding),
            "train": self.train.as_dict(),
            "seed": self.seed,
            "corpus": corpus_checksum,
        }
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    r"""Clip by global norm, then AdamW with warm-up + cosine decay.

    The learning rate rises linearly from 0 to ``peak_lr`` over ``warmup_steps`` and follows
    :math:`\text{end} + (\text{peak} - \text{end})\tfrac{1}{2}(1 + \cos(\pi t'/T'))` to
    ``end = final_lr_ratio * peak_lr`` at the last step.

    >>> opt = make_optimizer(TrainConfig(steps=10, warmup_steps=2))
    >>> state = opt.init({"w": jnp.zeros(3)})
    >>> updates, _ = opt.update({"w": jnp.ones(3)}, state, {"w": jnp.zeros(3)})
    >>> bool(jnp.all(updates["w"] == 0.0))  # step 0 of the warm-up has learning rate 0
    True
    """
    schedule = learning_rate_schedule(config)
    optimizer = optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adamw(schedule, b1=config.beta1, b2=config.beta2, weight_decay=config.weight_decay),
    )

    # optax mixes Python floats with its int32 step count (bias correction, schedules): its
    # calls keep the standard promotion whatever promotion mode the caller runs under.
    def init(params):
        with jax.numpy_dtype_promotion("standard"):
            return optimizer.init(params)

    def update(updates, state, params=None, **extra_args):
        with jax.numpy_dtype_promotion("standard"):
            return optimizer.update(updates, state, params, **extra_args)

    return optax.GradientTransformationExtraArgs(init, update)


def learning_rate_schedule(config: TrainConfig) -> optax.Schedule:
    """The warm-up + cosine schedule of :func:`make_optimizer`, step -> learning rate.

    >>> sched = learning_rate_schedule(TrainConfig(steps=100, warmup_steps=10, peak_lr=1.0, final_lr_ratio=0.1))
    >>> [round(float(sched(s)), 3) for s in (0, 5, 10, 100)]
    [0.0, 0.5, 1.0, 0.1]
    """
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.peak_lr,
        warmup_steps=config.warmup_steps,
        decay_steps=config.steps,
        end_value=config.final_lr_ratio * config.peak_lr,
    )


@functools.cache
def rotary_tables(encoding: tf.PositionalEncoding, length: int, head_dim: int) -> tf.RotaryTables:
    """``encoding.tables(length, head_dim)`` in float32, the weights' dtype, formed once per process."""
    return encoding.tables(length, head_dim)


@functools.cache
def _programs(model: tf.ModelConfig, config: TrainConfig):
    """The optimiser and the jitted step and per-token NLL of one architecture and optimisation.

    The encoding enters as :class:`.transformer.RotaryTables`, an argument, so every encoding
    of the half layout (NoPE, RoPE, p-RoPE, reversed p-RoPE, any base) runs one compiled program
    per sequence length; partial rotary's tables have another structure and compile their own.
    """
    optimizer = make_optimizer(config)

    def batch_nll(params, batch, tables):
        return jax.vmap(lambda seq: tf.token_nll(params, seq, model, tables))(batch)

    def loss(params, batch, tables):
        return jnp.mean(batch_nll(params, batch, tables))

    def step(params, opt_state, batch, tables):
        value, grads = jax.value_and_grad(loss)(params, batch, tables)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return optimizer, jax.jit(step), jax.jit(batch_nll)


class Trainer:
    """The step and evaluation functions of one (model, encoding, optimisation).

    Use :func:`trainer` to get a cached instance. The compiled programs are shared by every
    trainer of the same model and optimisation (see :func:`_programs`), so a resumed run and a
    fresh one run the same executable, and so do two encodings of the same layout.
    """

    def __init__(self, model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: TrainConfig):
        self.model, self.encoding, self.config = model, encoding, config
        self.optimizer, self._step, self._batch_nll = _programs(model, config)

    def step(self, params: dict, opt_state, batch: jax.Array):
        """One optimiser step on ``batch`` ``(B, T + 1)``: new params, new optimiser state, the loss."""
        return self._step(params, opt_state, batch, rotary_tables(self.encoding, batch.shape[-1] - 1, self.model.head_dim))

    def batch_nll(self, params: dict, batch: jax.Array) -> jax.Array:
        """Per-token NLL of ``batch`` ``(B, T + 1)``, shape ``(B, T)``."""
        return self._batch_nll(params, batch, rotary_tables(self.encoding, batch.shape[-1] - 1, self.model.head_dim))

    def init(self, seed: int) -> TrainState:
        """A fresh state: weights from ``PRNGKey(seed)``, optimiser at step 0."""
        params = tf.init_params(self.model, jax.random.PRNGKey(seed))
        return TrainState(params=params, opt_state=self.optimizer.init(params))

    def position_nll(self, params: dict, windows: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Mean NLL (nats) at each position of ``windows`` ``(n, L + 1)``, shape ``(L,)``.

        Windows go through in batches of exactly ``batch_size`` (the last one padded with
        copies whose losses are dropped), so each length compiles once.
        """
        windows = np.asarray(windows, dtype=np.int32)
        n = windows.shape[0]
        padded = np.concatenate([windows, np.repeat(windows[:1], -n % batch_size, axis=0)])
        total = np.zeros(windows.shape[1] - 1, dtype=np.float64)
        for start in range(0, n, batch_size):
            nll = np.asarray(self.batch_nll(params, jnp.asarray(padded[start : start + batch_size])), dtype=np.float64)
            total += nll[: n - start].sum(axis=0)
        return total / n


@functools.cache
def trainer(model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: TrainConfig) -> Trainer:
    """The cached :class:`Trainer` of a configuration."""
    return Trainer(model, encoding, config)


def train(
    run: RunSpec,
    train_tokens: np.ndarray,
    validation_windows: np.ndarray,
    corpus_checksum: str,
    checkpoint: str | Path | None = None,
    until_step: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainState:
    """Train ``run`` on ``train_tokens``, resuming from ``checkpoint`` if it exists.

    Stops after step ``until_step`` (default: the last step) and checkpoints there, so a
    later call continues. ``validation_windows`` ``(n, T + 1)`` give the validation curve;
    ``on_step(step, loss)`` is called after every step (progress bars).
    """
    cfg = run.train
    stop = cfg.steps if until_step is None else min(int(until_step), cfg.steps)
    engine = trainer(run.model, run.encoding, cfg)
    fingerprint = run.fingerprint(corpus_checksum)
    state = engine.init(run.seed)
    if checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, state, fingerprint)
    params, opt_state = state.params, state.opt_state
    first = True
    while state.step < stop:
        batch = jnp.asarray(sample_batch(train_tokens, run.seed, state.step, cfg.batch_size, cfg.seq_len))
        started = time.perf_counter()
        params, opt_state, loss = engine.step(params, opt_state, batch)
        loss = float(loss)
        if not first:  # the first step of each call includes compilation
            state.train_seconds += time.perf_counter() - started
            state.trained_tokens += cfg.batch_size * cfg.seq_len
        first = False
        state.step += 1
        state.train_loss.append(loss)
        state.params, state.opt_state = params, opt_state
        if state.step % cfg.eval_every == 0 or state.step == cfg.steps:
            state.validation.append((state.step, float(engine.position_nll(params, validation_windows).mean())))
        if checkpoint is not None and (state.step % cfg.checkpoint_every == 0 or state.step == stop):
            save_checkpoint(checkpoint, state, fingerprint)
        if on_step is not None:
            on_step(state.step, loss)
    return state
