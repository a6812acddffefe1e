"""The ``ropelab`` command (the app layer): verify, list, explain, figs, zoo, report and the rest.

:func:`main` is the console script; each command group lives in its own module and registers
itself on :data:`ropelab.cli.app.app`.
"""

from .app import main

__all__ = [
    "analyze_model",
    "app",
    "bench",
    "conform",
    "errata",
    "experiment",
    "main",
    "precision",
    "render",
    "report",
    "zoo",
]
