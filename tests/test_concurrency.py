"""Caches and outputs shared by several processes: all of them succeed, and what they leave
has the usual mode (umask), not tempfile's private 0700/0600."""

import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from ropelab.checks.atomic import usual_mode
from ropelab.checks.findings.models import model_cache

PROCESSES = 4
SPAWN = multiprocessing.get_context("spawn")  # fresh interpreters: forking a process running JAX may deadlock


def _build_same_folder(target: str) -> str:
    """One process of the race: build ``target`` with slow, deterministic contents."""
    import time

    def fill(tmp: Path) -> None:
        for i in range(3):
            (tmp / f"part{i}.bin").write_bytes(bytes([i]) * 100_000)
            time.sleep(0.05)  # widen the window in which the others are building too

    return str(model_cache.build_folder(target, fill))


def test_concurrent_builds_of_one_cache_folder_all_succeed(tmp_path):
    target = tmp_path / "hf" / "entry"
    with ProcessPoolExecutor(PROCESSES, mp_context=SPAWN) as pool:
        built = list(pool.map(_build_same_folder, [str(target)] * PROCESSES))
    assert built == [str(target)] * PROCESSES
    assert model_cache.folder_is_complete(target)
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "part0.bin", "part1.bin", "part2.bin"]
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")], "temporary folders left behind"
    assert stat.S_IMODE(target.stat().st_mode) == usual_mode(folder=True)


def test_a_stale_folder_is_replaced_not_used(tmp_path):
    target = tmp_path / "entry"
    target.mkdir()
    (target / "half-written.bin").write_bytes(b"x")  # no manifest: an interrupted build
    model_cache.build_folder(target, lambda tmp: (tmp / "a.bin").write_bytes(b"a"))
    assert sorted(p.name for p in target.iterdir()) == ["a.bin", "manifest.json"]


def _summary_cycle(args: tuple[str, int]) -> bool:
    """Save and read back a summary under one shared key (a reader sees some writer's whole copy)."""
    root, seed = args
    path = Path(root) / "summaries" / "shared.json"
    for i in range(20):
        model_cache.save_json(path, {"writer": seed, "round": i})
        found = model_cache.load_json(path)
        assert found is not None and set(found) == {"writer", "round"}
    return True


def test_concurrent_summary_writers_never_corrupt_the_entry(tmp_path):
    with ProcessPoolExecutor(PROCESSES, mp_context=SPAWN) as pool:
        assert all(pool.map(_summary_cycle, [(str(tmp_path), s) for s in range(PROCESSES)]))
    assert model_cache.load_json(tmp_path / "summaries" / "shared.json")["round"] == 19


@pytest.mark.slow
def test_concurrent_commands_share_the_cache_and_the_output_folder(tmp_path):
    """Several ``ropelab`` processes at once, one cache (the JAX compile cache) and one --out."""
    env = {**os.environ, "ROPELAB_CACHE": str(tmp_path / "cache"), "COLUMNS": "120"}
    script = textwrap.dedent("""
        import sys
        from ropelab.cli import main
        main(sys.argv[1:])
    """)
    commands = [["verify", "rope_preserves_norm", "--quick"], ["verify", "rope_preserves_norm", "--quick"],
                ["figs", "frequency_spectra", "--out", str(tmp_path / "figs")],
                ["figs", "frequency_spectra", "--out", str(tmp_path / "figs")]]
    running = [subprocess.Popen([sys.executable, "-c", script, *c], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for c in commands]
    outputs = [p.communicate(timeout=600)[0] for p in running]
    for process, output in zip(running, outputs, strict=True):
        assert process.returncode == 0, output
        assert "Traceback" not in output, output
    assert (tmp_path / "figs" / "frequency_spectra.png").stat().st_size > 1000
    assert not list((tmp_path / "figs").glob(".*.part"))
    jax_cache = tmp_path / "cache" / "jax"
    assert jax_cache.is_dir() and any(jax_cache.iterdir())
    for folder in [jax_cache, tmp_path / "figs"]:
        assert stat.S_IMODE(folder.stat().st_mode) == usual_mode(folder=True)
