"""The architecture page's steps work as written: a throwaway claim goes through all five.

The page (``docs/architecture.md``) says how to add a claim in five steps, each naming a file.
This test reads those steps, checks that every file they name exists, and then follows them:
it writes a claim record in a new claim module, states its law as data, gives a construction
and a wrong variant, registers the module in ``MODULES`` and runs the claim through the runner
that ``ropelab verify`` uses. The construction must pass, the wrong variant must be rejected,
and a broken construction must fail the claim.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import textwrap
import types
from pathlib import Path

import pytest

from ropelab.checks import claims as claim_modules
from ropelab.checks import registry, runner

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"

THROWAWAY = textwrap.dedent('''
    """A throwaway concept: rotating a 2-vector by a then by b rotates it by a + b."""
    import numpy as np
    import sympy as sp

    from ropelab.theory.derivation import Derivation
    from ropelab.checks.claim import Claim, Shown, Symbolic, Trust, Variant
    from ropelab.checks.laws import Identity, Point, grid

    def _rotation(angle):
        c, s = np.cos(angle), np.sin(angle)
        return np.array([[c, -s], [s, c]])

    def _derive():
        a, b = sp.symbols("a b", real=True)
        rot = lambda t: sp.Matrix([[sp.cos(t), -sp.sin(t)], [sp.sin(t), sp.cos(t)]])
        residual = sp.simplify(sp.expand_trig(rot(a) * rot(b) - rot(a + b)))
        return Derivation("R(a) R(b) = R(a + b)", residual == sp.zeros(2, 2), ("expand and simplify",))

    def _check(compose, quick, rng):
        points = []
        for params in grid(a=rng.uniform(-10, 10, 4 if quick else 16), b=(0.5, -3.0, 7.0)):
            got = compose(params["a"], params["b"])
            want = _rotation(params["a"] + params["b"])
            points.append(Point(params, error=float(np.abs(got - want).max()), bound=64 * np.finfo(float).eps))
        return points

    THROWAWAY = Claim(
        id="throwaway_rotations_compose",
        label="beyond (architecture test)",
        section="architecture test",
        statement="Rotating by a then by b is rotating by a + b.",
        symbolic=Symbolic(_derive, Shown(Trust.PROVED, "all real a, b (symbolic)")),
        law=Identity("max entry error / 64 eps64"),
        check=_check,
        construction=Variant(lambda a, b: _rotation(a) @ _rotation(b), "the product of the two rotations"),
        wrong=Variant(lambda a, b: _rotation(a) @ _rotation(b).T, "the second rotation transposed (turns back)"),
        numeric=Shown(Trust.CHECKED, "4 random a in [-10, 10] x 3 b, float64"),
        tolerance_reason="a 2x2 product of rotations rounds each entry a few ulps from the exact one",
        explain=lambda: "R(a) R(b) = R(a + b).",
        seed=1,
    )

    CLAIMS = [THROWAWAY]
''')


def steps() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## Adding a claim in five steps", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\d\. (.+?)(?=^\d\. |\Z)", section, flags=re.M | re.S)


def test_the_page_has_five_steps_each_naming_existing_files():
    found = steps()
    assert len(found) == 5
    for step in found:
        paths = re.findall(r"`((?:checks|theory|constructions|tests|paper_figs)/[\w/.]+\.py)", step)
        assert paths or "claims/" in step, f"a step names no file: {step[:60]}"
        for path in paths:
            assert (ROOT / path).exists(), f"the architecture page names {path}, which does not exist"


@pytest.fixture
def throwaway(monkeypatch):
    """Steps 1-4: the record in a new module of checks/claims, registered in MODULES."""
    name = f"{claim_modules.__name__}._throwaway"
    module = types.ModuleType(name)
    exec(compile(THROWAWAY, "<throwaway claim module>", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(claim_modules, "MODULES", (*claim_modules.MODULES, "_throwaway"))
    return module


def test_a_throwaway_claim_goes_through_the_five_steps(throwaway):
    found = registry._discover()
    assert "throwaway_rotations_compose" in found
    assert list(found)[-1] == "throwaway_rotations_compose", "a registered module's claims come in MODULES order"
    result = runner.run_claim(found["throwaway_rotations_compose"], quick=True)
    assert result.status == "pass", result.error
    assert result.negative_rejected and result.residual <= result.tolerance


def test_a_broken_throwaway_construction_fails(throwaway):
    claim = registry._discover()["throwaway_rotations_compose"]
    broken = claim.construction.__class__(lambda a, b: throwaway._rotation(a + b + 1e-9), "off by 1e-9 rad")
    result = runner.run_claim(dataclasses.replace(claim, construction=broken), quick=True)
    assert result.status == "fail" and result.residual > result.tolerance
