"""Each attention layer's rotary schedule, read from an HF model's configuration and attention modules.

The frequencies come from the config (per layer type where the model has several: Gemma 3
alternates local layers with base :math:`10^4` and global layers with base :math:`10^6`); the
logit scaling, sliding window and soft cap from the attention module itself. Partial-rotary
heads (GPT-NeoX, Phi) are put in the full half layout with frequency 0 on their unrotated pairs
(:func:`canonical_permutation`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ropelab.checks.findings.models.capture_records import LayerSchedule
from ropelab.constructions import frequencies as _freqs

__all__ = [
    "attention_modules",
    "canonical_permutation",
    "head_dim_of",
    "layer_schedules",
    "rope_parameters_by_layer",
]


def _text_config(config: Any) -> Any:
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def head_dim_of(config: Any) -> int:
    """The attention head dimension an HF config declares (``head_dim`` or hidden / heads)."""
    config = _text_config(config)
    d = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return int(d)


def rope_parameters_by_layer(config: Any) -> list[tuple[str, dict]]:
    """Each layer's ``(layer_type, rope parameters)`` from an HF config.

    Reads ``rope_parameters`` (transformers >= 5: one dict, or one dict per layer type as in
    Gemma 3) and falls back to the older ``rope_theta`` + ``rope_scaling`` attributes. Layers
    without ``layer_types`` are all ``"full_attention"``.
    """
    config = _text_config(config)
    n_layers = int(config.num_hidden_layers)
    layer_types = list(getattr(config, "layer_types", None) or ["full_attention"] * n_layers)
    params = getattr(config, "rope_parameters", None)
    if not params:
        params = dict(getattr(config, "rope_scaling", None) or {})
        if getattr(config, "rope_theta", None) is not None:
            params["rope_theta"] = config.rope_theta
    if not params:
        raise ValueError("the config declares no RoPE parameters (rope_parameters / rope_theta): not a RoPE model")
    per_type = all(isinstance(v, dict) for v in params.values())
    out = []
    for kind in layer_types:
        layer_params = dict(params[kind]) if per_type else dict(params)
        fraction = getattr(config, "partial_rotary_factor", None)
        if fraction is not None and "partial_rotary_factor" not in layer_params:
            layer_params["partial_rotary_factor"] = fraction
        out.append((kind, layer_params))
    return out


def attention_modules(model: Any) -> list[Any]:
    """The model's self-attention modules in layer order (``*Attention`` modules with a layer index and a scaling)."""
    found = [m for m in model.modules()
             if type(m).__name__.endswith("Attention") and hasattr(m, "layer_idx") and hasattr(m, "scaling")]
    if not found:
        raise ValueError(f"no attention modules with a layer index and a scaling found in {type(model).__name__}")
    return sorted(found, key=lambda m: m.layer_idx)


def canonical_permutation(d: int, rotary_dim: int | None) -> np.ndarray:
    r"""Coordinate order that puts a prefix-rotary head into the full half layout; shape ``(d,)``.

    A partial-rotary head (GPT-NeoX, Phi) rotates pairs ``(x[m], x[m + r/2])``, ``m < r/2``, of
    its first ``r`` coordinates and leaves the rest alone. After ``x[perm]`` pair ``m < r/2`` is
    that rotated pair and every later pair joins two unrotated coordinates (frequency 0), so the
    head is a p-RoPE-like head in the standard layout and every measurement applies unchanged.

    >>> canonical_permutation(8, 4).tolist()
    [0, 1, 4, 5, 2, 3, 6, 7]
    >>> canonical_permutation(8, None).tolist()
    [0, 1, 2, 3, 4, 5, 6, 7]
    """
    r = d if rotary_dim is None else int(rotary_dim)
    if r % 2 or not 0 < r <= d:
        raise ValueError(f"rotary_dim must be an even integer in [2, {d}], got {rotary_dim}")
    n, rest = r // 2, (d - r) // 2
    first = np.r_[np.arange(n), r + np.arange(rest)]
    second = np.r_[n + np.arange(n), r + rest + np.arange(rest)]
    return np.r_[first, second].astype(int)


def layer_schedules(model: Any) -> list[LayerSchedule]:
    """Every layer's schedule: frequencies from the config, constants from the attention module.

    The frequencies come from :func:`ropelab.constructions.frequencies.from_hf_parameters`
    (float64), not from the model's float32 ``inv_freq`` buffer: the capture check compares
    the two.
    """
    config = _text_config(model.config)
    d = head_dim_of(config)
    params = rope_parameters_by_layer(config)
    modules = attention_modules(model)
    if len(modules) != len(params):
        raise ValueError(f"config lists {len(params)} layers but the model has {len(modules)} attention modules")
    out = []
    for module, (kind, layer_params) in zip(modules, params):
        freqs, factor = _freqs.from_hf_parameters(d, layer_params)
        rotary_dim = None if 2 * freqs.size == d else 2 * freqs.size
        freqs = np.concatenate([freqs, np.zeros(d // 2 - freqs.size)])  # unrotated pairs turn at frequency 0
        window = getattr(module, "sliding_window", None)
        softcap = getattr(module, "attn_logit_softcapping", None)
        out.append(
            LayerSchedule(
                layer=int(module.layer_idx),
                layer_type=kind,
                theta=float(layer_params["rope_theta"]),
                rope_type=str(layer_params.get("rope_type", "default")),
                freqs=freqs,
                attention_factor=float(factor),
                scaling=float(module.scaling),
                sliding_window=None if window is None else int(window),
                softcap=None if softcap is None else float(softcap),
                rotary_dim=rotary_dim,
            )
        )
    return out
