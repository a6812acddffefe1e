"""A local model that cannot be analysed is refused in one line naming what is missing, before any work starts."""

import json
import re

import gguf
import numpy as np
import pytest
import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

from ropelab.checks.findings import model_analysis, model_requirements
from ropelab.cli import app as cli

WORDS = "the cat sat on a mat and dog ran to red".split()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny Llama saved without its tokenizer, and the tokenizer in a folder of its own."""
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=len(WORDS) + 2, hidden_size=64, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                      bos_token_id=0, eos_token_id=1, pad_token_id=1)
    weights = tmp_path_factory.mktemp("weights_only")
    transformers.LlamaForCausalLM(config).save_pretrained(weights)
    backend = Tokenizer(models.WordLevel({"<bos>": 0, "<eos>": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}, unk_token="<eos>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>")
    tok.add_bos_token = True
    tokenizer = tmp_path_factory.mktemp("tokenizer")
    tok.save_pretrained(tokenizer)
    return weights, tokenizer


def run(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["analyze-model", *args])
    return exit_info.value.code, capsys.readouterr().out


def test_folder_without_tokenizer_is_refused_and_runs_with_one(folders, tmp_path, capsys, monkeypatch):
    weights, tokenizer = folders
    code, out = run(["--model", str(weights), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and len(out.strip().splitlines()) == 1 and "no tokenizer" in out and "--tokenizer" in out
    assert not (tmp_path / "out").exists()
    prompts = {"a": "the cat sat on a mat and the dog ran to the red mat", "b": "the red dog sat on the mat and a cat ran to a dog",
               "c": "a cat and a dog ran to the mat and sat on the red mat"}
    summary = model_analysis.analyze(prompts, model_dir=weights, tokenizer=tokenizer, root=tmp_path / "cache")
    assert summary["capture_check"]["passed"] and summary["prompts"]["a"]["tokens"][0] == "<bos>"
    assert summary["model"]["family"] == "llama"
    code, out = run(["--out", str(tmp_path / "x"), "--tokenizer", str(tokenizer)], capsys)
    assert code == 2 and "--tokenizer is read only with --model" in out


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.update(model_type="no_such_family"), "model_type 'no_such_family'"),
    (lambda c: c.update(architectures=["LlamaModel"]), "causal language model"),
    (lambda c: c.update(rope_parameters={"rope_type": "spiral", "rope_theta": 1e4}), "rope_type 'spiral'"),
    (lambda c: [c.pop(k, None) for k in ("rope_theta", "rope_scaling", "rope_parameters")], "no RoPE parameters"),
    (lambda c: c.update(no_rope_layers=[1, 0]), "layers [1] use no RoPE"),
])
def test_config_that_cannot_be_read_is_named(folders, tmp_path, edit, words):
    weights, tokenizer = folders
    config = json.loads((weights / "config.json").read_text())
    edit(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=re.escape(words)):
        model_requirements.refuse_unloadable(tmp_path, tokenizer=tokenizer)


def write_gguf(path, arch, tensors, tokenizer=True):
    w = gguf.GGUFWriter(str(path), arch)
    if tokenizer:
        w.add_tokenizer_model("llama")
    for name, (data, raw) in tensors.items():
        w.add_tensor(name, data, raw_dtype=raw)
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()


def test_gguf_that_cannot_be_read_is_named(tmp_path):
    f32 = (np.arange(32, dtype=np.float32), None)
    write_gguf(tmp_path / "a.gguf", "rwkv6", {"w": f32})
    with pytest.raises(ValueError, match="architecture 'rwkv6'"):
        model_requirements.refuse_unloadable(tmp_path, "a.gguf")
    write_gguf(tmp_path / "b.gguf", "llama", {"w": f32, "odd": (np.zeros((1, 40), dtype=np.uint8), gguf.GGMLQuantizationType.Q8_1)})
    with pytest.raises(ValueError, match="tensor odd has type Q8_1"):
        model_requirements.refuse_unloadable(tmp_path, "b.gguf")
    write_gguf(tmp_path / "c.gguf", "llama", {"w": f32}, tokenizer=False)
    with pytest.raises(ValueError, match="carries no tokenizer"):
        model_requirements.refuse_unloadable(tmp_path, "c.gguf")
    model_requirements.refuse_unloadable(tmp_path, "c.gguf", tokenizer=_tok(tmp_path))  # a tokenizer given: accepted


def _tok(tmp_path):
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "tokenizer.json").write_text("{}")
    return folder
