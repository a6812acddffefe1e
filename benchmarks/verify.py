"""Workload 4: ``ropelab verify`` end to end, with the time spent compiling vs computing.

Runs the real command (``ropelab verify --jobs 1``, every registered claim, full mode) in a
fresh process, as a user would, with the claims kept in that process (``--jobs 1``) so that
they can be timed one by one: this is the serial cost, which the default worker processes
divide among the cores. Inside that process a JAX monitoring listener adds up the time of
every tracing, lowering and XLA compilation, and each claim's run is timed; so the report
splits the wall time into start-up (interpreter and imports), compilation, and the rest
(computing: NumPy, SymPy, mpmath and compiled JAX code).

Run: ``python benchmarks/verify.py [--quick] [--json out.json]``. ``--quick`` checks that the
workload runs, not its speed: it times ``ropelab verify --quick`` on :data:`QUICK_CLAIMS` only.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness as h

TARGET_S = 60.0
QUICK_CLAIMS = ("rope_preserves_norm", "chunk_score_is_norm_times_cosine", "rope_score_depends_on_relative_position")
"""A symbolic identity, a numeric one and a relative-position claim: what ``--quick`` runs."""
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


def inner(out: Path, quick: bool) -> None:
    """Inside the timed process: run ``ropelab verify`` with per-claim compile accounting."""
    started = time.perf_counter()
    import jax

    from ropelab.cli import app as cli
    from ropelab.checks import runner

    compiled = {"total": 0.0}

    def on_event(event: str, duration: float, **kwargs) -> None:
        if event in COMPILE_EVENTS:
            compiled["total"] += duration

    jax.monitoring.register_event_duration_secs_listener(on_event)
    imported = time.perf_counter() - started
    claims = []
    plain_run_claim = runner.run_claim

    def timed_claim(claim, quick_mode=False, certify=False):
        before, start = compiled["total"], time.perf_counter()
        result = plain_run_claim(claim, quick_mode, certify)
        claims.append({"id": claim.id, "seconds": time.perf_counter() - start,
                       "compile_s": compiled["total"] - before, "status": result.status})
        return result

    runner.run_claim = timed_claim
    code = 0
    try:
        cli.main(["verify", "--jobs", "1"] + (["--quick", *QUICK_CLAIMS] if quick else []))
    except SystemExit as stop:
        code = stop.code or 0
    Path(out).write_text(json.dumps({"import_s": imported, "claims": claims, "compile_s": compiled["total"],
                                     "inside_s": time.perf_counter() - started, "exit_code": code}))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = h.parser(__doc__.splitlines()[0])
    parser.add_argument("--inner", type=Path, help="(internal) run verify here and write timings to this file")
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.quick)
        return
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "timings.json"
        start, cpu_before = time.perf_counter(), _children_cpu()
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--inner", str(record)]
                              + (["--quick"] if args.quick else []), capture_output=True, text=True,
                              env={**os.environ, "COLUMNS": "150"})
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
        if not record.exists():
            sys.exit(f"ropelab verify did not finish:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        timings = json.loads(record.read_text())
    claims = sorted(timings["claims"], key=lambda c: -c["seconds"])
    claim_s = sum(c["seconds"] for c in claims)
    compile_s = sum(c["compile_s"] for c in claims)
    startup_s = wall - claim_s
    h.print_table(
        f"W4 ropelab verify{' --quick' if args.quick else ''}: {len(claims)} claims, per claim (slowest first)",
        ["claim", "status", "wall", "compile", "compute"],
        [[c["id"], c["status"], f"{c['seconds']:.2f} s", f"{c['compile_s']:.2f} s",
          f"{c['seconds'] - c['compile_s']:.2f} s"] for c in claims],
    )
    h.print_table(
        "W4 where the time goes",
        ["part", "seconds", "share"],
        [[name, f"{s:.2f}", f"{100 * s / wall:.0f}%"] for name, s in (
            ("start-up: interpreter, imports, table", startup_s),
            ("claims: JAX tracing + lowering + XLA compile", compile_s),
            ("claims: computing", claim_s - compile_s),
            ("total wall time (end to end)", wall))],
    )
    h.console.print(f"CPU time of the verify process (user + system, all threads): {cpu:.1f} s; wall time above "
                    "that of one busy core means the machine was shared")
    summary = [h.comparison("ropelab verify, end to end", wall, "time allowed", TARGET_S,
                            f"{len(claims) / wall:.2f} claims/s",
                            "full mode only" if args.quick else f"< {TARGET_S:.0f} s",
                            False if timings["exit_code"] else None if args.quick else wall < TARGET_S,
                            note=f"compile {compile_s:.1f} s, compute {claim_s - compile_s:.1f} s, "
                                 f"start-up {startup_s:.1f} s, CPU {cpu:.1f} s, exit code {timings['exit_code']}")]
    h.finish(args, "W4 verify", summary,
             {"wall_s": wall, "cpu_s": cpu, "claims_s": claim_s, "compile_s": compile_s, "startup_s": startup_s,
              "import_s": timings["import_s"], "claims": claims, "exit_code": timings["exit_code"]})


if __name__ == "__main__":
    main()
