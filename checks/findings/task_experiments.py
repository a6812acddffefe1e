"""What the synthetic-task experiments (``breaking``, ``offset``) share: their rows, the head and
layout of their results files, where their committed runs live.

A synthetic-task experiment trains small models on a task of
:mod:`ropelab.checks.findings.models.synthetic_tasks` with one encoding per row; its results file
``NAME_results.json`` holds the set-up, the runs in job order, then the wall-clock time, the
summary and the findings, and is rewritten after every finished run.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ropelab.checks.atomic import write_text_atomically
from ropelab.checks.findings.experiment_runner import ExperimentRecord, Invocation
from ropelab.checks.findings.finding import read_results
from ropelab.checks.findings.models import transformer as tf
from ropelab.checks.runner import library_versions

__all__ = [
    "Labelled",
    "PIPELINE_ONLY",
    "committed_results",
    "head",
    "load",
    "record",
    "regenerate_line",
    "results_name",
]

PIPELINE_ONLY = "pipeline check only: this preset trains too briefly to support any finding"
"""The one finding of a preset too small to support any (its ``reports_findings`` false)."""


@dataclass(frozen=True)
class Labelled:
    """One row of a synthetic-task experiment: its label and its encoding."""

    id: str
    encoding: tf.PositionalEncoding


def results_name(name: str) -> str:
    """The results file of experiment ``name``.

    >>> results_name("offset")
    'offset_results.json'
    """
    return f"{name}_results.json"


def committed_results(name: str) -> Path:
    """The committed ``small`` run of experiment ``name``, shipped as package data."""
    return Path(str(resources.files("ropelab.results").joinpath(f"{name}_small", results_name(name))))


def load(name: str, path: str | Path | None = None) -> dict:
    """Read a results file of experiment ``name`` (default: its committed ``small`` run)."""
    return read_results(committed_results(name) if path is None else path,
                        f"ropelab experiment {name} --preset small")


def head(name: str, preset, n_seeds: int, config: dict) -> dict:
    """The results' head: the experiment, the preset, its configuration, the seeds, the versions."""
    return {"experiment": name, "preset": preset.name, "description": preset.description, "config": config,
            "seeds": list(range(n_seeds)), "versions": library_versions(), "python": platform.python_version()}


def assemble(head: dict, runs: list[dict], invocation: Invocation) -> dict:
    """The head, the runs, then the wall-clock seconds the invocation has taken so far."""
    return {**head, "runs": runs, "elapsed_seconds": invocation.elapsed()}


def write(results: dict, out_dir: str | Path) -> list[Path]:
    """Write the results JSON atomically (the command prints the rest)."""
    return [write_text_atomically(Path(out_dir) / results_name(results["experiment"]),
                                  json.dumps(results, indent=1) + "\n")]


def regenerate_line(results: dict) -> str:
    """The command that remakes a committed run, and how long it took here."""
    return (f"Regenerate: ropelab experiment {results['experiment']} --preset small (about "
            f"{results.get('elapsed_seconds', 0) / 60:.0f} min here).")


def record(name: str, measures: str, presets: dict, rows, train, describe, summarise, findings) -> ExperimentRecord:
    """The record of synthetic-task experiment ``name``: every row of seed 0, then of seed 1, ...,
    trained one after another in the calling process (as its committed runs were: XLA's threads
    sum in another order than one thread does), its results rewritten after every run."""
    return ExperimentRecord(name=name, measures=measures, presets=presets, rows=rows, seed_major=True, train=train,
                            describe=describe, assemble=assemble, summarise=summarise, findings=findings, write=write,
                            results_name=results_name(name), writes_each_run=True, processes=False)
