"""Real models' RoPE configurations built with transformers' own config classes, and what
transformers' own rotary embedding classes compute from them.

Each entry gives a config class and the published hyper-parameters of the model (the RoPE
fields, head geometry and context; the rest stay at the class defaults). ``hf_vectors`` runs
the model's rotary embedding class and returns, per layer type, its inverse frequencies, its
attention scaling and cos/sin at a few positions. ``python tests/helpers/hf_rope_models.py`` rewrites
``checks/data/hf_rope_parity.json`` (and the sweep of every config class,
``hf_rope_sweep.json``) so that the base install checks parity without transformers.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import math
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "checks" / "data" / "hf_rope_parity.json"

# Phi-3.5-mini-instruct's published LongRoPE factors (48 pairs of a 96-dimensional head).
PHI35_LONG = [1.0800000429153442, 1.1100000143051147, 1.1399999856948853, 1.340000033378601, 1.5899999141693115,
              1.600000023841858, 1.6200000047683716, 2.620000123977661, 3.2300000190734863, 3.2300000190734863,
              4.789999961853027, 7.400000095367432, 7.700000286102295, 9.09000015258789, 12.199999809265137,
              17.670000076293945, 24.46000099182129, 28.57000160217285, 30.420001983642578, 30.840002059936523,
              32.590003967285156, 32.93000411987305, 42.320003509521484, 44.96000289916992, 50.340003967285156,
              50.45000457763672, 57.55000305175781, 57.93000411987305, 58.21000289916992, 60.1400032043457,
              62.61000442504883, 62.62000274658203, 62.71000289916992, 63.1400032043457, 63.1400032043457,
              63.77000427246094, 63.93000411987305, 63.96000289916992, 63.970001220703125, 64.02999877929688,
              64.06999969482422, 64.08000183105469, 64.12000274658203, 64.41000366210938, 64.4800033569336,
              64.51000213623047, 64.52999877929688, 64.83999633789062]
PHI35_SHORT = [1.0, 1.0199999809265137, 1.0299999713897705, 1.0299999713897705, 1.0499999523162842,
               1.0499999523162842, 1.0499999523162842, 1.0499999523162842, 1.0499999523162842, 1.0699999332427979,
               1.0999999046325684, 1.1099998950958252, 1.1599998474121094, 1.1599998474121094, 1.1699998378753662,
               1.2899998426437378, 1.339999794960022, 1.679999828338623, 1.7899998426437378, 1.8199998140335083,
               1.8499997854232788, 1.8799997568130493, 1.9099997282028198, 1.9399996995925903, 1.9899996519088745,
               2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346,
               2.0199997425079346, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914,
               2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914,
               2.0799996852874756, 2.0899996757507324, 2.189999580383301, 2.2199995517730713, 2.5899994373321533,
               2.729999542236328, 2.749999523162842, 2.8399994373321533]

LLAMA31 = dict(hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, num_hidden_layers=32,
               max_position_embeddings=131072,
               rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})

# name -> (config class, published hyper-parameters, note)
MODELS: dict[str, tuple[str, dict, str]] = {
    "Llama 2 7B": ("LlamaConfig", dict(max_position_embeddings=4096), ""),
    "Llama 3.1 8B": ("LlamaConfig", LLAMA31, ""),
    "Llama 3.2 1B": ("LlamaConfig", dict(hidden_size=2048, num_attention_heads=32, num_hidden_layers=16,
                                         head_dim=64, max_position_embeddings=131072,
                                         rope_parameters={**LLAMA31["rope_parameters"], "factor": 32.0}), ""),
    "Llama 4 Scout": ("Llama4TextConfig", dict(
        max_position_embeddings=10485760,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 16.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 1.0, "original_max_position_embeddings": 8192}),
        "low_freq_factor == high_freq_factor; chunked attention; every 4th layer NoPE"),
    "Llama 2 7B dynamic NTK x4": ("LlamaConfig", dict(
        max_position_embeddings=4096, rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 4.0}),
        "schedule depends on the sequence length"),
    "Qwen2.5 7B": ("Qwen2Config", dict(hidden_size=3584, num_attention_heads=28, num_key_value_heads=4,
                                       num_hidden_layers=28, max_position_embeddings=32768,
                                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}), ""),
    "Qwen2.5 7B YaRN x4": ("Qwen2Config", dict(
        hidden_size=3584, num_attention_heads=28, num_key_value_heads=4, num_hidden_layers=28,
        max_position_embeddings=32768,
        rope_parameters={"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0,
                         "original_max_position_embeddings": 32768}), ""),
    "Qwen3 8B": ("Qwen3Config", dict(hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                                     num_hidden_layers=36, max_position_embeddings=40960,
                                     rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}), ""),
    "Gemma 3 4B": ("Gemma3TextConfig", dict(
        hidden_size=2560, num_attention_heads=8, num_key_value_heads=4, head_dim=256, num_hidden_layers=34,
        sliding_window=1024, max_position_embeddings=131072,
        rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}), ""),
    "Gemma 3 27B": ("Gemma3TextConfig", dict(
        hidden_size=5376, num_attention_heads=32, num_key_value_heads=16, head_dim=128, num_hidden_layers=62,
        sliding_window=1024, max_position_embeddings=131072,
        rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}), ""),
    "Gemma 4": ("Gemma4TextConfig", dict(), "per_layer_config carries the global head_dim 512"),
    "DeepSeek-V3": ("DeepseekV3Config", dict(
        hidden_size=7168, num_attention_heads=128, num_key_value_heads=128, num_hidden_layers=61,
        qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128, max_position_embeddings=163840,
        rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0, "beta_fast": 32.0,
                         "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0,
                         "original_max_position_embeddings": 4096}),
        "MLA: qk_rope_head_dim 64 rotates; mscale == mscale_all_dim"),
    "Phi-3 mini 4k": ("Phi3Config", dict(), ""),
    "Phi-3.5 mini": ("Phi3Config", dict(
        max_position_embeddings=131072, original_max_position_embeddings=4096,
        rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": PHI35_SHORT,
                         "long_factor": PHI35_LONG}), "longrope"),
    "Phi-4 mini (partial 0.75)": ("Phi3Config", dict(
        hidden_size=3072, num_attention_heads=24, num_key_value_heads=8, partial_rotary_factor=0.75,
        max_position_embeddings=131072, original_max_position_embeddings=4096,
        rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": PHI35_SHORT,
                         "long_factor": PHI35_LONG}),
        "Phi-4-mini's geometry (head 128, partial 0.75, longrope); factor lists of Phi-3.5 mini"),
    "Mistral 7B v0.1": ("MistralConfig", dict(max_position_embeddings=32768, sliding_window=4096,
                                              rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
                        "4096-token sliding window on every layer"),
    "Pythia-160M (GPT-NeoX)": ("GPTNeoXConfig", dict(hidden_size=768, num_attention_heads=12, num_hidden_layers=12,
                                                    rotary_pct=0.25, max_position_embeddings=2048), ""),
    "GLM-4 9B": ("GlmConfig", dict(), "partial 0.5, interleaved pairs"),
    "GPT-OSS 120B": ("GptOssConfig", dict(), "YaRN x32 without truncation, 128-token sliding window"),
    "SmolLM3 3B": ("SmolLM3Config", dict(), "every 4th layer NoPE"),
    "OLMo 2 7B": ("Olmo2Config", dict(max_position_embeddings=4096, rope_parameters={
        "rope_type": "default", "rope_theta": 500000.0}), ""),
    "Cohere Command R": ("CohereConfig", dict(), "interleaved pairs"),
    "StableLM 3B": ("StableLmConfig", dict(), "partial 0.25"),
    "Phi-2": ("PhiConfig", dict(hidden_size=2560, num_attention_heads=32, partial_rotary_factor=0.4), "partial 0.4"),
    "Command R7B (Cohere2)": ("Cohere2Config", dict(
        hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, num_hidden_layers=32, sliding_window=4096,
        sliding_window_pattern=4, max_position_embeddings=131072,
        rope_parameters={"rope_type": "default", "rope_theta": 50000.0}),
        "sliding layers with RoPE (interleaved), every 4th layer full attention without RoPE"),
    "EXAONE 4.0 32B": ("Exaone4Config", dict(
        hidden_size=5120, num_attention_heads=40, num_key_value_heads=8, num_hidden_layers=64, sliding_window=4096,
        sliding_window_pattern=4, max_position_embeddings=131072,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
        "3:1 sliding:full; the full-attention layers have no RoPE"),
    "Qwen2 7B, sliding from layer 20": ("Qwen2Config", dict(
        hidden_size=3584, num_attention_heads=28, num_key_value_heads=4, num_hidden_layers=28,
        max_position_embeddings=32768, use_sliding_window=True, sliding_window=4096, max_window_layers=20,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}), "max_window_layers"),
}

# How a family's attention module decides whether a layer applies RoPE (transformers' own modules).
ROPE_SWITCHES = {
    "cohere2": ("Cohere2Attention", lambda attention: attention.sliding_window is not None),
    "cohere2_moe": ("Cohere2MoeAttention", lambda attention: attention.sliding_window is not None
                    or attention.force_rope),
    "exaone4": ("Exaone4Attention", lambda attention: attention.sliding_window is None or attention.is_sliding),
    "exaone_moe": ("ExaoneMoeAttention", lambda attention: attention.sliding_window is None or attention.is_sliding),
    "kolibri1": ("Kolibri1Attention", lambda attention: attention.sliding_window is None or attention.is_sliding),
    "llama4_text": ("Llama4TextAttention", lambda attention: bool(attention.use_rope)),
    "smollm3": ("SmolLM3Attention", lambda attention: bool(attention.use_rope)),
}


def hf_layer_plan(config) -> list[list] | None:
    """Per layer, [layer type, applies RoPE] as transformers builds the model: the layer types its config class
    derives and, where a family switches RoPE per layer, its own attention modules (built on the meta device).
    ``None`` where the config class derives no layer types and switches nothing."""
    import torch

    types = getattr(config, "layer_types", None)
    switch = ROPE_SWITCHES.get(config.model_type)
    if types is None and switch is None:
        return None
    if types is not None and not set(types) <= {"full_attention", "sliding_attention", "chunked_attention"}:
        return None  # hybrid stacks (linear attention, state-space, MLP-only layers): their rows are compared instead
    if types is not None and saved(config).get("layer_types") not in (None, list(types)):
        return None  # the class saves other layer types than it uses: no file to read them from
    types = list(types or ["full_attention"] * config.num_hidden_layers)
    if switch is None:
        return [[t, True] for t in types]
    model_type = config.model_type.removesuffix("_text")
    module = importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}")
    cls, applies = getattr(module, switch[0]), switch[1]
    with torch.device("meta"):
        return [[t, applies(cls(config, i))] for i, t in enumerate(types)]


def _quiet() -> None:
    logging.getLogger("transformers").setLevel(logging.ERROR)


def build(name: str):
    """The transformers config object of a model in :data:`MODELS`."""
    import transformers

    _quiet()
    cls, kwargs, _ = MODELS[name]
    return getattr(transformers, cls)(**json.loads(json.dumps(kwargs)))


def saved(config) -> dict:
    """The config as ``save_pretrained`` writes ``config.json``."""
    return json.loads(config.to_json_string(use_diff=False))


def rotary_class(config):
    """The rotary embedding class of the config's own model."""
    model_type = config.model_type.removesuffix("_text")
    module = importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}")
    names = [n for n in dir(module) if n.endswith("RotaryEmbedding") and "Vision" not in n and "Audio" not in n]
    names.sort(key=lambda n: ("Text" not in n, len(n)))
    return getattr(module, names[0])


def hf_vectors(config, layer_type: str | None, head_dim: int, positions: list[int]) -> dict:
    """Run the model's rotary class at ``positions``: inv_freq, attention scaling, cos and sin."""
    import torch

    rotary = rotary_class(config)(config)
    x = torch.zeros(1, 1, head_dim, dtype=torch.float32)
    position_ids = torch.tensor([positions], dtype=torch.int64)
    takes_type = "layer_type" in inspect.signature(rotary.forward).parameters
    with torch.no_grad():
        out = rotary(x, position_ids, layer_type) if takes_type else rotary(x, position_ids)
    prefix = f"{layer_type}_" if takes_type else ""
    inv = getattr(rotary, f"{prefix}inv_freq")
    scaling = getattr(rotary, f"{prefix}attention_scaling", getattr(rotary, "attention_scaling", None))
    if isinstance(out, torch.Tensor) and out.is_complex():
        cos, sin = out.real, out.imag
    else:
        cos, sin = out
    n = inv.numel()
    cos, sin = cos[0].double(), sin[0].double()
    if cos.shape[-1] == 2 * n and not torch.equal(cos[:, :n], cos[:, n:]):
        cos, sin = cos[:, 0::2], sin[:, 0::2]  # repeat_interleave'd per pair (Cohere)
    return {"inv_freq": inv.double().tolist(), "attention_scaling": float(scaling),
            "cos": cos[:, :n].tolist(), "sin": sin[:, :n].tolist()}


def probe_positions(tokens: int) -> list[int]:
    """A few positions ending at ``tokens - 1`` (the last one sets dynamic and longrope)."""
    return sorted({0, 1, 7, 100, min(4095, tokens - 1), tokens // 2, tokens - 1})


def layer_type_of(row_name: str) -> str | None:
    """``"x [sliding_attention]"`` -> ``"sliding_attention"``."""
    if "[" not in row_name:
        return None
    return row_name.rsplit("[", 1)[1].rstrip("]").split(",")[0].strip()


def reference_rows(name: str) -> dict:
    """Everything the stored parity file keeps for one model."""
    from ropelab.constructions import configs as cfgs

    config = build(name)
    data = saved(config)
    rows = {}
    for row in cfgs.parse_configs(data, name):
        if not row.rotary:
            rows[row.name] = {"rotary": False}
            continue
        layer_type = layer_type_of(row.name)
        takes_type = "layer_type" in inspect.signature(rotary_class(config).forward).parameters
        vectors = hf_vectors(config, layer_type if takes_type else None, row.head_dim, probe_positions(row.tokens))
        rows[row.name] = {"rotary": True, "tokens": row.tokens, "positions": probe_positions(row.tokens),
                          "theta": row.parameters["rope_theta"], **vectors}
    entry = {"config": data, "rotary_class": rotary_class(config).__name__, "note": MODELS[name][2], "rows": rows}
    layers = hf_layer_plan(config)
    if layers is not None:
        entry["layers"] = layers
    return entry


def write() -> None:
    import transformers

    payload = {"description": "RoPE schedules of real model configs as transformers' own rotary classes compute "
                              "them (float32); written by tests/helpers/hf_rope_models.py",
               "transformers": transformers.__version__,
               "models": {name: reference_rows(name) for name in MODELS}}
    DATA.write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")




def sweep_one(model_type: str) -> str:
    """Every config class of the installed transformers with RoPE fields, at its defaults: the outcome."""
    import torch
    from transformers import CONFIG_MAPPING

    from ropelab.checks.findings import zoo_parity
    from ropelab.constructions import configs as cfgs

    _quiet()
    try:
        config = CONFIG_MAPPING[model_type]()
        data = saved(config)
    except Exception as err:  # a config class that cannot build itself at its defaults
        return f"skipped: config class fails at defaults ({type(err).__name__})"
    text = data.get("text_config") if isinstance(data.get("text_config"), dict) else data
    if not (text.get("rope_parameters") or text.get("rope_theta") or text.get("rope_scaling")):
        return "skipped: no RoPE fields"
    try:
        rows = cfgs.parse_configs(data, model_type)
    except ValueError as err:
        return f"ropelab: {err}"
    try:
        inner = config.get_text_config() if hasattr(config, "get_text_config") else config
        cls = rotary_class(inner)
        takes_type = "layer_type" in inspect.signature(cls.forward).parameters
        entry = {"config": data, "rows": {}}
        layers = hf_layer_plan(inner)
        if layers is not None:
            entry["layers"] = layers
        for row in rows:
            if not row.rotary:
                entry["rows"][row.name] = {"rotary": False}
                continue
            layer_type = layer_type_of(row.name) if takes_type else None
            positions = probe_positions(row.tokens)
            entry["rows"][row.name] = {"rotary": True, "positions": positions,
                                       **hf_vectors(inner, layer_type, row.head_dim, positions)}
    except Exception as err:  # its rotary class is not the standard (x, position_ids) one
        return f"skipped: rotary class not runnable generically ({type(err).__name__})"
    del torch
    try:
        parity = zoo_parity.hf_parity_of({"models": {model_type: entry}})
    except ValueError as err:
        return f"ropelab: {err}"
    return "agree" if all(r.agrees for r in parity) else "differs"


SWEEP = DATA.with_name("hf_rope_sweep.json")
# Config classes whose defaults ropelab reads differently from their rotary class, and why.
KNOWN_DIFFERENCES = {
    "ernie4_5_vl_moe": "the rotary class applies a default mrope_section (3-D positions) the config does not carry",
    "ernie4_5_vl_moe_text": "the rotary class applies a default mrope_section (3-D positions) the config does not carry",
    "minimax_m3_vl": "the config carries rotary_dim = 64 of 128, which its rotary class ignores (it rotates all 128)",
    "minimax_m3_vl_text": "the config carries rotary_dim = 64 of 128, which its rotary class ignores (it rotates all 128)",
    "musicflamingo": "an audio model whose rotary class reads the language model's Qwen2 config",
}


def sweep() -> dict[str, str]:
    from transformers import CONFIG_MAPPING

    return {model_type: sweep_one(model_type) for model_type in sorted(CONFIG_MAPPING.keys())}


def write_sweep() -> None:
    import transformers

    SWEEP.write_text(json.dumps({"transformers": transformers.__version__, "outcomes": sweep()}, indent=1) + "\n")


if __name__ == "__main__":
    write()
    write_sweep()
    print(f"wrote {SWEEP} and {DATA} ({math.ceil(DATA.stat().st_size / 1024)} KiB)")
