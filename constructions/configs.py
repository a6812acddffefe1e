"""Real RoPE configurations (the "zoo") and reading them from JSON, TOML or HF ``config.json``.

A :class:`RopeConfig` is a head dimension, a context length and an HF-style dictionary of
RoPE parameters (``rope_type``, ``rope_theta`` and the type's own keys), so that its schedule
is exactly :func:`.frequencies.from_hf_parameters` — the function whose output
``rope_matches_peer_implementations`` compares with HF transformers and Gemma. :data:`ZOO`
lists the models of SPEC §7; :func:`load_configs` reads a user's file.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import frequencies


@dataclass(frozen=True)
class RopeConfig:
    """One attention layer type of one model: head dimension, context and RoPE parameters."""

    name: str
    head_dim: int
    context: int
    parameters: Mapping[str, Any]
    source: str = "built-in"
    peer: str | None = None  # the matching entry of the peer vectors, where one covers it
    note: str = ""

    def schedule(self) -> tuple[np.ndarray, float]:
        """``(freqs, attention_factor)``: one frequency per pair of the whole head, ``(d/2,)``.

        A partial-rotary prefix (``partial_rotary_factor`` < 1 outside ``proportional``)
        rotates ``int(d f)/2`` pairs; the remaining pairs are listed with frequency 0 (the
        spectrum is the same up to a permutation of coordinates).

        >>> f, a = ZOO_BY_NAME["Pythia-160M (GPT-NeoX)"].schedule()
        >>> f.shape, int((f > 0).sum()), a
        ((32,), 8, 1.0)
        """
        try:
            freqs, attention = frequencies.from_hf_parameters(self.head_dim, dict(self.parameters))
        except ValueError as err:
            raise ValueError(f"{self.name}: {err}") from None
        full = np.zeros(self.head_dim // 2)
        full[: freqs.size] = freqs
        return full, attention

    def rope_label(self) -> str:
        """A short description such as ``"yarn x4, theta 1e6"``.

        >>> ZOO_BY_NAME["Gemma 4 global"].rope_label()
        'proportional p=0.25, theta 1e6'
        """
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
    if "factor" in parameters and "original_max_position_embeddings" in parameters:
        scaled = int(parameters["factor"] * parameters["original_max_position_embeddings"])
        return max(scaled, declared or 0)
    return declared


def _hf(config: Mapping[str, Any], name: str, where: str, context: int | None) -> list[RopeConfig]:
    cfg = dict(config)
    if isinstance(cfg.get("text_config"), Mapping):  # multimodal wrappers keep the LM inside
        cfg = {**cfg, **cfg["text_config"]}
    head_dim = cfg.get("head_dim")
    if head_dim is None:
        if "hidden_size" not in cfg or "num_attention_heads" not in cfg:
            raise ValueError(f"{name}: cannot tell the head dimension: give head_dim, or hidden_size and "
                             "num_attention_heads")
        head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    head_dim = _positive_int(head_dim, "head_dim", name)
    declared = cfg.get("max_position_embeddings")
    window = cfg.get("sliding_window")

    def one(label: str, parameters: dict[str, Any], d: int, length: int | None) -> RopeConfig:
        parameters = dict(parameters)
        if "type" in parameters and "rope_type" not in parameters:
            parameters["rope_type"] = parameters.pop("type")
        parameters.setdefault("rope_type", "default")
        chosen = context if context is not None else length
        if chosen is None:
            raise ValueError(f"{label}: no context length in the config (max_position_embeddings); pass --context")
        return RopeConfig(label, d, _positive_int(chosen, "context", label), parameters, where)

    legacy = {}
    theta = cfg.get("rope_theta", cfg.get("rotary_emb_base"))
    if theta is not None:
        legacy["rope_theta"] = theta
    partial = cfg.get("partial_rotary_factor", cfg.get("rotary_pct"))
    if partial is not None:
        legacy["partial_rotary_factor"] = partial

    parameters = cfg.get("rope_parameters")
    if isinstance(parameters, Mapping) and parameters and all(isinstance(v, Mapping) for v in parameters.values()):
        out = []
        for layer_type, params in parameters.items():
            merged = {**{k: v for k, v in legacy.items() if k == "partial_rotary_factor"}, **params}
            sliding = "sliding" in layer_type or "local" in layer_type
            d = cfg.get("global_head_dim", head_dim) if not sliding else head_dim
            length = window if sliding and window else _scaled_context(merged, declared)
            out.append(one(f"{name} [{layer_type}]", merged, _positive_int(d, "global_head_dim", name), length))
        return out
    if isinstance(parameters, Mapping):
        merged = {**legacy, **parameters}
    else:
        scaling = cfg.get("rope_scaling") or {}
        if not isinstance(scaling, Mapping):
            raise ValueError(f"{name}: rope_scaling must be a mapping, got {scaling!r}")
        merged = {**legacy, **scaling}
    out = [one(name, merged, head_dim, _scaled_context(merged, declared))]
    if "rope_local_base_freq" in cfg:  # Gemma 3 configs before rope_parameters
        local = {"rope_type": "default", "rope_theta": cfg["rope_local_base_freq"]}
        out[0] = RopeConfig(f"{name} [full_attention]", out[0].head_dim, out[0].context, out[0].parameters, where)
        out.append(one(f"{name} [sliding_attention]", local, head_dim, window or declared))
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
    ...                                 "model_type": "llama"}, "tiny")]
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


def load_configs(path: str | Path, context: int | None = None) -> list[RopeConfig]:
    """Read ``path`` (``.toml``, or JSON otherwise) with :func:`parse_configs`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ValueError(f"cannot read config file {path}: {err.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {err}") from None
    return parse_configs(data, path.stem if path.name != "config.json" else path.parent.name or "config", str(path),
                         context)


def with_context(config: RopeConfig, context: int) -> RopeConfig:
    """The same configuration evaluated at another context length."""
    if isinstance(context, bool) or not isinstance(context, int) or context < 2:
        raise ValueError(f"context must be an integer >= 2, got {context!r}")
    return RopeConfig(config.name, config.head_dim, context, config.parameters, config.source, config.peer, config.note)


def wavelengths(freqs: np.ndarray) -> np.ndarray:
    r"""Tokens per full turn, :math:`2\pi/g` (``inf`` for unrotated pairs).

    >>> wavelengths(np.array([1.0, 0.0])).round(4).tolist()
    [6.2832, inf]
    """
    g = np.asarray(freqs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(g > 0, 2 * math.pi / np.where(g > 0, g, 1.0), math.inf)

