"""Table 2 at small scale: perplexity by encoding and context, beside the paper's numbers.

Six panels from a results file of ``ropelab experiment table2``: (a) validation perplexity at
each context multiple of T for every variant (one dot per seed, bar at the mean); (b) the loss
at each position of the longest window, mean over seeds, with the training length marked; (c)
our perplexity at T against the paper's Wiki perplexity; (d) the mean query-key pair norm per
frequency of one RoPE theta=10k-row model, high frequencies on top (as in the paper's Fig. 3),
one column per head; (e) the validation curves, one line per run; (f) each row's paired
difference from the reference with its interval and minimum detectable difference, beside the
sign of the paper's change.
:func:`render` draws the package's reported ``small`` run; :func:`draw` draws any results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from ._style import ENCODING_COLOURS, HEATMAP_CMAP, plt, save

__all__ = ["draw", "render"]


def _colour(variant_id: str) -> str:
    from ropelab.checks.findings import table2

    schedule = table2.ROW_OF[variant_id].schedule
    key = {"nope": "NoPE", "rope": "RoPE", "p_rope": "p-RoPE", "partial_rotary": "partial rotary",
           "reversed_p_rope": "reversed p-RoPE"}[schedule]
    return ENCODING_COLOURS[key]


def _dashes(variant_id: str) -> str:
    """Rows that share a colour (two RoPE bases, two p-RoPE fractions) are told apart by dashes."""
    return "--" if "500k" in variant_id or "0.25" in variant_id else "-"


def draw(results: dict, out_dir: str | Path, name: str = "table2") -> list[Path]:
    """Draw the four panels of ``results`` to ``out_dir/name.png`` and ``.pdf``."""
    from ropelab.checks.findings import table2  # needs the training extra (optax); imported on use
    from ropelab.checks.findings.models.transformer_usage import POSITIONAL_WEIGHT

    summary = results["summary"]["variants"]
    ids = table2.trained_ids(results)
    multiples = [str(m) for m in results["config"]["context_multiples"]]
    T = results["config"]["train"]["seq_len"]
    fig, axes = plt.subplots(2, 3, figsize=(19, 9.5))
    fig.suptitle(f"Table 2 at small scale ({results['preset']} preset, {len(results['seeds'])} seed(s), "
                 f"byte-level Shakespeare, T={T})")

    ax = axes[0, 0]
    width = 0.8 / len(multiples)
    # each context multiple has its own shade and hatch, in the bars and in the legend's swatches
    shades = np.linspace(1.0, 0.3, len(multiples))
    hatches = ["", "//", "..", "xx", "\\\\", "oo"]
    for j, m in enumerate(multiples):
        for i, vid in enumerate(ids):
            spread = summary[vid]["perplexity"][m]
            x = i + (j - (len(multiples) - 1) / 2) * width
            ax.bar(x, spread["mean"], width * 0.9, color=_colour(vid), alpha=shades[j], hatch=hatches[j % len(hatches)],
                   edgecolor="black", linewidth=0.3)
            ax.plot([x] * len(spread["per_seed"]), spread["per_seed"], "k.", markersize=3)
    swatches = [Patch(facecolor=(0.25, 0.25, 0.25, shades[j]), hatch=hatches[j % len(hatches)], edgecolor="black",
                      linewidth=0.3, label=f"{m}T") for j, m in enumerate(multiples)]
    ax.set_xticks(range(len(ids)), ids, rotation=30, ha="right")
    values = [x for vid in ids for m in multiples for x in summary[vid]["perplexity"][m]["per_seed"]]
    if max(values) > 3 * min(values):  # a long-context blow-up would flatten the rest on a linear axis
        ax.set_yscale("log")
        ax.set_ylim(0.9 * min(values), 1.8 * max(values))  # room above the bars for the legend
        # 1-2-5 ticks: a range of less than a decade still gets several labelled ticks
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(0.97 * min(values), max(values) + 0.3 * (max(values) - 0.97 * min(values)))
    ax.set_ylabel("validation perplexity (bytes)")
    ax.set_title("(a) perplexity at " + ", ".join(f"{m}T" for m in multiples) + " (bars: mean; dots: seeds)")
    ax.legend(handles=swatches, title="context", fontsize=8, loc="upper left", ncol=len(multiples))

    ax = axes[0, 1]
    longest = int(multiples[-1]) * T
    for vid in ids:
        curves = np.array([r["position_nll_longest"] for r in results["runs"] if r["variant"] == vid])
        centres = (np.arange(curves.shape[1]) + 0.5) * longest / curves.shape[1]
        ax.plot(centres, np.exp(curves.mean(axis=0)), color=_colour(vid), label=vid, linestyle=_dashes(vid))
    ax.axvline(T, color="black", linewidth=0.8, linestyle=":")
    ax.set_xlabel(f"position in a {multiples[-1]}T window (dotted: the training length T={T})")
    ax.set_ylabel("perplexity of the byte at that position")
    ax.set_title("(b) loss by position (mean over seeds)")
    ax.legend(fontsize=7, loc="upper left")

    ax = axes[1, 0]
    if not table2.compares_with_paper(results):
        ax.set_axis_off()
        ax.set_title("(c) " + ("pipeline check" if table2.is_pipeline_check(results) else
                               f"no {table2.REFERENCE} row") + ": not compared with the paper")
    else:
        _paper_panel(ax, results, ids, T)

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
    else:
        ax.set_axis_off()
        ax.set_title(f"(d) no {table2.REFERENCE} run: no head map")
    _curves(axes[0, 2], results, ids)
    _differences(axes[1, 2], results)
    fig.tight_layout()
    return save(fig, out_dir, name)


def _paper_panel(ax, results: dict, ids: list[str], T: int) -> None:
    """(c) our perplexity at T against the paper's Wiki perplexity, row by row."""
    from ropelab.checks.findings import table2

    summary = results["summary"]["variants"]
    paper = table2.paper_facts()["table2_validation_perplexity"]["rows"]
    # variants sit close together here, so a legend names them (text beside each point would collide)
    for vid, marker in zip(ids, "osD^vPX*hp", strict=False):
        spread = summary[vid]["perplexity"]["1"]
        err = 0 if spread["sd"] is None else spread["sd"]
        ax.errorbar(paper[table2.ROW_OF[vid].paper_row][0], spread["mean"], yerr=err, fmt=marker, color=_colour(vid),
                    capsize=3, mfc="white" if "500k" in vid or "0.25" in vid else _colour(vid), label=vid)
    ax.margins(0.08)  # no marker sits on the frame (NoPE's lies far from the others)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_xlabel("paper: Gemma 2B validation perplexity (Wiki)")
    ax.set_ylabel(f"ours: perplexity at T={T} (mean ± sd)")
    if "rank_correlation_with_paper_at_T" not in results["summary"]:
        ax.set_title("(c) ours vs the paper (too few rows for a rank correlation)")
    else:
        corr = results["summary"]["rank_correlation_with_paper_at_T"]["wiki"]
        ax.set_title(f"(c) ours vs the paper (Spearman rho={corr['spearman_rho']:.2f}, p={corr['p_value']:.2f})")


def _curves(ax, results: dict, ids: list[str]) -> None:
    """(e) every run's validation NLL at T against the step, with the flattening window shaded."""
    from ropelab.checks.findings import table2

    steps = results["config"]["train"]["steps"]
    for vid in ids:
        for i, run in enumerate(r for r in results["runs"] if r["variant"] == vid):
            curve = np.asarray(run["validation_curve"], dtype=np.float64)
            ax.plot(curve[:, 0], curve[:, 1], color=_colour(vid), linewidth=0.9, alpha=0.8,
                    linestyle=_dashes(vid), label=vid if i == 0 else None)
    ax.axvspan(0.75 * steps, steps, color="grey", alpha=0.15, linewidth=0)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation NLL at T (nats/byte)")
    summary = results["summary"]
    ax.set_title(f"(e) validation curves: {summary['flattened_runs']} of {summary['runs']} runs flattened\n"
                 f"(shaded: last quarter; flat = fell by < {table2.FLAT_SHARE:.0%} of the total there)", fontsize=10)
    ax.legend(fontsize=7)


def _differences(ax, results: dict) -> None:
    """(f) paired ΔNLL at T against the reference: interval, MDD band and the paper's sign."""
    from ropelab.checks.findings import table2

    comparisons = results["summary"].get("comparisons", [])
    rows = [c for c in comparisons if c["difference"]["ci_low"] is not None]
    if not rows:
        ax.set_axis_off()
        ax.set_title("(f) one seed: no paired intervals" if comparisons else
                     f"(f) no {table2.REFERENCE} row: nothing paired")
        return
    for y, c in enumerate(rows):
        d = c["difference"]
        ax.errorbar(d["mean"], y, xerr=[[d["mean"] - d["ci_low"]], [d["ci_high"] - d["mean"]]], fmt="o",
                    color=_colour(c["variant"]), capsize=3)
        ax.plot(d["per_seed"], [y] * len(d["per_seed"]), "k.", markersize=3)
        if d["mdd"] is not None:
            ax.plot([-d["mdd"], d["mdd"]], [y - 0.3, y - 0.3], color="grey", linewidth=3, alpha=0.5)
        sign = "+" if c["wiki"]["paper_relative_change"] > 0 else "-"
        ax.text(1.01, y, f"paper {sign} | Wiki: {c['wiki']['verdict']}, Flan: {c['flanv2']['verdict']}",
                transform=ax.get_yaxis_transform(), va="center", fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    # a large gap (NoPE's) would squeeze the small ones against 0: linear within the largest MDD, log beyond
    mdds = [c["difference"]["mdd"] for c in rows if c["difference"]["mdd"] is not None]
    if mdds:
        ax.set_xscale("symlog", linthresh=max(mdds))
    ax.margins(x=0.06, y=0.08)  # no marker sits on the frame (NoPE's gap is the largest by far)
    ax.set_yticks(range(len(rows)), [c["variant"] for c in rows])
    ax.set_xlabel(f"ΔNLL at T vs {table2.REFERENCE} (nats/byte, symmetric log; {table2.CONFIDENCE:.0%} CI; grey: ± MDD)")
    ax.set_title("(f) paired differences and the paper's claims", fontsize=10)


def render(out_dir: str | Path) -> list[Path]:
    """Draw the package's reported replication (the committed ``small`` run)."""
    from ropelab.checks.findings import table2

    return draw(table2.load_results(), out_dir, "table2_training")
