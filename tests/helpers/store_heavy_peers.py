"""Heavy third-party RoPE implementations, checked once: their outputs on conform's cases, stored as data.

torchtune and keras-hub are too heavy for the test extra, so their rotary ops are run here, where they
are installed, through adapters in ``ropelab conform``'s signature, on every case of
:func:`ropelab.checks.conformance.cases` that they support; each case's inputs and the library's output
vectors (not verdicts) are written to :data:`DATA`. ``tests/test_conformance.py`` replays them through
conform without the packages. Nothing of theirs is copied: the adapters only build and call their modules.

- ``torchtune_apply``: ``torchtune.modules.RotaryPositionalEmbeddings`` (interleaved pairs, no scaling).
- ``keras_hub_apply``: ``keras_hub.layers.RotaryEmbedding`` on the JAX backend (half-split pairs; linear
  scaling as its ``scaling_factor``).

Run from ``tests/``: ``KERAS_BACKEND=jax ../.venv/bin/python -m helpers.store_heavy_peers`` (a library not
installed keeps its stored entries).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["DATA", "PEERS", "key", "keras_hub_apply", "load", "record", "save", "torchtune_apply"]

DATA = Path(__file__).resolve().parent.parent / "data" / "heavy_peers.npz"

# adapter -> (package, version distribution, what it supports: select()'s options)
PEERS = {
    "torchtune_apply": ("torchtune", {"rope_types": ["default"], "layouts": ["interleaved"]}),
    "keras_hub_apply": ("keras_hub", {"rope_types": ["default", "linear"], "layouts": ["half"]}),
}


def _rotary_width(config: dict) -> int:
    return int(config["head_dim"] * config.get("partial_rotary_factor", 1.0))


def _torchtune_rope_class():
    """``RotaryPositionalEmbeddings`` from the installed torchtune.

    ``torchtune.modules`` imports its whole package (datasets, torchao); where those are missing the
    installed ``torchtune/modules/position_embeddings.py`` is loaded on its own (it needs only torch).
    """
    try:
        from torchtune.modules import RotaryPositionalEmbeddings
        return RotaryPositionalEmbeddings
    except ImportError:
        root = Path(importlib.util.find_spec("torchtune").submodule_search_locations[0])
        spec = importlib.util.spec_from_file_location("torchtune_position_embeddings",
                                                      root / "modules" / "position_embeddings.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.RotaryPositionalEmbeddings


def torchtune_apply(x, positions, config):
    import torch

    if config["rope_type"] != "default" or config["layout"] != "interleaved":
        raise NotImplementedError(f"{config['rope_type']} / {config['layout']}")
    d_rot = _rotary_width(config)
    rope = _torchtune_rope_class()(d_rot, max_seq_len=int(positions.max()) + 1, base=config["rope_theta"])
    bf16 = x.dtype.name == "bfloat16"
    t = torch.from_numpy(x.astype(np.float32) if bf16 else x)
    t = t.to(torch.bfloat16) if bf16 else t
    rotated = rope(t[None, :, None, :d_rot], input_pos=torch.from_numpy(positions)[None])[0, :, 0]
    out = torch.cat([rotated, t[:, d_rot:]], dim=-1)
    return out.float().numpy().astype(x.dtype) if bf16 else out.numpy()


def keras_hub_apply(x, positions, config):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras_hub

    if config["rope_type"] not in ("default", "linear") or config["layout"] != "half":
        raise NotImplementedError(f"{config['rope_type']} / {config['layout']}")
    d_rot = _rotary_width(config)
    layer = keras_hub.layers.RotaryEmbedding(max_wavelength=config["rope_theta"],
                                             scaling_factor=config.get("factor", 1.0))
    rotated = np.asarray(layer(x[None, :, :d_rot], positions=positions))[0]
    # keras computes in its float32 policy: its rows upcast exactly, the unrotated tail passed through as given
    return np.concatenate([rotated.astype(np.float64), x[:, d_rot:].astype(np.float64)], axis=1)


def key(layout: str, dtype: str, positions, config: dict) -> str:
    """What identifies a stored case: layout, dtype, positions and the RoPE parameters asked."""
    rope = {k: v for k, v in config.items() if k not in ("layout", "inv_freq", "attention_scaling")}
    return json.dumps([layout, dtype, [int(p) for p in positions], rope], sort_keys=True)


def record(adapter: str) -> list[dict]:
    """Every supported case: its key, label, inputs and the library's output."""
    from ropelab.checks import conformance

    package, supports = PEERS[adapter]
    chosen, _ = conformance.select(conformance.cases(), **supports)
    function = globals()[adapter]
    rows = []
    for case in chosen:
        x = conformance.inputs(case)
        positions = np.asarray(case.positions, dtype=np.int64)
        config = case.config()
        out = np.asarray(function(x.copy(), positions.copy(), config))
        rows.append({"key": key(case.layout, case.dtype, positions, config),
                     "label": f"{case.name} [{case.layout}, {case.dtype}]", "out_dtype": out.dtype.name,
                     "x": x.astype(np.float64), "out": out.astype(np.float64)})
    return rows


def load() -> dict[str, list[dict]]:
    """The stored entries per adapter."""
    with np.load(DATA) as data:
        index = json.loads(str(data["index"]))
        return {adapter: [{**entry, "x": data[f"{adapter}/{i}/x"], "out": data[f"{adapter}/{i}/out"]}
                          for i, entry in enumerate(entries)] for adapter, entries in index["peers"].items()}


def save(peers: dict[str, list[dict]], versions: dict[str, str]) -> None:
    arrays = {}
    index = {"versions": versions, "peers": {}}
    for adapter, rows in peers.items():
        index["peers"][adapter] = [{k: r[k] for k in ("key", "label", "out_dtype")} for r in rows]
        for i, r in enumerate(rows):
            arrays[f"{adapter}/{i}/x"], arrays[f"{adapter}/{i}/out"] = r["x"], r["out"]
    DATA.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(DATA, index=np.array(json.dumps(index)), **arrays)


def main() -> None:
    from importlib import metadata

    os.environ.setdefault("KERAS_BACKEND", "jax")
    peers = load() if DATA.exists() else {}
    with np.load(DATA) if DATA.exists() else _Empty() as data:
        versions = json.loads(str(data["index"]))["versions"] if data is not None else {}
    for adapter, (package, _) in PEERS.items():
        if importlib.util.find_spec(package) is None:
            print(f"{package} not installed: its stored outputs kept")
            continue
        peers[adapter] = record(adapter)
        versions[adapter] = f"{package} {metadata.version(package.replace('_', '-'))}"
        print(f"{versions[adapter]}: {len(peers[adapter])} cases")
    save(peers, versions)


class _Empty:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())
