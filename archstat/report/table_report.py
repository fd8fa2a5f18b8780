"""The rich terminal table: conventions in the header, the slide's weight formulas, totals,
then the published-vs-computed block."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from archstat.analyze.references import NOT_REPRODUCED, REPRODUCED
from archstat.analyze.stats import ModelStats
from archstat.report.rows import cells, describe_run, header, total_cells
from archstat.report.units import compute_unit, fmt_bytes_both, fmt_computed, fmt_int, fmt_si


def conventions_line(units: str, folded: bool) -> str:
    unit, _ = compute_unit(units)
    compute = ("MACs = multiply-accumulates of conv and linear, bias excluded (FLOPs = 2×MACs)"
               if unit == "MACs" else "FLOPs = 2 × multiply-accumulates of conv and linear, bias excluded")
    fold = ("in-place ops and views (ReLU, dropout, flatten) fold into the row before (--unfold shows them)"
            if folded else "in-place ops and views shown as rows; they allocate nothing")
    return (f"{compute} · params = weights + biases\n"
            f"memory = output elements × batch × bytes (MB = 10^6 B) · {fold}\n"
            "shapes C×H×W per sample · RF = receptive field, input pixels one output unit sees")


def render(stats: ModelStats, units: str = "macs"):
    unit, factor = compute_unit(units)
    title = Text(stats.model, style="bold")  # Text everywhere: user strings are never rich markup
    if stats.description:
        title.append(f" — {stats.description}", style="")
    table = Table(box=box.SIMPLE_HEAD, show_footer=True, title=None, pad_edge=False)
    totals = total_cells(stats, units)
    numeric = {"activations", "memory", "weights", "biases", "params", unit, "rf", "saved"}
    for col, foot in zip(header(stats, units), totals):
        if col == "op":
            continue
        heading = {"rf": "RF", unit: unit}.get(col, col.capitalize())
        table.add_column(heading, footer=foot,
                         justify="right" if col in numeric else "left",
                         footer_style="bold", no_wrap=True)
    for row in stats.rows:
        values = cells(row, units, bool(stats.training))
        values.pop(2)  # the op column: the label says it
        style = "dim" if row.op == "input" else ("italic" if row.aux else None)
        table.add_row(*(Text(v) for v in values), style=style)
    t = stats.totals
    lines = [
        f"params       {fmt_int(t.params):>18} ({fmt_si(t.params)}) = {fmt_int(t.weights)} weights + "
        f"{fmt_int(t.biases)} biases",
        f"{unit:<12} {fmt_int(t.macs * factor):>18} ({fmt_si(t.macs * factor)})"
        + ("" if t.complete else f" — a lower bound: {t.uncounted_text()}"),
        f"activations  {fmt_int(t.activation_elements):>18} elements × {stats.bytes_per_element} B = "
        f"{fmt_bytes_both(t.activation_bytes)} (forward, batch {stats.batch})",
    ]
    if stats.expected:
        lines.append(f"expected per training step ({stats.expected['note']}): "
                     f"{stats.expected['macs'] * factor:,.0f} {unit}, {stats.expected['layers']:.1f} layers with weights")
    if stats.training:
        lines += ["", *training_lines(stats.training)]
    parts = [title, Text(describe_run(stats), style="dim"), *(Text(n, style="yellow") for n in stats.notes),
             Text(conventions_line(units, stats.folded), style="dim"), table, Text("\n".join(lines))]
    if stats.not_counted:
        names = ", ".join(f"{r.name} ({r.op})" for r in stats.not_counted[:8])
        more = f" and {len(stats.not_counted) - 8} more" if len(stats.not_counted) > 8 else ""
        parts.append(Text(f"not counted (archstat has no formula; their MACs are missing from the total): "
                          f"{names}{more}", style="yellow"))
    if stats.references:
        parts.append(references_table(stats))
    elif stats.references_skipped:
        parts.append(Text(stats.references_skipped, style="dim"))
    return Group(*parts)


def training_lines(t) -> list[str]:
    """The training-memory block: each part, the total, and what the estimate leaves out."""
    p = "fp32 master weights, autocast (amp)" if t.amp else "parameter dtype"
    lines = [f"training memory (optimizer {t.optimizer}{', amp' if t.amp else ''}):",
             f"  parameters             {fmt_bytes_both(t.param_bytes):>28}  ({p})",
             f"  gradients              {fmt_bytes_both(t.grad_bytes):>28}",
             f"  optimizer state        {fmt_bytes_both(t.optimizer_bytes):>28}"]
    if t.amp:
        lines.append(f"  autocast weight copies {fmt_bytes_both(t.weight_copy_bytes):>28}")
    lines += [f"  saved activations      {fmt_bytes_both(t.saved_bytes):>28}  (what backward needs, each tensor once)",
              f"  total                  {fmt_bytes_both(t.total):>28}",
              f"  not included: {t.leaves_out}"]
    return lines


def references_table(stats: ModelStats) -> Table:
    ref = Table(title="Published vs computed (per image, at the published precision)", title_justify="left",
                box=box.SIMPLE_HEAD, pad_edge=False, title_style="bold")
    ref.add_column("Figure", no_wrap=True)
    ref.add_column("Published", max_width=48)
    ref.add_column("Computed", justify="right", no_wrap=True)
    ref.add_column("Status", no_wrap=True)
    ref.add_column("Note and source", max_width=72)
    for c in stats.references:
        status = Text(c.status, style={REPRODUCED: "green", NOT_REPRODUCED: "bold red"}.get(c.status, "cyan"))
        note = Text(c.note + ("; " if c.note and c.source else "") + (f"source: {c.source}" if c.source else ""))
        ref.add_row(Text(c.figure), Text(c.published), fmt_computed(c.computed), status, note)
    return ref
