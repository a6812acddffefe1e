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
    assert "residual / tolerance: " in out and "a negative residual is" in " ".join(out.split())


def test_unknown_claim_exits_2_with_the_closest(capsys):
    code, out = run(capsys, "verify", "rope_preserve_norm")
    assert code == 2
    assert out.count("\n") == 1 and "rope_preserve_norm" in out and "closest known: rope_preserves_norm" in out
    code, out = run(capsys, "explain", "rope_preserves_norm", "no_such_claim")
    assert code == 2 and "no_such_claim" in out and "Statement." not in out  # every id checked before any is shown


def test_explain_prints_worked_instance(capsys):
    code, out = run(capsys, "explain", "rope_score_depends_on_relative_position")
    assert code == 0
    assert "Statement." in out and "Worked instance." in out and "a_52" in out


def test_explain_takes_several_ids(capsys):
    from ropelab.checks.registry import REGISTRY

    code, out = run(capsys, "explain", "rope_preserves_norm", "rotation_composition")
    page = " ".join(out.split())
    assert code == 0 and page.count("Statement.") == 2
    assert all(" ".join(REGISTRY[i].statement.split()) in page for i in ("rope_preserves_norm", "rotation_composition"))


def test_computed_errata_print_as_sentences(capsys):
    code, out = run(capsys, "errata", "E4", "E2")
    page = " ".join(out.split())
    assert code == 0
    assert "Computed by slowest_channel_turns(): turns of the slowest channel" in page and "Exact g64: 2.353." in page
    assert "Computed by llama_band_onset():" in page and "{" not in out  # no raw dict


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


def test_figs_skip_what_needs_a_missing_extra_and_draw_the_rest(tmp_path, capsys, monkeypatch):
    """Without the models extra, ``figs`` draws every other figure, exits 0 and names the extra;
    asked by name for a figure it cannot draw, it exits 2."""
    from helpers.figure_stubs import placeholder_png

    from ropelab.paper_figs import FIGURES

    def needs_transformers(out):
        raise ModuleNotFoundError("No module named 'transformers'", name="transformers")

    for name in FIGURES:
        monkeypatch.setitem(FIGURES, name, needs_transformers if name.startswith("gemma_") else
                            lambda out, name=name: [placeholder_png(Path(out) / f"{name}.png", name)])
    skipped = [name for name in FIGURES if name.startswith("gemma_")]
    code, out = run(capsys, "figs", "--out", str(tmp_path))
    assert code == 0, out
    assert f"{len(FIGURES) - len(skipped)} of {len(FIGURES)} figures written" in out
    assert "pip install 'ropelab[models]'" in out and all(name in out for name in skipped)
    assert len(list(tmp_path.glob("*.png"))) == len(FIGURES) - len(skipped)
    code, out = run(capsys, "figs", "frequency_spectra", skipped[0], "--out", str(tmp_path))
    assert code == 2 and "1 of 2 figures written" in out


# --- the base install: no extras ---------------------------------------------------------------

import concurrent.futures  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXTRA_LINE = "pip install 'ropelab["


def source_copy(dest: Path) -> Path:
    """The tracked and untracked-but-not-ignored files of the checkout (what a clone would hold)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def venv_with(tmp: Path, *pip_args: str) -> tuple[Path, float]:
    """A fresh virtual environment with ``pip install *pip_args``; its bin folder and the seconds it took."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
    bin_dir = tmp / "venv" / "bin"
    # --no-compile: pip would byte-compile every installed file (half the install time); the
    # commands below compile what they import, once, since ropelab() lets Python write .pyc files
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-compile", *pip_args], check=True,
                   capture_output=True, text=True)
    return bin_dir, time.perf_counter() - started


def ropelab(bin_dir: Path, cwd: Path, *args: str, timeout: int = 900) -> tuple[int, str]:
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")}
    env.update(COLUMNS="120", ROPELAB_CACHE=str(cwd / "cache"), PATH=f"{bin_dir}:{env.get('PATH', '')}")
    done = subprocess.run([str(bin_dir / "ropelab"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    print(f"ropelab {' '.join(args)}: exit {done.returncode} in {time.perf_counter() - started:.0f} s")
    return done.returncode, done.stdout + done.stderr


def assert_clean(code: int, out: str, allowed=(0,)) -> None:
    assert code in allowed, out[-3000:]
    assert "Traceback" not in out and "Error:" not in out.replace("ValueError: ", ""), out[-3000:]


def _editable_stage(tmp: Path) -> None:
    """``pip install -e .`` with no extras (the README's first command): the report verifies two
    claims (as ``verify`` does) and draws every figure this install can draw (the same drawing as
    ``figs``, whose own messages are tested in this environment above), naming the extra of the rest."""
    from ropelab.paper_figs import FIGURES

    source, work = source_copy(tmp / "src"), tmp / "work"
    work.mkdir()
    bin_dir, seconds = venv_with(tmp, "-e", str(source))
    print(f"base install (-e) took {seconds:.0f} s")
    assert subprocess.run([str(bin_dir / "python"), "-c", "import torch"], capture_output=True).returncode != 0, \
        "the base install must not bring torch"
    claims = ("rope_preserves_norm", "chunk_score_is_norm_times_cosine")
    code, out = ropelab(bin_dir, work, "report", *claims, "--quick", "--out", "out")
    assert_clean(code, out)
    assert all(f"{claim} pass" in out for claim in claims), out
    page = (work / "out" / "ropelab-report.html").read_text()
    # every figure is drawn, the Gemma 3 270M ones from the committed results (no model packages)
    assert all(f'id="fig-{name}"' in page for name in FIGURES) and "Not drawn here" not in page


def _wheel_stage(tmp: Path) -> None:
    """``pip install .`` into a fresh environment, the source tree then deleted: the wheel alone runs
    the main commands and carries the committed results and the benchmark scripts."""
    source, work = source_copy(tmp / "src"), tmp / "work"
    work.mkdir()
    bin_dir, seconds = venv_with(tmp, str(source))
    print(f"wheel install took {seconds:.0f} s")
    shutil.rmtree(source)
    assert subprocess.run([str(bin_dir / "python"), "-c", "import torch"], capture_output=True).returncode != 0
    code, out = ropelab(bin_dir, work, "verify", "--quick")
    assert_clean(code, out)
    # explain reads each experiment's committed results through one helper: table2 runs it, and
    # every experiment's results are checked below as shipped files
    code, out = ropelab(bin_dir, work, "explain", "table2")
    assert_clean(code, out)
    # the side runs beside the reported one ship too: the pilot, the length check, NoPE's
    assert "Findings:" in out and "Design (pilot:" in out and "Length check (" in out and "NoPE length check (" in out
    code, out = ropelab(bin_dir, work, "zoo")
    assert_clean(code, out)
    # one workload with a PyTorch baseline: the script is found in the wheel and the missing
    # baseline is named with its extra (every workload runs in this environment's own bench test)
    code, out = ropelab(bin_dir, work, "bench", "logit-curve", "--quick")
    assert_clean(code, out)
    assert "skipped baseline" in out and "torch is not installed" in out and EXTRA_LINE in out
    shipped = subprocess.run([str(bin_dir / "python"), "-c", (
        "from importlib import resources; from ropelab.cli.bench import WORKLOADS;"
        "r = resources.files('ropelab.results'); b = resources.files('ropelab.benchmarks');"
        "print(all(r.joinpath(f'{e}_small', f'{e}_results.json').is_file() for e in ('table2', 'breaking', 'offset')),"
        " all(b.joinpath(script).is_file() for script in WORKLOADS.values()), str(r).startswith(%r))"
        % str(tmp))], cwd=work, capture_output=True, text=True, check=True).stdout
    assert shipped.split() == ["True", "True", "True"], shipped


@pytest.mark.slow
def test_base_install_runs_every_command(tmp_path):
    """The two installs a user makes without extras, each in a fresh environment: ``pip install -e .``
    (the README's first command) and the wheel, ``pip install .``, with no source tree beside it.

    Each command runs once, in the stage where it can fail in its own way; the whole suite runs the
    editable install with every extra. The stages share nothing, so they run side by side (much of
    an install waits on the disk, and the report draws on one core while verify uses two).
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        stages = [pool.submit(stage, tmp_path / name) for stage, name in ((_editable_stage, "editable"),
                                                                          (_wheel_stage, "wheel"))]
        for stage in stages:
            stage.result()


def test_worker_processes_give_the_serial_results_in_order():
    from ropelab.checks.registry import select
    from ropelab.checks.runner import run_claims

    claims = select(["rope_preserves_norm", "chunk_score_is_norm_times_cosine", "rope_score_depends_on_relative_position"])
    finished = []
    parallel = run_claims(claims, quick=True, jobs=2, on_result=lambda r: finished.append(r.id))
    serial = run_claims(claims, quick=True)
    assert [r.id for r in parallel] == [c.id for c in claims] and sorted(finished) == sorted(c.id for c in claims)
    for a, b in zip(parallel, serial, strict=True):
        assert (a.status, a.residual, a.tolerance, a.negative_residual) == (b.status, b.residual, b.tolerance,
                                                                           b.negative_residual)


def test_negative_jobs_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", "rope_preserves_norm", "--jobs", "-1"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and "--jobs" in captured.out + captured.err
