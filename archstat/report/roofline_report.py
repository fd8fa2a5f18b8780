"""A Roofline in the four formats; JSON keys are stable (README, "Roofline")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archstat._version import __version__
from archstat.analyze.compare import ExtraTotal
from archstat.perf.roofline import Roofline, RoofRow
from archstat.report.sanitize import csv_text, md_row, md_rule, md_text, to_json
from archstat.report.units import fmt_bytes, fmt_bytes_compact, fmt_compact, fmt_int, fmt_si

if TYPE_CHECKING:
    from archstat.analyze.devices import Roof

TRAFFIC_MODEL = ("the runtime's kernels (archstat.perf.plan): each reads what it takes from memory once and writes "
                 "what leaves it once, at the run's dtypes; reads of tensors still in the L2 come from there; "
                 "views move nothing")
TIME_MODEL = ("per kernel max(compute, memory) + launch, compute by tiles and waves over the SMs at the efficiency of "
              "its kind, memory at the bandwidth efficiency of its kind; the host launches kernels ahead of the "
              "device: latency ≈ max(host, device) over the program")
COLUMNS = ["name", "label", "op", "kind", "macs", "flops", "read_bytes", "weight_bytes", "written_bytes",
           "cached_bytes", "bytes",
           "intensity_flop_per_byte", "bound", "attainable_flop_per_s", "compute_s", "memory_s", "device_s",
           "host_s", "kernels", "share"]


def row_dict(r: RoofRow) -> dict:
    d = {"name": r.name, "label": r.label, "op": r.op, "kind": r.kind, "macs": r.macs, "flops": r.flops,
         "read_bytes": r.read_bytes, "weight_bytes": r.weight_bytes, "written_bytes": r.written_bytes,
         "cached_bytes": r.cached_bytes,
         "bytes": r.bytes, "intensity_flop_per_byte": r.intensity, "bound": r.bound,
         "attainable_flop_per_s": r.attainable, "compute_s": r.compute_s, "memory_s": r.memory_s,
         "device_s": r.device_s, "host_s": r.host_s, "kernels": r.kernels, "share": r.share, "counted": r.counted,
         "math": r.math or None}
    if r.contains:
        d["contains"] = list(r.contains)
    if r.notes:
        d["notes"] = list(r.notes)
    return d


def device_dict(rl: Roofline) -> dict:
    roof, spec = rl.roof, rl.device
    return {"key": roof.device, "name": roof.name, "entry": roof.entry, "peak_dtype": roof.dtype,
            "peak_flop_per_s": roof.peak_flops, "bandwidth_bytes_per_s": roof.bandwidth,
            "overhead_s": roof.overhead_s, "ridge_flop_per_byte": roof.ridge, "sms": spec.sms,
            "l2_bytes": spec.l2_bytes, "peaks_flop_per_s": dict(spec.peaks), "sources": dict(roof.sources),
            "calibration": roof.calibration}


def totals_dict(rl: Roofline) -> dict:
    return {"macs": rl.macs, "flops": 2 * rl.macs, "bytes": rl.bytes,
            "intensity_flop_per_byte": 2 * rl.macs / rl.bytes if rl.bytes else None,
            "predicted_s": rl.predicted_s, "host_s": rl.host_s, "device_s": rl.device_s, "idle_s": rl.idle_s,
            "bound": rl.bound, "host_bound": rl.host_bound, "throughput_samples_per_s": rl.throughput,
            "kernels": rl.kernels, "clock_share": rl.clock_share, "coefficient_set": rl.coefficient_set,
            "memory_bound_layer_share": rl.memory_bound_layer_share,
            "memory_bound_time_share": rl.memory_bound_time_share, "complete": rl.complete}


# the dtype a run keeps its tensors in, by its precision (the trace itself is float32): a pure fp16 run stores
# float16; autocast keeps float32 weights (the master copy); an engine's int8 plan stores int8 weights
_RUN_DTYPE = {"fp32": "float32", "tf32": "float32", "fp16": "float16", "bf16": "bfloat16", "amp-fp16": "float32",
              "amp-bf16": "float32", "int8": "int8"}


def _tf32(rl: Roofline) -> dict:
    """Whether float32 convolutions and matmuls ran in TF32: only a float32 run on a GPU with TF32 tensor cores
    (compute capability 8.0 and later) has any; under fp16, bf16, int8 or autocast no float32 product runs."""
    applies = (rl.precision in ("fp32", "tf32") and rl.device.kind == "gpu"
               and rl.device.compute_capability >= 8.0)
    return {k: bool(applies and rl.tf32.get(k, False)) for k in ("conv", "matmul")}


def as_dict(rl: Roofline) -> dict:
    return {"archstat_version": __version__, "model": rl.model, "device": device_dict(rl), "batch": rl.batch,
            "runtime": rl.runtime, "precision": rl.precision, "train": rl.train, "tf32": _tf32(rl),
            "dtype": _RUN_DTYPE.get(rl.precision, rl.storage_dtype), "depth": rl.depth, "traffic_model": TRAFFIC_MODEL,
            "time_model": TIME_MODEL,
            "layers": [row_dict(r) for r in rl.rows], "totals": totals_dict(rl), "band": rl.band,
            "warnings": list(rl.warnings), "notes": list(rl.notes)}


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _cells(r: RoofRow) -> list[str]:
    intensity = "—" if r.intensity is None else f"{r.intensity:.1f}"
    return [r.name, r.kind, fmt_si(r.macs) if r.counted else "not counted", fmt_bytes(r.bytes), intensity,
            r.bound, f"{fmt_si(r.attainable)}FLOP/s" if r.attainable else "—", str(r.kernels),
            fmt_time(r.device_s), f"{100 * r.share:.1f} %"]


HEADER = ["layer", "kind", "MACs", "bytes", "FLOP/B", "bound", "attainable", "kernels", "device", "share"]


def sources_text(roof: Roof, with_overhead: bool = True) -> str:
    """'peak, bandwidth: datasheet · overhead: calibrated …': each figure's source, once."""
    groups: dict[str, list[str]] = {}
    for what in ("peak", "bandwidth") + (("overhead",) if with_overhead else ()):
        groups.setdefault(roof.sources.get(what, "?"), []).append(what)
    return " · ".join(f"{', '.join(whats)}: {source}" for source, whats in groups.items())


def _measured_overhead(roof: Roof) -> bool:
    source = roof.sources.get("overhead", "")
    return source.startswith("calibrated") or source == "--overhead"


def _roof_line(roof: Roof, prediction: bool = True) -> str:
    """The device's figures and their sources. In a prediction the host costs are the performance
    model's (fitted per operator class) unless a calibration or --overhead gives the per-op overhead."""
    overhead = not prediction or _measured_overhead(roof)
    host = (f" · overhead {roof.overhead_s * 1e6:.1f} µs per op" if overhead else
            " · host costs per operator: archstat/data/perf.yaml")
    return (f"peak {fmt_si(roof.peak_flops)}FLOP/s · bandwidth {fmt_si(roof.bandwidth)}B/s{host} · ridge "
            f"{roof.ridge:.1f} FLOP/B\n"
            f"sources: {sources_text(roof, overhead)}")


def calibration_load(roof: Roof) -> str:
    """'calibration: load 3.62 (1-minute average) on 2 CPUs: busy, … when it began', or '' (no calibration,
    or one taken before archstat recorded the load); a busy machine's says to calibrate again when idle."""
    load = ((roof.calibration or {}).get("method") or {}).get("load", "")
    if not load or not any(str(s).startswith("calibrated") for s in roof.sources.values()):
        return ""
    busy = "busy" in load
    return (f"calibration: {load}" + ("; its peak, bandwidth and overhead are what the machine gave then: "
                                      "calibrate again when it is idle" if busy else ""))


def roof_lines(roof: Roof) -> str:
    """The roof of a device alone (what --calibrate shows): figures, their sources, the method."""
    lines = [f"{roof.name} ({roof.device}) · {roof.dtype}", _roof_line(roof, prediction=False)]
    if calibration_load(roof):
        lines.append(calibration_load(roof))
    if "datasheet" in roof.sources:
        lines.append(f"datasheet: {roof.sources['datasheet']}")
    for what, how in ((roof.calibration or {}).get("method") or {}).items():
        lines.append(f"calibration {what}: {how}")
    return "\n".join(lines)


def _math_text(rl: Roofline) -> str:
    """'amp-fp16' · 'fp32 (conv in TF32, matmul in fp32)': what the arithmetic ran in."""
    if rl.precision in ("fp32",) and rl.device.kind == "gpu" and rl.tf32:
        conv = "TF32" if rl.tf32.get("conv") else "fp32"
        mm = "TF32" if rl.tf32.get("matmul") else "fp32"
        return f"fp32 (convolutions in {conv}, matmuls in {mm})"
    return rl.precision


def header_lines(rl: Roofline) -> list[str]:
    roof = rl.roof
    step = "one training step" if rl.train else "one forward"
    lines = [f"{rl.model} on {roof.name} ({roof.device}) · {rl.runtime} · {_math_text(rl)} · batch {rl.batch} · "
             f"{step}", _roof_line(roof)]
    if calibration_load(roof):
        lines.append(calibration_load(roof))
    if "datasheet" in roof.sources:
        lines.append(f"datasheet: {roof.sources['datasheet']}")
    lines += [f"traffic: {TRAFFIC_MODEL}", f"time: {TIME_MODEL}"]
    return lines


def band_text(rl: Roofline) -> str:
    """How far to trust the total: the validated error of predictions of this regime (cross-validated by
    architecture on measured devices, or leave-one-device-out for a device never measured)."""
    b = rl.band
    if not b or not b.get("n"):
        return "trust               no public measurements validate this kind of prediction"
    lo, hi = b["band"]
    how = b.get("how", "cross-validated")
    return (f"trust               median error {100 * b['median_error']:.0f} % over {b['n']:,} public measurements "
            f"of this regime ({b.get('regime', '')}, {how}); 80 % of them ran at {lo:.2f}–{hi:.2f}× the "
            f"predicted throughput ({fmt_time(rl.predicted_s / hi)} – {fmt_time(rl.predicted_s / lo)} here)")


def total_lines(rl: Roofline) -> list[str]:
    mark = "" if rl.complete else " (a lower bound: some rows have no MAC count)"
    what = "step" if rl.train else "batch"
    gpu = rl.device.kind == "gpu"
    bound = ("bound: host (launching takes longer than the GPU runs: it waits between kernels)"
             if rl.bound == "host" and gpu else "bound: device" if gpu else
             f"bound: {rl.bound} (a CPU: host and device in series)")
    lines = [f"predicted latency   {fmt_time(rl.predicted_s)} per {what}{mark} · {bound}",
             f"                    device {fmt_time(rl.device_s)} busy, host {fmt_time(rl.host_s)} launching "
             f"{rl.kernels:,} kernels" + (f", device idle {fmt_time(rl.idle_s)}" if rl.idle_s > 0 else ""),
             f"throughput          {rl.throughput:,.1f} samples/s",
             f"coefficients        {rl.coefficient_set}" + (f" · clock {100 * rl.clock_share:.0f} % of boost (power "
                                                             "limit)" if rl.clock_share < 1 else ""),
             band_text(rl),
             f"memory-bound        {100 * rl.memory_bound_layer_share:.0f} % of the rows, "
             f"{100 * rl.memory_bound_time_share:.0f} % of the device time",
             f"moved               {fmt_bytes(rl.bytes)} · {fmt_int(2 * rl.macs)} FLOPs"]
    lines += [f"note                {n}" for n in rl.notes]
    lines += [f"warning             {w}" for w in rl.warnings]
    return lines


def render(rl: Roofline, fmt: str, view=None):
    if fmt == "json":
        return to_json(as_dict(rl))
    if fmt == "csv":
        lines: list[list[Any]] = [COLUMNS]
        for r in rl.rows:
            d = row_dict(r)
            lines.append([d[c] for c in COLUMNS])
        t = totals_dict(rl)
        lines.append(["TOTAL", "", "", "", t["macs"], t["flops"], "", "", "", "", t["bytes"],
                      t["intensity_flop_per_byte"], t["bound"], "", "", "", t["device_s"], t["host_s"], t["kernels"],
                      1.0])
        return csv_text(lines)
    if fmt == "markdown":
        head = "\n".join(header_lines(rl)).split("\n")
        out = [f"## {md_text(rl.model)}: roofline", ""] + [f"- {md_text(x)}" for x in head] + [""]
        out += [md_row(HEADER), md_rule(["---", "---"] + ["---:"] * 3 + ["---"] + ["---:"] * 4)]
        out += [md_row(_cells(r)) for r in rl.rows]
        out += [""] + [f"- {md_text(x)}" for x in total_lines(rl)]
        return "\n".join(out) + "\n"
    return _fitted(rl, view)


def _fitted(rl: Roofline, view):
    """The table fitted to the terminal's width (report/fit.py): no number is ever cut."""
    from archstat.report.fit import Col, Doc, View, wrap
    from archstat.report.fit import render as fit_render

    view = view or View()
    cells = [_cells(r) for r in rl.rows]
    column = lambda i: [c[i] for c in cells]
    compact_macs = [fmt_compact(r.macs) if r.counted else "not counted" for r in rl.rows]
    cols = [Col("layer", "Layer", [column(0)], keep=100),
            Col("kind", "Kind", [column(1)], keep=30),
            Col("macs", "MACs", [column(2), compact_macs], right=True, keep=60),
            Col("bytes", "Bytes", [column(3), [fmt_bytes_compact(r.bytes) for r in rl.rows]], right=True, keep=55),
            Col("intensity", "FLOP/B", [column(4)], right=True, keep=70),
            Col("bound", "Bound", [column(5), [b[:3] for b in column(5)]], keep=80),
            Col("attainable", "Attainable", [column(6)], short="Attain.", right=True, keep=40),
            Col("kernels", "Kernels", [column(7)], short="Kern.", right=True, keep=35),
            Col("device", "Device", [column(8)], short="Dev.", right=True, keep=95),
            Col("share", "Share", [column(9)], right=True, keep=90)]
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
    where = f"{roof.device}, {rooflines[0].runtime}, {rooflines[0].precision}"
    return [
        ExtraTotal("predicted_latency_s", f"predicted latency ({where})", [r.predicted_s for r in rooflines],
                   [fmt_time(r.predicted_s) + ("" if i == 0 or not first else f" ×{r.predicted_s / first:.3g}")
                    for i, r in enumerate(rooflines)]),
        ExtraTotal("bound", "bound (what sets the latency)", [r.bound for r in rooflines],
                   [r.bound for r in rooflines]),
        ExtraTotal("memory_bound_time_share", "memory-bound time", [r.memory_bound_time_share for r in rooflines],
                   [f"{100 * r.memory_bound_time_share:.0f} %" for r in rooflines]),
    ]


# -- several devices: one model traced once, predicted on each ---------------------------------------------

def band_cell(rl: Roofline) -> str:
    """The band of the total in a few words: '0.82–1.31× (median 9 %, 212 runs)', or 'none' (no public
    measurement validates this regime); the full sentence is ``band_text``'s."""
    b = rl.band
    if not b or not b.get("n"):
        return "none validated"
    lo, hi = b["band"]
    return f"{lo:.2f}–{hi:.2f}× (median {100 * b['median_error']:.0f} %, {b['n']:,} runs)"


def _bound_cell(rl: Roofline) -> str:
    return rl.bound if rl.device.kind == "gpu" else f"{rl.bound} (a CPU: host and device in series)"


DEVICES_COLUMNS = ["device", "name", "predicted_s", "throughput_samples_per_s", "bound", "device_s", "host_s",
                   "idle_s", "kernels", "memory_bound_time_share", "coefficient_set", "band_low", "band_high",
                   "band_median_error", "band_n", "band_regime", "warnings"]


def _device_row(rl: Roofline) -> dict:
    b = rl.band if rl.band and rl.band.get("n") else {}
    lo, hi = b.get("band", (None, None))
    return {"device": rl.roof.device, "name": rl.roof.name, "predicted_s": rl.predicted_s,
            "throughput_samples_per_s": rl.throughput, "bound": rl.bound, "device_s": rl.device_s,
            "host_s": rl.host_s, "idle_s": rl.idle_s, "kernels": rl.kernels,
            "memory_bound_time_share": rl.memory_bound_time_share, "coefficient_set": rl.coefficient_set,
            "band_low": lo, "band_high": hi, "band_median_error": b.get("median_error"), "band_n": b.get("n"),
            "band_regime": b.get("regime"), "warnings": " · ".join(rl.warnings)}


def _devices_head(results: list[Roofline]) -> str:
    rl = results[0]
    step = "one training step" if rl.train else "one forward"
    return (f"{rl.model} on {len(results)} devices · {rl.runtime} · {rl.precision} · batch {rl.batch} · {step} "
            "(traced once, predicted on each)")


def _device_metrics(results: list[Roofline]) -> list[tuple[str, list[str]]]:
    first = results[0].predicted_s
    what = "step" if results[0].train else "batch"
    return [
        ("part", [rl.roof.name for rl in results]),
        (f"latency/{what}", [fmt_time(rl.predicted_s) + ("" if i == 0 or not first else
                                                             f" ×{rl.predicted_s / first:.2f}")
                                 for i, rl in enumerate(results)]),
        ("throughput", [f"{rl.throughput:,.1f}/s" for rl in results]),
        ("bound", [_bound_cell(rl) for rl in results]),
        ("device busy", [fmt_time(rl.device_s) for rl in results]),
        ("host launching", [fmt_time(rl.host_s) for rl in results]),
        ("kernels", [f"{rl.kernels:,}" for rl in results]),
        ("memory-bound time", [f"{100 * rl.memory_bound_time_share:.0f} %" for rl in results]),
        ("coefficients", [rl.coefficient_set or "—" for rl in results]),
        ("band", [band_cell(rl) for rl in results]),
    ]


def render_devices(results: list[Roofline], fmt: str, view=None):
    """One model on several devices: JSON a list (each object as for one device, in the order given); CSV
    and markdown a row per device; the table a column per device."""
    if fmt == "json":
        return to_json([as_dict(rl) for rl in results])
    if fmt == "csv":
        return csv_text([DEVICES_COLUMNS] + [[_device_row(rl)[c] for c in DEVICES_COLUMNS] for rl in results])
    metrics = _device_metrics(results)
    if fmt == "markdown":
        out = [f"## {md_text(results[0].model)}: roofline on {len(results)} devices", "",
               f"- {md_text(_devices_head(results))}", ""]
        out += [md_row(["device"] + [name for name, _ in metrics]),
                md_rule(["---", "---", "---:", "---:", "---", "---:", "---:", "---:", "---:", "---", "---"])]
        out += [md_row([rl.roof.device] + [cells[i] for _, cells in metrics]) for i, rl in enumerate(results)]
        out += [""] + [f"- {md_text(rl.roof.device)}: {md_text(x)}" for rl in results
                       for x in [*rl.notes, *(f"warning: {w}" for w in rl.warnings)]]
        return "\n".join(out) + "\n"
    from archstat.report.fit import Col, Doc, View, wrap
    from archstat.report.fit import render as fit_render

    view = view or View()
    width = view.width if not view.wide else 10**6
    doc = Doc().add(wrap(_devices_head(results), width), "bold")
    doc.add(wrap("latency: the host launching kernels ahead of the device, overlapped (bound: which of the two sets "
                 "it; ×: to the first device); band: where 80 % of the public measurements of the prediction's regime "
                 "ran, as measured ÷ predicted throughput, their median error and number; per-layer rows: --device "
                 "with one device, or --format json", width, "  "), "dim")
    doc.add("")
    cols = [Col("total", "", [[name for name, _ in metrics]], keep=100, wrap=12)]
    for i, rl in enumerate(results):
        cols.append(Col(rl.roof.device, rl.roof.device, [[cells[i] for _, cells in metrics]], keep=100,
                        wrap=12))   # every device stays: columns wrap, none is dropped
    doc.extend(fit_render(cols, View(view.width, None, view.wide), what="devices"))
    for rl in results:
        for line in [*(f"note     {n}" for n in rl.notes), *(f"warning  {w}" for w in rl.warnings)]:
            doc.add(wrap(f"{rl.roof.device}: {line}", width, "  "))
    for rl in results:
        doc.add(wrap(f"{rl.roof.device}: {_roof_line(rl.roof).replace(chr(10), ' · ')}", width, "  "), "dim")
    return doc
