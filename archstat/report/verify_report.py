"""The table of verify's checks in the four formats."""

from __future__ import annotations

from dataclasses import asdict

from archstat.report.sanitize import clean, csv_text, md_row, to_json

COLUMNS = ("model", "check", "archstat", "reference", "status", "detail")


def render(checks, fmt: str):
    if fmt == "json":
        return to_json([asdict(c) for c in checks])
    if fmt == "csv":
        return csv_text([COLUMNS] + [[getattr(c, k) for k in COLUMNS] for c in checks])
    if fmt == "markdown":
        lines = [md_row(COLUMNS), "|" + "---|" * len(COLUMNS)]
        lines += [md_row(getattr(c, k) for k in COLUMNS) for c in checks]
        return "\n".join(lines) + "\n"
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in COLUMNS:
        table.add_column(col.capitalize(), justify="right" if col in ("archstat", "reference") else "left")
    previous = None
    for c in checks:
        style = {"ok": "green", "MISMATCH": "bold red"}.get(c.status, "yellow")
        table.add_row(*(Text(clean(v)) for v in (c.model if c.model != previous else "", c.check, c.archstat,
                                                   c.reference)), Text(clean(c.status), style=style),
                      Text(clean(c.detail)))
        previous = c.model
    return table
