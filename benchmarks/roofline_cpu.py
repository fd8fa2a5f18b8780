"""The roofline's prediction against the measurement, per model and per row.

Calibrates the device (matmul peak, copy bandwidth, per-op overhead; `archstat roofline --calibrate`;
on CUDA in float32 both the fp32 and the tf32 peak, since cuDNN runs float32 convs in TF32 by default),
then profiles each model (`archstat profile --per-layer`: the median latency of whole forward passes,
and every row's own time from profile's per-layer pass: CUDA events per row read after one
synchronisation on a GPU, the host clock on the CPU) and puts the roofline of the same rows beside it:

- the total predicted against the measured median latency (ratio measured / predicted);
- the Spearman rank correlation of the per-row times;
- the rows furthest off (|log(measured / predicted)|), each with the likely reason read off its numbers,
  in the terms of the device (a GPU's L2 and kernel launches, a CPU's cache and threads).

Run from the repository root, in a venv with archstat's torch extra, on a quiet machine:

    python benchmarks/roofline_cpu.py                       # cpu, resnet50 vgg16 mobilenet_v2, batch 8
    python benchmarks/roofline_cpu.py --device cuda --dtype bfloat16 --json out.json
    python benchmarks/roofline_cpu.py --no-calibrate        # reuse the stored calibration

It prints a markdown report (what benchmarks/README.md quotes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archstat import calibration as store
from archstat.analyze import devices
from archstat.errors import ArchstatError


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: list[float], ys: list[float]) -> float:
    """Pearson correlation of the ranks."""
    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (sx * sy) if sx and sy else float("nan")


def reason(row, measured_s: float, cache_bytes: int, device: str = "cpu") -> str:
    """The likely reason a row is off, read from its own numbers, in the terms of the device it ran on
    (``device``: cpu or cuda[:N])."""
    gpu = device.startswith("cuda")
    predicted = row.predicted_s
    slower = measured_s > predicted
    ratio = measured_s / predicted
    cache = "the GPU's L2" if gpu else "cache"
    if row.host_s > predicted:   # launching it takes longer than running it
        if gpu:
            return ("small kernel: its launch costs more than its run in the prediction; the real cost of a kernel "
                    "launch, eager dispatch and the hooks is " + ("larger" if slower else "smaller"))
        return ("small op: its dispatch costs more than its run in the prediction; the real cost of dispatch, "
                "hooks and thread wake-up is " + ("larger" if slower else "smaller"))
    if row.bound == "memory" and ratio > 10 and row.kind != "pooling":
        if gpu:
            return (f"{ratio:.0f}× slower than a stream of its bytes: a kernel too small to fill the GPU's SMs "
                    "(few blocks, latency-bound), or the host not issuing kernels fast enough")
        return (f"{ratio:.0f}× slower than a stream of its bytes, far beyond any bandwidth effect: most likely the "
                "thread pool waiting on a thread the OS descheduled (a shared machine; compare a quiet run)")
    if row.kind == "pooling" and slower:
        if gpu:
            return "pooling: a window of reads per output, not a plain stream of its bytes"
        return ("pooling on the CPU is not a plain stream: kh·kw compares (and index bookkeeping) per output, "
                "vectorised poorly in NCHW")
    if row.kind == "depthwise":
        return "depthwise conv: few MACs per byte and a kernel far from the matmul peak"
    if row.bound == "compute":
        tiles = "tiles the GPU's SMs less well" if gpu else "runs less efficiently"
        return (f"compute-bound conv/linear below the calibrated matmul peak (this shape {tiles} than a square "
                "matmul)" if slower else
                "compute-bound and faster than the calibrated matmul peak (a faster kernel for this shape)")
    if not slower and row.bytes < cache_bytes:
        return f"memory-bound, {row.bytes / 1e6:.1f} MB moved: fits in {cache}, so faster than DRAM copy bandwidth"
    if slower:
        return "memory-bound op slower than the copy bandwidth (strided or reducing access, not a plain stream)"
    return f"memory-bound op faster than the copy bandwidth (its tensors partly in {cache})"


def cache_size(device: str = "cpu", device_name: str | None = None) -> int:
    """The last-level cache a row's tensors can sit in, bytes: on CUDA the GPU's L2 (its devices.yaml
    entry, else what torch reports, else 0: no cache assumed); on the CPU the largest cache in Linux
    sysfs, or 32 MB when unknown."""
    if device.startswith("cuda"):
        entry = devices.match_device(device_name).device if device_name else None
        if entry is not None and entry.l2_mb:
            return int(entry.l2_mb * 10**6)
        try:
            import torch

            return int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0))
        except Exception:
            return 0
    best = 0
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        scale = {"K": 1024, "M": 1024**2}.get(text[-1:], 1)
        best = max(best, int(text.rstrip("KM")) * scale)
    return best or 32 * 10**6


def compare_model(model: str, device: str, dtype: str, batch: int, warmup: int, iters: int, top: int,
                  layer_repeats: int, stat: str) -> dict:
    """``stat``: how the passes of one row (and the whole-model steps) are summarised: ``min`` (the least
    disturbed pass: preemption on a shared machine only ever adds time) or ``median``."""
    from archstat.profile.measure import profile

    p = profile(model, device=device, batch=batch, dtype=dtype, warmup=warmup, iters=iters,
                layer_repeats=layer_repeats)
    if p.prediction is None:
        raise SystemExit(f"no prediction for {model}: {p.prediction_note}")
    pick = min if stat == "min" else statistics.median
    predicted = {r.name: r for r in p.prediction.ops}
    pairs = [(x.name, pick(x.samples_ms) / 1e3, predicted[x.name]) for x in p.layers
             if x.name in predicted and predicted[x.name].bound != "none"]
    measured_s = [m for _, m, _ in pairs]
    predicted_s = [r.predicted_s for _, _, r in pairs]
    total_ms = pick(p.latencies_ms)
    cache = cache_size(device, p.device_name)
    off = sorted(pairs, key=lambda x: -abs(math.log(x[1] / x[2].predicted_s)))[:top]
    return {
        "model": p.model, "device": p.device, "device_name": p.device_name, "threads": p.threads,
        "batch": batch, "dtype": dtype, "iters": p.iters, "layer_repeats": layer_repeats, "stat": stat,
        "measured_ms": total_ms, "measured_median_ms": p.median_ms, "measured_p10_ms": p.percentile(0.1),
        "measured_p90_ms": p.percentile(0.9),
        "predicted_ms": p.prediction.predicted_s * 1e3,
        "ratio_measured_to_predicted": total_ms / (p.prediction.predicted_s * 1e3),
        "rows_sum_measured_ms": sum(measured_s) * 1e3,
        "rows": len(pairs), "spearman": spearman(measured_s, predicted_s),
        "memory_bound_time_share": p.prediction.memory_bound_time_share,
        "furthest_off": [{"name": name, "kind": r.kind, "bound": r.bound, "measured_ms": m * 1e3,
                          "predicted_ms": r.predicted_s * 1e3, "ratio": m / r.predicted_s,
                          "why": reason(r, m, cache, device)} for name, m, r in off],
        "cache_bytes": cache, "layer_method": p.layer_method, "rows_sum_vs_pass_gap_ms": p.layers_gap_ms,
        "math": p.math, "environment": p.environment,
        "roof": {"peak_flop_per_s": p.prediction.roof.peak_flops, "bandwidth_bytes_per_s": p.prediction.roof.bandwidth,
                 "overhead_s": p.prediction.roof.overhead_s, "sources": p.prediction.roof.sources},
    }


def report(results: list[dict], calibration: dict, load: str) -> str:
    first = results[0] if results else {}
    threads = f", {first['threads']} threads" if first.get("threads") else ""
    lines = [f"device: {first.get('device_name', '?')} ({first.get('device', '')}{threads})" if results else "",
             f"calibration: peak {calibration.get('peak_flops')} FLOP/s, "
             f"bandwidth {calibration.get('bandwidth', 0):.3g} B/s, "
             f"overhead {calibration.get('overhead_s', 0) * 1e6:.1f} µs ({calibration.get('measured_at')})",
             f"load average at the start: {load}", "",
             f"per-row and total times: the {results[0]['stat'] if results else ''} of the passes", "",
             "| model | batch | measured ms | median (p10–p90) | predicted ms | measured / predicted | "
             "Spearman (rows) | memory-bound time |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['model']} | {r['batch']} | {r['measured_ms']:.1f} | {r['measured_median_ms']:.1f} "
                     f"({r['measured_p10_ms']:.1f}–{r['measured_p90_ms']:.1f}) | {r['predicted_ms']:.1f} | "
                     f"{r['ratio_measured_to_predicted']:.2f} | {r['spearman']:.3f} ({r['rows']}) | "
                     f"{100 * r['memory_bound_time_share']:.0f} % |")
    for r in results:
        lines += ["", f"{r['model']}: rows furthest off", "",
                  "| row | kind | bound | measured ms | predicted ms | ratio | likely reason |",
                  "|---|---|---|---:|---:|---:|---|"]
        for o in r["furthest_off"]:
            lines.append(f"| {o['name']} | {o['kind']} | {o['bound']} | {o['measured_ms']:.3f} | "
                         f"{o['predicted_ms']:.3f} | {o['ratio']:.2f} | {o['why']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float16", "bfloat16"))
    ap.add_argument("--models", default="resnet50,vgg16,mobilenet_v2")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--layer-repeats", type=int, default=5, help="passes of the per-row timing (median)")
    ap.add_argument("--stat", choices=("min", "median"), default="min",
                    help="summary of the timed passes (min: the least disturbed; median: profile's)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads before calibrating and measuring")
    ap.add_argument("--no-calibrate", action="store_true", help="reuse the stored calibration")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    _, peak_key = devices.resolve_dtype(args.dtype)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not args.no_calibrate:
        from archstat.profile import calibrate

        t0 = time.perf_counter()
        # float32 on a GPU runs convs in TF32 by default (cuDNN): calibrate that peak too
        keys = [peak_key] + (["tf32"] if args.device.startswith("cuda") and peak_key == "fp32" else [])
        try:
            for key in keys:
                path = store.store_calibration(args.device, calibrate.measure(args.device, key, repeats=10))
        except (ArchstatError, RuntimeError, OSError) as exc:
            text = exc.format() if isinstance(exc, ArchstatError) else f"{type(exc).__name__}: {exc}"
            print(f"error: calibration failed: {' '.join(text.split())}", file=sys.stderr)
            raise SystemExit(1) from None
        print(f"calibrated in {time.perf_counter() - t0:.1f} s → {path}", file=sys.stderr)
    try:
        _, calibration = store.calibration_for(args.device)
    except ArchstatError as exc:
        print(f"error: {exc.format()}", file=sys.stderr)
        raise SystemExit(2) from None
    calibration = calibration or {}
    results = []
    for model in [m for m in args.models.split(",") if m]:
        try:
            t0 = time.perf_counter()
            results.append(compare_model(model, args.device, args.dtype, args.batch, args.warmup, args.iters,
                                         args.top, args.layer_repeats, args.stat))
            print(f"{model}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        except ArchstatError as exc:
            print(f"{model}: skipped ({exc.format()})", file=sys.stderr)
    print(report(results, calibration, load))
    if args.json:
        Path(args.json).write_text(json.dumps({"calibration": calibration, "load": load, "cpus": os.cpu_count(),
                                               "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
