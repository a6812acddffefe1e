"""The one way a command prints a table: laid out when printed, for the width it is printed at.

A table is a title, columns and rows of cells (:class:`Tabular`). Printing it measures every
cell and picks the first layout in which no word of any cell (an id, a number, a name) has to
be split and nothing is cropped:

1. one column per field, each column at least as wide as its longest word (and as its
   ``readable`` width, for prose that needs room);
2. the caller's merged columns (``merged``): several fields share one cell, one field a line;
3. several tables side by side in reading order, each led again by the key column;
4. stacked: each row is its key cell on a line of its own, then ``field: value`` pieces,
   several to a line while they fit, indented under it.

Widths are computed here, not left to rich, so that a table never folds a word or crops a
column (rich shrinks columns below their longest word when a table is too wide).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ["Column", "Tabular", "table_width", "tabular", "words"]

Cell = str | Text

STACK_INDENT = 2
"""Stacked layout: the fields of a row stand this many columns right of its key."""
FIELD_GAP = "   "
"""Stacked layout: what separates two ``field: value`` pieces on one line."""


@dataclass(frozen=True)
class Column:
    """One field of a table: its header, alignment and the width its prose needs to be read.

    ``readable`` is a floor for wrapping prose (a statement read four words to a line is not
    read); ids and numbers need none, since no column is ever narrower than its longest word.
    ``whole``: each line of a cell stays on one line (a name searched for as printed).
    """

    header: str
    justify: str = "left"
    readable: int = 0
    whole: bool = False


def words(text: str) -> list[str]:
    """The pieces a cell may be wrapped between: its whitespace-separated words.

    >>> words("default (Llama 2), 1,000,000")
    ['default', '(Llama', '2),', '1,000,000']
    """
    return text.split()


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _text(cell: Cell) -> Text:
    return cell.copy() if isinstance(cell, Text) else Text(str(cell))


def _joined(cells: Sequence[Cell], separator: str) -> Text:
    parts = [_text(c) for c in cells if _plain(c)]
    return Text(separator).join(parts)


def table_width(widths: Sequence[int]) -> int:
    """Columns wide a table is with these column widths: padding 1 on each side, a rule between
    columns and one on each edge.

    >>> table_width([10, 5])
    22
    """
    return sum(widths) + 3 * len(widths) + 1


class Tabular:
    """A table to print: ``columns``, ``rows`` (one cell per column), a ``title``.

    ``merged`` lists ``(header, [column indices])``: the narrower layout in which those fields
    share a cell. ``key`` is the column that names a row (it leads split tables and stacked
    blocks). ``split=False`` skips the side-by-side tables (when a row only reads whole).
    """

    def __init__(self, columns: Sequence[Column | str], rows: Iterable[Sequence[Cell]], title: str = "",
                 merged: Sequence[tuple[str, Sequence[int]]] | None = None, key: int = 0, split: bool = True):
        self.columns = [c if isinstance(c, Column) else Column(c) for c in columns]
        self.rows = [list(row) for row in rows]
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row has {len(row)} cells for {len(self.columns)} columns: {row!r}")
            if not all(isinstance(cell, (str, Text)) for cell in row):
                raise ValueError(f"cells must be str or rich Text (format numbers first), got {row!r}")
        self.title, self.merged, self.key, self.split = title, merged, key, split

    # -- what the table holds (the width checks read it) --

    def cells(self) -> list[str]:
        """Every cell and every header but the key column's (which the stacked layout leaves out), as plain text."""
        headers = [c.header for i, c in enumerate(self.columns) if i != self.key]
        return headers + [_plain(cell) for row in self.rows for cell in row]

    # -- measuring --

    @staticmethod
    def _measure(header: str, cells: Sequence[Cell], readable: int, whole: bool = False) -> tuple[int, int]:
        """(narrowest, natural) width of a column: its longest word (or ``readable``, if its
        longest line is longer; its longest cell line if ``whole``), and its longest line."""
        texts = [header] + [_plain(c) for c in cells]
        lines = [line for text in texts for line in text.splitlines()] or [""]
        natural = max(cell_len(line) for line in lines)
        longest_word = max((cell_len(w) for text in texts for w in words(text)), default=0)
        if "\n" in header:  # a header set in lines keeps them
            longest_word = max([longest_word] + [cell_len(line) for line in header.splitlines()])
        if whole:
            longest_word = max([longest_word] + [cell_len(line) for c in cells for line in _plain(c).splitlines()])
        return max(longest_word, min(readable, natural)), natural

    @staticmethod
    def _widths(measures: Sequence[tuple[int, int]], width: int) -> list[int] | None:
        """Column widths that fit ``width``, giving what is left over to the columns that
        wrap in proportion to what they lack; ``None`` when the narrowest widths do not fit."""
        narrowest = [m[0] for m in measures]
        natural = [m[1] for m in measures]
        room = width - table_width([0] * len(measures))
        if sum(natural) <= room:
            return natural
        if sum(narrowest) > room:
            return None
        spare = room - sum(narrowest)
        lacking = [n - m for m, n in zip(narrowest, natural)]
        total = sum(lacking)
        widths = [m + spare * lack // total for m, lack in zip(narrowest, lacking)]
        for i in sorted(range(len(widths)), key=lambda i: -lacking[i]):  # the rounding's remainder
            if sum(widths) >= room:
                break
            if widths[i] < natural[i]:
                widths[i] += 1
        return widths

    def _grid(self, headers: Sequence[str], columns: Sequence[Sequence[Cell]], justify: Sequence[str],
              widths: Sequence[int], title: str, lines: bool = False) -> Table:
        table = Table(title=Text(title) if title else None, box=box.HEAVY_HEAD, padding=(0, 1), show_lines=lines)
        for header, width, just in zip(headers, widths, justify):
            table.add_column(Text(header), width=width, justify=just, overflow="fold")
        for r in range(len(self.rows)):
            table.add_row(*(_text(col[r]) for col in columns))
        return table

    def _columns_layout(self, width: int) -> Table | None:
        cols = [[row[i] for row in self.rows] for i in range(len(self.columns))]
        measures = [self._measure(c.header, cells, c.readable, c.whole) for c, cells in zip(self.columns, cols)]
        widths = self._widths(measures, width)
        if widths is None:
            return None
        return self._grid([c.header for c in self.columns], cols, [c.justify for c in self.columns], widths,
                          self.title)

    def _merged_layout(self, width: int) -> Table | None:
        if not self.merged:
            return None
        headers, cols, measures = [], [], []
        for header, members in self.merged:
            cells = [_joined([row[i] for i in members], "\n") for row in self.rows]
            readable = max(self.columns[i].readable for i in members)
            headers.append(header)
            cols.append(cells)
            measures.append(self._measure(header, cells, readable))
        widths = self._widths(measures, width)
        if widths is None:
            return None
        return self._grid(headers, cols, ["left"] * len(headers), widths, self.title, lines=True)

    def _split_layout(self, width: int) -> list[Table] | None:
        if not self.split or len(self.columns) < 3:
            return None
        cols = [[row[i] for row in self.rows] for i in range(len(self.columns))]
        measures = [self._measure(c.header, cells, c.readable, c.whole) for c, cells in zip(self.columns, cols)]
        others = [i for i in range(len(self.columns)) if i != self.key]
        if any(self._widths([measures[self.key], measures[i]], width) is None for i in others):
            return None
        groups: list[list[int]] = [[]]
        for i in others:
            if groups[-1] and self._widths([measures[j] for j in (self.key, *groups[-1], i)], width) is None:
                groups.append([])
            groups[-1].append(i)
        tables = []
        for n, group in enumerate(groups):
            members = [self.key, *group]
            widths = self._widths([measures[j] for j in members], width)
            tables.append(self._grid([self.columns[j].header for j in members], [cols[j] for j in members],
                                     [self.columns[j].justify for j in members], widths, self.title if n == 0 else ""))
        return tables

    def _stacked_layout(self, width: int) -> list:
        room = max(width - STACK_INDENT, 1)
        parts: list = []
        if self.title:
            parts.append(Text(self.title, style="bold"))
        for row in self.rows:
            parts.append(Text.assemble(_text(row[self.key]).copy(), style="bold"))
            lines: list[tuple[Text, int, bool]] = []  # (line, indent, more pieces may join it)
            for i, column in enumerate(self.columns):
                value = _plain(row[i])
                if i == self.key or not value.strip():
                    continue
                header = " ".join(column.header.split())
                cell = _text(row[i])
                if "\n" in value:  # one item a line in a table, "; " between items here
                    cell = Text("; ").join([Text(line.strip(), style=cell.style) for line in value.splitlines()
                                           if line.strip()])
                piece = Text.assemble((f"{header}: ", "dim"), cell)
                if cell_len(piece.plain) > room:  # a long field: its name, then its text under it
                    lines += [(Text(f"{header}:", style="dim"), STACK_INDENT, False), (cell, 2 * STACK_INDENT, False)]
                elif lines and lines[-1][2] and \
                        cell_len(lines[-1][0].plain) + len(FIELD_GAP) + cell_len(piece.plain) <= room:
                    lines[-1][0].append(FIELD_GAP)
                    lines[-1][0].append_text(piece)
                else:
                    lines.append((piece, STACK_INDENT, True))
            parts.extend(Padding(line, (0, 0, 0, indent)) for line, indent, _ in lines)
        return parts

    def layout(self, width: int) -> list:
        """The renderables that print this table at ``width`` columns (first layout that fits)."""
        for attempt in (self._columns_layout, self._merged_layout):
            table = attempt(width)
            if table is not None:
                return [table]
        return self._split_layout(width) or self._stacked_layout(width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.layout(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(options.max_width, max((cell_len(w) for c in self.cells() for w in words(c)),
                                                      default=1)), options.max_width)


def tabular(columns: Sequence[Column | str], rows: Iterable[Sequence[Cell]], title: str = "", **options) -> Tabular:
    """A table that lays itself out for the width it is printed at (:class:`Tabular`).

    >>> import io
    >>> from rich.console import Console
    >>> t = tabular(["model", "context"], [["Llama 3.1 8B", "5,118,393"]], title="zoo")
    >>> out = Console(width=20, file=io.StringIO(), color_system=None, record=True)
    >>> out.print(t)
    >>> "5,118,393" in out.export_text()
    True
    """
    return Tabular(columns, rows, title, **options)
