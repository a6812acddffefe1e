"""Measured experiments that ``ropelab explain`` knows besides the claims.

An experiment is an empirical finding (SPEC §2): it is measured, not proved, so it is not a
:class:`~ropelab.checks.claim.Claim` and the claim contract test does not run it (training
takes minutes). Its ``explain`` text reads the package's reported results and states the
set-up, the outcome with its uncertainty, and how it compares with the paper.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


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


def _critical_share(context: int, head_dim: int, theta: float) -> tuple[float, int]:
    """Critical pair index ``(d/2) log_theta(L / 2 pi)`` and the number of pairs turning fully within ``L``."""
    from ropelab.constructions import frequencies

    index = head_dim / 2 * math.log(context / (2 * math.pi)) / math.log(theta)
    turning = int(np.sum(frequencies.rope(head_dim, theta) * context >= 2 * math.pi))
    return index, turning


def _table2_sections() -> tuple[str, tuple[list[str], list[list[str]]] | None, str]:
    from ropelab.checks.findings import table2

    preset = table2.PRESETS["small"]
    model, cfg = preset.model, preset.train
    paper = table2.paper_facts()["table2_validation_perplexity"]
    wiki = {row: values[0] for row, values in paper["rows"].items()}
    best, worst = min(wiki, key=wiki.get), max(wiki, key=wiki.get)
    reference_row = next(v.paper_row for v in table2.VARIANTS if v.id == table2.REFERENCE)
    gemma = table2.paper_facts()["models"]["Gemma 2B (training runs)"]
    ours_index, ours_turning = _critical_share(cfg.seq_len, model.head_dim, 1e4)
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
        f"Set-up here (the `small` preset): the {len(table2.VARIANTS)} encodings on byte-level models of Shakespeare "
        f"({corpus['source']}; {len(corpus['train_plays'])} training plays, {len(corpus['validation_plays'])} validation plays held "
        f"out whole). {model.parameter_count()} parameters: d_model {model.d_model}, {model.n_layers} layers, "
        f"{model.n_heads} heads of d={model.head_dim} ({model.head_dim // 2} frequency pairs); "
        f"T={cfg.seq_len}, batch {cfg.batch_size}, {cfg.steps} AdamW steps (warm-up {cfg.warmup_steps}, cosine decay). "
        "Every variant of one seed starts from the same weights and sees the same batches; only the rotary map "
        "differs. Perplexity is measured at T, 2T and 4T on the same target bytes (positions beyond T were never "
        f"trained). Differences are paired against {table2.REFERENCE} by seed with a Student-t interval.",
        "",
        f"Scale caveat: at T={cfg.seq_len} and d={model.head_dim}, theta=10k turns only the {ours_turning} highest of "
        f"{model.head_dim // 2} pairs through a full cycle (critical pair index (d/2) log_theta(T/2pi) = "
        f"{ours_index:.1f}, {ours_index / (model.head_dim / 2):.0%} of the pairs; the paper's "
        f"{gemma['context']}-token, d={gemma['head_dim']} set-up: {paper_index:.1f}, "
        f"{paper_index / (gemma['head_dim'] / 2):.0%}, {paper_turning} pairs), so the slow pairs act almost as "
        "unrotated channels in every RoPE variant and 0.75-RoPE differs from RoPE only in pairs that barely turn.",
    ]
    if results is None:
        return "\n".join(setup + ["", f"No reported results: {missing}"]), None, ""
    lines = setup + ["", f"Result ({len(results['seeds'])} seeds; mean ± sd; "
                     f"{results['machine']['train_seconds_total'] / 60:.0f} min of optimisation steps in all):"]
    after = ["Findings:"] + [f"- {f}" for f in results["findings"]]
    after += ["", "What would change it: more seeds (the intervals above are from "
              f"{len(results['seeds'])}), longer training, or a context long enough for the slow pairs to turn "
              "(the `full` preset); a ranking that flips between seeds is not a result.",
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
    ),
    "breaking": Experiment(
        id="breaking",
        label="Thm 6.1 (trained)",
        statement="Content recall across distance collapses near the breaking context of the channels a trained "
                  "head relies on: with RoPE the collapse distance scales as 1/g_min; p-RoPE's unrotated pairs "
                  "cannot break.",
        command="ropelab experiment breaking --preset small",
        explain=lambda: _findings_module("breaking").explain(),
    ),
    "offset": Experiment(
        id="offset",
        label="Thm 5.3, Prop 5.2 (trained)",
        statement="Copying at a fixed offset needs a positional head: RoPE builds it from its highest "
                  "frequencies, NoPE cannot beyond its BOS anchor, reversed p-RoPE pays for it.",
        command="ropelab experiment offset --preset small",
        explain=lambda: _findings_module("offset").explain(),
    ),
}


def _findings_module(name: str):
    from . import breaking, offset

    return {"breaking": breaking, "offset": offset}[name]
