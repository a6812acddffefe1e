"""Every docstring example in the package runs and gives what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import ropelab

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(ropelab.__path__, "ropelab.")
    if not info.name.endswith("cli")
)
for sub in ("theory", "constructions", "checks", "paper_figs"):
    package = importlib.import_module(f"ropelab.{sub}")
    MODULES += sorted(i.name for i in pkgutil.walk_packages(package.__path__, f"ropelab.{sub}.") if not i.name.endswith("cli"))
MODULES = sorted(set(MODULES))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
