r"""Deterministic, resumable training of :mod:`.transformer` language models with optax.

AdamW with a linear warm-up to the peak learning rate and a cosine decay to
``final_lr_ratio * peak`` (:func:`make_optimizer`), gradient clipping by global norm. A run is
a pure function of its :class:`RunSpec` and the corpus: the initial weights come from
``jax.random.PRNGKey(seed)`` and the batch of step ``s`` from ``numpy.random.default_rng((seed,
s))``, so an interrupted run that resumes from a checkpoint replays exactly the batches it
would have seen, and ends bit-for-bit where an uninterrupted run ends.

Every step is one jitted program over a :class:`jax.sharding.Mesh`
(:mod:`ropelab.checks.findings.models.mesh`): the batch split along its data axis, the
parameters replicated or split along its model axis. One device is the ``(1, 1)`` mesh, and
runs bit for bit as an unsharded program does; more devices change only the order of the
batch reductions (:func:`ropelab.checks.findings.models.mesh.summation_bound`).

Checkpoints (one file, written atomically, verified on reading, gathered from every device that
holds a piece): :mod:`ropelab.checks.findings.models.checkpoints`.
"""

from __future__ import annotations

import contextlib
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

from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ropelab.checks.findings.models import mesh as _mesh
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
    "batch_gradient",
    "compile_eval",
    "compile_step",
    "default_mesh",
    "learning_rate_schedule",
    "load_checkpoint",
    "make_optimizer",
    "place_state",
    "replicated_tables",
    "rotary_tables",
    "running_on",
    "save_checkpoint",
    "state_shardings",
    "step_functions",
    "train",
    "trainer",
]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every model of an experiment.

    ``seq_len`` is the training context ``T``; ``eval_every`` steps the validation loss at
    ``T`` is measured on ``eval_windows`` fixed windows; a checkpoint is written every
    ``checkpoint_every`` steps and at the end. ``micro_batches`` splits each device's share of
    the batch into that many micro-batches whose gradients are summed inside the one step
    (:func:`step_functions`): the same mean over the batch, up to the order of the sum, in the
    memory of one micro-batch. :meth:`as_dict` leaves it out at its default of 1.
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
    micro_batches: int = 1

    def __post_init__(self) -> None:
        _v.positive_integers(self, ("seq_len", "batch_size", "steps", "eval_every", "eval_windows", "checkpoint_every",
                                    "micro_batches"))
        if self.batch_size % self.micro_batches:
            raise ValueError(f"micro_batches must divide batch_size={self.batch_size}, got {self.micro_batches}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps={self.steps}), got {self.warmup_steps}")
        if not (math.isfinite(self.peak_lr) and self.peak_lr > 0):
            raise ValueError(f"peak_lr must be a finite number > 0, got {self.peak_lr}")
        if not 0 <= self.final_lr_ratio <= 1:
            raise ValueError(f"final_lr_ratio must be in [0, 1], got {self.final_lr_ratio}")

    def as_dict(self) -> dict:
        """The fields as a dict, without ``micro_batches`` at its default of 1 (it changes how a step
        is computed, not what), so configurations that do not use it read as they always have.

        >>> "micro_batches" in TrainConfig().as_dict(), TrainConfig(micro_batches=2).as_dict()["micro_batches"]
        (False, 2)
        """
        fields = asdict(self)
        if fields["micro_batches"] == 1:
            del fields["micro_batches"]
        return fields


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


_ACTIVE: list[Mesh] = []
"""The meshes :func:`running_on` has set, innermost last."""


def default_mesh() -> Mesh:
    """The mesh a run uses unless told otherwise: the one :func:`running_on` set, else every
    device of this host on the data axis (one device in a single-threaded CPU worker)."""
    return _ACTIVE[-1] if _ACTIVE else _mesh.training_mesh(devices=jax.local_devices())


@contextlib.contextmanager
def running_on(mesh: Mesh):
    """Within the block, every run that names no mesh trains on ``mesh`` (a global mesh over hosts)."""
    _ACTIVE.append(mesh)
    try:
        yield mesh
    finally:
        _ACTIVE.pop()


def state_shardings(model: tf.ModelConfig, optimizer: optax.GradientTransformation, mesh: Mesh):
    """The shardings of a run's parameters and optimiser state on ``mesh`` (from their shapes alone)."""
    params = jax.eval_shape(lambda: tf.init_params(model, jax.random.PRNGKey(0)))
    return _mesh.parameter_shardings(params, mesh), _mesh.parameter_shardings(jax.eval_shape(optimizer.init, params), mesh)


def compile_step(step: Callable, model: tf.ModelConfig, optimizer: optax.GradientTransformation, mesh: Mesh,
                 batch_ranks: tuple[int, ...]):
    """``jit`` of ``step(params, opt_state, *batch, tables) -> (params, opt_state, loss)`` over ``mesh``.

    Parameters and optimiser state keep :func:`state_shardings` in and out, each batch array
    (of rank ``batch_ranks[i]``) is split along the data axis, the tables and the loss are replicated.
    """
    params, opt_state = state_shardings(model, optimizer, mesh)
    replicated = NamedSharding(mesh, PartitionSpec())
    batch = tuple(_mesh.batch_sharding(mesh, rank) for rank in batch_ranks)
    return jax.jit(step, in_shardings=(params, opt_state, *batch, replicated),
                   out_shardings=(params, opt_state, replicated))


def compile_eval(fn: Callable, mesh: Mesh, batch_rank: int):
    """``jit`` of ``fn(params, batch, tables)`` over ``mesh``: the batch and the result split along the data axis."""
    split = _mesh.batch_sharding(mesh, batch_rank)
    return jax.jit(fn, out_shardings=split)


@functools.cache
def replicated_tables(encoding: tf.PositionalEncoding, length: int, head_dim: int, mesh: Mesh) -> tf.RotaryTables:
    """:func:`rotary_tables` replicated on every device of ``mesh``, placed once per process."""
    return jax.device_put(rotary_tables(encoding, length, head_dim), NamedSharding(mesh, PartitionSpec()))


def place_state(state: TrainState, mesh: Mesh) -> TrainState:
    """``state`` with its parameters and optimiser state on ``mesh`` (a state read from a
    checkpoint, whatever mesh wrote it)."""
    state.params = _mesh.place(state.params, mesh)
    state.opt_state = _mesh.place(state.opt_state, mesh)
    return state


def _batch_nll(model: tf.ModelConfig):
    """``batch_nll(params, batch, tables)``: per-token NLL of ``batch`` ``(B, T + 1)``, shape ``(B, T)``."""
    def batch_nll(params, batch, tables):
        return jax.vmap(lambda seq: tf.token_nll(params, seq, model, tables))(batch)

    return batch_nll


def batch_gradient(model: tf.ModelConfig, config: TrainConfig):
    r"""``loss_and_grad(params, batch, tables) -> (loss, grads)``: the mean NLL of ``batch`` ``(B, T + 1)`` and its gradient.

    With ``config.micro_batches = m > 1`` the batch is read as ``m`` micro-batches of ``B / m``
    sequences, micro-batch ``k`` holding rows ``k, k + m, k + 2m, ...``: a device that holds a
    contiguous share of the batch whose size ``m`` divides then holds ``1/m`` of every micro-batch,
    so each micro-batch is split over the whole data axis. A ``jax.lax.scan`` sums the micro-batches'
    mean losses and gradients and divides by ``m``:
    :math:`\frac{1}{m}\sum_k \frac{1}{(B/m)T}\sum_{b \in k, t} \ell_{bt} = \frac{1}{BT}\sum_{b,t} \ell_{bt}`,
    the full batch's mean up to the order of the sum, in the activation memory of one micro-batch.
    At ``m = 1`` it is ``jax.value_and_grad`` of the batch's mean, as it always was.
    """
    micro = config.micro_batches
    batch_nll = _batch_nll(model)

    def loss(params, batch, tables):
        return jnp.mean(batch_nll(params, batch, tables))

    if micro == 1:
        return jax.value_and_grad(loss)

    def loss_and_grad(params, batch, tables):
        rows = batch.shape[0]
        if rows % micro:
            raise ValueError(f"micro_batches={micro} must divide the batch's {rows} sequences")
        parts = jnp.swapaxes(batch.reshape(rows // micro, micro, batch.shape[1]), 0, 1)  # (m, B/m, T + 1)

        def add(total, part):
            value, grads = jax.value_and_grad(loss)(params, part, tables)
            return jax.tree_util.tree_map(jnp.add, total, (value, grads)), None

        zero = (jnp.zeros((), jnp.float32), jax.tree_util.tree_map(jnp.zeros_like, params))
        (value, grads), _ = jax.lax.scan(add, zero, parts)
        return jax.tree_util.tree_map(lambda x: x / micro, (value, grads))

    return loss_and_grad


def step_functions(model: tf.ModelConfig, config: TrainConfig, mesh: Mesh | None = None):
    """The optimiser, the (unjitted) training step and per-token NLL of one architecture and optimisation.

    ``step(params, opt_state, batch, tables) -> (params, opt_state, loss)`` with ``batch``
    ``(B, T + 1)``; ``batch_nll(params, batch, tables)`` has shape ``(B, T)``. The gradient is
    :func:`batch_gradient`'s (``config.micro_batches`` micro-batches). Given the ``mesh`` the step
    will run on, ``micro_batches`` must divide each device's share of the batch (refused in one line).
    """
    if mesh is not None and config.micro_batches > 1:
        devices = mesh.shape[_mesh.DATA]
        if config.batch_size % devices or (config.batch_size // devices) % config.micro_batches:
            raise ValueError(f"micro_batches must divide the per-device batch (batch_size={config.batch_size} over "
                             f"{devices} data devices), got {config.micro_batches}")
    optimizer = make_optimizer(config)
    loss_and_grad = batch_gradient(model, config)
    batch_nll = _batch_nll(model)

    def step(params, opt_state, batch, tables):
        value, grads = loss_and_grad(params, batch, tables)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return optimizer, step, batch_nll


@functools.cache
def _programs(model: tf.ModelConfig, config: TrainConfig, mesh: Mesh):
    """The optimiser and the jitted step and per-token NLL of one architecture and optimisation on ``mesh``.

    The encoding enters as :class:`.transformer.RotaryTables`, an argument, so every encoding
    of the half layout (NoPE, RoPE, p-RoPE, reversed p-RoPE, any base) runs one compiled program
    per sequence length; partial rotary's tables have another structure and compile their own.
    """
    optimizer, step, batch_nll = step_functions(model, config, mesh)
    return optimizer, compile_step(step, model, optimizer, mesh, (2,)), compile_eval(batch_nll, mesh, 2)


class Trainer:
    """The step and evaluation functions of one (model, encoding, optimisation) on one mesh.

    Use :func:`trainer` to get a cached instance. The compiled programs are shared by every
    trainer of the same model, optimisation and mesh (see :func:`_programs`), so a resumed run
    and a fresh one run the same executable, and so do two encodings of the same layout.
    """

    def __init__(self, model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: TrainConfig,
                 mesh: Mesh | None = None):
        self.model, self.encoding, self.config = model, encoding, config
        self.mesh = default_mesh() if mesh is None else mesh
        self.optimizer, self._step, self._batch_nll = _programs(model, config, self.mesh)

    def tables(self, length: int) -> tf.RotaryTables:
        """The encoding's tables at ``length`` positions, replicated on the mesh."""
        return replicated_tables(self.encoding, length, self.model.head_dim, self.mesh)

    def step(self, params: dict, opt_state, batch: np.ndarray):
        """One optimiser step on ``batch`` ``(B, T + 1)``: new params, new optimiser state, the loss."""
        return self._step(params, opt_state, _mesh.place_batch(batch, self.mesh), self.tables(np.shape(batch)[-1] - 1))

    def batch_nll(self, params: dict, batch: np.ndarray) -> jax.Array:
        """Per-token NLL of ``batch`` ``(B, T + 1)``, shape ``(B, T)``."""
        return self._batch_nll(params, _mesh.place_batch(batch, self.mesh), self.tables(np.shape(batch)[-1] - 1))

    def place(self, state: TrainState) -> TrainState:
        """``state`` on this trainer's mesh (:func:`place_state`)."""
        return place_state(state, self.mesh)

    def init(self, seed: int) -> TrainState:
        """A fresh state: weights from ``PRNGKey(seed)``, optimiser at step 0, on the mesh."""
        params = tf.init_params(self.model, jax.random.PRNGKey(seed))
        return self.place(TrainState(params=params, opt_state=self.optimizer.init(params)))

    def position_nll(self, params: dict, windows: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Mean NLL (nats) at each position of ``windows`` ``(n, L + 1)``, shape ``(L,)``.

        Windows go through in batches of exactly ``batch_size`` rounded up to a multiple of the
        mesh's data axis (the last one padded with copies whose losses are dropped), so each
        length compiles once.
        """
        batch_size = math.lcm(batch_size, self.mesh.shape[_mesh.DATA])
        windows = np.asarray(windows, dtype=np.int32)
        n = windows.shape[0]
        padded = np.concatenate([windows, np.repeat(windows[:1], -n % batch_size, axis=0)])
        total = np.zeros(windows.shape[1] - 1, dtype=np.float64)
        for start in range(0, n, batch_size):
            nll = np.asarray(_mesh.fetch(self.batch_nll(params, padded[start : start + batch_size])), dtype=np.float64)
            total += nll[: n - start].sum(axis=0)
        return total / n


def trainer(model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: TrainConfig,
            mesh: Mesh | None = None) -> Trainer:
    """The cached :class:`Trainer` of a configuration on ``mesh`` (default: :func:`default_mesh`)."""
    return _trainer(model, encoding, config, default_mesh() if mesh is None else mesh)


@functools.cache
def _trainer(model: tf.ModelConfig, encoding: tf.PositionalEncoding, config: TrainConfig, mesh: Mesh) -> Trainer:
    return Trainer(model, encoding, config, mesh)


def train(
    run: RunSpec,
    train_tokens: np.ndarray,
    validation_windows: np.ndarray,
    corpus_checksum: str,
    checkpoint: str | Path | None = None,
    until_step: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
    mesh: Mesh | None = None,
) -> TrainState:
    """Train ``run`` on ``train_tokens``, resuming from ``checkpoint`` if it exists.

    Stops after step ``until_step`` (default: the last step) and checkpoints there, so a
    later call continues. ``validation_windows`` ``(n, T + 1)`` give the validation curve;
    ``on_step(step, loss)`` is called after every step (progress bars). Each step runs on
    ``mesh`` (default: :func:`default_mesh`); a checkpoint written on any mesh resumes on any other.
    """
    cfg = run.train
    stop = cfg.steps if until_step is None else min(int(until_step), cfg.steps)
    engine = trainer(run.model, run.encoding, cfg, mesh)
    fingerprint = run.fingerprint(corpus_checksum)
    state = engine.init(run.seed)
    if checkpoint is not None and Path(checkpoint).exists():
        state = engine.place(load_checkpoint(checkpoint, state, fingerprint))
    params, opt_state = state.params, state.opt_state
    first = True
    while state.step < stop:
        batch = sample_batch(train_tokens, run.seed, state.step, cfg.batch_size, cfg.seq_len)
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
