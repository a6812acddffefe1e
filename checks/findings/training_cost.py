r"""What an experiment preset costs before it starts: FLOPs, device-hours, hours here, memory of one step.

Every count is a function of the preset's :class:`~ropelab.checks.findings.models.transformer.ModelConfig`
(``N`` = :meth:`~ropelab.checks.findings.models.transformer.ModelConfig.parameter_count`, ``L``
layers, ``d_attn`` = heads x head width), its training context ``T`` and the sequences it
evaluates. Per token, a training step (forward and backward) costs

.. math:: C_\text{train} = 6N + 12\,L\,T\,d_\text{attn},

the :math:`6N` of the weight products (2 per weight forward, 4 backward; the tied output
projection reads the embedding, so ``N`` counts it) and the :math:`12 L T d_\text{attn}` of the
full ``T x T`` products :math:`q k^\top` and :math:`w v` (2 x 2 forward, doubled backward; the
model computes the whole square and masks it, so nothing is halved for causality). A forward
pass over a context ``C`` costs :math:`2N + 4 L C d_\text{attn}` per token: the validation curve
during training and each preset's final evaluations (:meth:`evaluations` of a preset).

Hours: on :data:`REFERENCE_DEVICE` at the stated sustained rate :data:`REFERENCE_FLOPS`, and on
this machine at the rate of a short float32 matrix product measured once per process
(:func:`machine_flops`) times :data:`UTILISATION`, plus :data:`RUN_OVERHEAD_SECONDS` a run.
Memory of one step at the preset's batch: float32 weights, gradients and AdamW's two moments (16
bytes per parameter) plus the activations reverse-mode differentiation keeps
(:func:`activation_bytes`) and the backward pass's own buffers (:data:`BACKWARD_WORKING`), on
one device.

Long contexts (the ``paper`` preset): with blockwise attention (``attention_block = B``),
rematerialisation (``remat``) and ``m`` micro-batches, the batch split over ``D`` devices, one
device holds, in bytes,

.. math:: 4\,(4N + N\,[m > 1] + 2N_\text{layers}[\text{remat}])
          + w \cdot 4\,b\,\big(L T d + T(4d + 6 H d_h + 2 r d)
          + \lceil T/B \rceil H T (d_h + 2) + 2 H T B + 2 T V\big),

``b = batch / (D m)`` sequences a micro-batch: the state, the sum of the micro-batches' gradients,
the layers' weights stacked for the rematerialising scan and their stacked gradient; then each
layer's input (kept), one layer's recomputed vectors, its attention's scan carries and one block's
scores and weights ``(H, T, B)``, the output logits. ``w`` is :data:`BLOCKWISE_WORKING` (measured
against XLA) where blocks and rematerialisation are both on, else :data:`BACKWARD_WORKING`. The
optimiser's update comes after the activations are freed and holds less (28 N bytes without
buffer donation).
"""

from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import dataclass

__all__ = [
    "BACKWARD_WORKING",
    "BLOCKWISE_WORKING",
    "Cost",
    "REFERENCE_DEVICE",
    "REFERENCE_FLOPS",
    "REFERENCE_MEMORY",
    "RUN_OVERHEAD_SECONDS",
    "UTILISATION",
    "activation_bytes",
    "evaluation_flops",
    "experiment_cost",
    "forward_flops_per_token",
    "machine_flops",
    "machine_memory",
    "preset_cost",
    "remat_copy_bytes",
    "state_bytes",
    "training_flops_per_token",
    "working_factor",
]

REFERENCE_DEVICE = "one NVIDIA H100 SXM"
REFERENCE_FLOPS = 0.4 * 494.7e12
"""Sustained FLOP/s assumed on :data:`REFERENCE_DEVICE`: 40% of its dense TF32 tensor-core peak
(494.7 TFLOP/s, NVIDIA's datasheet; the models train in float32, which XLA runs as TF32 on it).
40% is a model-FLOPs utilisation large dense transformers reach (PaLM reports 46% in bfloat16);
small models reach far less, so their device-hours are a lower bound."""
REFERENCE_MEMORY = 80 * 10**9
"""Bytes of memory on :data:`REFERENCE_DEVICE` (80 GB)."""
UTILISATION = 0.2
"""The share of :func:`machine_flops` (a float32 matrix product) that training reaches here.
Measured on the 2-core machine the committed Table 2 runs were trained on: their training FLOPs
(this module's count) over their wall-clock seconds gave 3.4e10 FLOP/s (``small``: 1.83e14 FLOPs
in 5,351 s; ``nope_long`` 3.4e10, ``long`` 2.9e10; load average 1.6 to 1.8 at their start),
against 1.4e11 to 1.5e11 FLOP/s of :func:`machine_flops` on the same machine at load average 1.5:
0.2 to 0.24. Compilation, evaluation and checkpoints are inside the wall-clock time, so the
share covers them."""
RUN_OVERHEAD_SECONDS = 10.0
"""Seconds each run spends here beyond its FLOPs (compiling its programs, one per evaluated length,
and setting up). Measured on the 2-core machine: the committed ``breaking`` and ``offset`` small
runs took 16 and 5 s a run more than their FLOPs at 2.9e10 FLOP/s (the rate
:data:`UTILISATION` gives at load average 1.5); for Table 2's runs it is a small share."""
BYTES_PER_VALUE = 4
"""float32 activations, weights and optimiser moments."""
STATE_VALUES_PER_PARAMETER = 4
"""Weights, gradients and AdamW's first and second moments."""
BACKWARD_WORKING = 1.5
"""A compiled step's temporaries over the activations it keeps (:func:`activation_bytes`): the
backward pass's own buffers (the gradients of the attention logits and weights among them). XLA's
``memory_analysis().temp_size_in_bytes`` of the training step, on CPU, was 1.47, 1.50 and 1.51
times :func:`activation_bytes` for three small models (1 and 2 layers, T = 128 to 512)."""
BLOCKWISE_WORKING = 1.15
"""The same ratio for a step with blockwise attention and rematerialisation, whose backward pass
holds no ``(T, T)`` gradient: XLA's CPU ``temp_size_in_bytes`` less :func:`remat_copy_bytes` was
0.83 to 1.14 times :func:`activation_bytes` for eight small models (2 to 6 layers, T = 128 to 1,024,
blocks of 64 and 128); the largest, rounded up, so the estimate is not below what XLA allocated."""
_CALIBRATION_SIZES = (256, 512, 1024, 2048, 4096)
_CALIBRATION_SECONDS = 0.005
"""The product is enlarged until one takes this long (a bounded, sub-second measurement)."""


def training_flops_per_token(model, context: int) -> int:
    r"""FLOPs of one training step per token: :math:`6N + 12\,L\,T\,d_\text{attn}`.

    With ``model.remat`` the backward pass recomputes each layer's forward pass once more:
    :math:`2N_\text{layers} + 4\,L\,T\,d_\text{attn}` on top (the embedding and the output logits
    are not recomputed). Blockwise attention computes the same products, block by block.

    >>> from ropelab.checks.findings.models.transformer import ModelConfig
    >>> training_flops_per_token(ModelConfig(d_model=16, n_layers=1, n_heads=2, head_dim=8), 32)
    49440
    """
    attention = model.n_layers * context * model.n_heads * model.head_dim
    flops = 6 * model.parameter_count() + 12 * attention
    if model.remat:
        flops += remat_copy_bytes(model) // BYTES_PER_VALUE + 4 * attention  # 2 N_layers: the copy is 2 values each
    return flops


def forward_flops_per_token(model, context: int) -> int:
    r"""FLOPs of one forward pass per token over a context ``C``: :math:`2N + 4\,L\,C\,d_\text{attn}`.

    >>> from ropelab.checks.findings.models.transformer import ModelConfig
    >>> forward_flops_per_token(ModelConfig(d_model=16, n_layers=1, n_heads=2, head_dim=8), 32)
    16480
    """
    return 2 * model.parameter_count() + 4 * model.n_layers * context * model.n_heads * model.head_dim


def evaluation_flops(model, evaluations) -> int:
    """FLOPs of forward passes over ``evaluations``: ``(context, sequences)`` pairs."""
    return sum(sequences * context * forward_flops_per_token(model, context) for context, sequences in evaluations)


def _validation_evaluations(train) -> int:
    """The validation curve's evaluations: every ``eval_every`` steps and at the last step."""
    return train.steps // train.eval_every + (train.steps % train.eval_every != 0)


def activation_bytes(model, context: int, sequences: int) -> int:
    r"""Bytes of the activations one training step keeps for its backward pass (float32).

    Per sequence and layer: the attention logits and weights, :math:`2 H T^2` values (the full
    square: this model materialises it), and :math:`T(4d + 6 H d_h + 2 r d)` values of the
    layer's vectors (residual, two norms' outputs and the attention output; q, k, v and the
    rotated q, k and the mixed values; the MLP's input and GELU output, ``r`` its ratio); per
    sequence the output logits and their log-softmax, :math:`2 T V`. No rematerialisation.

    With ``model.attention_block = B > 0`` the square becomes the blockwise attention's
    :math:`\lceil T/B \rceil` scan carries, :math:`H T (d_h + 2)` values each, and one block's
    scores and weights, :math:`2 H T B`. With ``model.remat`` the layers keep only their inputs,
    :math:`L T d`, and one layer at a time is recomputed (its vectors and attention, once).

    >>> from ropelab.checks.findings.models.transformer import ModelConfig
    >>> activation_bytes(ModelConfig(d_model=16, n_layers=1, n_heads=2, head_dim=8), 32, 1)
    118784
    >>> activation_bytes(ModelConfig(d_model=16, n_layers=1, n_heads=2, head_dim=8, attention_block=8), 32, 1)
    116736
    """
    d, heads, head_dim, r = model.d_model, model.n_heads, model.head_dim, model.mlp_ratio
    vectors = context * (4 * d + 6 * heads * head_dim + 2 * r * d)
    block = model.attention_block
    if block:
        attention = -(-context // block) * heads * context * (head_dim + 2) + 2 * heads * context * block
    else:
        attention = 2 * heads * context**2
    if model.remat:
        layers = model.n_layers * context * d + vectors + attention
    else:
        layers = model.n_layers * (vectors + attention)
    per_sequence = layers + 2 * context * model.vocab_size
    return BYTES_PER_VALUE * sequences * per_sequence


def state_bytes(model, micro_batches: int = 1) -> int:
    """Bytes of float32 weights, gradients and AdamW's two moments, ``16 N``, and with
    ``micro_batches > 1`` the running sum of the micro-batches' gradients, ``4 N`` more."""
    values = STATE_VALUES_PER_PARAMETER + (micro_batches > 1)
    return BYTES_PER_VALUE * values * model.parameter_count()


def remat_copy_bytes(model) -> int:
    """Bytes of the layers' weights stacked for the rematerialising scan and of their stacked
    gradient, ``8 N_layers`` (0 without ``model.remat``)."""
    if not model.remat:
        return 0
    embedding_and_final_norm = model.vocab_size * model.d_model + model.d_model
    return 2 * BYTES_PER_VALUE * (model.parameter_count() - embedding_and_final_norm)


def working_factor(model) -> float:
    """:data:`BLOCKWISE_WORKING` where blocks and rematerialisation are both on, else :data:`BACKWARD_WORKING`."""
    return BLOCKWISE_WORKING if model.attention_block and model.remat else BACKWARD_WORKING


@functools.cache
def machine_flops() -> float:
    """FLOP/s of a float32 matrix product on JAX's default device, measured once per process.

    Square products of growing size (256 to 4096) are timed after one untimed call until one
    takes :data:`_CALIBRATION_SECONDS`; the rate is ``2 n^3`` over the best of five of that size.
    It measures the machine as it is loaded at that moment.
    """
    import jax
    import jax.numpy as jnp

    product = jax.jit(lambda a, b: a @ b)
    rate = 0.0
    for n in _CALIBRATION_SIZES:
        a = jnp.ones((n, n), jnp.float32)
        product(a, a).block_until_ready()
        best = math.inf
        for _ in range(5):
            started = time.perf_counter()
            product(a, a).block_until_ready()
            best = min(best, time.perf_counter() - started)
        rate = 2 * n**3 / best
        if best >= _CALIBRATION_SECONDS:
            break
    return rate


@functools.cache
def machine_memory() -> int:
    """Bytes of memory on JAX's default device: an accelerator's limit, else the host's RAM."""
    import jax

    device = jax.devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclass(frozen=True)
class Cost:
    """The cost of a preset: runs, FLOPs, hours on the reference device and here, memory of a step."""

    runs: int
    train_flops_per_run: int
    evaluation_flops_per_run: int
    step_bytes: int
    """Weights, gradients, optimiser moments, and the activations of the whole batch times
    :data:`BACKWARD_WORKING` (with ``devices`` and micro-batches: of one micro-batch, on one device)."""
    sequence_bytes: int
    """The same with the activations of one sequence: the least one step can hold without rematerialising."""
    machine_rate: float
    """FLOP/s assumed here: the measured product's rate times :data:`UTILISATION`."""
    machine_memory: int
    devices: int = 1
    """Devices the batch is split over (data parallel, weights replicated)."""
    micro_batches: int = 1
    micro_batch: int = 0
    """Sequences in one micro-batch on one device (0: not stated, the whole batch on one device)."""

    @property
    def total_flops(self) -> int:
        return self.runs * (self.train_flops_per_run + self.evaluation_flops_per_run)

    @property
    def reference_hours(self) -> float:
        """Hours on :data:`REFERENCE_DEVICE` at :data:`REFERENCE_FLOPS`."""
        return self.total_flops / REFERENCE_FLOPS / 3600

    @property
    def machine_hours(self) -> float:
        """Hours on this machine at :attr:`machine_rate`, with :data:`RUN_OVERHEAD_SECONDS` a run."""
        return (self.total_flops / self.machine_rate + self.runs * RUN_OVERHEAD_SECONDS) / 3600

    def line(self) -> str:
        """One line: the runs, FLOPs, device-hours, hours here and whether one step's memory fits.

        >>> print(Cost(2, 10**15, 10**14, 10**9, 10**8, 1e11, 8 * 10**9).line())  # doctest: +NORMALIZE_WHITESPACE
        cost: 2 runs, 2.2e+15 FLOPs: 0.00309 device-hours on one NVIDIA H100 SXM (198 TFLOP/s sustained,
        assumed), 6.12 h here (1.0e+11 FLOP/s: measured product x 0.2, and 10 s a run); one step at the
        preset's batch holds
        1 GB (fits one H100 SXM's 80 GB; fits this machine's 8 GB)
        """
        def fits(limit: int) -> str:
            return "fits" if self.step_bytes <= limit else "does not fit"

        least = min(REFERENCE_MEMORY, self.machine_memory)
        alone = (f"; one sequence alone holds {_size(self.sequence_bytes)}"
                 if self.step_bytes > least and self.sequence_bytes > least else "")

        return (f"cost: {self.runs} runs, {self.total_flops:.2g} FLOPs: {self.reference_hours:.3g} device-hours on "
                f"{REFERENCE_DEVICE} ({REFERENCE_FLOPS / 1e12:.0f} TFLOP/s sustained, assumed), "
                f"{self.machine_hours:.3g} h here ({self.machine_rate:.1e} FLOP/s: measured product x {UTILISATION}, "
                f"and {RUN_OVERHEAD_SECONDS:g} s a run); "
                f"one step at the preset's batch {self._split()}holds {_size(self.step_bytes)}"
                f"{' a device' if self.devices > 1 else ''} ({fits(REFERENCE_MEMORY)} "
                f"{REFERENCE_DEVICE.replace('NVIDIA ', '')}'s {_size(REFERENCE_MEMORY)}; "
                f"{fits(self.machine_memory)} this machine's "
                f"{_size(self.machine_memory)}){alone}")

    def _split(self) -> str:
        """How the batch is split, when it is: ``over 64 devices in 4 micro-batches of 2 sequences ``."""
        if self.devices == 1 and self.micro_batches == 1:
            return ""
        return (f"over {self.devices} device{'s' if self.devices > 1 else ''} in {self.micro_batches} "
                f"micro-batch{'es' if self.micro_batches > 1 else ''} of {self.micro_batch} "
                f"sequence{'s' if self.micro_batch != 1 else ''} ")


def _size(n: int) -> str:
    """Bytes in the largest decimal unit that keeps a number of at least 1 (``1 GB``, ``21 TB``)."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def preset_cost(model, train, evaluations, runs: int, rate: float | None = None,
                memory: int | None = None, devices: int = 1) -> Cost:
    """The :class:`Cost` of ``runs`` runs of one model, optimisation and evaluation.

    ``evaluations`` lists ``(context, sequences)`` forward passes each run makes after training;
    ``rate`` (FLOP/s here) and ``memory`` (bytes here) default to this machine's measurement. The
    memory of a step is one device's when the batch is split over ``devices`` (each holding
    ``batch / devices`` sequences in ``train.micro_batches`` micro-batches).
    """
    T = train.seq_len
    micro = getattr(train, "micro_batches", 1)
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1 or train.batch_size % (devices * micro):
        raise ValueError(f"devices must be an integer >= 1 with devices x micro_batches ({micro}) dividing "
                         f"batch_size={train.batch_size}, got {devices!r}")
    micro_batch = train.batch_size // (devices * micro)
    tokens = train.steps * train.batch_size * T
    validation = _validation_evaluations(train) * train.eval_windows * T * forward_flops_per_token(model, T)
    fixed = state_bytes(model, micro) + remat_copy_bytes(model)
    factor = working_factor(model)
    return Cost(
        runs=runs,
        train_flops_per_run=tokens * training_flops_per_token(model, T) + validation,
        evaluation_flops_per_run=evaluation_flops(model, evaluations),
        step_bytes=fixed + math.ceil(factor * activation_bytes(model, T, micro_batch)),
        sequence_bytes=fixed + math.ceil(factor * activation_bytes(model, T, 1)),
        machine_rate=machine_flops() * UTILISATION if rate is None else rate,
        machine_memory=machine_memory() if memory is None else memory,
        devices=devices,
        micro_batches=micro,
        micro_batch=micro_batch,
    )


def experiment_cost(record, preset, n_seeds: int, rate: float | None = None, memory: int | None = None) -> Cost:
    """The :class:`Cost` of every (row, seed) of ``preset`` in ``record`` (its ``evaluations()``), with
    the memory a device holds over the preset's ``devices`` (1 where it states none)."""
    return preset_cost(preset.model, preset.train, preset.evaluations(), len(record.jobs(preset, n_seeds)),
                       rate, memory, getattr(preset, "devices", 1))
