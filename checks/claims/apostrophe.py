"""Gemma 7B's apostrophe head: the arithmetic of chunk 119 and the breaking context it implies (App E.1)."""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ropelab.constructions import semantic_channels, frequencies, relative_position
from ropelab.theory import semantic_channels as th_sc
from ropelab.theory.derivation import Derivation, derive

from .. import tolerances as tol
from ..claim import Claim, Part, Shown, Symbolic, Trust, Variant
from ..laws import Identity, Point, ZeroCount
from . import _common as c

__all__ = ["CLAIMS", "apostrophe_numbers", "implied_breaking"]

SECTION = "§6 semantic channels, p-RoPE, base"
APOSTROPHE = {"q_not_bos": (-4.1, 11.3), "k_not_bos": (11.2, -3.5), "q_bos": (0.7, -1.9), "k_bos": (-2.5, 1.3)}
CONTEXT = 8192  # Gemma 7B's training context
SEARCH = 10 * CONTEXT

ARITHMETIC = Claim(
    id="apostrophe_channel_arithmetic",
    label="App E.1",
    section=SECTION,
    statement="Chunk 119 of Gemma 7B: g_119 = 1e4^(-236/256) = 2.05e-4, 8000 g_119 = 1.64 (about pi/2), and "
              "the printed chunk vectors give dot products -85.5 and +24.9; by Thm 6.1 an anti-aligned rival of "
              "equal norm breaks this channel at semantic_range(g_119) tokens, and the printed vectors tell "
              "how far the BOS key keeps its lead.",
    symbolic=Symbolic(lambda: _symbolic(),
                      Shown(Trust.PROVED_FINITE, "exact rationals: g_119 = 10^(-59/16), the two printed dot products, "
                                                 "and semantic_range(g_119) is the first breaking context against "
                                                 "an anti-aligned rival (the adjacent placement wins there, none "
                                                 "one token earlier) at the float's exact value")),
    parts=(Part("Chunk 119 of Gemma 7B: g_119 = 1e4^(-236/256) = 2.05e-4", ("symbolic", "numeric")),
           Part("8000 g_119 = 1.64 (about pi/2)", ("numeric",)),
           Part("the printed chunk vectors give dot products -85.5 and +24.9", ("symbolic", "numeric")),
           Part("by Thm 6.1 an anti-aligned rival of equal norm breaks this channel at semantic_range(g_119) tokens", ("numeric",)),
           Part("the printed vectors tell how far the BOS key keeps its lead", ("numeric",))),
    errata=("E12",),
    law={"printed": Identity("error / half a unit of the printed digit (and vs SymPy)"),
         "breaking": ZeroCount("brute force != semantic_range for chunk 119")},
    check=lambda pair_index, quick, rng: _check(pair_index),
    construction=Variant(119, "chunk 119 as the 1-based pair index (m = 118)"),
    wrong=Variant(120, "chunk 119 read as the 0-based pair m = 119 (the paper's chunk 120)"),
    numeric=Shown(Trust.CHECKED, "the four printed numbers; brute force over every distance up to 81,920 tokens "
                                 "for an anti-aligned rival and for the printed vectors"),
    tolerance_reason="each printed number within half a unit of its last digit, and ours within 8 eps of SymPy; "
                     "'about pi/2' = the nearest multiple of pi/4; breaking contexts exact integers",
    explain=lambda: _explain(),
    numeric_scope=c.fixed_instance(lambda: ARITHMETIC,
                                   "the four printed numbers; brute force over every distance up to 81,920 tokens "
                                   "for an anti-aligned rival and for the printed vectors"),
)

CLAIMS = [ARITHMETIC]


def _fact() -> dict:
    for fact in c.paper_facts()["constants"]:
        if fact["claim"].startswith("apostrophe head"):
            return fact
    raise KeyError("apostrophe head")


def apostrophe_numbers(pair_index: int) -> dict[str, float]:
    """The construction side: g of the 1-based ``pair_index`` (d = 256, theta = 1e4), 8000 g,
    and the two dot products as distance-0 logits of a single pair.

    >>> round(apostrophe_numbers(119)["8000 g"], 4)
    1.6428
    """
    g = float(frequencies.rope(256, 1e4)[pair_index - 1])
    logit = lambda q, k: float(relative_position.logit_curve(np.array(q), np.array(k), np.array([g]), 1)[0])  # noqa: E731
    return {"g_119": g, "8000 g": 8000 * g, "q.k not-BOS": logit(APOSTROPHE["q_not_bos"], APOSTROPHE["k_not_bos"]),
            "q.k BOS": logit(APOSTROPHE["q_not_bos"], APOSTROPHE["k_bos"])}


def apostrophe_exact() -> dict[str, sp.Expr]:
    """SymPy: g_119 = 10^(-59/16), 8000 g_119, and the dot products in exact decimals."""
    g = sp.Integer(10_000) ** sp.Rational(-2 * 118, 256)
    q, kn, kb = (sp.Matrix([sp.Rational(str(x)) for x in APOSTROPHE[n]]) for n in ("q_not_bos", "k_not_bos", "k_bos"))
    return {"g_119": g, "8000 g": 8000 * g, "q.k not-BOS": (q.T * kn)[0], "q.k BOS": (q.T * kb)[0]}


def implied_breaking(pair_index: int) -> dict[str, float | None]:
    """What the printed vectors imply under Thm 6.1: the anti-aligned closed form and brute force,
    and the first context in which a not-BOS key out-scores the BOS key for the not-BOS query."""
    g = float(frequencies.rope(256, 1e4)[pair_index - 1])
    anti = semantic_channels.breaking_context(g, math.pi, limit=SEARCH)
    printed = semantic_channels.first_overtaking(np.array(APOSTROPHE["q_not_bos"]), np.array(APOSTROPHE["k_bos"]),
                                        np.array(APOSTROPHE["k_not_bos"]), np.array([g]), SEARCH)
    return {"semantic_range": th_sc.semantic_range(g), "anti_aligned_brute_force": anti.context if anti else None,
            "printed_vectors_break_at": printed.context if printed else None}


def _symbolic() -> Derivation:
    exact = apostrophe_exact()
    g_float = float(frequencies.rope(256, 1e4)[118])
    return derive(
        "g_119 = 10^(-59/16); the printed dot products are -85.47 and 24.94; semantic_range(g_119) is the first break",
        [
            ("1e4^(-236/256) - 10^(-59/16) = 0", exact["g_119"] - sp.Integer(10) ** sp.Rational(-59, 16)),
            ("q_notBOS . k_notBOS = -85.47", exact["q.k not-BOS"] - sp.Rational("-85.47")),
            ("q_notBOS . k_BOS = 24.94", exact["q.k BOS"] - sp.Rational("24.94")),
            *th_sc.anti_aligned_first_break([g_float]),
        ],
    )


def _check(pair_index: int) -> dict[str, list[Point]]:
    fact = _fact()
    printed = {"g_119": 2.05e-4, "8000 g": 1.64, "q.k not-BOS": fact["values"][0], "q.k BOS": fact["values"][1]}
    half = {"g_119": 0.005e-4, "8000 g": 0.005, "q.k not-BOS": 0.05, "q.k BOS": 0.05}
    ours, exact = apostrophe_numbers(pair_index), apostrophe_exact()
    points = []
    for key, value in ours.items():
        exact_value = float(exact[key])
        ratio = max(abs(value - printed[key]) / half[key],
                    abs(value - exact_value) / (8 * tol.EPS64 * max(1.0, abs(exact_value))))
        points.append(Point({"quantity": key}, error=ratio, bound=1.0,
                            extra={"ours": value, "sympy": exact_value, "printed": printed[key]}))
    # "about pi/2": the nearest multiple of pi/4 (the statement's resolution) must be pi/2
    quarter = round(ours["8000 g"] / (math.pi / 4))
    points.append(Point({"quantity": "8000 g in quarter turns of pi/4"}, error=0.0 if quarter == 2 else math.inf,
                        bound=1.0, extra={"quarters": ours["8000 g"] / (math.pi / 4)}))
    implied = implied_breaking(pair_index)
    breaking = [Point({"pair": pair_index}, violations=float(implied["anti_aligned_brute_force"] != implied["semantic_range"]),
                      extra={**implied, "context": CONTEXT})]
    return {"printed": points, "breaking": breaking}


def _explain() -> str:
    n = apostrophe_numbers(119)
    implied = implied_breaking(119)
    g = np.array([n["g_119"]])
    q = np.array(APOSTROPHE["q_not_bos"])
    bos = relative_position.logit_curve(q, np.array(APOSTROPHE["k_bos"]), g, 8000)
    other = relative_position.logit_curve(q, np.array(APOSTROPHE["k_not_bos"]), g, 8000)
    def where(tokens: int) -> str:
        return "beyond" if tokens > CONTEXT else "inside"

    return (
        f"Gemma 7B, layer 1 head 10, chunk 119 (1-based; pair m = 118): g = 1e4^(-236/256) = 10^(-59/16) = "
        f"{n['g_119']:.4g} rad/token; over 8000 tokens it turns {c.fmt(n['8000 g'], 4)} rad, about pi/2.\n"
        f"q_notBOS.k_notBOS = {c.fmt(n['q.k not-BOS'], 4)} (printed -85.5): other tokens are pushed away; "
        f"q_notBOS.k_BOS = {c.fmt(n['q.k BOS'], 4)} (printed +24.9): BOS attracts.\n"
        f"Turning through every distance up to 8000, the BOS logit stays in [{c.fmt(bos.min(), 4)}, "
        f"{c.fmt(bos.max(), 4)}] and the not-BOS logit in [{c.fmt(other.min(), 4)}, {c.fmt(other.max(), 4)}].\n"
        f"What Thm 6.1 implies: an anti-aligned rival of equal norm breaks this channel at "
        f"{implied['semantic_range']:,} tokens (closed form; brute force {implied['anti_aligned_brute_force']:,}), "
        f"{where(implied['semantic_range'])} the {CONTEXT:,}-token context; with the printed vectors a not-BOS key "
        f"first out-scores the BOS key at a context of {implied['printed_vectors_break_at']:,} tokens, "
        f"{where(implied['printed_vectors_break_at'])} it: "
        + ("for these vectors the slow channel stays a semantic 'is it BOS?' test over the whole training context."
           if implied["printed_vectors_break_at"] > CONTEXT else "even these vectors lose the BOS key within it.")
        + "\nReading chunk 119 as the 0-based "
        "pair m = 119 (chunk 120 in the paper's numbering) gives 8000 g = 1.56 and is rejected."
    )
