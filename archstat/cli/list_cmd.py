"""archstat list: one line per zoo model."""

from __future__ import annotations

from typing import Optional

import typer

from archstat.cli import options
from archstat.cli.app import app
from archstat.cli.output import emit


def zoo_rows(pattern: Optional[str]) -> list[dict]:
    from archstat.api import analyze, load_spec
    from archstat.zoo import zoo_names

    rows = []
    for name in zoo_names(pattern):
        spec = load_spec(name)
        stats = analyze(spec)
        rows.append({"name": name, "input": list(spec.input), "params": stats.totals.params,
                     "macs": stats.totals.macs, "activation_bytes": stats.totals.activation_bytes,
                     "description": spec.description})
    return rows


@app.command("list")
def list_models(
    pattern: Optional[str] = typer.Argument(None, help="A glob filter such as 'vgg*'."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, csv or markdown."),
):
    """The zoo: one line per model with params, MACs and activation memory (batch 1, float32)."""
    from archstat.report import zoo_report

    fmt = options.choice(fmt, options.FORMATS, "--format")
    rows = zoo_rows(pattern)
    if not rows and pattern:
        from archstat.errors import UsageError

        raise UsageError(f"no zoo model matches '{pattern}' (see 'archstat list')")
    emit(zoo_report.render(rows, fmt))
