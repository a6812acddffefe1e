r"""App C on a model with one base in every layer: the band onset against a fixed onset frequency.

App C says the high-norm band begins near a fixed *frequency*, so that a larger base begins it
at a lower pair *index*. Comparing bases needs layers (or models of one family) with two bases;
in a model with one base everywhere that comparison cannot be made. What can be measured is the
premise itself: if the onset frequency is fixed, the paper's two onsets (Gemma 7B, base
:math:`10^4`, onset at pair :math:`0.8\,d/2`; Llama 3, base :math:`5\cdot10^5`, onset at pair
40 of 64) carried over to this model's base predict where its band begins:

.. math:: i_{\text{pred}} = \frac{d}{2}\,\frac{\ln(1/g_{\text{onset}})}{\ln\theta},
   \qquad g_{\text{onset}} \in \{10^{4\cdot(-0.8)},\ (5\cdot10^5)^{-40/64}\}.

The substitute finding holds if the token-bootstrap 95% interval of the median layer onset lies
within :math:`P/8` pairs of the predicted range (``P = d/2``).
"""

from __future__ import annotations

import math

import numpy as np

from ropelab.checks.findings.finding import Finding

__all__ = ["fixed_frequency_onset", "onset_frequency", "predicted_index"]

PAPER_ONSETS = {  # (base, onset pair index, pairs) as printed in App C
    "Gemma 7B": (1e4, 0.8 * 128, 128),
    "Llama 3": (5e5, 40.0, 64),
}
DECIDES_IT = ("layers (or same-size models of one family) with two different bases, measured alike: Gemma 3's local "
              "(1e4) and global (1e6) layers, or one checkpoint retrained at a second base")


def onset_frequency(index: float, theta: float, pairs: int) -> float:
    """Frequency ``theta^(-index / pairs)`` of pair ``index`` in a ``pairs``-pair schedule.

    >>> round(onset_frequency(102.4, 1e4, 128), 6)
    0.000631
    """
    return float(theta ** (-index / pairs))


def predicted_index(frequency: float, theta: float, pairs: int) -> float:
    """Pair index at which a ``pairs``-pair schedule with base ``theta`` reaches ``frequency``.

    >>> round(predicted_index(onset_frequency(102.4, 1e4, 128), 1e5, 32), 2)
    20.48
    """
    return float(pairs * math.log(1.0 / frequency) / math.log(theta))


def fixed_frequency_onset(point: np.ndarray, boot: np.ndarray, theta: float, pairs: int) -> Finding:
    """Substitute for App C's base comparison on a one-base model.

    ``point`` is each layer's onset ``(L,)``, ``boot`` the same under token-bootstrap weights
    ``(B, L)``; ``theta`` the model's single base and ``pairs`` ``d/2``.
    """
    if not np.all(np.isfinite(point)) or not np.all(np.isfinite(boot)):
        raise ValueError("band onsets must be finite")
    predicted = {name: predicted_index(onset_frequency(i, base, p), theta, pairs) for name, (base, i, p) in PAPER_ONSETS.items()}
    lo_pred, hi_pred = min(predicted.values()), max(predicted.values())
    median = float(np.median(point))
    medians = np.median(boot, axis=1)
    lo, hi = float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))
    slack = pairs / 8
    gap = 0.0 if lo_pred <= median <= hi_pred else min(abs(median - lo_pred), abs(median - hi_pred))
    holds = bool(lo >= lo_pred - slack and hi <= hi_pred + slack)
    return Finding(
        id="larger_base_starts_band_at_lower_pair_index", label="App C",
        paper_statement=("The high-norm band begins near a fixed frequency (Gemma 7B, theta=1e4: pair 0.8 d/2; Llama 3, "
                         "theta=5e5: pair 40 of 64), so a larger base begins it at a lower pair index."),
        measured=(f"substitute (one base, theta={theta:g}, in every layer): the median layer onset (first pair where the "
                  "8-pair moving average of the logit-budget profile reaches half its range) against the index at which "
                  f"this base reaches the paper's two onset frequencies ({lo_pred:.1f}-{hi_pred:.1f} of {pairs} pairs)"),
        holds=holds,
        statistic="substitute: median onset minus the nearest fixed-frequency prediction, in pairs (0 inside the range)",
        value=float(gap if median >= lo_pred else -gap),
        uncertainty=(f"median onset {median:.1f} of {pairs} pairs, 95% token-bootstrap interval [{lo:.1f}, {hi:.1f}]; "
                     f"predicted {lo_pred:.1f}-{hi_pred:.1f}; what would decide the base comparison itself: {DECIDES_IT}"),
        rule=f"holds if the interval lies within P/8 = {slack:g} pairs of the predicted range",
        details={"substitute": True, "decides_it": DECIDES_IT, "predicted": predicted, "median_onset": median,
                 "ci95": [lo, hi], "onsets": point.tolist(), "theta": theta,
                 "onset_frequency": onset_frequency(median, theta, pairs)},
    )

