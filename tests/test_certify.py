"""``--certify``: certificate chunks run in spawned processes, a failing chunk fails the claim."""

import json
import os

import numpy as np
import pytest

from ropelab.checks.claim import Certificate, Claim, Evidence, Shown, Trust, Variant
from ropelab.checks.claims._certify import Coverage, check_coverage
from ropelab.checks.laws import Identity, Point
from ropelab.checks.registry import REGISTRY
from ropelab.checks.runner import certify_claim, report, run_claim
from ropelab.cli import app as cli
from ropelab.theory import base_bounds as th_base
from ropelab.theory import semantic_channels as th_sc

SECTION_2 = [claim.id for claim in REGISTRY.values() if claim.section.startswith("§2")]


def toy_chunk(chunk: tuple[float, float]) -> Evidence:
    """Module level, so that a spawned worker can import it: ``(value, limit)`` passes when value <= limit."""
    value, limit = chunk
    return Evidence(value, limit, {"value": value}, {"pid": os.getpid(), "covers": [(value, None, None)]})


def toy_claim(chunks: list[tuple[float, float]], stated: list[float] | None = None) -> Claim:
    return Claim(
        id="toy_certified_statement", label="test", section="test", statement="a toy statement",
        law=Identity(), check=lambda error, quick, rng: [Point({"case": 0}, error=error, bound=1.0)],
        construction=Variant(0.0, "no error"), wrong=Variant(2.0, "twice the bound"),
        numeric=Shown(Trust.CHECKED, "one point"), tolerance_reason="toy bound 1",
        explain=lambda: "error 0 against bound 1", symbolic_reason="a toy has no derivation",
        certificate=Certificate(lambda quick: chunks, toy_chunk, Shown(Trust.CERTIFIED, "the toy chunks"),
                                lambda quick: Coverage.of(("value",), "", [(v, None, None) for v in (
                                    stated if stated is not None else [v for v, _ in chunks])])),
    )


def test_passing_certificate_runs_every_chunk_in_worker_processes():
    evidence = certify_claim(toy_claim([(0.1, 1.0), (0.5, 1.0), (0.2, 1.0)]), quick=True, processes=2)
    assert evidence.passed and len(evidence.parts) == 3
    assert evidence.residual == 0.5 and evidence.worst_point["chunk"] == "chunk 1"  # the least headroom
    pids = {part.details["pid"] for part in evidence.parts.values()}
    assert os.getpid() not in pids


def test_one_failing_chunk_fails_the_claim_and_is_reported():
    claim = toy_claim([(0.1, 1.0), (3.0, 1.0), (0.2, 1.0)])
    evidence = certify_claim(claim, quick=True, processes=2)
    assert not evidence.passed and evidence.worst_point["chunk"] == "chunk 1" and evidence.residual == 3.0
    result = run_claim(claim, quick=True, certify=True)
    assert result.status == "fail" and result.certified is False
    assert result.residual <= result.tolerance and result.negative_rejected  # only the certificate failed
    assert result.details["certificate"]["passed"] is False
    assert run_claim(claim, quick=True).status == "pass"  # without --certify the certificate is not run


def test_report_records_what_was_certified():
    results = [run_claim(toy_claim([(0.1, 1.0)]), quick=True, certify=True),
               run_claim(toy_claim([(2.0, 1.0)]), quick=True, certify=True)]
    assert [r.certified for r in results] == [True, False]
    assert results[0].shown.startswith("certified: the toy chunks")
    out = report(results, quick=True, certify=True)
    assert out["certify"] is True and out["certified"] == ["toy_certified_statement"] and out["passed"] is False
    plain = report([run_claim(toy_claim([(0.1, 1.0)]), quick=True)], quick=True)
    assert plain["certify"] is False and plain["certified"] == [] and plain["claims"][0]["certified"] is None


def test_section_2_has_an_arb_certificate():
    certified = [cid for cid in SECTION_2 if REGISTRY[cid].certificate is not None]
    assert certified, "no §2 claim carries a certificate"
    for cid in certified:
        shown = REGISTRY[cid].certificate.shown
        assert shown.trust is Trust.CERTIFIED and "Arb" in shown.scope


@pytest.mark.slow
def test_verify_certify_on_section_2_exits_0(tmp_path, capsys):
    path = tmp_path / "report.json"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", *SECTION_2, "--quick", "--certify", "--json", str(path)])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    data = json.loads(path.read_text())
    assert data["certify"] is True and data["passed"] is True
    assert set(data["certified"]) == {cid for cid in SECTION_2 if REGISTRY[cid].certificate is not None}
    for claim in data["claims"]:
        if claim["certified"]:
            assert claim["details"]["certificate"]["passed"] is True and claim["details"]["certificate"]["chunks"] > 1


# --- coverage: a certificate covers exactly what its scope states ---------------------------------

CERTIFIED = sorted(cid for cid, claim in REGISTRY.items() if claim.certificate is not None)


def test_every_certificate_states_its_coverage_and_rests_on_arb():
    assert len(CERTIFIED) >= 8
    for cid in CERTIFIED:
        certificate = REGISTRY[cid].certificate
        assert certificate.covers is not None, f"{cid}: the certificate states no coverage"
        if certificate.shown.trust is Trust.CERTIFIED:
            assert "Arb" in certificate.shown.scope, cid


def test_coverage_finds_a_gap_a_shifted_start_and_a_collapsed_grid():
    stated = Coverage.of(("N",), "r", [(100, 0, 100), (1000, 0, 1000)])
    whole = [(100, 0, 60), (100, 60, 100), (1000, 0, 1000)]
    assert Coverage.of(("N",), "r", whole).differences(stated) == []
    gap = [(100, 0, 59), (100, 60, 100), (1000, 0, 1000)]
    shifted = [(100, 1, 60), (100, 60, 100), (1000, 0, 1000)]
    short = [(100, 0, 60), (100, 60, 99), (1000, 0, 1000)]  # the range end left out
    collapsed = [(100, 0, 60), (100, 60, 100)]
    for entries, words in ((gap, "[0, 59) [60, 100)"), (shifted, "[1, 100)"), (short, "[0, 99)"),
                           (collapsed, "N=1000: stated, not covered")):
        lines = Coverage.of(("N",), "r", entries).differences(stated)
        assert len(lines) == 1 and words in lines[0], lines
    assert Coverage.of(("N",), "r", whole + [(5, 0, 1)]).differences(stated) == ["N=5: covered, not stated"]


def test_check_coverage_fails_closed():
    stated = Coverage.of(("N",), "r", [(10, 0, 10)])
    good = Evidence(0.0, 0.0, {}, {"covers": [(10, 0, 10)]})
    assert check_coverage(stated, [good])[0].passed
    assert not check_coverage(None, [good])[0].passed  # no stated scope
    assert not check_coverage(stated, [Evidence(0.0, 0.0, {}, {})])[0].passed  # a chunk that reports nothing
    assert not check_coverage(stated, [Evidence(0.0, 0.0, {}, {"covers": [(10, 0)]})])[0].passed  # malformed
    assert not check_coverage(stated, [Evidence(0.0, 0.0, {}, {"covers": [(10, 0, 9)]})])[0].passed


def test_a_chunk_left_out_fails_the_certificate_though_every_chunk_passes():
    evidence = certify_claim(toy_claim([(0.1, 1.0), (0.2, 1.0)], stated=[0.1, 0.2, 0.3]), quick=True, processes=1)
    assert all(part.passed for part in evidence.parts.values()) and not evidence.passed
    assert evidence.worst_point["chunk"] == "coverage"
    assert evidence.details["coverage_differences"] == ["value=0.3: stated, not covered"]
    claim = toy_claim([(0.1, 1.0)])
    bare = Claim(**{**claim.__dict__, "certificate": Certificate(claim.certificate.chunks, toy_chunk,
                                                                 claim.certificate.shown)})
    assert not certify_claim(bare, quick=True, processes=1).passed  # no stated coverage: fails closed


@pytest.fixture(scope="module")
def quick_certificates():
    """Every certificate run once in quick mode (in this process): the evidence by claim id."""
    import jax

    jax.config.update("jax_enable_x64", True)
    return {cid: certify_claim(REGISTRY[cid], quick=True, processes=1) for cid in CERTIFIED}


def _covered(evidence: Evidence) -> dict[tuple, tuple]:
    entries = [entry for part in evidence.parts.values() for entry in part.details["covers"]]
    summary = evidence.details["coverage"]
    return Coverage.of(summary["axes"], summary["over"], entries).cases


@pytest.mark.parametrize("cid", CERTIFIED)
def test_quick_certificate_holds_and_covers_its_stated_scope(quick_certificates, cid):
    evidence = quick_certificates[cid]
    assert evidence.passed, (cid, evidence.worst_point, evidence.details["coverage_differences"])
    assert evidence.details["coverage_matches_scope"] and evidence.details["coverage_differences"] == []
    assert _covered(evidence) == REGISTRY[cid].certificate.covers(True).cases
    assert evidence.details["coverage"]["cases"] == len(REGISTRY[cid].certificate.covers(True).cases)


def test_composition_certificate_scope(quick_certificates):
    from ropelab.checks.claims import _certify

    scope = REGISTRY["rotation_composition"].certificate.shown.scope
    assert "d in {2, 8, 64, 256}, theta in {1e4, 5e5}, 16 seeded position pairs (i, j) up to 5 x 10^6" in scope
    assert "(4 with --quick) and every pair k" in scope
    for quick, pairs in ((False, 16), (True, 4)):
        cases = REGISTRY["rotation_composition"].certificate.covers(quick).cases
        grid = {(d, t) for d, t, _, _ in cases}
        assert grid == {(d, t) for d in (2, 8, 64, 256) for t in (1e4, 5e5)} and len(cases) == 8 * pairs
        assert all(ranges == ((0, d // 2),) for (d, _, _, _), ranges in cases.items())
        assert all(0 <= i <= 5 * 10**6 and 0 <= j <= 5 * 10**6 for _, _, i, j in cases)
        assert {(d, t, 5 * 10**6, 5 * 10**6 - 1) for d, t in grid} <= set(cases)  # the largest angle is a case
    # premise: the chunks draw the same vector and positions the scope names
    run = quick_certificates["rotation_composition"]
    assert all(part.details["largest_position"] == 5 * 10**6 for part in run.parts.values())
    assert _certify.COMPOSITION_PAIRS == {False: 16, True: 4}


def test_record_certificate_scope(quick_certificates):
    from ropelab.checks.claims import near_returns

    claim = REGISTRY["near_returns_at_continued_fraction_convergents"]
    assert "g = 1, every m < 10^6 (2 x 10^5 with --quick)" in claim.certificate.shown.scope
    assert claim.certificate.covers(False).cases == {(1.0,): ((1, 10**6),)}
    assert claim.certificate.covers(True).cases == {(1.0,): ((1, 2 * 10**5),)}
    # premise: the record list the chunks chain through is the predicted one, the published records among it
    run = quick_certificates[claim.id]
    found = [m for part in run.parts.values() for m in part.details["records_in_chunk"]]
    assert found == list(near_returns.record_chunks(True)[0][2])
    assert [m for m in near_returns.SPEC_RECORDS_G1 if m < 2 * 10**5] == [m for m in found if m > 1]


def test_turn_certificate_scope(quick_certificates):
    from ropelab.constructions import frequencies
    from ropelab.theory import diophantine

    claim = REGISTRY["frequency_multiple_never_full_turn"]
    assert "every n <= 1e6 (1e5 with --quick)" in claim.certificate.shown.scope
    stated = [1.0] + [float(frequencies.rope(64, 1e4)[k - 1]) for k in (2, 17, 32)] \
        + [float(frequencies.rope(256, 5e5)[k - 1]) for k in (65, 128)]
    assert claim.certificate.covers(False).cases == {(g,): ((1, 10**6 + 1),) for g in stated}
    # premise: the records the balls found are the continued-fraction ones for the very frequencies certified
    for part in quick_certificates[claim.id].parts.values():
        assert part.details["records"] == diophantine.record_lows(part.worst_point["g"], 10**5)
        assert part.details["certified_lowest_lower_bound"] > 0


@pytest.mark.parametrize("cid, distance", [("rope_head_can_be_diagonal", 0), ("rope_head_can_be_previous_token", 1)])
def test_row_sum_certificate_scope(quick_certificates, cid, distance):
    from ropelab.checks.claims import positional_heads as ph
    from ropelab.constructions import positional_heads as heads

    claim = REGISTRY[cid]
    assert "N in {10^3, 10^4, 10^5, 10^6} ({10^3, 10^4} with --quick), every row" in claim.certificate.shown.scope
    assert "at most the exact ln((N-1)(1-eps)/eps)/delta_N" in claim.certificate.shown.scope
    for quick, contexts in ((False, (10**3, 10**4, 10**5, 10**6)), (True, (10**3, 10**4))):
        expected = {(distance, n): tuple((a, b) for a, b in ((0, distance), (distance + 1, n)) if b > a)
                    for n in contexts}
        assert claim.certificate.covers(quick).cases == expected
    # premises on the certified data: pair weights exactly 1/16, the package's scale, eps = 1/1000, and the
    # curve peaks at the target (every competitor's gap D_r is a positive ball), the budget shared by N - 1
    psi = heads.band_vector(256, ph.TOP_BAND)
    assert set((psi[:128] ** 2 + psi[128:] ** 2)[list(ph.TOP_BAND)].tolist()) == {1 / 16}
    competitors, below = {}, {}
    for part in quick_certificates[cid].parts.values():
        n = part.worst_point["N"]
        assert part.details["smallest_gap_lower"] > 0 and part.details["eps_exact"] == "1/1000"
        assert part.details["scale_squared"] == heads.sufficient_scale_squared(
            psi, ph.gemma_frequencies(), n, ph.CERTIFIED_EPS, distance) * (1 - ph.SCALE_SLACK)
        competitors[n] = competitors.get(n, 0) + part.details["competitors"]
        below.setdefault(n, []).append(part.details["scale_at_or_below_exact_scale"])
    assert competitors == {n: n - 1 for n in (10**3, 10**4)}
    # the float64 scale certified is at or below Thm 5.3's exact ln((N-1)(1-eps)/eps)/delta_N (the Arb balls show it)
    assert all(all(flags) for flags in below.values())


def test_base_certificate_scope(quick_certificates):
    from ropelab.checks.claims import base_bounds

    claim = REGISTRY["base_lower_bound_for_context"]
    assert "L in {1024, 8192} (1024 quick)" in claim.certificate.shown.scope
    names = {"smallest feasible": True, "grid base below it": False, "end of the first island": True,
             "next base (infeasible)": False}
    for quick, contexts in ((False, (1024, 8192)), (True, (1024,))):
        assert claim.certificate.covers(quick).cases == {
            (length, name): ((0, length + 1),) if feasible else () for length in contexts for name, feasible in names.items()}
    # premise: the bases certified are the ones the scan reports, the one below the smallest is the grid's previous
    scan = base_bounds.men_scans(True)[1024]
    reported = base_bounds.reported_bases(scan)
    for part in quick_certificates[claim.id].parts.values():
        point = part.worst_point
        assert point["base"] == reported[point["reported"]][0]
        assert point["reported"] in names and 0 <= point["deciding_distance"] <= 1024
    smallest = reported["smallest feasible"][0]
    assert smallest == scan.smallest and reported["grid base below it"][0] == scan.grid[scan.grid < smallest].max()


def test_breaking_context_certificate_scope(quick_certificates):
    import math

    import numpy as np

    from ropelab.checks.claims import semantic_channels as sc
    from ropelab.constructions import frequencies
    from ropelab.theory import semantic_channels as th_sc

    claim = REGISTRY["semantic_channel_breaks_at_long_context"]
    assert "96 (g, phi, rho) cases (24 quick; Gemma 7B's slowest pair among the 96)" in claim.certificate.shown.scope
    assert "every distance below N*" in claim.certificate.shown.scope
    gemma = float(frequencies.rope(256, 1e4)[-1])
    for quick, count in ((False, 96), (True, 24)):
        cases = claim.certificate.covers(quick).cases
        assert len(cases) == count and ((gemma, math.pi, 1.0) in cases) is (not quick)
        for (g, phi, ratio), ranges in cases.items():
            # premise of the closed form: 0 < g <= 1 and rho cos(phi) < 1; the range is every distance before N*
            assert 0 < g <= 1 and ratio * math.cos(phi) < 1
            assert ranges == ((0, int(th_sc.breaking_context(g, phi, ratio))),)
    assert set(claim.certificate.covers(True).cases) == set(sc.break_cases(np.random.default_rng(sc.BREAK_SEED), True))


def test_prop31_certificate_scope(quick_certificates):
    import numpy as np

    from ropelab.checks.claims import rotated_key as rk

    claim = REGISTRY["rotated_key_maximises_logit_at_distance"]
    assert "every point, every distance t < context" in claim.certificate.shown.scope
    shifts = (0, 1, 7, 100, 4095, 10**5, 10**6)
    points = [(2, 1e4, r, max(2 * 10**6, 2 * r + 1)) for r in shifts]
    points += [(8, t, r, max(2**16, 2 * r + 1)) for t in (1e4, 5e5) for r in shifts]
    points += [(64, t, r, max(2**15, 2 * r + 1)) for t in (1e4, 5e5) for r in shifts[:6]]
    points += [(256, t, r, 2**15) for t in (1e4, 5e5) for r in (0, 7, 4095)]
    expected = {p: tuple((a, b) for a, b in ((0, p[2]), (p[2] + 1, p[3])) if b > a) for p in points}
    assert claim.certificate.covers(False).cases == expected
    # premises on the certified data: the certificate's queries are the check's, every context reaches row 2r,
    # and the exact curve peaks at t = r (a positive certified margin in every piece)
    rng = np.random.default_rng(claim.seed)
    queries = {(d, t, r, n): tuple(rng.standard_normal(d).tolist()) for d, t, r, n in rk.prop31_grid(True)}
    for chunk in rk._prop31_chunks(True):
        assert chunk[4] == queries[chunk[:4]] and chunk[3] >= 2 * chunk[2] + 1
    for part in quick_certificates[claim.id].parts.values():
        assert part.details["certified_margin_over_norm2"] > 0


# --- a planted gap, a collapsed grid or a shifted start fails `ropelab verify --certify` ---------------

def _verify_certify(cid: str, tmp_path, capsys) -> tuple[int, dict]:
    path = tmp_path / f"{cid}.json"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", cid, "--quick", "--certify", "--json", str(path)])
    capsys.readouterr()
    return exit_info.value.code, json.loads(path.read_text())["claims"][0]["details"]["certificate"]


def test_verify_certify_fails_on_a_gap_between_chunks(tmp_path, capsys, monkeypatch):
    from ropelab.checks.claims import near_returns

    original = near_returns.record_chunks
    # the second chunk starts one m late: m = 125001 is never certified, though every chunk passes
    monkeypatch.setattr(near_returns, "record_chunks",
                        lambda quick: [(a + (i > 0), b, p) for i, (a, b, p) in enumerate(original(quick))])
    code, certificate = _verify_certify("near_returns_at_continued_fraction_convergents", tmp_path, capsys)
    assert code != 0 and certificate["passed"] is False and certificate["coverage_matches_scope"] is False
    assert certificate["coverage_differences"] == ["g=1.0: covered m in [1, 125001) [125002, 200000), "
                                                   "stated m in [1, 200000)"]


def test_verify_certify_fails_on_a_collapsed_grid(tmp_path, capsys, monkeypatch):
    from ropelab.checks.claims import base_bounds

    original = base_bounds._certificate_chunks
    monkeypatch.setattr(base_bounds, "_certificate_chunks", lambda quick: original(quick)[:2])  # the island dropped
    code, certificate = _verify_certify("base_lower_bound_for_context", tmp_path, capsys)
    assert code != 0 and certificate["passed"] is False and certificate["coverage_matches_scope"] is False
    assert sorted(certificate["coverage_differences"]) == [
        "L=1024, reported=end of the first island: stated, not covered",
        "L=1024, reported=next base (infeasible): stated, not covered"]


def test_verify_certify_fails_on_a_shifted_start(tmp_path, capsys, monkeypatch):
    from ropelab.checks.claims import positional_heads as ph

    original = ph.certificate_chunks
    # every piece starts one distance late: r = 0 (the diagonal's runner-up's neighbour) is never summed
    monkeypatch.setattr(ph, "certificate_chunks",
                        lambda distance, quick: [(*c[:5], c[5] + 1, c[6]) for c in original(distance, quick)])
    code, certificate = _verify_certify("rope_head_can_be_previous_token", tmp_path, capsys)
    assert code != 0 and certificate["passed"] is False and certificate["coverage_matches_scope"] is False
    assert any("covered r in [2, 1000)" in line for line in certificate["coverage_differences"])


def test_prop31_certificate_rejects_a_context_short_of_row_2r_and_a_wrong_key(monkeypatch):
    from ropelab.checks.claims import rotated_key as rk
    from ropelab.theory import rotated_key as th_key

    assert rk.certify_rotated_key_point((2, 1e4, 10, 21, (1.0, 0.5))).passed
    assert not rk.certify_rotated_key_point((2, 1e4, 10, 20, (1.0, 0.5))).passed  # row 2r = 20 is not in the context
    # a key rotated one step too far peaks at t = r + 1: the balls find the competitor above the claimed peak
    original = th_key.rotated_key_logit_balls
    monkeypatch.setattr(th_key, "rotated_key_logit_balls",
                        lambda q, freqs, shift, *args, **kw: original(q, freqs, shift + 1, *args, **kw))
    evidence = rk.certify_rotated_key_point((2, 1e4, 10, 21, (1.0, 0.5)))
    assert not evidence.passed and evidence.residual >= 1


def test_row_sum_certificate_rejects_a_scale_above_the_exact_explicit_scale():
    from ropelab.checks.claims import positional_heads as ph

    for distance in (0, 1):
        chunk = ph.certificate_chunks(distance, quick=True)[0]
        assert ph.certify_row_sums(chunk).details["scale_at_or_below_exact_scale"] is True
        # a scale above the exact explicit one (rows still sharp there) is not the statement's: refused
        evidence = ph.certify_row_sums((*chunk[:3], chunk[3] * (1 + 2.0**-20), *chunk[4:]))
        assert not evidence.passed and evidence.details["scale_at_or_below_exact_scale"] is False
        assert evidence.details["sum_upper"] < evidence.details["budget"]


def test_breaking_and_base_certificates_catch_a_planted_closed_form(monkeypatch):
    from ropelab.checks.claims import base_bounds, semantic_channels

    chunk = semantic_channels._break_chunks(True)[0]
    assert semantic_channels.certify_break_cases(chunk).passed
    original = th_sc.breaking_context
    monkeypatch.setattr(th_sc, "breaking_context", lambda g, phi, ratio=1.0: original(g, phi, ratio) - 1)
    assert not semantic_channels.certify_break_cases(chunk).passed
    cases = base_bounds._certificate_chunks(True)
    assert all(base_bounds.certify_base_case(case).passed for case in cases)
    assert {feasible for _, _, _, feasible, _ in cases} == {True, False}
    monkeypatch.setattr(th_base, "cosine_sum", lambda distance, base, d, digits=40: np.float64(1.0))
    assert not base_bounds.certify_base_case(cases[1]).passed


def test_breaking_context_certificate_runs_in_worker_processes():
    evidence = certify_claim(REGISTRY["semantic_channel_breaks_at_long_context"], quick=True, processes=2)
    assert evidence.passed and len(evidence.parts) == 8
