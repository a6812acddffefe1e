"""The configuration zoo (SPEC §7): what each real RoPE schedule means for semantic and positional use.

For one :class:`~ropelab.constructions.configs.RopeConfig` at its context length ``L``:

- **unbroken channels**: pairs whose breaking context against an anti-aligned rival of equal
  norm (:func:`ropelab.theory.semantic_channels.semantic_range`, ~ pi/(2g)) exceeds ``L``;
  unrotated pairs never break;
- **lowest channel breaks at**: that breaking context for the slowest *rotating* pair;
- **critical pairs**: rotating pairs whose wavelength 2 pi/g is at most ``L`` (they turn at
  least once); for an unscaled full schedule also ``i* = (d/2) log_theta(L/2pi)``;
- **cheapest top-band head**: the smallest ``s^2`` for which the Thm 5.3 diagonal head on the
  16 fastest rotating pairs (equal weights) has ``min_i alpha_ii >= 1 - 0.01`` over ``L``
  tokens (bisection on the exact weights), and the query norm ``s``.
"""

from __future__ import annotations

import functools
import json
import math
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ropelab.checks import tolerances
from ropelab.constructions import semantic_channels, configs
from ropelab.theory import base_bounds as th_base
from ropelab.theory import semantic_channels as th_sc

__all__ = [
    "HEAD_BAND",
    "HEAD_EPS",
    "PARITY_FILE",
    "base_shape",
    "base_to_keep",
    "hf_parity",
    "hf_parity_of",
    "layer_parity",
    "load_configs",
    "men_base",
    "summarise",
    "verdict",
]

HEAD_BAND = 16
HEAD_EPS = 0.01


def load_configs(path: str | Path, context: int | None = None) -> list[configs.RopeConfig]:
    """Read ``path`` (``.toml``, or JSON otherwise) with :func:`ropelab.constructions.configs.parse_configs`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read config file {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"config file {path} is not text (a JSON, TOML or HF config.json is expected)") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {err}") from None
    return configs.parse_configs(data, path.stem if path.name != "config.json" else path.parent.name or "config", str(path),
                         context)


@dataclass(frozen=True)
class ZooRow:
    name: str
    rope: str
    head_dim: int
    context: int
    rotating_pairs: int
    unrotated_pairs: int
    fastest: float
    slowest: float
    attention_factor: float
    unbroken_channels: int
    slowest_breaks_at: float
    slowest_turns: float
    critical_pairs: int
    critical_index: float | None
    head_scale_sq: float
    head_norm: float
    searched_break: int | None = None
    search_limit: int | None = None
    sequence_length: int | None = None  # tokens the model reads; context is what this layer type sees
    window: int | None = None
    layers: int | None = None
    layout: str = "half"

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def summarise(config: configs.RopeConfig, search_limit: int | None = None) -> ZooRow:
    """One row of the zoo table for ``config`` at ``config.context`` (the span its layer type sees:
    the sliding window or attention chunk where it has one; the schedule of ``dynamic`` and
    ``longrope`` is taken at the sequence length).

    With ``search_limit``, the slowest rotating channel is also searched by brute force
    (:func:`ropelab.constructions.semantic_channels.breaking_context`, streamed) up to that many tokens.

    >>> row = summarise(configs.ZOO_BY_NAME["Gemma 7B"])
    >>> row.unbroken_channels, row.slowest_breaks_at, row.critical_pairs, round(row.head_scale_sq, 1)
    (9, 14619, 100, 23.6)
    """
    freqs, attention = config.schedule()
    rotating = freqs[freqs > 0]
    ranges = np.array([th_sc.semantic_range(float(g)) for g in freqs])
    slowest = float(rotating.min()) if rotating.size else 0.0
    critical = int(np.sum(configs.wavelengths(rotating) <= config.context))
    p = config.parameters
    standard = (config.rotary and p.get("rope_type", "default") == "default"
                and p.get("partial_rotary_factor", 1.0) in (1.0, None))
    index = float(th_base.critical_pair_index(config.head_dim, p["rope_theta"], config.context)) if standard else None
    band = semantic_channels.top_band(freqs, HEAD_BAND)
    if band.size:
        curve = semantic_channels.diagonal_head_curve(freqs, band, config.context)
        scale_sq = semantic_channels.cheapest_scale_sq(curve, HEAD_EPS)
    else:
        scale_sq = math.inf
    searched = None
    if search_limit is not None and rotating.size:
        found = semantic_channels.breaking_context(slowest, math.pi, limit=search_limit)
        searched = found.context if found is not None else None
    return ZooRow(
        name=config.name, rope=config.rope_label(), head_dim=config.head_dim, context=config.context,
        rotating_pairs=int(rotating.size), unrotated_pairs=int(freqs.size - rotating.size),
        fastest=float(rotating.max()) if rotating.size else 0.0, slowest=slowest, attention_factor=attention,
        unbroken_channels=int(np.sum(ranges > config.context)),
        slowest_breaks_at=th_sc.semantic_range(slowest) if rotating.size else math.inf,
        slowest_turns=config.context * slowest / (2 * math.pi), critical_pairs=critical, critical_index=index,
        head_scale_sq=scale_sq, head_norm=math.sqrt(scale_sq), searched_break=searched, search_limit=search_limit,
        sequence_length=config.tokens, window=config.window, layers=config.layers, layout=config.layout,
    )


PARITY_FILE = Path(__file__).resolve().parents[1] / "data" / "hf_rope_parity.json"


@dataclass(frozen=True)
class ParityRow:
    """One layer type of one real model: ropelab's schedule against transformers' rotary class."""

    model: str
    row: str
    frequency_error: float  # worst relative error of the inverse frequencies / its float32 bound
    rotation_error: float  # worst |cos - cos_hf|, |sin - sin_hf| / its float32 bound
    attention_error: float  # |attention factor - HF's|
    agrees: bool


def hf_parity(path: Path | None = None) -> list[ParityRow]:
    """Compare every stored real-model vector (``checks/data/hf_rope_parity.json``) with ropelab.

    Each stored model keeps its ``config.json`` as transformers saves it and, per layer type,
    what the model's own rotary embedding class computes in float32: ``inv_freq``, the
    attention scaling and cos/sin at a few positions (the last is the sequence length - 1,
    which sets ``dynamic`` and ``longrope``). ropelab reads the config with
    :func:`~ropelab.constructions.configs.parse_configs` and must agree within float32 bounds
    derived from the effective base ``1/g_min`` (:func:`ropelab.checks.tolerances.peer_frequencies`
    and :func:`~ropelab.checks.tolerances.peer_rotation`). Needs neither torch nor transformers.

    >>> rows = hf_parity()
    >>> len({r.model for r in rows}) >= 20, all(r.agrees for r in rows)
    (True, True)
    """
    return hf_parity_of(json.loads((path or PARITY_FILE).read_text()))


DERIVED_FIELDS = ("layer_types", "no_rope_layers")
"""Fields transformers' config classes derive when a config.json lacks them (older files do)."""


def layer_parity(model: str, config: dict, layers: list) -> list[ParityRow]:
    """ropelab's per-layer reading (:func:`~ropelab.constructions.configs.layer_plan`) against transformers':
    once on the config as saved, once with the derived fields removed (as an older config.json has it).
    Each row's errors are the number of layers read differently."""
    expected = [(str(t), bool(rope)) for t, rope in layers]
    cfg = configs.text_config(config)
    out = []
    for row, variant in (("layers as saved", cfg), ("layers derived", {k: v for k, v in cfg.items()
                                                                     if k not in DERIVED_FIELDS})):
        try:
            ours = configs.layer_plan(variant, model)
        except ValueError:  # refusing a config without the derived fields is allowed; refusing it as saved is not
            out.append(ParityRow(model, f"{row} (refused)", 0.0, 0.0, 0.0, row == "layers derived"))
            continue
        wrong = sum(a != b for a, b in zip(ours, expected)) + abs(len(ours) - len(expected))
        out.append(ParityRow(model, row, float(wrong), float(wrong), 0.0, wrong == 0))
    return out


def hf_parity_of(data: dict) -> list[ParityRow]:
    """:func:`hf_parity` on an already parsed parity document (``{"models": {...}}``)."""
    out = []
    for model, entry in data["models"].items():
        if "layers" in entry:  # per layer: its type and whether it applies RoPE, as transformers builds the model
            out.extend(layer_parity(model, entry["config"], entry["layers"]))
        parsed = {c.name: c for c in configs.parse_configs(entry["config"], model)}
        if set(parsed) != set(entry["rows"]):
            raise ValueError(f"{model}: ropelab reads layer types {sorted(parsed)}, the file has {sorted(entry['rows'])}")
        for name, ref in entry["rows"].items():
            config = parsed[name]
            if not ref["rotary"]:
                out.append(ParityRow(model, name, 0.0, 0.0, 0.0, not config.rotary))
                continue
            ours, attention = config.schedule()
            inv = np.asarray(ref["inv_freq"])
            if inv.size > ours.size:  # ropelab reads a smaller head than the rotary class uses
                out.append(ParityRow(model, name, math.inf, math.inf, math.inf, False))
                continue
            rotating = inv[inv > 0]
            effective_base = float(1.0 / rotating.min()) if rotating.size else math.e
            rel = np.abs(ours[: inv.size] - inv) / np.where(inv == 0, 1.0, inv)
            frequency = float(rel.max()) / tolerances.peer_frequencies(effective_base, np.float32).value
            angle = np.multiply.outer(np.asarray(ref["positions"], dtype=np.float64), ours[: inv.size])
            worst = max(float(np.max(np.abs(attention * np.cos(angle) - np.asarray(ref["cos"])))),
                        float(np.max(np.abs(attention * np.sin(angle) - np.asarray(ref["sin"])))))
            bound = tolerances.peer_rotation(effective_base, np.float32, float(angle.max()), max(attention, 1.0))
            rotation = worst / bound.value
            att = abs(attention - ref["attention_scaling"])
            agrees = (frequency <= 1.0 and rotation <= 1.0 and bool(np.all(ours[inv.size:] == 0))
                      and att <= 4 * tolerances.EPS64 * max(1.0, attention))
            out.append(ParityRow(model, name, frequency, rotation, att, agrees))
    return out


# ---------------------------------------------------------------- the answer: is the base large enough?

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
