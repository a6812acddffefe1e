"""Stand-in figures for the tests of the site and the report.

Drawing every figure of the package takes tens of seconds and is tested where each figure is
defined; the site and the report only need to embed whatever ``render_figures`` returns. So
these tests draw one figure for real and a small labelled placeholder PNG for every other.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from ropelab import catalogue  # noqa: E402
from ropelab.paper_figs import FIGURES  # noqa: E402

DRAWN_FOR_REAL = ("frequency_spectra",)


def placeholder_png(path: Path, label: str) -> Path:
    fig, ax = plt.subplots(figsize=(3, 1))
    ax.text(0.5, 0.5, f"placeholder: {label}", ha="center", va="center")
    ax.set_axis_off()
    fig.savefig(path, format="png", dpi=60)
    plt.close(fig)
    return path


def stub_render_figures(real_render=catalogue.render_figures):
    """A ``render_figures`` that draws ``DRAWN_FOR_REAL`` and placeholders for the rest."""

    def render(out_dir, names=None):
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        chosen = list(FIGURES) if names is None else list(names)
        drawn = real_render(out_dir, [n for n in chosen if n in DRAWN_FOR_REAL])
        return {name: drawn[name] if name in drawn else [placeholder_png(out_dir / f"{name}.png", name)]
                for name in chosen}

    return render


# A Gemma 3 270M-shaped model summary with invented numbers: the model figures' layout is
# tested with it where the model extra (and the model) are not installed. The shapes and the
# token strings (long words, newlines, the SentencePiece space mark) are those of the real one.
STUB_TOKENS = ["<bos>", "The", "▁old", "▁lighthouse", "▁keeper", "▁climbed", "▁the", "▁stairs", "\n", "▁every",
               "▁evening", "▁to", "▁light", "▁the", "▁lamp", "▁for", "▁ships", "."]


def stub_gemma_summary(layers: int = 18, heads: int = 4, pairs: int = 128, seed: int = 0) -> dict:
    """A model summary with the keys and shapes the Gemma figures read, filled with seeded noise."""
    import numpy as np

    from ropelab.checks.reference import paper_facts

    rng = np.random.default_rng(seed)
    n = len(STUB_TOKENS)
    thetas = [1e6 if (layer + 1) % 6 == 0 else 1e4 for layer in range(layers)]

    def causal_map():
        weights = np.tril(rng.random((n, n)))
        return (weights / weights.sum(axis=1, keepdims=True)).tolist()

    def head(layer, index, score):
        return {"layer": layer, "head": index, "score": score, "prompt": "English", "tokens": STUB_TOKENS}

    names = {"diagonal": (8, 0), "previous_token": (2, 3), "last_layer_diagonal": (layers - 1, 1)}
    table_tokens = STUB_TOKENS[:8]
    return {
        "model": {"label": "Gemma 3 270M (stub numbers)", "layers": layers, "thetas": thetas,
                  "query_heads": heads, "kv_heads": 1, "head_dim": 2 * pairs},
        "profiles": {name: rng.gamma(2.0, 2.0, (layers, pairs)).tolist() for name in ("q", "k", "v")},
        "head_profiles": {"q": rng.gamma(2.0, 2.0, (layers, heads, pairs)).tolist(),
                          "k": rng.gamma(2.0, 2.0, (layers, 1, pairs)).tolist(),
                          "v": rng.gamma(2.0, 2.0, (layers, 1, pairs)).tolist()},
        "head_scores": {name: rng.random((layers, heads)).tolist() for name in ("diagonal", "previous_token", "bos")},
        "band_onsets": rng.integers(0, pairs, layers).tolist(),
        "chosen_heads": {name: {"layer": layer, "head": index, "score": 0.5} for name, (layer, index) in names.items()},
        "attention_maps": {name: {**head(layer, index, 0.5), "weights": causal_map()}
                           for name, (layer, index) in names.items()},
        "per_token": {name: {**head(layer, index, 0.5), "q": rng.gamma(2.0, 2.0, (n, pairs)).tolist(),
                             "k": rng.gamma(2.0, 2.0, (n, pairs)).tolist()}
                      for name, (layer, index) in names.items()},
        "tables": {name: {**head(layer, index, 0.5), "tokens": table_tokens,
                          **{key: (rng.normal(size=8) * 30).tolist()
                             for key in ("upper_bound", "diagonal", "previous_token", "previous_bound")}}
                   for name, (layer, index) in names.items()},
        "paper": {"tables3to5": paper_facts()["tables3to5_gemma7b_activations"]},
        "head_type_views": {kind: {**head(layer, index, 0.5), "type": kind, "attention": causal_map(),
                                   "logits": np.where(np.tril(np.ones((n, n))) > 0, rng.normal(size=(n, n)) * 5,
                                                      np.nan).tolist(),
                                   "q": rng.gamma(2.0, 2.0, (n, pairs)).tolist(),
                                   "k": rng.gamma(2.0, 2.0, (n, pairs)).tolist(), "keyed_tokens": []}
                            for kind, (layer, index) in {"diagonal": (8, 0), "previous_token": (2, 3),
                                                         "content": (1, 2)}.items()},
    }
