"""Any local model: tiny random checkpoints of each supported family, saved to disk, through the whole pipeline.

Each family is built from a config with transformers (no download), saved with its tokenizer
and analysed from the folder as ``ropelab analyze-model --model FOLDER`` would: capture, the
capture check (ropelab's rotary map reproduces the model's attention maps within the derived
bound), head types and every finding. The check must also reject the wrong layout and a
wrong base, so a capture that misreads a family's layout, partial rotary, window, soft cap or
QK-norm cannot pass. A tiny Llama written as a GGUF file (q and k in llama.cpp's interleaved
layout) goes through the same pipeline.
"""

import dataclasses

import gguf
import numpy as np
import pytest
import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

from ropelab.checks.findings import model_analysis
from ropelab.constructions import frequencies
from ropelab.checks.findings.models import capture_validation, model_adapter

# whole words for word-level tokenizers, and single characters (with byte-level BPE's space mark) for
# families whose AutoTokenizer rebuilds the vocabulary as byte-level BPE (Qwen2)
WORDS = [*"the cat sat on a mat and dog ran to red blue one two three plus equals def return if else".split(),
         *"bcdefghijklmnopqrstuvwxyz", "\u0120"]
PROMPTS = {
    "English": "the cat sat on a mat and the dog ran to the red mat",
    "code": "def one if two return three else one return two",
    "arithmetic": "one plus two equals three two plus one equals three",
}
COMMON = dict(vocab_size=len(WORDS) + 2, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, max_position_embeddings=256, initializer_range=0.5,
              bos_token_id=0, eos_token_id=1, pad_token_id=1)
TWO_KINDS = {"layer_types": ["sliding_attention", "full_attention"], "sliding_window": 4}

# family -> (config class, model class, extra config, expected (windows, rotary_dim, softcap))
FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", dict(num_key_value_heads=2, head_dim=16,
              rope_parameters={"rope_type": "default", "rope_theta": 500_000.0}), ([None, None], None, None)),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", dict(num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16,
               attn_logit_softcapping=50.0, final_logit_softcapping=30.0, **TWO_KINDS), ([4, None], None, 50.0)),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", dict(num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
               rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
                                "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0}},
               **TWO_KINDS), ([4, None], None, None)),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(num_key_value_heads=2, use_sliding_window=True, max_window_layers=2,
              **TWO_KINDS), ([4, None], None, None)),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(num_key_value_heads=2, head_dim=16), ([None, None], None, None)),
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(num_key_value_heads=2, head_dim=16, sliding_window=4),
                ([4, 4], None, None)),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(num_key_value_heads=2,
             rope_parameters={"rope_type": "default", "rope_theta": 10_000.0, "partial_rotary_factor": 0.5}),
             ([None, None], 8, None)),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", dict(
                 rope_parameters={"rope_type": "default", "rope_theta": 10_000.0, "partial_rotary_factor": 0.25}),
                 ([None, None], 4, None)),
}


def tokenizer():
    vocab = {"<bos>": 0, "<eos>": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>")
    fast.add_bos_token = True
    return fast


def checkpoint(family: str, folder):
    config_name, model_name, extra, _ = FAMILIES[family]
    torch.manual_seed(0)
    config = getattr(transformers, config_name)(**COMMON, **extra)
    config._attn_implementation = "eager"
    getattr(transformers, model_name)(config).eval().save_pretrained(folder)
    tok = tokenizer()
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_runs_the_whole_pipeline_and_its_capture_check_has_teeth(family, tmp_path, cache):
    folder = checkpoint(family, tmp_path / family)
    model_dir, gguf = model_analysis.model_from_path(folder)
    summary = model_analysis.analyze(PROMPTS, model_dir=model_dir, gguf_file=gguf, root=cache)
    assert summary["capture_check"]["passed"], summary["capture_check"]["per_prompt"]
    assert [f["id"] for f in summary["findings"]] == list(model_analysis.FINDING_IDS)
    assert all(f["outcome"] in {"holds", "does not hold", "not measurable"} for f in summary["findings"])
    assert len(summary["head_types"]) == 2 * 4
    windows, rotary_dim, softcap = FAMILIES[family][3]
    assert summary["model"]["sliding_windows"] == windows

    model, tok = model_adapter.load_model(model_dir)
    cap = model_adapter.capture_text(model, tok, PROMPTS["English"])
    assert cap.tokens[0] == "<bos>"
    for s in cap.schedules:
        assert s.rotary_dim == rotary_dim and s.softcap == softcap
        if rotary_dim is not None:  # the unrotated pairs of a partial-rotary head turn at frequency 0
            assert np.all(s.freqs[rotary_dim // 2 :] == 0) and np.all(s.freqs[: rotary_dim // 2] > 0)
    assert capture_validation.validate_capture(cap).passed
    assert capture_validation.validate_capture(cap, layout="interleaved").attention_ratio > 1.0
    wrong = [dataclasses.replace(s, freqs=np.where(s.freqs > 0, frequencies.rope(2 * s.freqs.size, 7.0), 0.0))
             for s in cap.schedules]
    assert capture_validation.validate_capture(cap, schedules=wrong).attention_ratio > 1.0


# --- a GGUF file: llama.cpp stores q and k projections in the interleaved layout -----------------

LETTERS = ["<unk>", "<s>", "</s>", "\u2581", *"abcdefghijklmnopqrstuvwxyz"]  # no merges: byte-level letters


def interleave(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's conversion of a half-layout projection to the interleaved layout (convert_hf_to_gguf ``permute``)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama_gguf(path):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(**{**COMMON, "vocab_size": len(LETTERS), "bos_token_id": 1, "eos_token_id": 2,
                                         "pad_token_id": 0}, num_key_value_heads=2, head_dim=16)
    model = transformers.LlamaForCausalLM(config).eval()
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(2), w.add_context_length(256), w.add_embedding_length(64), w.add_feed_forward_length(128)
    w.add_head_count(4), w.add_head_count_kv(2), w.add_rope_dimension_count(16), w.add_rope_freq_base(10_000.0)
    w.add_layer_norm_rms_eps(config.rms_norm_eps), w.add_key_length(16), w.add_value_length(16)
    w.add_tokenizer_model("llama"), w.add_token_list(LETTERS), w.add_token_scores([0.0] * len(LETTERS))
    w.add_token_types([2, 3, 3] + [1] * (len(LETTERS) - 3))
    w.add_bos_token_id(1), w.add_eos_token_id(2), w.add_unk_token_id(0), w.add_add_bos_token(True)
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    names = {"input_layernorm": "attn_norm", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(2):
        p = f"model.layers.{i}."
        w.add_tensor(f"blk.{i}.attn_q.weight", interleave(sd[p + "self_attn.q_proj.weight"], 4))
        w.add_tensor(f"blk.{i}.attn_k.weight", interleave(sd[p + "self_attn.k_proj.weight"], 2))
        for hf, ours in names.items():
            w.add_tensor(f"blk.{i}.{ours}.weight", sd[p + hf + ".weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    w.add_tensor("output.weight", sd["lm_head.weight"])
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    return model


def test_gguf_file_with_interleaved_projections_runs_the_pipeline(tmp_path, cache):
    original = llama_gguf(tmp_path / "tiny.gguf")
    model_dir, gguf_file = model_analysis.model_from_path(tmp_path / "tiny.gguf")
    assert (model_dir, gguf_file) == (tmp_path, "tiny.gguf")
    model, tok = model_adapter.load_model(model_dir, gguf_file)
    # the loader undoes llama.cpp's interleaving, so the model rotates in the half layout again
    np.testing.assert_array_equal(model.model.layers[1].self_attn.k_proj.weight.detach().numpy(),
                                  original.model.layers[1].self_attn.k_proj.weight.detach().numpy())
    cap = model_adapter.capture_text(model, tok, "the cat sat on a mat")
    assert capture_validation.validate_capture(cap).passed
    assert capture_validation.validate_capture(cap, layout="interleaved").attention_ratio > 1.0
    summary = model_analysis.analyze({"English": "the cat sat on a mat", "code": "def one if two return three"},
                                     model_dir=model_dir, gguf_file=gguf_file, root=cache)
    assert summary["capture_check"]["passed"]
    assert [f["id"] for f in summary["findings"]] == list(model_analysis.FINDING_IDS)
