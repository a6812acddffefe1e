r"""A second route to a GGUF model's first-layer attention, straight from the file's own tensors.

The capture check (:func:`ropelab.checks.findings.models.capture_validation.validate_capture`) shows
that ropelab's rotary map on the *captured* q and k reproduces the model's attention; it cannot
see a loader that un-permutes the GGUF's q and k projections wrongly, since the loaded model is
then a different but self-consistent RoPE model. This check closes that gap: it rebuilds layer
0's attention from the GGUF tensors themselves (dequantised by the ``gguf`` package, never
un-permuted), rotating in the layout the file's architecture stores (llama.cpp's interleaved
pairs ``(x[2m], x[2m+1])`` for ``llama``), and compares it with the captured attention:

.. math:: x = \mathrm{RMSNorm}(E[t])\odot w_{\text{attn\_norm}},\quad q_i = W_q x_i,\quad
   k_j = W_k x_j,\quad \alpha = \mathrm{softmax}_j\big(s\,(R^i q_i)\cdot(R^j k_j)\big).

Shapes: token ids ``(n,)``; result ``(H, n, n)`` in float64. The comparison bound follows
:func:`capture_validation.logit_error_bound` with the float32 rounding of the two projections added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ropelab.constructions import frequencies as _freqs
from ropelab.constructions import rotary

from ropelab.checks.findings.models.capture_records import Capture
from ropelab.checks.findings.models.model_adapter import require

__all__ = ["FirstLayer", "LAYOUTS", "check_first_layer"]

LAYOUTS = {"llama": "interleaved"}  # architectures whose GGUF q/k rows llama.cpp permutes to interleaved pairs


@dataclass(frozen=True)
class GGUFAttention:
    """Layer 0 rebuilt from a GGUF file: the attention ``(H, n, n)`` and a per-row error bound ``(H, n, 1)``."""

    attention: np.ndarray
    bound: np.ndarray
    layout: str


def _field(reader, key: str):
    field = reader.fields.get(key)
    if field is None:
        raise ValueError(f"the GGUF file lacks the metadata field {key}")
    return field.contents()


def _tensor(reader, name: str) -> np.ndarray:
    gguf = require("gguf")
    found = [t for t in reader.tensors if t.name == name]
    if not found:
        raise ValueError(f"the GGUF file lacks the tensor {name}")
    t = found[0]
    return np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float64).reshape(
        [int(s) for s in reversed(t.shape.tolist())])


@dataclass(frozen=True)
class FirstLayer:
    """The GGUF tensors and constants layer 0's attention needs, read once (float64, as stored: not un-permuted)."""

    arch: str
    heads: int
    kv_heads: int
    eps: float
    theta: float
    embedding: np.ndarray
    norm: np.ndarray
    wq: np.ndarray
    wk: np.ndarray

    @classmethod
    def read(cls, path: str | Path) -> FirstLayer:
        gguf = require("gguf")
        reader = gguf.GGUFReader(str(path))
        arch = str(_field(reader, "general.architecture"))
        if arch not in LAYOUTS:
            raise ValueError(f"the GGUF first-layer check supports the architectures {sorted(LAYOUTS)}, not {arch!r}")
        return cls(arch, int(_field(reader, f"{arch}.attention.head_count")),
                   int(_field(reader, f"{arch}.attention.head_count_kv")),
                   float(_field(reader, f"{arch}.attention.layer_norm_rms_epsilon")),
                   float(_field(reader, f"{arch}.rope.freq_base")), _tensor(reader, "token_embd.weight"),
                   _tensor(reader, "blk.0.attn_norm.weight"), _tensor(reader, "blk.0.attn_q.weight"),
                   _tensor(reader, "blk.0.attn_k.weight"))


def first_layer_attention(layer: FirstLayer | str | Path, token_ids) -> GGUFAttention:
    """Layer 0's attention on ``token_ids`` from a GGUF file (a path or its :class:`FirstLayer`); see module doc."""
    layer = layer if isinstance(layer, FirstLayer) else FirstLayer.read(layer)
    ids = np.asarray(token_ids, dtype=np.int64)
    heads, kv_heads, eps, theta, wq, wk = layer.heads, layer.kv_heads, layer.eps, layer.theta, layer.wq, layer.wk
    arch = layer.arch
    embed = layer.embedding[ids]  # (n, hidden)
    x = embed / np.sqrt(np.mean(embed**2, axis=-1, keepdims=True) + eps) * layer.norm
    d = wq.shape[0] // heads
    q = (x @ wq.T).reshape(len(ids), heads, d).transpose(1, 0, 2)
    k = (x @ wk.T).reshape(len(ids), kv_heads, d).transpose(1, 0, 2)
    k = np.repeat(k, heads // kv_heads, axis=0)
    layout, freqs = LAYOUTS[arch], _freqs.rope(d, theta)
    pos = np.arange(len(ids))
    qr, kr = np.asarray(rotary.apply(q, pos, freqs, layout)), np.asarray(rotary.apply(k, pos, freqs, layout))
    scale = 1.0 / math.sqrt(d)
    logits = scale * np.einsum("hid,hjd->hij", qr, kr)
    mask = np.tril(np.ones((len(ids), len(ids)), dtype=bool))
    logits = np.where(mask, logits, -np.inf)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    attention = weights / weights.sum(axis=-1, keepdims=True)
    # float32 error of the model's side: each projection is a `hidden`-term dot product (gamma_h |W||x|),
    # the angles p g in float32 (as in angle_error_bound), the logit a d-term dot product
    eps32 = float(np.finfo(np.float32).eps)
    hidden = x.shape[-1]
    dq = (hidden + 8) * eps32 * np.linalg.norm((np.abs(x) @ np.abs(wq).T).reshape(len(ids), heads, d), axis=-1).T
    dk = (hidden + 8) * eps32 * np.linalg.norm((np.abs(x) @ np.abs(wk).T).reshape(len(ids), kv_heads, d), axis=-1).T
    dk = np.repeat(dk, heads // kv_heads, axis=0)
    qn, kn = np.linalg.norm(q, axis=-1), np.linalg.norm(k, axis=-1)
    delta = eps32 * (pos * float(freqs.max()) * (3.0 + math.log(theta)) + 8.0)
    size = (dq[:, :, None] * kn[:, None, :] + qn[:, :, None] * dk[:, None, :]
            + qn[:, :, None] * kn[:, None, :] * (delta[None, :, None] + delta[None, None, :] + (d + 4) * eps32))
    bound = scale * np.where(mask[None], size, 0.0).max(axis=-1, keepdims=True) + 8.0 * eps32
    return GGUFAttention(attention, bound, layout)


def check_first_layer(capture: Capture, layer: FirstLayer | str | Path) -> dict:
    """Compare the captured layer-0 attention with :func:`first_layer_attention`; ``passed`` at ratio <= 1."""
    rebuilt = first_layer_attention(layer, capture.token_ids)
    if rebuilt.attention.shape != capture.attention[0].shape:
        raise ValueError(f"GGUF layer 0 gives attention {rebuilt.attention.shape}, the capture {capture.attention[0].shape}")
    ratio = np.abs(rebuilt.attention - capture.attention[0].astype(np.float64)) / rebuilt.bound
    return {"ratio": float(ratio.max()), "passed": bool(ratio.max() <= 1.0), "layout": rebuilt.layout}
