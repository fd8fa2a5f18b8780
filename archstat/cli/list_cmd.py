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
        top1 = next((float(f.value) for f in spec.figures if f.key == "top1_error"), None)
        rows.append({"name": name, "input": list(spec.input), "params": stats.totals.params,
                     "macs": stats.totals.macs, "activation_bytes": stats.totals.activation_bytes,
                     "top1_error": top1, "description": spec.description})
    return rows


SORT_KEYS = ("name", "input", "params", "macs", "activation_bytes", "top1_error")


@app.command("list")
def list_models(
    pattern: Optional[str] = typer.Argument(None, help="A glob filter such as 'vgg*'."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, csv or markdown."),
    sort: str = typer.Option("name", "--sort", help="name, input, params, macs, activation_bytes or top1_error "
                             "(ascending; models citing no error last)."),
):
    """The zoo: one line per model with params, MACs, activation memory (batch 1, float32) and the
    published top-1 error where a source gives one."""
    from archstat.report import zoo_report

    fmt = options.choice(fmt, options.FORMATS, "--format")
    sort = options.choice(sort, SORT_KEYS, "--sort")
    rows = zoo_rows(pattern)
    rows.sort(key=lambda r: (r[sort] is None, r[sort] if r[sort] is not None else 0))
    if not rows and pattern:
        from archstat.errors import UsageError

        raise UsageError(f"no zoo model matches '{pattern}' (see 'archstat list')")
    emit(zoo_report.render(rows, fmt))
