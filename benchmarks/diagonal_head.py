"""Workload 2: every row of an N-token constructed diagonal head, N = 10^6, d = 256.

The head of Thm 5.3: every token carries q = k = s * psi with psi spread equally over the 16
highest-frequency pairs. Its logits depend on i - j only, so every row's diagonal weight
alpha_ii = exp(c(0) - L_i) follows from one curve and a prefix log-sum-exp (ours:
``relative.logit_curve`` + ``relative.weight_at_distance``; also the streaming path
``relative.weight_at_distance_chunks``, bounded memory).

Baseline: the dense path a user would write (rotate N queries and keys, the N x N logits, the
causal softmax, its diagonal), jitted, timed at N = 1024 .. the largest power of two whose
compiled buffers fit the memory budget; its time is extrapolated to 10^6 rows by its O(N^2)
law fitted to those timings (the fitted free slope is printed too).

Run: ``python benchmarks/diagonal_head.py [--quick] [--json out.json]``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

import _harness as h

D, THETA, BAND, SCALE_SQ = 256, 1e4, 16, 40.0
DENSE_BUDGET_BYTES = 4 * 2**30  # what the dense baseline may hold on a shared 2-core machine


def construction(d: int) -> np.ndarray:
    psi = np.zeros(d)
    psi[:BAND] = psi[d // 2 : d // 2 + BAND] = np.sqrt(0.5 / BAND)  # |psi| = 1, equal pair norms
    return np.sqrt(SCALE_SQ) * psi


def main() -> None:
    args = h.arguments(__doc__.splitlines()[0])
    h.enable_x64()
    import jax
    import jax.numpy as jnp

    from ropelab.constructions import attention, frequencies
    from ropelab.constructions import relative_position as rel

    n = 50_000 if args.quick else 10**6
    g = frequencies.rope(D, THETA)
    q = k = construction(D)

    def every_row():
        return rel.weight_at_distance(rel.logit_curve(q, k, g, n), 0)

    def streamed_minimum():
        return min(float(w.min()) for _, w in rel.weight_at_distance_chunks(q, k, g, n, 0))

    diagonal, first_call = h.timed(every_row)
    ours_s = h.best_time(every_row, repeat=3, warmup=0)
    stream_min, stream_first = h.timed(streamed_minimum)
    stream_s = h.best_time(streamed_minimum, repeat=2, warmup=0)
    assert stream_min == float(diagonal.min())

    def dense_fn(size):
        tokens_q, tokens_k = jnp.tile(jnp.asarray(q), (size, 1)), jnp.tile(jnp.asarray(k), (size, 1))
        return jax.jit(lambda a, b: jnp.diagonal(attention.attention_weights(a, b, g))), (tokens_q, tokens_k)

    sizes, times, held = [], [], {}
    size = 256 if args.quick else 1024
    while True:
        fn, inputs = dense_fn(size)
        memory = fn.lower(*inputs).compile().memory_analysis()
        need = memory.temp_size_in_bytes + memory.argument_size_in_bytes + memory.output_size_in_bytes
        if need > DENSE_BUDGET_BYTES or (args.quick and size > 1024):
            break
        held[size] = need
        dense_diag = np.asarray(fn(*inputs))
        times.append(h.best_time(lambda fn=fn, inputs=inputs: fn(*inputs).block_until_ready(), repeat=2))
        sizes.append(size)
        size *= 2
    largest = sizes[-1]
    agreement = float(np.max(np.abs(dense_diag - rel.weight_at_distance(rel.logit_curve(q, k, g, largest), 0))))
    fit = stats.linregress(np.log(sizes), np.log(times))
    quadratic = float(np.exp(np.mean(np.log(times) - 2 * np.log(sizes))))  # t = a N^2, least squares in logs
    dense_at_n = quadratic * float(n) ** 2
    free_at_n = float(np.exp(fit.intercept) * float(n) ** fit.slope)

    h.print_table(
        f"W2 dense baseline: N x N causal softmax (memory budget {DENSE_BUDGET_BYTES / 2**30:.0f} GiB)",
        ["N", "time", "compiled buffers"],
        [[f"{s:,}", h.seconds(t), f"{held[s] / 2**20:.0f} MiB"] for s, t in zip(sizes, times)],
    )
    h.print_table(
        f"W2 diagonal head: every row of N = {n:,} tokens, d = {D}, top {BAND} pairs, s^2 = {SCALE_SQ:g}",
        ["path", "time", "rows/s", "note"],
        [["ours: curve + prefix log-sum-exp", h.seconds(ours_s), f"{n / ours_s:.3g}",
          f"first call {h.seconds(first_call)}; min_i alpha_ii = {float(diagonal.min()):.6f}"],
         ["ours, streamed (bounded memory)", h.seconds(stream_s), f"{n / stream_s:.3g}",
          f"first call {h.seconds(stream_first)}"],
         [f"dense, extrapolated from N <= {largest:,}", h.seconds(dense_at_n), f"{n / dense_at_n:.3g}",
          f"fitted slope {fit.slope:.2f} (free-slope law: {h.seconds(free_at_n)}); "
          f"max |diff| at N={largest:,}: {agreement:.1e}"]],
    )
    summary = [
        h.comparison("every row, prefix sums", ours_s, f"dense N^2 law at N={n:,}", dense_at_n,
                     f"{n / ours_s:.3g} rows/s", "< 5 s", ours_s < 5.0,
                     note=f"dense measured up to N={largest:,}, slope {fit.slope:.2f}"),
        h.comparison("every row, streamed", stream_s, f"dense N^2 law at N={n:,}", dense_at_n,
                     f"{n / stream_s:.3g} rows/s", "< 5 s", stream_s < 5.0),
    ]
    h.finish(args, "W2 diagonal head", summary,
             {"n": n, "d": D, "dense_sizes": sizes, "dense_times": times, "dense_slope": fit.slope,
              "dense_slope_stderr": fit.stderr, "dense_extrapolated_s": dense_at_n,
              "dense_free_slope_extrapolated_s": free_at_n, "agreement_at_largest": agreement,
              "min_diagonal_weight": float(diagonal.min()), "first_call_s": first_call})


if __name__ == "__main__":
    main()
