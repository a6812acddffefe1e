"""SymPy side of ropelab: statements, derivations and closed forms. Imports only SymPy and mpmath."""
