"""Figures and tables: one module per figure, each with ``render(out_dir) -> list[Path]``.

``FIGURES`` maps a figure's name (its module name) to its ``render`` function; the
``ropelab figs`` command and the tests use it. Every file is written atomically.
:func:`draw_figures` returns the matplotlib figures themselves, and :func:`layout_problems`
says what in one would look broken to a reader (text off the canvas, texts overlapping).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path

from . import _style

__all__ = [
    "FIGURES",
    "draw_figures",
    "fig2_decay",
    "fig8_random_positions",
    "fig9_fixed_gaussian",
    "frequency_spectra",
    "gemma_head_norms",
    "gemma_head_types",
    "gemma_layer_norms",
    "gemma_logit_tables",
    "gemma_positional_heads",
    "head_norm_vs_band",
    "keeping_figures",
    "layout_problems",
    "logit_drift",
    "near_returns",
    "nope_vs_rope_optimisation",
    "positional_construction",
    "positional_heads",
    "rotated_key_argmax",
    "semantic_range",
    "table1_properties",
    "table2_training",
]


def _discover() -> dict[str, Callable[[Path], list[Path]]]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "render"):
            found[info.name] = module.render
    return found


FIGURES: dict[str, Callable[[Path], list[Path]]] = _discover()


def draw_figures(out_dir: str | Path, names: list[str] | None = None) -> dict[str, list]:
    """Render the named figures (all by default) into ``out_dir`` and return their open matplotlib figures.

    A figure module may draw several figures; each is listed under the module's name. The
    caller closes them (``matplotlib.pyplot.close``) when done; ``layout_problems`` inspects one.
    """
    chosen = list(FIGURES) if names is None else list(names)
    drawn: dict[str, list] = {}
    with _style.keeping_figures() as kept:
        for name in chosen:
            start = len(kept)
            FIGURES[name](Path(out_dir))
            drawn[name] = [fig for _, fig in kept[start:]]
    return drawn


layout_problems = _style.layout_problems
keeping_figures = _style.keeping_figures
