"""ropelab's RoPE schedules against transformers itself: every rope type, real configs, stored vectors."""

import importlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from hypothesis import given
from hypothesis import strategies as st
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.gpt_neox.modeling_gpt_neox import GPTNeoXRotaryEmbedding

from helpers import hf_rope_models as real
from ropelab.checks import tolerances
from ropelab.checks.findings import zoo_parity
from ropelab.constructions import configs, frequencies

# ---------------------------------------------------------------- property test over every rope type

head_dims = st.integers(16, 256).map(lambda h: 2 * h)
bases = st.floats(2.0, 7.0).map(lambda e: float(10.0**e))
factors = st.floats(1.0, 64.0)
fractions = st.sampled_from([0.25, 0.4, 0.5, 0.75, 1.0])
contexts = st.sampled_from([1024, 2048, 4096, 8192, 32768])


@st.composite
def rope_cases(draw, rope_type):
    """A valid (head_dim, rope_parameters, max_position_embeddings, sequence_length) of one rope type."""
    d = draw(head_dims)
    fraction = draw(fractions)
    if rope_type != "proportional" and int(d * fraction) % 2:
        fraction = 1.0
    params = {"rope_type": rope_type, "rope_theta": draw(bases), "partial_rotary_factor": fraction}
    max_positions = draw(contexts)
    sequence = draw(st.integers(1, 8 * max_positions))
    d_rot = d if rope_type == "proportional" else int(d * fraction)
    if rope_type in ("linear", "dynamic", "proportional", "yarn", "llama3"):
        params["factor"] = draw(factors)
    if rope_type in ("yarn", "longrope", "llama3"):
        params["original_max_position_embeddings"] = draw(contexts)
    if rope_type == "yarn":
        params["beta_fast"] = draw(st.floats(4.0, 64.0))
        params["beta_slow"] = draw(st.floats(0.25, 4.0))
        params["truncate"] = draw(st.booleans())
        scales = draw(st.sampled_from(["none", "equal", "both", "explicit"]))
        if scales == "equal":
            params["mscale"] = params["mscale_all_dim"] = draw(st.floats(0.5, 2.0))
        elif scales == "both":
            params["mscale"], params["mscale_all_dim"] = draw(st.floats(0.5, 2.0)), draw(st.floats(0.5, 2.0))
        elif scales == "explicit":
            params["attention_factor"] = draw(st.floats(0.5, 2.0))
    if rope_type == "longrope":
        n = d_rot // 2
        params["short_factor"] = draw(st.lists(st.floats(1.0, 4.0), min_size=n, max_size=n))
        params["long_factor"] = draw(st.lists(st.floats(1.0, 64.0), min_size=n, max_size=n))
        max_positions = params["original_max_position_embeddings"] * draw(st.sampled_from([1, 4, 32]))
        sequence = draw(st.sampled_from([1, params["original_max_position_embeddings"],
                                         params["original_max_position_embeddings"] + 1, max_positions]))
    if rope_type == "llama3":
        params["low_freq_factor"] = draw(st.floats(0.5, 4.0))
        params["high_freq_factor"] = params["low_freq_factor"] * draw(st.sampled_from([1.0, 2.0, 4.0, 8.0]))
    return d, params, max_positions, sequence


def transformers_schedule(d, params, max_positions, sequence):
    """transformers' float32 inverse frequencies and attention factor for the same parameters."""
    config = transformers.LlamaConfig(hidden_size=4 * d, num_attention_heads=4, head_dim=d,
                                      max_position_embeddings=max_positions, rope_parameters=dict(params))
    if params["rope_type"] == "default":
        inv, attention = GPTNeoXRotaryEmbedding.compute_default_rope_parameters(config)
    else:
        inv, attention = ROPE_INIT_FUNCTIONS[params["rope_type"]](config, None, seq_len=sequence)
    return inv.double().numpy(), float(attention)


def llama3_blend_amplification(d_rot, params):
    """Per pair: how much llama3's blend amplifies the relative error of the float32 wavelength.

    g' = g ((1 - s)/f + s) with s = (L/wavelength - low) / (high - low): a relative error e of the
    wavelength moves s by (L/wavelength) e / (high - low), hence g' by that times (1 - 1/f) / ((1 - s)/f + s)
    relative; 0 outside the blended band.
    """
    if params["rope_type"] != "llama3" or params["high_freq_factor"] <= params["low_freq_factor"]:
        return 0.0
    low, high, f = params["low_freq_factor"], params["high_freq_factor"], params["factor"]
    ratio = params["original_max_position_embeddings"] * frequencies.rope(d_rot, params["rope_theta"]) / (2 * math.pi)
    s = (ratio - low) / (high - low)
    blended = (s >= 0) & (s <= 1)
    return np.where(blended, ratio / (high - low) * (1 - 1 / f) / ((1 - s) / f + s), 0.0)


def llama3_boundary_pairs(d_rot, params, hf_inv):
    """Pairs whose float32 and float64 wavelengths straddle llama3's cut when low == high (a jump there)."""
    if params["rope_type"] != "llama3" or params["low_freq_factor"] != params["high_freq_factor"]:
        return np.zeros(hf_inv.size, dtype=bool)
    cut = params["original_max_position_embeddings"] / params["low_freq_factor"]
    ours = 2 * math.pi / frequencies.rope(d_rot, params["rope_theta"])
    theirs = 2 * math.pi / hf_inv
    return (ours > cut) != (theirs > cut)


def assert_matches_transformers(d, params, max_positions, sequence):
    ours, attention = frequencies.from_hf_parameters(d, params, sequence, max_positions)
    theirs, their_attention = transformers_schedule(d, params, max_positions, sequence)
    assert ours.shape == theirs.shape
    assert np.array_equal(ours == 0, theirs == 0)
    rotating = theirs > 0
    bound = tolerances.peer_frequencies(1.0 / theirs[rotating].min(), np.float32)
    allowed = bound.value * (1.0 + llama3_blend_amplification(2 * ours.size, params))
    rel = np.abs(ours - theirs) / np.where(rotating, theirs, 1.0)
    rel[llama3_boundary_pairs(2 * ours.size, params, theirs)] = 0.0  # llama3 low == high jumps at its cut
    assert np.all(rel <= allowed), (params, bound.reason, float(np.max(rel / allowed)))
    assert attention == pytest.approx(their_attention, rel=4 * tolerances.EPS64, abs=0)


@pytest.mark.parametrize("rope_type", frequencies.ROPE_TYPES)
@given(data=st.data())
def test_every_rope_type_matches_transformers(rope_type, data):
    assert_matches_transformers(*data.draw(rope_cases(rope_type)))


@pytest.mark.parametrize("case", [
    (128, {"rope_type": "llama3", "rope_theta": 5e5, "factor": 16.0, "low_freq_factor": 1.0,
           "high_freq_factor": 1.0, "original_max_position_embeddings": 8192}, 131072, 1),
    (64, {"rope_type": "yarn", "rope_theta": 1e4, "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 1.0,
          "original_max_position_embeddings": 4096}, 163840, 1),
    (512, {"rope_type": "proportional", "rope_theta": 1e6, "partial_rotary_factor": 0.25}, 131072, 1),
    (96, {"rope_type": "longrope", "rope_theta": 1e4, "original_max_position_embeddings": 4096,
          "short_factor": real.PHI35_SHORT, "long_factor": real.PHI35_LONG}, 131072, 4097),
    (128, {"rope_type": "dynamic", "rope_theta": 1e4, "factor": 4.0}, 4096, 16384),
], ids=["llama4 low == high", "deepseek mscale", "gemma4 proportional", "phi3.5 longrope long", "dynamic x4 at 16k"])
def test_pinned_cases_match_transformers(case):
    assert_matches_transformers(*case)


def test_unsupported_types_and_fields_say_so():
    with pytest.raises(ValueError, match="rope_type 'mrope' is not supported yet"):
        frequencies.from_hf_parameters(64, {"rope_type": "mrope", "rope_theta": 1e4})
    with pytest.raises(ValueError, match="'mrope_section' not supported yet"):
        frequencies.from_hf_parameters(64, {"rope_type": "default", "rope_theta": 1e4, "mrope_section": [8, 12, 12]})
    with pytest.raises(ValueError, match="short_factor must be 32 finite positive numbers"):
        frequencies.from_hf_parameters(64, {"rope_type": "longrope", "rope_theta": 1e4, "short_factor": [1.0],
                                            "long_factor": [1.0] * 32, "original_max_position_embeddings": 4096,
                                            "factor": 4.0})
    with pytest.raises(ValueError, match="high_freq_factor must be >= low_freq_factor"):
        frequencies.llama3(64, 5e5, 8.0, 4.0, 1.0, 8192)
    with pytest.raises(ValueError, match="odd rotary dimension"):
        frequencies.from_hf_parameters(64, {"rope_theta": 1e4, "partial_rotary_factor": 0.3})
    with pytest.raises(ValueError, match=r"config field\(s\) \['layer_rope_theta'\] not supported yet"):
        configs.parse_configs({"model_type": "x", "head_dim": 64, "max_position_embeddings": 10, "rope_theta": 1e4,
                               "layer_rope_theta": [1e4, 1e6]}, "x")
    with pytest.raises(ValueError, match="layer type 'linear_attention' not supported yet"):
        configs.parse_configs({"model_type": "x", "head_dim": 64, "max_position_embeddings": 10, "rope_theta": 1e4,
                               "layer_types": ["linear_attention", "full_attention"]}, "x")


# ---------------------------------------------------------------- real models through their own rotary classes

@pytest.mark.parametrize("name", list(real.MODELS))
def test_real_config_agrees_with_its_rotary_class(name):
    """Fresh from transformers: the config loads in ropelab and the model's rotary class agrees."""
    fresh = real.reference_rows(name)
    stored = json.loads(real.DATA.read_text())["models"][name]
    assert set(fresh["rows"]) == set(stored["rows"])
    rows = zoo_parity.hf_parity_of({"models": {name: fresh}})
    assert rows and all(r.agrees for r in rows), rows
    for row_name, ref in fresh["rows"].items():  # the stored vectors are this transformers' output
        if ref["rotary"]:
            np.testing.assert_allclose(ref["inv_freq"], stored["rows"][row_name]["inv_freq"], rtol=tolerances.EPS32)


def test_real_config_rows_read_what_matters():
    data = json.loads(real.DATA.read_text())["models"]

    def rows(name):
        return {c.name: c for c in configs.parse_configs(data[name]["config"], name)}

    deepseek = rows("DeepSeek-V3")["DeepSeek-V3"]
    assert (deepseek.head_dim, deepseek.layout, deepseek.schedule()[1]) == (64, "interleaved", 1.0)
    gemma4 = rows("Gemma 4")
    assert (gemma4["Gemma 4 [full_attention]"].head_dim, gemma4["Gemma 4 [sliding_attention]"].head_dim) == (512, 256)
    assert gemma4["Gemma 4 [sliding_attention]"].context == 512 and gemma4["Gemma 4 [sliding_attention]"].layers == 25
    scout = rows("Llama 4 Scout")
    assert scout["Llama 4 Scout [chunked_attention]"].context == 8192
    assert not scout["Llama 4 Scout [full_attention, NoPE]"].rotary
    assert scout["Llama 4 Scout [full_attention, NoPE]"].layers == 12
    mistral = rows("Mistral 7B v0.1")["Mistral 7B v0.1 [sliding_attention]"]
    assert (mistral.context, mistral.sequence_length) == (4096, 32768)
    phi35 = rows("Phi-3.5 mini")["Phi-3.5 mini"]
    long_ = phi35.schedule()[0]
    short = configs.with_context(phi35, 4096).schedule()[0]
    assert np.allclose(long_ * np.asarray(real.PHI35_LONG), short * np.asarray(real.PHI35_SHORT))
    assert phi35.schedule()[1] == pytest.approx(math.sqrt(1 + math.log(32) / math.log(4096)))


def test_stored_parity_needs_no_transformers(monkeypatch):
    """The base install checks parity from the stored vectors alone."""
    for module in [m for m in sys.modules if m.split(".")[0] in ("torch", "transformers")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "transformers", None)
    rows = zoo_parity.hf_parity()
    assert len({r.model for r in rows}) == len(real.MODELS) and all(r.agrees for r in rows)
    worst = max(r.frequency_error for r in rows)
    assert 0 < worst <= 1.0


def test_stored_parity_rejects_a_wrong_schedule(monkeypatch):
    """Planting the old DeepSeek bug (no mscale) makes the stored parity fail where it should."""
    monkeypatch.setattr(frequencies, "yarn_attention_factor", lambda factor, *_: frequencies.yarn_mscale(factor))
    failing = {r.model for r in zoo_parity.hf_parity() if not r.agrees}
    assert failing == {"DeepSeek-V3"}


# ---------------------------------------------------------------- ropelab conform

from helpers import conform_targets as targets  # noqa: E402
from ropelab.cli import app as cli  # noqa: E402
from ropelab.checks import conformance# noqa: E402


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    return exit_info.value.code, " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("target", ["transformers_apply", "ropelab_apply", "correct"])
def test_conform_accepts_correct_implementations(target, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    code, out = run_cli(capsys, "conform", f"helpers.conform_targets:{target}", "--json", str(out_json))
    assert code == 0, out
    report = json.loads(out_json.read_text())
    assert report["conformant"] and report["bugs"] == {} and report["errors"] == [] and report["non_finite"] == 0
    assert report["layouts"] == {"half": "half", "interleaved": "interleaved"}
    assert set(report["dtypes"]) == {"float64", "float32", "bfloat16", "float16"} and report["cases"] == 120
    assert len(report["per_case"]) == 120 and {c["verdict"] for c in report["per_case"]} == {"pass"}
    assert "layout asked interleaved: implements interleaved" in out and "conformant: every case run" in out
    assert "first position past the dtype's bound' is where" in out  # the verdict says what that column means
    if target == "ropelab_apply":  # float64 angles: within every dtype's own rounding bound
        assert all(d["first_failing_position"] is None for d in report["dtypes"].values())
    else:  # float32 angles: float32's own bound is passed early, bfloat16's never up to 10^6
        assert report["dtypes"]["float32"]["first_failing_position"] <= 1000
        assert report["dtypes"]["bfloat16"]["first_failing_position"] is None


def test_default_cases_cover_several_bases_and_head_sizes():
    default = [c for c in conformance.ROPE_CASES if c.rope["rope_type"] == "default"]
    assert {c.rope["rope_theta"] for c in default} >= set(conformance.BASES)
    assert len({c.head_dim for c in conformance.ROPE_CASES}) >= 4
    # two default cases of one head size differ only in theta: a cache keyed without theta shows there
    assert len({c.rope["rope_theta"] for c in default if c.head_dim == 128}) == 3


@pytest.mark.parametrize("bug", targets.BUG_NAMES)
def test_conform_names_each_known_bug(bug, capsys):
    report = conformance.run(getattr(targets, f"with_{bug}"), bug, quick=True)
    assert not report.conformant
    assert bug in report.bugs, report.bugs
    # another name only beside the planted one, where the two signatures cannot be told apart in that case
    alone = {b for r in report.results for b in r.bugs if bug not in r.bugs}
    assert not alone, alone
    assert max(report.bugs, key=lambda b: len(report.bugs[b])) == bug
    if bug in ("bf16_positions", "bf16_inv_freq", "tf32_angles"):  # the layout is still read right
        assert report.layouts == {"half": "half", "interleaved": "interleaved"}
    code, out = run_cli(capsys, "conform", f"helpers.conform_targets:with_{bug}", "--quick")
    assert code == 1 and f"matches known bug {bug}" in out and "NOT conformant" in out


def test_conform_fails_nan_past_65504(tmp_path, capsys):
    """Exact except NaN past 65504 in float16: every such row is counted, named non_finite, exit 1."""
    report = conformance.run(targets.nan_past_65504, "nan", dtypes=["float16", "float32"])
    beyond = sum(p > 65504 for c in conformance.cases() if c.dtype == "float16" for p in c.positions)
    assert not report.conformant and report.non_finite == beyond > 0
    failed = {r.label for r in report.failed}
    assert failed and all("float16" in label for label in failed)
    out_json = tmp_path / "r.json"
    code, out = run_cli(capsys, "conform", "helpers.conform_targets:nan_past_65504", "--dtypes", "fp16", "--json", str(out_json))
    assert code == 1 and f"non_finite: {beyond} rows" in out and "NOT conformant" in out
    assert "more failing cases (--cases lists every case)" in out  # ten lines, then the count of the rest
    per_case = json.loads(out_json.read_text())["per_case"]
    assert sum(c["non_finite"] for c in per_case) == beyond


@pytest.mark.parametrize("junk", ["nan", "inf", "-inf", "integers"])
def test_every_case_fails_closed(junk):
    """Contract over the case registry: junk in one row of any case fails that case, whatever its dtype."""
    def spoiled(x, positions, config):
        out = targets.correct(x, positions, config)
        if junk == "integers":
            return np.round(out.astype(np.float64) * 1e6).astype(np.int64)
        out[-1, 0] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[junk]
        return out

    report = conformance.run(spoiled, junk)
    assert report.cases == len(conformance.cases()) and not report.conformant
    for r in report.results:
        if junk == "integers":
            assert r.verdict == "error" and "expected a float dtype" in r.detail, r
        else:
            assert r.verdict == "fail" and r.non_finite == 1, r


def test_a_bug_is_named_beside_other_failures():
    """A function that raises on the rope types it lacks still has its precision bug named where it shows."""
    def partial_support(x, positions, config):
        if config["rope_type"] in ("longrope", "yarn"):
            raise NotImplementedError(config["rope_type"])
        return targets.numpy_apply(x, positions, config, "bf16_positions")

    report = conformance.run(partial_support, "partial", quick=True)
    raised = [r for r in report.results if r.verdict == "error"]
    assert len(raised) == 16 and all(r.detail.startswith("NotImplementedError") for r in raised)
    assert len(report.bugs["bf16_positions"]) == report.cases - len(raised)
    # told what it supports, the same function is judged only there
    asked = conformance.run(partial_support, "partial", quick=True,
                            rope_types=["default", "linear", "dynamic", "llama3", "proportional"])
    assert not asked.errors and len(asked.skipped) == 16 and list(asked.bugs) == ["bf16_positions"]


def test_options_skip_what_is_not_supported(tmp_path, capsys):
    out_json = tmp_path / "r.json"
    code, out = run_cli(capsys, "conform", "helpers.conform_targets:correct", "--rope-types", "default,linear",
                        "--layouts", "half", "--dtypes", "float32", "--max-position", "70000", "--cases",
                        "--json", str(out_json))
    assert code == 0, out
    report = json.loads(out_json.read_text())
    ran = [c for c in report["per_case"] if c["verdict"] != "skipped"]
    assert len(ran) == report["cases"] == 6 and report["skipped"] == 114
    assert all(c["rope_type"] in ("default", "linear") and c["layout"] == "half" for c in ran)
    assert all("positions above --max-position 70,000 not run" in c["detail"] for c in ran)
    assert "114 skipped as not supported" in out and "│ skipped │" in out
    assert any(c["detail"] == "rope type yarn not asked (--rope-types)" for c in report["per_case"])
    dynamic = conformance.run(targets.correct, rope_types=["dynamic"], max_position=5000, quick=True)
    assert [r.detail for r in dynamic.skipped if r.rope_type == "dynamic"][0].startswith("its dynamic schedule")
    assert dynamic.conformant and dynamic.cases == 4  # within the context: positions < 4096


@pytest.mark.parametrize("args,message", [
    (["--rope-types", "ntk"], "--rope-types: unknown 'ntk'; allowed: default, dynamic"),
    (["--layouts", "neox"], "--layouts: unknown 'neox'; allowed: half, interleaved"),
    (["--dtypes", "int8"], "--dtypes: unknown 'int8'; allowed: float64, float32, bfloat16, float16"),
    (["--max-position", "0"], "--max-position must be an integer >= 1, got 0"),
])
def test_conform_bad_options_are_one_line_exit_2(args, message, tmp_path, capsys):
    out_json = tmp_path / "r.json"
    code, out = run_cli(capsys, "conform", "helpers.conform_targets:correct", *args, "--json", str(out_json))
    assert code == 2 and message in out and not out_json.exists()


def test_conform_help_shows_brackets_and_recipes(capsys):
    code, out = run_cli(capsys, "conform", "--help")
    assert code == 0
    assert "(x[m], x[m + d_rot/2])" in out and "(x[2m], x[2m+1])" in out
    assert "Recipe, torch (bf16 input)" in out and "Recipe, JAX" in out and "never sets jax_enable_x64" in out


def test_conform_leaves_jax_precision_to_the_user(tmp_path):
    """A JAX implementation wrong only in float32 fails under the process's default float32 and passes with
    JAX_ENABLE_X64=1: conform measures it in the precision the user's process runs it in."""
    import os
    import subprocess

    script = ("import sys; sys.path.insert(0, '.'); from ropelab.cli import main; "
              "main(['conform', 'helpers.conform_targets:jax_sine_from_cosine', '--quick', '--rope-types', 'default'])")
    verdicts = {}
    for x64 in ("0", "1"):
        env = {**os.environ, "JAX_ENABLE_X64": x64, "COLUMNS": "200"}
        done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parent, env=env,
                              capture_output=True, text=True, timeout=300)
        verdicts[x64] = (done.returncode, " ".join(done.stdout.split()))
    assert verdicts["0"][0] == 1 and "NOT conformant" in verdicts["0"][1], verdicts["0"]
    assert verdicts["1"][0] == 0 and "conformant: every case run" in verdicts["1"][1], verdicts["1"]


@pytest.mark.parametrize("target,message", [
    ("no_colon", "expected MODULE:FUNCTION"),
    ("no_such_module_xyz:f", "cannot import no_such_module_xyz: ModuleNotFoundError"),
    ("helpers.conform_targets:missing", "helpers.conform_targets has no attribute 'missing'"),
    ("helpers.conform_targets:NOT_A_FUNCTION", "is not callable (it is a int)"),
    ("./missing_file.py:f", "no such file: ./missing_file.py"),
])
def test_conform_bad_target_is_one_line_exit_2(target, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["conform", target])
    out = capsys.readouterr().out
    assert exit_info.value.code == 2
    assert out.strip().count("\n") == 0 and message in out


def test_conform_reports_a_raising_implementation(capsys):
    def broken(x, positions, config):
        raise RuntimeError("boom")

    report = conformance.run(broken, "broken", quick=True)
    assert not report.conformant and len(report.errors) == report.cases
    assert report.errors[0].endswith("RuntimeError: boom")
    assert all(r.verdict == "error" for r in report.results)


def test_regression_vectors_state_their_parameters():
    """The numbers the known-bug vectors rest on, computed here from the stated parameters."""
    # llama3 bands: base 5e5, original context 8192, low 1, high 4 (factor does not move the bands)
    assert [(r.start, r.stop - 1) for r in frequencies.llama3_bands(64, 5e5, 1.0, 4.0, 8192)] == [(0, 14), (15, 17),
                                                                                                 (18, 31)]
    assert [(r.start, r.stop - 1) for r in frequencies.llama3_bands(128, 5e5, 1.0, 4.0, 8192)] == [(0, 28), (29, 34),
                                                                                                  (35, 63)]
    # YaRN x40 with mscale == mscale_all_dim: exactly 1.0; ignoring them gives 0.1 ln 40 + 1
    assert frequencies.yarn_attention_factor(40.0, 1.0, 1.0) == 1.0
    assert frequencies.yarn_mscale(40.0) == pytest.approx(1.3689, abs=1e-4)
    # bf16 positions: 15962 rounds to 15936
    assert float(conformance.round_to(np.array([15962]), conformance.ml_dtypes.bfloat16)[0]) == 15936.0
    # bf16 inv_freq: at position 4095 the fastest pairs' angles are off by radians
    g = frequencies.rope(128, 1e4)
    off = 4095 * np.abs(conformance.round_to(g, conformance.ml_dtypes.bfloat16) - g)
    assert off.max() > 1.0
    # Gemma 4 global: 64 pairs kept of 256; the wrong denominator 128 makes pair 63 ~ 1e6^(-126/128)
    freqs, _ = frequencies.from_hf_parameters(512, {"rope_type": "proportional", "rope_theta": 1e6,
                                                    "partial_rotary_factor": 0.25})
    assert int((freqs > 0).sum()) == 64 and freqs[63] == pytest.approx(1e6 ** (-126 / 512))
    # longrope: short factors at exactly the original context, long ones one token beyond
    case = next(c for c in conformance.ROPE_CASES if c.name == "longrope at exactly the original context")
    assert case.sequence_length == 4096 and np.allclose(case.schedule()[0] * case.rope["short_factor"],
                                                        frequencies.rope(96, 1e4))
    beyond = next(c for c in conformance.ROPE_CASES if c.name == "longrope one token beyond")
    assert beyond.sequence_length == 4097 and np.allclose(beyond.schedule()[0] * beyond.rope["long_factor"],
                                                          frequencies.rope(96, 1e4))


# ---------------------------------------------------------------- every config class of the installed transformers

def test_stored_sweep_of_every_config_class():
    """Each config class with RoPE fields, at its defaults: ropelab agrees with its rotary class or says why not."""
    stored = json.loads(real.SWEEP.read_text())["outcomes"]
    counts = {"agree": sum(v == "agree" for v in stored.values()),
              "refused": sum(v.startswith("ropelab:") for v in stored.values()),
              "differs": sorted(k for k, v in stored.items() if v == "differs")}
    assert counts["agree"] >= 180
    assert counts["differs"] == sorted(real.KNOWN_DIFFERENCES)
    for model_type, outcome in stored.items():  # a refusal is a ValueError naming what it cannot read
        if outcome.startswith("ropelab:"):
            assert any(word in outcome for word in ("not supported yet", "must be", "cannot tell", "needs",
                                                    "no context length")), (model_type, outcome)


@pytest.mark.slow
def test_sweep_of_every_config_class_is_current():
    fresh = real.sweep()
    stored = json.loads(real.SWEEP.read_text())["outcomes"]
    assert sorted(k for k, v in fresh.items() if v == "differs") == sorted(real.KNOWN_DIFFERENCES)
    assert sum(v == "agree" for v in fresh.values()) >= sum(v == "agree" for v in stored.values())


# ---------------------------------------------------------------- third-party implementations, as installed

THIRD_PARTY = {  # adapter -> (package, what it supports, the cases where the float64 reference rejects it and why)
    "rotary_embedding_torch_apply": ("rotary_embedding_torch", {"rope_types": ["default", "linear"],
                                                                "layouts": ["interleaved"]}, {}),
    "x_transformers_apply": ("x_transformers", {"rope_types": ["default", "linear"], "layouts": ["interleaved"]}, {}),
    # equinox keys its cos/sin cache on (embedding_size, dtype), not theta: after the theta-1e4 case of a
    # 128-wide head, every other base of that width is served 1e4's rotation
    "equinox_apply": ("equinox", {"rope_types": ["default"], "max_position": 8191},
                      {"default theta 5e5 (Llama 3 8B)": "theta_blind_cache",
                       "default theta 1e6 (Qwen2 7B)": "theta_blind_cache"}),
}


@pytest.mark.parametrize("adapter", list(THIRD_PARTY))
def test_third_party_implementations_get_the_reference_verdict_per_case(adapter):
    package, supports, rejected = THIRD_PARTY[adapter]
    importlib.import_module(package)  # in the test extra: missing is a failure, never a skip
    from helpers import conform_third_party

    if package == "equinox":  # start as a fresh process does: its cache empty (the first base it sees is kept)
        from equinox.nn import _embedding

        _embedding.internal_rope_embedding_cache.clear()
    report = conformance.run(getattr(conform_third_party, adapter), adapter, **supports)
    ran = [r for r in report.results if r.verdict != "skipped"]
    assert ran and not report.errors
    for r in ran:
        if r.case in rejected:
            assert r.verdict == "fail" and r.bugs == [rejected[r.case]], r
        else:
            assert r.verdict == "pass", r
    assert report.conformant == (not rejected)


# Llama's and Qwen2's rotary classes rotate the whole head whatever partial_rotary_factor says (by design: their
# models have none), so the one partial-rotary case is theirs to fail; Phi-3's and GPT-NeoX's read it
TRANSFORMERS_REJECTED = {"llama": {"partial rotary 0.25 (GPT-NeoX)"}, "qwen2": {"partial rotary 0.25 (GPT-NeoX)"},
                         "phi3": set(), "gpt_neox": set()}


@pytest.mark.parametrize("family", targets.TRANSFORMERS_FAMILIES)
def test_transformers_rotary_classes_get_the_reference_verdict_per_case(family):
    report = conformance.run(getattr(targets, f"transformers_{family}_apply"), family, quick=True)
    assert not report.errors and not report.bugs and report.cases == len(conformance.cases(quick=True))
    assert {r.case for r in report.failed} == TRANSFORMERS_REJECTED[family]
    # the partial case fails on the rotated tail a full-head rotation adds, and nothing else is named
    assert all(r.outside_float32_angle_bound > 0 for r in report.failed)


# ---------------------------------------------------------------- heavy third-party implementations, stored

from helpers import store_heavy_peers as heavy  # noqa: E402


def _independent_rows(entry: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a stored case: the error of its output against a float64 rotation computed here from the
    RoPE parameters alone (not conform's reference), and the float32-arithmetic allowance for that row."""
    layout, dtype, positions, rope = json.loads(entry["key"])
    d_rot = int(rope["head_dim"] * rope.get("partial_rotary_factor", 1.0))
    n = d_rot // 2
    g = rope["rope_theta"] ** (-np.arange(n, dtype=np.float64) * 2.0 / d_rot) / rope.get("factor", 1.0)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * g[None, :]
    x = entry["x"]
    first = np.arange(n) if layout == "half" else 2 * np.arange(n)
    second = first + n if layout == "half" else first + 1
    ref = x.copy()
    ref[:, first] = x[:, first] * np.cos(angles) - x[:, second] * np.sin(angles)
    ref[:, second] = x[:, first] * np.sin(angles) + x[:, second] * np.cos(angles)
    error = np.max(np.abs(entry["out"] - ref), axis=1)
    scale = np.max(np.abs(x), axis=1)
    eps32 = float(np.finfo(np.float32).eps)
    own = {"float64": float(np.finfo(np.float64).eps), "float32": eps32, "bfloat16": 2.0**-7, "float16": 2.0**-10}
    # float32 angles and cos/sin (position x g rounded, its argument reduction) plus a few roundings per product
    allowance = scale * (8 * max(own[dtype], eps32) + angles.max(axis=1) * (3 + math.log(1 / g.min())) * eps32)
    return error, allowance


def _replay(peers: dict, adapter: str):
    """conform run on the stored outputs of one adapter: each case's output looked up by its parameters, and
    given only when the input conform passes is the stored one."""
    stored = {e["key"]: e for e in peers[adapter]}

    def looked_up(x, positions, config):
        entry = stored[heavy.key(config["layout"], x.dtype.name, positions, config)]
        if not np.array_equal(x.astype(np.float64), entry["x"]):
            raise ValueError("no stored output for this input")
        return entry["out"]

    return conformance.run(looked_up, adapter, **heavy.PEERS[adapter][1])


@pytest.fixture
def without_heavy_packages(monkeypatch):
    for module in [m for m in sys.modules if m.split(".")[0] in ("torchtune", "keras", "keras_hub")]:
        monkeypatch.delitem(sys.modules, module)
    for package in ("torchtune", "keras", "keras_hub"):
        monkeypatch.setitem(sys.modules, package, None)


@pytest.mark.parametrize("adapter", list(heavy.PEERS))
def test_stored_heavy_peer_outputs_get_the_reference_verdict_per_case(adapter, without_heavy_packages):
    """torchtune and keras-hub, checked once (tests/helpers/store_heavy_peers.py): their stored outputs replayed
    through conform get, case by case, the verdict of a float64 rotation computed here; both pass what they support."""
    peers = heavy.load()
    report = _replay(peers, adapter)
    ran = [r for r in report.results if r.verdict != "skipped"]
    assert not report.errors and len(ran) == report.cases == len(peers[adapter]) > 0
    entries = {e["label"]: e for e in peers[adapter]}
    for r in ran:
        error, allowance = _independent_rows(entries[r.label])
        expected = "pass" if np.all(error <= allowance) else "fail"
        assert r.verdict == expected, (r.label, r.verdict, expected, r.bugs)
    assert report.bugs == {}, f"{adapter} matches known bugs: {report.bugs}"  # a signature is named, not fixed
    assert report.conformant, [r.label for r in report.failed]
    layout = heavy.PEERS[adapter][1]["layouts"][0]
    assert report.layouts == {layout: layout}


@pytest.mark.parametrize("adapter", list(heavy.PEERS))
def test_stored_heavy_peer_outputs_reject_a_corrupted_vector(adapter, without_heavy_packages):
    """One stored output row corrupted (the rotation of one pair undone at position 1000): that case, and only it,
    fails conform and the independent reference alike; a changed input finds no stored output."""
    peers = heavy.load()
    target = next(i for i, e in enumerate(peers[adapter]) if "float32" in e["label"])
    entry = dict(peers[adapter][target])
    layout, _, positions, _ = json.loads(entry["key"])
    row, (a, b) = positions.index(1000), ((0, 1) if layout == "interleaved" else (0, entry["x"].shape[1] // 2))
    entry["out"] = entry["out"].copy()
    entry["out"][row, [a, b]] = entry["x"][row, [a, b]]  # pair 0 (1000 rad at g = 1) left unrotated
    peers[adapter][target] = entry
    error, allowance = _independent_rows(entry)
    assert not np.all(error <= allowance)
    report = _replay(peers, adapter)
    assert [r.label for r in report.failed] == [entry["label"]]
    assert report.failed[0].outside_float32_angle_bound == 1

    peers = heavy.load()
    peers[adapter][target] = {**peers[adapter][target], "x": peers[adapter][target]["x"] + 1.0}
    report = _replay(peers, adapter)
    assert [r.label for r in report.failed] == [entry["label"]] and "no stored output" in report.errors[0]
