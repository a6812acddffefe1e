"""Each layer names its public surface: ``__all__`` in every package and every module of the layers.

A layer package's ``__init__`` lists its public submodules (those whose names do not start with
an underscore) and what it defines itself; every module lists the names other code may use. The
rule that keeps the lists honest: any name that another file of the repository (a module, a
figure, a test, an example, a benchmark, the site's hook) imports from a ropelab module, or reads
as ``module.name``, is in that module's ``__all__`` or starts with an underscore. The site's API
pages are generated from these lists (mkdocstrings documents ``__all__``).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# source folder -> the dotted package it installs as (pyproject's package-dir)
FOLDERS = {"theory": "ropelab.theory", "constructions": "ropelab.constructions", "checks": "ropelab.checks",
           "paper_figs": "ropelab.paper_figs", "ropelab": "ropelab"}
READERS = ("theory", "constructions", "checks", "paper_figs", "ropelab", "tests", "examples", "benchmarks", "docs")


def layer_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def dotted(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts[1:])
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([FOLDERS[rel.parts[0]], *parts])


MODULES = {dotted(p): p for p in layer_files()}


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    if path.relative_to(ROOT).parts[0] not in FOLDERS:
        return node.module or ""
    package = dotted(path) if path.name == "__init__.py" else dotted(path).rsplit(".", 1)[0]
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def uses_in(path: Path) -> list[tuple[str, str, int]]:
    """``(module, name, line)`` for each name of a ropelab module that ``path`` imports or reads as an attribute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: dict[str, str] = {}  # local name -> ropelab module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(path, node)
            if target not in MODULES:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:  # a submodule, bound as a name
                    bound[alias.asname or alias.name] = sub
                    if MODULES[target].name == "__init__.py":
                        found.append((target, alias.name, node.lineno))
                elif alias.name != "*":
                    found.append((target, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    bound[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            module = bound[node.value.id]
            if f"{module}.{node.attr}" not in MODULES:
                found.append((module, node.attr, node.lineno))
        # getattr(module, "name"), monkeypatch.setattr(module, "name", ...)
        elif (isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[0], ast.Name)
              and node.args[0].id in bound and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str) and node.args[1].value.isidentifier()):
            module = bound[node.args[0].id]
            if f"{module}.{node.args[1].value}" not in MODULES:
                found.append((module, node.args[1].value, node.lineno))
    return [(m, n, line) for m, n, line in found if MODULES.get(m) != path]


def reader_files() -> list[Path]:
    return sorted(p for folder in READERS for p in (ROOT / folder).rglob("*.py") if ".venv" not in p.parts)


def declared(path: Path) -> list[str] | None:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


def defined(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def public_submodules(init: Path) -> list[str]:
    folder = init.parent
    subs = [p.stem for p in folder.glob("*.py") if p.stem != "__init__"]
    subs += [p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    return sorted(s for s in subs if not s.startswith("_"))


def undeclared_uses(files: list[Path]) -> list[str]:
    problems = []
    lists = {module: declared(path) or [] for module, path in MODULES.items()}
    for path in files:
        for module, name, line in uses_in(path):
            if not name.startswith("_") and name not in lists[module]:
                problems.append(f"{path.relative_to(ROOT)}:{line} uses {module}.{name}, not in its __all__")
    return problems


@pytest.mark.parametrize("path", layer_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_layer_module_declares_its_public_names(path):
    names = declared(path)
    assert names is not None, f"{path.relative_to(ROOT)} has no __all__"
    assert names == sorted(set(names)), "__all__ is sorted, without repeats"
    missing = [n for n in names if n not in defined(path) and f"{dotted(path)}.{n}" not in MODULES]
    assert not missing, f"__all__ names what the module does not define: {missing}"
    if path.name == "__init__.py":
        subs = public_submodules(path)
        assert set(subs) <= set(names), f"public submodules missing from __all__: {sorted(set(subs) - set(names))}"


def test_every_name_used_across_files_is_public():
    assert undeclared_uses(reader_files()) == []


def test_a_planted_use_of_an_undeclared_name_is_caught(tmp_path):
    planted = ROOT / "tests" / "_planted_surface.py"
    text = "from ropelab.constructions import frequencies\nfrom ropelab.constructions.rotary import not_public\n" \
           "frequencies.also_not_public(1)\n"
    try:
        planted.write_text(text, encoding="utf-8")
        found = undeclared_uses([planted])
    finally:
        planted.unlink()
    assert any("ropelab.constructions.rotary.not_public" in p for p in found)
    assert any("ropelab.constructions.frequencies.also_not_public" in p for p in found)


@pytest.mark.parametrize("package", [m for m, p in MODULES.items() if p.name == "__init__.py"])
def test_a_package_imports_what_it_declares(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert hasattr(module, name) or importlib.import_module(f"{package}.{name}")
