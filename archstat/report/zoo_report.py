"""The zoo listing in the four formats."""

from __future__ import annotations

import csv
import io
import json

from archstat.report.units import fmt_bytes, fmt_int, fmt_shape, fmt_si

COLUMNS = ("name", "input", "params", "macs", "activation_bytes", "description")


def render(rows: list[dict], fmt: str):
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r["name"], "x".join(map(str, r["input"])), r["params"], r["macs"],
                        r["activation_bytes"], r["description"]])
        return out.getvalue()
    cells = [[r["name"], fmt_shape(r["input"]), fmt_si(r["params"]), fmt_si(r["macs"]),
              fmt_bytes(r["activation_bytes"]), r["description"]] for r in rows]
    head = ["Model", "Input", "Params", "MACs", "Activations", "Description"]
    if fmt == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|---|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines) + "\n"
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False,
                  caption="batch 1, float32; MACs = multiply-accumulates (conv, linear)", caption_justify="left")
    for h in head:
        table.add_column(h, justify="right" if h in ("Params", "MACs", "Activations") else "left")
    for c in cells:
        table.add_row(*c)
    return table
