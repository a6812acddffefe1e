r"""A small decoder-only transformer whose only positional signal is a rotary map of q and k.

Pre-norm blocks (RMSNorm, causal multi-head attention, GELU MLP, residual connections), tied
input/output embeddings. Queries and keys of every head are passed through one
:class:`PositionalEncoding` before the logits
:math:`a_{ij} = (R^i q_i)^\top (R^j k_j) / \sqrt{d_h}`; everything else is the same code for
every encoding, so models that differ only in their encoding differ only there. The encodings
are the foundation's schedules (:mod:`.frequencies`) applied by the foundation's rotary map
(:mod:`.rotary`): NoPE (all frequencies 0), RoPE, p-RoPE, reversed p-RoPE and GPT-NeoX's
prefix partial rotary. Positions are concrete integers, so the rotary map forms its angles in
float64 NumPy at trace time and the network itself runs in ``float32`` (the weights' dtype).
Wherever a model takes an encoding it also takes the encoding's :class:`RotaryTables`, the same
cosines and sines as arrays: the trainers pass those, so encodings share compiled programs.

Parameters are a nested ``dict`` of arrays (a pytree). Functions are pure and unbatched
(``tokens`` of shape ``(T,)``); ``jax.vmap``/``jax.jit`` are applied by the caller.

Long contexts (opt-in, :class:`ModelConfig`): ``attention_block = B > 0`` computes :func:`forward`'s
causal attention over key blocks of ``B`` with an online softmax
(:func:`blockwise_causal_attention`), never forming the ``(T, T)`` square, and ``remat`` wraps each
layer in :func:`jax.checkpoint` (the layers then run as one ``jax.lax.scan``), so the backward pass
keeps only each layer's input and recomputes the rest. At their defaults (0, False) the code that runs is the exact full attention, unchanged.
Reference: Barbero et al. (2025) §6.1 and Table 2; Vaswani et al. (2017); Su et al. (2021).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from ropelab.constructions import attention as _attention
from ropelab.constructions import frequencies as _freqs
from ropelab.constructions import rotary as _rotary
from ropelab.constructions import shapes as _shapes
from ropelab.constructions import validation as _v

__all__ = [
    "ModelConfig",
    "PositionalEncoding",
    "RotaryTables",
    "blockwise_causal_attention",
    "forward",
    "forward_with_internals",
    "init_params",
    "token_nll",
]

SCHEDULES = ("nope", "rope", "p_rope", "reversed_p_rope", "partial_rotary")


@dataclass(frozen=True)
class PositionalEncoding:
    """One rotary encoding of queries and keys, named by its frequency ``schedule``.

    ``schedule`` is one of :data:`SCHEDULES`; ``theta`` is the base wavelength and
    ``fraction`` the share of the head that rotates (p-RoPE's ``p``; the rotated prefix
    ``d_rot = int(fraction * d)`` of partial rotary). ``nope`` ignores both.

    >>> PositionalEncoding("p_rope", 1e4, 0.5).frequencies(8).round(4).tolist()
    [1.0, 0.1, 0.0, 0.0]
    """

    schedule: str
    theta: float = 10_000.0
    fraction: float = 1.0

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        _v.base(self.theta)
        _v.fraction(self.fraction, "fraction")

    def frequencies(self, head_dim: int) -> np.ndarray:
        """The per-pair frequencies, ``(head_dim/2,)`` float64, in the head's half layout.

        For partial rotary the rotated prefix is laid out in its own halves, so its pairs are
        ``(m, m + d_rot/2)`` rather than ``(m, m + d/2)``: the returned array lists the
        prefix's frequencies first and zeros for the unrotated tail (analysis only; the
        rotation itself goes through :func:`.rotary.partial_rotary`).
        """
        if self.schedule == "nope":
            return _freqs.nope(head_dim)
        if self.schedule == "rope":
            return _freqs.rope(head_dim, self.theta)
        if self.schedule == "p_rope":
            return _freqs.p_rope(head_dim, self.theta, self.fraction)
        if self.schedule == "reversed_p_rope":
            return _freqs.reversed_p_rope(head_dim, self.theta, self.fraction)
        d_rot = self.rotated_dims(head_dim)
        return np.concatenate([_freqs.rope(d_rot, self.theta), np.zeros((head_dim - d_rot) // 2)])

    def rotated_dims(self, head_dim: int) -> int:
        """Partial rotary's prefix length ``int(fraction * d)`` (must be even and >= 2).

        >>> PositionalEncoding("partial_rotary", 1e4, 0.75).rotated_dims(32)
        24
        """
        return _v.head_dim(int(self.fraction * head_dim), "int(fraction * head_dim)")

    def encode(self, x: jax.Array, positions: np.ndarray) -> jax.Array:
        """Rotate ``x`` (shape ``(..., d)``) at integer ``positions`` (broadcasting with ``x.shape[:-1]``)."""
        d = x.shape[-1]
        if self.schedule == "partial_rotary":
            return _rotary.partial_rotary(x, positions, self.rotated_dims(d), self.theta)
        return _rotary.apply(x, positions, self.frequencies(d), "half")

    def tables(self, length: int, head_dim: int, dtype: object = jnp.float32) -> RotaryTables:
        """The encoding at positions ``0 .. length-1`` as :class:`RotaryTables` of ``dtype``.

        The angles are formed as :meth:`encode` forms them (float64 NumPy, then cos and sin
        rounded once to ``dtype``), so ``tables(T, d).encode(x, positions)`` equals
        ``encode(x, positions)`` for positions below ``T``.

        >>> enc = PositionalEncoding("rope", 100.0)
        >>> x = jnp.ones((3, 1, 4), jnp.float32)
        >>> positions = np.arange(3)[:, None]
        >>> bool(jnp.array_equal(enc.tables(3, 4).encode(x, positions), enc.encode(x, positions)))
        True
        """
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be an integer >= 1, got {length!r}")
        if self.schedule == "partial_rotary":
            freqs = _freqs.rope(self.rotated_dims(head_dim), self.theta)
        else:
            freqs = self.frequencies(_v.head_dim(head_dim))
        cos, sin = _rotary.cos_sin(_rotary.angles(np.arange(length), freqs), dtype)
        return RotaryTables(cos, sin, prefix=self.schedule == "partial_rotary")


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class RotaryTables:
    r"""An encoding's cosines and sines at positions ``0 .. T-1``, held as arrays.

    ``cos`` and ``sin`` have shape ``(T, n)``: the ``n = d/2`` pairs of the half layout, or the
    ``d_rot/2`` pairs of partial rotary's prefix when ``prefix`` is true. As a pytree whose
    leaves are the two tables, they go into a jitted function as an argument rather than as
    constants, so encodings that differ only in their frequencies (NoPE, RoPE, p-RoPE and
    reversed p-RoPE at any base) share one compiled program. Build them with
    :meth:`PositionalEncoding.tables`.
    """

    cos: jax.Array
    sin: jax.Array
    prefix: bool = field(default=False, metadata={"static": True})

    def encode(self, x: jax.Array, positions: np.ndarray) -> jax.Array:
        """Rotate ``x`` (shape ``(..., d)``) at concrete integer ``positions`` below ``T``."""
        positions = np.asarray(positions)
        if positions.size and not 0 <= positions.min() <= positions.max() < self.cos.shape[0]:
            raise ValueError(f"positions must lie in 0 .. {self.cos.shape[0] - 1} (the tables' length), "
                             f"got {positions.min()} .. {positions.max()}")
        if self.cos.dtype != x.dtype:  # a silent cast would round (or widen) the angles a second time
            raise ValueError(f"the tables are {self.cos.dtype} but x is {x.dtype}: form them with dtype=x.dtype")
        cos, sin = self.cos[positions], self.sin[positions]
        if self.prefix:
            return _rotary.rotate_prefix(x, cos, sin)
        return _rotary.rotate(x, cos, sin, "half")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the network. ``head_dim`` is the per-head width ``d`` of the rotary map.

    Two fields change how :func:`forward` computes, not what: ``attention_block`` (0: the exact
    attention over the whole ``(T, T)`` square; ``B >= 1``: :func:`blockwise_causal_attention` over
    key blocks of ``B``, equal within float32 rounding) and ``remat`` (recompute each layer in the
    backward pass). :meth:`as_dict` leaves them out at their defaults, so the configurations (and
    checkpoint fingerprints) of models that do not use them read as they always have.

    >>> cfg = ModelConfig(d_model=64, n_layers=2, n_heads=2, head_dim=32)
    >>> leaves = jax.tree_util.tree_leaves(init_params(cfg, jax.random.PRNGKey(0)))
    >>> cfg.parameter_count(), cfg.parameter_count() == sum(leaf.size for leaf in leaves)
    (115008, True)
    """

    vocab_size: int = 256
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    head_dim: int = 32
    mlp_ratio: int = 4
    attention_block: int = 0
    remat: bool = False

    def __post_init__(self) -> None:
        _v.positive_integers(self, ("vocab_size", "d_model", "n_layers", "n_heads", "mlp_ratio"))
        _v.head_dim(self.head_dim, "head_dim")
        block = self.attention_block
        if isinstance(block, bool) or not isinstance(block, int) or block < 0:
            raise ValueError(f"attention_block must be 0 (exact attention) or a block size >= 1, got {block!r}")
        if not isinstance(self.remat, bool):
            raise ValueError(f"remat must be True or False, got {self.remat!r}")

    def parameter_count(self) -> int:
        """Number of trainable scalars."""
        attn = 4 * self.d_model * self.n_heads * self.head_dim
        mlp = 2 * self.mlp_ratio * self.d_model**2
        per_layer = attn + mlp + 2 * self.d_model
        return self.vocab_size * self.d_model + self.n_layers * per_layer + self.d_model

    def as_dict(self) -> dict:
        """The fields as a dict, without ``attention_block`` and ``remat`` where they are at their defaults.

        >>> "remat" in ModelConfig().as_dict(), ModelConfig(remat=True).as_dict()["remat"]
        (False, True)
        """
        fields = asdict(self)
        for name, default in _COMPUTATION_DEFAULTS.items():
            if fields[name] == default:
                del fields[name]
        return fields


_COMPUTATION_DEFAULTS = {"attention_block": 0, "remat": False}
"""The fields that choose how the network is computed, at the values that compute it exactly as before."""


def init_params(config: ModelConfig, key: jax.Array, dtype=jnp.float32) -> dict:
    r"""Random weights: normal with std 0.02, output projections scaled by :math:`1/\sqrt{2L}`.

    The same ``key`` gives the same weights for every encoding (encodings have no weights),
    so models of one seed start identical and differ only through the encoding.

    >>> p = init_params(ModelConfig(d_model=16, n_layers=1, n_heads=2, head_dim=8), jax.random.PRNGKey(0))
    >>> p["layers"][0]["wq"].shape, p["embed"].dtype
    ((16, 16), dtype('float32'))
    """
    std = 0.02
    out_std = std / math.sqrt(2 * config.n_layers)
    width = config.n_heads * config.head_dim
    hidden = config.mlp_ratio * config.d_model
    keys = jax.random.split(key, 1 + config.n_layers)

    def normal(k, shape, scale):
        return scale * jax.random.normal(k, shape, dtype=dtype)

    layers = []
    for layer_key in keys[1:]:
        kq, kk, kv, ko, k1, k2 = jax.random.split(layer_key, 6)
        layers.append({
            "attn_norm": jnp.ones(config.d_model, dtype=dtype),
            "wq": normal(kq, (config.d_model, width), std),
            "wk": normal(kk, (config.d_model, width), std),
            "wv": normal(kv, (config.d_model, width), std),
            "wo": normal(ko, (width, config.d_model), out_std),
            "mlp_norm": jnp.ones(config.d_model, dtype=dtype),
            "w_in": normal(k1, (config.d_model, hidden), std),
            "w_out": normal(k2, (hidden, config.d_model), out_std),
        })
    return {
        "embed": normal(keys[0], (config.vocab_size, config.d_model), std),
        "layers": layers,
        "final_norm": jnp.ones(config.d_model, dtype=dtype),
    }


def rms_norm(x: jax.Array, scale: jax.Array, eps: float = 1e-6) -> jax.Array:
    r"""RMSNorm :math:`x / \sqrt{\mathrm{mean}(x^2) + \epsilon} \cdot s` over the last axis."""
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps) * _shapes.at_rank(scale, x.ndim)


def _visible(query_pos: jax.Array, key_pos: jax.Array) -> jax.Array:
    """The causal mask of queries at ``query_pos`` ``(T,)`` over keys at ``key_pos`` ``(B,)``: ``(T, B)``."""
    return key_pos[None, :] <= query_pos[:, None]


def _rescale(old_max: jax.Array, new_max: jax.Array) -> jax.Array:
    """The factor that moves sums taken against ``old_max`` onto ``new_max``: ``exp(old - new)``."""
    return jnp.exp(old_max - new_max)


def blockwise_causal_attention(q: jax.Array, k: jax.Array, v: jax.Array, block: int) -> jax.Array:
    r"""Causal softmax attention of ``q``, ``k``, ``v`` (each ``(T, heads, d)``) over key blocks of ``block``.

    :math:`o_i = \sum_{j \le i} e^{a_{ij} - m_i} v_j / \sum_{j \le i} e^{a_{ij} - m_i}` with
    :math:`a_{ij} = q_i \cdot k_j / \sqrt{d}`, accumulated block by block (``jax.lax.scan``) with a
    running maximum :math:`m_i`, a running sum and a running weighted value; each block rescales
    what came before by :math:`e^{m_\text{old} - m_\text{new}}` (the online softmax of Milakov &
    Gimelshein 2018, as in FlashAttention). Memory: ``(heads, T, block)`` scores at a time; the
    scan's body is rematerialised, so differentiating it keeps only the ``ceil(T / block)`` carries
    (``(heads, T, d + 2)`` each), never ``(T, T)``. ``T`` need not be a multiple of ``block``: the
    last block is padded with keys at positions ``>= T``, which the causal mask hides from every
    query. Result ``(T, heads, d)``, equal to the exact attention up to float32 rounding (the
    rescaling adds one rounding of relative size ``u`` per block to each weight).

    >>> x = jax.random.normal(jax.random.PRNGKey(0), (5, 2, 4))
    >>> exact = jnp.einsum("hij,jhd->ihd", jax.vmap(_attention.causal_softmax)(
    ...     jnp.einsum("ihd,jhd->hij", x, x) / 2.0), x)
    >>> bool(jnp.allclose(blockwise_causal_attention(x, x, x, 2), exact, atol=1e-6))
    True
    """
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be an integer >= 1, got {block!r}")
    seq_len, heads, width = q.shape
    n_blocks = -(-seq_len // block)
    pad = ((0, n_blocks * block - seq_len), (0, 0), (0, 0))
    key_blocks = jnp.pad(k, pad).reshape(n_blocks, block, heads, width)
    value_blocks = jnp.pad(v, pad).reshape(n_blocks, block, heads, width)
    starts = jnp.arange(n_blocks) * block
    query_pos = jnp.arange(seq_len)
    scale = math.sqrt(width)

    @jax.checkpoint
    def one_block(carry, blocks):
        running_max, running_sum, running_value = carry  # (H, T), (H, T), (H, T, d)
        keys, values, start = blocks
        scores = jnp.einsum("ihd,jhd->hij", q, keys) / scale  # (H, T, block)
        scores = jnp.where(_visible(query_pos, start + jnp.arange(block)), scores, -jnp.inf)
        # the result does not depend on the maximum (it cancels), so no gradient flows through it
        new_max = jax.lax.stop_gradient(jnp.maximum(running_max, scores.max(axis=-1)))
        weights = jnp.exp(scores - new_max[..., None])
        rescale = _rescale(running_max, new_max)
        running_sum = running_sum * rescale + weights.sum(axis=-1)
        running_value = running_value * rescale[..., None] + jnp.einsum("hij,jhd->hid", weights, values)
        return (new_max, running_sum, running_value), None

    # block 0 holds key 0, which every query sees, so every running maximum is finite after it
    start = (jnp.full((heads, seq_len), -jnp.inf, q.dtype), jnp.zeros((heads, seq_len), q.dtype),
             jnp.zeros((heads, seq_len, width), q.dtype))
    (_, total, value), _ = jax.lax.scan(one_block, start, (key_blocks, value_blocks, starts))
    return jnp.transpose(value / total[..., None], (1, 0, 2))


def _layer(h: jax.Array, layer: dict, config: ModelConfig, encoding, exact: bool) -> tuple[jax.Array, dict]:
    """One pre-norm block on the residual stream ``h`` ``(T, d_model)``: the new stream and its internals."""
    seq_len = h.shape[0]
    positions = np.arange(seq_len)[:, None]  # broadcasts over heads: (T, 1) against (T, H)
    x = rms_norm(h, layer["attn_norm"])
    q = (x @ layer["wq"]).reshape(seq_len, config.n_heads, config.head_dim)
    k = (x @ layer["wk"]).reshape(seq_len, config.n_heads, config.head_dim)
    v = (x @ layer["wv"]).reshape(seq_len, config.n_heads, config.head_dim)
    rq, rk = encoding.encode(q, positions), encoding.encode(k, positions)
    if exact:
        logits = jnp.einsum("ihd,jhd->hij", rq, rk) / math.sqrt(config.head_dim)
        weights = jax.vmap(_attention.causal_softmax)(logits)
        mixed = jnp.einsum("hij,jhd->ihd", weights, v).reshape(seq_len, -1)
        internals = {"q": q, "k": k, "weights": weights}
    else:
        mixed = blockwise_causal_attention(rq, rk, v, config.attention_block).reshape(seq_len, -1)
        internals = {"q": q, "k": k}
    h = h + mixed @ layer["wo"]
    x = rms_norm(h, layer["mlp_norm"])
    h = h + jax.nn.gelu(x @ layer["w_in"]) @ layer["w_out"]
    return h, internals


def _forward(params: dict, tokens: jax.Array, config: ModelConfig, encoding, exact: bool) -> tuple[jax.Array, list[dict]]:
    """Logits ``(T, vocab)`` and per-layer internals, with the exact attention or ``config``'s blockwise one."""
    h = params["embed"][tokens]
    if config.remat:
        h, internals = _rematerialised_layers(h, params["layers"], config, encoding, exact)
    else:
        internals = []
        for layer in params["layers"]:
            h, inside = _layer(h, layer, config, encoding, exact)
            internals.append(inside)
    h = rms_norm(h, params["final_norm"])
    return h @ params["embed"].T, internals


def _rematerialised_layers(h: jax.Array, layers: list[dict], config: ModelConfig, encoding,
                           exact: bool) -> tuple[jax.Array, list[dict]]:
    """The layers as one ``jax.lax.scan`` over their stacked weights with a :func:`jax.checkpoint`-ed body.

    Differentiating a scan keeps its body's residuals per iteration; the checkpointed body's residuals
    are its inputs, so the backward pass keeps each layer's input ``(T, d_model)`` and recomputes one
    layer at a time. (A Python loop of checkpointed layers leaves the recomputation's schedule to the
    compiler, which on XLA's CPU backend keeps every layer's activations anyway.) The stacked weights
    and their stacked gradient are one extra copy each of the layers' weights.
    """
    stacked = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *layers)

    @jax.checkpoint
    def one_layer(h, layer):
        return _layer(h, layer, config, encoding, exact)

    h, inside = jax.lax.scan(one_layer, h, stacked)
    return h, [jax.tree_util.tree_map(lambda x, i=i: x[i], inside) for i in range(len(layers))]


def forward_with_internals(
    params: dict, tokens: jax.Array, config: ModelConfig, encoding: PositionalEncoding | RotaryTables
) -> tuple[jax.Array, list[dict]]:
    """Next-token logits ``(T, vocab)`` and, per layer, the heads' internals.

    Each layer's dict holds ``q`` and ``k`` before the rotary map, shape ``(T, heads, d)``,
    and the causal attention ``weights``, shape ``(heads, T, T)``. Under ``jit`` the
    internals a caller does not use are not computed. The weights are the ``(T, T)`` square, so
    this function always computes the exact attention, whatever ``config.attention_block`` says
    (the blockwise attention is :func:`forward`'s and :func:`token_nll`'s, for training).
    """
    return _forward(params, tokens, config, encoding, exact=True)


def forward(params: dict, tokens: jax.Array, config: ModelConfig, encoding: PositionalEncoding | RotaryTables) -> jax.Array:
    """Next-token logits, shape ``(T, vocab)``, for one sequence of token ids ``(T,)``.

    >>> cfg = ModelConfig(d_model=16, n_layers=1, n_heads=2, head_dim=8)
    >>> p = init_params(cfg, jax.random.PRNGKey(0))
    >>> forward(p, jnp.arange(5), cfg, PositionalEncoding("rope")).shape
    (5, 256)
    """
    return _forward(params, tokens, config, encoding, exact=config.attention_block == 0)[0]


def token_nll(params: dict, tokens: jax.Array, config: ModelConfig, encoding: PositionalEncoding | RotaryTables) -> jax.Array:
    r"""Negative log-likelihood (nats) of ``tokens[1:]`` given their prefixes, shape ``(T-1,)``.

    :math:`-\log p(x_{t+1} \mid x_{\le t})` for ``t = 0 .. T-2``; perplexity is
    ``exp(mean)``. An untrained model (logits near 0) scores about ``log(256)`` per byte.

    >>> cfg = ModelConfig(d_model=16, n_layers=1, n_heads=2, head_dim=8)
    >>> p = init_params(cfg, jax.random.PRNGKey(0))
    >>> nll = token_nll(p, jnp.arange(6), cfg, PositionalEncoding("nope"))
    >>> nll.shape, bool(abs(float(nll.mean()) - math.log(256)) < 0.05)
    ((5,), True)
    """
    logits = forward(params, tokens[:-1], config, encoding)
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return -jnp.take_along_axis(log_probs, tokens[1:, None].astype(jnp.int32), axis=-1)[:, 0]
