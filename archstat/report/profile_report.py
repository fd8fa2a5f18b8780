"""A profile in the four formats; JSON keys are stable (see the README)."""

from __future__ import annotations

from archstat.report.sanitize import csv_text, finite, md_row, md_text, to_json
from archstat.report.units import fmt_bytes_both, fmt_compact, fmt_int, fmt_si

ESTIMATE_LEAVES_OUT = ("The estimate leaves out the allocator's caching and fragmentation, cuDNN/cuBLAS "
                       "workspace, the CUDA context and framework overhead; in eval mode it counts every "
                       "activation although inference frees them as it goes.")


def _predicted(p) -> dict:
    """Row name → predicted device ms (the performance model's, for the same rows), empty without one."""
    return {r.name: r.device_s * 1e3 for r in p.prediction.ops} if p.prediction is not None else {}


def prediction_dict(p) -> dict:
    rl = p.prediction
    if rl is None:
        return {"latency_ms": None, "note": p.prediction_note, "math": dict(p.math)}
    return {"latency_ms": rl.predicted_s * 1e3, "ratio_measured_to_predicted": p.median_ms / (rl.predicted_s * 1e3),
            "device": rl.roof.device, "device_name": rl.roof.name, "entry": rl.roof.entry,
            "peak_dtype": rl.roof.dtype, "peak_flop_per_s": rl.roof.peak_flops,
            "bandwidth_bytes_per_s": rl.roof.bandwidth, "overhead_s": rl.roof.overhead_s,
            "sources": dict(rl.roof.sources), "math": dict(p.math), "runtime": rl.runtime,
            "precision": rl.precision, "host_s": rl.host_s, "device_s": rl.device_s, "bound": rl.bound,
            "band": rl.band,
            "warnings": list(rl.warnings),
            "note": "the performance model's latency of this run (eager, this dtype and layout, each op kind at "
                    "the math that ran; a training step with its backward and update): see archstat roofline"}


def prediction_columns(p) -> list:
    """The predicted time beside the measured one, as a layer column (none without a prediction)."""
    predicted = _predicted(p)
    if not predicted:
        return []
    return [("predicted_ms", "Predicted (ms)",
             lambda x: f"{predicted[x.name]:.3f}" if x.name in predicted else "—", None, 98)]


def profile_dict(p, top: int | None = None) -> dict:
    layers = sorted(p.layers, key=lambda x: -x.time_ms)[:top] if top else p.layers
    predicted = _predicted(p)
    return finite({
        "model": p.model, "device": p.device, "device_name": p.device_name, "torch_version": p.torch_version,
        "dtype": p.dtype, "batch": p.batch, "mode": p.mode, "optimizer": p.optimizer, "precision": p.precision,
        "channels_last": p.channels_last, "cudnn_benchmark": p.cudnn_benchmark,
        "runtime": p.runtime, "math": dict(p.math),
        "tf32": p.tf32, "threads": p.threads, "warmup": p.warmup, "iters": p.iters,
        "device_entry": p.device_entry,
        "latency_ms": {"median": p.median_ms, "p10": p.percentile(0.1), "p90": p.percentile(0.9)},
        "throughput_samples_per_s": p.throughput,
        "macs_per_step": p.macs_per_step, "macs_per_s": p.macs_per_s, "peak_share": p.peak_share,
        "peak_flop_per_s": p.peak_flops, "peak_share_of": p.peak_note or None,
        "memory": {"measured_peak_bytes": p.measured_peak_bytes, "weights_bytes": p.weights_bytes,
                   "rest_bytes": max(0, p.measured_peak_bytes - p.weights_bytes),
                   "estimate_bytes": p.estimate_bytes,
                   "ratio_measured_to_estimate": p.measured_peak_bytes / p.estimate_bytes if p.estimate_bytes else None,
                   "method": p.memory_method, "estimate_leaves_out": ESTIMATE_LEAVES_OUT},
        "layers": [{"name": x.name, "op": x.op, "time_ms": x.time_ms, "macs": x.macs, "macs_per_s": x.macs_per_s,
                    "predicted_ms": predicted.get(x.name)} for x in layers],
        "layers_timing": {"method": p.layer_method or None, "rows_sum_ms": p.layers_sum_ms,
                          "pass_ms": p.layer_pass_ms, "gap_ms": p.layers_gap_ms,
                          "passes_ms": list(p.layer_passes_ms), "plain_steps_ms": list(p.layer_plain_ms),
                          "pass_to_step": p.pass_to_step, "hooks_share": p.hooks_share},
        "prediction": prediction_dict(p),
        "environment": p.environment,
    })


# the per-layer table: (key, header, exact cell, compact cell or None, keep). A profile may add its own
# columns as ``extra_layer_columns`` (same shape), e.g. a predicted time beside the measured one.
LAYER_COLUMNS = [
    ("layer", "Layer", lambda x: x.name, None, 100),
    ("op", "Op", lambda x: x.op, None, 40),
    ("time_ms", "Time (ms)", lambda x: f"{x.time_ms:.3f}", None, 99),
    ("macs", "MACs", lambda x: fmt_int(x.macs), lambda x: fmt_compact(x.macs), 60),
    ("macs_per_s", "MAC/s", lambda x: fmt_compact(round(x.macs_per_s)) if x.macs else "—", None, 70),
]


def render(profiles: list, fmt: str, top: int | None = None, view=None, per_layer: bool = False):
    if fmt == "json":   # every layer: --top only shortens the table
        data = [profile_dict(p) for p in profiles]
        return to_json(data[0] if len(data) == 1 else data)
    if fmt == "csv":
        lines = [["model", "device", "dtype", "batch", "mode", "median_ms", "p10_ms", "p90_ms",
                  "throughput_samples_per_s", "macs_per_s", "measured_peak_bytes", "estimate_bytes", "precision",
                  "math_conv", "math_matmul", "channels_last"]]
        for p in profiles:
            lines.append([p.model, p.device, p.dtype, p.batch, p.mode, f"{p.median_ms:.4f}",
                          f"{p.percentile(0.1):.4f}", f"{p.percentile(0.9):.4f}", f"{p.throughput:.2f}",
                          "" if p.macs_per_s is None else f"{p.macs_per_s:.0f}", p.measured_peak_bytes,
                          p.estimate_bytes, p.precision,
                          p.math.get("conv", ""), p.math.get("matmul", ""), p.channels_last])
        return csv_text(lines)
    md = fmt == "markdown"
    from archstat.report.fit import Col, Doc, View, wrap
    from archstat.report.fit import render as fit_render

    view = view or View()
    width = 10**6 if md or view.wide else view.width
    doc = Doc()
    for p in profiles:
        for line in _summary(p):
            doc.add(md_text(wrap(line, width)) if md else wrap(line, width, "    "))
        slow = p.layers if per_layer else sorted(p.layers, key=lambda x: -x.time_ms)[: top or 10]
        if len(profiles) == 1 and slow and p.layers_gap_ms is not None:
            doc.add(wrap(_gap_line(p), width, "    "))
            if p.pass_to_step is not None:
                doc.add(wrap(pass_line(p), width, "    "))
        if len(profiles) == 1 and slow:
            doc.add("")
            how = p.layer_method or "separate pass"
            doc.add(wrap(f"every row, in order (a separate pass; {how}):" if per_layer else
                         f"slowest rows (a separate pass; {how}; each row's own time; top {len(slow)}; "
                         "--format json lists every row):", width))
            specs = LAYER_COLUMNS + prediction_columns(p) + list(getattr(p, "extra_layer_columns", []))
            if md:
                doc.add("")
                doc.add(md_row(h for _, h, *_ in specs))
                doc.add("|" + "|".join("---" if i < 2 else "---:" for i in range(len(specs))) + "|")
                for x in slow:
                    doc.add(md_row(exact(x) for _, _, exact, _, _ in specs))
            else:
                cols = [Col(key, head, [[exact(x) for x in slow]] + ([[compact(x) for x in slow]] if compact else []),
                            right=i >= 2, keep=keep) for i, (key, head, exact, compact, keep) in enumerate(specs)]
                doc.extend(fit_render(cols, view))
        doc.add("")
    return doc.text() if md else doc


def _gap_line(p) -> str:
    gap = p.layers_gap_ms
    share = gap / p.layer_pass_ms if p.layer_pass_ms else 0.0
    what = ("the backward pass, the optimizer step and ops in no row" if p.mode == "train" else
            "ops in no row's module and the gaps between kernels")
    return (f"rows sum {p.layers_sum_ms:.3f} ms of the {p.layer_pass_ms:.3f} ms whole pass (median of "
            f"{len(p.layer_passes_ms)}): gap {gap:.3f} ms ({100 * share:.1f} %: {what})")


BUSY = 0.5   # a 1-minute load average above this share of the CPUs: other processes share the cores


def load_text(load: float | None, cpus: int | None) -> str:
    """'load 3.62 (1-minute average) on 2 CPUs: busy, other processes shared the cores', or ''."""
    if load is None:
        return ""
    busy = cpus is not None and load > BUSY * cpus
    return (f"load {load:.2f} (1-minute average) on {cpus or '?'} CPUs"
            + (": busy, other processes shared the cores (times vary with their work)" if busy else ""))


def pass_line(p) -> str:
    """Why the per-layer pass's step differs from the measured one (issue 33 item 9): what the hooks cost
    (plain steps run between the passes, in the same minutes) and what the machine's load changed."""
    text = (f"per-layer pass {p.layer_pass_ms:.3f} ms per step against the measured median {p.median_ms:.3f} ms "
            f"({p.pass_to_step:.2f}×)")
    hooks = p.hooks_share
    if hooks is None:
        return text + ": the rows are times within that pass; compare them with each other"
    plain = p.layer_pass_ms / (1 + hooks)
    text += (f"; plain steps run between its passes took {plain:.3f} ms, so reading the clock around every row "
             f"cost {100 * hooks:+.0f} %")
    drift = plain / p.median_ms - 1
    if abs(drift) > 0.2:
        env = p.environment or {}
        load = load_text(env.get("load_average"), env.get("cpu_count"))
        after = env.get("load_average_after")
        text += (f", and the machine itself ran {100 * drift:+.0f} % {'slower' if drift > 0 else 'faster'} than "
                 f"while the steps were measured" + (f" ({load}; {after:.2f} after)" if load and after is not None
                                                      else f" ({load})" if load else ""))
    return text + ": the rows are each one's time within the pass; compare them with each other"


def _math_text(p) -> str:
    m = p.math or {}
    if not m:
        return ""
    kinds = (m["conv"].upper() if m.get("conv") == m.get("matmul") else
             f"convs {m.get('conv', '?').upper()}, matmuls {m.get('matmul', '?').upper()}")
    if p.tf32:
        return f"{kinds} ({p.tf32['source']})"
    return kinds


def _precision_text(p) -> str:
    if p.precision == "amp":
        scaler = ", GradScaler" if p.mode == "train" and p.dtype == "float16" else ""
        return f"amp (autocast {p.dtype}, fp32 weights{scaler})"
    return f"{p.dtype}" + (" (pure: the whole model cast)" if p.dtype != "float32" and p.mode == "train" else "")


def _summary(p) -> list[str]:
    of = f"the {p.peak_note}" if p.peak_note else f"the {p.dtype} peak"
    share = f" ({100 * p.peak_share:.1f} % of {of})" if p.peak_share is not None else ""
    threads = f", {p.threads} threads" if p.threads else ""
    ratio = p.measured_peak_bytes / p.estimate_bytes if p.estimate_bytes else float("nan")
    train = f", optimizer {p.optimizer}" if p.optimizer else ""
    flags = "".join([" · channels_last" if p.channels_last else "",
                     f" · cudnn.benchmark {'on' if p.cudnn_benchmark else 'off'}" if p.cudnn_benchmark is not None
                     else ""])
    lines = [
        f"{p.model} on {p.device} ({p.device_name}{threads}) · torch {p.torch_version} · {_precision_text(p)} · "
        f"batch {p.batch} · {p.mode}{train}{flags}",
    ]
    if p.math:
        lines.append(f"math                {_math_text(p)}")
    if p.device_entry is not None:
        lines.append(f"device entry        {p.device_entry['key'] or 'none'} ({p.device_entry['how']})")
    env = p.environment or {}
    load = load_text(env.get("load_average"), env.get("cpu_count"))
    if load:
        lines.append(f"machine             {load}, before the run")
    if env.get("cuda_runtime") or env.get("nvidia_smi"):
        smi = env.get("nvidia_smi") or {}
        driver = smi.get("driver_version") or smi.get("error") or "?"
        lines.append(f"environment         driver {driver} · CUDA {env.get('cuda_runtime')} · cuDNN "
                     f"{env.get('cudnn')} · SM clock {smi.get('clocks.sm', '?')} MHz (max "
                     f"{smi.get('clocks.max.sm', '?')}) · power limit {smi.get('power.limit', '?')} W · MIG "
                     f"{smi.get('mig.mode.current', '?')} · archstat {env.get('archstat_version')}"
                     f"{' ' + env['archstat_commit'][:10] if env.get('archstat_commit') else ''}")
    lines += [
        f"latency per batch   median {p.median_ms:.3f} ms   p10 {p.percentile(0.1):.3f} ms   "
        f"p90 {p.percentile(0.9):.3f} ms   ({p.iters} steps after {p.warmup} warm-up)",
        f"throughput          {p.throughput:,.1f} samples/s",
        (f"achieved            {fmt_si(p.macs_per_s)}MAC/s{share}"
         + (" (train: forward and traced backward MACs)" if p.mode == "train" else "")
         if p.macs_per_s is not None else
         "achieved            — (the training step's backward could not be traced: its MACs are unknown; the "
         "prediction line says why)"),
        _prediction_line(p),
        f"memory measured     {fmt_bytes_both(p.measured_peak_bytes)}  [{p.memory_method}]",
        f"  weights           {fmt_bytes_both(p.weights_bytes)}",
        f"memory estimated    {fmt_bytes_both(p.estimate_bytes)}  (measured / estimate = {ratio:.2f})",
        f"  {ESTIMATE_LEAVES_OUT}",
    ]
    return lines


def _prediction_line(p) -> str:
    rl = p.prediction
    if rl is None:
        return f"predicted           — ({p.prediction_note})"
    from archstat.report.roofline_report import calibration_load, sources_text

    calibrated_on = (rl.roof.calibration or {}).get("hardware")
    here = f"{p.device_name}, {p.threads} threads" if p.threads else p.device_name
    warn = (f" — calibrated on {calibrated_on}, run on {here}: recalibrate"
            if calibrated_on and calibrated_on != here else "")
    at = f" at {_math_text(p).split(' (')[0]}" if p.math else ""
    load = calibration_load(rl.roof)
    return (f"predicted           {rl.predicted_s * 1e3:.3f} ms · bound: {rl.bound} (roofline on {rl.roof.name}{at}; "
            f"{sources_text(rl.roof)}{warn}{'; ' + load if load else ''}); measured / predicted = "
            f"{p.median_ms / (rl.predicted_s * 1e3):.2f}")
