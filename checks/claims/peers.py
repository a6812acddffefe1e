"""ropelab's schedules and rotary maps reproduce peer implementations' outputs (beyond, peers)."""

from __future__ import annotations

import numpy as np

from ropelab.constructions import frequencies, rotary

from .. import tolerances as tol
from ..claim import Claim, Part, Shown, Trust, Variant
from ..laws import Identity, Point
from . import _common as c

__all__ = ["CLAIMS"]

SECTION = "§2 RoPE algebra"

PEERS = Claim(
    id="rope_matches_peer_implementations",
    label="beyond (peers)",
    section=SECTION,
    statement="Our RoPE, p-RoPE, partial rotary, llama3, linear and YaRN schedules and rotary maps reproduce the "
    "stored outputs of Gemma, HF transformers and Meta's reference code.",
    symbolic_reason="the peers are programs, not formulas: only their outputs can be compared",
    errata=("E13",),
    parts=(Part("Our RoPE, p-RoPE, partial rotary, llama3, linear and YaRN schedules and rotary maps reproduce the stored outputs of Gemma, HF transformers and Meta's "
                "reference code", ("numeric",)),),
    law=Identity("error / per-entry tolerance"),
    check=lambda transform, quick, rng: _peers(transform, quick, rng),
    construction=Variant(lambda f: f, "our schedules as they are"),
    wrong=Variant(lambda f: np.asarray(f) ** 2, "d/2 instead of d in the exponent (every frequency squared)"),
    numeric=Shown(Trust.CHECKED, "every stored peer vector (HF inv_freq and attention factors, Gemma apply_rope, "
                                 "HF apply_rotary_pos_emb, Meta's interleaved complex form)"),
    tolerance_reason="per entry: float32 peers (HF inv_freq, Gemma) at (4 + ln theta) eps32 relative "
    "or eps32 x angle x (3 + ln theta); float64 peers at 8 ops x d x (angle + 1) x eps64",
    explain=lambda: _explain_peers(),
    numeric_scope=c.fixed_instance(lambda: PEERS,
                                   "every stored peer vector (HF inv_freq and attention factors, Gemma apply_rope, "
                                   "HF apply_rotary_pos_emb, Meta's interleaved complex form)"),
)

CLAIMS = [PEERS]


def _peers(transform, quick: bool, rng: np.random.Generator) -> list[Point]:
    """Compare every stored peer output with ours; ``transform`` maps each schedule."""
    data = c.peer_vectors()
    rows = []

    def record(name, err, bound):
        rows.append(Point({"entry": name}, error=float(err), bound=bound.value))

    for e in data["hf_inv_freq"]:
        p = dict(e["params"], rope_type=e["rope_type"], **e.get("extra", {}))
        ours, att = frequencies.from_hf_parameters(e["head_dim"], p)
        ours, ref = transform(ours), np.asarray(e["inv_freq"])
        rel = np.max(np.abs(ours - ref) / np.where(ref == 0.0, 1.0, ref))
        record(f"hf_inv_freq: {e['name']}", rel, tol.peer_frequencies(p["rope_theta"], np.float32))
        record(f"attention factor: {e['name']}", abs(att - e["attention_scaling"]),
               tol.Tolerance(4 * tol.EPS64, "float64 rounding of 0.1 ln(factor) + 1"))
    for e in data["gemma_apply_rope"]:
        freqs = transform(frequencies.p_rope(e["head_dim"], e["base"], e["proportion"]))
        out = np.asarray(rotary.apply(np.asarray(e["x"], dtype=np.float64), e["positions"], freqs))
        bound = tol.peer_rotation(e["base"], np.float32, float(max(e["positions"])), float(np.max(np.abs(e["x"]))) * 2)
        record(f"gemma apply_rope d={e['head_dim']} p={e['proportion']}", np.max(np.abs(out - np.asarray(e["out"]))), bound)
    for e in data["hf_apply_rotary_pos_emb"]:
        freqs = transform(frequencies.rope(e["head_dim"], e["base"]))
        for name in ("q", "k"):
            out = np.asarray(rotary.apply(np.asarray(e[name]), e["positions"], freqs, "half"))
            bound = tol.rotation_identity(np.float64, e["head_dim"], float(max(e["positions"])), float(np.max(np.abs(e[name]))))
            record(f"hf apply_rotary_pos_emb {name} d={e['head_dim']}", np.max(np.abs(out - np.asarray(e[f"{name}_out"]))), bound)
    for e in data["interleaved_complex"]:
        freqs = transform(frequencies.rope(e["head_dim"], e["base"]))
        out = np.asarray(rotary.apply(np.asarray(e["x"]), e["positions"], freqs, "interleaved"))
        bound = tol.rotation_identity(np.float64, e["head_dim"], float(max(e["positions"])), float(np.max(np.abs(e["x"]))))
        record(f"meta interleaved d={e['head_dim']}", np.max(np.abs(out - np.asarray(e["out"]))), bound)
    return rows


def _explain_peers() -> str:
    data = c.peer_vectors()
    e = data["hf_inv_freq"][3]
    ours, _ = frequencies.from_hf_parameters(e["head_dim"], dict(e["params"], rope_type=e["rope_type"]))
    return (
        f"Peers: {', '.join(sorted({x['peer'] for k in data if isinstance(data[k], list) for x in data[k]}))}.\n"
        f"Example -- {e['name']}: HF's last three inverse frequencies {e['inv_freq'][-3:]},\n"
        f"ours {ours[-3:].tolist()} (float64; HF rounds to float32, hence the float32 tolerance).\n"
        "Gemma forms angles in float32, so at position 4096 its output differs from ours by about "
        "1e-5; the tolerance is derived from float32 eps, the angle and ln(theta).\n"
        "Using d/2 instead of d in the exponent (squaring every frequency) is rejected."
    )
