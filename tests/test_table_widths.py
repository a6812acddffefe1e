"""Every table reads at 60 to 200 columns: no line is wider, ids and numbers never split."""

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from ropelab.checks.claim import ClaimResult
from ropelab.checks.findings import table2
from ropelab.checks.registry import REGISTRY
from ropelab.cli import app as cli
from ropelab.cli import bench, experiment

WIDTHS = (60, 80, 120, 150, 200)  # 150: what piped output gets
NUMBER = re.compile(r"[-+]?\d+\.\d+(?:e[-+]\d+)?x?")


def render(renderables, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    for renderable in renderables:
        console.print(renderable)
    return console.export_text().splitlines()


def assert_readable(lines: list[str], width: int, whole: list[str]) -> None:
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, too_wide
    for token in whole:
        assert any(token in line for line in lines), f"{token!r} is split or missing at {width} columns"


def results():
    """One record per registered claim, with numbers of the widths verify prints."""
    return [ClaimResult(id=c.id, label=c.label, status="pass", symbolic=True, residual=1.234e-15 * (i + 1),
                        tolerance=4.5e-12, worst_point={}, negative_residual=1.0, negative_rejected=True,
                        seconds=12.5 * i, shown=(c.symbolic.shown if c.symbolic else c.numeric).line())
            for i, c in enumerate(REGISTRY.values())]


@pytest.mark.parametrize("width", WIDTHS)
def test_verify_table(width):
    rs = results()
    lines = render([cli.verify_table(rs, "ropelab verify --quick")], width)
    numbers = [f"{r.residual:.2e}" for r in rs] + [f"{r.tolerance:.2e}" for r in rs] + [f"{r.seconds:.1f}" for r in rs]
    # "shown" may wrap, but into lines that can be read: its first 30 characters stay together
    assert_readable(lines, width, [r.id for r in rs] + numbers + ["rejected"] + [r.shown[:30] for r in rs])


@pytest.mark.parametrize("width", WIDTHS)
def test_list_table(width):
    lines = render([cli.claims_table(REGISTRY.values())], width)
    assert_readable(lines, width, list(REGISTRY))


@pytest.mark.parametrize("width", (*WIDTHS, 100))
def test_explain_table2_tables(width):
    """Every column reaches the reader at every width (150 is what piped output gets): each word
    of every header and cell, verdicts included, is printed whole."""
    header, rows = table2.table_rows(table2.load_results())
    lines = render(experiment.fitted_tables(header, rows), width)
    numbers = [n for row in rows for cell in row[1:] for n in NUMBER.findall(cell)]
    assert numbers
    words = [word for cell in [*header, *(c for row in rows for c in row)] for word in cell.split()]
    assert_readable(lines, width, numbers + words)


def test_explain_table2_tables_planted_crop():
    """The check above sees a dropped column: one plain rich table of every column at 100 columns loses the last."""
    from rich.table import Table

    header, rows = table2.table_rows(table2.load_results())
    crowded = Table(*header)
    for row in rows:
        crowded.add_row(*row)
    lines = render([crowded], 100)
    with pytest.raises(AssertionError):
        assert_readable(lines, 100, [word for row in rows for word in row[-1].split()])


@pytest.mark.parametrize("width", WIDTHS)
def test_bench_summary_table(width):
    line = {"ours": "logit_curve", "baseline": "NumPy rotate-every-key", "ours_s": 0.01518, "baseline_s": 0.5062,
            "ratio": 33.35, "throughput": "1.32e+06 dist/s", "target": ">= 20x, error <= baseline's", "met": True}
    table = bench.summary_table([{"workload": "W1 logit curve", "summary": [line, {**line, "met": False}]}], True)
    lines = render([table], width)
    assert_readable(lines, width, ["0.01518", "0.5062", "33.4x", "1.32e+06", "NO"])


def test_the_renderer_picks_the_first_layout_that_fits():
    """Columns where they fit, then merged cells, then tables side by side, then stacked fields."""
    from rich.table import Table
    from rich.padding import Padding

    from ropelab.cli.render import Column, tabular

    columns = [Column("model"), *(Column(f"field {i}") for i in range(6))]
    rows = [["Llama 3.1 8B", *(f"5,118,39{i}" for i in range(6))]]
    plain = tabular(columns, rows)
    merged = tabular(columns, rows, merged=(("model", (0,)), ("fields 0 to 5", (1, 2, 3, 4, 5, 6))))
    kinds = {width: [type(part) for part in plain.layout(width)] for width in (200, 60, 20)}
    assert kinds[200] == [Table]  # one column per field
    assert len(kinds[60]) > 1 and set(kinds[60]) == {Table}  # side by side, led by the model
    assert Padding in kinds[20]  # stacked under the model
    assert [type(part) for part in merged.layout(40)] == [Table] and len(merged.layout(40)[0].columns) == 2
    for width in (200, 60, 40, 20):
        assert_readable(render([plain], width), width, ["5,118,390", "5,118,395", "Llama"])
