"""Workload 6: training throughput of the mesh path against the per-core pool of plain jitted steps.

Table 2's runs (the ``small`` preset's model: 148k parameters, batch 16, 128 tokens) train on a
CPU host in single-threaded worker processes, one per core. Three ways to train ``cores`` runs
at once are timed side by side, interleaved, in the same invocation:

- **baseline**: one single-threaded process per core, each running ``jax.jit`` of the step with
  no shardings (the step as it was before training moved onto a mesh);
- **ours**: the same processes, each running the step compiled over its ``(1, 1)`` mesh, as
  ``ropelab experiment`` runs it;
- **mesh over cores**: one process with ``cores`` forced CPU devices and one run at a time on a
  ``(cores, 1)`` mesh (the batch split over the cores), reported for comparison.

Each worker times ``steps`` steps after its first (compiling) one; a way's throughput is the
steps of all its runs over the wall time of the slowest. Target: ours at least 0.95x the
baseline's throughput (no slower than the pool, within noise).

Run: ``python benchmarks/training_mesh.py [--quick] [--json out.json]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import _harness as h

ROUNDS = 3


def _worker(kind: str, seed: int, steps: int, runs: int) -> None:
    """In a fresh process: train ``runs`` runs of ``steps`` timed steps; print the seconds as JSON."""
    import jax
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    from ropelab.checks.findings import table2
    from ropelab.checks.findings.models import mesh as M
    from ropelab.checks.findings.models import training, transformer
    from ropelab.checks.findings.models.batches import sample_batch

    preset = table2.PRESETS["small"]
    variant = next(v for v in preset.variants() if v.id == table2.REFERENCE)
    cfg = preset.train
    tokens = np.random.default_rng(0).integers(0, 256, 200_000).astype(np.uint8)
    seconds = 0.0
    for run in range(runs):
        run_seed = seed * runs + run
        if kind == "baseline":
            optimizer, step, _ = training.step_functions(preset.model, cfg)
            step = jax.jit(step)
            params = transformer.init_params(preset.model, jax.random.PRNGKey(run_seed))
            opt_state = optimizer.init(params)
            tables = training.rotary_tables(variant.encoding, cfg.seq_len, preset.model.head_dim)

            def one(s, params, opt_state):
                return step(params, opt_state, sample_batch(tokens, run_seed, s, cfg.batch_size, cfg.seq_len), tables)
        else:
            engine = training.trainer(preset.model, variant.encoding, cfg, M.training_mesh())
            state = engine.init(run_seed)
            params, opt_state = state.params, state.opt_state

            def one(s, params, opt_state):
                return engine.step(params, opt_state, sample_batch(tokens, run_seed, s, cfg.batch_size, cfg.seq_len))
        params, opt_state, loss = one(0, params, opt_state)
        float(loss)  # the first step compiles
        started = time.perf_counter()
        for s in range(1, steps + 1):
            params, opt_state, loss = one(s, params, opt_state)
            float(loss)
        seconds += time.perf_counter() - started
    print(json.dumps({"seconds": seconds}))


def _launch(kind: str, cores: int, steps: int) -> float:
    """Wall seconds of the slowest worker of one way (its timed steps only)."""
    single = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    if kind == "mesh":
        jobs = [(0, cores, f"--xla_force_host_platform_device_count={cores}")]
    else:
        jobs = [(seed, 1, single) for seed in range(cores)]
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", kind, str(seed), str(steps), str(runs)],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "XLA_FLAGS": flags})
             for seed, runs, flags in jobs]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"the {kind} worker failed (exit {proc.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1])["seconds"])
    return max(out)


def main() -> None:
    args = h.arguments(__doc__.splitlines()[0])
    cores = os.cpu_count() or 1
    steps = 5 if args.quick else 40
    best = {kind: float("inf") for kind in ("baseline", "ours", "mesh")}
    for _ in range(1 if args.quick else ROUNDS):  # interleaved: a load change hits every way alike
        for kind in best:
            best[kind] = min(best[kind], _launch(kind, cores, steps))
    total = cores * steps
    rate = {kind: total / s for kind, s in best.items()}
    h.print_table(f"training: {cores} runs x {steps} steps at once ({h.describe_machine()})",
                  ["way", "seconds (slowest worker)", "steps/s"],
                  [[kind, f"{best[kind]:.3g}", f"{rate[kind]:.1f}"] for kind in best])
    summary = [
        h.comparison("mesh path, one single-threaded worker per core", best["ours"],
                     "plain jit, one single-threaded worker per core", best["baseline"], f"{rate['ours']:.1f} steps/s",
                     target=">= 0.95x", met=best["baseline"] / best["ours"] >= 0.95),
        h.comparison("mesh path, one worker per core", best["ours"], f"one process, a ({cores}, 1) mesh of CPU devices",
                     best["mesh"], f"{rate['mesh']:.1f} steps/s (mesh over cores)"),
    ]
    h.finish(args, "training-mesh", summary, {"cores": cores, "steps": steps, "seconds": best})


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
