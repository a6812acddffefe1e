"""Table 2 at small scale: perplexity by encoding and context, beside the paper's numbers.

Four panels from a results file of ``ropelab experiment table2``: (a) validation perplexity at
T, 2T and 4T for every variant (one dot per seed, bar at the mean); (b) the loss at each
position of a 4T window, mean over seeds, with the training length marked; (c) our perplexity
at T against the paper's Wiki perplexity; (d) the mean query-key pair norm per frequency of one
RoPE theta=10k model, high frequencies on top (as in the paper's Fig. 3), one column per head.
:func:`render` draws the package's reported ``small`` run; :func:`draw` draws any results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter, ScalarFormatter

from ._style import ENCODING_COLOURS, HEATMAP_CMAP, plt, save


def _colour(variant_id: str) -> str:
    from ropelab.checks.findings import table2

    schedule = next(v.encoding.schedule for v in table2.VARIANTS if v.id == variant_id)
    key = {"nope": "NoPE", "rope": "RoPE", "p_rope": "p-RoPE", "partial_rotary": "partial rotary",
           "reversed_p_rope": "reversed p-RoPE"}[schedule]
    return ENCODING_COLOURS[key]


def draw(results: dict, out_dir: str | Path, name: str = "table2") -> list[Path]:
    """Draw the four panels of ``results`` to ``out_dir/name.png`` and ``.pdf``."""
    from ropelab.checks.findings import table2  # needs the training extra (optax); imported on use
    from ropelab.constructions.models.transformer_usage import POSITIONAL_WEIGHT

    summary = results["summary"]["variants"]
    ids = list(table2.VARIANT_IDS)
    multiples = [str(m) for m in results["config"]["context_multiples"]]
    T = results["config"]["train"]["seq_len"]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    fig.suptitle(f"Table 2 at small scale ({results['preset']} preset, {len(results['seeds'])} seed(s), "
                 f"byte-level Shakespeare, T={T})")

    ax = axes[0, 0]
    width = 0.8 / len(multiples)
    for j, m in enumerate(multiples):
        for i, vid in enumerate(ids):
            spread = summary[vid]["perplexity"][m]
            x = i + (j - (len(multiples) - 1) / 2) * width
            ax.bar(x, spread["mean"], width * 0.9, color=_colour(vid), alpha=0.35 + 0.65 * (j == 0),
                   label=f"{m}T" if i == 0 else None, edgecolor="black", linewidth=0.3)
            ax.plot([x] * len(spread["per_seed"]), spread["per_seed"], "k.", markersize=3)
    ax.set_xticks(range(len(ids)), ids, rotation=30, ha="right")
    values = [x for vid in ids for m in multiples for x in summary[vid]["perplexity"][m]["per_seed"]]
    if max(values) > 3 * min(values):  # a long-context blow-up would flatten the rest on a linear axis
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(0.97 * min(values), 1.03 * max(values))
    ax.set_ylabel("validation perplexity (bytes)")
    ax.set_title("(a) perplexity at T, 2T, 4T (bars: mean; dots: seeds)")
    ax.legend(title="context", fontsize=8)

    ax = axes[0, 1]
    longest = int(multiples[-1]) * T
    for vid in ids:
        curves = np.array([r["position_nll_longest"] for r in results["runs"] if r["variant"] == vid])
        centres = (np.arange(curves.shape[1]) + 0.5) * longest / curves.shape[1]
        ax.plot(centres, np.exp(curves.mean(axis=0)), color=_colour(vid), label=vid,
                linestyle="--" if "500k" in vid or "0.25" in vid else "-")
    ax.axvline(T, color="black", linewidth=0.8, linestyle=":")
    ax.text(T, ax.get_ylim()[1], " training length", va="top", fontsize=8)
    ax.set_xlabel("position in a 4T window")
    ax.set_ylabel("perplexity of the byte at that position")
    ax.set_title("(b) loss by position (mean over seeds)")
    ax.legend(fontsize=7)

    ax = axes[1, 0]
    paper = table2.paper_facts()["table2_validation_perplexity"]["rows"]
    # variants sit close together here, so a legend names them (text beside each point would collide)
    for v, marker in zip(table2.VARIANTS, "osD^vPX*hp", strict=False):
        spread = summary[v.id]["perplexity"]["1"]
        err = 0 if spread["sd"] is None else spread["sd"]
        ax.errorbar(paper[v.paper_row][0], spread["mean"], yerr=err, fmt=marker, color=_colour(v.id), capsize=3,
                    mfc="white" if "500k" in v.id or "0.25" in v.id else _colour(v.id), label=v.id)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_xlabel("paper: Gemma 2B validation perplexity (Wiki)")
    ax.set_ylabel(f"ours: perplexity at T={T} (mean ± sd)")
    if table2.is_pipeline_check(results):  # untrained models: no comparison with the paper is drawn
        ax.set_title("(c) pipeline check: not compared with the paper")
    else:
        corr = results["summary"]["rank_correlation_with_paper_at_T"]["wiki"]
        ax.set_title(f"(c) ours vs the paper (Spearman rho={corr['spearman_rho']:.2f}, p={corr['p_value']:.2f})")

    ax = axes[1, 1]
    # heads of different seeds are different heads, so one seed's model is drawn, not an average
    runs = [r for r in results["runs"] if r["variant"] == table2.REFERENCE and "usage" in r][:1]
    if runs:
        q = np.asarray(runs[0]["usage"]["q_norm"])  # (layers, heads, pairs)
        k = np.asarray(runs[0]["usage"]["k_norm"])
        product = (q * k).reshape(-1, q.shape[-1]).T  # (pairs, layer*head); row 0 = highest frequency
        image = ax.imshow(product, aspect="auto", cmap=HEATMAP_CMAP, origin="upper")
        layers, heads = q.shape[:2]
        ax.set_xticks(range(layers * heads), [f"L{layer}H{head}" for layer in range(layers) for head in range(heads)],
                      rotation=90, fontsize=7)
        ax.set_ylabel("frequency pair m (0 = highest frequency, on top)")
        fig.colorbar(image, ax=ax, label="mean |q^(m)| |k^(m)|")
        diag = np.asarray(runs[0]["usage"]["diagonal"]).ravel()
        prev = np.asarray(runs[0]["usage"]["previous"]).ravel()
        for col, (dw, pw) in enumerate(zip(diag, prev, strict=True)):
            ax.text(col, q.shape[-1] - 0.6, f"D{dw:.2f}\nP{pw:.2f}", ha="center", va="bottom", fontsize=6,
                    color="red" if max(dw, pw) > POSITIONAL_WEIGHT else "white")
        ax.set_title(f"(d) {table2.REFERENCE} seed {runs[0]['seed']}: |q||k| per pair and head\n"
                     f"(D/P: attention on the current / previous token; red: > {POSITIONAL_WEIGHT})", fontsize=10)
    fig.tight_layout()
    return save(fig, out_dir, name)


def render(out_dir: str | Path) -> list[Path]:
    """Draw the package's reported replication (the committed ``small`` run)."""
    from ropelab.checks.findings import table2

    return draw(table2.load_results(), out_dir, "table2_training")
