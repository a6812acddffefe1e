"""The registry's table of contents as data: the id, paper label, section and statement of every claim.

``ropelab list`` reads :data:`INDEX_FILE` instead of importing the claim modules (which bring JAX,
SymPy and SciPy), so it starts in a fraction of a second. The file is derived from the registry
and never edited by hand: ``python -m ropelab.checks.claims_index`` writes it, and a test rebuilds
it from :data:`ropelab.checks.registry.REGISTRY` and fails on any difference (a claim added,
removed, reordered or reworded).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["build", "load"]

INDEX_FILE = Path(__file__).with_name("data") / "claims_index.json"


@dataclass(frozen=True)
class Entry:
    """One line of the table of contents."""

    id: str
    label: str
    section: str
    statement: str


def build(claims: Any) -> list[Entry]:
    """The entries of ``claims`` (the registry's values), in the registry's order."""
    return [Entry(c.id, c.label, c.section, c.statement) for c in claims]


def load(path: Path = INDEX_FILE) -> list[Entry]:
    """The stored entries; a missing or malformed file is a ``ValueError`` naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Entry(**entry) for entry in data["claims"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a claims index ({err}); write it with python -m ropelab.checks.claims_index") from None


def write(path: Path = INDEX_FILE) -> Path:
    """Write the index of the current registry (atomically)."""
    from .atomic import write_text_atomically
    from .registry import REGISTRY

    payload = {"claims": [asdict(e) for e in build(REGISTRY.values())]}
    return write_text_atomically(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    print(write())
