"""The command line's contract, checked on every command the app registers (found by walking
the app, so a new command is checked the day it is added):

* its output reads at 60 to 200 columns: no word of any table cell (an id, a number, a name) is
  split and no line is wider than the terminal (nothing cropped);
* every option that names where files go (``--json``: a file, ``--out``: a folder) pointed at
  the wrong kind of path, at a path under a file or at a place that cannot be written gives one
  line naming the option and exit 2, before any work and with nothing written;
* an unknown id gives one line with the closest known ids and exit 2;
* ``--help`` prints every bracketed text of its help as written;
* the app writes files only through the atomic writer and builds tables only through the renderer.

Each command's output is computed once (its quick or committed form) and laid out at every width.
"""

from __future__ import annotations

import inspect
import io
import os
import re
from pathlib import Path

import pytest
import typer
from rich.cells import cell_len
from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table

from ropelab.cli import _console, render
from ropelab.cli import app as cli

WIDTHS = (60, 80, 100, 120, 160, 200)
REPO = Path(__file__).resolve().parents[1]
CLI_FOLDER = Path(cli.__file__).parent
OUTPUT_OPTIONS = {"--json": "file", "--out": "folder"}
"""The options through which a command writes: ``--json FILE`` and ``--out FOLDER``."""

SAMPLES = {
    # the cheapest invocation that prints a command's tables (smallest size or committed results);
    # "{tmp}" is a fresh folder. A command not listed runs with no arguments.
    ("verify",): ["rope_preserves_norm", "--quick"],
    ("explain",): ["rope_preserves_norm", "table2"],
    ("figs",): ["frequency_spectra", "--out", "{tmp}"],
    ("conform",): [str(REPO / "tests" / "helpers" / "conform_targets.py") + ":correct", "--quick"],
    ("precision",): ["--dtype", "bf16"],
    ("analyze-model",): ["--committed"],
    ("bench",): ["logit-curve", "--quick"],
    ("report",): ["rope_preserves_norm", "--quick", "--out", "{tmp}"],
    ("experiment", "table2"): ["--preset", "smoke", "--out", "{tmp}", "--seeds", "1"],
    ("experiment", "breaking"): ["--preset", "smoke", "--out", "{tmp}", "--seeds", "1"],
    ("experiment", "offset"): ["--preset", "smoke", "--out", "{tmp}", "--seeds", "1"],
}
SLOW = {("bench",), ("report",), ("experiment", "table2"), ("experiment", "breaking"), ("experiment", "offset")}
"""Samples that train models, run benchmark scripts or draw every figure."""

WORK = (
    # what a command does once its input is accepted: none of it may start before a bad destination is refused
    "ropelab.checks.runner.run_claims", "ropelab.cli.bench.run_workload", "ropelab.checks.conformance.run",
    "ropelab.checks.findings.zoo.summarise", "ropelab.constructions.precision.thresholds",
    "ropelab.checks.findings.experiment_runner.run", "ropelab.checks.findings.training_cost.experiment_cost",
    "ropelab.checks.findings.model_analysis.analyze", "ropelab.catalogue.render_available_figures",
)


def commands(command=None, path=()):
    """Every (path, click command) the app registers, subcommands included."""
    command = command or typer.main.get_command(cli.app)
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))
    elif path:
        yield path, command


def groups(command=None, path=()):
    """The app and every group of subcommands in it."""
    command = command or typer.main.get_command(cli.app)
    if hasattr(command, "commands"):
        yield path, command
        for name, sub in command.commands.items():
            yield from groups(sub, (*path, name))


COMMANDS = dict(commands())
IDS = [" ".join(path) for path in COMMANDS]


def test_the_walk_finds_every_command():
    assert {("verify",), ("list",), ("explain",), ("errata",), ("zoo",), ("experiment", "table2")} <= set(COMMANDS)


# ---------------------------------------------------------------- running a command

def invoke(args: list[str], capsys) -> tuple[int, str]:
    """Run ``ropelab ARGS`` in this process: exit code and everything printed."""
    try:
        cli.main([str(a) for a in args])
        code = 0
    except SystemExit as done:
        code = done.code or 0
    except Exception as err:  # noqa: BLE001 (an escaped exception is a traceback for the user)
        code = f"Traceback: {type(err).__name__}: {err}"
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def sample_args(path: tuple[str, ...], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in SAMPLES.get(path, [])]


def positional(args: list[str]) -> list[str]:
    """The arguments before the first option."""
    n = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    return args[:n]


def record(args: list[str]) -> tuple[int, list[tuple[object, dict]]]:
    """Run a command once and keep what it printed as objects, to be laid out at any width."""
    printed: list[tuple[object, dict]] = []

    def keep(*objects, **options):
        printed.extend((obj, options) for obj in objects)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_console.console, "print", keep)
        with pytest.raises(SystemExit) as exit_info:
            cli.main([str(a) for a in args])
    return exit_info.value.code or 0, printed


def cells(renderable) -> list[str]:
    """Every table cell (and header) inside ``renderable``."""
    if isinstance(renderable, render.Tabular):
        return renderable.cells()
    if isinstance(renderable, Table):
        found = []
        for column in renderable.columns:
            found += [getattr(c, "plain", str(c)) for c in (column.header, *column._cells)]
        return found
    if isinstance(renderable, Group):
        return [c for r in renderable.renderables for c in cells(r)]
    if isinstance(renderable, Padding):
        return cells(renderable.renderable)
    return []


BOX = re.compile(r"[\s│┃┆┊║━─═┏┓┗┛┳┻╋┡┩╇└┘┌┐┬┴┼├┤╭╮╰╯]+")


def assert_reads_at(printed: list[tuple[object, dict]], width: int) -> None:
    """At ``width`` columns no line is wider (a table crops nothing) and every word of every
    table cell stands whole on some line."""
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    wide_ok: list[str] = []
    for obj, options in printed:
        start = len(console.export_text(clear=False).splitlines())
        console.print(obj, **options)
        if options.get("soft_wrap"):  # a one-line message: the terminal wraps it
            wide_ok += console.export_text(clear=False).splitlines()[start:]
    lines = console.export_text().splitlines()
    too_wide = [line for line in lines if cell_len(line) > width and line not in wide_ok]
    assert not too_wide, f"{len(too_wide)} lines wider than {width} columns, e.g. {too_wide[0]!r}"
    # a stacked layout writes "field: value; value": compare words without trailing ":;,"
    tokens = {t.rstrip(":;,") for line in lines for t in BOX.split(line) if t}
    words = {w.rstrip(":;,") for obj, _ in printed for c in cells(obj) for w in c.split()}
    split = sorted(w for w in words if w not in tokens)
    assert not split, f"split or cropped at {width} columns: {split[:8]}"


_recorded: dict[tuple[str, ...], tuple[int, list]] = {}


def output_of(path: tuple[str, ...], tmp_path_factory) -> tuple[int, list]:
    if path not in _recorded:
        command = COMMANDS[path]
        required = [p.name for p in command.params if p.required]
        if required and path not in SAMPLES:
            pytest.fail(f"`ropelab {' '.join(path)}` needs {required}: give it a cheap sample in SAMPLES")
        _recorded[path] = record([*path, *sample_args(path, tmp_path_factory.mktemp("sample"))])
    return _recorded[path]


def slow_if(path):
    return pytest.param(path, id=" ".join(path), marks=[pytest.mark.slow] if path in SLOW else [])


@pytest.mark.parametrize("path", [slow_if(p) for p in COMMANDS])
def test_output_reads_at_every_width(path, tmp_path_factory):
    code, printed = output_of(path, tmp_path_factory)
    assert code in (0, 1), f"`ropelab {' '.join(path)}` sample exited {code}"
    assert printed, "the sample printed nothing"
    for width in WIDTHS:
        assert_reads_at(printed, width)


def test_verify_and_list_and_errata_and_zoo_print_tables_through_the_renderer(tmp_path_factory):
    """The width check above reads cells of tables; here each of these commands prints one."""
    for path in [("verify",), ("list",), ("errata",), ("zoo",), ("precision",), ("conform",)]:
        _, printed = output_of(path, tmp_path_factory)
        assert any(isinstance(obj, render.Tabular) for obj, _ in printed), path


# ---------------------------------------------------------------- destinations

def unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores modes: use /proc then)."""
    if os.geteuid() == 0:
        return Path("/proc/ropelab-cannot-write-here")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def bad_destinations(kind: str, tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    bad = {"under a file": a_file / "inside" / ("x.json" if kind == "file" else "out"),
           "unwritable": unwritable(tmp_path) / ("x.json" if kind == "file" else "out")}
    bad["the wrong kind"] = tmp_path if kind == "file" else a_file
    return bad


OUTPUT_CASES = [(path, option.opts[0]) for path, command in COMMANDS.items() for option in command.params
                if option.opts[0] in OUTPUT_OPTIONS]


@pytest.fixture
def no_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("work started before the destination was checked")

    for dotted in WORK:
        module, name = dotted.rsplit(".", 1)
        monkeypatch.setattr(f"{module}.{name}", refuse)
    from ropelab.paper_figs import FIGURES

    for name in FIGURES:
        monkeypatch.setitem(FIGURES, name, refuse)


def check_destination_refused(path, option, tmp_path, capsys) -> None:
    kind = OUTPUT_OPTIONS[option]
    for case, target in bad_destinations(kind, tmp_path).items():
        before = sorted(tmp_path.rglob("*"))
        args = [*path, *positional(sample_args(path, tmp_path / "unused")), option, str(target)]
        code, out = invoke(args, capsys)
        lines = [line for line in out.splitlines() if line.strip()]
        assert code == 2, f"{' '.join(args)} ({case}): exit {code}\n{out}"
        assert len(lines) == 1 and option in lines[0] and "Traceback" not in out, f"{case}: {out}"
        written = [p for p in tmp_path.rglob("*") if p not in before]
        assert written == [], f"{case}: wrote {written}"


def test_every_output_option_is_found():
    assert {(("verify",), "--json"), (("figs",), "--out"), (("zoo",), "--json"), (("errata",), "--json"),
            (("conform",), "--json"), (("precision",), "--json"), (("report",), "--out")} <= set(OUTPUT_CASES)


@pytest.mark.parametrize("path, option", OUTPUT_CASES, ids=[f"{' '.join(p)} {o}" for p, o in OUTPUT_CASES])
def test_bad_destination_is_refused_before_work(path, option, tmp_path, capsys, no_work):
    check_destination_refused(path, option, tmp_path, capsys)


# ---------------------------------------------------------------- unknown ids

ID_CASES = [path for path, command in COMMANDS.items() if any(p.param_type_name == "argument" for p in command.params)]


def test_unknown_ids_name_the_closest_known(capsys):
    """Every command that takes names: a name that is nothing like a known one gets one line and
    exit 2; where that line names known ids, one of them misspelt is offered back as the closest."""
    offered = []
    for path in ID_CASES:
        options = [a for a in sample_args(path, Path("/nonexistent")) if a not in positional(sample_args(path, Path()))]
        options = [a for a in options if "/nonexistent" not in a and a != "--out"]
        code, out = invoke([*path, "zz-no-such-name-zz", *options], capsys)
        lines = [line for line in out.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1, f"{path}: exit {code}\n{out}"
        known = re.search(r"\bknown: (\S+?)[,;( ]", lines[0] + " ")
        if "unknown" not in lines[0]:
            continue
        assert known, f"{path}: the line names no known id: {lines[0]}"
        name = known.group(1)
        code, out = invoke([*path, name + "x", *options], capsys)  # one letter too many
        lines = [line for line in out.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1, f"{path}: exit {code}\n{out}"
        assert re.search(rf"closest known: (\S+, )*{re.escape(name)}(,| \(|$)", lines[0]), f"{path}: {lines[0]}"
        offered.append(path)
    assert len(offered) >= 5, offered  # verify, explain, figs, bench, report, errata


# ---------------------------------------------------------------- help

def bracketed(command) -> list[str]:
    texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    return [" ".join(b.split()) for text in texts for b in re.findall(r"\[[^\[\]]*\]", text)]


def test_help_prints_brackets_as_written(capsys):
    seen = 0
    for path, command in [*COMMANDS.items(), *groups()]:
        code, out = invoke([*path, "--help"], capsys)
        assert code == 0, out
        page = " ".join(out.split())
        for text in bracketed(command):
            seen += 1
            assert text in page, f"`ropelab {' '.join(path)} --help` lost {text!r}"
    assert seen, "no help text has brackets: the check checks nothing"


# ---------------------------------------------------------------- one renderer, one writer

FORBIDDEN = re.compile(r"(?<![\w.])open\(|\.write_text\(|\.write_bytes\(|(?<![\w.])Table\(")
"""Writing a file or building a table by hand: only the writer and the renderer may."""


def by_hand(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if FORBIDDEN.search(line) and not line.strip().startswith("#")]


def test_files_are_written_and_tables_built_in_one_place_only():
    sources = {p: p.read_text() for p in CLI_FOLDER.glob("*.py") if p.name != "render.py"}
    for command in dict(commands()).values():
        sources[command.callback.__qualname__] = inspect.getsource(inspect.unwrap(command.callback))
    found = {name: by_hand(source) for name, source in sources.items() if by_hand(source)}
    assert not found, found


# ---------------------------------------------------------------- the contract fails a planted command

def plant(monkeypatch, function, name="planted"):
    """Register a throwaway command on the app for one test."""
    planted = typer.Typer()
    planted.command(name)(function)
    monkeypatch.setattr(cli.app, "registered_commands", [*cli.app.registered_commands, *planted.registered_commands])
    return dict(commands())[(name,)]


def test_a_planted_raw_table_fails_the_width_check(monkeypatch, tmp_path_factory):
    def planted() -> None:
        table = Table(*(f"column {i}" for i in range(10)))  # built by hand, not through the renderer
        table.add_row(*(f"5,118,39{i}" for i in range(10)))
        _console.console.print(table)

    plant(monkeypatch, planted)
    code, printed = record(["planted"])
    assert code == 0 and printed
    with pytest.raises(AssertionError, match="split or cropped|wider than"):
        for width in WIDTHS:
            assert_reads_at(printed, width)
    with pytest.raises(AssertionError, match="Table"):
        test_files_are_written_and_tables_built_in_one_place_only()


def test_a_planted_raw_open_fails_the_destination_check(monkeypatch, tmp_path, capsys):
    def planted(json_path: Path = typer.Option(None, "--json")) -> None:
        with open(json_path, "w") as handle:  # noqa: PTH123 (the fault planted here)
            handle.write("{}")

    command = plant(monkeypatch, planted)
    assert "--json" in command.params[0].opts
    with pytest.raises(AssertionError, match="exit Traceback"):
        check_destination_refused(("planted",), "--json", tmp_path, capsys)
    with pytest.raises(AssertionError, match="open"):
        test_files_are_written_and_tables_built_in_one_place_only()


def test_a_planted_table_through_the_renderer_passes(monkeypatch):
    """The same table through the renderer reads at every width (the check is not simply strict)."""
    def planted() -> None:
        _console.console.print(render.tabular([f"column {i}" for i in range(10)], [[f"5,118,39{i}" for i in range(10)]]))

    plant(monkeypatch, planted)
    code, printed = record(["planted"])
    for width in WIDTHS:
        assert_reads_at(printed, width)


def test_help_check_fails_where_markup_eats_brackets(monkeypatch, capsys):
    """With rich markup switched on, ``[m]`` in conform's help is taken for a style and vanishes."""
    monkeypatch.setattr(cli.app, "rich_markup_mode", "rich")
    with pytest.raises(AssertionError, match="lost"):
        test_help_prints_brackets_as_written(capsys)
