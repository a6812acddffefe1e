"""The configuration zoo (SPEC §7): what each real RoPE schedule means for semantic and positional use.

For one :class:`~ropelab.constructions.configs.RopeConfig` at its context length ``L``:

- **unbroken channels**: pairs whose breaking context against an anti-aligned rival of equal
  norm (:func:`ropelab.theory.semantic_channels.semantic_range`, ~ pi/(2g)) exceeds ``L``;
  unrotated pairs never break;
- **lowest channel breaks at**: that breaking context for the slowest *rotating* pair;
- **critical pairs**: rotating pairs whose wavelength 2 pi/g is at most ``L`` (they turn at
  least once); for an unscaled full schedule also ``i* = (d/2) log_theta(L/2pi)``;
- **cheapest top-band head**: the smallest ``s^2`` for which the Thm 5.3 diagonal head on the
  16 fastest rotating pairs (equal weights) has ``min_i alpha_ii >= 1 - 0.01`` over ``L``
  tokens (bisection on the exact weights), and the query norm ``s``.

The verdicts (is the base large enough?) are in :mod:`ropelab.checks.findings.zoo_verdicts`; the
parity of ropelab's reading with transformers' in :mod:`ropelab.checks.findings.zoo_parity`.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ropelab.constructions import semantic_channels, configs
from ropelab.theory import base_bounds as th_base
from ropelab.theory import semantic_channels as th_sc

__all__ = ["HEAD_BAND", "HEAD_EPS", "ZooRow", "load_configs", "summarise"]

HEAD_BAND = 16
HEAD_EPS = 0.01


def load_configs(path: str | Path, context: int | None = None) -> list[configs.RopeConfig]:
    """Read ``path`` (``.toml``, or JSON otherwise) with :func:`ropelab.constructions.configs.parse_configs`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read config file {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"config file {path} is not text (a JSON, TOML or HF config.json is expected)") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {err}") from None
    return configs.parse_configs(data, path.stem if path.name != "config.json" else path.parent.name or "config", str(path),
                         context)


@dataclass(frozen=True)
class ZooRow:
    name: str
    rope: str
    head_dim: int
    context: int
    rotating_pairs: int
    unrotated_pairs: int
    fastest: float
    slowest: float
    attention_factor: float
    unbroken_channels: int
    slowest_breaks_at: float
    slowest_turns: float
    critical_pairs: int
    critical_index: float | None
    head_scale_sq: float
    head_norm: float
    searched_break: int | None = None
    search_limit: int | None = None
    sequence_length: int | None = None  # tokens the model reads; context is what this layer type sees
    window: int | None = None
    layers: int | None = None
    layout: str = "half"

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def summarise(config: configs.RopeConfig, search_limit: int | None = None) -> ZooRow:
    """One row of the zoo table for ``config`` at ``config.context`` (the span its layer type sees:
    the sliding window or attention chunk where it has one; the schedule of ``dynamic`` and
    ``longrope`` is taken at the sequence length).

    With ``search_limit``, the slowest rotating channel is also searched by brute force
    (:func:`ropelab.constructions.semantic_channels.breaking_context`, streamed) up to that many tokens.

    >>> row = summarise(configs.ZOO_BY_NAME["Gemma 7B"])
    >>> row.unbroken_channels, row.slowest_breaks_at, row.critical_pairs, round(row.head_scale_sq, 1)
    (9, 14619, 100, 23.6)
    """
    freqs, attention = config.schedule()
    rotating = freqs[freqs > 0]
    ranges = np.array([th_sc.semantic_range(float(g)) for g in freqs])
    slowest = float(rotating.min()) if rotating.size else 0.0
    critical = int(np.sum(configs.wavelengths(rotating) <= config.context))
    p = config.parameters
    standard = (config.rotary and p.get("rope_type", "default") == "default"
                and p.get("partial_rotary_factor", 1.0) in (1.0, None))
    index = float(th_base.critical_pair_index(config.head_dim, p["rope_theta"], config.context)) if standard else None
    band = semantic_channels.top_band(freqs, HEAD_BAND)
    if band.size:
        curve = semantic_channels.diagonal_head_curve(freqs, band, config.context)
        scale_sq = semantic_channels.cheapest_scale_sq(curve, HEAD_EPS)
    else:
        scale_sq = math.inf
    searched = None
    if search_limit is not None and rotating.size:
        found = semantic_channels.breaking_context(slowest, math.pi, limit=search_limit)
        searched = found.context if found is not None else None
    return ZooRow(
        name=config.name, rope=config.rope_label(), head_dim=config.head_dim, context=config.context,
        rotating_pairs=int(rotating.size), unrotated_pairs=int(freqs.size - rotating.size),
        fastest=float(rotating.max()) if rotating.size else 0.0, slowest=slowest, attention_factor=attention,
        unbroken_channels=int(np.sum(ranges > config.context)),
        slowest_breaks_at=th_sc.semantic_range(slowest) if rotating.size else math.inf,
        slowest_turns=config.context * slowest / (2 * math.pi), critical_pairs=critical, critical_index=index,
        head_scale_sq=scale_sq, head_norm=math.sqrt(scale_sq), searched_break=searched, search_limit=search_limit,
        sequence_length=config.tokens, window=config.window, layers=config.layers, layout=config.layout,
    )
