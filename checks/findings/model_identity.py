"""Which model an analysis read: its name and family, from the GGUF metadata or the HF config.

Every output of ``ropelab analyze-model`` (report heading, figure titles, ``summary.json``) is
headed by :func:`describe`'s label, so an analysis of a Llama-family checkpoint never carries
another family's name. The GGUF header is read here with a small key/value walker that stops
once it has the two fields it needs (``general.name``, ``general.architecture``), so naming a
model costs milliseconds, not a parse of its tensors.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from ropelab.checks.findings.models import model_cache as mc

__all__ = [
    "describe",
    "gguf_metadata",
    "gguf_tensor_types",
    "label",
    "model_fingerprint",
    "model_from_path",
    "slug",
]

GGUF_MAGIC = b"GGUF"
# GGUF value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array, 10 u64, 11 i64, 12 f64
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
WANTED = ("general.name", "general.architecture")


def _read(handle, fmt: str):
    size = struct.calcsize("<" + fmt)
    data = handle.read(size)
    if len(data) != size:
        raise ValueError("GGUF header ends early")
    return struct.unpack("<" + fmt, data)[0]


def _string(handle) -> str:
    n = _read(handle, "Q")
    data = handle.read(n)
    if len(data) != n:
        raise ValueError("GGUF header ends early")
    return data.decode("utf-8", errors="replace")


def _value(handle, kind: int):
    if kind in _SCALAR:
        return _read(handle, _SCALAR[kind])
    if kind == 8:
        return _string(handle)
    if kind == 9:
        inner, count = _read(handle, "I"), _read(handle, "Q")
        if inner in _SCALAR:  # skip numeric arrays without reading them item by item
            handle.seek(count * struct.calcsize("<" + _SCALAR[inner]), 1)
            return None
        for _ in range(count):
            _value(handle, inner)
        return None
    raise ValueError(f"GGUF header has an unknown value type {kind}")


def _header(handle, path) -> tuple[int, int]:
    if handle.read(4) != GGUF_MAGIC:
        raise ValueError(f"{path} is not a GGUF file (no GGUF magic)")
    version = _read(handle, "I")
    if version < 2:
        raise ValueError(f"{path}: GGUF version {version} is not supported (needs 2 or later)")
    return _read(handle, "Q"), _read(handle, "Q")  # tensor count, key/value count


def gguf_metadata(path: str | Path, wanted: tuple[str, ...] = WANTED) -> dict[str, object]:
    """The ``wanted`` string/number fields of a GGUF file's header (those present).

    Raises ``ValueError`` if the file is not GGUF.
    """
    found: dict[str, object] = {}
    with open(path, "rb") as handle:
        _, n_kv = _header(handle, path)
        for _ in range(n_kv):
            key = _string(handle)
            value = _value(handle, _read(handle, "I"))
            if key in wanted:
                found[key] = value
                if len(found) == len(wanted):
                    break
    return found


def gguf_tensor_types(path: str | Path) -> dict[str, int]:
    """Each tensor's GGML type number (``gguf.GGMLQuantizationType``), read from the header alone."""
    out: dict[str, int] = {}
    with open(path, "rb") as handle:
        n_tensors, n_kv = _header(handle, path)
        for _ in range(n_kv):
            _string(handle)
            _value(handle, _read(handle, "I"))
        for _ in range(n_tensors):
            name = _string(handle)
            handle.seek(8 * _read(handle, "I"), 1)  # the dimensions
            out[name] = _read(handle, "I")
            _read(handle, "Q")  # offset
    return out


def describe(model_dir: str | Path, gguf_file: str | None = None) -> dict[str, str]:
    """``{"name", "family", "file", "label"}`` of a local model: a GGUF file in ``model_dir`` or an HF folder.

    GGUF: ``general.name`` and ``general.architecture``; HF: the config's ``_name_or_path``
    (else the folder's name) and its ``model_type``. A missing name falls back to the file or
    folder name; a missing family raises ``ValueError`` naming the field.
    """
    model_dir = Path(model_dir)
    if gguf_file is not None:
        meta = gguf_metadata(model_dir / gguf_file)
        if "general.architecture" not in meta:
            raise ValueError(f"--model: {gguf_file} declares no general.architecture in its GGUF metadata")
        name = str(meta.get("general.name") or Path(gguf_file).stem)
        family, file = str(meta["general.architecture"]), gguf_file
    else:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        if not config.get("model_type"):
            raise ValueError(f"--model: {model_dir / 'config.json'} declares no model_type")
        name = str(config.get("_name_or_path") or model_dir.name)
        family, file = str(config["model_type"]), model_dir.name
    return {"name": name, "family": family, "file": file, "label": label(name, family, file)}


def label(name: str, family: str, file: str) -> str:
    """The heading every output of an analysis carries.

    >>> label("Smollm2 135M", "llama", "SmolLM2-135M-Instruct.Q4_1.gguf")
    'Smollm2 135M (llama family, SmolLM2-135M-Instruct.Q4_1.gguf)'
    """
    return f"{name} ({family} family, {file})"


def slug(name: str) -> str:
    """A folder name for a model's results: lower case, letters, digits and underscores.

    >>> slug("Smollm2 135M 8k")
    'smollm2_135m_8k'
    """
    out = "".join(c if c.isalnum() else "_" for c in name.lower())
    return "_".join(part for part in out.split("_") if part) or "model"


def model_from_path(path: str | Path) -> tuple[Path, str | None]:
    """``(model_dir, gguf_file)`` for a local model: a GGUF file, or an HF folder with config.json and weights.

    Raises ``ValueError`` naming what is missing.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(f"--model must be a .gguf file or a Hugging Face folder (config.json + *.safetensors), got {path}")
        return path.parent, path.name
    if not path.is_dir():
        raise ValueError(f"--model: no such file or folder: {path}")
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise ValueError(f"--model: {path} is not a Hugging Face checkpoint folder (needs config.json and *.safetensors)")
    return path, None


def model_fingerprint(model_dir: str | Path, gguf_file: str | None = None, tokenizer: str | Path | None = None) -> str:
    """A key for a local model covering everything that shapes a capture: weights, config and tokenizer files.

    Two checkpoints with equal weights but different configs (a Llama and a Mistral built
    alike differ only in base and window) get different keys.
    """
    model_dir = Path(model_dir)
    if gguf_file is not None:
        files = [model_dir / gguf_file]
    else:
        files = sorted(model_dir.glob("*.safetensors"))
        if not files:
            raise ValueError(f"model_dir must hold a GGUF file (gguf_file) or *.safetensors weights, found none in {model_dir}")
        files += [model_dir / "config.json"]
        files += [model_dir / name for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
                  if (model_dir / name).is_file()]
    if tokenizer is not None:
        files += sorted(p for p in Path(tokenizer).iterdir() if p.is_file() and p.name.startswith(("tokenizer", "vocab", "merges", "special")))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"model files missing: {', '.join(missing)}")
    return mc.cache_key(**{str(f.relative_to(model_dir)) if f.is_relative_to(model_dir) else f"tokenizer/{f.name}": mc.sha256_file(f)
                           for f in files})
