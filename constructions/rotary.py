r"""The rotary map :math:`x \mapsto R^i x`: rotate each coordinate pair by ``position * freq``.

Pair ``m`` is ``(x[m], x[m + d/2])`` in the ``"half"`` layout (HF transformers, GPT-NeoX,
Gemma) and ``(x[2m], x[2m+1])`` in the ``"interleaved"`` layout (Meta's reference Llama).
Each pair turns counter-clockwise by :math:`\rho(a)`, ``a = position * freqs[m]``:

.. math:: (x_1, x_2) \mapsto (x_1\cos a - x_2\sin a,\; x_1\sin a + x_2\cos a).

Angles are formed in float64 from exact integer positions (at position 10^7 a float32 angle
is already off by about a radian); the rotated vector comes back in the input's dtype.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import frequencies as _freqs
from . import shapes as _shapes
from . import validation as _v

__all__ = [
    "angles",
    "apply",
    "cos_sin",
    "layout_permutation",
    "pair_indices",
    "partial_rotary",
    "rotate",
    "rotate_prefix",
    "rotation_matrix",
]


def pair_indices(d: int, layout: str = "half") -> tuple[np.ndarray, np.ndarray]:
    """Coordinates ``(first, second)`` of each pair ``m = 0 .. d/2-1`` in a layout.

    >>> pair_indices(6, "half")
    (array([0, 1, 2]), array([3, 4, 5]))
    >>> pair_indices(6, "interleaved")
    (array([0, 2, 4]), array([1, 3, 5]))
    """
    d = _v.head_dim(d)
    layout = _v.layout(layout)
    m = np.arange(d // 2)
    if layout == "half":
        return m, m + d // 2
    return 2 * m, 2 * m + 1


def layout_permutation(d: int, source: str = "half", target: str = "interleaved") -> np.ndarray:
    """Index array ``perm`` with ``x_target = x_source[perm]`` for the same pairs.

    Rotating ``x_source`` in the source layout and permuting equals permuting first and
    rotating in the target layout (claim ``layouts_agree_up_to_permutation``).

    >>> layout_permutation(6)
    array([0, 3, 1, 4, 2, 5])
    """
    src_first, src_second = pair_indices(d, source)
    tgt_first, tgt_second = pair_indices(d, target)
    perm = np.empty(d, dtype=np.int64)
    perm[tgt_first] = src_first
    perm[tgt_second] = src_second
    return perm


def angles(positions: object, freqs: object) -> np.ndarray | jax.Array:
    """Float64 angles ``positions[..., None] * freqs``, shape ``(*positions.shape, d/2)``.

    Concrete positions give a NumPy float64 array regardless of JAX's x64 setting. Traced
    positions (inside ``jit``) need ``jax_enable_x64``: without it the product would be
    float32 and lose the phase at long positions, so that case raises instead.

    >>> angles([0, 2], [1.0, 0.5])
    array([[0., 0.],
           [2., 1.]])
    """
    g = _v.frequency_vector(freqs)
    pos = _v.positions(positions)
    if _v.is_traced(pos):
        if not jax.config.jax_enable_x64:
            raise ValueError(
                "positions are traced under jit but jax_enable_x64 is off: angles must be "
                "float64; enable x64 or pass concrete positions"
            )
        return pos.astype(jnp.float64)[..., None] * jnp.asarray(g, dtype=jnp.float64)
    return np.multiply.outer(pos.astype(np.float64), g)


@functools.partial(jax.jit, static_argnames=("layout",))
def rotate(x: jax.Array, cos: jax.Array, sin: jax.Array, layout: str = "half") -> jax.Array:
    """Rotate the pairs of ``x`` (shape ``(..., d)``) by angles with the given cos and sin.

    ``cos`` and ``sin`` have shape ``(..., d/2)`` and broadcast against ``x``'s batch shape.
    This is the one place where the rotation's sign convention lives. Compiled once per
    shape and layout (eagerly, each of its few operations would compile separately).
    """
    d = x.shape[-1]
    # The angles may carry more (or fewer) batch axes than x: align ranks as NumPy would.
    x, cos, sin = _shapes.same_rank(x, cos, sin)
    if _v.layout(layout) == "half":
        x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    else:
        x1, x2 = x[..., 0::2], x[..., 1::2]
    y1 = (x1 * cos - x2 * sin).astype(x.dtype)
    y2 = (x1 * sin + x2 * cos).astype(x.dtype)
    if layout == "half":
        return jnp.concatenate([y1, y2], axis=-1)
    return jnp.stack([y1, y2], axis=-1).reshape(y1.shape[:-1] + (d,))


def apply(x: object, positions: object, freqs: object, layout: str = "half") -> jax.Array:
    r"""RoPE: :math:`R^{i} x`, each pair ``m`` rotated by ``positions * freqs[m]``.

    Shapes: ``x`` is ``(..., d)``, ``positions`` is any shape that broadcasts with
    ``x.shape[:-1]``, ``freqs`` is ``(d/2,)``. The result has the broadcast shape and ``x``'s
    dtype. Reference: Su et al. (2021), Barbero et al. (2025) Eq. 3.

    >>> import numpy as np
    >>> y = apply(np.array([1.0, 0.0]), [0, 1], [np.pi / 2])
    >>> np.round(np.asarray(y), 6).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    _v.keeps_float64(x, "rotary.apply")
    layout = _v.layout(layout)
    _v.finite_vector(x, "x")
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"x must have a floating dtype, got {x.dtype}")
    g = _v.frequency_vector(freqs)
    d = _v.head_dim(x.shape[-1], "x.shape[-1]")
    if 2 * g.size != d:
        raise ValueError(f"freqs must have length d/2 = {d // 2} for x.shape[-1] = {d}, got {g.size}")
    cos, sin = cos_sin(angles(positions, g), x.dtype)
    return rotate(x, cos, sin, layout)


def cos_sin(a: np.ndarray | jax.Array, dtype: object) -> tuple[jax.Array, jax.Array]:
    """The cosine and sine of float64 angles ``a``, each rounded once to ``dtype``.

    NumPy angles (concrete positions) are evaluated in float64 NumPy; traced ones in float64
    under ``jit``. Shapes are ``a``'s. The cosine of pi/2 keeps its float64 size (6e-17);
    evaluated in float32 it would be -4e-08.

    >>> [v.tolist() for v in cos_sin(np.array([0.0, np.pi / 2]), np.float32)]
    [[1.0, 6.123234262925839e-17], [0.0, 1.0]]
    """
    if isinstance(a, np.ndarray):
        return jnp.asarray(np.cos(a), dtype=dtype), jnp.asarray(np.sin(a), dtype=dtype)
    return jnp.cos(a).astype(dtype), jnp.sin(a).astype(dtype)


def partial_rotary(x: object, positions: object, d_rot: int, theta: float = 10_000.0) -> jax.Array:
    r"""GPT-NeoX / HF ``partial_rotary_factor`` RoPE: rotate only the first ``d_rot`` coordinates.

    The prefix is rotated in the half layout *of the prefix* (pairs ``(m, m + d_rot/2)``)
    with the whole schedule re-spread over it, :math:`\theta^{-2m/d_{rot}}`; coordinates
    ``d_rot ..`` pass through. This is not p-RoPE (claim
    ``p_rope_equals_partial_rotary_with_scaled_base``).

    >>> import numpy as np
    >>> y = partial_rotary(np.ones(4), [1], 2, 100.0)
    >>> np.round(np.asarray(y), 4).tolist()
    [[-0.3012, 1.3818, 1.0, 1.0]]
    """
    _v.keeps_float64(x, "rotary.partial_rotary")
    _v.finite_vector(x, "x")
    x = jnp.asarray(x)
    d = _v.head_dim(x.shape[-1], "x.shape[-1]")
    d_rot = _v.head_dim(d_rot, "d_rot")
    if d_rot > d:
        raise ValueError(f"d_rot must be an even integer in [2, d={d}], got {d_rot}")
    cos, sin = cos_sin(angles(positions, _freqs.rope(d_rot, theta)), x.dtype)
    return rotate_prefix(x, cos, sin)


def rotate_prefix(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """Rotate the first ``d_rot = 2 * cos.shape[-1]`` coordinates of ``x`` (shape ``(..., d)``)
    in the prefix's own half layout; coordinates ``d_rot ..`` pass through.

    ``cos`` and ``sin`` have shape ``(..., d_rot/2)`` and broadcast against ``x``'s batch shape;
    the result has the broadcast shape. The rotation step of :func:`partial_rotary`, for angles
    formed ahead of time.

    >>> y = rotate_prefix(jnp.ones(4), jnp.array([0.0]), jnp.array([1.0]))
    >>> y.tolist()
    [-1.0, 1.0, 1.0, 1.0]
    """
    d_rot = 2 * cos.shape[-1]
    prefix = rotate(x[..., :d_rot], cos, sin, "half")
    rest = jnp.broadcast_to(x[..., d_rot:], prefix.shape[:-1] + (x.shape[-1] - d_rot,))
    return jnp.concatenate([prefix, rest], axis=-1)


def rotation_matrix(position: int, freqs: object, layout: str = "half") -> np.ndarray:
    r"""The ``d x d`` float64 matrix :math:`R^{i}` (block-diagonal up to the layout's permutation).

    For teaching and tests; the rotary map never builds it. ``apply(x, i, freqs)`` equals
    ``rotation_matrix(i, freqs) @ x``.

    >>> rotation_matrix(1, [np.pi / 2]).round(6).tolist()
    [[0.0, -1.0], [1.0, 0.0]]
    """
    g = _v.frequency_vector(freqs)
    pos = _v.positions(position, "position")
    if pos.ndim != 0:
        raise ValueError(f"position must be a single integer, got shape {pos.shape}")
    d = 2 * g.size
    first, second = pair_indices(d, layout)
    a = float(pos) * g
    mat = np.zeros((d, d), dtype=np.float64)
    mat[first, first] = np.cos(a)
    mat[first, second] = -np.sin(a)
    mat[second, first] = np.sin(a)
    mat[second, second] = np.cos(a)
    return mat
