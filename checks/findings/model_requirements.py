"""What a local model needs before the analysis loads it; one line naming what is missing otherwise.

:func:`refuse_unloadable` runs before any work starts (``ropelab analyze-model --model PATH``):
a GGUF file must declare an architecture transformers converts; an HF folder must declare a
model type transformers knows, a causal-LM architecture and RoPE parameters of a type ropelab
reads (:data:`ropelab.constructions.frequencies.ROPE_TYPES`) in every layer (a config whose
``no_rope_layers`` marks NoPE layers, as SmolLM3's does, is refused); and either must come with a
tokenizer (a GGUF file carries its own; an HF folder needs ``tokenizer.json``,
``tokenizer.model`` or ``vocab.json``, or ``--tokenizer FOLDER``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ropelab.constructions import frequencies

from ropelab.checks.findings.model_identity import gguf_metadata, gguf_tensor_types
from ropelab.checks.findings.models.model_adapter import require

__all__ = ["has_tokenizer", "refuse_unloadable"]

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def has_tokenizer(folder: str | Path) -> bool:
    """True if ``folder`` holds one of :data:`TOKENIZER_FILES`.

    >>> has_tokenizer("/no/such/folder")
    False
    """
    return any((Path(folder) / name).is_file() for name in TOKENIZER_FILES)


def _rope_types(config: dict) -> list[str]:
    params = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if not params and config.get("rope_theta") is None:
        return []
    groups = list(params.values()) if params and all(isinstance(v, dict) for v in params.values()) else [params]
    return [str(g.get("rope_type", g.get("type", "default"))) for g in groups]


def refuse_unloadable(model_dir: str | Path, gguf_file: str | None = None, tokenizer: str | Path | None = None) -> None:
    """Raise ``ValueError`` (one line, naming the missing part) unless the model can be analysed."""
    model_dir = Path(model_dir)
    if tokenizer is not None and not has_tokenizer(tokenizer):
        raise ValueError(f"--tokenizer: {tokenizer} holds none of {', '.join(TOKENIZER_FILES)}")
    if gguf_file is not None:
        meta = gguf_metadata(model_dir / gguf_file, ("general.architecture", "tokenizer.ggml.model"))
        arch = meta.get("general.architecture")
        supported = set(require("transformers.modeling_gguf_pytorch_utils").GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"}
        if arch not in supported:
            raise ValueError(f"--model: GGUF architecture {arch!r} is not one transformers loads ({', '.join(sorted(supported))})")
        quants = require("gguf.quants")
        readable = {quants.GGMLQuantizationType.F32, quants.GGMLQuantizationType.F16, *quants._type_traits}
        for name, kind in gguf_tensor_types(model_dir / gguf_file).items():
            if kind not in {int(t) for t in readable}:
                label = getattr(quants.GGMLQuantizationType, "_value2member_map_", {}).get(kind)
                raise ValueError(f"--model: tensor {name} has type {label.name if label else kind}, which the gguf package "
                                 "cannot dequantise")
        if tokenizer is None and "tokenizer.ggml.model" not in meta:
            raise ValueError(f"--model: {gguf_file} carries no tokenizer (tokenizer.ggml.model): pass --tokenizer FOLDER")
        return
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    model_type = config.get("model_type")
    known = require("transformers").models.auto.configuration_auto.CONFIG_MAPPING_NAMES
    if model_type not in known:
        raise ValueError(f"--model: config.json model_type {model_type!r} is not a model type transformers knows")
    architectures = config.get("architectures") or []
    if not any(str(a).endswith("ForCausalLM") or str(a).endswith("ForConditionalGeneration") for a in architectures):
        raise ValueError(f"--model: config.json architectures {architectures} name no causal language model (*ForCausalLM)")
    types = _rope_types(config.get("text_config", config))
    if not types:
        raise ValueError("--model: config.json declares no RoPE parameters (rope_parameters / rope_theta): not a RoPE model")
    unknown = sorted(set(types) - set(frequencies.ROPE_TYPES))
    if unknown:
        raise ValueError(f"--model: rope_type {unknown[0]!r} is not supported (rope_type must be one of {frequencies.ROPE_TYPES})")
    text = config.get("text_config", config)
    no_rope = [i for i, uses in enumerate(text.get("no_rope_layers") or []) if not uses]
    if no_rope:
        raise ValueError(f"--model: layers {no_rope} use no RoPE (no_rope_layers); the capture reads RoPE layers only, "
                         "so a model that mixes RoPE and NoPE layers is not analysed yet")
    if tokenizer is None and not has_tokenizer(model_dir):
        raise ValueError(f"--model: {model_dir} holds no tokenizer ({', '.join(TOKENIZER_FILES)}): pass --tokenizer FOLDER")
