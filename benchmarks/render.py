"""Rendering speed: a cold `archstat table resnet152` (the rendered table) as a ratio to
`python -c "import typer, rich, yaml"`, both run side by side in the same run, and the in-process
cost of rendering resnet152's table.

    python benchmarks/render.py [--reps 15]

Prints the median wall time of each command (commands alternating), their ratio (target ≤ 2.0×),
`--format json` beside them, and the median time of `table_report.render` + printing to a string
for resnet152's 313 rows (target < 60 ms), at COLUMNS=120 and with --wide.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "import typer, rich, yaml": [sys.executable, "-c", "import typer, rich, yaml"],
    "archstat table resnet152": [sys.executable, "-m", "archstat", "table", "resnet152"],
    "archstat table resnet152 --format json": [sys.executable, "-m", "archstat", "table", "resnet152",
                                               "--format", "json"],
}


# Cached bytecode, as an installed package has it (pip compiles on install): where
# PYTHONDONTWRITEBYTECODE is set (this project's machines set it), an editable install would otherwise
# recompile archstat's own modules on every start while typer, rich and yaml load from .pyc files.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"COLUMNS": "120"}


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t0


def in_process(reps: int) -> dict[str, float]:
    import archstat
    from archstat.report.fit import View
    from archstat.report.table_report import render

    stats = archstat.analyze("resnet152")
    out = {"rows": len(stats.rows)}
    for name, view in (("render at 120 columns", View(120)), ("render --wide", View(120, None, True))):
        render(stats, "macs", view).text()   # warm: first-call imports are counted in the cold CLI above
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            render(stats, "macs", view).text()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    for cmd in COMMANDS.values():   # writes the bytecode caches; not timed
        wall(cmd)
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    names = list(COMMANDS)
    for rep in range(args.reps):
        for name in names if rep % 2 == 0 else reversed(names):
            times[name].append(wall(COMMANDS[name]))
    base = statistics.median(times[names[0]])
    print(f"cold processes, median of {args.reps} (COLUMNS=120, stdout to /dev/null):")
    for name in names:
        med = statistics.median(times[name])
        print(f"  {name:40s} {med * 1e3:7.0f} ms   {med / base:4.2f}× the imports")
    inner = in_process(args.reps)
    print(f"in process, resnet152 ({inner['rows']} rows), median of {args.reps}:")
    for name in ("render at 120 columns", "render --wide"):
        print(f"  {name:40s} {inner[name] * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
