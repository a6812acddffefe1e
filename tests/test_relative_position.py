"""The long-context engine: exact phases, angle-addition curves, prefix sums, streaming,
compile counts, sharding and blockwise attention, each checked against an independent path."""

import math
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import scipy.special

from ropelab.constructions import attention, blockwise_attention, frequencies, phases
from ropelab.constructions import relative_position as rel

U = 2.0**-53
COMPILES: list[str] = []


def _count_compiles(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        COMPILES.append(event)


jax.monitoring.register_event_duration_secs_listener(_count_compiles)


def _gaussian_pair(d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.random.default_rng(seed)
    return r.standard_normal(d), r.standard_normal(d)


def _mp_reduced(p: int, g: float) -> mpmath.mpf:
    """Exact ``p * g`` (``g`` the float64 it stores) reduced to ``[-pi, pi)`` at 300 bits."""
    with mpmath.workprec(300):
        x = mpmath.mpf(p) * mpmath.mpf(g)
        return x - 2 * mpmath.pi * mpmath.floor(x / (2 * mpmath.pi) + mpmath.mpf(0.5))


def _mp_curve(q: np.ndarray, k: np.ndarray, freqs: np.ndarray, r: int) -> float:
    """``q^T R^{-r} k`` from the exact float64 inputs at 40 digits (the mpmath reference)."""
    h = len(freqs)
    with mpmath.workdps(40):
        total = mpmath.mpf(0)
        for m in range(h):
            q1, q2, k1, k2 = (mpmath.mpf(float(v)) for v in (q[m], q[m + h], k[m], k[m + h]))
            phi = _mp_reduced(r, float(freqs[m]))
            total += (q1 * k1 + q2 * k2) * mpmath.cos(phi) + (q1 * k2 - q2 * k1) * mpmath.sin(phi)
        return float(total)


def _circular_distance(a: float, b: mpmath.mpf) -> float:
    with mpmath.workprec(300):
        diff = mpmath.mpf(a) - b
        return float(abs(diff - 2 * mpmath.pi * mpmath.nint(diff / (2 * mpmath.pi))))


# --- exact phases ------------------------------------------------------------------------

FREQS = np.concatenate([frequencies.rope(64, 1e4), [math.pi, 0.0, 3.7, 1e-9, 100.0]])


def test_reduced_angles_are_exact_for_every_position():
    r = np.random.default_rng(0)
    positions = np.concatenate([
        [0, 1, 2**32 - 1, 2**32, 2**32 + 1, 2**53 - 1, -(2**53 - 1), -7],
        r.integers(0, 10**7, 12), r.integers(0, 2**53 - 1, 12), -r.integers(0, 2**40, 6),
    ])
    phi = phases.reduced_angles(positions, FREQS)
    assert phi.shape == (positions.size, FREQS.size)
    assert np.all((phi >= -math.pi) & (phi <= math.pi))
    worst = max(_circular_distance(phi[i, m], _mp_reduced(int(p), float(g)))
                for i, p in enumerate(positions) for m, g in enumerate(FREQS))
    assert worst <= phases.ANGLE_ERROR, (worst / U, phases.ANGLE_ERROR / U)


def test_plain_float64_products_fail_the_same_bound():
    # The check can fail: the rounded product p * g drifts by about u p g.
    positions = np.array([10**6 + 17, 10**9 + 3, 10**12 + 5])
    naive = np.multiply.outer(positions.astype(np.float64), FREQS[:8])
    worst = max(_circular_distance(naive[i, m], _mp_reduced(int(p), float(FREQS[m])))
                for i, p in enumerate(positions) for m in range(8))
    assert worst > 100 * phases.ANGLE_ERROR


def test_backend_trig_is_within_the_assumed_error():
    r = np.random.default_rng(1)
    x = np.concatenate([r.uniform(-math.pi, math.pi, 3000),
                        np.nextafter(math.pi, 0) * np.array([-1, -0.5, 0.5, 1]), [0.0, 1e-300]])
    cos, sin = (np.asarray(jax.jit(f)(x)) for f in (jnp.cos, jnp.sin))
    with mpmath.workdps(30):
        worst = max(max(abs(float(mpmath.cos(mpmath.mpf(v)) - mpmath.mpf(c))),
                        abs(float(mpmath.sin(mpmath.mpf(v)) - mpmath.mpf(s)))) for v, c, s in zip(x, cos, sin))
    assert worst <= phases.TRIG_ERROR, worst / U


# --- angle-addition curve: proven bound, direct computation, mpmath -------------------------

@pytest.mark.parametrize(("d", "theta", "start", "length"), [
    (256, 1e4, 0, 40_000),
    (64, 5e5, 10**9 + 11, 9_000),
    (8, 1e4, 10**12, 3_000),
    (2, 1e4, -5_000, 12_000),
])
def test_curve_is_within_its_proven_bound(d, theta, start, length):
    q, k = _gaussian_pair(d, seed=d)
    g = frequencies.rope(d, theta)
    curve = rel.logit_curve(q, k, g, length, start=start)
    bound = rel.logit_curve_error_bound(q, k)
    # against mpmath at sampled distances (every block boundary region included)
    r = np.random.default_rng(2)
    idx = np.unique(np.concatenate([[0, length - 1, min(1023, length - 1), min(1024, length - 1)],
                                    r.integers(0, length, 25)]))
    err_mp = max(abs(curve[i] - _mp_curve(q, k, g, start + int(i))) for i in idx)
    assert err_mp <= bound, (err_mp, bound)
    # against the direct evaluation (no angle addition) at every distance
    direct = rel.logits_at_distances(q, k, g, start + np.arange(length))
    err_direct = np.max(np.abs(curve - direct))
    assert err_direct <= bound + rel.direct_logit_error_bound(q, k), (err_direct, bound)


def test_direct_logits_are_within_their_bound():
    q, k = _gaussian_pair(64, seed=5)
    g = frequencies.rope(64, 1e4)
    r = np.array([0, 1, 10**7, 10**12 + 1, 2**52 + 3, -(10**10)])
    got = rel.logits_at_distances(q, k, g, r)
    err = max(abs(got[i] - _mp_curve(q, k, g, int(x))) for i, x in enumerate(r))
    assert err <= rel.direct_logit_error_bound(q, k)


def test_float64_angle_curve_breaks_the_bound():
    # Negative control: the textbook curve cos(r * g) with rounded products is outside the
    # bound at long distances, so the bound is tight enough to tell the methods apart.
    q, k = _gaussian_pair(256, seed=3)
    g = frequencies.rope(256, 1e4)
    r = 10**9 + np.arange(50)
    a, b = rel.pair_coefficients(q, k)
    angles = np.multiply.outer(r.astype(np.float64), g)
    naive = np.cos(angles) @ a + np.sin(angles) @ b
    err = max(abs(naive[i] - _mp_curve(q, k, g, int(x))) for i, x in enumerate(r[:10]))
    assert err > 10 * rel.logit_curve_error_bound(q, k)


def test_trig_is_evaluated_once_per_block_not_per_distance():
    # The kernel's jaxpr: every cos/sin acts on (blocks, d/2) block starts, never on the
    # (blocks, BLOCK) distances; the offset table is BLOCK x d/2, computed once per curve.
    d, blocks = 16, 4
    turns = jnp.asarray(phases.frequency_turns(frequencies.rope(d, 1e4)))
    table = rel._offset_table_jit(turns)
    jaxpr = jax.make_jaxpr(rel._curve_blocks)(jnp.zeros(blocks, jnp.int64), jnp.ones((2, d // 2)), turns, table)
    trig = [e for e in jaxpr.eqns if e.primitive.name in ("cos", "sin")]
    assert len(trig) == 2 and all(e.invars[0].aval.shape == (blocks, d // 2) for e in trig)
    assert table.shape == (d, rel.BLOCK)


# --- prefix sums: every row of a head ---------------------------------------------------

def test_prefix_weights_match_the_dense_softmax():
    d, n = 16, 700
    g = frequencies.rope(d, 1e4)
    psi = np.zeros(d)
    psi[:3] = psi[d // 2 : d // 2 + 3] = 1.0
    q = k = 3.0 * psi
    curve = rel.logit_curve(q, k, g, n)
    dense = np.asarray(attention.attention_weights(np.tile(q, (n, 1)), np.tile(k, (n, 1)), g))
    for t in (0, 1, 37):
        got = rel.weight_at_distance(curve, t)
        want = np.diagonal(dense, offset=-t)
        assert np.max(np.abs(got - want)) <= 64 * n * U  # softmax sums of n terms, both sides


def test_row_normalisers_match_mpmath_including_underflow():
    r = np.random.default_rng(4)
    x = r.standard_normal(3000) * 40
    x[:100] = -3000 + r.standard_normal(100)  # far below later rows: scaled sums underflow
    x[5], x[400:450] = -np.inf, -np.inf
    x[2000] = 1500.0
    got = rel.row_log_normalisers(x)
    with mpmath.workdps(30):
        total, want = mpmath.mpf(0), []
        for v in x:
            total += mpmath.exp(mpmath.mpf(float(v))) if np.isfinite(v) else 0
            want.append(float(mpmath.log(total)))
    # a few roundings of numbers of size |L| per level (3 levels here)
    assert np.max(np.abs(got - np.array(want)) / (1 + np.abs(want))) <= 200 * U


# --- streaming, compile counts ----------------------------------------------------------

def test_streamed_curve_and_weights_equal_the_in_memory_ones():
    q, k = _gaussian_pair(32, seed=6)
    g = frequencies.rope(32, 1e4)
    n = 3 * rel.CHUNK_BLOCKS[-1] * rel.BLOCK + 12_345
    pieces = list(rel.logit_curve_chunks(q, k, g, n))
    assert len(pieces) == 4 and max(p.size for p in pieces) == rel.CHUNK_BLOCKS[-1] * rel.BLOCK
    curve = rel.logit_curve(q, k, g, n)
    assert np.array_equal(np.concatenate(pieces), curve)
    for t in (0, 300_000):
        streamed = list(rel.weight_at_distance_chunks(q, k, g, n, t))
        assert streamed[0][0] == t
        assert np.array_equal(np.concatenate([w for _, w in streamed]), rel.weight_at_distance(curve, t))


def test_a_sweep_compiles_nothing_after_warm_up():
    d = 24
    g = frequencies.rope(d, 1e4)
    q, k = _gaussian_pair(d, seed=7)
    cold = rel._curve_blocks_jit._cache_size()
    for size in rel.CHUNK_BLOCKS:  # warm every chunk shape once
        rel.logit_curve(q, k, g, size * rel.BLOCK)
    rel.logits_at_distances(q, k, g, np.arange(7))
    kernel_cache = rel._curve_blocks_jit._cache_size()
    before = len(COMPILES)
    r = np.random.default_rng(8)
    for length in (5, 999, 4097, 70_000, 300_001, 1_000_000):
        q, k = r.standard_normal((2, d))
        start = int(r.integers(0, 10**12))
        rel.logit_curve(q, k, g * r.uniform(0.5, 1.0), length, start=start)
        rel.logits_at_distances(q, k, g, np.arange(7) + start)
    assert len(COMPILES) == before
    assert rel._curve_blocks_jit._cache_size() == kernel_cache <= cold + len(rel.CHUNK_BLOCKS)


# --- multi-device: shard the position axis --------------------------------------------

SHARDED_SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    from ropelab.constructions import frequencies, relative_position as rel
    assert jax.device_count() == 2, jax.devices()
    mesh = jax.make_mesh((2,), ("pos",))
    g = frequencies.rope(64, 1e4)
    q, k = np.random.default_rng(0).standard_normal((2, 64))
    for length, start in ((10, 0), (5_000, 7), (70_000, 10**10), (600_001, 3)):
        a = rel.logit_curve(q, k, g, length, start=start)
        b = rel.logit_curve(q, k, g, length, start=start, mesh=mesh)
        assert np.array_equal(a, b), (length, start, np.abs(a - b).max())
    whole = rel.weight_at_distance(rel.logit_curve(q, k, g, 300_000), 1)
    sharded = np.concatenate([w for _, w in rel.weight_at_distance_chunks(q, k, g, 300_000, 1, mesh=mesh)])
    assert np.array_equal(whole, sharded)
    print("sharded == unsharded")
""")


def test_sharded_curve_equals_unsharded_on_two_devices():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", SHARDED_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sharded == unsharded" in done.stdout


# --- blockwise attention --------------------------------------------------------------

def _dense_attention(q, k, v, g, scale, layout="half"):
    a = np.asarray(attention.logits(q, k, g, layout=layout, scale=scale))
    out = np.asarray(attention.causal_softmax(a)) @ np.asarray(v, dtype=np.float64)
    lse = np.array([scipy.special.logsumexp(a[i, : i + 1]) for i in range(len(a))])
    return out, lse, np.max(np.abs(a))


@pytest.mark.parametrize(("n", "block", "layout"), [(300, 64, "half"), (256, 64, "interleaved"), (5, 8, "half")])
def test_blockwise_attention_matches_dense_float64(n, block, layout):
    r = np.random.default_rng(n)
    d = 16
    g = frequencies.rope(d, 1e4)
    q, k = r.standard_normal((2, n, d))
    v = r.standard_normal((n, 3))
    out, lse = blockwise_attention.causal_attention(q, k, v, g, block=block, scale=0.5, layout=layout,
                                                    with_normalisers=True)
    want, want_lse, biggest = _dense_attention(q, k, v, g, 0.5, layout)
    # Logits differ by at most a few roundings of size |a| per pair (angles are within
    # u*n*g of each other); a softmax moves by at most twice the logit error, plus the
    # roundings of sums of n terms.
    logit_err = 8 * d * (n + 1) * U * biggest
    assert np.max(np.abs(np.asarray(lse) - want_lse)) <= logit_err + 4 * n * U * (1 + biggest)
    assert np.max(np.abs(np.asarray(out) - want)) <= (2 * logit_err + 4 * n * U) * np.max(np.abs(v))


def test_blockwise_attention_float32_stays_float32_and_close():
    r = np.random.default_rng(9)
    n, d = 513, 32
    g = frequencies.rope(d, 1e4)
    q, k, v = (x.astype(np.float32) for x in r.standard_normal((3, n, d)))
    out = blockwise_attention.causal_attention(q, k, v, g, block=128, scale=d**-0.5)
    assert out.dtype == jnp.float32
    want, _, biggest = _dense_attention(q.astype(np.float64), k.astype(np.float64), v, g, d**-0.5)
    eps32 = float(np.finfo(np.float32).eps)
    assert np.max(np.abs(np.asarray(out) - want)) <= (2 * 8 * d * eps32 * biggest + 4 * n * eps32) * np.max(np.abs(v))


def test_blockwise_working_memory_does_not_grow_with_length():
    def temp_bytes(fn, n):
        x = jax.ShapeDtypeStruct((n, 64), jnp.float64)
        return fn.lower(x, x, x).compile().memory_analysis().temp_size_in_bytes

    blockwise = jax.jit(lambda q, k, v: blockwise_attention._blockwise(q, k, v, 256))
    dense = jax.jit(lambda q, k, v: attention.causal_softmax(q @ k.T) @ v)
    small, large = 1024, 4096
    assert temp_bytes(blockwise, large) <= 1.05 * temp_bytes(blockwise, small) < small * small * 8
    assert temp_bytes(dense, large) >= large * large * 8  # the control holds an n x n matrix


# --- bad input ------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "match"), [
    (lambda: rel.logit_curve(np.ones(4), np.ones(4), [1.0, 0.1], 0), "length"),
    (lambda: rel.logit_curve(np.ones(4), np.ones(4), [1.0, 0.1], 5, start=1.5), "start"),
    (lambda: rel.logit_curve(np.ones(4), np.ones(4), [1.0], 5), "freqs"),
    (lambda: rel.logits_at_distances(np.ones(2), np.ones(2), [1.0], [0.5]), "integers"),
    (lambda: rel.weight_at_distance_chunks(np.ones(2), np.ones(2), [1.0], 5, 5).__next__(), "distance"),
    (lambda: phases.reduced_angles([2**53], [1.0]), "2\\*\\*53"),
    (lambda: phases.frequency_turns([np.nan]), "finite"),
    (lambda: blockwise_attention.causal_attention(np.ones((3, 4)), np.ones((2, 4)), np.ones((3, 1)), [1, 0.1]), "same n"),
    (lambda: blockwise_attention.causal_attention(np.ones((3, 4)), np.ones((3, 4)), np.ones((3, 1)), [1, 0.1], block=0),
     "block"),
])
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- the benchmark command --------------------------------------------------------------

def test_bench_runs_a_workload_and_summarises(tmp_path, capfd):
    from ropelab.cli import app as cli

    path = tmp_path / "bench.json"
    with pytest.raises(SystemExit) as stop:
        cli.main(["bench", "logit-curve", "--quick", "--json", str(path)])
    assert stop.value.code == 0, capfd.readouterr()
    (result,) = __import__("json").loads(path.read_text())["results"]
    assert {line["baseline"] for line in result["summary"]} == {"NumPy rotate-every-key", "PyTorch HF-style RoPE"}
    details = result["details"]
    # the baselines compute the same curve: their errors against mpmath are float64-sized
    assert details["errors"]["ours"] <= details["bound"]
    assert max(details["errors"]["numpy"], details["errors"]["torch"]) < 1e-9
    assert all(line["ours_s"] > 0 and line["baseline_s"] > 0 for line in result["summary"])


def test_bench_rejects_unknown_workloads(capsys):
    from ropelab.cli import app as cli

    with pytest.raises(SystemExit) as stop:
        cli.main(["bench", "no-such-workload"])
    assert stop.value.code == 2
    assert "logit-curve" in capsys.readouterr().out
