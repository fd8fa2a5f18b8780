"""The zoo listing in the four formats."""

from __future__ import annotations

import csv
import io
import json

from archstat.report.units import fmt_bytes, fmt_shape, fmt_si

COLUMNS = ("name", "input", "params", "macs", "activation_bytes", "top1_error", "description")


def render(rows: list[dict], fmt: str):
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r["name"], "x".join(map(str, r["input"])), r["params"], r["macs"],
                        r["activation_bytes"], "" if r["top1_error"] is None else r["top1_error"], r["description"]])
        return out.getvalue()
    cells = [[r["name"], fmt_shape(r["input"]), fmt_si(r["params"]), fmt_si(r["macs"]),
              fmt_bytes(r["activation_bytes"]), "" if r["top1_error"] is None else f"{r['top1_error']:g}%",
              r["description"]] for r in rows]
    head = ["Model", "Input", "Params", "MACs", "Activations", "Top-1 err.", "Description"]
    if fmt == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|---:|---|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines) + "\n"
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False,
                  caption="batch 1, float32; MACs = multiply-accumulates (conv, linear); top-1 error as published "
                          "(ImageNet, or the test error on CIFAR/MNIST), not computed", caption_justify="left")
    for h in head:
        table.add_column(h, justify="right" if h in ("Params", "MACs", "Activations", "Top-1 err.") else "left",
                         max_width=70 if h == "Description" else None, no_wrap=h != "Description")
    for c in cells:
        table.add_row(*c)
    return table
