"""Outputs name the model analysed; the cross-family table reads committed reports and refuses bad ones."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from ropelab.checks.findings import model_comparison, model_identity, onset_substitute
from ropelab.cli import app as cli


def tiny_gguf(path, name: str | None, arch: str = "llama"):
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    if name is not None:
        writer.add_name(name)
    writer.add_token_list(["a", "b", "c"] * 50)  # a string array before nothing else: the walker must step over it
    writer.add_tensor("w", np.arange(8, dtype=np.float32))
    writer.write_header_to_file(), writer.write_kv_data_to_file(), writer.write_tensors_to_file(), writer.close()
    return path


def test_model_is_named_from_gguf_metadata_and_hf_config(tmp_path):
    tiny_gguf(tmp_path / "m.gguf", "Tiny Llama 1M")
    who = model_identity.describe(tmp_path, "m.gguf")
    assert (who["name"], who["family"], who["file"]) == ("Tiny Llama 1M", "llama", "m.gguf")
    assert "gemma" not in who["label"].lower()
    tiny_gguf(tmp_path / "unnamed.gguf", None, arch="gemma3")
    assert model_identity.describe(tmp_path, "unnamed.gguf")["name"] == "unnamed"  # falls back to the file name
    (tmp_path / "notgguf.gguf").write_bytes(b"GGML" + bytes(20))
    with pytest.raises(ValueError, match="not a GGUF file"):
        model_identity.describe(tmp_path, "notgguf.gguf")
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2", "_name_or_path": "Qwen/Qwen2-0.5B"}))
    assert model_identity.describe(folder)["family"] == "qwen2"
    (folder / "config.json").write_text(json.dumps({"_name_or_path": "x"}))
    with pytest.raises(ValueError, match="model_type"):
        model_identity.describe(folder)


def test_fixed_frequency_prediction_by_a_second_route():
    # the paper's Gemma 7B onset frequency 1e4^-0.8 read on base 1e5 with 32 pairs: 1e5^(-i/32) = 1e4^-0.8
    i = np.log(1e4 ** 0.8) / np.log(1e5) * 32
    assert onset_substitute.predicted_index(onset_substitute.onset_frequency(102.4, 1e4, 128), 1e5, 32) == pytest.approx(i)
    with pytest.raises(ValueError, match="finite"):
        onset_substitute.fixed_frequency_onset(np.array([1.0, np.nan]), np.ones((3, 2)), 1e5, 32)


def committed():
    return [model_comparison.read_result(f) for f in _folders()]


def _folders():
    from importlib import resources
    from pathlib import Path

    root = Path(str(resources.files("ropelab.results")))
    return [root / name for name in model_comparison.COMMITTED]


def test_committed_results_compare_and_name_their_models():
    comparison = model_comparison.committed_comparison()
    names = [m["name"] for m in comparison["models"]]
    assert "Gemma 3 270M" in names[0] and "gemma" not in names[1].lower()
    assert [r["finding"] for r in comparison["rows"]] == list(model_comparison.PAPER)
    header, rows = model_comparison.table_rows(comparison)
    assert all(len(row) == len(header) for row in rows)
    for r in comparison["rows"]:
        assert len(r["models"]) == 2 and r["sentence"].endswith(".")
        assert all(cell.split(":")[0].removesuffix(" (substitute)") in model_comparison.OUTCOMES for cell in r["models"])
    smol = json.loads((_folders()[1] / "summary.json").read_text())
    assert smol["model"]["family"] == "llama" and "gemma" not in smol["model"]["label"].lower()
    assert not any("gemma" in p.name for p in _folders()[1].iterdir())


def test_across_families_sentence_follows_the_outcomes():
    a, b = committed()
    key = "values_show_no_frequency_pattern"
    both = [model_comparison.ModelResult(r.folder, r.name, r.family, {key: {**r.findings[key], "outcome": "holds", "details": {}}})
            for r in (a, b)]
    assert model_comparison.across_families(both, key).startswith("Holds in every family")
    split = copy.deepcopy(both)
    split[1].findings[key]["outcome"] = "does not hold"
    assert model_comparison.across_families(split, key).startswith("One family's")
    for r in split:
        r.findings[key]["outcome"] = "does not hold"
    assert model_comparison.across_families(split, key).startswith("Holds in none")
    split[1].findings[key].update(outcome="holds", details={"substitute": True})
    assert model_comparison.across_families(split, key).startswith("Not the same question")


def test_compare_refuses_missing_report_finding_or_outcome(tmp_path):
    good = _folders()[1]
    with pytest.raises(ValueError, match="two results folders"):
        model_comparison.compare([good])
    with pytest.raises(ValueError, match="does not exist"):
        model_comparison.compare([good, tmp_path])
    report = json.loads((good / "summary.json").read_text())
    report["findings"] = [f for f in report["findings"] if f["id"] != "values_show_no_frequency_pattern"]
    (tmp_path / "summary.json").write_text(json.dumps(report))
    with pytest.raises(ValueError, match="values_show_no_frequency_pattern"):
        model_comparison.compare([good, tmp_path])
    report = json.loads((good / "summary.json").read_text())
    report["findings"][0]["outcome"] = "passes"
    (tmp_path / "summary.json").write_text(json.dumps(report))
    with pytest.raises(ValueError, match="'passes'"):
        model_comparison.compare([good, tmp_path])


def test_compare_command_prints_table_and_refuses_bad_input_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["analyze-model", "--compare", *map(str, _folders())])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    assert "across model families" in out and "App C" in out
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["analyze-model", "--compare", str(_folders()[0]), str(tmp_path)])
    out = capsys.readouterr().out
    assert exit_info.value.code == 2 and len(out.strip().splitlines()) == 1 and "summary.json" in out
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["analyze-model", str(tmp_path)])
    assert exit_info.value.code == 2 and "--compare" in capsys.readouterr().out


def test_site_page_is_generated_from_the_committed_results_and_listed():
    import importlib.util
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    name = "ropelab_docs_site"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, root / "docs" / "hooks" / "site.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    site = sys.modules[name]
    page = site.model_families_page()
    comparison = model_comparison.committed_comparison()
    for row in comparison["rows"]:
        assert f"| {site.text(row['section'])} | {site.text(row['finding'])} |" in page
    assert "ropelab analyze-model --compare results/gemma3_270m results/smollm2_135m" in page
    assert {"Across model families": "model-families.md"} in site.navigation([], {}, [])
