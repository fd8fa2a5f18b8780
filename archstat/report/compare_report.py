"""Rendering a Comparison: totals side by side with ratios, the aligned breakdown, and each
model's published-vs-computed checks."""

from __future__ import annotations

from typing import Any

from archstat.analyze.compare import Compared, Comparison
from archstat.report.json_report import rf_dict, stats_dict
from archstat.report.rows import final_field_text
from archstat.report.sanitize import csv_text, md_row, md_rule, md_text, to_json
from archstat.report.units import (
    compute_unit,
    fmt_bytes,
    fmt_bytes_compact,
    fmt_compact,
    fmt_computed,
    fmt_int,
    fmt_shape,
)

MISSING = "—"


def _title(m: Compared) -> str:
    sets = ", ".join(f"{k}={v}" for k, v in m.sets.items())
    return f"{m.label}: {m.stats.model}" + (f" ({sets})" if sets else "")


def _ratio(m: Compared, first: Compared, metric: str) -> str:
    r = m.ratio(first, metric)
    return "" if r is None or m is first else f" ×{r:.3g}"


def totals_rows(c: Comparison, units: str) -> list[tuple[str, list[str], list[str]]]:
    """The totals as data: (metric, exact cell per model, compact cell per model). Extra rows come
    from ``c.extra_totals`` (same shape), so a new total (a predicted latency) needs no new code here."""
    unit, factor = compute_unit(units)
    first = c.models[0]

    def metric(name, key, exact, compact, scale=1):
        values = [m.total(key) * scale for m in c.models]
        return (name, [f"{exact(v)}{_ratio(m, first, key)}" for v, m in zip(values, c.models)],
                [f"{compact(v)}{_ratio(m, first, key)}" for v, m in zip(values, c.models)])

    same = [fmt_shape(m.stats.output_shape) for m in c.models]
    fields = [final_field_text(m.stats, long=True) for m in c.models]
    layers = [str(m.stats.layers) if m.stats.layers is not None else "—" for m in c.models]
    return [
        metric("params", "params", fmt_int, fmt_compact),
        _lower_bounds(c, metric(unit, "macs", fmt_int, fmt_compact, factor)),
        metric("activations", "activation_bytes", fmt_bytes, fmt_bytes_compact),
        ("output", same, same),
        ("receptive field", fields, [final_field_text(m.stats) for m in c.models]),
        ("layers with weights", layers, layers),
    ] + list(getattr(c, "extra_totals", []))


def _lower_bounds(c: Comparison, row):
    """'≥ ' before the MACs of a model whose total leaves out ops archstat has no formula for."""
    name, exact, compact = row
    marks = ["" if m.stats.totals.complete else "≥ " for m in c.models]
    return name, [k + v for k, v in zip(marks, exact)], [k + v for k, v in zip(marks, compact)]


def totals_lines(c: Comparison, units: str) -> list[list[str]]:
    """Rows of the totals table: metric, then one exact cell per model."""
    return [[name, *exact] for name, exact, _ in totals_rows(c, units)]


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
    models: list[dict[str, Any]] = []
    for m in c.models:
        d = stats_dict(m.stats, units)
        models.append({
            "label": m.label, "model": m.stats.model, "given": m.model, "set": dict(m.sets),
            "params": d["params"], "input": d["input"], "output_shape": d["output_shape"],
            "receptive_field": rf_dict(m.stats.receptive_field), "layers_with_weights": m.stats.layers,
            "totals": d["totals"],
            "ratio_to_first": {k: m.ratio(first, k) for k in ("params", "macs", "activation_bytes")},
            "references": d["references"],
            **{e.key: e.values[len(models)] for e in getattr(c, "extras", [])},
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


def render(c: Comparison, fmt: str, units: str, view=None):
    if fmt == "json":
        return to_json(as_dict(c, units))
    if fmt == "csv":
        _, factor = compute_unit(units)
        lines: list[list[Any]] = [["name"] + [f"{m.label}_{k}" for m in c.models
                                              for k in ("output_shape", "params", units)]]
        for aligned in c.rows:
            cells: list[Any] = [aligned.name]
            for row in aligned.rows:
                cells += ["", "", ""] if row is None else [
                    "x".join(map(str, row.output_shape)), row.params, row.macs * factor]
            lines.append(cells)
        lines.append(["TOTAL"] + [v for m in c.models for v in (
            "x".join(map(str, m.stats.output_shape)), m.total("params"), m.total("macs") * factor)])
        return csv_text(lines)
    if fmt == "markdown":
        return _markdown(c, units)
    if fmt == "html":
        from archstat.report.html_report import comparison_page

        return comparison_page(c, units)
    return _fitted(c, units, view)


def _markdown(c: Comparison, units: str) -> str:
    out = ["## " + md_text(" vs ".join(_title(m) for m in c.models)), ""]
    out.append(md_row(["total"] + [m.label for m in c.models]))
    out.append(md_rule(["---"] + ["---:"] * len(c.models)))
    out += [md_row(line) for line in totals_lines(c, units)]
    out += ["", md_row(breakdown_header(c, units)), md_rule(["---"] + ["---:"] * (3 * len(c.models)))]
    out += [md_row(cells) for cells in breakdown_cells(c, units)]
    refs = [(m, ch) for m in c.models for ch in m.stats.references]
    if refs:
        out += ["", "### Published vs computed", "", md_row(["model", "figure", "published", "computed",
                                                              "status", "note"]), md_rule(["---"] * 6)]
        out += [md_row([m.label, ch.figure, ch.published, fmt_computed(ch.computed), ch.status, ch.note])
                for m, ch in refs]
    return "\n".join(out) + "\n"


def _fitted(c: Comparison, units: str, view):
    """Totals (one column per model), the rows matched by name, and each model's checks, each
    fitted to the width."""
    from archstat.report.fit import Col, Doc, View, wrap
    from archstat.report.fit import render as fit_render
    from archstat.report.table_report import references_block

    view = view or View()
    width = view.width if not view.wide else 10**6
    first = c.models[0]
    doc = Doc().add(wrap(" vs ".join(_title(m) for m in c.models), width), "bold")
    doc.add(wrap(f"batch {first.stats.batch} · {first.stats.dtype} · mode {first.stats.mode} · ratios (×) are to "
                 f"{first.label}; MACs = multiply-accumulates of conv, linear and matmul; compact numbers (1.85 G) are "
                 "rounded to 3 digits", width), "dim")
    doc.add("")
    rows = totals_rows(c, units)
    cols = [Col("total", "Total", [[name for name, _, _ in rows]], keep=100)]
    for i, m in enumerate(c.models):
        cols.append(Col(m.label.lower(), _title(m), [[r[1][i] for r in rows], [r[2][i] for r in rows]],
                        short=m.label, right=True, keep=99 - i))
    doc.extend(fit_render(cols, View(view.width, None, view.wide), what="models"))
    doc.add("")
    doc.add("Rows matched by name (— : no such row)", "bold")
    unit, factor = compute_unit(units)
    cols = [Col("layer", "Layer", [[a.name for a in c.rows]], keep=100)]
    for i, m in enumerate(c.models):
        present = [row for row in (a.rows[i] for a in c.rows)]
        for key, head, keep, exact, compact in (
                ("output", "output", 30, lambda r: fmt_shape(r.output_shape), None),
                ("params", "params", 75, lambda r: fmt_int(r.params), lambda r: fmt_compact(r.params)),
                (unit.lower(), unit, 90, lambda r: fmt_int(r.macs * factor),
                 lambda r: fmt_compact(r.macs * factor))):
            variants = [[MISSING if r is None else exact(r) for r in present]]
            if compact:
                variants.append([MISSING if r is None else compact(r) for r in present])
            cols.append(Col(f"{m.label.lower()}.{key}", f"{m.label} {head}", variants, right=True,
                            keep=keep - i))
    styles = ["yellow" if None in a.rows else None for a in c.rows]
    doc.extend(fit_render(cols, view, styles))
    for m in c.models:
        if m.stats.references:
            doc.add("")
            doc.extend(references_block(m.stats.references, width, f"Published vs computed: {_title(m)}"))
    return doc
