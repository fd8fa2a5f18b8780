"""The table of verify's checks in the four formats."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

COLUMNS = ("model", "check", "archstat", "reference", "status", "detail")


def render(checks, fmt: str):
    if fmt == "json":
        return json.dumps([asdict(c) for c in checks], indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(COLUMNS)
        for c in checks:
            w.writerow([getattr(c, k) for k in COLUMNS])
        return out.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(str(getattr(c, k)).replace("|", "\\|") for k in COLUMNS) + " |" for c in checks]
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
        table.add_row(Text(c.model if c.model != previous else ""), Text(c.check), Text(c.archstat),
                      Text(c.reference), Text(c.status, style=style), Text(c.detail))
        previous = c.model
    return table
