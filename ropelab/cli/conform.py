"""``ropelab conform MODULE:FUNCTION``: judge a RoPE implementation against exact vectors and known bugs."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ropelab.checks.atomic import write_text_atomically

from .render import tabular

SIGNATURE = """The function is called as f(x, positions, config) and returns the rotated x:
  x          numpy array (n, d) in the dtype under test (float64, float32, float16, ml_dtypes.bfloat16)
  positions  int64 array (n,), sorted; the sequence length is positions.max() + 1
  config     dict: head_dim, layout ("half": pair m = (x[m], x[m + d_rot/2]); "interleaved": (x[2m], x[2m+1])),
             max_position_embeddings, the HF RoPE parameters (rope_type, rope_theta, partial_rotary_factor,
             factor, ...), and inv_freq (ropelab's float64 schedule of the rotating prefix) with
             attention_scaling (the factor cos and sin are multiplied by) for implementations that take a schedule.
The result is compared in float64 with the exact rotation (float64 angles from exact integer positions)."""


def load_target(target: str):
    """``MODULE:FUNCTION`` (or ``path/to/file.py:FUNCTION``) -> the callable; ``ValueError`` with one line."""
    module_name, sep, function_name = target.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"expected MODULE:FUNCTION (e.g. mypkg.rope:apply or ./rope.py:apply), got {target!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ValueError(f"no such file: {module_name}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")  # a module next to the user, as `python -m` finds it
            module = importlib.import_module(module_name)
    except ValueError:
        raise
    except Exception as err:  # any import failure is reported on one line
        raise ValueError(f"cannot import {module_name}: {type(err).__name__}: {err}") from None
    function = getattr(module, function_name, None)
    if function is None:
        raise ValueError(f"{module_name} has no attribute {function_name!r}")
    if not callable(function):
        raise ValueError(f"{module_name}:{function_name} is not callable (it is a {type(function).__name__})")
    return function


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3g}" if isinstance(x, float) else f"{x:,}"


def register(app: typer.Typer) -> None:
    from ._console import console, writable_file

    @app.command(help="Judge a RoPE implementation f(x, positions, config) -> rotated x against exact vectors over "
                      "every rope type, both layouts, four dtypes and positions up to 10^6, and name the known bug "
                      "it matches.\n\n" + SIGNATURE.replace("\n", "\n\n"))
    def conform(
        target: Annotated[str, typer.Argument(metavar="MODULE:FUNCTION", help="the implementation to judge")],
        quick: Annotated[bool, typer.Option("--quick", help="float32 and bfloat16 only")] = False,
        json_path: Annotated[Path | None, typer.Option("--json", help="write the report here as JSON")] = None,
    ) -> None:
        from ropelab.checks import conformance

        if json_path is not None:
            writable_file(json_path, "--json")
        try:
            function = load_target(target)
        except ValueError as err:
            console.print(Text(f"bad target: {err}", style="red"))
            raise typer.Exit(code=2) from None
        report = conformance.run(function, target, quick=quick)
        console.print(tabular(
            ("dtype", "worst |error|", "at (case, position)", "first position past the dtype's bound", "in case"),
            [[Text(dtype), _fmt(s.worst_error), Text(f"{s.worst_case}, {_fmt(s.worst_position)}"),
              _fmt(s.first_failing_position), Text(s.first_failing_case)] for dtype, s in report.dtypes.items()],
            title=f"ropelab conform {target}"))
        console.print(Text(f"{report.cases} cases; dtype bound: 8 |x| (eps(dtype) + (angle + 1) eps64), what "
                           "float64 angles rounded once to the dtype achieve."))
        for asked, found in report.layouts.items():
            console.print(Text(f"layout asked {asked}: implements {found}"))
        for name, dtypes in report.bugs.items():
            bug = conformance.BUGS_BY_NAME[name]
            console.print(Text(f"matches known bug {name} (in {', '.join(dtypes)}): {bug.description}", style="red"))
        for error in report.errors[:10]:
            console.print(Text(f"error: {error}", style="red"))
        if report.outside_float32_angle_bound:
            console.print(Text(f"{report.outside_float32_angle_bound} rows off the reference by more than float32 "
                               "arithmetic allows (8 |x| max(eps, eps32) + |x| angle (3 + ln 1/g_min) eps32)"))
        verdict = "conformant" if report.conformant else "NOT conformant"
        console.print(Text(verdict, style="green" if report.conformant else "red"))
        if json_path is not None:
            write_text_atomically(json_path, json.dumps(report.as_dict(), indent=2) + "\n", "--json")
            console.print(Text(f"report written to {json_path}"))
        raise typer.Exit(code=0 if report.conformant else 1)
