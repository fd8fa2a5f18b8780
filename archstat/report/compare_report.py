"""Rendering a Comparison: totals side by side with ratios, the aligned breakdown, and each
model's published-vs-computed checks."""

from __future__ import annotations

import csv
import io
import json

from archstat.analyze.compare import Comparison, Compared
from archstat.report.json_report import rf_dict, stats_dict
from archstat.report.units import compute_unit, fmt_bytes, fmt_computed, fmt_int, fmt_shape

MISSING = "—"


def _title(m: Compared) -> str:
    sets = ", ".join(f"{k}={v}" for k, v in m.sets.items())
    return f"{m.label}: {m.stats.model}" + (f" ({sets})" if sets else "")


def _ratio(m: Compared, first: Compared, metric: str) -> str:
    r = m.ratio(first, metric)
    return "" if r is None or m is first else f" ×{r:.3g}"


def totals_lines(c: Comparison, units: str) -> list[list[str]]:
    """Rows of the totals table: metric, then one cell per model."""
    unit, factor = compute_unit(units)
    first = c.models[0]
    lines = [
        ["params"] + [f"{fmt_int(m.total('params'))}{_ratio(m, first, 'params')}" for m in c.models],
        [unit] + [f"{'' if m.stats.totals.complete else '≥ '}{fmt_int(m.total('macs') * factor)}"
                  f"{_ratio(m, first, 'macs')}" for m in c.models],
        ["activations"] + [f"{fmt_bytes(m.total('activation_bytes'))}{_ratio(m, first, 'activation_bytes')}"
                           for m in c.models],
        ["output"] + [fmt_shape(m.stats.output_shape) for m in c.models],
        ["receptive field"] + [m.stats.receptive_field.text() if m.stats.receptive_field else "—" for m in c.models],
        ["layers with weights"] + [str(m.stats.layers) if m.stats.layers is not None else "—" for m in c.models],
    ]
    return lines


def breakdown_header(c: Comparison, units: str) -> list[str]:
    unit, _ = compute_unit(units)
    head = ["layer"]
    for m in c.models:
        head += [f"{m.label} output", f"{m.label} params", f"{m.label} {unit}"]
    return head


def breakdown_cells(c: Comparison, units: str) -> list[list[str]]:
    _, factor = compute_unit(units)
    out = []
    for aligned in c.rows:
        cells = [aligned.name]
        for row in aligned.rows:
            if row is None:
                cells += [MISSING, MISSING, MISSING]
            else:
                cells += [fmt_shape(row.output_shape), fmt_int(row.params), fmt_int(row.macs * factor)]
        out.append(cells)
    return out


def as_dict(c: Comparison, units: str) -> dict:
    first = c.models[0]
    models = []
    for m in c.models:
        d = stats_dict(m.stats, units)
        models.append({
            "label": m.label, "model": m.stats.model, "given": m.model, "set": dict(m.sets),
            "params": d["params"], "input": d["input"], "output_shape": d["output_shape"],
            "receptive_field": rf_dict(m.stats.receptive_field), "layers_with_weights": m.stats.layers,
            "totals": d["totals"],
            "ratio_to_first": {k: m.ratio(first, k) for k in ("params", "macs", "activation_bytes")},
            "references": d["references"],
        })
    rows = []
    for aligned in c.rows:
        per = []
        for m, row in zip(c.models, aligned.rows):
            per.append(None if row is None else {
                "label": row.label, "op": row.op, "output_shape": [m.stats.batch, *row.output_shape],
                "params": row.params, "macs": row.macs, "activation_elements": row.activation_elements,
                "receptive_field": rf_dict(row.rf)})
        rows.append({"name": aligned.name, "models": per})
    return {"units": units, "batch": first.stats.batch, "dtype": first.stats.dtype, "mode": first.stats.mode,
            "models": models, "rows": rows}


def render(c: Comparison, fmt: str, units: str):
    if fmt == "json":
        return json.dumps(as_dict(c, units), indent=2, ensure_ascii=False)
    if fmt == "csv":
        _, factor = compute_unit(units)
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["name"] + [f"{m.label}_{k}" for m in c.models for k in ("output_shape", "params", units)])
        for aligned in c.rows:
            cells = [aligned.name]
            for row in aligned.rows:
                cells += ["", "", ""] if row is None else [
                    "x".join(map(str, row.output_shape)), row.params, row.macs * factor]
            w.writerow(cells)
        w.writerow(["TOTAL"] + [v for m in c.models for v in (
            "x".join(map(str, m.stats.output_shape)), m.total("params"), m.total("macs") * factor)])
        return out.getvalue()
    if fmt == "markdown":
        return _markdown(c, units)
    return _rich(c, units)


def _md_line(values) -> str:
    return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"


def _markdown(c: Comparison, units: str) -> str:
    out = ["## " + " vs ".join(_title(m) for m in c.models), ""]
    out.append(_md_line(["total"] + [m.label for m in c.models]))
    out.append(_md_line(["---"] + ["---:"] * len(c.models)))
    out += [_md_line(line) for line in totals_lines(c, units)]
    out += ["", _md_line(breakdown_header(c, units)), _md_line(["---"] + ["---:"] * (3 * len(c.models)))]
    out += [_md_line(cells) for cells in breakdown_cells(c, units)]
    refs = [(m, ch) for m in c.models for ch in m.stats.references]
    if refs:
        out += ["", "### Published vs computed", "", _md_line(["model", "figure", "published", "computed",
                                                                "status", "note"]), _md_line(["---"] * 6)]
        out += [_md_line([m.label, ch.figure, ch.published, fmt_computed(ch.computed), ch.status, ch.note])
                for m, ch in refs]
    return "\n".join(out) + "\n"


def _rich(c: Comparison, units: str):
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from archstat.analyze.references import NOT_REPRODUCED, REPRODUCED

    first = c.models[0]
    parts = [Text(" vs ".join(_title(m) for m in c.models), style="bold"),
             Text(f"batch {first.stats.batch} · {first.stats.dtype} · mode {first.stats.mode} · "
                  f"ratios (×) are to {first.label}; MACs = multiply-accumulates of conv and linear", style="dim")]
    totals = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    totals.add_column("Total")
    for m in c.models:
        totals.add_column(Text(_title(m)), justify="right")
    for line in totals_lines(c, units):
        totals.add_row(*(Text(x) for x in line))
    parts.append(totals)
    rows = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="Rows matched by name (— : no such row)",
                 title_justify="left")
    for i, h in enumerate(breakdown_header(c, units)):
        rows.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
    for cells in breakdown_cells(c, units):
        unmatched = MISSING in cells
        rows.add_row(*(Text(x) for x in cells), style="yellow" if unmatched else None)
    parts.append(rows)
    refs = [(m, ch) for m in c.models for ch in m.stats.references]
    if refs:
        ref = Table(title="Published vs computed", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for col, kw in (("", {}), ("Figure", {}), ("Published", {"max_width": 44}),
                        ("Computed", {"justify": "right"}), ("Status", {"no_wrap": True}),
                        ("Note", {"max_width": 64})):
            ref.add_column(col, **kw)
        for m, ch in refs:
            status = Text(ch.status, style={REPRODUCED: "green", NOT_REPRODUCED: "bold red"}.get(ch.status, "cyan"))
            ref.add_row(m.label, Text(ch.figure), Text(ch.published), fmt_computed(ch.computed), status,
                        Text(ch.note))
        parts.append(ref)
    return Group(*parts)
