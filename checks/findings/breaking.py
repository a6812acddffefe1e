r"""Thm 6.1's breaking law in trained models: where content recall collapses, against the base.

Small transformers learn :mod:`ropelab.checks.findings.models.synthetic_tasks` (name the one value token
seen ``distance`` tokens back among distractors) at distances up to ``T``, with RoPE at several
bases, p-RoPE at the same bases, and NoPE. Evaluated at distances up to ``16 T``, RoPE's accuracy
is predicted to collapse near the breaking context of the channels the model relies on, which
Thm 6.1 puts at :math:`\pi / (2 g)` for a channel of frequency ``g``
(:func:`ropelab.theory.semantic_channels.semantic_range`): if the model leans on its slowest
pair, the collapse distance scales as :math:`1/g_{\min}` (log-log slope -1). p-RoPE's unrotated
channels cannot break; whether the trained model uses them is measured too.

The bases are chosen so that the slowest pair's semantic range runs from ``T`` to ``16 T``. This
is an empirical finding (trust ``measured``): :func:`summarise` fits the slope with its 95%
interval and :func:`findings` says holds / does not hold / undecided; the smoke preset checks the
pipeline only and reports no finding.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ropelab.constructions import attribution
from ropelab.checks.findings.models import synthetic_tasks as tasks
from ropelab.checks.findings.models import training
from ropelab.checks.findings.models import transformer as tf
from ropelab.theory import semantic_channels as th_sc

from ropelab.checks.findings import task_experiments
from ropelab.checks.findings.breaking_findings import (COLLAPSE_ACCURACY, REPORTED_RESULTS, collapse_distance, explain,
                                                     findings, load_results, slope_fit, summarise, table_rows)

__all__ = [
    "PRESETS",
    "RECORD",
    "RESULTS_NAME",
    "collapse_distance",
    "encodings",
    "load_results",
    "slope_fit",
]

RESULTS_NAME = task_experiments.results_name("breaking")


@dataclass(frozen=True)
class Preset:
    """One size of the experiment: model, task, optimisation, ranges, seeds; and what it can show."""

    name: str
    description: str
    model: tf.ModelConfig
    task: tasks.RecallTask
    train: training.TrainConfig
    range_multiples: tuple[float, ...]
    """The slowest pair's semantic range, as multiples of ``T``: one base per entry."""
    distance_multiples: tuple[float, ...]
    """Evaluation distances as multiples of ``T``."""
    eval_sequences: int
    seeds: int
    reports_findings: bool

    def bases(self) -> list[float]:
        r"""The base whose slowest pair has semantic range ``m T`` for each ``m``: solve
        :math:`\pi / (2 \theta^{-(d-2)/d}) = mT` for :math:`\theta`."""
        d, T = self.model.head_dim, self.train.seq_len
        return [float((2 * m * T / math.pi) ** (d / (d - 2))) for m in self.range_multiples]

    def distances(self) -> list[int]:
        T = self.train.seq_len
        return sorted({max(1, int(round(m * T))) for m in self.distance_multiples})

    def evaluations(self) -> tuple[tuple[int, int], ...]:
        """The forward passes one run makes after training, as ``(context, sequences)``: the recall
        sequences at every distance (``distance + 8`` tokens), then the 16 the pair shares are read from.

        >>> PRESETS["smoke"].evaluations()
        ((16, 16), (24, 16), (40, 16), (72, 16), (16, 16))
        """
        return (*((d + 8, self.eval_sequences) for d in self.distances()), (self.train.seq_len, 16))


def _task_model(task: tasks.RecallTask, d_model: int, n_layers: int, n_heads: int, head_dim: int) -> tf.ModelConfig:
    return tf.ModelConfig(vocab_size=task.vocab_size, d_model=d_model, n_layers=n_layers, n_heads=n_heads,
                          head_dim=head_dim)


_TASK = tasks.RecallTask(n_values=16, n_distractors=32)
PRESETS = {
    "smoke": Preset("smoke", "pipeline check only (seconds): two bases, one seed, 20 steps; no findings",
                    _task_model(_TASK, 32, 1, 2, 8), _TASK,
                    training.TrainConfig(seq_len=16, batch_size=8, steps=20, warmup_steps=2, eval_every=10,
                                         eval_windows=16, checkpoint_every=10),
                    (1.0, 4.0), (0.5, 1.0, 2.0, 4.0), 16, 1, False),
    "small": Preset("small", "2 CPU cores, under an hour: four bases x (RoPE, p-RoPE 0.75) x 2 seeds, NoPE x 2",
                    _task_model(_TASK, 64, 1, 2, 16), _TASK,
                    training.TrainConfig(seq_len=64, batch_size=32, steps=300, warmup_steps=30, eval_every=50,
                                         eval_windows=128, checkpoint_every=100),
                    (1.0, 16 ** (1 / 3), 16 ** (2 / 3), 16.0), tuple(2 ** (k / 2) for k in range(-2, 9)), 64, 2, True),
    "gpu": Preset("gpu", "an accelerator: two layers, head 32, T = 256, 5 seeds",
                  _task_model(_TASK, 128, 2, 4, 32), _TASK,
                  training.TrainConfig(seq_len=256, batch_size=64, steps=2000, warmup_steps=100, eval_every=200,
                                       eval_windows=256, checkpoint_every=500),
                  (1.0, 2.0, 4.0, 8.0, 16.0), tuple(2 ** (k / 2) for k in range(-2, 10)), 256, 5, True),
}


def encodings(preset: Preset) -> list[task_experiments.Labelled]:
    """Every labelled encoding the preset trains: RoPE and p-RoPE 0.75 at each base, then NoPE."""
    out = []
    for theta in preset.bases():
        out.append(task_experiments.Labelled(f"rope_{theta:.4g}", tf.PositionalEncoding("rope", theta)))
        out.append(task_experiments.Labelled(f"p_rope_0.75_{theta:.4g}", tf.PositionalEncoding("p_rope", theta, 0.75)))
    out.append(task_experiments.Labelled("nope", tf.PositionalEncoding("nope")))
    return out


@functools.cache
def _first_layer_qk(model: tf.ModelConfig):
    """The first layer's unrotated ``q`` and ``k`` of one sequence, compiled once per model and
    sequence length (the encoding comes in as tables, the same program for every encoding)."""
    import jax

    def capture(params, seq, tables):
        _, internals = tf.forward_with_internals(params, seq, model, tables)
        return internals[0]["q"], internals[0]["k"]

    return jax.jit(capture)


def pair_shares(params: dict, tokens: np.ndarray, answers_at: np.ndarray, model: tf.ModelConfig,
                encoding: tf.PositionalEncoding) -> np.ndarray:
    r"""Mean signed share of each frequency pair in the query's logit on the value token, ``(heads, d/2)``.

    Per sequence, each pair's term (:func:`ropelab.constructions.attribution.pair_logits`) divided
    by the sum of the terms' absolute values, then averaged over sequences; in the first layer
    (the recall head of a one-layer model).
    """
    capture = _first_layer_qk(model)
    tables = encoding.tables(tokens.shape[1], model.head_dim, params["embed"].dtype)
    freqs = encoding.frequencies(model.head_dim)
    last = tokens.shape[1] - 1
    shares = []
    for seq, j in zip(tokens, answers_at, strict=True):
        raw_q, raw_k = (np.asarray(x, dtype=np.float64) for x in capture(params, seq, tables))  # (T, H, d)
        terms = np.stack([attribution.pair_logits(raw_q[last:, h], raw_k[j : j + 1, h], freqs, "half", [last], [j])[0, 0]
                          for h in range(model.n_heads)])  # (H, d/2)
        shares.append(terms / np.abs(terms).sum(axis=1, keepdims=True))
    return np.mean(shares, axis=0)


def _evaluate(preset: Preset, engine: tasks.TaskTrainer, params: dict, seed: int) -> list[float]:
    out = []
    for distance in preset.distances():
        rng = np.random.default_rng((seed, 10**6 + distance))
        tokens, answers = tasks.recall_batch(preset.task, rng, preset.eval_sequences, distance + 8,
                                             np.full(preset.eval_sequences, distance))
        out.append(engine.accuracy(params, *tasks.recall_targets(tokens, answers)))
    return out


def train_and_evaluate(preset: Preset, row: task_experiments.Labelled, seed: int, checkpoint: Path,
                       on_step=None) -> dict:
    """Train one (encoding, seed) on the recall task (resuming from ``checkpoint``) and measure it:
    accuracy by distance, where it collapses, and each pair's share of the recall logit."""
    enc = row.encoding
    spec = training.RunSpec(preset.model, enc, preset.train, seed)
    state = tasks.train_task(preset.task, spec, checkpoint, on_step=on_step)
    engine = tasks.task_trainer(preset.model, enc, preset.train)
    accuracy = _evaluate(preset, engine, state.params, seed)
    freqs = enc.frequencies(preset.model.head_dim)
    rotating = freqs[freqs > 0]
    g_min = float(rotating.min()) if rotating.size else 0.0
    rng = np.random.default_rng((seed, 2**32))
    T = preset.train.seq_len
    distances = rng.integers(1, T, size=16)
    tokens, _ = tasks.recall_batch(preset.task, rng, 16, T, distances)
    shares = pair_shares(state.params, tokens, T - 1 - distances, preset.model, enc)
    return {
        "label": row.id, "schedule": enc.schedule, "theta": enc.theta, "fraction": enc.fraction, "seed": seed,
        "slowest_rotating_frequency": g_min,
        "slowest_semantic_range": float(th_sc.semantic_range(g_min)) if g_min > 0 else None,
        "frequencies": freqs.tolist(), "train_loss": state.train_loss, "validation_accuracy": state.validation,
        "accuracy": accuracy, "collapse_distance": collapse_distance(preset.distances(), accuracy),
        "pair_share_by_head": shares.tolist(),
    }


def describe(preset: Preset, n_seeds: int) -> dict:
    """The results' head: the set-up (model, task, bases, distances), the seeds, the versions."""
    return task_experiments.head("breaking", preset, n_seeds, {
        "model": preset.model.as_dict(), "task": asdict(preset.task), "train": preset.train.as_dict(),
        "bases": preset.bases(), "range_multiples": list(preset.range_multiples),
        "distances": preset.distances(), "eval_sequences": preset.eval_sequences})


RECORD = task_experiments.record(
    "breaking",
    "recall accuracy by distance up to 16 T, the distance where it collapses, each pair's share of the recall logit",
    PRESETS, encodings, train_and_evaluate, describe, summarise, findings)
