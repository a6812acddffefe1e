"""Workload 1: the logit-vs-distance curve c(r) = q^T R^{-r} k of one (q, k), r = 0 .. L-1.

L = 10^6 distances, d = 256, float64. Ours: ``relative.logit_curve`` (exact phases, one
cos/sin per block, one matrix product). Baselines, timed in the same run:

- NumPy, the straightforward way: rotate the key at every position j (angles j * g, cos,
  sin), rotate the query at position L-1, dot; in slices of 2^16 positions so that the
  arrays fit in memory.
- PyTorch CPU with HF transformers' ``apply_rotary_pos_emb`` recipe (``rotate_half``,
  ``cos``/``sin`` of ``cat(freqs, freqs)``), written here in float64, same slices.

Accuracy: the largest error of each path against an mpmath reference (40 digits, the float64
inputs taken exactly) at 100 sampled distances.

Run: ``python benchmarks/logit_curve.py [--quick] [--json out.json]``.
"""

from __future__ import annotations

import mpmath
import numpy as np

import _harness as h

SLICE = 1 << 16
D, THETA, SEED, SAMPLES = 256, 1e4, 0, 100


def numpy_curve(q: np.ndarray, k: np.ndarray, g: np.ndarray, length: int) -> np.ndarray:
    half = g.size
    q_angle = (length - 1) * g
    rq = np.concatenate([q[:half] * np.cos(q_angle) - q[half:] * np.sin(q_angle),
                         q[:half] * np.sin(q_angle) + q[half:] * np.cos(q_angle)])
    out = np.empty(length)
    for first in range(0, length, SLICE):
        j = np.arange(first, min(length, first + SLICE))
        angle = np.multiply.outer(j.astype(np.float64), g)
        cos, sin = np.cos(angle), np.sin(angle)
        rk = np.concatenate([k[:half] * cos - k[half:] * sin, k[:half] * sin + k[half:] * cos], axis=1)
        out[length - 1 - j] = rk @ rq  # the key at position j is at distance L-1-j
    return out


def torch_curve(q: np.ndarray, k: np.ndarray, g: np.ndarray, length: int) -> np.ndarray:
    import torch

    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
        return torch.cat((-x2, x1), dim=-1)

    def cos_sin(positions, inv_freq):
        freqs = torch.outer(positions, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    inv_freq = torch.tensor(g, dtype=torch.float64)
    tq, tk = torch.tensor(q, dtype=torch.float64), torch.tensor(k, dtype=torch.float64)
    cos_q, sin_q = cos_sin(torch.tensor([float(length - 1)], dtype=torch.float64), inv_freq)
    q_embed = (tq * cos_q + rotate_half(tq) * sin_q)[0]
    out = torch.empty(length, dtype=torch.float64)
    with torch.no_grad():
        for first in range(0, length, SLICE):
            last = min(length, first + SLICE)
            cos, sin = cos_sin(torch.arange(first, last, dtype=torch.float64), inv_freq)
            k_embed = tk * cos + rotate_half(tk) * sin
            out[length - last : length - first] = torch.flip(k_embed @ q_embed, dims=(0,))
    return out.numpy()


def mp_reference(q: np.ndarray, k: np.ndarray, g: np.ndarray, distances: np.ndarray) -> np.ndarray:
    half = g.size
    out = []
    with mpmath.workdps(40):
        coeffs = []
        for m in range(half):
            q1, q2, k1, k2 = (mpmath.mpf(float(x)) for x in (q[m], q[m + half], k[m], k[m + half]))
            coeffs.append((q1 * k1 + q2 * k2, q1 * k2 - q2 * k1, mpmath.mpf(float(g[m]))))
        for r in distances:
            rr = mpmath.mpf(int(r))
            out.append(float(sum(a * mpmath.cos(rr * w) + b * mpmath.sin(rr * w) for a, b, w in coeffs)))
    return np.array(out)


def main() -> None:
    args = h.arguments(__doc__.splitlines()[0])
    h.enable_x64()
    from ropelab.constructions import frequencies
    from ropelab.constructions import relative_position as rel

    with_torch = h.has_torch()
    if with_torch:
        import torch

        torch.set_num_threads(h.machine()["cores"])
    length = 20_000 if args.quick else 10**6
    rng = np.random.default_rng(SEED)
    q, k = rng.standard_normal((2, D))
    g = frequencies.rope(D, THETA)

    ours, first_call = h.timed(lambda: rel.logit_curve(q, k, g, length))
    ours_s = h.best_time(lambda: rel.logit_curve(q, k, g, length), repeat=5, warmup=0)
    np_curve, numpy_s = h.timed(lambda: numpy_curve(q, k, g, length))
    curves = {"ours": ours, "numpy": np_curve}
    if with_torch:
        curves["torch"], torch_s = h.timed(lambda: torch_curve(q, k, g, length))

    distances = np.unique(np.concatenate([[0, length - 1], rng.integers(0, length, SAMPLES - 2)]))
    reference = mp_reference(q, k, g, distances)
    errors = {name: float(np.max(np.abs(c[distances] - reference))) for name, c in curves.items()}
    bound = rel.logit_curve_error_bound(q, k)

    def rate(s: float) -> str:
        return f"{length / s:.3g} dist/s"

    h.print_table(
        f"W1 logit curve: L = {length:,} distances, d = {D}, float64",
        ["path", "time", "throughput", f"max error vs mpmath ({distances.size} r)", "note"],
        [["ours: angle addition, exact phases", h.seconds(ours_s), rate(ours_s), f"{errors['ours']:.2e}",
          f"first call {h.seconds(first_call)} (compile); proven bound {bound:.2e}"],
         ["NumPy: rotate every key, dot", h.seconds(numpy_s), rate(numpy_s), f"{errors['numpy']:.2e}", ""]]
        + ([["PyTorch: HF apply_rotary_pos_emb, float64", h.seconds(torch_s), rate(torch_s),
             f"{errors['torch']:.2e}", ""]] if with_torch else []),
    )
    accurate = errors["ours"] <= min(v for k, v in errors.items() if k != "ours") and errors["ours"] <= bound
    baselines = [("NumPy rotate-every-key", "numpy", numpy_s)]
    if with_torch:
        baselines.append(("PyTorch HF-style RoPE", "torch", torch_s))
    summary = [
        h.comparison("logit_curve", ours_s, name, base_s, rate(ours_s), ">= 20x, error <= baseline's",
                     base_s / ours_s >= 20 and errors["ours"] <= errors[key])
        for name, key, base_s in baselines
    ]
    h.finish(args, "W1 logit curve", summary,
             {"length": length, "d": D, "theta": THETA, "errors": errors, "bound": bound,
              "first_call_s": first_call, "accurate": accurate},
             skipped=[] if with_torch else [{"baseline": "PyTorch HF-style RoPE", "reason": h.TORCH_MISSING}])


if __name__ == "__main__":
    main()
