"""A Roofline in the four formats; JSON keys are stable (README, "Roofline")."""

from __future__ import annotations

from archstat import __version__
from archstat.analyze.compare import ExtraTotal
from archstat.analyze.roofline import RoofRow, Roofline
from archstat.report.sanitize import csv_text, md_row, md_rule, md_text, to_json
from archstat.report.units import fmt_bytes, fmt_bytes_compact, fmt_compact, fmt_int, fmt_si

TRAFFIC_MODEL = ("each row reads its inputs and weights once and writes its output once, at the dtype's bytes; "
                 "folded in-place ops are fused (--unfold: a pass each); views move nothing")
TIME_MODEL = "max(2·MACs / peak, bytes / bandwidth) + overhead per op that moves data"
COLUMNS = ["name", "label", "op", "kind", "macs", "flops", "input_bytes", "weight_bytes", "output_bytes", "bytes",
           "intensity_flop_per_byte", "bound", "attainable_flop_per_s", "compute_s", "memory_s", "overhead_s",
           "predicted_s", "share"]


def row_dict(r: RoofRow) -> dict:
    d = {"name": r.name, "label": r.label, "op": r.op, "kind": r.kind, "macs": r.macs, "flops": r.flops,
         "input_bytes": r.input_bytes, "weight_bytes": r.weight_bytes, "output_bytes": r.output_bytes,
         "bytes": r.bytes, "intensity_flop_per_byte": r.intensity, "bound": r.bound,
         "attainable_flop_per_s": r.attainable, "compute_s": r.compute_s, "memory_s": r.memory_s,
         "overhead_s": r.overhead_s, "predicted_s": r.predicted_s, "share": r.share, "counted": r.counted}
    if r.input_guessed:
        d["input_guessed"] = True
    if r.contains:
        d["contains"] = list(r.contains)
    return d


def device_dict(rl: Roofline) -> dict:
    roof = rl.roof
    return {"key": roof.device, "name": roof.name, "peak_dtype": roof.dtype, "peak_flop_per_s": roof.peak_flops,
            "bandwidth_bytes_per_s": roof.bandwidth, "overhead_s": roof.overhead_s,
            "ridge_flop_per_byte": roof.ridge, "sources": dict(roof.sources),
            "calibration": roof.calibration}


def totals_dict(rl: Roofline) -> dict:
    return {"macs": rl.macs, "flops": 2 * rl.macs, "bytes": rl.bytes,
            "intensity_flop_per_byte": 2 * rl.macs / rl.bytes if rl.bytes else None,
            "predicted_s": rl.predicted_s, "overhead_s": rl.overhead_s,
            "throughput_samples_per_s": rl.throughput, "ops": len(rl.working),
            "memory_bound_layer_share": rl.memory_bound_layer_share,
            "memory_bound_time_share": rl.memory_bound_time_share, "complete": rl.complete}


def as_dict(rl: Roofline) -> dict:
    return {"archstat_version": __version__, "model": rl.model, "device": device_dict(rl), "batch": rl.batch,
            "dtype": rl.storage_dtype, "bytes_per_element": rl.bytes_per_element, "fused": rl.fused,
            "depth": rl.depth, "traffic_model": TRAFFIC_MODEL, "time_model": TIME_MODEL,
            "layers": [row_dict(r) for r in rl.rows], "totals": totals_dict(rl)}


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _cells(r: RoofRow) -> list[str]:
    intensity = "—" if r.intensity is None else f"{r.intensity:.1f}"
    return [r.name, r.kind, fmt_si(r.macs) if r.counted else "not counted", fmt_bytes(r.bytes), intensity,
            r.bound, f"{fmt_si(r.attainable)}FLOP/s" if r.attainable else "—", fmt_time(r.predicted_s),
            f"{100 * r.share:.1f} %"]


HEADER = ["layer", "kind", "MACs", "bytes", "FLOP/B", "bound", "attainable", "predicted", "share"]


def sources_text(roof) -> str:
    """'peak, bandwidth: datasheet · overhead: assumed (devices.yaml)': each figure's source, once."""
    groups: dict[str, list[str]] = {}
    for what in ("peak", "bandwidth", "overhead"):
        groups.setdefault(roof.sources.get(what, "?"), []).append(what)
    return " · ".join(f"{', '.join(whats)}: {source}" for source, whats in groups.items())


def _roof_line(roof) -> str:
    return (f"peak {fmt_si(roof.peak_flops)}FLOP/s · bandwidth {fmt_si(roof.bandwidth)}B/s · overhead "
            f"{roof.overhead_s * 1e6:.1f} µs per op · ridge {roof.ridge:.1f} FLOP/B\n"
            f"sources: {sources_text(roof)}")


def roof_lines(roof) -> str:
    """The roof of a device alone (what --calibrate shows): figures, their sources, the method."""
    lines = [f"{roof.name} ({roof.device}) · {roof.dtype}", _roof_line(roof)]
    if "datasheet" in roof.sources:
        lines.append(f"datasheet: {roof.sources['datasheet']}")
    for what, how in ((roof.calibration or {}).get("method") or {}).items():
        lines.append(f"calibration {what}: {how}")
    return "\n".join(lines)


def header_lines(rl: Roofline) -> list[str]:
    roof = rl.roof
    lines = [f"{rl.model} on {roof.name} ({roof.device}) · {roof.dtype} ({rl.bytes_per_element} B/element) · "
             f"batch {rl.batch}", _roof_line(roof)]
    if "datasheet" in roof.sources:
        lines.append(f"datasheet: {roof.sources['datasheet']}")
    lines += [f"traffic: {TRAFFIC_MODEL}", f"time: {TIME_MODEL}"]
    return lines


def total_lines(rl: Roofline) -> list[str]:
    mark = "" if rl.complete else " (a lower bound: some rows have no MAC count)"
    return [f"predicted latency   {fmt_time(rl.predicted_s)} per batch{mark} "
            f"(of which overhead {fmt_time(rl.overhead_s)})",
            f"throughput          {rl.throughput:,.1f} samples/s",
            f"memory-bound        {100 * rl.memory_bound_layer_share:.0f} % of the {len(rl.working)} ops, "
            f"{100 * rl.memory_bound_time_share:.0f} % of the time",
            f"moved               {fmt_bytes(rl.bytes)} · {fmt_int(2 * rl.macs)} FLOPs"]


def render(rl: Roofline, fmt: str, view=None):
    if fmt == "json":
        return to_json(as_dict(rl))
    if fmt == "csv":
        lines = [COLUMNS]
        for r in rl.rows:
            d = row_dict(r)
            lines.append([d[c] for c in COLUMNS])
        t = totals_dict(rl)
        lines.append(["TOTAL", "", "", "", t["macs"], t["flops"], "", "", "", t["bytes"], t["intensity_flop_per_byte"],
                      "", "", "", "", t["overhead_s"], t["predicted_s"], 1.0])
        return csv_text(lines)
    if fmt == "markdown":
        head = "\n".join(header_lines(rl)).split("\n")
        out = [f"## {md_text(rl.model)}: roofline", ""] + [f"- {md_text(x)}" for x in head] + [""]
        out += [md_row(HEADER), md_rule(["---", "---"] + ["---:"] * 3 + ["---"] + ["---:"] * 3)]
        out += [md_row(_cells(r)) for r in rl.rows]
        out += [""] + [f"- {md_text(x)}" for x in total_lines(rl)]
        return "\n".join(out) + "\n"
    return _fitted(rl, view)


def _fitted(rl: Roofline, view):
    """The table fitted to the terminal's width (report/fit.py): no number is ever cut."""
    from archstat.report.fit import Col, Doc, View, render as fit_render, wrap

    view = view or View()
    cells = [_cells(r) for r in rl.rows]
    column = lambda i: [c[i] for c in cells]  # noqa: E731
    compact_macs = [fmt_compact(r.macs) if r.counted else "not counted" for r in rl.rows]
    cols = [Col("layer", "Layer", [column(0)], keep=100),
            Col("kind", "Kind", [column(1)], keep=30),
            Col("macs", "MACs", [column(2), compact_macs], right=True, keep=60),
            Col("bytes", "Bytes", [column(3), [fmt_bytes_compact(r.bytes) for r in rl.rows]], right=True, keep=55),
            Col("intensity", "FLOP/B", [column(4)], right=True, keep=70),
            Col("bound", "Bound", [column(5), [b[:3] for b in column(5)]], keep=80),
            Col("attainable", "Attainable", [column(6)], short="Attain.", right=True, keep=40),
            Col("predicted", "Predicted", [column(7)], short="Pred.", right=True, keep=95),
            Col("share", "Share", [column(8)], right=True, keep=90)]
    width = view.width if not view.wide else 10**6
    head = "\n".join(header_lines(rl)).split("\n")
    doc = Doc().add(wrap(head[0], width), "bold")
    for line in head[1:]:
        doc.add(wrap(line, width, "  "), "dim")
    doc.extend(fit_render(cols, view, ["dim" if r.bound == "none" else None for r in rl.rows]))
    for line in total_lines(rl):
        doc.add(wrap(line, width, " " * 20))
    return doc


def compare_extras(rooflines: list[Roofline]) -> list[ExtraTotal]:
    """The predicted latency and memory-bound share of each compared model, with ratios to the first."""
    first = rooflines[0].predicted_s
    roof = rooflines[0].roof
    where = f"{roof.device}, {roof.dtype}"
    return [
        ExtraTotal("predicted_latency_s", f"predicted latency ({where})", [r.predicted_s for r in rooflines],
                   [fmt_time(r.predicted_s) + ("" if i == 0 or not first else f" ×{r.predicted_s / first:.3g}")
                    for i, r in enumerate(rooflines)]),
        ExtraTotal("memory_bound_time_share", "memory-bound time", [r.memory_bound_time_share for r in rooflines],
                   [f"{100 * r.memory_bound_time_share:.0f} %" for r in rooflines]),
    ]
