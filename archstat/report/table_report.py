"""The terminal table: conventions in the header, the slide's weight formulas, totals, then the
published-vs-computed block as stacked entries. Fitted to the width by ``report.fit``."""

from __future__ import annotations

from typing import Optional

from archstat.analyze.references import NOT_REPRODUCED, REPRODUCED
from archstat.analyze.stats import ModelStats
from archstat.report.fit import Col, Doc, View, stacked, wrap
from archstat.report.fit import render as fit_render
from archstat.report.rows import cells, describe_run, final_field, final_field_text, header, outputs_lines, total_cells
from archstat.report.units import (
    compute_unit,
    fmt_bytes_both,
    fmt_bytes_compact,
    fmt_compact,
    fmt_computed,
    fmt_int,
    fmt_int_short,
)

# column key → (full header, short header, keep: the higher, the later it is dropped)
COLUMNS = {
    "layer": ("Layer", "", 100), "label": ("Label", "", 90), "output": ("Output", "", 80),
    "activations": ("Activations", "Activ.", 30), "memory": ("Memory", "Mem.", 60),
    "weights": ("Weights", "", 20), "biases": ("Biases", "", 10), "params": ("Params", "", 70),
    "macs": ("MACs", "", 85), "flops": ("FLOPs", "", 85), "rf": ("RF", "", 40), "saved": ("Saved", "", 50),
}
EXACT_INT = {"activations", "biases", "params", "macs", "flops"}


def conventions_text(units: str, folded: bool) -> list[str]:
    unit, _ = compute_unit(units)
    compute = ("MACs = multiply-accumulates of conv, linear and matmul, bias excluded (FLOPs = 2×MACs)"
               if unit == "MACs" else "FLOPs = 2 × multiply-accumulates of conv, linear and matmul, bias excluded")
    fold = ("in-place ops and views (ReLU, dropout, flatten) fold into the row before (--unfold shows them)"
            if folded else "in-place ops and views shown as rows; they allocate nothing")
    return [f"{compute} · params = weights + biases",
            f"memory = output elements × batch × bytes (MB = 10^6 B) · {fold}",
            "shapes C×H×W per sample · RF = receptive field, input pixels one output unit sees; "
            "'global' once a layer sees its whole input · compact numbers (1.85 G) are rounded to 3 digits"]


def _compact_cell(text: str, value: int, key: str) -> str:
    """The short form of one cell: blanks and words stay as they are."""
    if not text or (not text[0].isdigit() and text[0] != "(" and text[0] != "-"):
        return text
    return fmt_bytes_compact(value) if key in ("memory", "saved") else fmt_compact(value)


def columns(stats: ModelStats, units: str) -> list[Col]:
    """The per-layer table as fit columns: exact cells first, compact ones after."""
    unit, factor = compute_unit(units)
    keys = [k.lower() if k in ("MACs", "FLOPs") else k for k in header(stats, units)]
    training = bool(stats.training)
    rows = [cells(r, units, training) for r in stats.rows]
    totals = total_cells(stats, units)
    values = {
        "activations": [r.activation_elements for r in stats.rows], "memory": [r.activation_bytes for r in stats.rows],
        "weights": [r.weights for r in stats.rows], "biases": [r.biases for r in stats.rows],
        "params": [r.params for r in stats.rows], unit.lower(): [r.macs * factor for r in stats.rows],
        "saved": [r.saved_bytes for r in stats.rows],
    }
    t = stats.totals
    total_values = {"activations": t.activation_elements, "memory": t.activation_bytes, "weights": t.weights,
                    "biases": t.biases, "params": t.params, unit.lower(): t.macs * factor,
                    "saved": stats.training.saved_bytes if training else 0}
    cols = []
    for i, key in enumerate(keys):
        if key == "op":
            continue
        head, short, keep = COLUMNS[key]
        exact = [r[i] for r in rows]
        variants, foot = [exact], [totals[i]]
        if key == "weights":   # the slide's formula, then the exact count, then compact
            plain = [fmt_int(w) if w else "" for w in values["weights"]]
            variants.append(plain)
            foot.append(totals[i])
        if key in values:
            variants.append([_compact_cell(c, v, key) for c, v in zip(variants[-1], values[key])])
            foot.append(_compact_cell(totals[i], total_values[key], key))
        cols.append(Col(key, head, variants, short=short, keep=keep, foot=foot,
                        right=key in EXACT_INT or key in ("memory", "weights", "rf", "saved")))
    return cols


def render(stats: ModelStats, units: str = "macs", view: Optional[View] = None) -> Doc:
    view = view or View()
    width = view.width if not view.wide else 10**6
    doc = Doc()
    title = stats.model + (f" — {stats.description}" if stats.description else "")
    doc.add(wrap(title, width), "bold")
    doc.add(wrap(describe_run(stats), width), "dim")
    for note in stats.notes:
        doc.add(wrap(note, width), "yellow")
    for line in conventions_text(units, stats.folded):
        doc.add(wrap(line, width), "dim")
    doc.add("")
    styles = ["dim" if r.op == "input" else ("italic" if r.aux else None) for r in stats.rows]
    doc.extend(fit_render(columns(stats, units), view, styles))
    doc.add("")
    for line in summary_lines(stats, units):
        doc.add(wrap(line, width, "    "))
    if stats.source == "module" and stats.outputs:
        lines = outputs_lines(stats)
        total = max(stats.outputs_total or 0, len(stats.outputs))
        doc.add(wrap("outputs      " + (lines[0] if len(lines) == 1 else f"{total:,}:"), width, "    "))
        for line in lines[1:] if len(lines) == 1 else lines:
            doc.add(wrap("  " + line, width, "    "))
    if stats.conventions is not None:
        doc.add("")
        for line in stats.conventions.lines(units):
            doc.add(wrap(line, width, "    "))
    if stats.training:
        doc.add("")
        for line in training_lines(stats.training):
            doc.add(wrap(line, width, "    "))
    if stats.not_counted:
        names = ", ".join(f"{r.name} ({r.op})" for r in stats.not_counted[:8])
        more = f" and {len(stats.not_counted) - 8} more" if len(stats.not_counted) > 8 else ""
        doc.add(wrap(f"not counted (archstat has no formula; their MACs are missing from the total): "
                     f"{names}{more}", width), "yellow")
    if stats.references:
        doc.add("")
        doc.extend(references_block(stats.references, width))
    elif stats.references_skipped:
        doc.add(wrap(stats.references_skipped, width), "dim")
    return doc


def summary_lines(stats: ModelStats, units: str) -> list[str]:
    unit, factor = compute_unit(units)
    t = stats.totals
    data = ", ".join(f"{d['op']} ×{d['calls']}" for d in t.data_dependent)
    lines = [f"params       {fmt_int_short(t.params)} = {fmt_int(t.weights)} weights + {fmt_int(t.biases)} biases",
             f"{unit:<12} {fmt_int_short(t.macs * factor)}"
             + ("" if t.complete else f" — a lower bound: {t.uncounted_text()}")
             + (f" — depends on the data ({data}: see the note above)" if data else ""),
             f"activations  {fmt_int(t.activation_elements)} elements × {stats.bytes_per_element} B = "
             f"{fmt_bytes_both(t.activation_bytes)} (forward, batch {stats.batch})"]
    rf, then_global = final_field(stats)
    if rf is not None:
        at = next((r.name for r in reversed(stats.rows) if r.rf == rf), "")
        lines.append(f"receptive field {final_field_text(stats)}" + (
            f" (at {at}; the layers after it see their whole input: global)" if then_global and at else ""))
    if stats.expected:
        lines.append(f"expected per training step ({stats.expected['note']}): "
                     f"{stats.expected['macs'] * factor:,.0f} {unit}, {stats.expected['layers']:.1f} layers with "
                     "weights")
    return lines


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


STATUS_STYLE = {REPRODUCED: "green", NOT_REPRODUCED: "red"}


def references_block(checks, width: int, title: str = "Published vs computed (per image, at the published "
                     "precision)") -> Doc:
    """One stacked entry per figure: name and verdict, then published, computed, note and source."""
    return stacked(title, [(f"{c.figure}  {c.status}", STATUS_STYLE.get(c.status, "bold"),
                            [("published", c.published), ("computed", fmt_computed(c.computed)),
                             ("note", c.note), ("source", c.source)]) for c in checks], width)
