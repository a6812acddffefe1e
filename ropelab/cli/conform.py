"""``ropelab conform MODULE:FUNCTION``: judge a RoPE implementation against exact vectors and known bugs."""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ropelab.checks.atomic import write_text_atomically

from .render import tabular

__all__ = []

SIGNATURE = """The function is called as f(x, positions, config) and returns the rotated x:
  x          numpy array (n, d) in the dtype under test (float64, float32, float16, ml_dtypes.bfloat16)
  positions  int64 array (n,), sorted; the sequence length is positions.max() + 1
  config     dict: head_dim, layout ("half": pair m = (x[m], x[m + d_rot/2]); "interleaved": (x[2m], x[2m+1])),
             max_position_embeddings, the HF RoPE parameters (rope_type, rope_theta, partial_rotary_factor,
             factor, ...), and inv_freq (ropelab's float64 schedule of the rotating prefix) with
             attention_scaling (the factor cos and sin are multiplied by) for implementations that take a schedule.
The result is compared in float64 with the exact rotation (float64 angles from exact integer positions)."""

RECIPES = """Recipe, torch (bf16 input): in rope_torch.py write
  def apply(x, positions, config):
      dtype = torch.bfloat16 if x.dtype.name == "bfloat16" else getattr(torch, x.dtype.name)
      q = torch.from_numpy(x.astype("float32")).to(dtype)  # torch cannot read ml_dtypes arrays directly
      out = my_rope(q, torch.from_numpy(positions), config)
      return out.float().numpy()
then run: ropelab conform ./rope_torch.py:apply --layouts half
Recipe, JAX: in rope_jax.py write
  def apply(x, positions, config):
      out = my_rope(jnp.asarray(x.astype("float32")), jnp.asarray(positions), config)
      return np.asarray(out)
then run: ropelab conform ./rope_jax.py:apply (JAX keeps the precision your process has: conform never sets
jax_enable_x64; run with JAX_ENABLE_X64=1 to judge the float64 path instead).
Say what the implementation supports with --rope-types default,linear --dtypes float32,bfloat16 --max-position
131072: the other cases are listed as skipped, not failed."""

VERDICT = {
    True: "conformant: every case run is within what float32 arithmetic allows of the exact rotation "
          "(8 |x| max(eps, eps32) + |x| angle (3 + ln 1/g_min) eps32), no row is NaN/inf, no known bug matched. "
          "The column 'first position past the dtype's bound' is where the output stops being as exact as float64 "
          "angles rounded once to the dtype; angles formed in float32 pass it early, which is allowed, not a failure.",
    False: "NOT conformant: at least one case run fails: a row beyond what float32 arithmetic allows, a NaN/inf row "
           "(non_finite), a known bug matched or an exception. The column 'first position past the dtype's bound' "
           "alone is no failure: it is where the output stops being as exact as float64 angles rounded once to "
           "the dtype.",
}

DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "f16": "float16", "fp32": "float32", "f32": "float32",
                 "fp64": "float64", "f64": "float64"}


def _names(values: list[str] | None, aliases: dict[str, str] | None = None) -> list[str] | None:
    """Repeatable and comma-separated option values, aliases resolved (``None`` when not given)."""
    if not values:
        return None
    out = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return [(aliases or {}).get(v, v) for v in out]


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
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3g}" if math.isfinite(x) else str(x)
    return f"{x:,}"


def case_table(report):
    """One row per case: verdict, worst error and where, first position past the dtype's bound, bugs or detail."""
    rows = []
    for r in report.results:
        style = {"pass": "green", "skipped": "dim"}.get(r.verdict, "red")
        worst = "-" if r.worst_error is None else f"{_fmt(r.worst_error)} ({_fmt(r.worst_position)})"
        note = ", ".join(r.bugs + ([r.detail] if r.detail else []))
        rows.append([Text(r.case), Text(r.layout), Text(r.dtype), Text(r.verdict, style=style), Text(worst),
                     Text(_fmt(r.first_past_dtype_bound)), Text(str(r.non_finite)), Text(note)])
    return tabular(("case", "layout", "dtype", "verdict", "worst |error| (position)", "past dtype bound from",
                    "non-finite rows", "known bug / detail"), rows, title=f"cases of {report.target}")


def register(app: typer.Typer) -> None:
    from ._console import console, fail, say, writable_file

    @app.command(help=("Judge a RoPE implementation f(x, positions, config) -> rotated x against exact vectors "
                             "over every rope type, bases 1e4 to 1e6, several head sizes, both layouts, four dtypes "
                             "and positions up to 10^6: a verdict per case, and the known bugs it matches.\n\n"
                             + SIGNATURE.replace("\n", "\n\n") + "\n\n" + RECIPES.replace("\n", "\n\n")))
    def conform(
        target: Annotated[str, typer.Argument(metavar="MODULE:FUNCTION", help="the implementation to judge")],
        quick: Annotated[bool, typer.Option("--quick", help="float32 and bfloat16 only")] = False,
        rope_types: Annotated[list[str] | None, typer.Option(
            "--rope-types", metavar="TYPES", help="rope types it supports, comma-separated (default: all)")] = None,
        layouts: Annotated[list[str] | None, typer.Option(
            "--layouts", metavar="LAYOUTS", help="half, interleaved (default: both)")] = None,
        dtypes: Annotated[list[str] | None, typer.Option(
            "--dtypes", metavar="DTYPES", help="float64, float32, bfloat16 (bf16), float16 (fp16) (default: all)")] = None,
        max_position: Annotated[int | None, typer.Option(
            "--max-position", metavar="N", help="largest position it supports; cases beyond are skipped")] = None,
        show_cases: Annotated[bool, typer.Option("--cases", help="print the verdict of every case")] = False,
        json_path: Annotated[Path | None, typer.Option("--json", help="write the report (every case) here as JSON",
                                                       metavar="FILE")] = None,
    ) -> None:
        from ropelab.checks import conformance

        if json_path is not None:
            writable_file(json_path, "--json")
        try:
            quick_cases = conformance.cases(quick)
            conformance.select(quick_cases, _names(rope_types), _names(layouts), _names(dtypes, DTYPE_ALIASES),
                               max_position)
        except ValueError as err:
            fail(str(err))
        try:
            function = load_target(target)
        except ValueError as err:
            fail(f"bad target: {err}")
        report = conformance.run(function, target, quick=quick, rope_types=_names(rope_types),
                                 layouts=_names(layouts), dtypes=_names(dtypes, DTYPE_ALIASES),
                                 max_position=max_position)
        console.print(tabular(
            ("dtype", "worst |error|", "at (case, position)", "first position past the dtype's bound", "in case"),
            [[Text(dtype), _fmt(s.worst_error), Text(f"{s.worst_case}, {_fmt(s.worst_position)}"),
              _fmt(s.first_failing_position), Text(s.first_failing_case)] for dtype, s in report.dtypes.items()],
            title=f"ropelab conform {target}"))
        if show_cases:
            console.print(case_table(report))
        say(f"{report.cases} cases run: {report.cases - len(report.failed)} pass, {len(report.failed)} fail "
            f"({len(report.errors)} raised); {len(report.skipped)} skipped as not supported. dtype bound: "
            "8 |x| (eps(dtype) + (angle + 1) eps64), what float64 angles rounded once to the dtype achieve.")
        for asked, found in report.layouts.items():
            say(f"layout asked {asked}: implements {found}")
        for name, where in report.bugs.items():
            bug = conformance.BUGS_BY_NAME[name]
            say(f"matches known bug {name} in {len(where)} case(s) (e.g. {where[0]}): {bug.description}", style="red")
        if report.non_finite:
            first = next(r for r in report.results if r.non_finite)
            say(f"non_finite: {report.non_finite} rows NaN or inf where the exact rotation is finite, in "
                f"{sum(1 for r in report.results if r.non_finite)} case(s) (first: {first.label})", style="red")
        if report.outside_float32_angle_bound:
            say(f"{report.outside_float32_angle_bound} rows off the reference by more than float32 arithmetic allows "
                "(8 |x| max(eps, eps32) + |x| angle (3 + ln 1/g_min) eps32)", style="red")
        if not show_cases:
            failed = report.failed
            for r in failed[:10]:
                say(f"{r.verdict}: {r.label}: " + ", ".join(r.bugs + ([r.detail] if r.detail else [])
                    + ([f"{r.non_finite} non-finite rows"] if r.non_finite else [])
                    + ([f"{r.outside_float32_angle_bound} rows beyond float32's bound"]
                       if r.outside_float32_angle_bound else [])), style="red")
            if len(failed) > 10:
                say(f"... and {len(failed) - 10} more failing cases (--cases lists every case)", style="red")
        if report.cases == 0:
            say("no case run: every case was skipped by the options given", style="red")
        say(VERDICT[report.conformant], style="green" if report.conformant else "red")
        if json_path is not None:
            write_text_atomically(json_path, json.dumps(report.as_dict(), indent=2) + "\n", "--json")
            say(f"report written to {json_path}")
        raise typer.Exit(code=0 if report.conformant else 1)
