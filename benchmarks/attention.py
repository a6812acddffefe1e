"""Workload 3: causal RoPE attention for general inputs, N = 4096 .. 16384, d = 128, float32.

Ours: ``blockwise_attention.causal_attention`` (flash-style online softmax over 512 x 512
tiles, angles from exact positions). Baselines, timed in the same run:

- dense JAX: ``attention.causal_softmax(attention.logits(...)) @ v``, jitted (the N x N path);
- PyTorch CPU: HF transformers' ``apply_rotary_pos_emb`` recipe, then
  ``torch.nn.functional.scaled_dot_product_attention(..., is_causal=True)``.

Memory: each path runs once more per N in its own process, N ascending, and reports its peak
resident set (and, for the JAX paths, the compiled temporary buffers): the blockwise working
set does not grow with N beyond the O(N d) inputs and outputs.

Run: ``python benchmarks/attention.py [--quick] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import _harness as h

D, THETA, BLOCK, SEED = 128, 1e4, 512, 0
DENSE_BUDGET_BYTES = 6 * 2**30
PATHS = ("blockwise", "dense", "torch")


def block_for(n: int) -> int:
    """The tile size: BLOCK, or N itself for the small quick-mode sizes."""
    return min(BLOCK, n)


def inputs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + n)
    q, k, v = rng.standard_normal((3, n, D)).astype(np.float32)
    return q, k, v


def make_path(name: str, n: int):
    """``(run, buffers)``: a zero-argument call that returns a NumPy output, and compiled bytes."""
    from ropelab.constructions import frequencies

    g = frequencies.rope(D, THETA)
    q, k, v = inputs(n)
    scale = D**-0.5
    if name == "blockwise":
        import jax.numpy as jnp

        from ropelab.constructions import blockwise_attention as ba

        tq, tk, tv = (jnp.asarray(x) for x in (q, k, v))
        return (lambda: np.asarray(ba.causal_attention(tq, tk, tv, g, block=block_for(n), scale=scale)),
                _blockwise_buffers(n))
    if name == "dense":
        import jax
        import jax.numpy as jnp

        from ropelab.constructions import attention

        fn = jax.jit(lambda a, b, c: attention.causal_softmax(attention.logits(a, b, g, scale=scale)) @ c)
        tq, tk, tv = (jnp.asarray(x) for x in (q, k, v))
        memory = fn.lower(tq, tk, tv).compile().memory_analysis()
        return lambda: np.asarray(fn(tq, tk, tv)), memory.temp_size_in_bytes
    return _torch_path(q, k, v, g, scale), None


def _blockwise_buffers(n: int) -> int:
    """Temporary bytes of the compiled tile loop (rotated, padded inputs are O(N d) arguments)."""
    import jax
    import jax.numpy as jnp

    from ropelab.constructions import blockwise_attention as ba

    block = block_for(n)
    padded = -(-n // block) * block
    x = jax.ShapeDtypeStruct((padded, D), jnp.float32)
    core = jax.jit(lambda a, b, c: ba._blockwise(a, b, c, block))
    return core.lower(x, x, x).compile().memory_analysis().temp_size_in_bytes


def _torch_path(q, k, v, g, scale):
    import torch
    import torch.nn.functional as F

    def rotate_half(x):
        return torch.cat((-x[..., D // 2 :], x[..., : D // 2]), dim=-1)

    n = q.shape[0]
    tq, tk, tv = (torch.from_numpy(x)[None, None] for x in (q, k, v))

    def run():
        with torch.no_grad():
            # HF's cos/sin cache of cat(freqs, freqs); angles formed in float64, then float32.
            freqs = torch.outer(torch.arange(n, dtype=torch.float64), torch.from_numpy(g))
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos().float(), emb.sin().float()
            rq = tq * cos + rotate_half(tq) * sin
            rk = tk * cos + rotate_half(tk) * sin
            return F.scaled_dot_product_attention(rq, rk, tv, is_causal=True, scale=scale)[0, 0].numpy()

    return run


def probe(name: str, sizes: list[int]) -> None:
    """Run one path once per size (ascending) and print its peak RSS after each."""
    h.enable_x64()
    if name == "torch":
        import torch

        torch.set_num_threads(h.machine()["cores"])
    baseline = h.peak_rss_mib()
    for n in sizes:
        run, buffers = make_path(name, n)
        if name == "dense" and buffers > DENSE_BUDGET_BYTES:
            print(json.dumps({"n": n, "skipped": True}), flush=True)
            continue
        run()
        print(json.dumps({"n": n, "peak_rss_mib": h.peak_rss_mib(), "start_rss_mib": baseline,
                          "buffers": buffers}), flush=True)


def measure_memory(sizes: list[int], paths: tuple[str, ...] = PATHS) -> dict[str, list[dict]]:
    out = {}
    for name in paths:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--probe", name,
                               "--sizes", ",".join(map(str, sizes))], capture_output=True, text=True, check=True)
        out[name] = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return out


def main() -> None:
    parser = h.parser(__doc__.splitlines()[0])
    parser.add_argument("--probe", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="")
    args = parser.parse_args()
    if args.probe:
        probe(args.probe, [int(x) for x in args.sizes.split(",")])
        return
    h.enable_x64()
    paths = PATHS if h.has_torch() else tuple(p for p in PATHS if p != "torch")
    if "torch" in paths:
        import torch

        torch.set_num_threads(h.machine()["cores"])
    sizes = [512, 1024] if args.quick else [4096, 8192, 16384]
    rows, times, errors, buffers = [], {}, {}, {}
    for n in sizes:
        outputs = {}
        for name in paths:
            run, buffers[(name, n)] = make_path(name, n)
            if name == "dense" and buffers[(name, n)] > DENSE_BUDGET_BYTES:
                times[(name, n)] = None
                continue
            outputs[name] = run()
            times[(name, n)] = h.best_time(run, repeat=2, warmup=0)
        if n == sizes[0]:
            reference = _float64_reference(n)
            errors = {name: float(np.max(np.abs(out - reference))) for name, out in outputs.items()}
        for name in paths:
            t = times[(name, n)]
            if t is None:
                rows.append([f"{n:,}", name, "skipped (memory budget)", "", ""])
            else:
                rows.append([f"{n:,}", name, h.seconds(t), f"{n * n / 2 / t:.3g}",
                             f"{t / times[('blockwise', n)]:.2f}x"])
    memory = measure_memory(sizes, paths)
    h.print_table(f"W3 causal RoPE attention, d = {D}, float32 (max |error| vs float64 at N={sizes[0]:,}: "
                  + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()) + ")",
                  ["N", "path", "time", "causal logits/s", "time / blockwise"], rows)
    mem_rows = []
    for name, entries in memory.items():
        for e in entries:
            if e.get("skipped"):
                mem_rows.append([name, f"{e['n']:,}", "skipped (memory budget)", "", ""])
                continue
            buf = e["buffers"]
            mem_rows.append([name, f"{e['n']:,}", f"{e['peak_rss_mib']:.0f} MiB",
                             f"{e['peak_rss_mib'] - e['start_rss_mib']:.0f} MiB",
                             "" if buf is None else f"{buf / 2**20:.1f} MiB"])
    h.print_table("W3 memory: peak RSS per path (own process, N ascending)",
                  ["path", "N", "peak RSS", "above start", "XLA temp buffers"], mem_rows)
    blockwise_buffers = [buffers[("blockwise", n)] for n in sizes]
    bounded = max(blockwise_buffers) <= 1.05 * min(blockwise_buffers)

    def rate(n: int) -> str:
        return f"{n * n / 2 / times[('blockwise', n)]:.3g} logits/s"

    first = sizes[0]
    summary = [h.comparison(f"blockwise N={first:,}", times[("blockwise", first)], f"dense JAX N={first:,}",
                            times[("dense", first)], rate(first), "no slower than dense; bounded memory",
                            times[("blockwise", first)] <= times[("dense", first)] and bounded,
                            note=f"XLA temp buffers {max(blockwise_buffers) / 2**20:.1f} MiB at every N")]
    summary += [h.comparison(f"blockwise N={n:,}", times[("blockwise", n)], f"dense JAX N={n:,}",
                             times[("dense", n)], rate(n)) for n in sizes[1:] if times[("dense", n)] is not None]
    summary += [h.comparison(f"blockwise N={n:,}", times[("blockwise", n)], f"torch SDPA + HF RoPE N={n:,}",
                             times[("torch", n)], rate(n)) for n in sizes if "torch" in paths]
    h.finish(args, "W3 attention", summary,
             {"sizes": sizes, "times": {f"{k[0]}@{k[1]}": v for k, v in times.items()}, "errors": errors,
              "memory": memory, "blockwise_temp_bytes": blockwise_buffers},
             skipped=[] if "torch" in paths else [{"baseline": "torch SDPA + HF RoPE", "reason": h.TORCH_MISSING}])


def _float64_reference(n: int) -> np.ndarray:
    from ropelab.constructions import attention, frequencies

    q, k, v = (x.astype(np.float64) for x in inputs(n))
    g = frequencies.rope(D, THETA)
    return np.asarray(attention.causal_softmax(attention.logits(q, k, g, scale=D**-0.5))) @ v


if __name__ == "__main__":
    main()
