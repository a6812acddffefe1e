r"""The positional counterpart: copying at a fixed offset needs a positional head.

Small transformers learn :class:`ropelab.checks.findings.models.synthetic_tasks.OffsetTask` (predict
the token ``offset`` places back, after a BOS token) with NoPE, RoPE, p-RoPE 0.75 (the lowest
quarter unrotated) and reversed p-RoPE 0.75 (the highest quarter removed). The theory: the highest
frequencies build a sharp fixed-offset head cheaply (Thm 5.3 and the top-band claim), NoPE cannot
build one beyond what the BOS anchor allows (Prop 5.2), and removing the highest quarter makes the
head dearer. Measured: accuracy over training, the steps to reach :data:`LEARNED_ACCURACY`, and
which band carries the head's logit on the offset key.

Every comparison is paired by seed (one seed gives every encoding the same initial weights and
batches) and reported with a t-interval over seeds: holds / does not hold / undecided. The smoke
preset checks the pipeline only and reports no finding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ropelab.constructions import attribution
from ropelab.checks.findings.models import synthetic_tasks as tasks
from ropelab.checks.findings.models import training
from ropelab.checks.findings.models import transformer as tf

from ropelab.checks.findings import task_experiments
from ropelab.checks.findings.paired_tests import CONFIDENCE, POWER, paired_difference

__all__ = ["PRESETS", "RECORD", "RESULTS_NAME", "encodings", "load_results", "steps_to_learn"]

RESULTS_NAME = task_experiments.results_name("offset")
LEARNED_ACCURACY = 0.9
"""A run has learned the task once its held-out accuracy reaches this."""
REFERENCE = "rope"
"""Paired differences are taken against RoPE."""
EQUIVALENCE_MARGIN = 0.02
"""Two encodings copy equally well when their accuracy difference's interval lies within this."""


@dataclass(frozen=True)
class Preset:
    """One size of the experiment."""

    name: str
    description: str
    model: tf.ModelConfig
    task: tasks.OffsetTask
    train: training.TrainConfig
    theta: float
    eval_sequences: int
    seeds: int
    reports_findings: bool

    def evaluations(self) -> tuple[tuple[int, int], ...]:
        """The forward passes one run makes after training, as ``(context, sequences)``: the held-out
        sequences, then the eight the band shares are read from.

        >>> PRESETS["smoke"].evaluations()
        ((16, 16), (16, 8))
        """
        return ((self.train.seq_len, self.eval_sequences), (self.train.seq_len, 8))


_TASK = tasks.OffsetTask(n_symbols=32, offset=3)


def _model(d_model: int, n_heads: int, head_dim: int) -> tf.ModelConfig:
    return tf.ModelConfig(vocab_size=_TASK.vocab_size, d_model=d_model, n_layers=1, n_heads=n_heads, head_dim=head_dim)


PRESETS = {
    "smoke": Preset("smoke", "pipeline check only (seconds): one seed, 20 steps; no findings", _model(32, 2, 8), _TASK,
                    training.TrainConfig(seq_len=16, batch_size=8, steps=20, warmup_steps=2, eval_every=10,
                                         eval_windows=16, checkpoint_every=10), 100.0, 16, 1, False),
    "small": Preset("small", "2 CPU cores, about 15 minutes: four encodings x 3 seeds", _model(64, 2, 16), _TASK,
                    training.TrainConfig(seq_len=64, batch_size=32, steps=300, warmup_steps=30, eval_every=25,
                                         eval_windows=64, checkpoint_every=100), 1000.0, 64, 3, True),
    "gpu": Preset("gpu", "an accelerator: head 32, T = 256, 5 seeds", _model(128, 4, 32), _TASK,
                  training.TrainConfig(seq_len=256, batch_size=64, steps=2000, warmup_steps=100, eval_every=100,
                                       eval_windows=256, checkpoint_every=500), 1e4, 256, 5, True),
}


def encodings(preset: Preset) -> list[task_experiments.Labelled]:
    """NoPE, RoPE, p-RoPE 0.75 and reversed p-RoPE 0.75 at the preset's base."""
    return [task_experiments.Labelled("nope", tf.PositionalEncoding("nope")),
            task_experiments.Labelled("rope", tf.PositionalEncoding("rope", preset.theta)),
            task_experiments.Labelled("p_rope_0.75", tf.PositionalEncoding("p_rope", preset.theta, 0.75)),
            task_experiments.Labelled("reversed_0.75", tf.PositionalEncoding("reversed_p_rope", preset.theta, 0.75))]


def steps_to_learn(validation: list[tuple[int, float]], level: float = LEARNED_ACCURACY) -> int | None:
    """The first evaluated step whose accuracy reaches ``level`` (None if never).

    >>> steps_to_learn([(10, 0.2), (20, 0.95), (30, 1.0)])
    20
    """
    return next((step for step, acc in validation if acc >= level), None)


def band_shares(params: dict, tokens: np.ndarray, offset: int, model: tf.ModelConfig,
                encoding: tf.PositionalEncoding) -> dict[str, float]:
    """Share of the offset key's logit from the top, middle and bottom quarters of pairs.

    For every scored row of the head that attends most to ``t - offset``, each pair's term of
    that logit (:func:`ropelab.constructions.attribution.pair_logits`) divided by the sum of the
    absolute terms, averaged; the head is the one with the largest mean weight on the offset.
    """
    import jax

    freqs = encoding.frequencies(model.head_dim)
    rows = np.arange(offset + 1, tokens.shape[1])
    per_head = []
    weights_on_offset = []
    for seq in tokens:
        _, internals = tf.forward_with_internals(params, jax.numpy.asarray(seq), model, encoding)
        w = np.asarray(internals[0]["weights"])  # (H, T, T)
        weights_on_offset.append(w[:, rows, rows - offset].mean(axis=1))
        q, k = (np.asarray(internals[0][name], dtype=np.float64) for name in ("q", "k"))  # (T, H, d)
        # row t's query on key t - offset: the diagonal of the (rows, rows) pair terms of each head
        terms = np.stack([np.einsum("iim->im", attribution.pair_logits(q[rows, h], k[rows - offset, h], freqs, "half",
                                                                       rows, rows - offset))
                          for h in range(model.n_heads)], axis=1)  # (rows, H, d/2)
        per_head.append((terms / np.abs(terms).sum(axis=-1, keepdims=True)).mean(axis=0))
    head = int(np.argmax(np.mean(weights_on_offset, axis=0)))
    bands = attribution.band_sums(np.mean(per_head, axis=0)[head])
    return {"head": head, "weight_on_offset": float(np.mean(weights_on_offset, axis=0)[head]),
            **{band: float(value) for band, value in bands.items()}}


def train_and_evaluate(preset: Preset, row: task_experiments.Labelled, seed: int, checkpoint: Path,
                       on_step=None) -> dict:
    """Train one (encoding, seed) on the offset task (resuming from ``checkpoint``) and measure it:
    held-out accuracy, the steps it took to learn, and which band carries the offset head's logit."""
    enc = row.encoding
    spec = training.RunSpec(preset.model, enc, preset.train, seed)
    state = tasks.train_task(preset.task, spec, checkpoint, on_step=on_step)
    engine = tasks.task_trainer(preset.model, enc, preset.train)
    rng = np.random.default_rng((seed, 2**32))
    held = tasks.offset_batch(preset.task, rng, preset.eval_sequences, preset.train.seq_len)
    return {
        "label": row.id, "schedule": enc.schedule, "theta": enc.theta, "fraction": enc.fraction, "seed": seed,
        "train_loss": state.train_loss, "validation_accuracy": state.validation,
        "accuracy": engine.accuracy(state.params, *held),
        "steps_to_learn": steps_to_learn(state.validation),
        "bands": band_shares(state.params, held[0][:8], preset.task.offset, preset.model, enc),
    }


def describe(preset: Preset, n_seeds: int) -> dict:
    """The results' head: the set-up (model, task, base), the seeds, the versions."""
    return task_experiments.head("offset", preset, n_seeds, {
        "model": preset.model.as_dict(), "task": asdict(preset.task), "train": preset.train.as_dict(),
        "theta": preset.theta, "eval_sequences": preset.eval_sequences})


def summarise(results: dict) -> dict:
    """Per encoding: accuracy per seed, top-band share, and the paired accuracy difference to RoPE."""
    by_label: dict[str, list[dict]] = {}
    for r in results["runs"]:
        by_label.setdefault(r["label"], []).append(r)
    reference = sorted(by_label.get(REFERENCE, []), key=lambda r: r["seed"])
    out = {}
    for label, runs in by_label.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        paired = [r for r in runs if any(x["seed"] == r["seed"] for x in reference)]
        ref = [next(x for x in reference if x["seed"] == r["seed"]) for r in paired]
        never = 2 * results["config"]["train"]["steps"]  # a run that never learns counts as twice the budget
        out[label] = {"accuracy": [r["accuracy"] for r in runs],
                      "steps_to_learn": [r["steps_to_learn"] for r in runs],
                      "top_band_share": [r["bands"]["top"] for r in runs],
                      "difference_to_rope": None if label == REFERENCE or not paired else paired_difference(
                          [r["accuracy"] for r in paired], [x["accuracy"] for x in ref]),
                      "extra_steps_to_learn": None if label == REFERENCE or not paired else paired_difference(
                          [never if r["steps_to_learn"] is None else r["steps_to_learn"] for r in paired],
                          [never if x["steps_to_learn"] is None else x["steps_to_learn"] for x in ref])}
    return out


def _verdict(diff: dict | None, expected_sign: int) -> str:
    """holds / does not hold / undecided for a paired difference expected below 0 (-1), above 0 (+1)
    or within :data:`EQUIVALENCE_MARGIN` of 0 (0)."""
    if diff is None or diff["ci_low"] is None:
        return "undecided (fewer than 2 seeds)"
    lo, hi = diff["ci_low"], diff["ci_high"]
    if expected_sign == 0:
        if -EQUIVALENCE_MARGIN <= lo and hi <= EQUIVALENCE_MARGIN:
            return "holds"
        return "does not hold" if hi < -EQUIVALENCE_MARGIN or lo > EQUIVALENCE_MARGIN else "undecided at this power"
    if expected_sign < 0 and hi < 0 or expected_sign > 0 and lo > 0:
        return "holds"
    if expected_sign < 0 and lo > 0 or expected_sign > 0 and hi < 0:
        return "does not hold"
    return "undecided at this power"


def _stat(name: str, d: dict | None, fmt: str) -> str:
    if d is None or d["ci_low"] is None:
        return f"{name}: fewer than 2 seeds"
    power = ("no seed-to-seed spread, so no power to state" if d["mdd"] is None else
             f"detectable with {POWER:.0%} power: {d['mdd']:{fmt.lstrip('+')}}")
    return (f"{name} {d['mean']:{fmt}}, {CONFIDENCE:.0%} CI [{d['ci_low']:{fmt}}, {d['ci_high']:{fmt}}] "
            f"over {len(d['per_seed'])} seeds ({power})")


def findings(results: dict, preset) -> list[str]:
    """Each comparison with the theory, holds / does not hold / undecided (nothing for a pipeline check)."""
    if not preset.reports_findings:
        return [task_experiments.PIPELINE_ONLY]
    s = results["summary"]
    lines = []
    if "nope" in s:
        d = s["nope"]["difference_to_rope"]
        lines.append("NoPE copies at the offset worse than RoPE (Prop 5.2; BOS is its only anchor): "
                     f"{_stat('accuracy difference', d, '+.3f')}; {_verdict(d, -1)}")
    if "reversed_0.75" in s:
        d = s["reversed_0.75"]["extra_steps_to_learn"]
        lines.append(f"reversed p-RoPE (highest quarter removed) pays for the head: it needs more steps than RoPE to "
                     f"reach {LEARNED_ACCURACY} accuracy ({_stat('extra steps', d, '+.0f')}); {_verdict(d, +1)}; "
                     f"final {_stat('accuracy difference', s['reversed_0.75']['difference_to_rope'], '+.3f')}")
    if "p_rope_0.75" in s:
        d = s["p_rope_0.75"]["difference_to_rope"]
        lines.append(f"p-RoPE 0.75 (highest frequencies kept) copies as well as RoPE (within {EQUIVALENCE_MARGIN} "
                     f"accuracy): {_stat('accuracy difference', d, '+.3f')}; {_verdict(d, 0)}")
    if "rope" in s:
        top = s["rope"]["top_band_share"]
        lines.append(f"RoPE's offset head takes {np.mean(top):.2f} of its offset logit from the top quarter of pairs "
                     f"(per seed {', '.join(f'{x:.2f}' for x in top)}; an even spread would give 0.25)")
    return lines


REPORTED_RESULTS = task_experiments.committed_results("offset")
"""The committed ``small`` run, shipped as package data."""


def load_results(path: str | Path = REPORTED_RESULTS) -> dict:
    """Read a results JSON written by the runner (default: the committed ``small`` run)."""
    return task_experiments.load("offset", path)


def explain(results: dict | None = None) -> str:
    """The set-up, the result and the comparison with Thm 5.3 / Prop 5.2, from the committed run."""
    results = load_results() if results is None else results
    c, s = results["config"], results["summary"]
    lines = [
        "Copying at a fixed offset in trained models (experiment `offset`).",
        f"Set-up: one-layer models (d_model {c['model']['d_model']}, {c['model']['n_heads']} heads of "
        f"d={c['model']['head_dim']}) learn to predict the token {c['task']['offset']} places back among "
        f"{c['task']['n_symbols']} symbols after a BOS token, T={c['train']['seq_len']}, {c['train']['steps']} steps, "
        f"theta={c['theta']:g}, seeds {results['seeds']} (paired: one seed, one initialisation for every encoding).",
        "",
        "encoding | accuracy by seed | steps to 0.9 | top-quarter share of the offset logit",
        *(f"{label} | {', '.join(f'{a:.3f}' for a in v['accuracy'])} | "
          f"{', '.join('never' if x is None else str(x) for x in v['steps_to_learn'])} | "
          f"{', '.join(f'{x:.2f}' for x in v['top_band_share'])}" for label, v in s.items()),
        "",
        "Findings:",
        *(f"- {line}" for line in results["findings"]),
        task_experiments.regenerate_line(results),
    ]
    return "\n".join(lines)


RECORD = task_experiments.record(
    "offset", "held-out copying accuracy at a fixed offset, the steps to learn it, the band carrying the offset head",
    PRESETS, encodings, train_and_evaluate, describe, summarise, findings)
