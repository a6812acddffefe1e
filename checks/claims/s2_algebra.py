"""Section 2 of the paper: the algebra of RoPE (SPEC §3)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ropelab.constructions import attention, frequencies, rotary
from ropelab.theory import rotations as th
from ropelab.theory.derivation import derive

from .. import tolerances as tol
from ..claim import Claim, Evidence
from . import _common as c

SECTION = "§2 RoPE algebra"


# --- wrong variants used as negative controls -------------------------------------------

def _reflection(x, positions, freqs):
    """A reflection in place of the rotation: orthogonal, but reflections do not compose."""
    a = rotary.angles(positions, freqs)
    d = np.shape(x)[-1]
    x1, x2 = np.asarray(x)[..., : d // 2], np.asarray(x)[..., d // 2 :]
    return np.concatenate([x1 * np.cos(a) + x2 * np.sin(a), x1 * np.sin(a) - x2 * np.cos(a)], axis=-1)


def _xpos_scaled(x, positions, freqs, zeta: float = 0.999, span: float = 512.0):
    """xPos-style decay (Sun et al. 2022): the rotation times zeta**(i/span); not an isometry."""
    scale = zeta ** (np.asarray(positions, dtype=np.float64) / span)
    return np.asarray(rotary.apply(x, positions, freqs)) * scale[..., None]


def _key_rotated_backwards(x, positions, freqs):
    """The key turned clockwise: R^(-j) k instead of R^j k."""
    return rotary.apply(x, positions, -np.asarray(freqs))


# --- rotation_composition ---------------------------------------------------------------

def _composition_check(rotate, quick: bool) -> Evidence:
    r = c.rng(20)
    pair_rot = c.pair_rotation_function()
    worst, point = 0.0, {}
    n_pos = 8 if quick else 64
    for d in c.HEAD_DIMS:
        for theta in c.BASES:
            g = c.theory_frequencies(d, theta)
            x = r.standard_normal(d)
            i = r.integers(0, c.LONGEST_POSITION // 2, n_pos)
            j = r.integers(0, c.LONGEST_POSITION // 2, n_pos)
            x1, x2 = c.halves(x)
            # R^j R^i x against SymPy's rho((i+j) g) x
            composed = np.asarray(rotate(np.asarray(rotate(x, i, frequencies.rope(d, theta))), j,
                                         frequencies.rope(d, theta)))
            y1, y2 = pair_rot((i + j)[:, None], g, x1, x2)
            err_comp = np.max(np.abs(composed - np.concatenate([y1, y2], axis=-1)))
            # n-fold application of R^1 against rho(n g) x, n = 1..40
            y = np.asarray(x)
            err_pow = 0.0
            for n in range(1, 41):
                y = np.asarray(rotate(y, 1, frequencies.rope(d, theta)))
                z1, z2 = pair_rot(n, g, x1, x2)
                err_pow = max(err_pow, float(np.max(np.abs(y - np.concatenate([z1, z2])))))
            # transpose is the inverse: R^T (R x) = x
            back = np.stack([rotary.rotation_matrix(int(p), frequencies.rope(d, theta)).T
                             @ np.asarray(rotate(x, int(p), frequencies.rope(d, theta))) for p in i[:4]])
            err_t = float(np.max(np.abs(back - x)))
            bound = tol.rotation_identity(np.float64, d, float(c.LONGEST_POSITION), np.linalg.norm(x))
            ratio = max(err_comp, err_pow, err_t) / bound.value
            if ratio > worst:
                worst, point = ratio, {"d": d, "theta": theta, "composition": err_comp,
                                       "power": err_pow, "transpose": err_t}
    return Evidence(worst, 1.0, point, {"unit": "error / derived tolerance", "positions_per_point": n_pos})


def _explain_composition() -> str:
    g = 0.3
    x = np.array([1.0, 2.0])
    twice = np.asarray(rotary.apply(np.asarray(rotary.apply(x, 5, [g])), 7, [g]))
    once = np.asarray(rotary.apply(x, 12, [g]))
    return (
        f"Rotate x = (1, 2) by 5 x {g} rad, then by 7 x {g} rad: {np.round(twice, 6).tolist()}.\n"
        f"Rotate it once by 12 x {g} rad: {np.round(once, 6).tolist()} -- the same vector, "
        "because angles add. Transposing a rotation turns it backwards, so R^T = R^-1, and\n"
        "applying R^1 n times is R^n for every integer n (SymPy proves this for symbolic n via "
        "rho(a) = P diag(e^{ia}, e^{-ia}) P^-1).\nA reflection in place of the rotation is "
        "still orthogonal, but two reflections make a rotation, so composition fails."
    )


# --- rope_preserves_norm ----------------------------------------------------------------

def _norm_check(rotate, quick: bool) -> Evidence:
    r = c.rng(21)
    worst, point = 0.0, {}
    n_pos = 16 if quick else 256
    for d in c.HEAD_DIMS:
        for theta in c.BASES:
            x = r.standard_normal(d)
            pos = np.concatenate([[0, 1, c.LONGEST_POSITION], r.integers(0, c.LONGEST_POSITION, n_pos)])
            y = np.asarray(rotate(x, pos, frequencies.rope(d, theta)))
            err = np.abs(np.linalg.norm(y, axis=-1) - np.linalg.norm(x)) / np.linalg.norm(x)
            bound = tol.rotation_identity(np.float64, d, 0.0)  # norms do not depend on the angle
            if err.max() / bound.value > worst:
                worst = float(err.max() / bound.value)
                point = {"d": d, "theta": theta, "position": int(pos[err.argmax()]),
                         "relative_error": float(err.max())}
    return Evidence(worst, 1.0, point, {"unit": "relative norm error / derived tolerance"})


def _explain_norm() -> str:
    x = np.array([3.0, 0.0, 0.0, 4.0])
    freqs = frequencies.rope(4, 100.0)
    y = np.asarray(rotary.apply(x, 10**6, freqs))
    return (
        f"x = {x.tolist()} has |x| = 5. At position 10^6 with d=4, theta=100: R^i x = "
        f"{np.round(y, 6).tolist()}, |R^i x| = {c.fmt(np.linalg.norm(y), 12)}.\n"
        "Each pair is turned, never stretched. xPos-style decay multiplies by zeta^(i/512) "
        "and changes the norm, which this check rejects."
    )


# --- rope_score_depends_on_relative_position --------------------------------------------

def _relative_check(rotate_key, quick: bool) -> Evidence:
    r = c.rng(22)
    worst, point = 0.0, {}
    n_pos = 16 if quick else 256
    for d in c.HEAD_DIMS:
        for theta in c.BASES:
            freqs = frequencies.rope(d, theta)
            g = c.theory_frequencies(d, theta)
            q, k = r.standard_normal(d), r.standard_normal(d)
            i = r.integers(0, c.LONGEST_POSITION // 2, n_pos)
            j = r.integers(0, c.LONGEST_POSITION // 2, n_pos)
            s = r.integers(0, c.LONGEST_POSITION // 2, n_pos)
            ours = np.sum(np.asarray(rotary.apply(q, i, freqs)) * np.asarray(rotate_key(k, j, freqs)), -1)
            shifted = np.sum(np.asarray(rotary.apply(q, i + s, freqs))
                             * np.asarray(rotate_key(k, j + s, freqs)), -1)
            theirs = c.symbolic_logit(q, k, i, j, g)
            err = np.maximum(np.abs(ours - theirs), np.abs(shifted - theirs))
            bound = tol.rotation_identity(np.float64, d, float(c.LONGEST_POSITION),
                                          np.linalg.norm(q) * np.linalg.norm(k))
            if err.max() / bound.value > worst:
                m = int(err.argmax())
                worst = float(err.max() / bound.value)
                point = {"d": d, "theta": theta, "i": int(i[m]), "j": int(j[m]), "s": int(s[m]),
                         "ours": float(ours[m]), "sympy": float(theirs[m])}
    return Evidence(worst, 1.0, point, {"unit": "logit error / derived tolerance", "pairs_per_point": n_pos})


def _explain_relative() -> str:
    q, k = np.array([1.0, 2.0, 0.5, -1.0]), np.array([0.5, -1.0, 2.0, 1.0])
    freqs = frequencies.rope(4, 100.0)
    a = lambda i, j: float(np.asarray(rotary.apply(q, i, freqs)) @ np.asarray(rotary.apply(k, j, freqs)))  # noqa: E731
    rel = float(q @ k)
    relative = float(q @ (rotary.rotation_matrix(1, -freqs * 3) @ k))
    return (
        f"d=4, theta=100, q={q.tolist()}, k={k.tolist()} (pairs (x0,x2), (x1,x3)).\n"
        f"a_52 = (R^5 q)^T (R^2 k) = {c.fmt(a(5, 2), 10)}\n"
        f"a_(5+1000, 2+1000) = {c.fmt(a(1005, 1002), 10)}\n"
        f"q^T R^(2-5) k = {c.fmt(relative, 10)}\n"
        "Only the distance j - i = -3 matters, because R^i^T R^j = R^(j-i).\n"
        f"At distance 0 the logit is the plain dot product q.k = {c.fmt(rel, 10)}.\n"
        "Rotating the key backwards (R^-j k) breaks the identity: the check rejects it."
    )


# --- chunk_score_is_norm_times_cosine ---------------------------------------------------

def _chunk_check(closed_form, quick: bool) -> Evidence:
    r = c.rng(23)
    n = 200 if quick else 5000
    x, y = r.standard_normal((n, 2)), r.standard_normal((n, 2))
    # angles phi = position * g with an irrational-looking g cover [0, 50] rad in one call
    g = 50.0 / 4099.0
    positions = r.integers(0, 4100, n)
    phi = positions * g
    ours = np.sum(x * np.asarray(rotary.apply(y, positions, [g])), axis=-1)
    theirs = closed_form(x[:, 0], x[:, 1], y[:, 0], y[:, 1], phi)
    scale = np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1)
    bound = tol.rotation_identity(np.float64, 2, 50.0)
    err = np.abs(ours - theirs) / scale
    m = int(err.argmax())
    return Evidence(float(err.max()), bound.value,
                    {"x": x[m].tolist(), "y": y[m].tolist(), "phi": float(phi[m])},
                    {"samples": n, "tolerance_reason": bound.reason})


def _closed_form():
    return sp.lambdify(sp.symbols("x1 x2 y1 y2 phi", real=True), th.chunk_score_closed_form().expr, "numpy")


def _swapped_closed_form():
    x1, x2, y1, y2, phi = sp.symbols("x1 x2 y1 y2 phi", real=True)
    wrong = sp.sqrt(x1**2 + x2**2) * sp.sqrt(y1**2 + y2**2) * sp.cos(phi - sp.atan2(y2, y1) + sp.atan2(x2, x1))
    return sp.lambdify((x1, x2, y1, y2, phi), wrong, "numpy")


def _explain_chunk() -> str:
    x, y, phi = np.array([2.0, 0.0]), np.array([0.0, 3.0]), 0.5
    score = float(x @ np.asarray(rotary.apply(y, 1, [phi])))
    return (
        f"x = (2, 0) at angle 0, y = (0, 3) at angle pi/2, phi = {phi}.\n"
        f"x^T rho(phi) y = {c.fmt(score, 10)} and |x||y| cos(phi + pi/2 - 0) = "
        f"{c.fmt(6 * np.cos(phi + np.pi / 2), 10)}.\n"
        "A pair's score is the product of norms times the cosine of the angle between the query "
        "and the rotated key. Thm 6.1's proof writes the angles the other way round (erratum E3); "
        "that reading gives 6 cos(phi - pi/2) = "
        f"{c.fmt(6 * np.cos(phi - np.pi / 2), 10)}, which the check rejects."
    )


# --- layouts_agree_up_to_permutation ----------------------------------------------------

def _layout_symbolic():
    d = 6
    angles = sp.symbols("t0:3", real=True)

    def block(layout: str) -> sp.Matrix:
        mat = sp.zeros(d, d)
        for m, t in enumerate(angles):
            a, b = (m, m + d // 2) if layout == "half" else (2 * m, 2 * m + 1)
            mat[a, a], mat[a, b], mat[b, a], mat[b, b] = sp.cos(t), -sp.sin(t), sp.sin(t), sp.cos(t)
        return mat

    # interleaved coordinate 2m holds half coordinate m, and 2m+1 holds m + d/2
    perm = sp.zeros(d, d)
    for m in range(d // 2):
        perm[2 * m, m] = 1
        perm[2 * m + 1, m + d // 2] = 1
    return derive(
        "P R_half P^T = R_interleaved for the pair-matching permutation P (d = 6, symbolic angles)",
        [("P R_half P^T - R_interleaved = 0", perm * block("half") * perm.T - block("interleaved"))],
    )


def _layout_check(permutation, quick: bool) -> Evidence:
    r = c.rng(24)
    worst, point = 0.0, {}
    n = 8 if quick else 32
    for d in c.HEAD_DIMS[1:]:
        for theta in c.BASES:
            freqs = frequencies.rope(d, theta)
            q, k = r.standard_normal((n, d)), r.standard_normal((n, d))
            pos = np.sort(r.integers(0, 10**6, n))
            perm = permutation(d)
            half = np.asarray(attention.logits(q, k, freqs, "half", pos, pos))
            inter = np.asarray(attention.logits(q[:, perm], k[:, perm], freqs, "interleaved", pos, pos))
            bound = tol.rotation_identity(np.float64, d, 1e6, float(np.max(np.linalg.norm(q, axis=1)
                                                                          * np.linalg.norm(k, axis=1))))
            ratio = float(np.max(np.abs(half - inter)) / bound.value)
            if ratio > worst:
                worst, point = ratio, {"d": d, "theta": theta, "max_error": float(np.max(np.abs(half - inter)))}
    return Evidence(worst, 1.0, point, {"unit": "logit error / derived tolerance"})


def _explain_layout() -> str:
    perm = rotary.layout_permutation(8)
    return (
        "With d = 8 the half layout pairs (0,4), (1,5), (2,6), (3,7); the interleaved layout "
        "pairs (0,1), (2,3), (4,5), (6,7).\n"
        f"Reordering coordinates by perm = {perm.tolist()} (x_interleaved = x_half[perm]) maps one "
        "onto the other, so every logit agrees. Weights trained in one layout must be permuted "
        "before use in the other; without the permutation the logits differ (rejected control)."
    )


# --- rope_matches_peer_implementations --------------------------------------------------

def _peer_check(transform, quick: bool) -> Evidence:
    """Compare every stored peer output with ours; ``transform`` maps each schedule."""
    data = c.peer_vectors()
    rows = []

    def record(name, err, bound):
        rows.append({"entry": name, "error": float(err), "tolerance": bound.value, "ratio": float(err / bound.value)})

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
    worst = max(rows, key=lambda row: row["ratio"])
    return Evidence(worst["ratio"], 1.0, worst, {"unit": "error / per-entry tolerance", "entries": rows})


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


CLAIMS = [
    Claim(
        id="rotation_composition",
        label="Eq. 2",
        section=SECTION,
        statement="rho(a) rho(b) = rho(a+b); rho(a)^T = rho(-a) = rho(a)^-1; rho(g)^n = rho(n g) for every integer n.",
        symbolic=th.rotation_composition,
        numeric=lambda quick: _composition_check(rotary.apply, quick),
        negative=lambda quick: _composition_check(_reflection, quick),
        negative_description="a reflection in place of the rotation (orthogonal, but reflections do not compose)",
        tolerance_reason="8 ops x d x (largest angle + 1) x eps64 x |x|; positions up to 10^7",
        explain=_explain_composition,
        seed=20,
    ),
    Claim(
        id="rope_preserves_norm",
        label="Sec 2",
        section=SECTION,
        statement="|R^i x| = |x| for every position i.",
        symbolic=th.rope_preserves_norm,
        numeric=lambda quick: _norm_check(rotary.apply, quick),
        negative=lambda quick: _norm_check(_xpos_scaled, quick),
        negative_description="xPos-style decay zeta^(i/512), zeta = 0.999 (not an isometry)",
        tolerance_reason="relative norm error within 8 ops x d x eps64 (the angle does not enter a norm)",
        explain=_explain_norm,
        seed=21,
    ),
    Claim(
        id="rope_score_depends_on_relative_position",
        label="Eq. 3",
        section=SECTION,
        statement="(R^i q)^T (R^j k) = q^T R^(j-i) k, hence a_(i+s, j+s) = a_ij.",
        symbolic=th.rope_score_depends_on_relative_position,
        numeric=lambda quick: _relative_check(rotary.apply, quick),
        negative=lambda quick: _relative_check(_key_rotated_backwards, quick),
        negative_description="the key rotated backwards, R^(-j) k",
        tolerance_reason="8 ops x d x (largest angle 10^7 + 1) x eps64 x |q||k|",
        explain=_explain_relative,
        seed=22,
    ),
    Claim(
        id="chunk_score_is_norm_times_cosine",
        label="Thm 6.1 proof",
        section=SECTION,
        statement="x^T rho(phi) y = |x| |y| cos(phi + angle(y) - angle(x)) for 2-vectors x, y.",
        symbolic=th.chunk_score_is_norm_times_cosine,
        numeric=lambda quick: _chunk_check(_closed_form(), quick),
        negative=lambda quick: _chunk_check(_swapped_closed_form(), quick),
        negative_description="the angles swapped, cos(phi - angle(y) + angle(x)) (the proof's index swap, E3)",
        tolerance_reason="relative to |x||y|: 8 ops x 2 x (phi <= 50 + 1) x eps64",
        explain=_explain_chunk,
        corrected="Thm 6.1's proof swaps the indices of the two angles (erratum E3); the statement here is the corrected one.",
        seed=23,
    ),
    Claim(
        id="layouts_agree_up_to_permutation",
        label="beyond (peers)",
        section=SECTION,
        statement="Half-split and interleaved RoPE give the same logits after permuting q and k coordinates.",
        symbolic=_layout_symbolic,
        numeric=lambda quick: _layout_check(rotary.layout_permutation, quick),
        negative=lambda quick: _layout_check(lambda d: np.arange(d), quick),
        negative_description="no permutation (interleaved RoPE applied to half-layout weights)",
        tolerance_reason="8 ops x d x (largest angle 10^6 + 1) x eps64 x max |q_i||k_j|",
        explain=_explain_layout,
        seed=24,
    ),
    Claim(
        id="rope_matches_peer_implementations",
        label="beyond (peers)",
        section=SECTION,
        statement="Our RoPE, p-RoPE, partial rotary, llama3, linear and YaRN schedules and rotary maps reproduce Gemma's and HF transformers' outputs.",
        symbolic=None,
        symbolic_reason="the peers are programs, not formulas: only their outputs can be compared",
        numeric=lambda quick: _peer_check(lambda f: f, quick),
        negative=lambda quick: _peer_check(lambda f: np.asarray(f) ** 2, quick),
        negative_description="d/2 instead of d in the exponent (every frequency squared)",
        tolerance_reason="per entry: float32 peers (HF inv_freq, Gemma) at (4 + ln theta) eps32 relative "
        "or eps32 x angle x (3 + ln theta); float64 peers at 8 ops x d x (angle + 1) x eps64",
        explain=_explain_peers,
    ),
]
