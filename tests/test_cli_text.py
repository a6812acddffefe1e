"""Text reaches the user exactly as written: every statement, summary and row name that
``list``, ``explain``, ``verify`` and ``zoo`` print is the registry's own string, character
for character (brackets included: rich markup must never eat ``[bos, x, x]``)."""

import pytest
import typer

from ropelab.checks import runner
from ropelab.checks.claim import ClaimResult
from ropelab.checks.findings.experiments import EXPERIMENTS
from ropelab.checks.registry import REGISTRY
from ropelab.cli import _console
from ropelab.cli import app as cli

BRACKETED = "On [bos, x, x] every NoPE head has alpha_33 < 1/2; E[q^T R^r k] = 0 for [red]every[/red] r"


def folded(text: str) -> str:
    """Whitespace folded: a wide console still pads cells and breaks the page into lines."""
    return " ".join(text.split())


@pytest.fixture
def wide(monkeypatch):
    """A console wide enough that no table cell wraps."""
    monkeypatch.setattr(_console.console, "width", 4000)


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    return exit_info.value.code, capsys.readouterr().out


def cells(out: str) -> set[str]:
    """Every table cell of the output, whitespace folded (cells are split by the box lines)."""
    found = set()
    for line in out.splitlines():
        for cell in line.replace("┃", "│").split("│"):
            if cell.strip():
                found.add(folded(cell))
    return found


def fake_result(claim_id, label, shown, status="pass"):
    return ClaimResult(id=claim_id, label=label, status=status, symbolic=True, residual=0.25, tolerance=1.0,
                       worst_point={"at": "[0, 1]"}, negative_residual=2.0, negative_rejected=True, seconds=0.1,
                       shown=shown)


def test_list_prints_every_statement_as_written(wide, capsys):
    code, out = run(capsys, "list")
    assert code == 0
    found = cells(out)
    for claim in REGISTRY.values():
        for text in (claim.id, claim.label, claim.statement):
            assert folded(text) in found, text
    assert f"{len(REGISTRY)} claims registered" in out


@pytest.mark.parametrize("claim_id", list(REGISTRY))
def test_explain_prints_every_part_as_written(wide, capsys, claim_id):
    claim = REGISTRY[claim_id]
    code, out = run(capsys, "explain", claim_id)
    assert code == 0
    page = folded(out)
    parts = [claim.statement, claim.explain(), claim.wrong.description, claim.tolerance_reason, claim.numeric.line()]
    parts += [claim.corrected] if claim.corrected else []
    parts += [claim.symbolic.shown.line()] if claim.symbolic is not None else [claim.symbolic_reason]
    for part in parts:
        assert folded(part) in page, part


def test_explain_of_an_experiment_prints_its_text(wide, capsys):
    before, table, after = EXPERIMENTS["table2"].sections()
    code, out = run(capsys, "explain", "table2")
    assert code == 0
    page = folded(out)
    assert folded(before) in page and folded(after) in page
    header, rows = table
    found = cells(out)
    assert all(folded(row[0]) in found for row in rows)


def test_verify_prints_ids_labels_and_shown_as_written(wide, capsys, monkeypatch):
    results = [fake_result(c.id, c.label, c.symbolic.shown.line() if c.symbolic else c.numeric.line())
               for c in REGISTRY.values()]
    results.append(fake_result(next(iter(REGISTRY)), BRACKETED, BRACKETED, status="fail"))
    monkeypatch.setattr(runner, "run_claims", lambda claims, **kw: results[: len(claims)] + results[-1:])
    code, out = run(capsys, "verify")
    assert code == 1  # the planted failure
    found = cells(out)
    for r in results:
        assert {folded(r.id), folded(r.label), folded(r.shown)} <= found, r.id
    assert "failed at {'at': '[0, 1]'}" in out  # the worst point too, brackets and all


def test_messages_keep_brackets(capsys):
    with pytest.raises(typer.Exit):
        _console.fail(BRACKETED)
    assert BRACKETED in capsys.readouterr().out
    _console.say(BRACKETED)
    assert BRACKETED in capsys.readouterr().out


def test_zoo_prints_model_names_as_written(wide, capsys):
    from ropelab.checks.findings.zoo import summarise
    from ropelab.constructions import configs

    code, out = run(capsys, "zoo")
    assert code in (0, None)
    found = cells(out)
    for row in (summarise(m, None) for m in configs.ZOO):
        assert folded(row.name) in found and folded(row.rope) in found, row.name
