"""The record a symbolic derivation returns: what was shown, whether it holds, and the steps."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

__all__ = ["Derivation", "combine", "derive", "is_zero"]


@dataclass(frozen=True)
class Derivation:
    """Outcome of a SymPy derivation.

    ``holds`` is True only when every step reduced to a checked identity or inequality;
    ``steps`` are human-readable lines (each a statement SymPy confirmed), shown by
    ``ropelab explain``.
    """

    statement: str
    holds: bool
    steps: tuple[str, ...] = field(default_factory=tuple)


def is_zero(expr: sp.Expr | sp.MatrixBase) -> bool:
    """True when SymPy proves ``expr`` (scalar or matrix) is identically zero.

    Tries ``simplify`` and, for trigonometric expressions, ``expand_trig`` before giving up;
    "could not prove" is reported as False, never as True.

    >>> a, b = sp.symbols("a b", real=True)
    >>> is_zero(sp.sin(a + b) - sp.sin(a) * sp.cos(b) - sp.cos(a) * sp.sin(b))
    True
    >>> is_zero(sp.sin(a) - sp.cos(a))
    False
    """
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    attempts = (
        # cheapest first: trigonometric identities become polynomial identities in e^{ix}
        lambda e: sp.expand(e.rewrite(sp.exp)),
        sp.simplify,
        lambda e: sp.simplify(sp.expand_trig(sp.expand(e))),
        lambda e: sp.simplify(sp.expand(e.rewrite(sp.exp))),
    )
    for entry in entries:
        entry = sp.sympify(entry)
        if entry == 0:
            continue
        if not any(attempt(entry) == 0 for attempt in attempts):
            return False
    return True


def derive(statement: str, facts: list[tuple[str, sp.Expr | sp.MatrixBase]]) -> Derivation:
    """Check that each ``(description, residual)`` reduces to zero, in order, and collect the steps.

    Later steps build on earlier ones (a sum identity on its summand identity), so after the
    first step that is not proved the rest are listed as not attempted: SymPy spends far
    longer failing to simplify a nonzero expression than proving a zero one.

    >>> x = sp.Symbol("x", real=True)
    >>> derive("cos^2 + sin^2 = 1", [("residual", sp.cos(x)**2 + sp.sin(x)**2 - 1)]).holds
    True
    >>> derive("two steps", [("wrong", sp.sin(x)), ("right", x - x)]).steps
    ('NOT proved: wrong', 'not attempted (an earlier step failed): right')
    """
    steps, holds = [], True
    for description, residual in facts:
        if not holds:
            steps.append(f"not attempted (an earlier step failed): {description}")
            continue
        holds = is_zero(residual)
        steps.append(f"{'proved' if holds else 'NOT proved'}: {description}")
    return Derivation(statement=statement, holds=holds, steps=tuple(steps))


def combine(statement: str, parts: list[Derivation],
            facts: list[tuple[str, sp.Expr | sp.MatrixBase]] = ()) -> Derivation:
    """One derivation from several: it holds when every part and every extra fact holds.

    >>> x = sp.Symbol("x", real=True)
    >>> one = derive("a", [("x - x = 0", x - x)])
    >>> combine("a and b", [one], [("x + 1 = 0", x + 1)]).holds
    False
    """
    extra = derive(statement, list(facts))
    steps = tuple(line for part in parts for line in part.steps) + extra.steps
    return Derivation(statement=statement, holds=all(part.holds for part in parts) and extra.holds, steps=steps)
