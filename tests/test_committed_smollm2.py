"""The committed SmolLM2-135M summary, recomputed from the stored reductions of its captures.

``results/smollm2_135m/reductions.npz`` holds per prompt, layer, head and pair the token sums of
the pair norms, the attention masses and the band shares of each head's margins (a few hundred
kB, not the queries and keys). The library functions that wrote ``summary.json`` recompute its
point statistics from them here, so the committed numbers cannot drift from the code.
"""

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from ropelab.checks.findings import model_reductions

FOLDER = Path(str(resources.files("ropelab.results"))) / "smollm2_135m"


@pytest.fixture(scope="module")
def committed():
    summary = json.loads((FOLDER / "summary.json").read_text())
    with np.load(FOLDER / "reductions.npz") as data:
        red = {k: data[k] for k in data.files}
    return summary, red


def test_reductions_are_small_and_match_the_model(committed):
    summary, red = committed
    assert (FOLDER / "reductions.npz").stat().st_size < 3_000_000
    m = summary["model"]
    assert red["q_abs"].shape[1:] == (m["layers"], m["query_heads"], m["head_dim"] // 2)
    assert red["k_abs"].shape[1:] == (m["layers"], m["kv_heads"], m["head_dim"] // 2)
    assert dict(zip(red["prompts"].tolist(), red["tokens"].tolist())) == {
        name: p["n_tokens"] - 1 for name, p in summary["prompts"].items()}  # non-BOS tokens per prompt


def test_committed_summary_recomputes_from_reductions(committed):
    summary, red = committed
    m = summary["model"]
    again = model_reductions.recompute(red, summary["head_types"], m["head_dim"], summary["layer_contexts"])
    findings = {f["id"]: f for f in summary["findings"]}
    details = findings["low_frequencies_carry_largest_query_key_norms"]["details"]["layers"]
    for name in ("q", "k"):
        np.testing.assert_allclose(again["low_half_share"][name], [r["low_half_share"] for r in details[name]], rtol=1e-9)
    values = findings["values_show_no_frequency_pattern"]["details"]["layers"]
    np.testing.assert_allclose(again["low_half_share"]["v"], [r["low_half_share"] for r in values], rtol=1e-9)
    assert again["rho"] == pytest.approx(findings["positional_heads_use_highest_frequencies"]["value"], rel=1e-9)
    assert again["domain_gap"] == pytest.approx(findings["frequency_pattern_is_similar_across_domains"]["value"], rel=1e-9)
    assert again["band_onsets"] == summary["band_onsets"]
    substitute = findings["larger_base_starts_band_at_lower_pair_index"]
    assert substitute["details"]["substitute"] and np.median(again["band_onsets"]) == substitute["details"]["median_onset"]
    assert again["onset_near_critical"] == pytest.approx(findings["band_onset_near_critical_pair_index"]["value"], rel=1e-12)
    for key, test in again["margins"].items():
        assert test is not None
        assert test["value"] == pytest.approx(findings[key]["value"], rel=1e-9)
        assert test["ci95"] == pytest.approx(findings[key]["details"]["ci95"], rel=1e-9)
        assert test["p_value"] == pytest.approx(findings[key]["details"]["p_value"], rel=1e-12)


def test_recompute_refuses_damaged_reductions(committed):
    summary, red = committed
    broken = {**red, "q_abs": red["q_abs"].copy()}
    broken["q_abs"][0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="q_abs"):
        model_reductions.recompute(broken, summary["head_types"], summary["model"]["head_dim"], summary["layer_contexts"])
    # a planted slip (one prompt's key norms doubled) moves the recomputed numbers off the committed ones
    slipped = {**red, "k_abs": red["k_abs"] * np.where(np.arange(len(red["tokens"])) == 0, 2.0, 1.0)[:, None, None, None]}
    again = model_reductions.recompute(slipped, summary["head_types"], summary["model"]["head_dim"], summary["layer_contexts"])
    committed_gap = next(f for f in summary["findings"] if f["id"] == "frequency_pattern_is_similar_across_domains")["value"]
    assert again["rho"] != pytest.approx(next(f for f in summary["findings"]
                                              if f["id"] == "positional_heads_use_highest_frequencies")["value"], rel=1e-9) \
        or again["domain_gap"] != pytest.approx(committed_gap, rel=1e-9)
