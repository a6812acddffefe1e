"""Figures and tables: one module per figure, each with ``render(out_dir) -> list[Path]``.

``FIGURES`` maps a figure's name (its module name) to its ``render`` function; the
``ropelab figs`` command and the tests use it. Every file is written atomically.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path


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
