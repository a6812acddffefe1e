"""Long contexts: blockwise attention equals the exact attention within float32 rounding (values and
gradients), rematerialisation changes nothing, micro-batches give the full batch's mean within the
summation bound, and presets that use none of them keep their configurations as committed."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ropelab.checks.findings import table2
from ropelab.checks.findings.experiments import EXPERIMENTS
from ropelab.checks.findings.models import mesh as M
from ropelab.checks.findings.models import training
from ropelab.checks.findings.models import transformer as tf

ROOT = Path(__file__).resolve().parents[1]
U = 2.0**-24  # float32 unit roundoff
EXP_ULPS = 2
"""Relative error of one float32 ``exp``, in units of ``U``: XLA's CPU ``exp`` is accurate to about one ulp
(two ulps is the budget assumed here for every ``exp``)."""


def gamma(n: int) -> float:
    """Higham's :math:`\\gamma_n = nu / (1 - nu)`: the relative error of an ``n``-term float32 dot or sum."""
    return n * U / (1 - n * U)


def qkv(T: int, heads: int = 2, d: int = 8, seed: int = 0, scale: float = 1.5):
    """Random queries, keys and values ``(T, heads, d)``; ``scale`` makes the logits O(1 to 5), so the
    softmax is neither flat nor one-hot and the running maximum changes from block to block."""
    keys = jax.random.split(jax.random.PRNGKey(seed), 3)
    return tuple(scale * jax.random.normal(k, (T, heads, d), jnp.float32) for k in keys)


def exact(q, k, v):
    """The transformer's exact path: the (T, T) logits, causal softmax, weights times values."""
    logits = jnp.einsum("ihd,jhd->hij", q, k) / math.sqrt(q.shape[-1])
    weights = jax.vmap(tf._attention.causal_softmax)(logits)
    return jnp.einsum("hij,jhd->ihd", weights, v)


def bounds(q, k, v, c, block: int):
    r"""Per-element bounds on |blockwise - exact| for the output and for the gradients of ``sum(c * out)``.

    First-order forward error analysis of each path against real arithmetic, doubled for the difference
    of two paths. A logit is a ``d``-term dot product and a division: :math:`|\delta a_{ij}| \le
    \gamma_{d+1} \hat a_{ij}`, :math:`\hat a = |q| \cdot |k| / \sqrt d`. A weight
    :math:`w_{ij} = e^{a_{ij} - m} / \sum_l e^{a_{il} - m}` then has relative error at most
    :math:`\epsilon_w = 2\gamma_{d+1}\max_j \hat a_{ij} + \gamma_T + (2\,\mathrm{EXP} + 2)u` (its logit and the
    normaliser's, the ``T``-term sum, one exp and the division), plus, in the blockwise path, one
    rescaling per block (an exp of the maxima's difference, a multiply and an add into the running
    sums: :math:`(\mathrm{EXP} + 2)u` per block). The output :math:`\sum_j w_{ij} v_j` adds a ``T``-term sum:
    :math:`|\delta o_i| \le (\epsilon_w + \gamma_T) \sum_j w_{ij}|v_j|`. The gradients go through
    :math:`dP_{ij} = c_i \cdot v_j` (``d`` terms), :math:`dS_{ij} = w_{ij}(dP_{ij} - \sum_l w_{il} dP_{il})` (``T``
    terms) and ``T``-term products with ``k``, ``q`` or ``c``; each is bounded by
    :math:`\epsilon_g = \epsilon_w + 2\gamma_T + \gamma_{d}` times the same expression on absolute values.
    """
    q, k, v, c = (np.asarray(x, np.float64) for x in (q, k, v, c))
    T, _, d = q.shape
    n_blocks = -(-T // block)
    mask = np.tril(np.ones((T, T), bool))
    a = np.einsum("ihd,jhd->hij", q, k) / math.sqrt(d)
    a_abs = np.einsum("ihd,jhd->hij", np.abs(q), np.abs(k)) / math.sqrt(d)
    a = np.where(mask, a, -np.inf)
    w = np.exp(a - a.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)  # (H, T, T)
    eps_w = (2 * gamma(d + 1) * np.where(mask, a_abs, 0).max(-1) + gamma(T) + (2 * EXP_ULPS + 2) * U
             + n_blocks * (EXP_ULPS + 2) * U)  # (H, T): per query
    eps_g = float((eps_w + 2 * gamma(T) + gamma(d)).max())
    out = 2 * (eps_w + gamma(T))[..., None] * np.einsum("hij,jhd->hid", w, np.abs(v))  # (H, T, d)
    p_abs = np.einsum("ihd,jhd->hij", np.abs(c), np.abs(v))
    s_abs = w * (p_abs + np.einsum("hij,hij->hi", w, p_abs)[..., None])
    grads = (np.einsum("hij,jhd->ihd", s_abs, np.abs(k)) / math.sqrt(d),  # dq
             np.einsum("hij,ihd->jhd", s_abs, np.abs(q)) / math.sqrt(d),  # dk
             np.einsum("hij,ihd->jhd", w, np.abs(c)))  # dv
    return np.transpose(out, (1, 0, 2)), tuple(2 * eps_g * g for g in grads)


CASES = [(16, 4), (37, 8), (37, 1), (37, 37), (37, 64), (64, 16)]  # 37: not a multiple of 8 or 64


@pytest.mark.parametrize("T, block", CASES)
def test_blockwise_attention_and_its_gradient_equal_the_exact_within_the_rounding_bound(T, block):
    q, k, v = qkv(T)
    c = jax.random.normal(jax.random.PRNGKey(7), q.shape, jnp.float32)
    out_bound, grad_bounds = bounds(q, k, v, c, block)
    blockwise = tf.blockwise_causal_attention(q, k, v, block)
    assert blockwise.shape == (T, 2, 8)
    assert np.all(np.abs(np.asarray(blockwise) - np.asarray(exact(q, k, v))) <= out_bound)
    g_block = jax.grad(lambda *x: jnp.sum(c * tf.blockwise_causal_attention(*x, block)), argnums=(0, 1, 2))(q, k, v)
    g_exact = jax.grad(lambda *x: jnp.sum(c * exact(*x)), argnums=(0, 1, 2))(q, k, v)
    for name, gb, ge, bound in zip("qkv", g_block, g_exact, grad_bounds):
        assert np.all(np.isfinite(np.asarray(gb))), name
        assert np.all(np.abs(np.asarray(gb) - np.asarray(ge)) <= bound), name


@pytest.mark.parametrize("fault", ["non_causal_block", "missing_rescale"])
def test_a_planted_fault_in_the_blockwise_attention_leaves_the_bound(fault, monkeypatch):
    """A block that lets queries see later keys, or sums that are not moved onto the new maximum,
    break the equality by far more than rounding (the correct code passes the same check above)."""
    if fault == "non_causal_block":
        monkeypatch.setattr(tf, "_visible", lambda query_pos, key_pos: jnp.ones((query_pos.size, key_pos.size), bool))
    else:
        monkeypatch.setattr(tf, "_rescale", lambda old, new: jnp.where(jnp.isfinite(old), 1.0, 0.0))
    T, block = 37, 8
    q, k, v = qkv(T)
    out_bound, _ = bounds(q, k, v, jnp.ones_like(q), block)
    error = np.abs(np.asarray(tf.blockwise_causal_attention(q, k, v, block)) - np.asarray(exact(q, k, v)))
    assert np.max(error / out_bound) > 100


def test_bad_block_sizes_are_refused_in_one_line():
    q, k, v = qkv(4)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=r"^block must be an integer >= 1, got"):
            tf.blockwise_causal_attention(q, k, v, bad)
    for bad in (-1, 2.0, True, None):
        with pytest.raises(ValueError, match=r"^attention_block must be 0 \(exact attention\) or a block size >= 1"):
            tf.ModelConfig(attention_block=bad)
    with pytest.raises(ValueError, match=r"^remat must be True or False, got 1"):
        tf.ModelConfig(remat=1)


# ---------------------------------------------------------------- the model with them

MODEL = tf.ModelConfig(d_model=32, n_layers=2, n_heads=2, head_dim=16, mlp_ratio=2)
T = 40
TABLES = tf.PositionalEncoding("rope").tables(T, MODEL.head_dim)
TOKENS = jnp.asarray(np.random.default_rng(0).integers(0, MODEL.vocab_size, (4, T + 1)), jnp.int32)
# the longest reduction inside one token's NLL (as in tests/test_training_mesh.py)
LONGEST = max(MODEL.d_model * MODEL.mlp_ratio, T, MODEL.vocab_size, MODEL.d_model)


def mean_loss(model: tf.ModelConfig):
    return jax.jit(lambda p, batch: jnp.mean(jax.vmap(lambda s: tf.token_nll(p, s, model, TABLES))(batch)))


@pytest.mark.parametrize("block", [8, 13])
def test_the_model_with_blockwise_attention_gives_the_exact_loss_within_the_reduction_order_bound(block):
    """Blockwise attention changes the order of each token's attention sums and adds one rescaling per
    block: the mean NLL moves by at most :func:`mesh.reduction_order_bound` with the longest reduction
    grown by ``EXP + 2`` roundings per block. A non-causal block (a planted fault) leaves it. The
    weights are the initial ones times 10, so that attention (and a leak of later tokens) moves the NLL."""
    params = jax.tree_util.tree_map(lambda x: 10 * x if x.ndim == 2 else x, tf.init_params(MODEL, jax.random.PRNGKey(1)))
    blockwise = dataclasses.replace(MODEL, attention_block=block)
    loss_exact, loss_block = float(mean_loss(MODEL)(params, TOKENS)), float(mean_loss(blockwise)(params, TOKENS))
    bound = M.reduction_order_bound(TOKENS.shape[0] * T, LONGEST + -(-T // block) * (EXP_ULPS + 2), loss_exact)
    assert abs(loss_block - loss_exact) <= bound
    # the internals are the exact path's whatever the block: the weights are the (T, T) square
    _, inside = tf.forward_with_internals(params, TOKENS[0, :T], blockwise, TABLES)
    _, reference = tf.forward_with_internals(params, TOKENS[0, :T], MODEL, TABLES)
    assert all(np.array_equal(a["weights"], b["weights"]) for a, b in zip(inside, reference))
    with pytest.MonkeyPatch.context() as patch:  # the blockwise path is the one that runs
        patch.setattr(tf, "_visible", lambda query_pos, key_pos: jnp.ones((query_pos.size, key_pos.size), bool))
        leaked = float(mean_loss(blockwise)(params, TOKENS))
    assert abs(leaked - loss_exact) > 100 * bound


def test_remat_gives_the_same_loss_and_gradient_bit_for_bit():
    """Rematerialisation recomputes each layer's forward pass in the backward pass with the same
    operations, so nothing is reordered: equal bit for bit (checked on XLA's CPU backend)."""
    params = tf.init_params(MODEL, jax.random.PRNGKey(2))
    for base in (MODEL, dataclasses.replace(MODEL, attention_block=8)):
        plain = jax.jit(jax.value_and_grad(lambda p, b, m=base: jnp.mean(
            jax.vmap(lambda s: tf.token_nll(p, s, m, TABLES))(b))))(params, TOKENS)
        remat = dataclasses.replace(base, remat=True)
        again = jax.jit(jax.value_and_grad(lambda p, b: jnp.mean(
            jax.vmap(lambda s: tf.token_nll(p, s, remat, TABLES))(b))))(params, TOKENS)
        assert all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(plain),
                                                         jax.tree_util.tree_leaves(again)))


# ---------------------------------------------------------------- micro-batches

TRAIN = training.TrainConfig(seq_len=T, batch_size=8, steps=4, warmup_steps=1)
BATCH = jnp.asarray(np.random.default_rng(1).integers(0, MODEL.vocab_size, (8, T + 1)), jnp.int32)


@pytest.fixture(scope="module")
def per_token_gradients():
    """:math:`\\sum_{b,t} |\\partial \\ell_{bt} / \\partial\\theta| / (BT)` (each parameter) and the mean NLL."""
    params = tf.init_params(MODEL, jax.random.PRNGKey(3))
    jacobian = jax.jit(jax.vmap(jax.jacrev(lambda p, s: tf.token_nll(p, s, MODEL, TABLES)), in_axes=(None, 0)))
    per_token = jacobian(params, BATCH)  # leaves (B, T, *shape)
    total = jax.tree_util.tree_map(lambda g: np.abs(np.asarray(g, np.float64)).sum(axis=(0, 1)) / (8 * T), per_token)
    return params, total


@pytest.mark.parametrize("micro", [2, 4, 8])
def test_micro_batches_give_the_full_batch_loss_and_gradient_within_the_summation_bound(micro, per_token_gradients):
    """The loss and each gradient are means of ``B T`` per-token terms; micro-batches change the order of
    that sum (:func:`mesh.summation_bound`) and, through the shapes, the order inside each term's own
    reductions (at most ``LONGEST`` terms, as :func:`mesh.reduction_order_bound` assumes)."""
    params, total = per_token_gradients
    full_loss, full_grads = jax.jit(training.batch_gradient(MODEL, TRAIN))(params, BATCH, TABLES)
    config = dataclasses.replace(TRAIN, micro_batches=micro)
    loss, grads = jax.jit(training.batch_gradient(MODEL, config))(params, BATCH, TABLES)
    n = BATCH.shape[0] * T
    assert abs(float(loss) - float(full_loss)) <= M.reduction_order_bound(n, LONGEST, float(full_loss))
    for g, h, s in zip(*(jax.tree_util.tree_leaves(x) for x in (grads, full_grads, total))):
        bound = np.vectorize(lambda x: M.summation_bound(n, n * x) / n + M.summation_bound(LONGEST + 1, x))(s)
        assert np.all(np.abs(np.asarray(g, np.float64) - np.asarray(h, np.float64)) <= bound)


def test_micro_batches_that_do_not_divide_the_batch_are_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"^micro_batches must divide batch_size=8, got 3$"):
        training.TrainConfig(batch_size=8, micro_batches=3)
    with pytest.raises(ValueError, match=r"^micro_batches must be a positive integer, got 0$"):
        training.TrainConfig(batch_size=8, micro_batches=0)
    four_devices = SimpleNamespace(shape={M.DATA: 4, M.MODEL: 1})  # per-device batch 2
    with pytest.raises(ValueError, match=r"^micro_batches must divide the per-device batch \(batch_size=8 over 4 "):
        training.step_functions(MODEL, dataclasses.replace(TRAIN, micro_batches=4), four_devices)
    training.step_functions(MODEL, dataclasses.replace(TRAIN, micro_batches=2), four_devices)  # 2 divides 2


def test_a_training_step_with_every_option_runs_and_lowers_the_loss():
    model = dataclasses.replace(MODEL, attention_block=16, remat=True)
    config = dataclasses.replace(TRAIN, micro_batches=4, peak_lr=1e-2)
    optimizer, step, _ = training.step_functions(model, config)
    params = tf.init_params(model, jax.random.PRNGKey(4))
    state = optimizer.init(params)
    step = jax.jit(step)
    losses = []
    for _ in range(4):
        params, state, loss = step(params, state, BATCH, TABLES)
        losses.append(float(loss))
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]


# ---------------------------------------------------------------- the committed configurations

def test_presets_that_use_none_of_them_keep_their_committed_configurations():
    committed = json.loads((ROOT / "results" / "table2_small" / "table2_results.json").read_text())["config"]
    small = table2.PRESETS["small"]
    assert small.model.as_dict() == committed["model"] and small.train.as_dict() == committed["train"]
    for entry in (e for e in EXPERIMENTS.values() if e.module):
        for name, preset in entry.record().presets.items():
            if name == "paper":
                continue
            assert not {"attention_block", "remat"} & set(preset.model.as_dict()), (name, preset.model)
            assert "micro_batches" not in preset.train.as_dict(), (name, preset.train)
    paper = table2.PRESETS["paper"]
    assert paper.model.as_dict()["attention_block"] > 0 and paper.model.as_dict()["remat"] is True
    assert paper.train.as_dict()["micro_batches"] > 1


MESH_SCRIPT = """
import dataclasses, json, jax, numpy as np
from ropelab.checks.findings.models import transformer as tf, training as tr, mesh as M
model = tf.ModelConfig(d_model=32, n_layers=2, n_heads=2, head_dim=16, attention_block=8, remat=True)
config = tr.TrainConfig(seq_len=32, batch_size=16, steps=4, warmup_steps=1)
batch = np.random.default_rng(0).integers(0, 256, (16, 33)).astype(np.int32)
losses = {}
for devices, micro in [(1, 1), (8, 2)]:
    mesh = M.training_mesh(devices=jax.devices()[:devices])
    optimizer, step, _ = tr.step_functions(model, dataclasses.replace(config, micro_batches=micro), mesh)
    step = tr.compile_step(step, model, optimizer, mesh, (2,))
    params = M.place(tf.init_params(model, jax.random.PRNGKey(0)), mesh)
    state = M.place(optimizer.init(params), mesh)
    tables = tr.replicated_tables(tf.PositionalEncoding("rope"), 32, 16, mesh)
    losses[f"{devices}x{micro}"] = [float(step(params, state, M.place_batch(batch, mesh), tables)[2])]
    for _ in range(2):
        params, state, loss = step(params, state, M.place_batch(batch, mesh), tables)
        losses[f"{devices}x{micro}"].append(float(loss))
print(json.dumps(losses))
"""


def test_micro_batches_on_an_eight_device_mesh_equal_one_device_within_the_reduction_order_bound():
    """Each device's share of the batch (2 sequences) split in 2 micro-batches, on 8 CPU devices, against
    the whole batch on one: the step's loss (same parameters) and the two that follow stay within
    :func:`mesh.reduction_order_bound`, as the mesh's own runs do (tests/test_training_mesh.py)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("ROPELAB_")}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    done = subprocess.run([sys.executable, "-c", MESH_SCRIPT], env=env, capture_output=True, text=True, timeout=300,
                          check=True)
    losses = json.loads(done.stdout.splitlines()[-1])
    longest = max(32 * 4, 32, 256)  # MLP hidden width, positions, vocabulary
    for one, split in zip(losses["1x1"], losses["8x2"]):
        assert abs(one - split) <= M.reduction_order_bound(16 * 32, longest + 4 * (EXP_ULPS + 2), one)
