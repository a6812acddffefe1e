"""Experiments declared as records, and the one runner that trains and evaluates any of them.

An :class:`ExperimentRecord` is data, like a :class:`~ropelab.checks.claim.Claim`: its presets
(model, optimisation, seeds, evaluation sizes), the rows each preset trains (encodings), what one
(row, seed) measures, its statistics and the prose of its findings, and where its results go.
:func:`run` applies a record: every (row, seed) trains on a :class:`jax.sharding.Mesh`
(:mod:`ropelab.checks.findings.models.mesh`), resuming from its checkpoint, reports its steps
while it trains, is evaluated, and the results are written atomically.

Where runs go (:class:`Placement`):

- **runs** (the default): the runs are dealt to the hosts joined from the environment
  (:func:`~ropelab.checks.findings.models.mesh.join_hosts`; one host when none is named). On a
  host whose only device is its CPU, runs go to single-threaded worker processes, one device
  each, as many at a time as there are cores (where the record trains in processes); on a host
  with several devices (accelerators, or CPU devices forced with
  ``XLA_FLAGS=--xla_force_host_platform_device_count``) they train one after another on a mesh
  of all of them. With several hosts every host writes its finished runs to ``out/runs/`` and
  host 0 assembles the results once every run is in (``out`` on a filesystem they share).
- **global**: every run trains on one mesh of every device of every host, one after another;
  host 0 writes.

No number of a run depends on how many processes train at once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropelab.checks.atomic import write_text_atomically

__all__ = ["ExperimentRecord", "Invocation", "PLACEMENTS", "Placement", "placement", "run"]

PLACEMENTS = ("runs", "global")
"""How runs use the devices: dealt to hosts, each on its own devices (``runs``), or each on one mesh of all (``global``)."""

TrainRun = Callable[[Any, Any, int, Path, Callable[[int, float], None]], dict]
"""``train(preset, row, seed, checkpoint, on_step) -> run record``: train one (row, seed) of a
preset, resuming from ``checkpoint``, calling ``on_step(step, loss)`` after every step, and
return what it measured (a JSON-ready dict)."""


@dataclass(frozen=True)
class Invocation:
    """What the runner knows of one invocation: when it started, the load then, its processes."""

    started: float
    load_average_start: tuple[float, ...]
    workers: int

    def elapsed(self) -> float:
        """Wall-clock seconds since the invocation started."""
        return time.time() - self.started


@dataclass(frozen=True)
class ExperimentRecord:
    """One experiment as data: what it trains, what it measures, how its outcome is stated.

    Every callable is a module-level function (a record travels to the training processes).

    >>> from ropelab.checks.findings import offset
    >>> record = offset.RECORD
    >>> record.name, sorted(record.presets), record.run_labels(record.presets["smoke"], 1)
    ('offset', ['gpu', 'small', 'smoke'], ['nope seed 0', 'rope seed 0', 'p_rope_0.75 seed 0', 'reversed_0.75 seed 0'])
    """

    name: str
    """The experiment's id: ``ropelab experiment NAME`` and the default folder ``results/NAME_PRESET``."""
    measures: str
    """One line: what a run measures."""
    presets: Mapping[str, Any]
    """Each preset has ``name``, ``description``, ``seeds`` (the default count) and ``train`` (a
    :class:`~ropelab.checks.findings.models.training.TrainConfig`)."""
    rows: Callable[[Any], Sequence[Any]]
    """``rows(preset)``: what the preset trains, each with an ``id``."""
    seed_major: bool
    """Job order: every row of seed 0, then of seed 1 (True), or every seed of a row, then the next."""
    train: TrainRun
    describe: Callable[[Any, int], dict]
    """``describe(preset, n_seeds)``: the results' head (set-up, seeds, versions), before the runs."""
    assemble: Callable[[dict, list[dict], Invocation], dict]
    """``assemble(head, runs, invocation)``: the results before their statistics (where the timing goes)."""
    summarise: Callable[[dict], dict]
    """``summarise(results)``: the statistics over runs, recomputable from the stored runs."""
    findings: Callable[[dict, Any], list[str]]
    """``findings(results, preset)``: plain statements of the outcome from the summary."""
    write: Callable[[dict, Path], list[Path]]
    """``write(results, out_dir)``: the results files, written atomically."""
    results_name: str
    """The results JSON's file name in the output folder."""
    writes_each_run: bool = False
    """Rewrite the results after every finished run (an interrupted call keeps what it finished);
    otherwise once, when every run is in."""
    processes: bool = True
    """Train each run in its own single-threaded process (``workers`` at a time); otherwise one
    after another in the calling process, on XLA's own threads. A thread count changes the order
    in which XLA sums, so a record keeps the mode its committed runs were trained in."""

    def jobs(self, preset: Any, n_seeds: int) -> list[tuple[Any, int]]:
        """Every (row, seed) of ``preset`` in the record's order."""
        rows = self.rows(preset)
        if self.seed_major:
            return [(row, seed) for seed in range(n_seeds) for row in rows]
        return [(row, seed) for row in rows for seed in range(n_seeds)]

    def run_labels(self, preset: Any, n_seeds: int) -> list[str]:
        """``"ROW seed S"`` for every job, the names progress displays use."""
        return [_label(row.id, seed) for row, seed in self.jobs(preset, n_seeds)]


@dataclass(frozen=True)
class Placement:
    """Where the runs of one call train: this host's share of them, and on what.

    ``workers`` single-threaded processes of one CPU device each, or (``workers == 0``) one
    after another in this process on a mesh of ``devices`` devices.
    """

    mode: str
    host: int
    hosts: int
    workers: int
    devices: int
    model_axis: int = 1

    def describe(self) -> str:
        """One line: what trains where."""
        shape = f"{self.devices // self.model_axis} x {self.model_axis} (data x model)"
        hosts = "" if self.hosts == 1 else f"host {self.host} of {self.hosts}: "
        if self.mode == "global":
            return f"{hosts}every run trains on one {shape} mesh spanning every host"
        if self.workers:
            return f"{hosts}runs train in {self.workers} single-threaded worker process(es), one CPU device each"
        return f"{hosts}runs train one at a time on a {shape} mesh"


def placement(record: ExperimentRecord, n_jobs: int, workers: int | None = None, mode: str = "runs",
              model_axis: int = 1) -> Placement:
    """Where a call's runs train (see the module's description), joining the hosts the
    environment names; ``workers`` caps the CPU worker processes (default: one per core);
    ``model_axis`` devices of the mesh split each parameter matrix (1: parameters replicated)."""
    import jax

    from ropelab.checks.findings.models import mesh

    if mode not in PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {mode!r}")
    if isinstance(model_axis, bool) or not isinstance(model_axis, int) or model_axis < 1:
        raise ValueError(f"model_axis must be a positive integer, got {model_axis!r}")
    hosts = mesh.join_hosts()
    local = jax.local_devices()
    devices = len(jax.devices()) if mode == "global" else len(local)
    if devices % model_axis:
        raise ValueError(f"model_axis must divide the {devices} device(s) the runs train on, got {model_axis}")
    if mode == "global":
        return Placement(mode, hosts.index, hosts.count, 0, devices, model_axis)
    if record.processes and len(local) == 1 and local[0].platform == "cpu":
        share = len(hosts.mine(range(n_jobs)))
        return Placement(mode, hosts.index, hosts.count, max(1, min(int(workers or os.cpu_count() or 1), share)), 1)
    return Placement(mode, hosts.index, hosts.count, 0, devices, model_axis)


def _label(row_id: str, seed: int) -> str:
    return f"{row_id} seed {seed}"


_PROGRESS = None
"""In a training process: the queue its runs report their steps to (set by :func:`_single_threaded_worker`)."""


def _single_threaded_worker(progress=None) -> None:
    """A training process: float64 available and the compilation cache (as at the CLI), XLA on one
    thread; ``progress`` (a queue, or ``None``) receives ``(row, seed, step)`` at each evaluation."""
    global _PROGRESS
    _PROGRESS = progress
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                               "intra_op_parallelism_threads=1").strip()
    import jax

    from ropelab.checks.findings.models.model_cache import enable_compilation_cache

    jax.config.update("jax_enable_x64", True)
    enable_compilation_cache()


class _InProcess:
    """The part of an executor the runner uses, running each call at once in this process; a run
    reports its steps straight to ``report(row_id, seed, step)``."""

    def __init__(self, report: Callable[[str, int, int], None] | None):
        self.report = report

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *_) -> None:
        global _PROGRESS
        _PROGRESS = None

    def put(self, item: tuple[str, int, int]) -> None:
        self.report(*item)

    def submit(self, fn: Callable[..., dict], *args) -> Future:
        global _PROGRESS
        _PROGRESS = None if self.report is None else self
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as err:  # noqa: BLE001 - handed on through the future, as a process pool does
            future.set_exception(err)
        return future


def _train_one(record: ExperimentRecord, preset: Any, row: Any, seed: int, checkpoints: Path) -> dict:
    """Train and evaluate one (row, seed) in a training process, reporting each evaluation's step."""
    queue, every, last = _PROGRESS, preset.train.eval_every, preset.train.steps

    def report(step: int, _loss: float) -> None:
        if queue is not None and step % every == 0 and step < last:  # the last: the result
            queue.put((row.id, seed, step))

    checkpoints.mkdir(parents=True, exist_ok=True)
    return record.train(preset, row, seed, checkpoints / f"{row.id}_seed{seed}.ckpt", report)


def _run_file(out_dir: Path, key: tuple[str, int]) -> Path:
    return out_dir / "runs" / f"{key[0]}_seed{key[1]}.json"


def _wait_for_runs(out_dir: Path, keys: list[tuple[str, int]], finished: dict, poll: float = 5.0) -> None:
    """Host 0: read every other host's finished runs from ``out_dir/runs`` as they appear."""
    while missing := [key for key in keys if key not in finished]:
        for key in missing:
            path = _run_file(out_dir, key)
            if path.exists():
                finished[key] = json.loads(path.read_text(encoding="utf-8"))
        if len(finished) < len(keys):
            time.sleep(poll)


def run(record: ExperimentRecord, preset: Any, out_dir: str | Path, seeds: int | None = None, progress=None,
        workers: int | None = None, mode: str = "runs", model_axis: int = 1) -> dict:
    """Train and evaluate every (row, seed) of ``preset``; write and return the results.

    Runs train where :func:`placement` puts them (``mode``: ``runs`` or ``global``; ``workers``
    caps the CPU worker processes; ``model_axis`` splits the parameters over that many devices). Checkpoints go to ``out_dir/checkpoints`` (an interrupted
    call resumes there); the results go to ``out_dir`` through ``record.write``. ``progress`` is
    an optional ``rich.progress.Progress``: an overall task, and one task per run that moves at
    each evaluation and ends (``visible=False``) when the run has been evaluated. A failed run
    (a damaged checkpoint) stops the call at once; the runs queued behind it are not started.
    """
    n_seeds = preset.seeds if seeds is None else int(seeds)
    if n_seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds}")
    out_dir = Path(out_dir)
    jobs = record.jobs(preset, n_seeds)
    keys = [(row.id, seed) for row, seed in jobs]
    where = placement(record, len(jobs), workers, mode, model_axis)
    import jax

    from ropelab.checks.findings.models import mesh, training

    hosts = mesh.Hosts(where.host, where.hosts)
    mine = jobs if mode == "global" else hosts.mine(jobs)
    many_hosts = where.hosts > 1 and mode == "runs"
    invocation = Invocation(time.time(), tuple(os.getloadavg()), max(where.workers, 1))
    head = record.describe(preset, n_seeds)
    overall = progress.add_task(f"{record.name} runs", total=len(mine)) if progress else None
    tasks = {(row.id, seed): progress.add_task(_label(row.id, seed), total=preset.train.steps) if progress else None
             for row, seed in mine}
    # on a CPU-only host each run trains in its own single-threaded process: two such processes do
    # more work on two cores than one process whose small matrix products are split over both, and
    # the numbers of a run do not depend on how many workers there are (they do on the threads of
    # one process)
    context = multiprocessing.get_context("spawn")
    finished: dict[tuple[str, int], dict] = {}
    queued = iter(mine)
    # a SimpleQueue writes each report into its pipe before put() returns, so a run's reports are
    # read before its result, which comes later through the pool's own pipe
    steps_done = context.SimpleQueue() if progress is not None and where.workers else None

    def advance_bars() -> None:
        while steps_done is not None and not steps_done.empty():
            report(*steps_done.get())

    def results_so_far() -> dict:
        results = record.assemble(head, [finished[key] for key in keys if key in finished], invocation)
        results["summary"] = record.summarise(results)
        results["findings"] = record.findings(results, preset)
        return results

    def report(row_id: str, seed: int, step: int) -> None:
        progress.update(tasks[(row_id, seed)], completed=step)

    executor = (ProcessPoolExecutor(where.workers, mp_context=context, initializer=_single_threaded_worker,
                                    initargs=(steps_done,)) if where.workers
                else _InProcess(report if progress is not None else None))
    devices = None if mode == "global" else jax.local_devices()
    on_mesh = (contextlib.nullcontext() if where.workers
               else training.running_on(mesh.training_mesh(model=model_axis, devices=devices)))
    with executor as pool, on_mesh:
        running: dict = {}

        def submit(n: int) -> None:  # only when a worker is free: a failed run stops the call at once
            for row, seed in itertools.islice(queued, n):
                running[pool.submit(_train_one, record, preset, row, seed, out_dir / "checkpoints")] = (row.id, seed)

        submit(max(where.workers, 1))
        while running:
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            advance_bars()
            for future in done:
                key = running.pop(future)
                finished[key] = future.result()
                if many_hosts:
                    (out_dir / "runs").mkdir(parents=True, exist_ok=True)
                    write_text_atomically(_run_file(out_dir, key), json.dumps(finished[key]))
                elif record.writes_each_run and hosts.leader:
                    record.write(results := results_so_far(), out_dir)
                if progress is not None:
                    progress.update(tasks[key], completed=preset.train.steps, visible=False)
                    progress.advance(overall)
                submit(1)
    if many_hosts:
        if not hosts.leader:  # host 0 assembles and writes
            return results_so_far()
        _wait_for_runs(out_dir, keys, finished)
    results = results_so_far()
    if hosts.leader and (many_hosts or not record.writes_each_run):
        record.write(results, out_dir)
    return results
