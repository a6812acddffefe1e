"""``REGISTRY``: every claim of every module listed in :data:`ropelab.checks.claims.MODULES`, by id."""

from __future__ import annotations

import importlib

from . import claims as claim_modules
from .claim import Claim

__all__ = ["REGISTRY", "select"]


def _discover() -> dict[str, Claim]:
    found: dict[str, Claim] = {}
    for name in claim_modules.MODULES:
        module = importlib.import_module(f"{claim_modules.__name__}.{name}")
        for claim in getattr(module, "CLAIMS", []):
            if claim.id in found:
                raise ValueError(f"claim id {claim.id!r} is registered twice")
            found[claim.id] = claim
    return found


REGISTRY: dict[str, Claim] = _discover()


def select(ids: list[str] | None) -> list[Claim]:
    """The claims named by ``ids`` (all when empty), or ``KeyError`` naming the unknown ones."""
    if not ids:
        return list(REGISTRY.values())
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise KeyError(", ".join(unknown))
    return [REGISTRY[i] for i in ids]
