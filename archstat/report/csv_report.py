"""CSV output: one row per layer with exact integers (no separators), header first."""

from __future__ import annotations

from typing import Any

from archstat.analyze.stats import ModelStats
from archstat.report.rows import whole_shape
from archstat.report.sanitize import csv_text
from archstat.report.units import compute_unit

COLUMNS = ["name", "label", "op", "output_shape", "activation_elements", "activation_bytes",
           "weights", "biases", "params"]


def render(stats: ModelStats, units: str = "macs") -> str:
    unit, factor = compute_unit(units)
    rows: list[list[Any]] = [COLUMNS + [unit.lower(), "ops", "receptive_field", "aux", "formula", "folded"]]
    for r in stats.rows:
        rows.append([r.name, r.label, r.op, "x".join(map(str, whole_shape(r, stats.batch))),
                    r.activation_elements, r.activation_bytes, r.weights, r.biases, r.params,
                    r.macs * factor, r.ops, r.rf.size[0] if r.rf else "", int(r.aux), r.formula,
                    " ".join(r.folded + r.contains)])
    t = stats.totals
    first = (stats.outputs[0]["shape"] if stats.outputs and "shape" in stats.outputs[0] else
             [] if stats.source == "module" else [stats.batch, *stats.output_shape])   # a module's: no tensor
    rows.append(["TOTAL", "", "", "x".join(map(str, first)),
                t.activation_elements, t.activation_bytes, t.weights, t.biases, t.params,
                t.macs * factor, t.ops, "", "", "", ""])
    return csv_text(rows)   # every cell: control characters escaped, no formula a spreadsheet runs
