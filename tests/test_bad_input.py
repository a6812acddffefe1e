"""Bad input gets a ValueError naming the parameter and the allowed range."""

import numpy as np
import pytest

from ropelab.constructions import frequencies, rotary


@pytest.mark.parametrize("d", [3, 1, 0, -2, 7.0, "8", True])
def test_head_dim_must_be_even_integer(d):
    with pytest.raises(ValueError, match=r"d \(head dimension\) must be an even integer >= 2"):
        frequencies.rope(d, 1e4)


@pytest.mark.parametrize("theta", [1.0, 0.5, -10.0, float("nan"), float("inf")])
def test_theta_must_exceed_one(theta):
    with pytest.raises(ValueError, match=r"theta \(base wavelength\) must be a finite number > 1"):
        frequencies.rope(8, theta)


@pytest.mark.parametrize("p", [-0.1, 1.01, float("nan")])
def test_p_must_lie_in_unit_interval(p):
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\]"):
        frequencies.p_rope(8, 1e4, p)


@pytest.mark.parametrize("positions", [[-1], [0.5], [np.nan], [2.0**60]])
def test_positions_must_be_non_negative_integers(positions):
    with pytest.raises(ValueError, match="positions must"):
        rotary.apply(np.ones(4), positions, frequencies.rope(4, 1e4))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_vectors_must_be_finite(bad):
    with pytest.raises(ValueError, match="x must be finite"):
        rotary.apply(np.array([1.0, bad]), [0], [1.0])


def test_unknown_layout():
    with pytest.raises(ValueError, match=r"layout must be one of \('half', 'interleaved'\)"):
        rotary.apply(np.ones(4), [0], frequencies.rope(4, 1e4), layout="neox")


def test_freqs_length_must_match_head_dim():
    with pytest.raises(ValueError, match="freqs must have length d/2 = 2"):
        rotary.apply(np.ones(4), [0], frequencies.rope(8, 1e4))


def test_partial_rotary_prefix_within_head():
    with pytest.raises(ValueError, match=r"d_rot must be an even integer in \[2, d=4\]"):
        rotary.partial_rotary(np.ones(4), [0], 8)


def test_unknown_rope_type_and_missing_theta():
    with pytest.raises(ValueError, match="rope_type must be one of"):
        frequencies.from_hf_parameters(8, {"rope_type": "ntk-magic", "rope_theta": 1e4})
    with pytest.raises(ValueError, match="rope_theta"):
        frequencies.from_hf_parameters(8, {"rope_type": "default"})
    with pytest.raises(ValueError, match="needs 'factor'"):
        frequencies.from_hf_parameters(8, {"rope_type": "linear", "rope_theta": 1e4})


# --- the command line: one line naming the parameter, exit code 2, no traceback, nothing written ---

import os  # noqa: E402
from pathlib import Path  # noqa: E402

from ropelab.checks import runner  # noqa: E402
from ropelab.cli import app as cli  # noqa: E402


def unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores modes: use /proc then)."""
    if os.geteuid() == 0:
        return Path("/proc/ropelab-cannot-write-here")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain-file"
    path.write_text("not a folder")
    return path


def not_json(tmp_path: Path) -> Path:
    path = tmp_path / "broken.json"
    path.write_text('{"claims": [')
    return path


def binary(tmp_path: Path) -> Path:
    path = tmp_path / "binary.json"
    path.write_bytes(bytes(range(256)))
    return path


def other_json(tmp_path: Path) -> Path:
    path = tmp_path / "other.json"
    path.write_text('{"tool": "something else"}')
    return path


def empty_report(tmp_path: Path) -> Path:
    path = tmp_path / "empty.json"
    path.write_text('{"claims": []}')
    return path


def bad_entry(tmp_path: Path) -> Path:
    path = tmp_path / "entries.json"
    path.write_text('{"claims": [{"residual": 1}]}')
    return path


CASES = {
    # name: (argument builder, the words the one line must contain)
    "figs --out unwritable": (lambda t: ["figs", "frequency_spectra", "--out", str(unwritable(t) / "figs")], "--out"),
    "figs --out is a file": (lambda t: ["figs", "frequency_spectra", "--out", str(a_file(t))], "--out must be a folder"),
    "report --out unwritable": (lambda t: ["report", "--from-json", str(empty_report(t)), "--out", str(unwritable(t))],
                                "--out"),
    "report --out is a file": (lambda t: ["report", "rope_preserves_norm", "--out", str(a_file(t))],
                               "--out must be a folder"),
    "report --from-json not JSON": (lambda t: ["report", "--from-json", str(not_json(t)), "--out", str(t / "r")],
                                    "--from-json"),
    "report --from-json binary": (lambda t: ["report", "--from-json", str(binary(t)), "--out", str(t / "r")],
                                  "--from-json"),
    "report --from-json another JSON": (lambda t: ["report", "--from-json", str(other_json(t)), "--out", str(t / "r")],
                                        "not a `ropelab verify --json` report"),
    "report --from-json bad entries": (lambda t: ["report", "--from-json", str(bad_entry(t)), "--out", str(t / "r")],
                                       "no 'id' or 'status'"),
    "report --from-json a folder": (lambda t: ["report", "--from-json", str(t), "--out", str(t / "r")],
                                    "--from-json must be a JSON file"),
    "verify --json unwritable": (lambda t: ["verify", "rope_preserves_norm", "--json", str(unwritable(t) / "v.json")],
                                 "--json"),
    "verify --json is a folder": (lambda t: ["verify", "rope_preserves_norm", "--json", str(t)],
                                  "--json must be a file path"),
    "bench --json unwritable": (lambda t: ["bench", "logit-curve", "--json", str(unwritable(t) / "b.json")], "--json"),
    "experiment --out is a file": (lambda t: ["experiment", "table2", "--preset", "smoke", "--out", str(a_file(t))],
                                   "--out must be a folder"),
    "experiment unknown preset": (lambda t: ["experiment", "table2", "--preset", "huge"], "unknown preset: huge"),
    "figs unknown name": (lambda t: ["figs", "no_such_figure", "--out", str(t / "f")], "unknown figure"),
    "bench unknown workload": (lambda t: ["bench", "no-such-workload"], "unknown workload"),
    "zoo --config binary": (lambda t: ["zoo", "--config", str(binary(t))], "binary.json is not text"),
    "experiment breaking unknown preset": (lambda t: ["experiment", "breaking", "--preset", "huge"],
                                           "unknown preset: huge"),
    "experiment offset --out is a file": (lambda t: ["experiment", "offset", "--preset", "smoke", "--out",
                                                     str(a_file(t))], "--out must be a folder"),
    "experiment --max-hours 0": (lambda t: ["experiment", "table2", "--preset", "smoke", "--out", str(t / "o"),
                                            "--max-hours", "0"], "--max-hours must be a finite number of hours > 0"),
    "experiment --max-hours nan": (lambda t: ["experiment", "breaking", "--preset", "smoke", "--out", str(t / "o"),
                                              "--max-hours", "nan"], "--max-hours must be a finite number of hours > 0"),
    "experiment --placement everywhere": (lambda t: ["experiment", "offset", "--preset", "smoke", "--out",
                                                     str(t / "o"), "--placement", "everywhere"],
                                           "unknown placement: everywhere"),
    "experiment --model-axis 0": (lambda t: ["experiment", "offset", "--preset", "smoke", "--out", str(t / "o"),
                                             "--model-axis", "0"], "--model-axis must be a positive integer"),
    "experiment --model-axis 2 on one device": (lambda t: ["experiment", "offset", "--preset", "smoke", "--out",
                                                           str(t / "o"), "--model-axis", "2"],
                                                "model_axis must divide the 1 device(s)"),
    "experiment over --max-hours": (lambda t: ["experiment", "table2", "--preset", "paper", "--out", str(t / "o")],
                                    "--force to start anyway"),
}


@pytest.fixture
def no_work(monkeypatch):
    """Any case that got as far as running claims or workloads has failed already."""
    from ropelab.cli import bench

    def refuse(*args, **kwargs):
        raise AssertionError("the mistake was not caught before the work started")

    monkeypatch.setattr(runner, "run_claims", refuse)
    monkeypatch.setattr(bench, "run_workload", refuse)


@pytest.mark.parametrize("case", list(CASES))
def test_command_line_mistakes_exit_2_with_one_line(case, tmp_path, capsys, no_work):
    build, words = CASES[case]
    args = build(tmp_path)
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    out = capsys.readouterr()
    text = out.out + out.err
    assert exit_info.value.code == 2, text
    assert words in text, text
    assert "Traceback" not in text and "Error:" not in text.split(words)[0][-40:], text
    written = [p for p in tmp_path.rglob("*") if p not in before and p.is_file()]
    assert written == [], written  # nothing half-written


@pytest.mark.parametrize("case", list(CASES))
def test_a_mistake_stays_one_line_in_a_narrow_terminal(case, tmp_path, capsys, no_work, monkeypatch):
    """However long the message (paths included), the terminal wraps it, not the program: one line."""
    from ropelab.cli._console import console

    monkeypatch.setattr(console, "width", 40)
    build, words = CASES[case]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(build(tmp_path))
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if line.strip()]
    assert exit_info.value.code == 2
    assert len(lines) == 1 and words in lines[0], lines


def test_ctrl_c_says_what_finished(capsys, monkeypatch):
    from ropelab.checks.registry import REGISTRY

    def interrupted(claims, on_result=None, **kwargs):
        claims = list(claims)
        on_result(runner.run_claim(claims[0], quick=True))
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_claims", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", "--quick"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 130
    first, second = list(REGISTRY)[:2]
    assert f"finished 1 of {len(REGISTRY)} ({first})" in " ".join(out.split())
    assert f"not finished: {second}" in " ".join(out.split())
