"""Where the paper's text and its mathematics disagree: one record per erratum (SPEC §9).

Each :class:`Erratum` gives where it is, what the paper prints, the corrected reading, and what
shows it: the ids of the claims whose checks use (and test) the corrected reading, a function
here that computes a corrected number, or, for an editorial slip that no computation can show
(a wrong figure number), the statement that it is editorial and which output uses the corrected
reading. Numbers in a corrected reading are computed from the closed forms, never typed.

>>> ERRATA_BY_ID["E2"].where
'App C'
>>> f"{llama_band_onset()['exact']:.3g}"
'0.000274'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ropelab.theory import base_bounds as th_base

from .reference import paper_facts

__all__ = [
    "ERRATA",
    "ERRATA_BY_ID",
    "Erratum",
    "cited_claims",
    "llama_band_onset",
    "missing_links",
    "slowest_channel_turns",
]


@dataclass(frozen=True)
class Erratum:
    """One erratum: ``id``, ``where`` (section / figure), the paper's text, the corrected reading,
    and what shows it (``claims``: claim ids; ``check``: a function returning the computed
    numbers; ``editorial``: for slips no check can show, which output uses the corrected reading).
    Each claim named here lists the erratum back in its own ``errata`` field (:func:`missing_links`).
    """

    id: str
    where: str
    paper_text: str
    corrected: str
    claims: tuple[str, ...] = ()
    check: Callable[[], dict[str, Any]] | None = None
    editorial: str = ""

    def __post_init__(self) -> None:
        if not (self.claims or self.check or self.editorial):
            raise ValueError(f"erratum {self.id}: say what shows it (claims, a check, or editorial)")

    def shown_by_lines(self) -> list[str]:
        """What shows it, one item a line: each claim id, the check function, the editorial note."""
        lines = [f"claim {claim}" for claim in self.claims]
        if self.check is not None:
            lines.append(f"computed by {self.check.__name__}()")
        if self.editorial:
            lines.append(f"editorial: {self.editorial}")
        return lines

    def shown_by(self) -> str:
        """:meth:`shown_by_lines` on one line."""
        return "; ".join(self.shown_by_lines())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, the check by its dotted name and its computed numbers."""
        return {
            "id": self.id, "where": self.where, "paper_text": self.paper_text, "corrected": self.corrected,
            "claims": list(self.claims),
            "check": None if self.check is None else f"{self.check.__module__}.{self.check.__name__}",
            "computed": None if self.check is None else self.check(),
            "editorial": self.editorial, "shown_by": self.shown_by(),
        }


def _fact(where: str, starts: str) -> dict[str, Any]:
    """The paper_facts constant printed at ``where`` whose claim starts with ``starts``."""
    return next(f for f in paper_facts()["constants"] if f["where"] == where and f["claim"].startswith(starts))


def llama_band_onset() -> dict[str, Any]:
    """E2: App C's Llama band onset ``500000^(-40/64)``, exact against the printed value.

    >>> round(llama_band_onset()["printed"], 6)
    0.0001
    """
    exact = sp.Integer(500000) ** sp.Rational(-40, 64)
    return {"formula": "500000^(-40/64)", "exact": float(sp.N(exact, 30)),
            "printed": _fact("App C", "Llama band onset")["value"]}


def slowest_channel_turns() -> dict[str, Any]:
    """E4: turns of the slowest channel over 128k tokens at theta = 10^4, d = 128, both readings.

    >>> {k: round(v, 2) for k, v in slowest_channel_turns().items() if k != "printed"}
    {'one_over_theta': 2.04, 'exact_g64': 2.35}
    """
    length, base, d = 128000, sp.Integer(10**4), 128
    return {
        "one_over_theta": float(sp.N(th_base.turns(length, 1 / base), 30)),
        "exact_g64": float(sp.N(th_base.turns(length, th_base.slowest_frequency(d, base)), 30)),
        "printed": _fact("Sec 6", "128k context")["value"],
    }


def _e2() -> Erratum:
    n = llama_band_onset()
    return Erratum(
        "E2", "App C", f"500000^(-40/64) ~ {n['printed']:g} (Llama's band onset)",
        f"500000^(-40/64) = {n['exact']:.3g}, about {n['exact'] / n['printed']:.1f} times the printed value",
        claims=("larger_base_lengthens_semantic_range",), check=llama_band_onset)


def _e4() -> Erratum:
    n = slowest_channel_turns()
    return Erratum(
        "E4", "Sec 6", f"a 128k context at theta = 10,000 is about {n['printed']:g} turns of the slowest channel",
        f"{n['one_over_theta']:.2f} turns takes the slowest frequency as 1/theta; with the exact "
        f"g_64 = 10000^(-126/128) of d = 128 it is {n['exact_g64']:.2f} turns (both reported)",
        claims=("larger_base_lengthens_semantic_range",), check=slowest_channel_turns)


ERRATA: list[Erratum] = [
    Erratum(
        "E1", "Fig 1",
        "queries = rho(g) psi, keys = psi (the figure's construction of a previous-token head)",
        "under Eq. 3 that head's maximum is the future token j = i+1, which the causal mask hides; the proof "
        "of Thm 5.3 uses q = psi, k = rho(g) psi, which works (Figure 1 is drawn with the working convention)",
        claims=("figure_1_convention_attends_to_future", "rope_head_can_be_previous_token")),
    _e2(),
    Erratum(
        "E3", "Def 5.1",
        "the first sum lacks alpha_{i,j}; the definition is stated with \"= eps\"",
        "the sum is weighted by alpha_{i,j}, and \"= eps\" means \"< eps\" (an eps-sharp head puts more than "
        "1 - eps on its target)",
        claims=("positional_patterns_are_defined", "rope_head_can_be_diagonal", "rope_head_can_be_previous_token")),
    _e4(),
    Erratum(
        "E5", "Prop 3.2, proof",
        "the proof writes rho(g_k) for the rotation at distance r, assumes isotropic Gaussians, and uses "
        "the independence of q and k without stating it",
        "the rotation is rho(g_k)^r; isotropy is not needed: independence of q and k and zero mean suffice "
        "for E[q^T R^r k] = 0 at every r",
        claims=("gaussian_logit_mean_is_zero", "gaussian_logit_variance_is_dimension")),
    Erratum(
        "E6", "Sec 3",
        "\"given any key, we can find a query\"",
        "the proposition reads the other way: given any query q (and distance r), the key k = R^r q makes "
        "the logit at distance r the unique maximum",
        claims=("rotated_key_maximises_logit_at_distance",)),
    Erratum(
        "E7", "App A.2",
        "calls Thm 5.3 \"Proposition 5.3\"; its proof writes \"sup\"",
        "it is Theorem 5.3; the \"sup\" is the limit |psi| -> infinity (alpha_ii -> 1 as the scale grows)",
        claims=("rope_head_can_be_diagonal", "rope_head_can_be_previous_token")),
    Erratum(
        "E8", "Thm 6.1, proof",
        "\"a_{i,j} < 0 for all j != k\"; \"alpha_{i,k} <= 1/2\"; \"for any eps > 0\"",
        "j != n; alpha_{i,n} <= 1/2; the argument needs eps <= 1/2",
        claims=("semantic_channel_breaks_at_long_context", "chunk_score_is_norm_times_cosine",
                "non_argmax_softmax_weight_below_half")),
    Erratum(
        "E9", "Thm 6.1",
        "the theorem is stated for d = 2, in the section about low-frequency (semantic) channels",
        "with d = 2 the only frequency is g_1 = 1, the highest; the argument holds for any g != 0, and the "
        "breaking context scales as 1/g, which is why low frequencies make the lasting channels",
        claims=("semantic_channel_breaks_at_long_context", "semantic_range_scales_inverse_frequency")),
    Erratum(
        "E10", "App A, introduction",
        "the introduction's references to its own sections are swapped",
        "each lemma and proof is cited by the section that holds it",
        editorial="no computation can show a cross-reference; ropelab list and verify label each claim by the "
                  "lemma or theorem it checks (Lemma A.1, A.2, A.3; Thm 5.3, 6.1)"),
    Erratum(
        "E11", "Sec 4",
        "cites \"Section E.2, Figure 14\" for the value norms",
        "the value norms are in Figure 13",
        editorial="a figure number; the value norms are measured by the finding values_show_no_frequency_pattern "
                  "(ropelab analyze-model)"),
    Erratum(
        "E12", "Fig 19, caption",
        "labels the arithmetic panel \"(c)\"",
        "the arithmetic panel is \"(d)\"",
        claims=("apostrophe_channel_arithmetic",),
        editorial="a panel letter; the panel's arithmetic (g_119, 8000 g_119, the two dot products) is "
                  "recomputed by apostrophe_channel_arithmetic"),
    Erratum(
        "E13", "App D, pseudocode",
        "`inputs # [B, L]`; `_MAX_WAVELENGTH` is used but never defined",
        "inputs has shape [B, L, N, H] (batch, length, heads, head dimension); _MAX_WAVELENGTH is the base "
        "wavelength theta (10,000 by default)",
        claims=("p_rope_keeps_highest_frequencies", "rope_matches_peer_implementations")),
    Erratum(
        "E14", "Lemma A.1",
        "the hypothesis is g rational in one version of the paper and g algebraic in a later one",
        "for float64 frequencies (all rational) the exact statement is immediate; its quantitative content "
        "is how near n g comes to a multiple of 2 pi, at continued-fraction convergents",
        claims=("frequency_multiple_never_full_turn", "near_returns_at_continued_fraction_convergents")),
]

ERRATA_BY_ID: dict[str, Erratum] = {e.id: e for e in ERRATA}


def cited_claims() -> set[str]:
    """Every claim id some erratum cites as showing it."""
    return {claim for e in ERRATA for claim in e.claims}


def missing_links(records: list[Erratum], claims: Mapping[str, Any]) -> list[str]:
    """Where an erratum and a claim do not cite each other both ways (empty when every link is mutual).

    An erratum names the claims that show it; each of those claims lists the erratum in its
    ``errata`` field, and a claim lists only errata that name it. Claims not in ``claims`` are
    skipped (a partial registry).

    >>> missing_links(ERRATA[:0], {})
    []
    """
    by_id = {e.id: e for e in records}
    out = [f"{claim_id} does not list {e.id}" for e in records for claim_id in e.claims
           if claim_id in claims and e.id not in claims[claim_id].errata]
    out += [f"{key} does not name {claim.id}" for claim in claims.values() for key in claim.errata
            if key in by_id and claim.id not in by_id[key].claims]
    out += [f"{claim.id} lists {key}, which is no erratum" for claim in claims.values() for key in claim.errata
            if key not in by_id]
    return out
