"""The synthetic-task experiments: the recall and offset tasks, resumable training, the pipelines."""

import copy
import json
from unittest import mock

import numpy as np
import pytest

from ropelab.checks import tolerances
from ropelab.checks.findings import breaking, experiment_runner, offset, paired_tests
from ropelab.checks.findings.models import synthetic_tasks as tasks
from ropelab.checks.findings.models import training
from ropelab.checks.findings.models import transformer as tf

TASK = tasks.RecallTask(n_values=4, n_distractors=8)
MODEL = tf.ModelConfig(vocab_size=TASK.vocab_size, d_model=16, n_layers=1, n_heads=2, head_dim=8)
CFG = training.TrainConfig(seq_len=12, batch_size=4, steps=6, warmup_steps=1, eval_every=3, eval_windows=8,
                           checkpoint_every=3)


def test_the_value_sits_at_the_stated_distance_and_only_once():
    tokens, answers = tasks.recall_batch(TASK, np.random.default_rng(1), 64, 20)
    is_value = tokens < TASK.n_values
    assert np.all(is_value.sum(axis=1) == 1)
    assert np.all(tokens[np.arange(64), is_value.argmax(axis=1)] == answers)
    assert np.all(tokens[:, -1] == TASK.query)
    with pytest.raises(ValueError, match="distances must lie"):
        tasks.recall_batch(TASK, np.random.default_rng(1), 1, 5, np.array([5]))


def test_training_is_deterministic_and_resumes_bit_for_bit(tmp_path):
    spec = training.RunSpec(MODEL, tf.PositionalEncoding("rope", 100.0), CFG, seed=3)
    whole = tasks.train_task(TASK, spec)
    again = tasks.train_task(TASK, spec)
    assert whole.train_loss == again.train_loss
    ckpt = tmp_path / "run.ckpt"
    tasks.train_task(TASK, spec, ckpt, until_step=3)
    resumed = tasks.train_task(TASK, spec, ckpt)
    assert resumed.train_loss == whole.train_loss and resumed.validation == whole.validation


def test_collapse_distance_interpolates_and_censors():
    assert breaking.collapse_distance([10, 20], [1.0, 0.9]) is None
    assert breaking.collapse_distance([10, 20], [0.2, 0.1]) == 10.0
    assert breaking.collapse_distance([10, 40], [1.0, 0.0]) == pytest.approx(20.0)


def test_bases_put_the_slowest_range_at_the_stated_multiples():
    preset = breaking.PRESETS["small"]
    d, T = preset.model.head_dim, preset.train.seq_len
    for m, theta in zip(preset.range_multiples, preset.bases(), strict=True):
        g_min = theta ** (-(d - 2) / d)
        assert np.pi / (2 * g_min) == pytest.approx(m * T)


def test_slope_fit_finds_a_planted_law_and_rejects_a_wrong_one():
    g = [1e-3, 2e-3, 4e-3, 8e-3]
    noise = [1.02, 0.97, 1.01, 0.99]  # a measured law is never exact; the interval must cover -1
    fit = breaking.slope_fit(g, [np.pi / (2 * x) * e for x, e in zip(g, noise, strict=True)])
    assert fit["slope"] == pytest.approx(-1.0, abs=0.05) and fit["interval"][0] <= -1.0 <= fit["interval"][1]
    flat = breaking.slope_fit(g, [100.0, 101.0, 99.0, 100.5])
    assert not flat["interval"][0] <= -1.0 <= flat["interval"][1]


@pytest.mark.slow
def test_smoke_preset_runs_the_pipeline_and_reports_no_finding(tmp_path):
    results = experiment_runner.run(breaking.RECORD, breaking.PRESETS["smoke"], tmp_path)
    stored = json.loads((tmp_path / breaking.RESULTS_NAME).read_text())
    assert stored["runs"] == json.loads(json.dumps(results["runs"]))
    assert len(results["runs"]) == len(breaking.encodings(breaking.PRESETS["smoke"]))
    assert results["findings"] == ["pipeline check only: this preset trains too briefly to support any finding"]
    for run in results["runs"]:
        assert len(run["accuracy"]) == len(results["config"]["distances"])
        shares = np.asarray(run["pair_share_by_head"])
        assert shares.shape == (2, 4) and np.all(np.abs(shares).sum(axis=1) <= 1 + 1e-9)


def test_pair_logits_rebuild_the_models_own_attention():
    """The pair decomposition behind the shares is exact on a trained model's capture: summed and
    softmaxed it gives the model's own attention row; the interleaved pair layout does not."""
    import jax
    from scipy.special import softmax

    from ropelab.constructions import attribution

    enc = tf.PositionalEncoding("rope", 100.0)
    params = tf.init_params(MODEL, jax.random.PRNGKey(0))
    tokens, _ = tasks.recall_batch(TASK, np.random.default_rng(0), 1, 10)
    _, internals = tf.forward_with_internals(params, jax.numpy.asarray(tokens[0]), MODEL, enc)
    q_raw, k_raw = (np.asarray(internals[0][name], dtype=np.float64) for name in ("q", "k"))  # (T, H, d)
    model_row = np.asarray(internals[0]["weights"])[:, -1, :]
    freqs = enc.frequencies(MODEL.head_dim)

    def row(layout: str) -> np.ndarray:
        logits = np.stack([attribution.pair_logits(q_raw[-1:, h], k_raw[:, h], freqs, layout, [9])[0]
                           for h in range(MODEL.n_heads)]).sum(axis=-1)
        return softmax(logits / np.sqrt(MODEL.head_dim), axis=-1)

    # the model rotates and multiplies in float32: its logits are off by at most the float32 rotation
    # bound at the largest angle (9 rad) times |q||k| / sqrt(d), and a softmax weight moves by at most
    # twice its logits' largest error
    scale = float(np.max(np.linalg.norm(q_raw, axis=-1)) * np.max(np.linalg.norm(k_raw, axis=-1))) / np.sqrt(MODEL.head_dim)
    bound = 2 * tolerances.rotation_identity(np.float32, MODEL.head_dim, 9.0, scale).value
    assert np.max(np.abs(row("half") - model_row)) <= bound
    assert np.max(np.abs(row("interleaved") - model_row)) > bound  # the model's pairs are (m, m + d/2)


def test_offset_targets_are_the_tokens_offset_back_and_bos_is_never_scored():
    task = tasks.OffsetTask(n_symbols=6, offset=4)
    tokens, targets, mask = tasks.offset_batch(task, np.random.default_rng(2), 16, 12)
    scored = mask.astype(bool)
    rows, cols = np.nonzero(scored)
    assert np.all(targets[rows, cols] == tokens[rows, cols - 4])
    assert np.all(targets[scored] != task.bos) and np.all(tokens[:, 0] == task.bos)
    with pytest.raises(ValueError, match="offset must lie"):
        tasks.offset_batch(tasks.OffsetTask(6, 11), np.random.default_rng(2), 1, 12)


def test_paired_verdicts_follow_the_interval():
    assert offset._verdict(paired_tests.paired_difference([0.1, 0.2, 0.15], [0.9, 0.95, 0.9]), -1) == "holds"
    assert offset._verdict(paired_tests.paired_difference([0.9, 0.95, 0.9], [0.1, 0.2, 0.15]), -1) == "does not hold"
    assert offset._verdict(paired_tests.paired_difference([0.5, 0.6, 0.4], [0.5, 0.5, 0.5]), -1) == "undecided at this power"
    assert offset._verdict(paired_tests.paired_difference([0.5], [0.4]), -1).startswith("undecided")
    assert offset._verdict(paired_tests.paired_difference([1.0, 1.0, 0.995], [1.0, 0.995, 1.0]), 0) == "holds"
    assert offset._verdict(paired_tests.paired_difference([0.5, 0.6, 0.55], [1.0, 0.99, 1.0]), 0) == "does not hold"


@pytest.mark.slow
def test_offset_smoke_preset_runs_and_reports_no_finding(tmp_path):
    """Trained in this process: each run's bar moves at its evaluations and ends with the run; a
    second call resumes every run from its checkpoint and gives the same numbers."""
    bars = mock.Mock()
    bars.add_task.side_effect = lambda description, **_: description  # a run's task is its label
    preset = offset.PRESETS["smoke"]
    results = experiment_runner.run(offset.RECORD, preset, tmp_path, progress=bars)
    updates = [(c.args[0], c.kwargs["completed"], c.kwargs.get("visible", True)) for c in bars.update.call_args_list]
    for row in offset.encodings(preset):
        assert [u[1:] for u in updates if u[0] == f"{row.id} seed 0"] == [
            *((step, True) for step in range(preset.train.eval_every, preset.train.steps, preset.train.eval_every)),
            (preset.train.steps, False)]
    again = experiment_runner.run(offset.RECORD, preset, tmp_path)
    assert again["runs"] == results["runs"]
    assert json.loads((tmp_path / offset.RESULTS_NAME).read_text())["findings"] == results["findings"]
    assert results["findings"] == ["pipeline check only: this preset trains too briefly to support any finding"]
    for run in results["runs"]:
        bands = run["bands"]
        assert abs(bands["top"]) + abs(bands["middle"]) + abs(bands["bottom"]) <= 1 + 1e-9


@pytest.mark.parametrize("module", [breaking, offset])
def test_committed_small_runs_explain_themselves(module):
    text = module.explain()
    assert "Findings:" in text and "Set-up" in text
    assert "pipeline check only" not in text


@pytest.mark.parametrize(("module", "measured"), [(breaking, "collapse_distance"), (offset, "accuracy")],
                         ids=["breaking", "offset"])
def test_committed_summary_and_findings_are_what_the_code_says_of_their_runs(module, measured):
    """The committed run's summary and findings are recomputed from its stored runs by the record;
    one stored number changed (a planted fault) changes the summary."""
    results = module.load_results()
    record = module.RECORD
    assert json.loads(json.dumps(record.summarise(results))) == results["summary"]
    assert record.findings(results, record.presets[results["preset"]]) == results["findings"]
    planted = copy.deepcopy(results)
    planted["runs"][0][measured] /= 2
    assert json.loads(json.dumps(record.summarise(planted))) != results["summary"]


def test_every_experiment_is_a_record_the_one_runner_takes():
    """Every registered experiment declares a record: presets with seeds and a training schedule,
    rows with ids, a results file; its command is the one runner's."""
    from ropelab.checks.findings.experiments import EXPERIMENTS

    for name, entry in EXPERIMENTS.items():
        record = entry.record()
        assert record.name == name and record.results_name.endswith(".json")
        for preset_name, preset in record.presets.items():
            assert preset.name == preset_name and preset_name in entry.preset_help
            assert preset.seeds >= 1 and preset.train.steps > 0
            labels = record.run_labels(preset, 2)
            assert len(labels) == len(set(labels)) == 2 * len(record.rows(preset))


def test_jobs_is_refused_for_an_experiment_trained_in_this_process(tmp_path, capsys):
    """``--jobs`` names processes; breaking and offset train in the calling process, so asking for
    processes is bad input: one line naming the option, exit 2, nothing written."""
    from ropelab.cli import app as cli

    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["experiment", "offset", "--preset", "smoke", "--jobs", "2", "--out", str(out)])
    text = capsys.readouterr().out
    assert exit_info.value.code == 2 and text.startswith("--jobs: offset trains its runs one after another")
    assert not out.exists()


def test_the_task_trainer_refuses_micro_batches_it_would_ignore():
    from ropelab.checks.findings.models import synthetic_tasks as tasks
    from ropelab.checks.findings.models import training
    from ropelab.checks.findings.models import transformer as tf

    model = tf.ModelConfig(d_model=16, n_layers=1, n_heads=2, head_dim=8)
    with pytest.raises(ValueError, match="^micro_batches: the task trainer takes whole batches"):
        tasks.task_trainer(model, tf.PositionalEncoding("rope", 100.0), training.TrainConfig(micro_batches=2))
