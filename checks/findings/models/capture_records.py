"""The data a real-model capture holds: each layer's rotary schedule and the captured arrays.

:class:`LayerSchedule` is one attention layer's rotary schedule and attention constants;
:class:`Capture` is what one forward pass of one prompt showed (queries and keys before the
rotary map, values, attention maps, logits), with a flat-array form for ``np.savez``.
Both are filled by :mod:`ropelab.checks.findings.models.model_adapter`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Capture", "LayerSchedule"]


@dataclass(frozen=True)
class LayerSchedule:
    """One attention layer's rotary schedule and the constants its attention uses.

    ``freqs`` is the float64 schedule, shape ``(d/2,)``, highest first; ``theta`` its base;
    ``attention_factor`` multiplies cos and sin (YaRN's temperature, else 1); ``scaling``
    multiplies ``q . k`` before the softmax; ``sliding_window`` (or ``None``) lets row ``i``
    see keys ``j`` with ``i - j < window``; ``softcap`` (or ``None``) maps a logit ``a`` to
    ``softcap * tanh(a / softcap)``; ``rotary_dim`` (or ``None`` for all ``d``) is the length
    of the rotated prefix of a GPT-NeoX-style partial-rotary head, whose captured vectors are
    put in the canonical layout
    (:func:`ropelab.checks.findings.models.model_schedules.canonical_permutation`) so that ``freqs`` is 0 on the
    unrotated pairs.
    """

    layer: int
    layer_type: str
    theta: float
    rope_type: str
    freqs: np.ndarray
    attention_factor: float
    scaling: float
    sliding_window: int | None = None
    softcap: float | None = None
    rotary_dim: int | None = None

    def to_json(self) -> dict:
        return {
            "layer": self.layer,
            "layer_type": self.layer_type,
            "theta": self.theta,
            "rope_type": self.rope_type,
            "freqs": self.freqs.tolist(),
            "attention_factor": self.attention_factor,
            "scaling": self.scaling,
            "sliding_window": self.sliding_window,
            "softcap": self.softcap,
            "rotary_dim": self.rotary_dim,
        }

    @classmethod
    def from_json(cls, data: dict) -> LayerSchedule:
        return cls(**{**data, "freqs": np.asarray(data["freqs"], dtype=np.float64)})

@dataclass
class Capture:
    """What one forward pass of one prompt showed, as float NumPy arrays.

    Shapes (``L`` layers, ``H`` query heads, ``G`` key/value heads, ``n`` tokens, ``d`` head
    dimension, ``V`` vocabulary): ``queries (L, H, n, d)`` and ``keys (L, G, n, d)`` before
    rotation; ``values (L, G, n, d)``; ``attention (L, H, n, n)``; ``logits (n, V)``;
    ``rotary_cos``/``rotary_sin (L, n, d)`` are the model's own cos and sin tables (used
    only to check the schedule). Query head ``h`` reads key/value head ``h // (H / G)``.
    """

    model_name: str
    token_ids: np.ndarray
    tokens: tuple[str, ...]
    queries: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    attention: np.ndarray
    logits: np.ndarray
    rotary_cos: np.ndarray
    rotary_sin: np.ndarray
    schedules: tuple[LayerSchedule, ...]
    dtype: str
    meta: dict = field(default_factory=dict)

    ARRAYS = ("token_ids", "queries", "keys", "values", "attention", "logits", "rotary_cos", "rotary_sin")

    @property
    def n_tokens(self) -> int:
        return int(self.token_ids.shape[0])

    @property
    def head_dim(self) -> int:
        return int(self.queries.shape[-1])

    def keys_for_query_heads(self, layer: int) -> np.ndarray:
        """Keys of ``layer`` repeated so that entry ``h`` is the key head query head ``h`` reads; ``(H, n, d)``."""
        groups = self.queries.shape[1] // self.keys.shape[1]
        return np.repeat(self.keys[layer], groups, axis=0)

    def values_for_query_heads(self, layer: int) -> np.ndarray:
        """Values of ``layer`` repeated per query head; ``(H, n, d)``."""
        groups = self.queries.shape[1] // self.values.shape[1]
        return np.repeat(self.values[layer], groups, axis=0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """A flat dict of arrays (for ``np.savez``); :meth:`from_arrays` inverts it."""
        header = {
            "model_name": self.model_name,
            "tokens": list(self.tokens),
            "schedules": [s.to_json() for s in self.schedules],
            "dtype": self.dtype,
            "meta": self.meta,
        }
        arrays = {name: getattr(self, name) for name in self.ARRAYS}
        arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Capture:
        missing = [name for name in (*cls.ARRAYS, "header") if name not in arrays]
        if missing:
            raise ValueError(f"capture arrays are missing {missing}")
        header = json.loads(bytes(np.asarray(arrays["header"], dtype=np.uint8)).decode("utf-8"))
        return cls(
            model_name=header["model_name"],
            tokens=tuple(header["tokens"]),
            schedules=tuple(LayerSchedule.from_json(s) for s in header["schedules"]),
            dtype=header["dtype"],
            meta=header.get("meta", {}),
            **{name: np.asarray(arrays[name]) for name in cls.ARRAYS},
        )
