"""The zoo listing in the four formats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archstat.report.sanitize import csv_text, md_row, to_json
from archstat.report.units import fmt_bytes_compact, fmt_compact, fmt_int, fmt_shape

COLUMNS = ("name", "input", "params", "macs", "activation_bytes", "top1_error", "dataset", "description")
CAPTION = ("batch 1, float32; MACs = multiply-accumulates (conv, linear); compact numbers rounded to 3 digits; "
           "top-1 error as published on the dataset shown, not computed")


def _err(r: dict) -> str:
    return "" if r["top1_error"] is None else f"{r['top1_error']:g}%"


def render(rows: list[dict], fmt: str, view=None):
    if fmt == "json":
        return to_json(rows)
    if fmt == "csv":
        table: list[Sequence[Any]] = [COLUMNS]
        for r in rows:
            table.append([r["name"], "x".join(map(str, r["input"])), r["params"], r["macs"],
                          r["activation_bytes"], "" if r["top1_error"] is None else r["top1_error"], r["dataset"],
                          r["description"]])
        return csv_text(table)
    if fmt == "markdown":
        head = ["Model", "Input", "Params", "MACs", "Activation bytes", "Top-1 err.", "Dataset", "Description"]
        lines = [md_row(head), "|---|---|---:|---:|---:|---:|---|---|"]
        lines += [md_row([r["name"], fmt_shape(r["input"]), fmt_int(r["params"]), fmt_int(r["macs"]),
                          fmt_int(r["activation_bytes"]), _err(r), r["dataset"], r["description"]]) for r in rows]
        return "\n".join(lines) + "\n"
    from archstat.report.fit import Col, Doc, View, wrap
    from archstat.report.fit import render as fit_render

    view = view or View()

    def num(key, compact):
        return [[fmt_int(r[key]) for r in rows], [compact(r[key]) for r in rows]]

    cols = [Col("name", "Model", [[r["name"] for r in rows]], keep=100),
            Col("input", "Input", [[fmt_shape(r["input"]) for r in rows]], keep=40),
            Col("params", "Params", num("params", fmt_compact), right=True, keep=90),
            Col("macs", "MACs", num("macs", fmt_compact), right=True, keep=95),
            Col("activation_bytes", "Activations", num("activation_bytes", fmt_bytes_compact), short="Activ.",
                right=True, keep=60),
            Col("top1_error", "Top-1 err.", [[_err(r) for r in rows]], short="Err.", right=True, keep=70),
            Col("dataset", "Dataset", [[r["dataset"] for r in rows]], keep=65),
            Col("description", "Description", [[r["description"] for r in rows]], keep=30, wrap=24)]
    doc = Doc().extend(fit_render(cols, view))
    return doc.add(wrap(CAPTION, view.width if not view.wide else 10**6), "dim")
