"""Real-model parity for the zoo: ropelab's reading of stored ``config.json`` files against transformers.

:func:`hf_parity` compares every stored real-model vector (``checks/data/hf_rope_parity.json``)
with ropelab's schedule, per layer type, within float32 bounds; :func:`layer_parity` compares
ropelab's per-layer plan with the one transformers builds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ropelab.checks import tolerances
from ropelab.constructions import configs

__all__ = ["PARITY_FILE", "hf_parity", "hf_parity_of", "layer_parity"]

PARITY_FILE = Path(__file__).resolve().parents[1] / "data" / "hf_rope_parity.json"


@dataclass(frozen=True)
class ParityRow:
    """One layer type of one real model: ropelab's schedule against transformers' rotary class."""

    model: str
    row: str
    frequency_error: float  # worst relative error of the inverse frequencies / its float32 bound
    rotation_error: float  # worst |cos - cos_hf|, |sin - sin_hf| / its float32 bound
    attention_error: float  # |attention factor - HF's|
    agrees: bool


def hf_parity(path: Path | None = None) -> list[ParityRow]:
    """Compare every stored real-model vector (``checks/data/hf_rope_parity.json``) with ropelab.

    Each stored model keeps its ``config.json`` as transformers saves it and, per layer type,
    what the model's own rotary embedding class computes in float32: ``inv_freq``, the
    attention scaling and cos/sin at a few positions (the last is the sequence length - 1,
    which sets ``dynamic`` and ``longrope``). ropelab reads the config with
    :func:`~ropelab.constructions.configs.parse_configs` and must agree within float32 bounds
    derived from the effective base ``1/g_min`` (:func:`ropelab.checks.tolerances.peer_frequencies`
    and :func:`~ropelab.checks.tolerances.peer_rotation`). Needs neither torch nor transformers.

    >>> rows = hf_parity()
    >>> len({r.model for r in rows}) >= 20, all(r.agrees for r in rows)
    (True, True)
    """
    return hf_parity_of(json.loads((path or PARITY_FILE).read_text()))


DERIVED_FIELDS = ("layer_types", "no_rope_layers")
"""Fields transformers' config classes derive when a config.json lacks them (older files do)."""


def layer_parity(model: str, config: dict, layers: list) -> list[ParityRow]:
    """ropelab's per-layer reading (:func:`~ropelab.constructions.configs.layer_plan`) against transformers':
    once on the config as saved, once with the derived fields removed (as an older config.json has it).
    Each row's errors are the number of layers read differently."""
    expected = [(str(t), bool(rope)) for t, rope in layers]
    cfg = configs.text_config(config)
    out = []
    for row, variant in (("layers as saved", cfg), ("layers derived", {k: v for k, v in cfg.items()
                                                                     if k not in DERIVED_FIELDS})):
        try:
            ours = configs.layer_plan(variant, model)
        except ValueError:  # refusing a config without the derived fields is allowed; refusing it as saved is not
            out.append(ParityRow(model, f"{row} (refused)", 0.0, 0.0, 0.0, row == "layers derived"))
            continue
        wrong = sum(a != b for a, b in zip(ours, expected)) + abs(len(ours) - len(expected))
        out.append(ParityRow(model, row, float(wrong), float(wrong), 0.0, wrong == 0))
    return out


def hf_parity_of(data: dict) -> list[ParityRow]:
    """:func:`hf_parity` on an already parsed parity document (``{"models": {...}}``)."""
    out = []
    for model, entry in data["models"].items():
        if "layers" in entry:  # per layer: its type and whether it applies RoPE, as transformers builds the model
            out.extend(layer_parity(model, entry["config"], entry["layers"]))
        parsed = {c.name: c for c in configs.parse_configs(entry["config"], model)}
        if set(parsed) != set(entry["rows"]):
            raise ValueError(f"{model}: ropelab reads layer types {sorted(parsed)}, the file has {sorted(entry['rows'])}")
        for name, ref in entry["rows"].items():
            config = parsed[name]
            if not ref["rotary"]:
                out.append(ParityRow(model, name, 0.0, 0.0, 0.0, not config.rotary))
                continue
            ours, attention = config.schedule()
            inv = np.asarray(ref["inv_freq"])
            if inv.size > ours.size:  # ropelab reads a smaller head than the rotary class uses
                out.append(ParityRow(model, name, math.inf, math.inf, math.inf, False))
                continue
            rotating = inv[inv > 0]
            effective_base = float(1.0 / rotating.min()) if rotating.size else math.e
            rel = np.abs(ours[: inv.size] - inv) / np.where(inv == 0, 1.0, inv)
            frequency = float(rel.max()) / tolerances.peer_frequencies(effective_base, np.float32).value
            angle = np.multiply.outer(np.asarray(ref["positions"], dtype=np.float64), ours[: inv.size])
            worst = max(float(np.max(np.abs(attention * np.cos(angle) - np.asarray(ref["cos"])))),
                        float(np.max(np.abs(attention * np.sin(angle) - np.asarray(ref["sin"])))))
            bound = tolerances.peer_rotation(effective_base, np.float32, float(angle.max()), max(attention, 1.0))
            rotation = worst / bound.value
            att = abs(attention - ref["attention_scaling"])
            agrees = (frequency <= 1.0 and rotation <= 1.0 and bool(np.all(ours[inv.size:] == 0))
                      and att <= 4 * tolerances.EPS64 * max(1.0, attention))
            out.append(ParityRow(model, name, frequency, rotation, att, agrees))
    return out
