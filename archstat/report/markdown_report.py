"""Markdown output: the per-layer table, totals and the published-vs-computed block."""

from __future__ import annotations

from archstat.analyze.stats import ModelStats
from archstat.report.rows import cells, describe_run, header, total_cells
from archstat.report.sanitize import md_row, md_rule, md_text
from archstat.report.units import compute_unit, fmt_bytes_both, fmt_computed, fmt_int, fmt_int_short


def render(stats: ModelStats, units: str = "macs") -> str:
    unit, factor = compute_unit(units)
    out = [f"## {md_text(stats.model)}", ""]
    if stats.description:
        out += [md_text(stats.description), ""]
    out += [md_text(describe_run(stats)), ""]
    cols = header(stats, units)
    out.append(md_row(cols))
    out.append(md_rule(["---"] * 3 + ["---:"] * (len(cols) - 3)))
    for r in stats.rows:
        out.append(md_row(cells(r, units, bool(stats.training))))
    out.append(md_row(f"**{c}**" if c else "" for c in total_cells(stats, units)))
    t = stats.totals
    out += ["", f"- params: {fmt_int_short(t.params)} = {fmt_int(t.weights)} weights + "
            f"{fmt_int(t.biases)} biases",
            f"- {unit}: {fmt_int_short(t.macs * factor)}",
            f"- activations: {fmt_int(t.activation_elements)} elements = {fmt_bytes_both(t.activation_bytes)}"]
    if stats.references:
        out += ["", "### Published vs computed", "",
                md_row(["figure", "published", "computed", "status", "note", "source"]),
                md_rule(["---"] * 6)]
        for c in stats.references:
            out.append(md_row([c.figure, c.published, fmt_computed(c.computed), c.status, c.note, c.source]))
    return "\n".join(out) + "\n"
