"""Contract over the registry: a claim prints the weakest part of its statement, and its hypotheses are data."""

import dataclasses
import json
import re

import pytest
import sympy as sp

from ropelab.checks.claim import Part, Shown, Trust, declared_part, part_problems, weakest_part
from ropelab.checks.claims import rotated_key
from ropelab.checks.registry import REGISTRY
from ropelab.checks.runner import _weakest_that_held, report, run_claim

CLAIMS = list(REGISTRY.values())
NUMBER = re.compile(r"(?<![\w^])\d+(?:[.,]\d+)*(?:e-?\d+)?(?![\w])")


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_statement_is_split_into_parts_no_stronger_than_their_sides(claim):
    assert claim.parts, f"{claim.id}: the statement is not split into the parts it asserts"
    assert part_problems(claim) == []
    for certified in (False, True):
        printed = claim.printed(certified)
        for part in claim.parts:
            _, shown, _ = declared_part(claim, part, certified)
            # the printed word is never stronger than any part the statement needs
            assert printed.trust.rank >= shown.trust.rank, (claim.id, part.text, printed.trust, shown.trust)
        assert printed.trust.rank == max(declared_part(claim, p, certified)[1].trust.rank for p in claim.parts)


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_every_number_in_a_statement_is_in_a_part(claim):
    # a number, bound or range the statement prints belongs to a part, and so to a side that computes it
    in_parts = {n for part in claim.parts for n in NUMBER.findall(part.text)}
    missing = set(NUMBER.findall(claim.statement)) - in_parts
    assert not missing, f"{claim.id}: {sorted(missing)} printed by the statement but in no part"


def test_planted_part_labelled_proved_with_only_a_checked_side_is_refused():
    claim = REGISTRY["all_ones_logit_decays"]
    planted = (Part("decays: mean |A| falls window after window", ("numeric",), Trust.PROVED),)
    with pytest.raises(ValueError, match="labelled 'proved' but its strongest side"):
        dataclasses.replace(claim, parts=planted)
    with pytest.raises(ValueError, match="a side this claim lacks"):
        dataclasses.replace(claim, parts=(Part("anything", ("certificate",)),))


def test_a_proved_identity_does_not_lift_a_checked_decay():
    # the old rule printed the strongest side that held ("proved"); the statement's decay is checked
    claim = REGISTRY["all_ones_logit_decays"]
    held = {"symbolic": True, "numeric": True}
    assert claim.symbolic.shown.trust is Trust.PROVED
    assert _weakest_that_held(claim, held).startswith("checked: ")
    assert weakest_part(claim, held)[0].by == ("numeric",)
    assert _weakest_that_held(claim, {"symbolic": True, "numeric": False}) == "not shown"


def test_a_certificate_counts_only_when_it_held():
    claim = REGISTRY["near_returns_at_continued_fraction_convergents"]
    assert claim.printed().trust is Trust.CHECKED
    assert claim.printed(certified=True).trust is Trust.CERTIFIED
    held = {"symbolic": True, "numeric": True, "certificate": False}
    assert _weakest_that_held(claim, held).startswith("checked: ")


def test_run_and_json_report_list_the_parts():
    result = run_claim(REGISTRY["chunk_score_is_norm_times_cosine"], quick=True)
    assert result.status == "pass" and result.shown.startswith("proved: ")
    assert [p["text"] for p in result.parts] == [p.text for p in REGISTRY["chunk_score_is_norm_times_cosine"].parts]
    assert all(p["side"] == "symbolic" and p["trust"] == "proved" for p in result.parts)
    entry = json.loads(json.dumps(report([result], quick=True)))["claims"][0]
    assert entry["parts"][0]["by"] == ["symbolic", "numeric"] and "hypotheses" in entry["parts"][0]
    assert "hypotheses" in entry["sides"]["symbolic"]


def test_hypotheses_are_a_list_printed_with_the_scope():
    shown = Shown(Trust.PROVED, "every r", hypotheses=("delta_N > 0", "q != 0"))
    assert shown.line() == "proved: every r; hypotheses: delta_N > 0; q != 0"
    assert shown.as_dict()["hypotheses"] == ["delta_N > 0", "q != 0"]
    with pytest.raises(ValueError, match="tuple of non-empty strings"):
        Shown(Trust.PROVED, "every r", hypotheses="delta_N > 0")


@pytest.mark.parametrize("claim_id", ["rotated_key_maximises_logit_at_distance", "rope_head_can_be_diagonal",
                                      "rope_head_can_be_previous_token"])
def test_uniqueness_proofs_name_delta_n_and_algebraic_frequencies(claim_id):
    shown = REGISTRY[claim_id].symbolic.shown
    hypotheses = " ".join(shown.hypotheses)
    assert "delta_N > 0" in hypotheses and "g_k algebraic" in hypotheses and "(7/(2 pi))^2" in hypotheses
    # no "every frequency" over a set with counterexamples
    assert "every frequency and so every theta" not in shown.scope and "delta_N > 0" in shown.scope


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_a_side_resting_on_lemma_a1_names_its_hypothesis(claim):
    for name, shown in claim.sides().items():
        if any("Lemma A.1" in cite for cite in shown.cites):
            assert any(word in " ".join(shown.hypotheses) for word in ("algebraic", "irrational", "delta_N")), (
                f"{claim.id} {name}: cites Lemma A.1 but names no hypothesis on the frequencies")


def test_commensurate_counterexample_ties_are_found_by_the_numeric_side():
    case = rotated_key.commensurate_counterexample()
    assert case["exact_ties"] == [3, 10, 17]
    assert case["numeric_ties"] == [3, 10, 17]
    assert case["verdict"].wrong_rows > 0 and case["verdict"].first_wrong_row == 10
    for shift, ties in ((0, [0, 7, 14]), (1, [1, 8, 15])):  # Thm 5.3's diagonal and previous-token heads
        assert rotated_key.commensurate_counterexample(shift, 15 + shift)["numeric_ties"] == ties


def test_tie_search_finds_no_tie_where_there_is_none():
    # planted: a generic base in place of (7/(2 pi))^2 -- the same search must report the target alone
    case = rotated_key.commensurate_counterexample(theta=sp.Rational(49, 36))  # g_2 = 6/7: no whole turn
    assert case["exact_ties"] == [3] and case["numeric_ties"] == [3] and case["verdict"].wrong_rows == 0


def test_commensurate_case_is_a_worked_example_in_explain():
    text = rotated_key.PROP31.explain()
    assert "theta = (7/(2 pi))^2" in text and "[3, 10, 17]" in text
    for claim_id in ("rope_head_can_be_diagonal", "rope_head_can_be_previous_token"):
        assert "(7/(2 pi))^2" in REGISTRY[claim_id].explain()


def test_explain_lists_the_parts_with_their_trust(capsys, monkeypatch):
    from ropelab.cli import app as cli
    from ropelab.cli._console import console

    monkeypatch.setattr(console, "width", 400)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["explain", "all_ones_logit_decays"])
    out = capsys.readouterr().out
    assert exit_info.value.code in (0, None)
    claim = REGISTRY["all_ones_logit_decays"]
    assert f"Shown as strongly as its weakest part. {claim.printed().line()}" in out
    assert "- proved (symbolic): For all-ones q = k" in out and "- checked (numeric): decays" in out


def test_html_report_lists_parts_and_hypotheses():
    from ropelab.cli.report import parts_html

    page = parts_html(REGISTRY["rotated_key_maximises_logit_at_distance"])
    assert "weakest part:</strong> proved" in page and "delta_N &gt; 0 holds for every float theta" in page
    assert "g_k algebraic" in page
