"""Head types on a real model by stated criteria, and which frequency band decides each type's attention.

Every decided row of a head (a row with at least two readable keys, from row 2 on) has a
winner, the key with the largest logit. A row is *diagonal* (winner ``i``), *previous-token*
(``i - 1``), *BOS* (``0``) or *content* (any other key). Criteria, applied in this order to
the rows of all prompts pooled:

- ``diagonal`` / ``previous_token``: at least :data:`SHARE` of the rows have that winner;
- ``content``: at least :data:`CONTENT_ROWS` of the rows are content rows and, when the query
  is moved :data:`SHIFT` tokens further from every key (the same vectors; a rotary
  counterfactual, :func:`ropelab.constructions.attribution.shift_keep_rate`), at least
  :data:`KEEP` of those rows keep their winner: the head chooses by content, not distance;
- ``bos_sink``: at least :data:`SHARE` of the rows have BOS as winner;
- ``mixed``: none of these.

Each row's margin (winner over runner-up) is split exactly over the frequency pairs
(:mod:`ropelab.constructions.attribution`); a head's band shares are the shares of its summed
margin over the rows of its own type.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ropelab.constructions import attribution as at
from ropelab.checks.findings.models import capture_records as cr
from ropelab.checks.findings.models import capture_validation as cv

__all__ = [
    "CONTENT_ROWS",
    "KEEP",
    "SHIFT",
    "TYPES",
    "TYPE_ROWS",
    "apostrophe_head",
    "band_shares",
    "classify",
    "closest_content_heads",
    "keyed_tokens",
    "measure",
    "row_kinds",
]

SHARE = 0.5
CONTENT_ROWS = 0.15
SHIFT = 16
KEEP = 0.8
ROW_KINDS = ("diagonal", "previous_token", "bos", "content")
TYPES = ("diagonal", "previous_token", "content", "bos_sink", "mixed")
TYPE_ROWS = {"diagonal": "diagonal", "previous_token": "previous_token", "content": "content", "bos_sink": "bos"}


def row_kinds(rows: np.ndarray, winner: np.ndarray) -> np.ndarray:
    """Name each decided row by its winner: diagonal, previous_token, bos or content.

    >>> row_kinds(np.array([2, 3, 4, 5]), np.array([2, 2, 0, 1])).tolist()
    ['diagonal', 'previous_token', 'bos', 'content']
    """
    return np.where(winner == rows, "diagonal", np.where(winner == rows - 1, "previous_token",
                    np.where(winner == 0, "bos", "content")))


@dataclass
class HeadRows:
    """One head on one prompt: its decisions, the kind of each row, and whether a shift kept it."""

    decisions: at.Decisions
    kinds: np.ndarray
    kept: np.ndarray


def head_rows(cap: cr.Capture, layer: int, head: int, shift: int = SHIFT) -> HeadRows:
    """Decisions of one head on one capture, with the shift test per row."""
    schedule = cap.schedules[layer]
    mask = cv.attention_mask(cap.n_tokens, schedule.sliding_window)
    q, k = cap.queries[layer, head], cap.keys_for_query_heads(layer)[head]
    base = at.decisions(at.pair_logits(q, k, schedule.freqs), mask)
    moved = at.decisions(at.pair_logits(q, k, schedule.freqs, query_positions=np.arange(cap.n_tokens) + shift), mask)
    return HeadRows(base, row_kinds(base.rows, base.winner), base.winner == moved.winner)


def measure(captures: Mapping[str, cr.Capture]) -> dict[str, dict[tuple[int, int], HeadRows]]:
    """``{prompt: {(layer, head): HeadRows}}`` for every head of every capture."""
    out = {}
    for name, cap in captures.items():
        L, H = cap.queries.shape[:2]
        out[name] = {(l, h): head_rows(cap, l, h) for l in range(L) for h in range(H)}
    return out


def classify(measured: Mapping[str, Mapping[tuple[int, int], HeadRows]]) -> dict[tuple[int, int], dict]:
    """Each head's type by the module's criteria, with the pooled row shares behind it."""
    heads = next(iter(measured.values())).keys()
    out = {}
    for key in heads:
        kinds = np.concatenate([m[key].kinds for m in measured.values()])
        kept = np.concatenate([m[key].kept[m[key].kinds == "content"] for m in measured.values()])
        shares = {kind: float(np.mean(kinds == kind)) for kind in ROW_KINDS}
        keep = float(kept.mean()) if kept.size else float("nan")
        if shares["diagonal"] >= SHARE:
            kind = "diagonal"
        elif shares["previous_token"] >= SHARE:
            kind = "previous_token"
        elif shares["content"] >= CONTENT_ROWS and keep >= KEEP:
            kind = "content"
        elif shares["bos"] >= SHARE:
            kind = "bos_sink"
        else:
            kind = "mixed"
        out[key] = {"layer": key[0], "head": key[1], "type": kind, "row_shares": shares,
                    "content_keep_rate": keep, "rows": int(kinds.size)}
    return out


def band_shares(rows: HeadRows, kind: str) -> dict[str, float] | None:
    """Band shares of the summed margin over the rows of ``kind``; ``None`` without such rows."""
    pick = rows.kinds == kind
    if not pick.any():
        return None
    margin = float(rows.decisions.margin[pick].sum())
    return {band: float(v.sum()) / margin for band, v in at.band_sums(rows.decisions.terms[pick]).items()}


def keyed_tokens(captures: Mapping[str, cr.Capture], measured, key: tuple[int, int], top: int = 5) -> list[list]:
    """The tokens a head's content rows pick most often: ``[[token, count], ...]``."""
    counts: collections.Counter = collections.Counter()
    for name, cap in captures.items():
        rows = measured[name][key]
        counts.update(cap.tokens[j] for j in rows.decisions.winner[rows.kinds == "content"])
    return [[token, int(n)] for token, n in counts.most_common(top)]


def closest_content_heads(types: Mapping[tuple[int, int], dict], count: int = 3) -> list[tuple[int, int]]:
    """Heads typed ``content``, else the ``count`` heads with content rows whose winners best survive the shift."""
    found = [k for k, v in types.items() if v["type"] == "content"]
    if found:
        return found
    candidates = [k for k, v in types.items() if v["row_shares"]["content"] >= CONTENT_ROWS and v["type"] != "previous_token"
                  and v["type"] != "diagonal"]
    return sorted(candidates, key=lambda k: -types[k]["content_keep_rate"])[:count]


def apostrophe_head(captures: Mapping[str, cr.Capture], measured, types: Mapping[tuple[int, int], dict],
                    mark: str = "'") -> dict | None:
    """The head closest to the paper's apostrophe head (Figs 7, 12, 17): most content rows that pick ``mark``.

    Counts, over all prompts, the content rows whose winner token is ``mark``, as a share of the
    rows where such a token is readable; ``None`` when no prompt holds the mark.
    """
    best = None
    for key in types:
        hits = readable = 0
        for name, cap in captures.items():
            marks = np.asarray([t == mark for t in cap.tokens])
            rows = measured[name][key]
            has = np.asarray([marks[: i + 1].any() for i in rows.decisions.rows], dtype=bool)
            readable += int(has.sum())
            hits += int(np.sum((rows.kinds == "content") & marks[rows.decisions.winner]))
        if readable and (best is None or hits / readable > best["share"]):
            best = {"layer": key[0], "head": key[1], "type": types[key]["type"], "share": hits / readable,
                    "rows_with_the_mark": readable, "content_keep_rate": types[key]["content_keep_rate"]}
    return best
