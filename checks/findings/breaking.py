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
import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import stats

from ropelab.constructions import attribution, frequencies
from ropelab.checks.atomic import write_text_atomically
from ropelab.checks.findings.models import synthetic_tasks as tasks
from ropelab.checks.findings.models import training
from ropelab.checks.findings.models import transformer as tf
from ropelab.theory import semantic_channels as th_sc

from ropelab.checks.findings.finding import read_results
from ropelab.checks.findings.paired_tests import CONFIDENCE, POWER, detectable_difference
from ropelab.checks.runner import library_versions

RESULTS_NAME = "breaking_results.json"
COLLAPSE_ACCURACY = 0.5
"""A distance has collapsed when fewer than half the recalls are right (chance is 1/n_values)."""


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


def encodings(preset: Preset) -> list[tuple[str, tf.PositionalEncoding]]:
    """Every (label, encoding) the preset trains: RoPE and p-RoPE 0.75 at each base, then NoPE."""
    out = []
    for theta in preset.bases():
        out.append((f"rope_{theta:.4g}", tf.PositionalEncoding("rope", theta)))
        out.append((f"p_rope_0.75_{theta:.4g}", tf.PositionalEncoding("p_rope", theta, 0.75)))
    out.append(("nope", tf.PositionalEncoding("nope")))
    return out


def collapse_distance(distances: list[int], accuracy: list[float], level: float = COLLAPSE_ACCURACY) -> float | None:
    """The first distance where accuracy falls below ``level``, interpolated in log distance.

    ``None`` when it never falls within the evaluated range (censored).

    >>> collapse_distance([10, 20, 40], [1.0, 0.8, 0.2])
    28.28...
    """
    for k in range(len(distances)):
        if accuracy[k] < level:
            if k == 0:
                return float(distances[0])
            a0, a1 = accuracy[k - 1], accuracy[k]
            x0, x1 = math.log(distances[k - 1]), math.log(distances[k])
            return float(math.exp(x0 + (a0 - level) / (a0 - a1) * (x1 - x0)))
    return None


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


def run(preset: Preset, out_dir: str | Path, seeds: int | None = None, progress=None) -> dict:
    """Train and evaluate every encoding for every seed; write and return the results.

    Each run's checkpoint lives in ``out_dir/checkpoints`` (a rerun resumes); the results JSON is
    rewritten atomically after every run, so an interrupted experiment keeps what it finished.
    """
    out_dir = Path(out_dir)
    n_seeds = preset.seeds if seeds is None else int(seeds)
    jobs = [(label, enc, seed) for seed in range(n_seeds) for label, enc in encodings(preset)]
    task_id = None if progress is None else progress.add_task("breaking runs", total=len(jobs))
    results = {"experiment": "breaking", "preset": preset.name, "description": preset.description,
               "config": {"model": preset.model.as_dict(), "task": asdict(preset.task), "train": preset.train.as_dict(),
                          "bases": preset.bases(), "range_multiples": list(preset.range_multiples),
                          "distances": preset.distances(), "eval_sequences": preset.eval_sequences},
               "seeds": list(range(n_seeds)), "versions": library_versions(), "python": platform.python_version(),
               "runs": []}
    started = time.perf_counter()
    for label, enc, seed in jobs:
        spec = training.RunSpec(preset.model, enc, preset.train, seed)
        ckpt = out_dir / "checkpoints" / f"{label}_seed{seed}.ckpt"
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        state = tasks.train_task(preset.task, spec, ckpt)
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
        results["runs"].append({
            "label": label, "schedule": enc.schedule, "theta": enc.theta, "fraction": enc.fraction, "seed": seed,
            "slowest_rotating_frequency": g_min,
            "slowest_semantic_range": float(th_sc.semantic_range(g_min)) if g_min > 0 else None,
            "frequencies": freqs.tolist(), "train_loss": state.train_loss, "validation_accuracy": state.validation,
            "accuracy": accuracy, "collapse_distance": collapse_distance(preset.distances(), accuracy),
            "pair_share_by_head": shares.tolist(),
        })
        results["elapsed_seconds"] = time.perf_counter() - started
        results["summary"] = summarise(results)
        results["findings"] = findings(results, preset.reports_findings)
        write_text_atomically(out_dir / RESULTS_NAME, json.dumps(results, indent=1) + "\n")
        if progress is not None:
            progress.update(task_id, advance=1, description=f"breaking runs ({label}, seed {seed})")
    return results


def slope_fit(x: list[float], y: list[float]) -> dict | None:
    """Least-squares slope of log y on log x with its 95% t-interval and the smallest deviation
    from any slope it detects with 80% power (:func:`~.paired_tests.detectable_difference`;
    ``None`` for a perfect fit); ``None`` below 3 points."""
    if len(x) < 3:
        return None
    fit = stats.linregress(np.log(x), np.log(y))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 2) * fit.stderr
    return {"slope": float(fit.slope), "interval": [float(fit.slope - half), float(fit.slope + half)],
            "points": len(x), "stderr": float(fit.stderr),
            "detectable": detectable_difference(fit.stderr, len(x) - 2) if fit.stderr > 0 else None}


def summarise(results: dict) -> dict:
    """Per schedule: the collapse-vs-frequency slope fit and how many runs never collapsed."""
    out = {}
    for schedule in ("rope", "p_rope", "nope"):
        runs = [r for r in results["runs"] if r["schedule"] == schedule]
        if not runs:
            continue
        collapsed = [r for r in runs if r["collapse_distance"] is not None and r["slowest_rotating_frequency"] > 0]
        out[schedule] = {
            "runs": len(runs),
            "never_collapsed": len(runs) - len(collapsed),
            "fit": slope_fit([r["slowest_rotating_frequency"] for r in collapsed],
                             [r["collapse_distance"] for r in collapsed]),
            "mean_slowest_pair_share": float(np.mean([np.max(np.abs(np.asarray(r["pair_share_by_head"])[:, -1]))
                                                      for r in runs])),
        }
    return out


def findings(results: dict, report: bool) -> list[str]:
    """What the numbers show, beside Thm 6.1's prediction (nothing for a pipeline check)."""
    if not report:
        return ["pipeline check only: this preset trains too briefly to support any finding"]
    s = results["summary"]
    lines = []
    rope = s.get("rope", {})
    fit = rope.get("fit")
    if fit is None:
        lines.append("RoPE collapse law: undecided (fewer than 3 runs collapsed within the evaluated range)")
    else:
        lo, hi = fit["interval"]
        verdict = ("holds" if lo <= -1.0 <= hi and hi < 0 else
                   "undecided at this power" if lo <= -1.0 <= hi else "does not hold")
        power = ("" if fit.get("detectable") is None else
                 f"; this fit tells apart slopes {fit['detectable']:.2f} or more from -1 with {POWER:.0%} power")
        lines.append(f"RoPE collapse distance vs slowest frequency: log-log slope {fit['slope']:.3f}, {CONFIDENCE:.0%} CI "
                     f"[{lo:.3f}, {hi:.3f}] over {fit['points']} runs; the 1/g_min law (slope -1) {verdict}{power}")
    p = s.get("p_rope", {})
    if p:
        lines.append(f"p-RoPE 0.75: {p['never_collapsed']} of {p['runs']} runs never collapsed within "
                     f"{max(results['config']['distances'])} tokens (its unrotated pairs cannot break; a collapse "
                     "means the trained head also leans on rotating pairs)")
    n = s.get("nope", {})
    if n:
        lines.append(f"NoPE: {n['never_collapsed']} of {n['runs']} runs never collapsed (no rotation to break)")
    return lines


REPORTED_RESULTS = Path(str(resources.files("ropelab.results").joinpath("breaking_small", RESULTS_NAME)))
"""The committed ``small`` run, shipped as package data."""


def load_results(path: str | Path = REPORTED_RESULTS) -> dict:
    """Read a results JSON written by :func:`run` (default: the committed ``small`` run)."""
    return read_results(path, "ropelab experiment breaking --preset small")


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    """One row per (encoding, base): slowest rotating range, collapse distance per seed, last pair's share."""
    header = ["encoding", "theta", "slowest rotating range pi/(2 g_min)", "collapse distance by seed",
              "last-pair share (slowest; unrotated under p-RoPE)"]
    groups: dict[str, list[dict]] = {}
    for r in results["runs"]:
        groups.setdefault(r["label"], []).append(r)
    rows = []
    for label, runs in groups.items():
        first = runs[0]
        share = np.mean([np.max(np.abs(np.asarray(r["pair_share_by_head"])[:, -1])) for r in runs])
        rows.append([first["schedule"] if first["schedule"] != "p_rope" else f"p-RoPE {first['fraction']:g}",
                     "-" if first["schedule"] == "nope" else f"{first['theta']:.4g}",
                     "never" if first["slowest_semantic_range"] is None else f"{first['slowest_semantic_range']:.0f}",
                     ", ".join("none" if r["collapse_distance"] is None else f"{r['collapse_distance']:.0f}" for r in runs),
                     f"{share:.2f}"])
    return header, rows


def explain(results: dict | None = None) -> str:
    """The set-up, the result and the comparison with Thm 6.1, from the committed run."""
    results = load_results() if results is None else results
    c = results["config"]
    T, d = c["train"]["seq_len"], c["model"]["head_dim"]
    header, rows = table_rows(results)
    lines = [
        "Thm 6.1's breaking law in trained models (experiment `breaking`).",
        f"Set-up: one-layer models (d_model {c['model']['d_model']}, {c['model']['n_heads']} heads of d={d}) learn to "
        f"name the one value token seen up to T={T} tokens back among {c['task']['n_distractors']} distractor types "
        f"({c['task']['n_values']} values; chance 1/{c['task']['n_values']}), {c['train']['steps']} steps, seeds "
        f"{results['seeds']}. Bases {', '.join(f'{b:.4g}' for b in c['bases'])} put the slowest pair's semantic range "
        f"pi/(2 g_min) at {', '.join(f'{m:.3g}' for m in c['range_multiples'])} x T. Accuracy is measured at distances "
        f"{c['distances'][0]}..{c['distances'][-1]} ({c['eval_sequences']} sequences each); a run collapses where "
        f"accuracy first falls below {COLLAPSE_ACCURACY} (log-interpolated).",
        "",
        " | ".join(header),
        *(" | ".join(row) for row in rows),
        "",
        "Findings:",
        *(f"- {line}" for line in results["findings"]),
        "",
        "What still differs from the theorem's setting: a trained head spreads its match over several pairs "
        "(the last-pair share above), and distances beyond T also put the model at relative positions it never "
        "saw in training, so a collapse near T mixes Thm 6.1's breaking with plain length extrapolation. Two seeds "
        "per cell: the interval is over runs, not over seeds of one cell.",
        f"Regenerate: ropelab experiment breaking --preset small (about {results.get('elapsed_seconds', 0) / 60:.0f} "
        "min here).",
    ]
    return "\n".join(lines)
