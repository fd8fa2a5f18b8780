"""The figures of a benchmarks/gpu_check.sh run, as markdown (the second half of its summary.md).

    python benchmarks/gpu_summary.py WORK_DIR

Reads what gpu_check.sh wrote in WORK_DIR: preflight.json, the calibration cache, each profile's JSON
(one step, one file; a --sweep-batch step holds a list) and roofline-vs-measured.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def fmt(v, spec=".2f", none="—"):
    return none if v is None else format(v, spec)


def main() -> None:
    work = Path(sys.argv[1])
    pre = load(work / "preflight.json") or {}
    lines = ["## Device", "",
             f"- {pre.get('name')} ({pre.get('count')} visible): devices.yaml entry **{pre.get('entry')}** "
             f"({pre.get('how')})",
             f"- {pre.get('memory_bytes', 0) / 2**30:.1f} GiB, {pre.get('sms')} SMs, compute capability "
             f"{pre.get('capability')} · torch {pre.get('torch')} · CUDA {pre.get('cuda')} · cuDNN {pre.get('cudnn')}"]
    profiles = []
    for f in sorted(work.glob("*.json")):
        if f.name in ("preflight.json", "roofline-vs-measured.json"):
            continue
        data = load(f)
        for d in data if isinstance(data, list) else [data] if isinstance(data, dict) else []:
            if "latency_ms" in d:
                profiles.append((f.stem, d))
    env = next((d.get("environment") for _, d in profiles if d.get("environment")), {}) or {}
    smi = env.get("nvidia_smi") or {}
    if env:
        lines.append(f"- driver {smi.get('driver_version', smi.get('error'))} · SM clock {smi.get('clocks.sm')} MHz "
                     f"(max {smi.get('clocks.max.sm')}) · memory clock {smi.get('clocks.mem')} MHz · power limit "
                     f"{smi.get('power.limit')} W · MIG {smi.get('mig.mode.current')} · archstat "
                     f"{env.get('archstat_version')} {env.get('archstat_commit') or ''}")
    calib = load(work / "xdg-cache" / "archstat" / "calibration.json") or {}
    if calib:
        lines += ["", "## Calibration (measured) against the datasheet entry", "",
                  "| key | dtype | measured TFLOP/s | datasheet | measured / datasheet | bandwidth GB/s | datasheet "
                  "GB/s | overhead µs |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        sheet = None
        try:
            from archstat.analyze.devices import lookup

            sheet = lookup(pre["entry"]) if pre.get("entry") else None
        except Exception:
            pass
        for key, c in calib.items():
            for dtype, peak in c.get("peak_flops", {}).items():
                ds = sheet.peak_tflops.get(dtype) if sheet else None
                lines.append(f"| {key} | {dtype} | {peak / 1e12:.1f} | {fmt(ds, 'g')} | "
                             f"{fmt(peak / 1e12 / ds if ds else None)} | {c['bandwidth'] / 1e9:.0f} | "
                             f"{fmt(sheet.bandwidth_gb_s if sheet else None, 'g')} | {c['overhead_s'] * 1e6:.1f} |")
    if profiles:
        lines += ["", "## Profiles (each with its prediction)", "",
                  "| step | model | mode | batch | precision | layout | math (conv/matmul) | median ms | samples/s | "
                  "TFLOP/s | of peak | predicted ms | measured / predicted | memory GiB | estimate GiB |",
                  "|---|---|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for step, d in profiles:
            m = d.get("math") or {}
            pred = d.get("prediction") or {}
            mem = d.get("memory") or {}
            lines.append(
                f"| {step} | {d['model']} | {d['mode']} | {d['batch']} | {d.get('precision')} {d['dtype']} | "
                f"{'channels_last' if d.get('channels_last') else 'NCHW'} | {m.get('conv')}/{m.get('matmul')} | "
                f"{d['latency_ms']['median']:.2f} | {d['throughput_samples_per_s']:.0f} | "
                f"{2 * d['macs_per_s'] / 1e12:.1f} | "
                f"{fmt(d['peak_share'] * 100 if d.get('peak_share') else None, '.0f')}% | "
                f"{fmt(pred.get('latency_ms'))} | {fmt(pred.get('ratio_measured_to_predicted'))} | "
                f"{mem.get('measured_peak_bytes', 0) / 2**30:.2f} | {mem.get('estimate_bytes', 0) / 2**30:.2f} |")
        for step, d in profiles:
            t = d.get("layers_timing") or {}
            if t.get("rows_sum_ms") is None:
                continue
            lines += ["", f"### {step}: per layer ({t.get('method')})", "",
                      f"rows sum {t['rows_sum_ms']:.3f} ms of the {t['pass_ms']:.3f} ms whole pass: gap "
                      f"{t['gap_ms']:.3f} ms; slowest rows:", "",
                      "| row | op | measured ms | predicted ms |", "|---|---|---:|---:|"]
            for x in sorted(d["layers"], key=lambda x: -x["time_ms"])[:8]:
                lines.append(f"| {x['name']} | {x['op']} | {x['time_ms']:.4f} | {fmt(x.get('predicted_ms'), '.4f')} |")
    mission = work / "resnet152-mission.txt"
    if mission.exists() and mission.read_text().strip():
        lines += ["", "## The mission's command: `archstat profile --device cuda resnet152`", "", "```"]
        lines += mission.read_text().splitlines()[:14] + ["```"]
    rl = load(work / "roofline-vs-measured.json")
    if rl and rl.get("results"):
        lines += ["", "## Roofline against the measurement (benchmarks/roofline_cpu.py --device cuda)", "",
                  "| model | measured ms | predicted ms | measured / predicted | Spearman (rows) |",
                  "|---|---:|---:|---:|---:|"]
        for r in rl["results"]:
            lines.append(f"| {r['model']} | {r['measured_ms']:.2f} | {r['predicted_ms']:.2f} | "
                         f"{r['ratio_measured_to_predicted']:.2f} | {r['spearman']:.3f} ({r['rows']}) |")
    lines += ["", "How to read: every step's exit and time are in the table above; a profile's math says what "
              "float32 ran as (TF32 convs are PyTorch's default on Ampere and later); 'of peak' is achieved "
              "FLOP/s over the entry's dense peak of that math; measured / predicted > 1 means the roofline is "
              "optimistic. The archive holds every JSON and log."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
