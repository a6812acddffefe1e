"""Tiny GGUF files written here (no 93 MB download): quantised Llama files through the whole analysis.

Each file holds a random Llama whose q and k projections are stored as llama.cpp stores them
(interleaved pairs) and whose matrices are Q4_1, Q8_0 or F16 tensors. The analysis must
reproduce its attention two ways: ropelab's half-layout rotary map on the captured q and k
(the capture check), and layer 0 rebuilt from the file's own tensors in the interleaved layout
(:mod:`ropelab.checks.findings.models.gguf_check`). A loader that un-permutes the key projection
wrongly gives a self-consistent model that the first route cannot see; the second rejects it.
"""

import gguf
import numpy as np
import pytest
import torch
import transformers
from gguf import GGMLQuantizationType as Q
from transformers import modeling_gguf_pytorch_utils as loader

from test_model_families import COMMON, LETTERS, interleave

from ropelab.checks.findings import model_analysis
from ropelab.checks.findings.models import capture_validation, gguf_check, model_adapter

HEADS, KV_HEADS, D = 4, 2, 16
PROMPT = "the cat sat on a mat"


def quantised(w: np.ndarray, kind: Q) -> tuple[np.ndarray, Q | None]:
    if kind == Q.F32:
        return w, None
    return gguf.quants.quantize(w, kind), kind


def llama_gguf(path, kind: Q, seed: int = 0):
    """Write a random Llama as a GGUF file with matrices of type ``kind``; returns the stored weights, dequantised."""
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(**{**COMMON, "vocab_size": len(LETTERS), "bos_token_id": 1, "eos_token_id": 2,
                                         "pad_token_id": 0, "hidden_size": 64, "intermediate_size": 128},
                                      num_key_value_heads=KV_HEADS, head_dim=D)
    model = transformers.LlamaForCausalLM(config).eval()
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("Tiny Llama")
    w.add_block_count(2), w.add_context_length(256), w.add_embedding_length(64), w.add_feed_forward_length(128)
    w.add_head_count(HEADS), w.add_head_count_kv(KV_HEADS), w.add_rope_dimension_count(D), w.add_rope_freq_base(10_000.0)
    w.add_layer_norm_rms_eps(config.rms_norm_eps), w.add_key_length(D), w.add_value_length(D)
    w.add_tokenizer_model("llama"), w.add_token_list(LETTERS), w.add_token_scores([0.0] * len(LETTERS))
    w.add_token_types([2, 3, 3] + [1] * (len(LETTERS) - 3))
    w.add_bos_token_id(1), w.add_eos_token_id(2), w.add_unk_token_id(0), w.add_add_bos_token(True)
    stored = {}

    def put(name, array, quantise=True):
        data, raw = quantised(array, kind) if quantise else (array, None)
        w.add_tensor(name, data, raw_dtype=raw)
        stored[name] = array if raw is None else gguf.quants.dequantize(data, raw)

    put("token_embd.weight", sd["model.embed_tokens.weight"], quantise=False)
    names = {"self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate",
             "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(2):
        p = f"model.layers.{i}."
        put(f"blk.{i}.attn_q.weight", interleave(sd[p + "self_attn.q_proj.weight"], HEADS))
        put(f"blk.{i}.attn_k.weight", interleave(sd[p + "self_attn.k_proj.weight"], KV_HEADS))
        for hf, ours in names.items():
            put(f"blk.{i}.{ours}.weight", sd[p + hf + ".weight"])
        put(f"blk.{i}.attn_norm.weight", sd[p + "input_layernorm.weight"], quantise=False)
        put(f"blk.{i}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"], quantise=False)
    put("output_norm.weight", sd["model.norm.weight"], quantise=False)
    put("output.weight", sd["lm_head.weight"], quantise=False)
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    return stored


def deinterleave(w: np.ndarray, n_head: int) -> np.ndarray:
    """The inverse of ``interleave``, written independently: pair m of a head is rows (2m, 2m+1) -> (m, m + d/2)."""
    d = w.shape[0] // n_head
    order = np.concatenate([h * d + np.r_[np.arange(0, d, 2), np.arange(1, d, 2)] for h in range(n_head)])
    return w[order]


@pytest.mark.parametrize("kind", [Q.Q4_1, Q.Q8_0, Q.F16])
def test_quantised_llama_gguf_attention_is_reproduced_two_ways(tmp_path, kind):
    stored = llama_gguf(tmp_path / "tiny.gguf", kind)
    model, tok = model_adapter.load_model(tmp_path, "tiny.gguf")
    attn = model.model.layers[1].self_attn
    # the loaded projections are the file's, un-permuted back to the half layout (exact: dequantising commutes with rows)
    np.testing.assert_array_equal(attn.k_proj.weight.detach().numpy(), deinterleave(stored["blk.1.attn_k.weight"], KV_HEADS))
    np.testing.assert_array_equal(attn.q_proj.weight.detach().numpy(), deinterleave(stored["blk.1.attn_q.weight"], HEADS))
    cap = model_adapter.capture_text(model, tok, PROMPT)
    assert capture_validation.validate_capture(cap).passed
    assert capture_validation.validate_capture(cap, layout="interleaved").attention_ratio > 1.0
    first = gguf_check.check_first_layer(cap, tmp_path / "tiny.gguf")
    assert first["passed"] and first["layout"] == "interleaved", first
    # the file's tensors rotated in the half layout do not give the model's attention: the layout is what is checked
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(gguf_check.LAYOUTS, "llama", "half")
        assert gguf_check.check_first_layer(cap, tmp_path / "tiny.gguf")["ratio"] > 1.0


def test_wrong_unpermutation_is_rejected(tmp_path, monkeypatch):
    """A planted loader fault: keys un-permuted with the query head count (the grouped-query slip)."""
    llama_gguf(tmp_path / "tiny.gguf", Q.Q8_0, seed=1)
    real = loader.LlamaTensorProcessor._reverse_permute_weights

    def wrong(self, weights, n_head, num_kv_heads=None):
        return real(self, weights, n_head, n_head)

    monkeypatch.setattr(loader.LlamaTensorProcessor, "_reverse_permute_weights", wrong)
    model, tok = model_adapter.load_model(tmp_path, "tiny.gguf")
    cap = model_adapter.capture_text(model, tok, PROMPT)
    assert capture_validation.validate_capture(cap).passed  # self-consistent: the first route cannot see it
    first = gguf_check.check_first_layer(cap, tmp_path / "tiny.gguf")
    assert not first["passed"] and first["ratio"] > 10.0, first
    summary = model_analysis.analyze({"English": PROMPT, "code": "def one if two return three"},
                                     model_dir=tmp_path, gguf_file="tiny.gguf", root=tmp_path / "cache")
    assert summary["capture_check"]["gguf_first_layer"]["passed"] is False and summary["capture_check"]["passed"] is False
    assert summary["model"]["name"] == "Tiny Llama" and summary["model"]["family"] == "llama"


def test_gguf_check_refuses_what_it_cannot_read(tmp_path):
    w = gguf.GGUFWriter(str(tmp_path / "g.gguf"), "gemma3")
    w.add_tensor("w", np.arange(8, dtype=np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(ValueError, match="'gemma3'"):
        gguf_check.FirstLayer.read(tmp_path / "g.gguf")
    w = gguf.GGUFWriter(str(tmp_path / "l.gguf"), "llama")
    w.add_tensor("w", np.arange(8, dtype=np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(ValueError, match="head_count"):
        gguf_check.FirstLayer.read(tmp_path / "l.gguf")


def gemma_gguf(path, kind: Q):
    """A random Gemma 3 as a GGUF file (half layout, no permutation; norms stored as 1 + w, as llama.cpp does)."""
    from test_model_families import FAMILIES

    torch.manual_seed(2)
    extra = FAMILIES["gemma3"][2]
    config = transformers.Gemma3TextConfig(**{**COMMON, "vocab_size": len(LETTERS), "bos_token_id": 1, "eos_token_id": 2,
                                              "pad_token_id": 0}, **extra)
    model = transformers.Gemma3ForCausalLM(config).eval()
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, config.num_hidden_layers)
    w = gguf.GGUFWriter(str(path), "gemma3")
    w.add_name("Tiny Gemma")
    w.add_block_count(2), w.add_context_length(256), w.add_embedding_length(64), w.add_feed_forward_length(128)
    w.add_head_count(4), w.add_head_count_kv(1), w.add_key_length(16), w.add_value_length(16)
    w.add_rope_freq_base(1_000_000.0), w.add_layer_norm_rms_eps(config.rms_norm_eps), w.add_sliding_window(4)
    w.add_tokenizer_model("llama"), w.add_token_list(LETTERS), w.add_token_scores([0.0] * len(LETTERS))
    w.add_token_types([2, 3, 3] + [1] * (len(LETTERS) - 3))
    w.add_bos_token_id(1), w.add_eos_token_id(2), w.add_unk_token_id(0), w.add_add_bos_token(True)
    stored = {}
    for key, value in model.state_dict().items():
        if key == "lm_head.weight":  # tied to the embedding
            continue
        value = value.detach().numpy().astype(np.float32)
        if "norm" in key:
            data, raw = value + 1.0, None
            stored[key] = value
        else:
            data, raw = quantised(value, kind) if value.ndim == 2 and "embed" not in key else (value, None)
            stored[key] = value if raw is None else gguf.quants.dequantize(data, raw)
        w.add_tensor(names.get_name(key, try_suffixes=(".weight",)), data, raw_dtype=raw)
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    return stored


@pytest.mark.parametrize("kind", [Q.Q8_0, Q.F16])
def test_gemma_gguf_in_the_half_layout_runs_the_analysis(tmp_path, kind):
    stored = gemma_gguf(tmp_path / "tiny-gemma.gguf", kind)
    model, tok = model_adapter.load_model(tmp_path, "tiny-gemma.gguf")
    loaded = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    for key, value in stored.items():  # no permutation for Gemma; norms back to w (the loader subtracts the 1)
        np.testing.assert_allclose(loaded[key], value, rtol=0, atol=1e-6, err_msg=key)
    cap = model_adapter.capture_text(model, tok, PROMPT)
    assert capture_validation.validate_capture(cap).passed
    assert capture_validation.validate_capture(cap, layout="interleaved").attention_ratio > 1.0
    summary = model_analysis.analyze({"English": PROMPT, "code": "def one if two return three"},
                                     model_dir=tmp_path, gguf_file="tiny-gemma.gguf", root=tmp_path / "cache")
    assert summary["capture_check"]["passed"] and "gguf_first_layer" not in summary["capture_check"]
    assert (summary["model"]["name"], summary["model"]["family"]) == ("Tiny Gemma", "gemma3")
