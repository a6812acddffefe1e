"""Head frequency usage: a constructed previous-token head is found and its frequencies named."""

import jax
import jax.numpy as jnp
import numpy as np

from ropelab.checks.findings.models import transformer as tf
from ropelab.checks.findings.models import transformer_usage as usage

D = 8  # head dimension: pairs (m, m + 4), m = 0 highest frequency (g = 1)
MODEL = tf.ModelConfig(vocab_size=16, d_model=16, n_layers=1, n_heads=2, head_dim=D)


def constructed_params(scale: float) -> dict:
    """Head 0: q = s (1, 0) and k = s rho(1) (1, 0) on pair 0 (Thm 5.3's previous-token head).

    Head 1: q = k = s (1, 0) on the lowest pair, whose frequency (1e-3 rad/token) barely turns.
    Every token embeds to e_0, so after RMSNorm x = 4 e_0 and q, k are the same at every position.
    """
    params = tf.init_params(MODEL, jax.random.PRNGKey(0))
    layer = {name: jnp.zeros_like(value) for name, value in params["layers"][0].items()}
    # The norm scales keep the weights' float32, as init_params makes them.
    layer["attn_norm"] = jnp.ones_like(params["layers"][0]["attn_norm"])
    layer["mlp_norm"] = jnp.ones_like(params["layers"][0]["mlp_norm"])
    amplitude = scale / 4.0  # undo the RMSNorm factor of 4
    wq = np.zeros((MODEL.d_model, 2 * D))
    wk = np.zeros((MODEL.d_model, 2 * D))
    wq[0, 0] = amplitude
    wk[0, 0], wk[0, D // 2] = amplitude * np.cos(1.0), amplitude * np.sin(1.0)
    wq[0, D + D // 2 - 1] = amplitude
    wk[0, D + D // 2 - 1] = amplitude
    layer["wq"], layer["wk"] = jnp.asarray(wq, jnp.float32), jnp.asarray(wk, jnp.float32)
    embed = np.zeros((MODEL.vocab_size, MODEL.d_model))
    embed[:, 0] = 1.0
    return {"embed": jnp.asarray(embed, jnp.float32), "layers": [layer], "final_norm": params["final_norm"]}


def test_constructed_previous_token_head_is_found_on_the_highest_frequency():
    windows = np.arange(3 * 12).reshape(3, 12) % MODEL.vocab_size
    measured = usage.measure(constructed_params(30.0), windows, MODEL, tf.PositionalEncoding("rope", 1e3))
    assert measured.previous[0, 0] > 0.99 and measured.diagonal[0, 0] < 0.01
    assert measured.previous[0, 1] < usage.POSITIONAL_WEIGHT and measured.diagonal[0, 1] < usage.POSITIONAL_WEIGHT
    # RMSNorm's eps = 1e-6 scales e_0 by 4 / sqrt(1 + 16e-6), not exactly 4; float32 weights
    norm = 30.0 / np.sqrt(1.0 + 16e-6)
    np.testing.assert_allclose(measured.q_norm[0, 0], [norm, 0, 0, 0], atol=1e-4)
    np.testing.assert_allclose(measured.k_norm[0, 1], [0, 0, 0, norm], atol=1e-4)
    summary = usage.summarise(measured)
    assert summary["positional_heads"] == [[0, 0, "previous"]]
    assert summary["top_share"][0][0] > 0.999 and summary["top_share"][0][1] < 1e-6
    # the layer holds one all-high and one all-low head of equal norm: the layer's ratio is 1
    np.testing.assert_allclose(summary["low_high_ratio_q"], [1.0])


def test_without_rotation_the_same_head_is_not_positional():
    windows = np.arange(3 * 12).reshape(3, 12) % MODEL.vocab_size
    measured = usage.measure(constructed_params(30.0), windows, MODEL, tf.PositionalEncoding("nope"))
    assert usage.summarise(measured)["positional_heads"] == []
