"""The layer-streamed capture equals the whole-model capture, bit for bit, and holds one layer at a time.

Every tiny family of ``test_model_families`` (safetensors checkpoints), tiny Llama and Gemma GGUF
files (q/k stored interleaved; norms stored as 1 + w) and, marked slow, the real Gemma 3 270M
are captured both ways. Both paths run the same float32 operations on the same inputs in the
same order, so no tolerance is derived: equality is exact (``np.array_equal``). Planted faults
(a neighbouring layer's weights, a skipped q/k un-permutation, a norm without its -1) must
break the equality, and the parameters materialised while a layer runs must be the fixed part
plus that layer only.
"""

import json

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from transformers import modeling_gguf_pytorch_utils as loader

from test_model_families import FAMILIES, PROMPTS, checkpoint
from test_tiny_gguf import gemma_gguf, llama_gguf

from ropelab.checks.findings import model_analysis
from ropelab.checks.findings.models import gemma_files, layer_stream, model_adapter


def assert_captures_equal(whole, streamed):
    """Every array, token, schedule and header field of two captures is identical (bitwise for arrays)."""
    assert streamed.tokens == whole.tokens and streamed.dtype == whole.dtype and streamed.meta == whole.meta
    assert [s.to_json() for s in streamed.schedules] == [s.to_json() for s in whole.schedules]
    for name in whole.ARRAYS:
        a, b = getattr(whole, name), getattr(streamed, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        if not np.array_equal(a, b):
            worst = np.unravel_index(np.argmax(np.abs(a.astype(np.float64) - b)), a.shape)
            raise AssertionError(f"{name} differs first at {worst}: whole {a[worst]!r}, streamed {b[worst]!r}")


def both_ways(model_dir, gguf_file=None, prompts=PROMPTS, on_layer=None, fault=None):
    """``(whole, streamed, opened)``: captures of ``prompts`` from the whole model and one layer at a time."""
    model, tok = model_adapter.load_model(model_dir, gguf_file)
    whole = {name: model_adapter.capture_text(model, tok, text) for name, text in prompts.items()}
    opened = layer_stream.open_streamed(model_dir, gguf_file)
    if fault is not None:
        fault(opened)
    ids = {name: opened.tokenizer(text)["input_ids"] for name, text in prompts.items()}
    tokens = {name: opened.tokenizer.convert_ids_to_tokens(x) for name, x in ids.items()}
    return whole, layer_stream.stream_captures(opened, ids, tokens, on_layer=on_layer), opened


@pytest.mark.parametrize("family", list(FAMILIES))
def test_streamed_captures_equal_the_whole_model_bitwise(family, tmp_path):
    folder = checkpoint(family, tmp_path / family)
    costs = []
    whole, streamed, opened = both_ways(folder, on_layer=costs.append)
    for name in PROMPTS:
        assert_captures_equal(whole[name], streamed[name])
    # the memory claim in its cheap form: while layer i runs, the fixed part and layer i hold storage, nothing else
    prefix, layers = layer_stream.decoder_layers(opened.model)
    model, _ = model_adapter.load_model(folder)
    sizes = {name: p.numel() for name, p in model.named_parameters()}
    fixed = sum(n for name, n in sizes.items() if not name.startswith(prefix))
    per_layer = [sum(n for name, n in sizes.items() if name.startswith(f"{prefix}{i}.")) for i in range(len(layers))]
    assert [c.layer for c in costs] == list(range(len(layers)))
    assert [c.materialised for c in costs] == [fixed + n for n in per_layer]
    assert [c.weight_bytes for c in costs] == [4 * n for n in per_layer]
    assert all(c.materialised < sum(sizes.values()) for c in costs)
    assert layer_stream.materialised_parameters(opened.model) == fixed  # every layer released again


@pytest.mark.parametrize("kind", [Q.Q4_1, Q.Q8_0])
def test_streamed_gguf_llama_equals_the_whole_model_and_a_skipped_unpermutation_breaks_it(tmp_path, kind):
    llama_gguf(tmp_path / "tiny.gguf", kind)
    whole, streamed, _ = both_ways(tmp_path, "tiny.gguf")
    for name in PROMPTS:
        assert_captures_equal(whole[name], streamed[name])

    def skip_unpermutation(opened):  # the streamed reader forgets llama.cpp's q/k permutation
        opened.weights._processor = loader.TensorProcessor(config=opened.weights._processor.config)

    whole, streamed, _ = both_ways(tmp_path, "tiny.gguf", fault=skip_unpermutation)
    with pytest.raises(AssertionError, match="queries"):
        assert_captures_equal(whole["English"], streamed["English"])


def test_streamed_gguf_gemma_equals_the_whole_model_and_a_norm_without_its_offset_breaks_it(tmp_path):
    gemma_gguf(tmp_path / "tiny-gemma.gguf", Q.Q8_0)
    whole, streamed, _ = both_ways(tmp_path, "tiny-gemma.gguf")
    for name in PROMPTS:
        assert_captures_equal(whole[name], streamed[name])

    def keep_the_offset(opened):  # the streamed reader forgets Gemma's stored 1 + w
        opened.weights._processor = loader.TensorProcessor(config=opened.weights._processor.config)

    whole, streamed, _ = both_ways(tmp_path, "tiny-gemma.gguf", fault=keep_the_offset)
    with pytest.raises(AssertionError, match="queries"):
        assert_captures_equal(whole["English"], streamed["English"])


def test_a_neighbouring_layers_weights_break_the_equality(tmp_path):
    folder = checkpoint("llama", tmp_path / "llama")

    def swap_layers(opened):  # layer 1 is read from layer 0's tensors
        read = opened.weights.tensor
        opened.weights.tensor = lambda name: read(name.replace("layers.1.", "layers.0."))

    whole, streamed, _ = both_ways(folder, fault=swap_layers)
    w, s = whole["English"], streamed["English"]
    assert np.array_equal(w.queries[0], s.queries[0]) and not np.array_equal(w.queries[1], s.queries[1])
    with pytest.raises(AssertionError, match="queries"):
        assert_captures_equal(w, s)


def test_the_summary_and_reductions_are_the_same_either_way(tmp_path):
    folder = checkpoint("gemma3", tmp_path / "gemma3")
    whole = model_analysis.analyze(PROMPTS, model_dir=folder, root=tmp_path / "whole", layerwise=False)
    streamed = model_analysis.analyze(PROMPTS, model_dir=folder, root=tmp_path / "streamed")
    assert json.dumps(streamed, sort_keys=True) == json.dumps(whole, sort_keys=True)
    a = np.load(model_analysis.reductions_path(whole, tmp_path / "whole"))
    b = np.load(model_analysis.reductions_path(streamed, tmp_path / "streamed"))
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:  # byte for byte (the reductions hold NaN where a statistic is undefined, in both)
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes(), k


def test_a_model_without_one_list_of_decoder_layers_is_refused_in_one_line(tmp_path):
    opened = layer_stream.open_streamed(checkpoint("llama", tmp_path / "llama"))
    opened.model.config.num_hidden_layers = 3
    with pytest.raises(ValueError, match=r"^layer streaming needs one list of 3 decoder layers.*--whole-model\)$"):
        layer_stream.decoder_layers(opened.model)


@pytest.mark.slow
def test_streamed_gemma_3_270m_equals_the_whole_model_bitwise():
    folder = gemma_files.gemma_checkpoint()
    prompts = {name: model_analysis.PROMPTS[name] for name in ("English", "code")}
    costs = []
    whole, streamed, _ = both_ways(folder, prompts=prompts, on_layer=costs.append)
    for name in prompts:
        assert_captures_equal(whole[name], streamed[name])
    assert len(costs) == 18 and len({c.materialised for c in costs}) == 1
