r"""Table 2's rows and the facts every part of it reads: the seven encodings, their bases matched
to the paper's regime, the reference row, the committed results and how to read them.

The paper trains Gemma 2B from scratch with seven positional encodings
(``paper_facts()["table2_validation_perplexity"]``); :data:`ROWS` gives each a short id, its
schedule and fraction, and :func:`matched_base` the base at a shorter training length with the
paper's share of turning pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ropelab.checks.findings.finding import read_results
from ropelab.checks.findings.models import transformer as tf
from ropelab.checks.reference import paper_facts
from ropelab.theory import base_bounds as th_base

__all__ = [
    "ANALYSED",
    "CONTEXT_MULTIPLES",
    "FIGURE_NAME",
    "FLAT_SHARE",
    "GEMMA_2B",
    "LONG_RESULTS",
    "NOPE_LONG_RESULTS",
    "PAPER_BATCH",
    "PAPER_CONTEXT",
    "PAPER_STEPS",
    "PILOT_RESULTS",
    "POSITION_BINS",
    "REFERENCE",
    "REPORTED_FOLDER",
    "REPORTED_RESULTS",
    "RESULTS_NAME",
    "ROWS",
    "ROW_OF",
    "Row",
    "TABLE_NAME",
    "VARIANT_IDS",
    "compares_with_paper",
    "context_multiples",
    "is_pipeline_check",
    "load_results",
    "matched_base",
    "paper_direction",
    "paper_facts",
    "runs_of",
    "trained_ids",
    "turning_share",
]

CONTEXT_MULTIPLES = (1, 2, 4, 8)
"""Validation contexts as multiples of the training length ``T``."""
POSITION_BINS = 32
"""The per-position loss over ``8T`` tokens is kept as this many equal bins."""
FLAT_SHARE = 0.05
"""A run has flattened when its validation NLL fell by less than this share of its total fall
(first evaluation to last) over the last quarter of its steps."""
PAPER_CONTEXT = 8192
"""The paper's training context (``paper_facts()["models"]["Gemma 2B (training runs)"]``)."""
PAPER_STEPS = 10_000
PAPER_BATCH = 512
"""The paper's training steps and sequences per batch (``paper_facts()["table2_validation_perplexity"]["setup"]``)."""
GEMMA_2B = {
    "d_model": 2048, "layers": 18, "heads": 8, "kv_heads": 1, "head_dim": 256, "feedforward_hidden": 32768,
    "vocab_size": 256128, "embedding_parameters": 524_550_144, "non_embedding_parameters": 1_981_884_416,
}
"""Gemma 2B's widths and parameter counts as printed by Gemma Team (2024), "Gemma: Open Models Based
on Gemini Research and Technology", Tables 1 and 2: the model the paper trains from scratch for
Table 2. (The non-embedding count is 18 layers of q and o 2048 x 2048, one shared k and v head
2048 x 256 each, a GeGLU MLP 3 x 2048 x 16384 and two norms, plus the final norm.)"""
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
    then the paper's; the number of pairs and of octaves the schedule spans still differ. At the
    paper's own context the base is the paper's, exactly (the formula rounds it by an ulp or two).

    >>> round(matched_base(1e4, 128), 1), round(matched_base(5e5, 128), 1)
    (48.0, 248.2)
    >>> matched_base(1e4, 8192), matched_base(5e5, 8192)
    (10000.0, 500000.0)
    """
    if context == paper_context:
        return float(paper_theta)
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


def paper_direction(row_id: str, column: int) -> float:
    """The paper's relative perplexity change of ``row_id`` over :data:`REFERENCE` in one
    column of Table 2 (0: Wiki, 1: FlanV2): ``ppl_row / ppl_reference - 1``."""
    table = paper_facts()["table2_validation_perplexity"]["rows"]
    return table[ROW_OF[row_id].paper_row][column] / table[ROW_OF[REFERENCE].paper_row][column] - 1


def runs_of(results: dict, variant: str) -> list[dict]:
    """The runs of one row of a results file, by seed."""
    return sorted((r for r in results["runs"] if r["variant"] == variant), key=lambda r: r["seed"])


def context_multiples(results: dict) -> list[int]:
    """The context multiples a results file was scored at (files keep their own)."""
    return list(results["config"].get("context_multiples", CONTEXT_MULTIPLES))


def trained_ids(results: dict) -> list[str]:
    """The rows a results file trained, in the paper's order."""
    present = {r["variant"] for r in results["runs"]}
    return [v for v in VARIANT_IDS if v in present]


def is_pipeline_check(results: dict) -> bool:
    """True when ``results`` come from a preset that only checks the pipeline (``smoke``)."""
    return bool(results.get("pipeline_check", results.get("preset") == "smoke"))


def compares_with_paper(results: dict) -> bool:
    """True when ``results`` may stand beside the paper: trained models, the reference row among them."""
    return not is_pipeline_check(results) and REFERENCE in trained_ids(results)


def load_results(path: str | Path = REPORTED_RESULTS) -> dict:
    """Read a results JSON written by the runner (default: the reported ``small`` run)."""
    return read_results(path, "ropelab experiment table2 --preset small")
