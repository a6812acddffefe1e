"""The configuration zoo: built-in schedules against peer vectors, user configs, the CLI."""

import json

import numpy as np
import pytest

from ropelab.cli import app as cli
from ropelab.checks import reference, tolerances
from ropelab.checks.findings import zoo, zoo_parity, zoo_verdicts
from ropelab.checks.findings.zoo import summarise
from ropelab.checks.findings.zoo_parity import PARITY_FILE as hf_parity_file_path
from ropelab.constructions import configs, frequencies


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    return exit_info.value.code, capsys.readouterr().out


def peer(name):
    return next(e for e in reference.peer_vectors()["hf_inv_freq"] if e["name"] == name)


@pytest.mark.parametrize("config", [c for c in configs.ZOO if c.peer], ids=lambda c: c.name)
def test_zoo_schedules_equal_peer_vectors(config):
    entry = peer(config.peer)
    ours, attention = config.schedule()
    ref = np.asarray(entry["inv_freq"])
    if entry["head_dim"] == config.head_dim:
        assert entry["params"]["rope_theta"] == config.parameters["rope_theta"]
    rotating = ours[: ref.size]  # partial rotary lists its prefix only; the rest do not rotate
    assert np.all(ours[ref.size:] == 0)
    bound = tolerances.peer_frequencies(config.parameters["rope_theta"], np.float32).value
    np.testing.assert_allclose(rotating, ref, rtol=bound, atol=0)
    assert attention == pytest.approx(entry["attention_scaling"], abs=4 * tolerances.EPS64)


def test_zoo_entry_without_peer_is_plain_linear_scaling():
    uncovered = [c for c in configs.ZOO if not c.peer]
    assert [c.name for c in uncovered] == ["Gemma 3 global (4B/12B)"]
    np.testing.assert_array_equal(uncovered[0].schedule()[0], frequencies.linear(256, 1e6, 8.0))


def test_zoo_rows_state_the_known_numbers():
    gemma = summarise(configs.ZOO_BY_NAME["Gemma 7B"])
    assert gemma.slowest_breaks_at == 14619 and gemma.head_scale_sq == pytest.approx(23.6, abs=0.05)
    llama2 = summarise(configs.ZOO_BY_NAME["Llama 2 7B"])
    assert 2 * llama2.critical_pairs == 92 and llama2.critical_index == pytest.approx(45.03, abs=0.01)
    gemma4 = summarise(configs.with_context(configs.ZOO_BY_NAME["Gemma 4 global"], 4096))
    assert gemma4.unrotated_pairs == 192 and gemma4.unbroken_channels >= 192
    assert gemma4.slowest_breaks_at < 100  # its slowest kept pair turns fast: g = 1e6^(-126/512)


NATIVE_JSON = {"models": [
    {"name": "tiny rope", "head_dim": 64, "context": 2048, "rope_theta": 10000.0},
    {"name": "tiny p-rope", "head_dim": 64, "context": 2048, "rope_theta": 10000.0, "rope_type": "proportional",
     "partial_rotary_factor": 0.75},
]}

NATIVE_TOML = """
[[model]]
name = "yarn toml"
head_dim = 128
context = 65536
rope_theta = 1e6
rope_type = "yarn"
factor = 4.0
original_max_position_embeddings = 16384
"""

HF_LLAMA31 = {"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "num_hidden_layers": 32,
              "max_position_embeddings": 131072, "rope_theta": 500000.0,
              "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                               "original_max_position_embeddings": 8192, "rope_type": "llama3"}}
HF_GEMMA4 = {"model_type": "gemma4_text", "head_dim": 256, "global_head_dim": 512, "sliding_window": 512,
             "num_hidden_layers": 30,
             "max_position_embeddings": 131072,
             "rope_parameters": {"full_attention": {"partial_rotary_factor": 0.25, "rope_theta": 1000000.0,
                                                    "rope_type": "proportional"},
                                 "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"}}}
HF_GEMMA3_LEGACY = {"model_type": "gemma3_text", "head_dim": 128, "rope_theta": 1000000.0, "num_hidden_layers": 62,
                    "rope_local_base_freq": 10000.0, "sliding_window": 1024, "max_position_embeddings": 131072,
                    "rope_scaling": {"rope_type": "linear", "factor": 8.0}}
HF_NEOX = {"model_type": "gpt_neox", "hidden_size": 768, "num_attention_heads": 12, "num_hidden_layers": 12,
           "rotary_pct": 0.25,
           "rotary_emb_base": 10000, "max_position_embeddings": 2048}
HF_QWEN_YARN = {"model_type": "qwen2", "hidden_size": 3584, "num_attention_heads": 28, "num_hidden_layers": 28,
                "rope_theta": 1000000.0,
                "max_position_embeddings": 32768,
                "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}


def test_hf_configs_reproduce_the_peer_schedules():
    cases = [(HF_LLAMA31, "Llama 3.1 8B (llama3 scaling)", 0), (HF_GEMMA4, "Gemma 4 global (proportional 0.25)", 0),
             (HF_GEMMA3_LEGACY, "Gemma 3 global (linear x8)", 0), (HF_NEOX, "Pythia / GPT-NeoX partial rotary 25%", 0),
             (HF_QWEN_YARN, "YaRN x4 (Qwen2.5-style)", 0)]
    for data, name, index in cases:
        parsed = configs.parse_configs(data, "model")
        ours = parsed[index].schedule()[0]
        ref = np.asarray(peer(name)["inv_freq"])
        np.testing.assert_allclose(ours[: ref.size], ref, rtol=1e-6, atol=0)
    gemma4 = configs.parse_configs(HF_GEMMA4, "g4")
    assert [(c.name, c.head_dim, c.context) for c in gemma4] == [
        ("g4 [full_attention]", 512, 131072), ("g4 [sliding_attention]", 256, 512)]
    gemma3 = configs.parse_configs(HF_GEMMA3_LEGACY, "g3")
    assert [(c.name, c.context) for c in gemma3] == [("g3 [full_attention]", 131072), ("g3 [sliding_attention]", 1024)]
    assert configs.parse_configs(HF_QWEN_YARN, "q")[0].context == 131072  # factor x original


def test_zoo_cli_with_user_files(tmp_path, capsys):
    native = tmp_path / "models.json"
    native.write_text(json.dumps(NATIVE_JSON))
    toml = tmp_path / "models.toml"
    toml.write_text(NATIVE_TOML)
    hf_dir = tmp_path / "llama31"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text(json.dumps(HF_LLAMA31))
    out_json = tmp_path / "rows.json"
    code, out = run(capsys, "zoo", "--only", "--config", str(native), "--config", str(toml), "--config",
                    str(hf_dir / "config.json"), "--context", "4096", "--json", str(out_json))
    assert code == 0, out
    for name in ("tiny rope", "tiny p-rope", "yarn toml", "llama31"):
        assert name in out
    rows = {r["name"]: r for r in json.loads(out_json.read_text())["models"]}
    assert all(r["context"] == 4096 for r in rows.values())
    assert rows["tiny p-rope"]["unrotated_pairs"] == 8 and rows["tiny p-rope"]["slowest_breaks_at"] is not None
    assert rows["tiny rope"]["unrotated_pairs"] == 0 and rows["tiny rope"]["unbroken_channels"] < 32


def test_zoo_cli_builtin_table_and_search(tmp_path, capsys):
    rows = tmp_path / "zoo.json"
    code, out = run(capsys, "zoo", "--context", "1024", "--json", str(rows))
    assert code == 0, out
    assert [r["name"] for r in json.loads(rows.read_text())["models"]] == [c.name for c in configs.ZOO]
    assert "unbroken" in out and "Llama 2 7B" in out
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"name": "fast", "head_dim": 4, "context": 100, "rope_theta": 100.0}))
    code, out = run(capsys, "zoo", "--only", "--config", str(small), "--search", "1000", "--json", str(rows))
    assert code == 0, out
    (row,) = json.loads(rows.read_text())["models"]
    # g = 100^(-2/4) = 0.1 is the slowest pair: floor(pi/0.2 + 3/2) + 1 = 18, found by streaming too
    assert row["searched_break"] == row["slowest_breaks_at"] == 18 and row["search_limit"] == 1000


@pytest.mark.parametrize("entry,message", [
    ({"name": "no theta", "head_dim": 64, "context": 10}, "rope_theta (the base wavelength) is missing"),
    ({"name": "magic", "head_dim": 64, "context": 10, "rope_theta": 1e4, "rope_type": "ntk-magic"},
     "rope_type must be one of"),
    ({"name": "big p", "head_dim": 64, "context": 10, "rope_theta": 1e4, "rope_type": "proportional",
      "partial_rotary_factor": 1.5}, "partial_rotary_factor must be a number in [0, 1], got 1.5"),
    ({"name": "negative p", "head_dim": 64, "context": 10, "rope_theta": 1e4, "partial_rotary_factor": -0.1},
     "partial_rotary_factor must be a number in [0, 1]"),
    ({"name": "odd", "head_dim": 63, "context": 10, "rope_theta": 1e4}, "head_dim (head dimension) must be an even"),
    ({"name": "low base", "head_dim": 64, "context": 10, "rope_theta": 1.0}, "rope_theta (base wavelength) must be"),
    ({"name": "no context", "head_dim": 64, "rope_theta": 1e4}, "missing context"),
    ({"name": "yarn", "head_dim": 64, "context": 10, "rope_theta": 1e4, "rope_type": "yarn"}, "needs 'factor'"),
    ({"model_type": "llama", "rope_theta": 1e4, "max_position_embeddings": 10}, "cannot tell the head dimension"),
    ({"something": 1}, "not a model list"),
])
def test_bad_configs_get_clear_errors(tmp_path, capsys, entry, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(entry))
    code, out = run(capsys, "zoo", "--only", "--config", str(path))
    assert code == 2
    assert "bad config" in out and message in " ".join(out.split())
    with pytest.raises(ValueError, match="model|head|theta|rope|context|partial"):
        zoo.load_configs(path)


def test_unreadable_and_malformed_files(tmp_path, capsys):
    code, out = run(capsys, "zoo", "--only", "--config", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read config file" in out
    broken = tmp_path / "broken.toml"
    broken.write_text("[[model]\nname = ")
    code, out = run(capsys, "zoo", "--only", "--config", str(broken))
    assert code == 2 and "not valid TOML" in out
    code, out = run(capsys, "zoo", "--context", "1")
    assert code == 2 and "--context must be an integer >= 2" in out


PARITY = json.loads(hf_parity_file_path.read_text())["models"]


@pytest.mark.parametrize("name", ["Gemma 4", "Llama 4 Scout", "Mistral 7B v0.1", "DeepSeek-V3", "Phi-3.5 mini",
                                  "GPT-OSS 120B", "Llama 2 7B dynamic NTK x4"])
def test_real_configs_load_in_the_zoo_cli(name, tmp_path, capsys):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(PARITY[name]["config"]))
    rows_path = tmp_path / "rows.json"
    code, out = run(capsys, "zoo", "--only", "--config", str(path), "--json", str(rows_path))
    assert code == 0, out
    names = [r["name"].replace("model", name, 1) for r in json.loads(rows_path.read_text())["models"]]
    assert sorted(names) == sorted(PARITY[name]["rows"])
    for row in json.loads(rows_path.read_text())["models"]:
        assert row["name"] in out  # "[full_attention]" and the like are printed, not eaten as markup


def test_zoo_rows_per_layer_type_read_what_a_builder_needs(tmp_path):
    gemma4 = {c.name: summarise(c) for c in configs.parse_configs(PARITY["Gemma 4"]["config"], "Gemma 4")}
    full, local = gemma4["Gemma 4 [full_attention]"], gemma4["Gemma 4 [sliding_attention]"]
    assert (full.head_dim, full.rotating_pairs, full.unrotated_pairs, full.layers) == (512, 64, 192, 5)
    assert (local.head_dim, local.context, local.sequence_length, local.window, local.layers) == (256, 512, 131072,
                                                                                                  512, 25)
    deepseek = summarise(configs.parse_configs(PARITY["DeepSeek-V3"]["config"], "DeepSeek-V3")[0])
    assert (deepseek.head_dim, deepseek.attention_factor, deepseek.layout) == (64, 1.0, "interleaved")
    mistral = summarise(configs.parse_configs(PARITY["Mistral 7B v0.1"]["config"], "Mistral")[0])
    assert (mistral.context, mistral.sequence_length) == (4096, 32768)
    scout = {c.name: summarise(c) for c in configs.parse_configs(PARITY["Llama 4 Scout"]["config"], "Scout")}
    nope = scout["Scout [full_attention, NoPE]"]
    assert nope.rotating_pairs == 0 and nope.unbroken_channels == 64 and nope.critical_index is None
    assert scout["Scout [chunked_attention]"].context == 8192


def test_layer_type_suffixes_survive_the_table(tmp_path, capsys):
    path = tmp_path / "g4.json"
    path.write_text(json.dumps(HF_GEMMA4))
    code, out = run(capsys, "zoo", "--only", "--config", str(path))
    assert code == 0
    assert "g4 [full_attention]" in out and "g4 [sliding_attention]" in out


# ---------------------------------------------------------------- every layer's RoPE, read as transformers does

LAYER_FAMILIES = ["Command R7B (Cohere2)", "EXAONE 4.0 32B", "Llama 4 Scout", "SmolLM3 3B", "Gemma 3 4B", "Gemma 4",
                  "GPT-OSS 120B", "Qwen2 7B, sliding from layer 20"]


@pytest.mark.parametrize("name", LAYER_FAMILIES)
def test_per_layer_reading_matches_transformers(name):
    """Stored from transformers' config classes and attention modules: each layer's type and whether it applies
    RoPE; ropelab reads the same from the saved config and from one without the derived fields."""
    entry = PARITY[name]
    assert "layers" in entry and len(entry["layers"]) == entry["config"].get(
        "num_hidden_layers", entry["config"].get("text_config", {}).get("num_hidden_layers"))
    rows = zoo_parity.layer_parity(name, entry["config"], entry["layers"])
    assert [r.row for r in rows] == ["layers as saved", "layers derived"] and all(r.agrees for r in rows), rows
    parsed = configs.parse_configs(entry["config"], name)
    for layer_type in {t for t, _ in entry["layers"]}:
        for rope in (True, False):
            count = sum(1 for t, r in entry["layers"] if (t, r) == (layer_type, rope))
            shown = sum(c.layers for c in parsed if (f"[{layer_type}" in c.name or len(parsed) == 1) and c.rotary == rope)
            assert shown == count or (count == 0 and shown == 0), (name, layer_type, rope, parsed)


def test_cohere2_full_attention_layers_have_no_rope(tmp_path, capsys):
    """A Cohere2 config.json with sliding_window_pattern 4 and no layer_types: 24 sliding layers with RoPE, 8 without."""
    raw = {"model_type": "cohere2", "hidden_size": 4096, "num_attention_heads": 32, "num_hidden_layers": 32,
           "sliding_window": 4096, "sliding_window_pattern": 4, "rope_theta": 50000.0, "max_position_embeddings": 8192}
    rows = {c.name: c for c in configs.parse_configs(raw, "c")}
    assert rows["c [sliding_attention]"].rotary and rows["c [sliding_attention]"].layers == 24
    assert not rows["c [full_attention, NoPE]"].rotary and rows["c [full_attention, NoPE]"].layers == 8
    with_types = {**raw, "layer_types": ["sliding_attention"] * 3 + ["full_attention"]}
    with_types["num_hidden_layers"] = 4
    assert [c.name for c in configs.parse_configs(with_types, "c") if not c.rotary] == ["c [full_attention, NoPE]"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    code, out = run(capsys, "zoo", "--only", "--config", str(path))
    assert code == 0 and "NoPE" in out


def test_planted_misreadings_fail_layer_parity(monkeypatch):
    """Forget Cohere2's NoPE rule, or its class's default pattern, and the parity rows say so."""
    entry = PARITY["Command R7B (Cohere2)"]
    monkeypatch.setattr(configs, "NOPE_FULL_ATTENTION_TYPES", ())
    assert not any(r.agrees for r in zoo_parity.layer_parity("c", entry["config"], entry["layers"]))
    monkeypatch.undo()
    monkeypatch.setattr(configs, "PATTERN_DEFAULTS", {})
    rows = {r.row: r.agrees for r in zoo_parity.layer_parity("c", entry["config"], entry["layers"])}
    assert rows == {"layers as saved": True, "layers derived": False}
    smol = PARITY["SmolLM3 3B"]
    monkeypatch.setattr(configs, "NO_ROPE_INTERVAL_TYPES", ())
    assert not zoo_parity.layer_parity("s", smol["config"], smol["layers"])[1].agrees


@pytest.mark.parametrize("config,message", [
    ({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 2, "rope_theta": 1e4,
      "max_position_embeddings": 64}, "num_hidden_layers is missing"),
    ({"model_type": "llama4_text", "head_dim": 64, "num_hidden_layers": 4, "rope_theta": 1e4,
      "max_position_embeddings": 64, "no_rope_layers": [1, 0]}, "no_rope_layers must be a list of 4 entries 0 or 1"),
    ({"model_type": "gemma3_text", "head_dim": 64, "num_hidden_layers": 4, "rope_theta": 1e4, "sliding_window": 8,
      "max_position_embeddings": 64, "layer_types": ["full_attention"] * 3}, "layer_types has 3 entries but"),
    ({"model_type": "cohere2_moe", "head_dim": 64, "num_hidden_layers": 2, "rope_theta": 1e4, "sliding_window": 8,
      "max_position_embeddings": 64, "layer_types": ["sliding_attention", "full_attention"]},
     "mlp_layer_types is missing"),
])
def test_what_cannot_be_read_is_refused_not_defaulted(config, message, tmp_path, capsys):
    with pytest.raises(ValueError, match=message):
        configs.parse_configs(config, "m")
    path = tmp_path / "m.json"
    path.write_text(json.dumps(config))
    code, out = run(capsys, "zoo", "--only", "--config", str(path))
    assert code == 2 and message in " ".join(out.split())


# ---------------------------------------------------------------- the verdict: is the base large enough?

def test_base_rules_meet_the_criterion_they_state():
    """The base each rule names is the smallest that passes that rule's own test: just above it the K-th slowest
    channel qualifies, just below it does not (checked on the schedule itself, not the formula)."""
    from ropelab.theory import semantic_channels as th_sc

    for name, context, keep in [("Llama 2 7B", 32768, 1), ("Llama 2 7B", 131072, 4), ("Gemma 7B", 8192, 2),
                                ("Gemma 3 global (27B)", 1_000_000, 1)]:
        config = configs.ZOO_BY_NAME[name]
        shape = zoo_verdicts.base_shape(config)
        for rule in ("thm6.1", "critical"):
            base = zoo_verdicts.base_to_keep(shape, context, keep, rule)
            for theta, meets in ((base * 1.001, True), (base * 0.999, False)):
                params = {**config.parameters, "rope_theta": theta}
                freqs, _ = frequencies.from_hf_parameters(config.head_dim, params, context)
                kth = np.sort(freqs)[keep - 1]
                survives = th_sc.semantic_range(kth) > context if rule == "thm6.1" else 2 * np.pi / kth > context
                assert survives == meets, (name, rule, theta)


def test_men_base_keeps_the_cosine_sum_non_negative():
    from ropelab.constructions import base_bounds

    base = zoo_verdicts.men_base(128, 4096)
    assert base_bounds.first_negative_distance(np.array([base]), 128, 4096)[0] == -1
    assert base_bounds.first_negative_distance(np.array([base * 0.99]), 128, 4096)[0] >= 0


def test_zoo_context_ends_the_question_with_a_verdict_per_layer_type(tmp_path, capsys):
    """Is Llama 2's base large enough for 32k? The verdict says no, gives each rule's base, then the table."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**HF_LLAMA31, "rope_scaling": None, "rope_theta": 10000.0,
                                "max_position_embeddings": 4096}))
    out_json = tmp_path / "rows.json"
    code, out = run(capsys, "zoo", str(path), "--context", "32768", "--json", str(out_json))
    assert code == 0, out
    flat = " ".join(out.split())
    (verdict,) = json.loads(out_json.read_text())["verdicts"]
    assert verdict in flat and flat.index(verdict) < flat.index("ropelab zoo --context 32768")
    shape = zoo_verdicts.base_shape(configs.parse_configs(json.loads(path.read_text()), "x")[0])
    assert "0 of 64 channels survive the whole 32,768 tokens by Thm 6.1's breaking context" in verdict
    assert "'the slowest channel survives' is NOT met" in verdict
    for rule, words in (("thm6.1", "by Thm 6.1's breaking context"), ("critical", "by the critical-index rule")):
        assert f"a base >= {zoo_verdicts._base(zoo_verdicts.base_to_keep(shape, 32768, 1, rule))} {words}" in verdict
    assert f"r <= 32,768) first holds at base {zoo_verdicts._base(zoo_verdicts.men_base(128, 32768))} on a grid of ratio e^0.1" in verdict
    code, out = run(capsys, "zoo", str(path), "--context", "4096", "--keep-channels", "12")
    assert code == 0 and "'at least 12 channels survive' is NOT met" in " ".join(out.split())
    code, out = run(capsys, "zoo", str(path), "--context", "4096", "--keep-channels", "0")
    assert code == 2 and "--keep-channels must be an integer >= 1" in out


def test_verdicts_for_nope_and_scaled_layers_say_what_applies():
    scout = {c.name: c for c in configs.parse_configs(PARITY["Llama 4 Scout"]["config"], "Scout")}
    nope = configs.with_context(scout["Scout [full_attention, NoPE]"], 65536)
    assert "no RoPE, so all 64 channels are position-free" in zoo_verdicts.verdict(summarise(nope), nope)
    chunked = configs.with_context(scout["Scout [chunked_attention]"], 65536)
    text = zoo_verdicts.verdict(summarise(chunked), chunked)
    assert "8,192 tokens of its window (in a sequence of 65,536)" in text and "no base is given" in text
