"""Training on a jax.sharding Mesh: 8 devices equal 1 within the reduction-order bound, a checkpoint
written on 8 devices resumes on 1, and runs dealt to hosts joined by jax.distributed equal one host's."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from ropelab.checks.findings import experiment_runner, offset, table2
from ropelab.checks.findings.models import mesh as M

ROOT = Path(__file__).resolve().parents[1]
HELPER = ROOT / "tests" / "helpers" / "mesh_runs.py"
SMOKE = table2.PRESETS["smoke"]
TOKENS_PER_BATCH = SMOKE.train.batch_size * SMOKE.train.seq_len
# the longest reduction inside one token's NLL: the MLP's hidden width, the attention's positions,
# the vocabulary's log-sum-exp, the model width
LONGEST_REDUCTION = max(SMOKE.model.d_model * SMOKE.model.mlp_ratio, SMOKE.train.seq_len, SMOKE.model.vocab_size,
                        SMOKE.model.d_model)


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS",) and not k.startswith("ROPELAB_")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def mesh_runs(tmp_path_factory) -> tuple[dict, dict]:
    out = tmp_path_factory.mktemp("mesh")
    subprocess.run([sys.executable, str(HELPER), "train", str(out)], check=True, cwd=ROOT, timeout=600,
                   env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=8"))
    subprocess.run([sys.executable, str(HELPER), "resume", str(out)], check=True, cwd=ROOT, timeout=600, env=_env())
    return (json.loads((out / "train.json").read_text()), json.loads((out / "resume.json").read_text()))


def _bound(mean_nll: float) -> float:
    return M.reduction_order_bound(TOKENS_PER_BATCH, LONGEST_REDUCTION, mean_nll)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["8", "4x2"])
def test_mesh_loss_equals_one_device_within_the_reduction_order_bound(mesh_runs, name):
    report, _ = mesh_runs
    rows = report[f"teacher_forced_{name}"]
    assert len(rows) == SMOKE.train.steps
    for step, row in enumerate(rows):  # same parameters, same batch: only reduction orders differ
        assert abs(row["loss_mesh"] - row["loss_one"]) <= _bound(row["mean_nll"]), (name, step, row)
        # the bound's assumption, token by token: each NLL moves by at most 2 gamma_k of itself
        assert row["token_relative"] <= M.summation_bound(LONGEST_REDUCTION + 1, 1.0), (name, step, row)


@pytest.mark.slow
def test_free_running_losses_stay_within_the_bound_and_a_missharded_batch_does_not(mesh_runs):
    report, _ = mesh_runs
    one = np.array(report["free_running"]["1"])
    for name in ("8", "4x2"):
        other = np.array(report["free_running"][name])
        assert np.all(np.abs(other - one) <= [_bound(x) for x in one]), name
    # every device given the first eighth of the batch: the loss leaves the bound at step 1
    assert abs(report["planted_missharded_loss"] - one[0]) > 10 * _bound(one[0])


@pytest.mark.slow
def test_the_model_axis_splits_every_matrix(mesh_runs):
    report, _ = mesh_runs
    assert report["sharding_4x2"] and all(spec == "P(None, 'model')" for spec in
                                          report["sharding_4x2"].values()), report["sharding_4x2"]
    assert all(spec == "P()" for spec in report["sharding_8"].values())


@pytest.mark.slow
def test_a_checkpoint_written_on_8_devices_resumes_on_1(mesh_runs):
    report, resumed = mesh_runs
    assert resumed["devices"] == 1 and resumed["step_loaded"] == 12 and resumed["params_equal"]
    continued = report["continued_8"]
    assert len(resumed["train_loss"]) == len(continued) == SMOKE.train.steps
    assert resumed["train_loss"][:12] == continued[:12]  # the curve so far comes from the checkpoint
    for step in range(12, SMOKE.train.steps):
        assert abs(resumed["train_loss"][step] - continued[step]) <= _bound(continued[step]), step


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_hosts(command: list[str], cwd: Path) -> None:
    """Run ``command`` in two processes joined by the ROPELAB_* variables; both must succeed."""
    port = _free_port()
    hosts = [subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(ROPELAB_COORDINATOR=f"localhost:{port}", ROPELAB_NUM_PROCESSES="2",
                                       ROPELAB_PROCESS_ID=str(i))) for i in range(2)]
    try:
        errors = [host.communicate(timeout=600)[1] for host in hosts]
    finally:
        for host in hosts:
            host.kill()
            host.wait()
    assert [host.returncode for host in hosts] == [0, 0], errors


@pytest.mark.slow
def test_runs_dealt_to_two_hosts_joined_by_jax_distributed_equal_one_host(tmp_path):
    command = [sys.executable, "-c", "from ropelab.cli import main; main()", "experiment", "offset", "--preset", "smoke", "--out"]
    single = subprocess.run([*command, str(tmp_path / "one")], cwd=tmp_path, env=_env(), capture_output=True,
                            text=True, timeout=600)
    assert single.returncode == 0, single.stderr
    _two_hosts([*command, str(tmp_path / "two")], tmp_path)
    assert sorted(p.name for p in (tmp_path / "two" / "runs").iterdir()) == sorted(
        f"{label.replace(' seed ', '_seed')}.json" for label in offset.RECORD.run_labels(offset.PRESETS["smoke"], 1))
    one, two = (json.loads((tmp_path / name / "offset_results.json").read_text()) for name in ("one", "two"))
    assert one["runs"] and one["runs"] == two["runs"] and one["summary"] == two["summary"]


@pytest.mark.slow
def test_one_mesh_spanning_two_processes_trains_within_the_bound(mesh_runs, tmp_path):
    """Two processes joined by jax.distributed, one CPU device each, train one run on a (2, 1) mesh
    spanning both (its sums cross processes); host 0 alone writes the checkpoint, which resumes."""
    report, _ = mesh_runs
    _two_hosts([sys.executable, str(HELPER), "hosts", str(tmp_path)], ROOT)
    first, second = (json.loads((tmp_path / f"hosts_{i}.json").read_text()) for i in range(2))
    assert first["hosts"] == 2 and first["devices"] == 2 and first["mesh"] == {"data": 2, "model": 1}
    assert first["train_loss"] == second["train_loss"]  # one computation, seen from both processes
    one = report["free_running"]["1"]
    assert len(first["train_loss"]) == len(one)
    for step, (mine, reference) in enumerate(zip(first["train_loss"], one)):
        assert abs(mine - reference) <= _bound(reference), step


def test_hosts_deal_every_run_exactly_once():
    jobs = list(range(23))
    for count in (1, 2, 3, 8):
        dealt = [M.Hosts(i, count).mine(jobs) for i in range(count)]
        assert sorted(j for share in dealt for j in share) == jobs
    with pytest.raises(ValueError, match="process index"):
        M.Hosts(2, 2)


@pytest.mark.parametrize("environ, message", [
    ({"ROPELAB_COORDINATOR": "localhost:1"}, "ROPELAB_NUM_PROCESSES, ROPELAB_PROCESS_ID"),
    ({"ROPELAB_COORDINATOR": "h:1", "ROPELAB_NUM_PROCESSES": "two", "ROPELAB_PROCESS_ID": "0"}, "ROPELAB_NUM_PROCESSES"),
    ({"ROPELAB_COORDINATOR": "h:1", "ROPELAB_NUM_PROCESSES": "2", "ROPELAB_PROCESS_ID": "2"}, "process index"),
])
def test_a_half_configured_cluster_is_refused(environ, message):
    with pytest.raises(ValueError, match=message):
        M.join_hosts(environ)
    assert M.join_hosts({}) == M.Hosts(0, 1)


def test_mesh_shapes_and_batches_are_checked():
    with pytest.raises(ValueError, match="model must be"):
        M.training_mesh(model=2, devices=jax.devices()[:1])
    with pytest.raises(ValueError, match="data x model"):
        M.training_mesh(data=2, devices=jax.devices()[:1])
    mesh = M.training_mesh(devices=jax.devices()[:1])
    assert M.place_batch(np.zeros((3, 4), np.int32), mesh).shape == (3, 4)
    with pytest.raises(ValueError, match="past the bound.s range"):
        M.summation_bound(2**25, 1.0)


def test_a_cpu_host_trains_in_single_threaded_workers_and_says_so():
    where = experiment_runner.placement(table2.RECORD, n_jobs=7, workers=2)
    assert (where.hosts, where.workers, where.devices) == (1, 2, 1)
    assert "2 single-threaded worker process(es)" in where.describe()
    in_process = experiment_runner.placement(offset.RECORD, n_jobs=4)
    assert in_process.workers == 0 and in_process.devices == len(jax.local_devices())
    with pytest.raises(ValueError, match="placement must be one of"):
        experiment_runner.placement(table2.RECORD, 1, mode="everywhere")


def test_the_command_refuses_a_half_configured_cluster_before_any_work(tmp_path, monkeypatch, capsys):
    from ropelab import cli

    monkeypatch.setenv("ROPELAB_COORDINATOR", "localhost:1")
    monkeypatch.delenv("ROPELAB_NUM_PROCESSES", raising=False)
    monkeypatch.delenv("ROPELAB_PROCESS_ID", raising=False)
    monkeypatch.setattr(experiment_runner, "run", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["experiment", "offset", "--preset", "smoke", "--out", str(tmp_path / "o")])
    text = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "ROPELAB_NUM_PROCESSES, ROPELAB_PROCESS_ID: set all of" in text.out + text.err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*"))
