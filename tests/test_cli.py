"""The ropelab command: verify table, JSON report, unknown ids, explain, figures."""

import json

import pytest

from ropelab.cli import app as cli


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    return exit_info.value.code, capsys.readouterr().out


def test_verify_writes_json_report(tmp_path, capsys):
    path = tmp_path / "report.json"
    code, out = run(capsys, "verify", "rope_preserves_norm", "chunk_score_is_norm_times_cosine", "--quick", "--json", str(path))
    assert code == 0, out
    report = json.loads(path.read_text())
    assert report["passed"] is True
    assert {c["id"] for c in report["claims"]} == {"rope_preserves_norm", "chunk_score_is_norm_times_cosine"}
    for claim in report["claims"]:
        assert claim["status"] == "pass"
        assert {"id", "label", "status", "residual", "tolerance", "seconds"} <= set(claim)
    assert "jax" in report["versions"]
    assert not list(tmp_path.glob("*.part"))


def test_unknown_claim_exits_2_with_list(capsys):
    code, out = run(capsys, "verify", "no_such_claim")
    assert code == 2
    assert "no_such_claim" in out and "rope_preserves_norm" in out
    code, out = run(capsys, "explain", "no_such_claim")
    assert code == 2


def test_explain_prints_worked_instance(capsys):
    code, out = run(capsys, "explain", "rope_score_depends_on_relative_position")
    assert code == 0
    assert "Statement." in out and "Worked instance." in out and "a_52" in out


def test_list_names_every_claim(capsys):
    from ropelab.checks.registry import REGISTRY

    code, out = run(capsys, "list")
    assert code == 0
    assert all(cid[:20] in out for cid in REGISTRY)


def test_figs_render_png_and_pdf(tmp_path, capsys):
    code, out = run(capsys, "figs", "frequency_spectra", "--out", str(tmp_path))
    assert code == 0
    assert (tmp_path / "frequency_spectra.png").stat().st_size > 1000
    assert (tmp_path / "frequency_spectra.pdf").stat().st_size > 1000
    code, out = run(capsys, "figs", "no_such_figure", "--out", str(tmp_path))
    assert code == 2
