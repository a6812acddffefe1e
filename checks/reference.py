"""The reference data the checks compare with: the paper's printed numbers and peer RoPE outputs.

Both are package data (numbers only, no code): ``data/paper_facts.json`` holds the paper's
tables and constants as printed, ``data/rope_peer_vectors.json`` the outputs of Gemma's and HF
transformers' RoPE code.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

__all__ = ["paper_facts", "peer_vectors"]


@functools.cache
def peer_vectors() -> dict:
    """Outputs of Gemma's and HF transformers' RoPE code (package data, numbers only)."""
    text = resources.files("ropelab.checks").joinpath("data/rope_peer_vectors.json").read_text()
    return json.loads(text)


@functools.cache
def paper_facts() -> dict:
    """The paper's tables and constants as printed (package data)."""
    text = resources.files("ropelab.checks").joinpath("data/paper_facts.json").read_text()
    return json.loads(text)
