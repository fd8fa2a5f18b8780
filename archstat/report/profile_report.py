"""A profile in the four formats; JSON keys are stable (see the README)."""

from __future__ import annotations

import csv
import io
import json

from archstat.profile.measure import ESTIMATE_LEAVES_OUT
from archstat.report.units import fmt_bytes_both, fmt_compact, fmt_int, fmt_si


def profile_dict(p, top: int | None = None) -> dict:
    layers = sorted(p.layers, key=lambda x: -x.time_ms)[:top] if top else p.layers
    return {
        "model": p.model, "device": p.device, "device_name": p.device_name, "torch_version": p.torch_version,
        "dtype": p.dtype, "batch": p.batch, "mode": p.mode, "optimizer": p.optimizer,
        "channels_last": p.channels_last, "threads": p.threads, "warmup": p.warmup, "iters": p.iters,
        "latency_ms": {"median": p.median_ms, "p10": p.percentile(0.1), "p90": p.percentile(0.9)},
        "throughput_samples_per_s": p.throughput,
        "macs_per_step": p.macs_per_step, "macs_per_s": p.macs_per_s, "peak_share": p.peak_share,
        "memory": {"measured_peak_bytes": p.measured_peak_bytes, "weights_bytes": p.weights_bytes,
                   "rest_bytes": max(0, p.measured_peak_bytes - p.weights_bytes),
                   "estimate_bytes": p.estimate_bytes,
                   "ratio_measured_to_estimate": p.measured_peak_bytes / p.estimate_bytes if p.estimate_bytes else None,
                   "method": p.memory_method, "estimate_leaves_out": ESTIMATE_LEAVES_OUT},
        "layers": [{"name": x.name, "op": x.op, "time_ms": x.time_ms, "macs": x.macs, "macs_per_s": x.macs_per_s}
                   for x in layers],
    }


# the per-layer table: (key, header, exact cell, compact cell or None, keep). A profile may add its own
# columns as ``extra_layer_columns`` (same shape), e.g. a predicted time beside the measured one.
LAYER_COLUMNS = [
    ("layer", "Layer", lambda x: x.name, None, 100),
    ("op", "Op", lambda x: x.op, None, 40),
    ("time_ms", "Time (ms)", lambda x: f"{x.time_ms:.3f}", None, 99),
    ("macs", "MACs", lambda x: fmt_int(x.macs), lambda x: fmt_compact(x.macs), 60),
    ("macs_per_s", "MAC/s", lambda x: fmt_compact(round(x.macs_per_s)) if x.macs else "—", None, 70),
]


def render(profiles: list, fmt: str, top: int | None = None, view=None):
    if fmt == "json":   # every layer: --top only shortens the table
        data = [profile_dict(p) for p in profiles]
        return json.dumps(data[0] if len(data) == 1 else data, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["model", "device", "dtype", "batch", "mode", "median_ms", "p10_ms", "p90_ms",
                    "throughput_samples_per_s", "macs_per_s", "measured_peak_bytes", "estimate_bytes"])
        for p in profiles:
            w.writerow([p.model, p.device, p.dtype, p.batch, p.mode, f"{p.median_ms:.4f}", f"{p.percentile(0.1):.4f}",
                        f"{p.percentile(0.9):.4f}", f"{p.throughput:.2f}", f"{p.macs_per_s:.0f}",
                        p.measured_peak_bytes, p.estimate_bytes])
        return out.getvalue()
    md = fmt == "markdown"
    from archstat.report.fit import Col, Doc, View, render as fit_render, wrap

    view = view or View()
    width = 10**6 if md or view.wide else view.width
    doc = Doc()
    for p in profiles:
        for line in _summary(p):
            doc.add(wrap(line, width, "    "))
        slow = sorted(p.layers, key=lambda x: -x.time_ms)[: top or 10]
        if len(profiles) == 1 and slow:
            doc.add("")
            doc.add(wrap(f"slowest rows (separate pass with synchronised hooks; top {len(slow)}; "
                         "--format json lists every row):", width))
            specs = LAYER_COLUMNS + list(getattr(p, "extra_layer_columns", []))
            if md:
                doc.add("")
                doc.add("| " + " | ".join(h for _, h, *_ in specs) + " |")
                doc.add("|" + "|".join("---" if i < 2 else "---:" for i in range(len(specs))) + "|")
                for x in slow:
                    doc.add("| " + " | ".join(exact(x) for _, _, exact, _, _ in specs) + " |")
            else:
                cols = [Col(key, head, [[exact(x) for x in slow]] + ([[compact(x) for x in slow]] if compact else []),
                            right=i >= 2, keep=keep) for i, (key, head, exact, compact, keep) in enumerate(specs)]
                doc.extend(fit_render(cols, view))
        doc.add("")
    return doc.text() if md else doc


def _summary(p) -> list[str]:
    share = f" ({100 * p.peak_share:.1f} % of the {p.dtype} peak)" if p.peak_share is not None else ""
    threads = f", {p.threads} threads" if p.threads else ""
    ratio = p.measured_peak_bytes / p.estimate_bytes if p.estimate_bytes else float("nan")
    train = f", optimizer {p.optimizer}" if p.optimizer else ""
    return [
        f"{p.model} on {p.device} ({p.device_name}{threads}) · torch {p.torch_version} · {p.dtype} · batch {p.batch}"
        f" · {p.mode}{train}{' · channels_last' if p.channels_last else ''}",
        f"latency per batch   median {p.median_ms:.3f} ms   p10 {p.percentile(0.1):.3f} ms   "
        f"p90 {p.percentile(0.9):.3f} ms   ({p.iters} steps after {p.warmup} warm-up)",
        f"throughput          {p.throughput:,.1f} samples/s",
        f"achieved            {fmt_si(p.macs_per_s)}MAC/s{share}"
        + (" (train: forward MACs × 3)" if p.mode == "train" else ""),
        f"memory measured     {fmt_bytes_both(p.measured_peak_bytes)}  [{p.memory_method}]",
        f"  weights           {fmt_bytes_both(p.weights_bytes)}",
        f"memory estimated    {fmt_bytes_both(p.estimate_bytes)}  (measured / estimate = {ratio:.2f})",
        f"  {ESTIMATE_LEAVES_OUT}",
    ]
