"""Printing rendered output to stdout."""

from __future__ import annotations

import sys


def console():
    from rich.console import Console

    tty = sys.stdout.isatty()
    # piped output: no colour, and wide enough that tables never wrap
    return Console(file=sys.stdout, highlight=False, soft_wrap=False,
                   width=None if tty else 240, no_color=not tty, color_system="auto" if tty else None)


def emit(renderable) -> None:
    if isinstance(renderable, str):
        sys.stdout.write(renderable if renderable.endswith("\n") else renderable + "\n")
        sys.stdout.flush()
    else:
        console().print(renderable)


def render_stats(stats, fmt: str, units: str):
    if fmt == "json":
        from archstat.report.json_report import render
    elif fmt == "csv":
        from archstat.report.csv_report import render
    elif fmt == "markdown":
        from archstat.report.markdown_report import render
    else:
        from archstat.report.table_report import render
    return render(stats, units)
