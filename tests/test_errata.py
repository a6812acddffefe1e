"""The errata registry and ``ropelab errata``: every erratum says what shows it, numbers are computed."""

import dataclasses
import json
import math

import pytest

from ropelab.checks import errata
from ropelab.checks.registry import REGISTRY
from ropelab.cli import app as cli
from ropelab.cli._console import console

CITED = sorted(errata.cited_claims())


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    return exit_info.value.code, capsys.readouterr().out


def test_registry_covers_spec_errata_in_order():
    assert [e.id for e in errata.ERRATA] == [f"E{n}" for n in range(1, 15)]
    assert set(errata.ERRATA_BY_ID) == {e.id for e in errata.ERRATA}
    for e in errata.ERRATA:
        assert dataclasses.is_dataclass(e) and e.where and e.paper_text and e.corrected
        assert e.claims or e.check or e.editorial, e.id
        with pytest.raises(dataclasses.FrozenInstanceError):
            e.where = "elsewhere"


def test_an_erratum_must_say_what_shows_it():
    with pytest.raises(ValueError, match="what shows it"):
        errata.Erratum("E99", "nowhere", "text", "reading")


def test_numeric_errata_are_computed_not_typed():
    onset = errata.llama_band_onset()
    assert onset["exact"] == pytest.approx(500000.0 ** (-40 / 64), rel=1e-12)
    assert f"{onset['exact']:.3g}" == "0.000274" and not math.isclose(onset["exact"], onset["printed"], rel_tol=0.5)
    turns = errata.slowest_channel_turns()
    assert turns["one_over_theta"] == pytest.approx(128000 / 1e4 / (2 * math.pi), rel=1e-12)
    assert turns["exact_g64"] == pytest.approx(128000 * 1e4 ** (-126 / 128) / (2 * math.pi), rel=1e-12)
    assert round(turns["one_over_theta"], 2) == turns["printed"] == 2.04 and round(turns["exact_g64"], 2) == 2.35
    assert "0.000274" in errata.ERRATA_BY_ID["E2"].corrected
    assert "2.04" in errata.ERRATA_BY_ID["E4"].corrected and "2.35" in errata.ERRATA_BY_ID["E4"].corrected


def test_editorial_errata_name_the_output_using_the_corrected_reading():
    for key in ("E10", "E11"):
        e = errata.ERRATA_BY_ID[key]
        assert not e.claims and e.editorial and "ropelab" in e.editorial


def test_claims_citing_an_erratum_are_listed_by_it():
    for claim in REGISTRY.values():
        for key in claim.errata:
            assert claim.id in errata.ERRATA_BY_ID[key].claims, (claim.id, key)


@pytest.mark.full_registry
@pytest.mark.parametrize("erratum", [e for e in errata.ERRATA if e.claims], ids=lambda e: e.id)
def test_every_claim_an_erratum_names_lists_it_back(erratum):
    for claim_id in erratum.claims:
        assert erratum.id in REGISTRY[claim_id].errata, f"{claim_id} does not list {erratum.id}, which names it"


def test_links_are_checked_both_ways_planted():
    # planted: an erratum naming a claim that does not cite it, and a claim citing an erratum that does not name it
    claim = REGISTRY["rope_preserves_norm"]
    planted = errata.Erratum("E99", "nowhere", "text", "reading", claims=(claim.id,))
    assert planted.id not in claim.errata
    assert errata.missing_links([planted], {claim.id: claim}) == [f"{claim.id} does not list E99"]
    cited = dataclasses.replace(claim, errata=("E1",))
    assert errata.missing_links(errata.ERRATA, {claim.id: cited}) == [f"E1 does not name {claim.id}"]
    assert errata.missing_links(errata.ERRATA, REGISTRY) == []


@pytest.mark.full_registry
@pytest.mark.parametrize("claim_id", CITED)
def test_every_cited_claim_is_registered(claim_id):
    # the claims of §3, §5 and §6 are registered by their own modules: this holds on the full tree
    assert claim_id in REGISTRY


@pytest.mark.parametrize("width", [80, 120])
def test_table_fits_the_terminal_and_keeps_text_as_written(capsys, monkeypatch, width):
    planted = errata.Erratum("E1", "Fig [1]", "[red]not markup[/red]", "[bold]kept[/bold]", editorial="ropelab [x]")
    monkeypatch.setattr(errata, "ERRATA", [planted, *errata.ERRATA[1:]])
    monkeypatch.setattr(console, "width", width)
    code, out = run(capsys, "errata")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= width
    # cells wrap at spaces, so compare words; markup would have eaten the brackets
    words = set(out.replace("│", " ").split())
    assert {"[red]not", "markup[/red]", "[bold]kept[/bold]", "[1]", "[x]"} <= words
    for e in errata.ERRATA[1:]:
        assert e.id in words
        assert {w for w in e.corrected.split() if len(w) <= 8} <= words, e.id


def test_one_erratum_in_full_and_as_json(capsys, tmp_path):
    path = tmp_path / "e4.json"
    code, out = run(capsys, "errata", "E4", "--json", str(path))
    assert code == 0
    assert "2.35" in out and "larger_base_lengthens_semantic_range" in out and "slowest_channel_turns" in out
    record = json.loads(path.read_text())
    assert record["id"] == "E4" and record["computed"]["exact_g64"] == pytest.approx(2.3525, abs=1e-4)
    assert set(record) >= {"where", "paper_text", "corrected", "claims", "check", "editorial", "shown_by"}


def test_all_errata_as_json(capsys, tmp_path):
    path = tmp_path / "errata.json"
    code, _ = run(capsys, "errata", "--json", str(path))
    assert code == 0
    records = json.loads(path.read_text())
    assert [r["id"] for r in records] == [e.id for e in errata.ERRATA]


def test_unknown_erratum_exits_2(capsys):
    code, out = run(capsys, "errata", "E99")
    assert code == 2 and "E99" in out and "E14" in out
