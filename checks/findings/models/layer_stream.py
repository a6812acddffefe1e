r"""Capture a model one decoder layer at a time, so that peak memory grows with one layer, not the model.

The model is built as a skeleton whose parameters live on PyTorch's ``meta`` device (no
storage; buffers such as the rotary ``inv_freq`` are real and computed as the model computes
them). Only the parts outside the decoder layers (embeddings, final norm, output head) are
materialised for the whole run; then, for layer :math:`\ell = 0 \dots L-1`, that layer's weights
are read from the file (a safetensors tensor, or a GGUF tensor dequantised by the ``gguf``
package and put in transformers' layout by transformers' own GGUF tensor processor and name
map), every prompt's hidden states :math:`h^{(\ell)}` are run through it,

.. math:: h^{(\ell+1)} = \mathrm{layer}_\ell\big(h^{(\ell)};\ \text{mask},\ \cos,\ \sin\big),

what :func:`ropelab.checks.findings.models.model_adapter.capture` records for that layer is kept
(q and k before the rotary map, cos, sin, values, the attention map), and the layer's weights
are released before the next is read. The arguments each layer is called with (masks, position
embeddings, position ids) are those the model's own forward pass gives it: one pass with the
decoder layers stubbed out records them, and a last pass with the layers stubbed to return the
streamed hidden states lets the model's own code apply the final norm, the output head and any
soft cap. Every operation is the one the whole-model pass runs, on the same inputs, so the
captures are bitwise equal to it (tested in ``tests/test_layer_stream.py``).

Peak memory: the fixed part (embeddings, output head, tokenizer, the prompts' hidden states and
logits) plus one layer's weights plus the captures of the layers done so far.
"""

from __future__ import annotations

import contextlib
import mmap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ropelab.checks.findings.models import model_adapter as ma
from ropelab.checks.findings.models.capture_records import Capture
from ropelab.checks.findings.models.model_schedules import _text_config, attention_modules, layer_schedules

__all__ = [
    "GGUFWeights",
    "LayerCost",
    "SafetensorsWeights",
    "StreamedModel",
    "decoder_layers",
    "materialised_parameters",
    "open_streamed",
    "stream_captures",
]


@dataclass(frozen=True)
class LayerCost:
    """What one streamed layer cost: its index, wall seconds (read + run on every prompt + release),
    the bytes of its weights once materialised, and the number of parameters materialised in the
    whole model while it ran (the fixed part plus this layer)."""

    layer: int
    seconds: float
    weight_bytes: int
    materialised: int


class SafetensorsWeights:
    """Tensors of the ``*.safetensors`` files in a folder, read one at a time (memory-mapped), under ``model``'s names.

    Stored names are renamed as ``from_pretrained`` renames them (transformers' checkpoint
    conversion mapping for the model, e.g. GPT-NeoX's ``embed_out`` -> ``lm_head``, and the
    base-model prefix). A tensor that transformers builds by merging several stored ones is refused.
    """

    def __init__(self, folder: str | Path, model: Any):
        safetensors = ma.require("safetensors")
        mapping = ma.require("transformers.conversion_mapping")
        loading = ma.require("transformers.core_model_loading")
        folder = Path(folder)
        files = sorted(folder.glob("*.safetensors"))
        if not files:
            raise ValueError(f"layer streaming reads safetensors or GGUF weights; {folder} has no *.safetensors file "
                             "(rerun with --whole-model)")
        transforms = mapping.get_model_conversion_mapping(model)
        renamings = [t for t in transforms if isinstance(t, loading.WeightRenaming)]
        converters = [t for t in transforms if isinstance(t, loading.WeightConverter)]
        meta = model.state_dict()
        self._open = safetensors.safe_open
        self._where: dict[str, tuple[Path, str]] = {}
        for file in files:
            with safetensors.safe_open(str(file), framework="pt") as handle:
                for stored in handle.keys():
                    name, merged = loading.rename_source_key(stored, renamings, converters, model.base_model_prefix, meta)
                    if merged is None:
                        self._where[name] = (file, stored)

    def names(self) -> set[str]:
        return set(self._where)

    def tensor(self, name: str) -> Any:
        if name not in self._where:
            raise ValueError(f"the checkpoint lacks the tensor {name}")
        file, stored = self._where[name]
        # opened per tensor: closing unmaps the file, so the pages read do not stay in this process's memory
        with self._open(str(file), framework="pt") as handle:
            return handle.get_tensor(stored)


class GGUFWeights:
    """Tensors of a GGUF file under the HF names of ``model``, dequantised one at a time.

    The file is memory-mapped by ``gguf.GGUFReader``; each tensor is dequantised with
    ``gguf.quants.dequantize`` and passed through the tensor processor transformers uses when it
    loads the whole file (llama's q/k un-permutation, Gemma's norm ``w - 1``), under the name map
    transformers builds (``get_gguf_hf_weights_map``), then wrapped as a tensor (copied only where it is
    a view of the file): the same float32 values transformers loads. Tensors the processor renames
    are refused (never guessed).
    """

    def __init__(self, path: str | Path, model: Any, parsed: Mapping[str, Any]):
        gguf = ma.require("gguf")
        utils = ma.require("transformers.modeling_gguf_pytorch_utils")
        self._gguf = gguf
        self._reader = gguf.GGUFReader(str(path))
        field = self._reader.fields["general.architecture"]
        arch = str(field.contents())
        self._parsed = parsed
        self._processor = utils.TENSOR_PROCESSORS.get(arch, utils.TensorProcessor)(config=parsed["config"])
        self._mapping = utils.get_gguf_hf_weights_map(model, self._processor)
        tensors = {t.name: t for t in self._reader.tensors}
        self._tensors = {hf: tensors[g] for g, hf in self._mapping.items() if g in tensors}

    def names(self) -> set[str]:
        return set(self._tensors)

    def tensor(self, name: str) -> Any:
        torch = ma.require("torch")
        if name not in self._tensors:
            raise ValueError(f"the GGUF file has no tensor for {name}")
        t = self._tensors[name]
        weights = self._gguf.quants.dequantize(t.data, t.tensor_type)
        result = self._processor.process(weights=weights, name=t.name, tensor_key_mapping=self._mapping,
                                         parsed_parameters=self._parsed)
        if result.name != t.name:
            raise ValueError(f"transformers renames the GGUF tensor {t.name} to {result.name}: layer streaming "
                             "does not support this architecture (rerun with --whole-model)")
        weights = result.weights
        if np.may_share_memory(weights, self._reader.data):  # an F32 tensor comes back as a view of the file
            weights = np.copy(weights)
        out = torch.from_numpy(weights)  # else a fresh array: transformers' np.copy would only add a transient copy
        self._drop(t)
        return out

    def _drop(self, t: Any) -> None:
        """Give back the file pages of tensor ``t`` that reading it mapped into this process (Linux ``MADV_DONTNEED``
        on the read-only memory map: the pages stay in the page cache and fault in again if read)."""
        region = getattr(self._reader.data, "_mmap", None)  # numpy.memmap keeps its mmap.mmap here
        if region is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = int(t.data_offset) // mmap.PAGESIZE * mmap.PAGESIZE
        end = min(int(t.data_offset) + int(t.n_bytes), len(region))
        region.madvise(mmap.MADV_DONTNEED, start, end - start)


@dataclass
class StreamedModel:
    """A model skeleton (parameters on the meta device), its weight source and its tokenizer."""

    model: Any
    weights: Any
    tokenizer: Any


def open_streamed(model_dir: str | Path, gguf_file: str | None = None, tokenizer_dir: str | Path | None = None,
                  dtype: str = "float32") -> StreamedModel:
    """The skeleton of the HF causal LM in ``model_dir`` (optionally its ``gguf_file``) with eager attention,
    its weights opened for reading one tensor at a time, and its tokenizer; no weight is read yet.

    The skeleton is built from the same config ``load_model`` reads, with accelerate's
    ``init_empty_weights(include_buffers=False)``: parameters on ``meta``, buffers real.
    """
    torch = ma.require("torch")
    transformers = ma.require("transformers")
    accelerate = ma.require("accelerate")
    extra = {} if gguf_file is None else {"gguf_file": gguf_file}
    parsed = None
    bars = transformers.utils.logging
    shown = bars.is_progress_bar_enabled()
    bars.disable_progress_bar()
    try:
        if gguf_file is not None:
            from ropelab.checks.findings.models.gemma_files import _gguf_parsed_once

            with _gguf_parsed_once():  # config, tokenizer and tensor processor share one parse of the file
                tokenizer = (transformers.AutoTokenizer.from_pretrained(str(model_dir), **extra) if tokenizer_dir is None
                             else transformers.AutoTokenizer.from_pretrained(str(tokenizer_dir)))
                config = transformers.AutoConfig.from_pretrained(str(model_dir), **extra)
                parsed = ma.require("transformers.modeling_gguf_pytorch_utils").load_gguf_checkpoint(
                    str(Path(model_dir) / gguf_file), return_tensors=False)
        else:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(tokenizer_dir or model_dir))
            config = transformers.AutoConfig.from_pretrained(str(model_dir))
    finally:
        if shown:
            bars.enable_progress_bar()
    with accelerate.init_empty_weights(include_buffers=False):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype),
                                                              attn_implementation="eager")
    model.tie_weights()  # as from_pretrained does: a tied output head is the embedding's parameter
    model.eval()
    weights = SafetensorsWeights(model_dir, model) if gguf_file is None else GGUFWeights(Path(model_dir) / gguf_file, model, parsed)
    return StreamedModel(model, weights, tokenizer)


def decoder_layers(model: Any) -> tuple[str, Any]:
    """``(prefix, layers)``: the model's decoder layers and the parameter-name prefix of their list, e.g. ``"model.layers."``.

    The layers are the one ``ModuleList`` of ``num_hidden_layers`` modules whose entry ``i`` holds
    the attention module of layer ``i`` (and no other). Anything else is refused with a one-line
    error naming the architecture.
    """
    torch = ma.require("torch")
    n = int(_text_config(model.config).num_hidden_layers)
    modules = attention_modules(model)

    def holds(layers) -> bool:
        return len(modules) == n and all(
            [id(m) for m in layer.modules() if m in modules] == [id(modules[i])] for i, layer in enumerate(layers))

    found = [(name, m) for name, m in model.named_modules()
             if isinstance(m, torch.nn.ModuleList) and len(m) == n and holds(m)]
    if len(found) != 1:
        raise ValueError(f"layer streaming needs one list of {n} decoder layers, each with its own attention; "
                         f"{type(model).__name__} has {len(found)} (rerun with --whole-model)")
    return f"{found[0][0]}.", found[0][1]


def materialised_parameters(model: Any) -> int:
    """How many parameters of ``model`` hold storage (are not on the meta device); tied ones count once."""
    return sum(p.numel() for p in model.parameters() if not p.is_meta)


def _set_parameters(model: Any, names: Sequence[str], value: Callable[[str, Any], Any]) -> int:
    """Replace the parameters ``names`` (and every tied alias of each) by ``value(name, old)``; returns bytes set."""
    torch = ma.require("torch")
    aliases: dict[int, list[tuple[Any, str]]] = {}
    for module in model.modules():
        for leaf, p in module._parameters.items():
            if p is not None:
                aliases.setdefault(id(p), []).append((module, leaf))
    size = 0
    for name in names:
        old = model.get_parameter(name)
        new = torch.nn.Parameter(value(name, old), requires_grad=False)
        if new.shape != old.shape:
            raise ValueError(f"the weights give {name} the shape {tuple(new.shape)}, the model {tuple(old.shape)}")
        size += 0 if new.is_meta else new.numel() * new.element_size()
        for module, leaf in aliases[id(old)]:
            module._parameters[leaf] = new
    return size


def _stored_names(model: Any, weights: Any) -> dict[str, str]:
    """For each parameter (tied ones once), the name the weights store it under (any of its tied aliases)."""
    aliases: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        aliases.setdefault(id(p), []).append(name)
    stored, have = {}, weights.names()
    for name, p in model.named_parameters():
        found = [a for a in aliases[id(p)] if a in have]
        if not found:
            raise ValueError(f"the weights lack the model's tensor {name}")
        stored[name] = found[0]
    return stored


def _load(model: Any, names: Sequence[str], weights: Any, stored: Mapping[str, str]) -> int:
    return _set_parameters(model, names, lambda name, old: weights.tensor(stored[name]).to(old.dtype))


def _release(model: Any, names: Sequence[str]) -> None:
    torch = ma.require("torch")
    _set_parameters(model, names, lambda name, old: torch.empty_like(old, device="meta"))


class _Stop(Exception):
    """Ends the recording pass once the last layer's arguments are known."""


@contextlib.contextmanager
def _stubbed(layers: Any, stub: Callable[[int, tuple, dict], Any]) -> Iterator[None]:
    """Within the block, decoder layer ``i`` runs ``stub(i, args, kwargs)`` instead of its forward."""
    for i, layer in enumerate(layers):
        layer.forward = (lambda i: lambda *args, **kwargs: stub(i, args, kwargs))(i)
    try:
        yield
    finally:
        for layer in layers:
            del layer.forward


def _hidden(args: tuple, kwargs: dict) -> Any:
    return args[0] if args else kwargs["hidden_states"]


def _call(layer: Any, hidden: Any, args: tuple, kwargs: dict) -> Any:
    if args:
        return layer(hidden, *args[1:], **kwargs)
    return layer(**{**kwargs, "hidden_states": hidden})


def stream_captures(streamed: StreamedModel, prompts: Mapping[str, Sequence[int]], tokens: Mapping[str, Sequence[str]] | None = None,
                    model_name: str = "", on_layer: Callable[[LayerCost], None] | None = None,
                    on_step: Callable[[str], None] | None = None) -> dict[str, Capture]:
    """Capture every prompt (token ids ``(n,)`` each) one decoder layer at a time; see the module doc.

    Returns the same :class:`Capture` per prompt as
    :func:`ropelab.checks.findings.models.model_adapter.capture` on the whole model. ``on_layer``
    gets each layer's :class:`LayerCost` while the layer is still materialised (the memory test
    counts parameters there).
    """
    torch = ma.require("torch")
    model, weights = streamed.model, streamed.weights
    step = on_step or (lambda message: None)
    prefix, layers = decoder_layers(model)
    modules = attention_modules(model)
    schedules = layer_schedules(model)
    stored = _stored_names(model, weights)
    names = list(stored)
    _load(model, [n for n in names if not n.startswith(prefix)], weights, stored)
    ids = {name: np.asarray(p, dtype=np.int64) for name, p in prompts.items()}
    for name, x in ids.items():
        if x.ndim != 1 or x.size < 2:
            raise ValueError(f"prompt {name!r}: token ids must be a 1-D sequence of at least 2 ids, got shape {x.shape}")
    calls: dict[str, list[tuple[tuple, dict]]] = {}

    def record(i, args, kwargs):
        calls[current].append((args, kwargs))
        if i == len(layers) - 1:
            raise _Stop
        return _hidden(args, kwargs)

    with torch.no_grad(), _stubbed(layers, record):
        for current in ids:
            calls[current] = []
            try:
                model(input_ids=torch.as_tensor(ids[current])[None, :], output_attentions=True, use_cache=False)
            except _Stop:
                pass
    hidden = {name: _hidden(*calls[name][0]) for name in ids}
    records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in ids}
    attentions: dict[str, list[Any]] = {name: [] for name in ids}
    for i, layer in enumerate(layers):
        start = time.perf_counter()
        step(f"layer {i + 1}/{len(layers)}")
        own = [n for n in names if n.startswith(f"{prefix}{i}.")]
        size = _load(model, own, weights, stored)
        maps: list[Any] = []
        hook = modules[i].register_forward_hook(lambda module, args, output: maps.append(output[1]))
        try:
            for name in ids:
                maps.clear()
                with ma._recording([modules[i]]) as seen, torch.no_grad():
                    hidden[name] = _call(layer, hidden[name], *calls[name][i])
                records[name].update(seen)
                attentions[name].append(maps[0][0])
        finally:
            hook.remove()
        count = materialised_parameters(model)
        _release(model, own)
        if on_layer is not None:
            on_layer(LayerCost(i, time.perf_counter() - start, size, count))
    captures = {}
    with torch.no_grad():
        for name in ids:
            final = hidden[name]
            with _stubbed(layers, lambda i, args, kwargs: final if i == len(layers) - 1 else _hidden(args, kwargs)):
                out = model(input_ids=torch.as_tensor(ids[name])[None, :], output_attentions=True, use_cache=False)
            captures[name] = ma._assemble(model, ids[name], records[name], attentions[name], out.logits[0],
                                          None if tokens is None else tokens[name], model_name, schedules)
    return captures
