"""Lemma A.1: no nonzero multiple of a frequency is a whole number of turns."""


import mpmath
import numpy as np

from ropelab.checks.laws import judge
from ropelab.checks.claims import full_turns as claims_turns
from ropelab.theory import diophantine


def test_lemma_check_rejects_a_rational_number_of_turns():
    with mpmath.workdps(diophantine.DIGITS):
        g = 2 * mpmath.pi / 7
    assert diophantine.closest_return(g, 100).n == 7
    evidence = judge(claims_turns.LEMMA.law, claims_turns.LEMMA.check(lambda: [g], True, np.random.default_rng(0)))
    assert not evidence.passed
