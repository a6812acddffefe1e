"""Workload 5: start-up of the commands a user runs first, beside a bare ``import jax``.

Each command (``ropelab --help``, ``list``, ``errata``, ``explain``, ``zoo``) runs in a fresh
process under ``python -X importtime``, as a user would start it; the script reports the wall
time, the import time ``-X importtime`` adds up, and whether JAX, SymPy, matplotlib or
transformers were imported, next to ``python -c "import jax"`` timed the same way in the same run
(the machine may be shared: only the ratios mean much). Targets: ``--help`` under 1 s,
``errata`` and ``list`` under 2 s.

Run: ``python benchmarks/startup.py [--quick] [--json out.json]``. ``--quick`` runs each once
(the default takes the best of three).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import _harness as h

HEAVY = ("jax", "sympy", "matplotlib", "transformers", "torch")
"""Packages a command should import only when it uses them."""
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "ropelab --help": (["--help"], 1.0),
    "ropelab list": (["list"], 2.0),
    "ropelab errata": (["errata"], 2.0),
    "ropelab explain rope_preserves_norm": (["explain", "rope_preserves_norm"], None),
    "ropelab zoo": (["zoo"], None),
}
"""Each command's arguments and its target in seconds (None: reported, no target)."""


def importtime(code: str, env: dict[str, str]) -> tuple[float, float, set[str], int]:
    """Run ``python -X importtime -c code``: (wall s, import s, heavy top-level packages imported, exit code)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    total_us, heavy = 0, set()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if not cumulative.strip().isdigit():  # the header line
            continue
        indent = len(name) - len(name.lstrip())
        name = name.strip()
        if indent == 1:  # top-level imports: their cumulative times add up to the whole
            total_us += int(cumulative)
        if name.split(".")[0] in HEAVY:
            heavy.add(name.split(".")[0])
    return wall, total_us / 1e6, heavy, done.returncode


def best(code: str, env: dict[str, str], repeat: int) -> tuple[float, float, set[str], int]:
    runs = [importtime(code, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


def main() -> None:
    args = h.arguments(__doc__.split("\n\n")[0])
    repeat = 1 if args.quick else 3
    env = {**os.environ, "COLUMNS": "120"}
    jax_wall, jax_import, _, _ = best("import jax", env, repeat)
    rows, summary, details = [], [], {"import_jax_wall_s": jax_wall, "import_jax_import_s": jax_import, "commands": {}}
    for name, (argv, target) in COMMANDS.items():
        code = f"import sys; sys.argv = ['ropelab', *{argv!r}]; from ropelab.cli import main; main()"
        code = f"try:\n    {code}\nexcept SystemExit:\n    pass"
        wall, imports, heavy, exit_code = best(code, env, repeat)
        rows.append([name, h.seconds(wall), h.seconds(imports), f"{wall / jax_wall:.2f}",
                     ", ".join(sorted(heavy)) or "none", "-" if target is None else f"< {target:g} s"])
        details["commands"][name] = {"wall_s": wall, "import_s": imports, "heavy": sorted(heavy),
                                     "exit_code": exit_code}
        summary.append(h.comparison(name, wall, 'python -c "import jax"', jax_wall, f"imports {imports:.2f} s",
                                    "-" if target is None else f"< {target:g} s",
                                    None if target is None or args.quick else wall < target,
                                    note="heavy: " + (", ".join(sorted(heavy)) or "none")))
    h.print_table(f'W5 start-up, best of {repeat} (python -c "import jax": {h.seconds(jax_wall)} wall, '
                  f"{h.seconds(jax_import)} imports)",
                  ["command", "wall", "imports (-X importtime)", "wall / import jax", "heavy packages", "target"], rows)
    h.finish(args, "W5 start-up", summary, details)


if __name__ == "__main__":
    main()
