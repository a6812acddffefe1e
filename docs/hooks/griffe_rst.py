"""Turn the reStructuredText bits of ropelab's docstrings into Markdown for the API pages.

The docstrings are written for doctest and for readers of the source: ``:math:`...``` roles,
``.. math::`` blocks, cross-reference roles (``:func:`...```) and bare ``>>>`` sessions. The
site renders Markdown with MathJax, so roles become ``\\( \\)``, blocks become ``\\[ \\]``,
references become code spans and each doctest session becomes a fenced ``pycon`` block.
"""

from __future__ import annotations

import re

import griffe

MATH_ROLE = re.compile(r":math:`([^`]+)`")
OTHER_ROLE = re.compile(r":(?:func|mod|class|meth|attr|data|obj|exc):`~?([^`]+)`")


def _math_block(lines: list[str], start: int) -> tuple[list[str], int]:
    """Rewrite the ``.. math::`` directive at ``lines[start]``; return its Markdown and the next index."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    body = [lines[start].strip()[len(".. math::"):].strip()]
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
        body.append(lines[end].strip())
        end += 1
    formula = " ".join(part for part in body if part)
    return [" " * indent + r"\[", " " * indent + formula, " " * indent + r"\]", ""], end


def _doctest_block(lines: list[str], start: int) -> tuple[list[str], int]:
    """Fence the doctest session starting at ``lines[start]`` (it ends at a blank line)."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    session = [line[indent:] if len(line) >= indent else line.strip() for line in lines[start:end]]
    return ["", " " * indent + "```pycon", *(" " * indent + s for s in session), " " * indent + "```", ""], end


def to_markdown(text: str) -> str:
    r"""The Markdown form of a ropelab docstring.

    >>> md = to_markdown("Angle :math:`g = \\theta^{-1}`, see :func:`rope`.\n\n" + ">" * 3 + " 1 + 1\n2")
    >>> print(md.split("\n")[0])
    Angle \(g = \theta^{-1}\), see `rope`.
    >>> md.split("\n")[3:7] == ["```pycon", ">" * 3 + " 1 + 1", "2", "```"]
    True
    """
    # Roles may wrap over lines, so they are rewritten on the whole text first.
    text = OTHER_ROLE.sub(r"`\1`", MATH_ROLE.sub(r"\\(\1\\)", text))
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith(".. math::"):
            block, i = _math_block(lines, i)
            out.extend(block)
        elif stripped.startswith(">>>"):
            block, i = _doctest_block(lines, i)
            out.extend(block)
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring once the object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None and not obj.is_alias:
            obj.docstring.value = to_markdown(obj.docstring.value)
