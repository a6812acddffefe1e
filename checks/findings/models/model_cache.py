"""On-disk cache for the real-model analysis: folders with a manifest, captured activations, summaries.

Everything lives under :func:`cache_root` (``$ROPELAB_CACHE``, else ``~/.cache/ropelab``):

- ``gguf/`` and ``hf/``: the assembled Gemma 3 270M GGUF and its conversion
  (:mod:`ropelab.checks.findings.models.gemma_files`);
- ``activations/<key>.npz`` and ``summaries/<key>.json``: captures and analysis summaries,
  keyed by a hash of everything that determines them (model file hash, prompt, dtype,
  ropelab, torch and transformers versions).

Every entry is written to a temporary name and renamed into place, and carries a manifest of
SHA-256 digests written last; an entry whose manifest is missing or does not match its files
is partial or corrupted, and is deleted and rebuilt, never used.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ropelab.checks.atomic import usual_mode, write_atomically, write_text_atomically
from ropelab.checks.findings.models.capture_records import Capture

MANIFEST = "manifest.json"


def cache_root() -> Path:
    """The cache folder: ``$ROPELAB_CACHE`` if set, else ``~/.cache/ropelab``."""
    env = os.environ.get("ROPELAB_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ropelab"


def enable_compilation_cache() -> Path:
    """Keep XLA's compiled programs in ``cache_root() / "jax"``, for this process and later ones.

    XLA keys an entry on the whole program, the backend and ``XLA_FLAGS``, so a worker started
    with other flags (the single-threaded training workers) never reads another's program, and a
    second run of a command (or a resumed training run) reuses kernels instead of compiling them
    again. Called at the process edge (the CLI and its worker processes), never on import.
    Returns the folder.
    """
    import jax

    folder = cache_root() / "jax"
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return folder


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:12]
    'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(**parts: Any) -> str:
    """A stable hex key for a set of named inputs (JSON with sorted keys, SHA-256, 32 hex digits).

    >>> cache_key(prompt="hi", model="m") == cache_key(model="m", prompt="hi")
    True
    """
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def versions() -> dict[str, str]:
    """Versions of the packages that shape a capture (``"missing"`` where one is absent)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("ropelab", "torch", "transformers", "gguf", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


# --- folders with a manifest ----------------------------------------------------------------


def _write_manifest(folder: Path) -> None:
    digests = {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}
    write_text_atomically(folder / MANIFEST, json.dumps(digests, indent=1, sort_keys=True))


def folder_is_complete(folder: str | Path) -> bool:
    """True if ``folder`` has a manifest and every file it lists exists with that SHA-256."""
    folder = Path(folder)
    try:
        digests = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not digests:
        return False
    return all((folder / name).is_file() and sha256_file(folder / name) == digest for name, digest in digests.items())


def build_folder(target: str | Path, fill: Callable[[Path], None]) -> Path:
    """Build a cached folder: reuse a complete one, else ``fill`` a temporary folder and rename it in.

    ``fill(tmp)`` writes the files; the manifest is written after it returns. Several
    processes may build the same folder at once: the first rename wins and the others find
    a complete folder and discard their own copy. A partial or corrupted folder (no
    manifest, or a file that does not match it) is moved aside and deleted, never used.
    The folder gets the usual mode (umask), not ``mkdtemp``'s private 0700.
    """
    target = Path(target)
    if folder_is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        tmp.chmod(usual_mode(folder=True))
        fill(tmp)
        _write_manifest(tmp)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _move_into_place(tmp: Path, target: Path, attempts: int = 5) -> None:
    """Rename ``tmp`` to ``target``; if a complete ``target`` appeared meanwhile, keep it instead."""
    for _ in range(attempts):
        try:
            os.replace(tmp, target)
            return
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        if folder_is_complete(target):  # another process finished first: its copy is as good
            shutil.rmtree(tmp, ignore_errors=True)
            return
        # a stale, incomplete folder: rename it aside (atomic), then delete it at leisure
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".stale", dir=target.parent))
        try:
            os.replace(target, aside / "old")
        except FileNotFoundError:  # someone else moved it already
            pass
        shutil.rmtree(aside, ignore_errors=True)
    raise OSError(f"could not move {tmp} into place at {target} after {attempts} attempts")

# --- captures ---------------------------------------------------------------------------------


def save_capture(path: str | Path, capture: Capture) -> Path:
    """Write a capture as ``.npz`` plus a ``.sha256`` sidecar, each atomically (sidecar last)."""
    path = Path(path)
    buffer = io.BytesIO()
    np.savez(buffer, **capture.to_arrays())
    data = buffer.getvalue()
    write_atomically(path, lambda tmp: tmp.write_bytes(data))
    write_text_atomically(path.with_suffix(".sha256"), hashlib.sha256(data).hexdigest())
    return path


def load_capture(path: str | Path) -> Capture | None:
    """Read a capture written by :func:`save_capture`; ``None`` if absent, partial or corrupted."""
    path = Path(path)
    try:
        data = path.read_bytes()
        expected = path.with_suffix(".sha256").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != expected:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return Capture.from_arrays(dict(arrays))
    except (ValueError, KeyError, OSError):
        return None


def cached_capture(key: str, compute: Callable[[], Capture], root: Path | None = None, refresh: bool = False) -> tuple[Capture, bool]:
    """Return ``(capture, from_cache)``: the cached capture under ``key`` or ``compute()``'s, saved.

    A cache entry that fails its checksum or does not parse is removed and recomputed.
    """
    root = cache_root() if root is None else root
    path = root / "activations" / f"{key}.npz"
    if not refresh:
        found = load_capture(path)
        if found is not None:
            return found, True
    for stale in (path, path.with_suffix(".sha256")):
        stale.unlink(missing_ok=True)
    result = compute()
    save_capture(path, result)
    return result, False


def save_json(path: str | Path, payload: dict) -> Path:
    """Write ``{"sha256": ..., "payload": payload}`` atomically (the digest covers the payload text)."""
    text = json.dumps(payload, sort_keys=True)
    record = {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "payload": payload}
    return write_text_atomically(path, json.dumps(record, sort_keys=True))


def load_json(path: str | Path) -> dict | None:
    """Read a record written by :func:`save_json`; ``None`` if absent, unparsable or altered."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        payload = record["payload"]
        text = json.dumps(payload, sort_keys=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != record.get("sha256"):
        return None
    return payload


__all__ = [
    "build_folder",
    "cache_key",
    "cache_root",
    "cached_capture",
    "enable_compilation_cache",
    "folder_is_complete",
    "load_capture",
    "load_json",
    "save_json",
    "sha256_file",
    "versions",
]
