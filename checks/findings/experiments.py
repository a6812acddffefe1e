"""Measured experiments that ``ropelab explain`` knows besides the claims.

An experiment is an empirical finding (SPEC §2): it is measured, not proved, so it is not a
:class:`~ropelab.checks.claim.Claim` and the claim contract test does not run it (training
takes minutes). Its ``explain`` text reads the package's reported results and states the
set-up, the outcome with its uncertainty, and how it compares with the paper. Its
:class:`~ropelab.checks.findings.experiment_runner.ExperimentRecord` (what it trains and
measures) lives in its own module, imported on use (training needs the ``training`` extra).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["EXPERIMENTS"]


@dataclass(frozen=True)
class Experiment:
    """An explainable experiment: its id, paper label, statement, command and explain text."""

    id: str
    label: str
    statement: str
    command: str
    explain: Callable[[], str]
    sections: Callable[[], tuple[str, tuple[list[str], list[list[str]]] | None, str]] | None = None
    """``(text before, (header, rows) or None, text after)``: the same content as ``explain``
    with its table kept apart, so that a terminal can lay the table out to its width."""
    module: str = ""
    """The module that declares its record (``RECORD``), relative to this package."""
    preset_help: str = ""
    """Its presets, each with what it is for (the ``--preset`` help of ``ropelab experiment``)."""

    def record(self):
        """The experiment's :class:`~ropelab.checks.findings.experiment_runner.ExperimentRecord`."""
        return importlib.import_module(f"{__package__}.{self.module}").RECORD


def _critical_share(context: int, head_dim: int, theta: float) -> tuple[float, int]:
    """Critical pair index ``(d/2) log_theta(L / 2 pi)`` and the number of pairs turning fully within ``L``."""
    from ropelab.constructions import frequencies

    index = head_dim / 2 * math.log(context / (2 * math.pi)) / math.log(theta)
    turning = int(np.sum(frequencies.rope(head_dim, theta) * context >= 2 * math.pi))
    return index, turning


def _committed(path) -> dict | None:
    """A committed Table 2 results file, or ``None`` where this install has none."""
    from ropelab.checks.findings import table2

    try:
        return table2.load_results(path)
    except FileNotFoundError:
        return None


def _side_run(results: dict) -> str:
    """How a run beside the reported one was made: its preset, seeds, rows and steps."""
    from ropelab.checks.findings import table2

    return (f"`--preset {results['preset']}`, {len(results['seeds'])} seeds of " + ", ".join(table2.trained_ids(results))
            + f", {results['config']['train']['steps']} steps, the small preset's model")


def _table2_sections() -> tuple[str, tuple[list[str], list[list[str]]] | None, str]:
    from ropelab.checks.findings import table2

    preset = table2.PRESETS["small"]
    model, cfg = preset.model, preset.train
    paper = table2.paper_facts()["table2_validation_perplexity"]
    wiki = {row: values[0] for row, values in paper["rows"].items()}
    best, worst = min(wiki, key=wiki.get), max(wiki, key=wiki.get)
    reference_row = table2.ROW_OF[table2.REFERENCE].paper_row
    gemma = table2.paper_facts()["models"]["Gemma 2B (training runs)"]
    variants = {v.id: v for v in preset.variants()}
    low, high = variants[table2.REFERENCE].encoding.theta, variants["rope_500k"].encoding.theta
    ours_index, ours_turning = _critical_share(cfg.seq_len, model.head_dim, low)
    paper_index, paper_turning = _critical_share(gemma["context"], gemma["head_dim"], gemma["theta"])
    try:  # the corpus as the reported run recorded it: explaining needs no corpus package
        results = table2.load_results()
    except FileNotFoundError as err:
        results, missing = None, err
    corpus = results["corpus"] if results else {"source": "corpus not recorded", "train_plays": [],
                                                "validation_plays": []}
    setup = [
        f"Table 2 (paper): {paper['setup']}. Wiki validation perplexity: best {best} {wiki[best]}, worst {worst} "
        f"{wiki[worst]}, {reference_row} {wiki[reference_row]}.",
        "",
        f"Set-up here (the `small` preset): the {len(table2.ROWS)} encodings on byte-level models of Shakespeare "
        f"({corpus['source']}; {len(corpus['train_plays'])} training plays, {len(corpus['validation_plays'])} validation plays held "
        f"out whole). {model.parameter_count()} parameters: d_model {model.d_model}, {model.n_layers} layers, "
        f"{model.n_heads} heads of d={model.head_dim} ({model.head_dim // 2} frequency pairs); "
        f"T={cfg.seq_len}, batch {cfg.batch_size}, {cfg.steps} AdamW steps (warm-up {cfg.warmup_steps}, cosine decay). "
        "Every variant of one seed starts from the same weights and sees the same batches; only the rotary map "
        "differs. Perplexity is measured at " + ", ".join(f"{m}T" for m in table2.CONTEXT_MULTIPLES)
        + " on the same target bytes (positions beyond T were never trained). Differences are paired against "
        f"{table2.REFERENCE} by seed.",
        "",
        f"The paper's regime, matched: what decides whether a pair acts positionally or semantically over the "
        f"context is whether it completes a turn within it, the share log_theta(L/2pi) of the pairs. The paper's "
        f"{gemma['context']}-token, d={gemma['head_dim']} runs have {table2.turning_share(1e4, gemma['context']):.3f} "
        f"at theta=1e4 ({paper_turning} pairs, critical index {paper_index:.1f}) and "
        f"{table2.turning_share(5e5, gemma['context']):.3f} at theta=5e5. At T={cfg.seq_len} the same shares need "
        f"theta={low:.1f} and theta={high:.1f}, the bases used here for the paper's 10k and 500k rows (and for every "
        f"p-RoPE row at 10k): {ours_turning} of {model.head_dim // 2} pairs turn within T (critical index "
        f"{ours_index:.1f}). Still different: d ({model.head_dim} against {gemma['head_dim']}), so the schedule "
        f"has {model.head_dim // 2} pairs spanning log2 theta = {math.log2(low):.1f} octaves against 128 pairs over "
        f"{math.log2(gemma['theta']):.1f}; tokens are bytes, not subwords; the model is 4 orders of magnitude smaller.",
    ]
    pilot = _committed(table2.PILOT_RESULTS)
    if pilot is not None:
        setup += ["", f"Design (pilot: {_side_run(pilot)}): " + " ".join(pilot["findings"][1:-1])
                  + f" So the reported run trains {cfg.steps} steps with {preset.seeds} seeds (the time a 2-core "
                  "machine allows in about 90 minutes), and states each row's MDD beside its result."]
    if results is None:
        return "\n".join(setup + ["", f"No reported results: {missing}"]), None, ""
    lines = setup + ["", f"Result ({len(results['seeds'])} seeds; mean ± sd; "
                     f"{results['machine']['train_seconds_total'] / 60:.0f} min of optimisation steps in all):"]
    after = ["Findings:"] + [f"- {f}" for f in results["findings"]]
    longer = _committed(table2.LONG_RESULTS)
    if longer is not None:
        after += ["", f"Length check ({_side_run(longer)}):"] + [f"- {f}" for f in table2.length_check(longer)]
    nope_longer = _committed(table2.NOPE_LONG_RESULTS)
    if nope_longer is not None:
        after += ["", f"NoPE length check ({_side_run(nope_longer)}):"] + [
            f"- {f}" for f in table2.nope_length_check(nope_longer)]
    after += ["", "Units: the paper's perplexities are per subword token of Gemma 2B, ours per byte, so only the "
              "signs of the changes and their rough relative sizes compare. An 'undecided' row is not a tie: "
              "its interval holds both signs at this number of seeds; the MDD says how large a change this run "
              "could have seen.",
              f"Regenerate (from the repository root): ropelab experiment table2 --preset small --out {table2.REPORTED_FOLDER}"]
    return "\n".join(lines), table2.table_rows(results), "\n".join(after)


def _explain_table2() -> str:
    before, table, after = _table2_sections()
    if table is None:
        return before
    header, rows = table
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n\n".join([before, "\n".join(lines), after])


_TASK_PRESETS = "smoke (a pipeline check, no findings), small (the committed run), gpu (an accelerator)"
EXPERIMENTS: dict[str, Experiment] = {
    "table2": Experiment(
        id="table2",
        label="Table 2",
        statement="Language models that differ only in their positional encoding (NoPE, RoPE 10k / 500k, "
                  "p-RoPE 0.25 / 0.75, reversed and partial 0.75) reach different validation perplexities; "
                  "the paper finds 0.75-RoPE best and NoPE worst.",
        command="ropelab experiment table2 --preset small",
        explain=_explain_table2,
        sections=_table2_sections,
        module="table2",
        preset_help="smoke (a pipeline check, about a minute), pilot (the small run's design, about 12 min), "
                    "small (the reported run, about 80 min), long (its length check: 3 rows, 3x the steps, about "
                    "60 min), nope_long (NoPE alone, 6x the steps, about 45 min), gpu (an accelerator), paper (the paper's "
                    "context, bases, head width, steps, batch and tokens per parameter, seeds from the power "
                    "analysis: for a cluster; --cost states it)",
    ),
    "breaking": Experiment(
        id="breaking",
        label="Thm 6.1 (trained)",
        statement="Content recall across distance collapses near the breaking context of the channels a trained "
                  "head relies on: with RoPE the collapse distance scales as 1/g_min; p-RoPE's unrotated pairs "
                  "cannot break.",
        command="ropelab experiment breaking --preset small",
        explain=lambda: _findings_module("breaking").explain(),
        module="breaking",
        preset_help=_TASK_PRESETS,
    ),
    "offset": Experiment(
        id="offset",
        label="Thm 5.3, Prop 5.2 (trained)",
        statement="Copying at a fixed offset needs a positional head: RoPE builds it from its highest "
                  "frequencies, NoPE cannot beyond its BOS anchor, reversed p-RoPE pays for it.",
        command="ropelab experiment offset --preset small",
        explain=lambda: _findings_module("offset").explain(),
        module="offset",
        preset_help=_TASK_PRESETS,
    ),
}


def _findings_module(name: str):
    return importlib.import_module(f"{__package__}.{EXPERIMENTS[name].module}")
