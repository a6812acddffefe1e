"""The zoo's verdicts: is a configuration's base large enough for its context?

For one layer type at its context, :func:`verdict` says how many channels survive by Thm 6.1's
breaking context and which bases would meet the criterion by Thm 6.1, by the critical-index
rule (:func:`base_to_keep`) and by Men et al.'s cosine-sum bound (:func:`men_base`). The base
rules apply to schedules :math:`g_m = \\theta^{-2m/D}/f` (:func:`base_shape`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ropelab.constructions import configs

from ropelab.checks.findings.zoo import ZooRow

__all__ = ["base_shape", "base_to_keep", "men_base", "verdict"]

BASE_RULE_TYPES = ("default", "linear", "proportional")
"""Rope types whose schedule is :math:`g_m = \\theta^{-2m/D}/f`: the base rules below apply to them."""
MEN_LIMIT = 1 << 20
"""Longest context for which Men et al.'s bound is scanned (the scan visits every distance up to it)."""


@dataclass(frozen=True)
class BaseShape:
    """A schedule :math:`g_m = \\theta^{-2m/D}/f` for ``m < rotating``, plus ``unrotated`` pairs at 0."""

    exponent_width: int  # D
    rotating: int
    unrotated: int
    factor: float


def base_shape(config: configs.RopeConfig) -> BaseShape | None:
    """The shape of ``config``'s schedule where the base rules apply (``None``: another rope type or NoPE).

    >>> base_shape(configs.ZOO_BY_NAME["Gemma 4 global"])
    BaseShape(exponent_width=512, rotating=64, unrotated=192, factor=1.0)
    """
    p = config.parameters
    kind = p.get("rope_type", "default")
    if not config.rotary or kind not in BASE_RULE_TYPES:
        return None
    freqs, _ = config.schedule()
    rotating = int(np.sum(freqs > 0))
    width = config.head_dim if kind == "proportional" else 2 * rotating
    return BaseShape(width, rotating, config.head_dim // 2 - rotating, float(p.get("factor", 1.0)))


def base_to_keep(shape: BaseShape, context: int, keep: int, rule: str) -> float:
    r"""Smallest base with at least ``keep`` channels surviving ``context`` tokens under ``rule``.

    ``"thm6.1"``: a channel survives while its breaking context :math:`\lfloor\pi/(2g) + 3/2\rfloor + 1`
    exceeds ``N``, i.e. :math:`g \le \pi / (2(N - 3/2))`; ``"critical"`` (the critical-index rule): a pair
    survives while it does not complete a turn, :math:`2\pi/g > N`. The ``keep - unrotated``-th slowest
    rotating pair ``m`` must qualify: :math:`\theta \ge (X f^{-1})^{D/(2m)}`; 0 where unrotated pairs
    suffice, ``inf`` where no base does (pair 0 rotates at :math:`1/f` whatever the base).

    >>> shape = base_shape(configs.ZOO_BY_NAME["Llama 2 7B"])
    >>> round(base_to_keep(shape, 4096, 1, "critical")), round(base_to_keep(shape, 4096, 1, "thm6.1"))
    (723, 2953)
    """
    needed = keep - shape.unrotated
    if needed <= 0:
        return 0.0
    m = shape.rotating - needed
    if m <= 0:
        return math.inf
    if rule == "critical":
        x = context / (2 * math.pi * shape.factor)
    elif rule == "thm6.1":
        x = 2 * (context - 1.5) / (math.pi * shape.factor)
    else:
        raise ValueError(f"rule must be 'critical' or 'thm6.1', got {rule!r}")
    return max(x, 1.0) ** (shape.exponent_width / (2 * m))


@functools.lru_cache(maxsize=64)
def men_base(d: int, context: int, step: float = 0.1, refine: int = 6) -> float:
    r"""Smallest base :math:`\theta` with Men et al.'s cosine sum :math:`B_\theta(r) = \sum_m \cos(r\theta^{-2m/d})
    \ge 0` for every :math:`r \le N`, on a geometric grid of ratio :math:`e^{step}` from the critical-index base
    up, then ``refine`` bisection steps against its infeasible neighbour (the feasible set is a union of
    islands; this is the left edge of the first one the grid meets). Needs 64-bit JAX (the CLI's default).

    >>> base = men_base(128, 1024)   # a finer scan finds the island at 4290 that this grid steps over
    >>> round(base, -1), bool(base_bounds_negative_free(base, 128, 1024))
    (6030.0, True)
    """
    from ropelab.constructions import base_bounds

    start = max(2.0, base_to_keep(BaseShape(d, d // 2, 0, 1.0), context, 1, "thm6.1") / 2)
    batch = 8
    bad = start
    for first in range(0, 2000, batch):
        grid = start * np.exp(step * np.arange(first, first + batch))
        feasible = base_bounds.first_negative_distance(grid, d, context) < 0
        if feasible.any():
            hit = int(np.argmax(feasible))
            good = float(grid[hit])
            bad = float(grid[hit - 1]) if hit else bad
            for _ in range(refine):
                mid = math.sqrt(good * bad)
                if base_bounds.first_negative_distance(np.array([mid]), d, context)[0] < 0:
                    good = mid
                else:
                    bad = mid
            return good
        bad = float(grid[-1])
    return math.inf


def base_bounds_negative_free(theta: float, d: int, context: int) -> bool:
    """Whether Men et al.'s cosine sum stays non-negative for every distance up to ``context`` at base ``theta``."""
    from ropelab.constructions import base_bounds

    return bool(base_bounds.first_negative_distance(np.array([theta]), d, context)[0] < 0)


def verdict(row: ZooRow, config: configs.RopeConfig, keep: int = 1, men: bool = True) -> str:
    """One sentence for one layer type at its context: channels surviving by Thm 6.1, the criterion
    (at least ``keep`` channels; default the slowest), and the bases that meet it, each with its rule."""
    n, half = row.context, row.head_dim // 2
    where = f"{n:,} tokens" + (f" of its window (in a sequence of {row.sequence_length:,})" if row.window else "")
    criterion = "the slowest channel survives" if keep == 1 else f"at least {keep} channels survive"
    head = f"{row.name}" + (f" ({row.layers} layers)" if row.layers else "")
    if not config.rotary:
        return (f"{head}: no RoPE, so all {half} channels are position-free over {where}; '{criterion}' is met "
                "whatever the base.")
    met = row.unbroken_channels >= keep
    text = (f"{head}: {row.unbroken_channels} of {half} channels survive the whole {where} by Thm 6.1's breaking "
            f"context (the slowest rotating one breaks at {_count(row.slowest_breaks_at)}), so '{criterion}' is "
            f"{'met' if met else 'NOT met'}")
    shape = base_shape(config)
    theta = config.parameters.get("rope_theta")
    if shape is None:
        return text + (f"; the base rules are stated for theta^(-2m/d) schedules and {row.rope} is not one, so no "
                       "base is given.")
    thm = base_to_keep(shape, n, keep, "thm6.1")
    critical = base_to_keep(shape, n, keep, "critical")
    text += (f"; its base is {_base(theta)}, and the criterion takes {_at_least(thm)} by Thm 6.1's breaking context, "
             f"{_at_least(critical)} by the critical-index rule (no full turn within the context)")
    kind = config.parameters.get("rope_type", "default")
    if not men:
        return text + "."
    if kind != "default" or shape.unrotated or shape.factor != 1.0:
        return text + f"; Men et al.'s bound is stated for plain full RoPE, not {row.rope}."
    if n > MEN_LIMIT:
        return text + f"; Men et al.'s bound is not scanned beyond {MEN_LIMIT:,} tokens."
    return text + (f"; Men et al.'s bound (cosine sum sum_m cos(r theta^(-2m/d)) >= 0 for every r <= {n:,}) first "
                   f"holds at base {_base(men_base(shape.exponent_width, n))} on a grid of ratio e^0.1 (the bases where it holds "
                   "form islands, so some larger ones fail it).")


def _count(x: float) -> str:
    return "never" if not math.isfinite(x) else f"{int(x):,} tokens"


def _at_least(x: float) -> str:
    return "any base" if x == 0 else "no base (the fastest pair turns whatever the base)" if not math.isfinite(x) \
        else f"a base >= {_base(x)}"


def _base(x: float | None) -> str:
    if x is None:
        return "-"
    if not math.isfinite(x):
        return "no base (the fastest pair turns whatever the base)"
    if x == 0:
        return "any base"
    return f"{x:.3g}".replace("e+0", "e").replace("e+", "e")
