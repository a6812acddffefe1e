"""ropelab: symbolic and numeric checks of what rotary positional encodings can do.

The subpackages are ``ropelab.theory`` (SymPy), ``ropelab.constructions`` (JAX),
``ropelab.checks`` (the claim registry and the ``ropelab`` command) and
``ropelab.paper_figs`` (figures). Importing any of them has no side effects: 64-bit JAX
is switched on by the command line and the test suite, not here.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ropelab")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["catalogue", "cli", "extras"]
