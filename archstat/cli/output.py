"""Printing rendered output to stdout, at the width the reader has.

The width: ``COLUMNS`` when set (also when stdout is a pipe or a file); else the terminal's width
when stdout is a terminal; else, piped or redirected, the width of the terminal on stderr if there
is one (``archstat table vgg16 | less``); else ``PIPE_WIDTH`` (160) columns.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

PIPE_WIDTH = 160
MIN_WIDTH = 40

WIDE = typer.Option(False, "--wide", help="Every column with exact numbers, whatever the width.")
COLUMNS = typer.Option(None, "--columns", help="Only these columns, in this order, e.g. "
                       "layer,label,output,macs (the names the footer lists when some are not shown).")


def width() -> int:
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return max(MIN_WIDTH, int(env))
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream.isatty():
                return max(MIN_WIDTH, os.get_terminal_size(stream.fileno()).columns)
        except (AttributeError, OSError, ValueError):
            continue
    return PIPE_WIDTH


def view(columns: Optional[str] = None, wide: bool = False):
    from archstat.report.fit import View, parse_columns

    return View(width(), parse_columns(columns), wide)


def _color() -> bool:
    try:
        return sys.stdout.isatty() and "NO_COLOR" not in os.environ
    except (AttributeError, ValueError):
        return False


def emit(renderable) -> None:
    from archstat.report.fit import Doc

    if isinstance(renderable, Doc):
        renderable = renderable.ansi() if _color() else renderable.text()
    if isinstance(renderable, str):
        sys.stdout.write(renderable if renderable.endswith("\n") else renderable + "\n")
        sys.stdout.flush()
    else:
        from rich.console import Console

        tty = sys.stdout.isatty()
        Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width(), no_color=not tty,
                color_system="auto" if tty else None).print(renderable)


def render_stats(stats, fmt: str, units: str, view=None):
    if fmt == "json":
        from archstat.report.json_report import render
    elif fmt == "csv":
        from archstat.report.csv_report import render
    elif fmt == "markdown":
        from archstat.report.markdown_report import render
    elif fmt == "html":
        from archstat.report.html_report import render
    else:
        from archstat.report.table_report import render

        return render(stats, units, view)
    return render(stats, units)
