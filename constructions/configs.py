"""Real RoPE configurations (the "zoo") and parsing them from JSON/TOML documents or HF ``config.json`` dicts.

A :class:`RopeConfig` is a head dimension, a context length and an HF-style dictionary of
RoPE parameters (``rope_type``, ``rope_theta`` and the type's own keys), so that its schedule
is exactly :func:`.frequencies.from_hf_parameters` — the function whose output
``rope_matches_peer_implementations`` compares with HF transformers and Gemma. :data:`ZOO`
lists the models of SPEC §7; ``ropelab.checks.findings.zoo.load_configs`` reads a user's file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import frequencies

__all__ = [
    "NOPE_FULL_ATTENTION_TYPES",
    "NO_ROPE_INTERVAL_TYPES",
    "PATTERN_DEFAULTS",
    "RopeConfig",
    "ZOO",
    "ZOO_BY_NAME",
    "layer_plan",
    "parse_configs",
    "text_config",
    "wavelengths",
    "with_context",
]


@dataclass(frozen=True)
class RopeConfig:
    """One attention layer type of one model: head dimension, context and RoPE parameters.

    ``context`` is the span of relative distances the layer sees (its sliding window or
    attention chunk when it has one); ``sequence_length`` is the number of tokens the model
    reads (``None``: the same as ``context``), which sets the schedule of ``dynamic`` and
    ``longrope``. ``rotary`` is ``False`` for NoPE layers (Llama 4's ``no_rope_layers``).
    """

    name: str
    head_dim: int
    context: int
    parameters: Mapping[str, Any]
    source: str = "built-in"
    peer: str | None = None  # the matching entry of the peer vectors, where one covers it
    note: str = ""
    window: int | None = None
    layout: str = "half"
    layers: int | None = None
    rotary: bool = True
    sequence_length: int | None = None
    max_position_embeddings: int | None = None

    @property
    def tokens(self) -> int:
        """Tokens the model reads (``sequence_length``, else ``context``)."""
        return self.sequence_length if self.sequence_length is not None else self.context

    def schedule(self) -> tuple[np.ndarray, float]:
        """``(freqs, attention_factor)``: one frequency per pair of the whole head, ``(d/2,)``.

        A partial-rotary prefix (``partial_rotary_factor`` < 1 outside ``proportional``)
        rotates ``int(d f)/2`` pairs; the remaining pairs are listed with frequency 0 (the
        spectrum is the same up to a permutation of coordinates). ``dynamic`` and
        ``longrope`` are evaluated at :attr:`tokens`.

        >>> f, a = ZOO_BY_NAME["Pythia-160M (GPT-NeoX)"].schedule()
        >>> f.shape, int((f > 0).sum()), a
        ((32,), 8, 1.0)
        """
        full = np.zeros(self.head_dim // 2)
        if not self.rotary:
            return full, 1.0
        try:
            freqs, attention = frequencies.from_hf_parameters(
                self.head_dim, dict(self.parameters), self.tokens, self.max_position_embeddings)
        except ValueError as err:
            raise ValueError(f"{self.name}: {err}") from None
        full[: freqs.size] = freqs
        return full, attention

    def rope_label(self) -> str:
        """A short description such as ``"yarn x4, theta 1e6"``.

        >>> ZOO_BY_NAME["Gemma 4 global"].rope_label()
        'proportional p=0.25, theta 1e6'
        """
        if not self.rotary:
            return "NoPE"
        p = self.parameters
        kind = p.get("rope_type", p.get("type", "default"))
        text = kind
        if kind == "proportional":
            text += f" p={p.get('partial_rotary_factor', 1.0):g}"
        elif "factor" in p:
            text += f" x{p['factor']:g}"
        if kind != "proportional" and p.get("partial_rotary_factor", 1.0) != 1.0:
            text += f", rotary {p['partial_rotary_factor']:g}"
        theta = p.get("rope_theta", float("nan"))
        return f"{text}, theta {f'{theta:.3g}'.replace('e+0', 'e').replace('e+', 'e')}"


def _entry(name: str, head_dim: int, context: int, peer: str | None, note: str = "", **parameters: Any) -> RopeConfig:
    parameters.setdefault("rope_type", "default")
    return RopeConfig(name, head_dim, context, parameters, "built-in", peer, note)


ZOO: tuple[RopeConfig, ...] = (
    _entry("Gemma 7B", 256, 8192, "Gemma 7B", rope_theta=10_000.0),
    _entry("Llama 2 7B", 128, 4096, "Llama 2 7B", rope_theta=10_000.0),
    _entry("Llama 3.1 8B", 128, 131_072, "Llama 3.1 8B (llama3 scaling)", rope_type="llama3",
           rope_theta=500_000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
           original_max_position_embeddings=8192),
    _entry("Gemma 3 local", 256, 512, "Gemma 7B", "sliding window 512 (270M/1B)", rope_theta=10_000.0),
    _entry("Gemma 3 global (27B)", 128, 131_072, "Gemma 3 global (linear x8)", rope_type="linear",
           rope_theta=1_000_000.0, factor=8.0),
    _entry("Gemma 3 global (4B/12B)", 256, 131_072, None, rope_type="linear", rope_theta=1_000_000.0, factor=8.0),
    _entry("Gemma 4 global", 512, 131_072, "Gemma 4 global (proportional 0.25)", rope_type="proportional",
           rope_theta=1_000_000.0, partial_rotary_factor=0.25),
    _entry("Gemma 4 local", 256, 512, "Gemma 7B", "sliding window 512", rope_theta=10_000.0),
    _entry("Pythia-160M (GPT-NeoX)", 64, 2048, "Pythia / GPT-NeoX partial rotary 25%", rope_theta=10_000.0,
           partial_rotary_factor=0.25),
    _entry("Qwen2.5 7B (YaRN x4)", 128, 131_072, "YaRN x4 (Qwen2.5-style)", rope_type="yarn",
           rope_theta=1_000_000.0, factor=4.0, original_max_position_embeddings=32_768),
)
ZOO_BY_NAME = {c.name: c for c in ZOO}

# Keys that mark a file as an HF transformers config.json rather than a ropelab model list.
HF_MARKERS = ("model_type", "architectures", "hidden_size", "num_attention_heads", "rope_parameters",
              "rope_scaling", "text_config", "max_position_embeddings")
NATIVE_KEYS = ("name", "head_dim", "context")


def _positive_int(value: Any, what: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {what} must be a positive integer, got {value!r}")
    return value


def _native(entry: Mapping[str, Any], where: str, context: int | None) -> RopeConfig:
    missing = [k for k in ("head_dim",) if k not in entry]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)} (a model needs name, head_dim, context "
                         "and RoPE parameters such as rope_theta)")
    name = str(entry.get("name", where))
    head_dim = _positive_int(entry["head_dim"], "head_dim", name)
    if context is None:
        if "context" not in entry:
            raise ValueError(f"{name}: missing context (or pass --context)")
        context = _positive_int(entry["context"], "context", name)
    parameters = {k: v for k, v in entry.items() if k not in NATIVE_KEYS}
    parameters.setdefault("rope_type", parameters.pop("type", "default"))
    return RopeConfig(name, head_dim, context, parameters, where)


def _scaled_context(parameters: Mapping[str, Any], declared: int | None) -> int | None:
    # YaRN / llama3 configs often keep the pre-training length in max_position_embeddings;
    # the scaled model is meant for factor x original tokens.
    # A declared length beyond the original one is the scaled model's own (Llama 3.2: x32 but 128k).
    if parameters.get("rope_type") == "dynamic" and parameters.get("factor") and declared:
        return int(parameters["factor"] * declared)  # dynamic NTK exists to read beyond its training length
    original = parameters.get("original_max_position_embeddings")
    if parameters.get("factor") and original and not (declared and declared > original):
        return max(int(parameters["factor"] * original), declared or 0)
    return declared


# Top-level fields of real configs that change RoPE in ways ropelab does not model.
UNSUPPORTED_FIELDS = ("layer_rope_theta", "swa_head_dim", "compress_rope_theta", "rope_scaling_layers",
                      "mrope_section", "rope_deltas", "use_mem_rope", "rotary_value", "local_rope_theta")
# Layer types whose span is limited, and the config field giving that span.
SPAN_FIELDS = {"sliding_attention": "sliding_window", "chunked_attention": "attention_chunk_size"}
# Layer types without attention (no RoPE to read): hybrid models list them among layer_types.
NON_ATTENTION_LAYER_TYPES = ("conv", "mlp", "mamba", "moe")
# Models whose HF code rotates interleaved pairs (x[2m], x[2m+1]) rather than half-split ones.
INTERLEAVED_MODEL_TYPES = ("gptj", "codegen", "glm", "glm4", "cohere", "cohere2", "chatglm")


# Families whose config class derives layer_types from a sliding-window pattern, and the class's
# default pattern (transformers' Gemma3TextConfig, Gemma4TextConfig, Cohere2Config, Exaone4Config ...).
PATTERN_DEFAULTS = {"gemma3": 6, "gemma3_text": 6, "gemma4": 6, "gemma4_text": 6, "cohere2": 4, "exaone4": 4,
                    "exaone4_5": 4, "exaone_moe": 4, "gpt_oss": 2, "gemma2": 2, "vaultgemma": 2,
                    "olmo3": 4, "cwm": 4, "gemma3n": 5, "gemma3n_text": 5, "diffusion_gemma": 6,
                    "diffusion_gemma_text": 6, "embedding_gemma2": 6, "embedding_gemma2_text": 6, "gemma4_unified": 6,
                    "gemma4_unified_text": 6, "gemma4_unified_assistant": 6, "t5gemma2": 6, "t5gemma2_text": 6,
                    "t5gemma2_encoder": 6}
# Fields some classes name their pattern by.
PATTERN_FIELDS = ("sliding_window_pattern", "_sliding_window_pattern", "global_attn_every_n_layers")
# Families whose config class derives layer_types by a rule of its own (not a pattern): a config of
# theirs without layer_types is refused.
IRREGULAR_LAYER_TYPES = ("flint", "lfm3", "lfm3_vl", "mimo_v2_flash", "ultrabert", "ultravbert", "cwm", "kolibri1")
# Families whose config class derives no_rope_layers from no_rope_layer_interval (class default 4).
NO_ROPE_INTERVAL_TYPES = ("llama4", "llama4_text", "smollm3")
# Families whose attention applies RoPE on sliding-window layers only: Cohere2's full-attention layers
# have no RoPE; Exaone 4's neither, where the model has a sliding window at all.
NOPE_FULL_ATTENTION_TYPES = ("cohere2",)
NOPE_FULL_ATTENTION_WITH_WINDOW_TYPES = ("exaone4", "exaone4_5", "exaone_moe", "kolibri1")
# Families whose per-layer RoPE rule ropelab does not read yet.
UNREAD_LAYER_RULES: dict[str, str] = {}


def _layer_count(cfg: Mapping[str, Any], name: str) -> int:
    field_ = next((f for f in ("num_hidden_layers", "num_layers") if cfg.get(f) is not None), None)  # num_layers: LongCat
    if field_ is None:
        raise ValueError(f"{name}: num_hidden_layers is missing (ropelab needs it to read which layers use RoPE)")
    return _positive_int(cfg[field_], field_, name)


def _flags(values: Any, what: str, n: int, name: str) -> list[bool]:
    if not isinstance(values, list) or len(values) != n or any(v not in (0, 1) for v in values):
        raise ValueError(f"{name}: {what} must be a list of {n} entries 0 or 1 (one per layer), got {values!r}")
    return [bool(v) for v in values]


def layer_plan(cfg: Mapping[str, Any], name: str = "config") -> list[tuple[str, bool]]:
    """Per layer of an HF config: its attention type and whether it applies RoPE, read as transformers does.

    ``layer_types`` where given; else derived as the family's config class derives it
    (``sliding_window_pattern``; Qwen2's ``max_window_layers``; Llama 4 and SmolLM3 from
    ``no_rope_layers`` / ``no_rope_layer_interval``; one sliding window on every layer where only
    ``sliding_window`` is given). RoPE is off on ``no_rope_layers`` zeros and on Cohere2's full-attention
    layers (Exaone 4's where it has a window). A field the rule needs and the config lacks
    (``num_hidden_layers`` first of all) is refused with a ``ValueError`` naming it, never defaulted.

    >>> layer_plan({"model_type": "cohere2", "num_hidden_layers": 4, "sliding_window": 4096,
    ...             "sliding_window_pattern": 4})
    [('sliding_attention', True), ('sliding_attention', True), ('sliding_attention', True), ('full_attention', False)]
    >>> layer_plan({"model_type": "llama", "hidden_size": 64})
    Traceback (most recent call last):
    ...
    ValueError: config: num_hidden_layers is missing (ropelab needs it to read which layers use RoPE)
    """
    model_type = str(cfg.get("model_type", ""))
    if model_type in UNREAD_LAYER_RULES:
        raise ValueError(f"{name}: model_type {model_type!r} not supported yet: {UNREAD_LAYER_RULES[model_type]}")
    layer_types = cfg.get("layer_types")
    if layer_types is not None:
        if not isinstance(layer_types, list) or not layer_types or not all(isinstance(t, str) for t in layer_types):
            raise ValueError(f"{name}: layer_types must be a non-empty list of layer type names, got {layer_types!r}")
        n = len(layer_types)
        if cfg.get("num_hidden_layers") is not None and _layer_count(cfg, name) != n:
            raise ValueError(f"{name}: layer_types has {n} entries but num_hidden_layers is {cfg['num_hidden_layers']}")
    else:
        n = _layer_count(cfg, name)
    no_rope = cfg.get("no_rope_layers")
    if not no_rope and model_type in NO_ROPE_INTERVAL_TYPES:  # the config class's own derivation
        interval = _positive_int(cfg.get("no_rope_layer_interval", 4), "no_rope_layer_interval", name)
        no_rope = [int((i + 1) % interval != 0) for i in range(n)]
    uses_rope = _flags(no_rope, "no_rope_layers", n, name) if no_rope else [True] * n
    if layer_types is None:
        window = cfg.get("sliding_window")
        pattern = next((cfg[f] for f in PATTERN_FIELDS if cfg.get(f) is not None), PATTERN_DEFAULTS.get(model_type))
        if model_type in IRREGULAR_LAYER_TYPES:
            raise ValueError(f"{name}: layer_types is missing (model_type {model_type!r} derives them by a rule of "
                             "its own, not read yet)")
        if model_type.startswith("llama4"):
            chunked = cfg.get("attention_chunk_size") is not None
            layer_types = ["chunked_attention" if rope and chunked else "full_attention" for rope in uses_rope]
        elif model_type == "smollm3":
            sliding = bool(cfg.get("use_sliding_window")) and window is not None
            layer_types = ["sliding_attention" if sliding and not rope else "full_attention" for rope in uses_rope]
        elif pattern is not None or cfg.get("rope_local_base_freq") is not None:
            if pattern is None:
                raise ValueError(f"{name}: rope_local_base_freq needs sliding_window_pattern (which layers are local)")
            if isinstance(pattern, str):
                raise ValueError(f"{name}: sliding_window_pattern {pattern!r} as a string not supported yet")
            pattern = _positive_int(pattern, "sliding_window_pattern", name)
            layer_types = ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(n)]
            if model_type.startswith("gemma4"):
                layer_types[-1] = "full_attention"  # Gemma4TextConfig makes the last layer global
        elif cfg.get("max_window_layers") is not None:  # Qwen2-style: sliding from layer max_window_layers on
            first = cfg["max_window_layers"]
            if isinstance(first, bool) or not isinstance(first, int) or first < 0:
                raise ValueError(f"{name}: max_window_layers must be a non-negative integer, got {first!r}")
            sliding = bool(cfg.get("use_sliding_window")) and window is not None
            layer_types = ["sliding_attention" if sliding and i >= first else "full_attention" for i in range(n)]
        else:
            # Mistral 7B v0.1 and others: one sliding window on every layer, no layer_types
            sliding = window is not None and cfg.get("use_sliding_window", True)
            layer_types = ["sliding_attention" if sliding else "full_attention"] * n
    layer_types = list(layer_types)
    if model_type in NOPE_FULL_ATTENTION_TYPES or (model_type in NOPE_FULL_ATTENTION_WITH_WINDOW_TYPES
                                                   and cfg.get("sliding_window") is not None):
        uses_rope = [rope and t == "sliding_attention" for t, rope in zip(layer_types, uses_rope)]
    if model_type == "cohere2_moe":  # as Cohere2, but dense prefix layers with a pattern of 1 force RoPE
        for field_ in ("layer_types", "mlp_layer_types", "prefix_dense_sliding_window_pattern"):
            if cfg.get(field_) is None:
                raise ValueError(f"{name}: {field_} is missing (ropelab needs it to read which cohere2_moe layers use RoPE)")
        mlp = cfg["mlp_layer_types"]
        if not isinstance(mlp, list) or len(mlp) != n:
            raise ValueError(f"{name}: mlp_layer_types must list {n} layers, got {mlp!r}")
        forced = cfg["prefix_dense_sliding_window_pattern"] == 1
        uses_rope = [rope and (t == "sliding_attention" or (forced and m == "dense"))
                     for t, rope, m in zip(layer_types, uses_rope, mlp)]
    return list(zip(layer_types, uses_rope))


def _head_dim(cfg: Mapping[str, Any], name: str) -> int:
    # Multi-head latent attention (DeepSeek-V2/V3, MiniCPM3, GLM-4.5-Air ...): only the
    # qk_rope_head_dim part of each head rotates; hidden/heads is not a RoPE dimension there.
    for key in ("qk_rope_head_dim", "head_dim", "kv_channels"):  # kv_channels: JetMoe / Megatron naming
        if cfg.get(key):
            return _positive_int(cfg[key], key, name)
    if "hidden_size" not in cfg or "num_attention_heads" not in cfg:
        raise ValueError(f"{name}: cannot tell the head dimension: give head_dim, or hidden_size and "
                         "num_attention_heads")
    return _positive_int(cfg["hidden_size"] // cfg["num_attention_heads"], "hidden_size // num_attention_heads",
                         name)


def _legacy_parameters(cfg: Mapping[str, Any], head_dim: int, name: str) -> dict[str, Any]:
    legacy: dict[str, Any] = {}
    theta = cfg.get("rope_theta", cfg.get("rotary_emb_base"))
    if theta is not None:
        legacy["rope_theta"] = theta
    partial = cfg.get("partial_rotary_factor", cfg.get("rotary_pct"))
    if cfg.get("rotary_dim") is not None:  # GPT-J / CodeGen: a prefix of rotary_dim coordinates
        rotary_dim = _positive_int(cfg["rotary_dim"], "rotary_dim", name)
        if rotary_dim > head_dim:
            raise ValueError(f"{name}: rotary_dim must be at most the head dimension {head_dim}, got {rotary_dim}")
        partial = rotary_dim / head_dim
    if partial is not None:
        legacy["partial_rotary_factor"] = partial
    return legacy


def _layer_head_dims(cfg: Mapping[str, Any], layer_types: list[str], head_dim: int, name: str) -> list[int]:
    dims = [head_dim] * len(layer_types)
    if cfg.get("global_head_dim"):
        dims = [_positive_int(cfg["global_head_dim"], "global_head_dim", name) if t == "full_attention" else d
                for t, d in zip(layer_types, dims)]
    overrides = cfg.get("per_layer_config") or {}
    if not isinstance(overrides, Mapping):
        raise ValueError(f"{name}: per_layer_config must map layer indices to overrides, got {overrides!r}")
    for index, override in overrides.items():
        unknown = sorted(set(override) - {"head_dim", "num_key_value_heads"})
        if unknown:
            raise ValueError(f"{name}: per_layer_config field(s) {unknown} not supported yet")
        try:
            layer = int(index)
            dims[layer] = _positive_int(override.get("head_dim", dims[layer]), "per_layer_config head_dim", name)
        except (ValueError, IndexError):
            raise ValueError(f"{name}: per_layer_config key {index!r} is not a layer index below "
                             f"{len(layer_types)}") from None
    return dims


def text_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """An HF config with its language model's fields on top (multimodal wrappers keep them in ``text_config``)."""
    cfg = dict(config)
    if isinstance(cfg.get("text_config"), Mapping):
        cfg = {**cfg, **cfg["text_config"]}
    return cfg


def _hf(config: Mapping[str, Any], name: str, where: str, context: int | None) -> list[RopeConfig]:
    cfg = text_config(config)
    present = [k for k in UNSUPPORTED_FIELDS if cfg.get(k) is not None]
    if present:
        raise ValueError(f"{name}: config field(s) {present} not supported yet")
    head_dim = _head_dim(cfg, name)
    declared = cfg.get("max_position_embeddings")
    layout = "interleaved" if cfg.get("rope_interleave") or cfg.get("model_type") in INTERLEAVED_MODEL_TYPES \
        else "half"
    legacy = _legacy_parameters(cfg, head_dim, name)
    if cfg.get("original_max_position_embeddings") is not None:  # Phi-3 keeps it next to rope_scaling
        legacy["original_max_position_embeddings"] = cfg["original_max_position_embeddings"]

    parameters = cfg.get("rope_parameters")
    if parameters is None:
        parameters = cfg.get("rope_scaling") or {}
    if not isinstance(parameters, Mapping):
        raise ValueError(f"{name}: rope_parameters / rope_scaling must be a mapping, got {parameters!r}")
    nested = bool(parameters) and all(isinstance(v, Mapping) for v in parameters.values())
    plan = layer_plan(cfg, name)
    layer_types = [t for t, _ in plan]
    uses_rope = [rope for _, rope in plan]
    head_dims = _layer_head_dims(cfg, layer_types, head_dim, name)
    attention = [i for i, t in enumerate(layer_types) if t not in NON_ATTENTION_LAYER_TYPES]
    if not attention:
        raise ValueError(f"{name}: no attention layers among layer_types {sorted(set(layer_types))}")

    def parameters_for(layer_type: str) -> dict[str, Any]:
        if nested:
            if layer_type not in parameters:
                raise ValueError(f"{name}: rope_parameters has no entry for layer type {layer_type!r} "
                                 f"(it has {sorted(parameters)})")
            own = dict(parameters[layer_type])
        else:
            own = dict(parameters)
            if layer_type == "sliding_attention" and cfg.get("rope_local_base_freq") is not None:
                own = {"rope_type": "default", "rope_theta": cfg["rope_local_base_freq"]}  # Gemma 3, before 4.5x
        if "type" in own and "rope_type" not in own:
            own["rope_type"] = own.pop("type")
        if own.get("rope_type") == "su":  # Phi-3's first name for longrope
            own["rope_type"] = "longrope"
        merged = {**{k: v for k, v in legacy.items()
                     if k != "original_max_position_embeddings" or own.get("rope_type") in ("yarn", "longrope",
                                                                                          "llama3")}, **own}
        if legacy.get("original_max_position_embeddings") and own.get("rope_type") == "longrope":
            merged["original_max_position_embeddings"] = legacy["original_max_position_embeddings"]
        merged.setdefault("rope_type", "default")
        if merged["rope_type"] in ("yarn", "longrope", "llama3") and declared:
            merged.setdefault("original_max_position_embeddings", declared)
        if "rope_theta" not in merged:
            merged["rope_theta"] = 10_000.0  # HF's default_theta when a config names none
        return merged

    groups: dict[tuple[str, int, bool], int] = {}
    for i in attention:
        layer_type, d, rotary = layer_types[i], head_dims[i], uses_rope[i]
        groups[(layer_type, d, rotary)] = groups.get((layer_type, d, rotary), 0) + 1
    several_types = len(groups) > 1 or "rope_local_base_freq" in cfg
    out = []
    # full-attention rows first: the layer type that sees the whole context
    for (layer_type, d, rotary), count in sorted(groups.items(), key=lambda g: g[0][0] != "full_attention"):
        merged = parameters_for(layer_type)
        sequence = context if context is not None else _scaled_context(merged, declared)
        if sequence is None:
            raise ValueError(f"{name}: no context length in the config (max_position_embeddings); pass --context")
        sequence = _positive_int(sequence, "context", name)
        span_field = SPAN_FIELDS.get(layer_type)
        if layer_type not in SPAN_FIELDS and layer_type != "full_attention":
            raise ValueError(f"{name}: layer type {layer_type!r} not supported yet "
                             f"(known: full_attention, {', '.join(SPAN_FIELDS)})")
        window = None
        if span_field is not None:
            if cfg.get(span_field) is None:
                raise ValueError(f"{name}: layer type {layer_type!r} needs {span_field} in the config")
            window = _positive_int(cfg[span_field], span_field, name)
        label = name
        tags = [layer_type] if several_types or not rotary or window else []
        if len({dd for t, dd, _ in groups if t == layer_type}) > 1:
            tags.append(f"d={d}")
        if not rotary:
            tags.append("NoPE")
        if tags:
            label = f"{name} [{', '.join(tags)}]"
        out.append(RopeConfig(
            label, _positive_int(d, "head_dim", name), min(sequence, window) if window else sequence, merged, where,
            window=window, layout=layout, layers=count, rotary=rotary, sequence_length=sequence,
            max_position_embeddings=declared,
        ))
    return out


def parse_configs(data: Any, name: str, where: str = "user config", context: int | None = None) -> list[RopeConfig]:
    """RoPE configurations from a parsed JSON/TOML document.

    Three shapes are accepted: a ropelab list (``{"models": [...]}`` in JSON, ``[[model]]``
    tables in TOML), a single ropelab model (``name``, ``head_dim``, ``context`` and RoPE
    keys), or an HF ``config.json`` (``rope_theta`` / ``rope_scaling`` or ``rope_parameters``,
    per layer type where given; ``sliding_window`` is the context of sliding layers).
    Every schedule is built once here, so a bad file fails with a ``ValueError`` naming the
    model and the parameter.

    >>> [c.name for c in parse_configs({"rope_theta": 1e4, "head_dim": 64, "max_position_embeddings": 2048,
    ...                                 "model_type": "llama", "num_hidden_layers": 2}, "tiny")]
    ['tiny']
    >>> parse_configs({"name": "x", "head_dim": 8, "context": 16, "rope_theta": 1e4,
    ...                "partial_rotary_factor": 1.5}, "x")
    Traceback (most recent call last):
    ...
    ValueError: x: partial_rotary_factor must be a number in [0, 1], got 1.5
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a JSON object or TOML table at the top level")
    models = data.get("models", data.get("model"))
    if isinstance(models, list):
        configs = []
        for i, entry in enumerate(models):
            if not isinstance(entry, Mapping):
                raise ValueError(f"{where}: model {i + 1} must be a table/object, got {entry!r}")
            configs.append(_native(entry, f"{where} model {i + 1}", context))
    elif any(k in data for k in HF_MARKERS):
        configs = _hf(data, name, where, context)
    elif "head_dim" in data:
        configs = [_native(data, where if "name" not in data else str(data["name"]), context)]
    else:
        raise ValueError(f"{where}: not a model list ('models'/'model'), a model (head_dim, context, rope_theta) "
                         "or an HF config.json (rope_theta / rope_parameters)")
    for config in configs:
        config.schedule()  # validate now, with the model's name in the message
    return configs


def with_context(config: RopeConfig, context: int) -> RopeConfig:
    """The same configuration reading ``context`` tokens (a windowed layer still sees its window)."""
    if isinstance(context, bool) or not isinstance(context, int) or context < 2:
        raise ValueError(f"context must be an integer >= 2, got {context!r}")
    seen = min(context, config.window) if config.window else context
    return dataclasses.replace(config, context=seen, sequence_length=context)


def wavelengths(freqs: np.ndarray) -> np.ndarray:
    r"""Tokens per full turn, :math:`2\pi/g` (``inf`` for unrotated pairs).

    >>> wavelengths(np.array([1.0, 0.0])).round(4).tolist()
    [6.2832, inf]
    """
    g = np.asarray(freqs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(g > 0, 2 * math.pi / np.where(g > 0, g, 1.0), math.inf)

