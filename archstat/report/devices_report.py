"""`archstat devices`: every devices.yaml entry, or which entry a driver's name maps to, in the four
formats. JSON keys are stable (README, "Roofline": Devices)."""

from __future__ import annotations

import csv
import io
import json

from archstat.analyze.devices import FIGURES, PEAK_KEYS, Device, DeviceMatch

HEAD = (["key", "part", "kind"] + list(PEAK_KEYS)
        + ["bandwidth_gb_s", "memory_gb", "l2_mb", "sms", "boost_mhz", "power_w"])
TITLES = {"key": "Key", "part": "Part", "kind": "Kind", "fp32": "FP32", "tf32": "TF32", "fp16": "FP16",
          "bf16": "BF16", "fp8": "FP8", "fp4": "FP4", "int8": "INT8", "bandwidth_gb_s": "GB/s",
          "memory_gb": "Memory GB", "l2_mb": "L2 MB", "sms": "SMs", "boost_mhz": "Boost MHz", "power_w": "Power W"}
UNITS = ("peaks: dense TFLOP/s (int8: TOPS; never the sparse figures), bandwidth GB/s (10^9 bytes/s), memory GB, "
         "L2 (CPUs: L3; AMD: Infinity Cache) MB, SMs (AMD: compute units; CPUs: cores), boost MHz, power W")


def _num(v) -> str:
    if v is None:
        return "—"
    return f"{v:g}" if isinstance(v, float) else str(v)


def cells(d: Device) -> dict:
    out = {"key": d.key, "part": d.name, "kind": d.kind}
    out.update({k: _num(d.peak_tflops.get(k)) for k in PEAK_KEYS})
    out.update({k: _num(getattr(d, k)) for k in FIGURES[1:]})
    return out


def list_dict(entries: list[Device]) -> dict:
    return {"version": 2, "units": UNITS, "devices": [d.as_dict() for d in entries]}


def render_list(entries: list[Device], fmt: str, view=None):
    if fmt == "json":
        return json.dumps(list_dict(entries), indent=2, allow_nan=False)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(HEAD + ["peak_source", "note"])
        for d in entries:
            row = [d.key, d.name, d.kind] + [d.peak_tflops.get(k) for k in PEAK_KEYS] + \
                  [getattr(d, k) for k in FIGURES[1:]] + [d.sources.get("peak_tflops", ""), d.note]
            w.writerow(["" if v is None else v for v in row])
        return out.getvalue()
    rows = [cells(d) for d in entries]
    if fmt == "markdown":
        lines = ["| " + " | ".join(TITLES[h] for h in HEAD) + " |",
                 "|" + "|".join("---" if h in ("key", "part", "kind") else "---:" for h in HEAD) + "|"]
        lines += ["| " + " | ".join(f"`{r[h]}`" if h == "key" else r[h] for h in HEAD) + " |" for r in rows]
        return "\n".join(lines) + f"\n\n{UNITS}\n"
    from archstat.report.fit import Col, Doc, View, wrap
    from archstat.report.fit import render as fit_render

    view = view or View()
    width = 10**6 if view.wide else view.width
    keep = {"key": 100, "part": 30, "kind": 20, "fp32": 90, "bf16": 85, "fp16": 80, "tf32": 75, "fp8": 70,
            "int8": 60, "fp4": 55, "bandwidth_gb_s": 88, "memory_gb": 50, "l2_mb": 45, "sms": 40,
            "boost_mhz": 35, "power_w": 38}
    cols = [Col(h, TITLES[h], [[r[h] for r in rows]], right=h not in ("key", "part", "kind"), keep=keep[h],
                wrap=18 if h == "part" else 0) for h in HEAD]
    doc = Doc()
    doc.extend(fit_render(cols, view))
    doc.add("")
    doc.add(wrap(UNITS, width))
    doc.add(wrap("sources: archstat devices --format json (every figure's document), or --match NAME for one entry",
                 width))
    return doc


def render_match(m: DeviceMatch, fmt: str, view=None):
    if fmt == "json":
        return json.dumps(m.as_dict(), indent=2, allow_nan=False)
    d = m.device
    if d is None:   # the command reports a failed match itself (cli/devices_cmd.py); only JSON shows one
        raise ValueError(f"{m.query!r} matched no device: {m.how}")
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["query", "how"] + HEAD)
        row = [m.query, m.how, d.key, d.name, d.kind] + [d.peak_tflops.get(k) for k in PEAK_KEYS] + \
              [getattr(d, k) for k in FIGURES[1:]]
        w.writerow(["" if v is None else v for v in row])
        return out.getvalue()
    lines = [f"{m.query!r} → {d.key}: {d.name}", f"  matched: {m.how}"]
    if m.also_matched:
        lines.append(f"  also matched: {', '.join(m.also_matched)}")
    kind = f"{d.kind}, {d.vendor or '—'}, {d.arch or '—'}" + (f", compute capability {d.compute_capability}"
                                                                if d.compute_capability else "")
    lines.append(f"  {kind}, form {d.form or '—'}")
    lines.append("  peaks (dense TFLOP/s; int8 TOPS): " + ", ".join(f"{k} {_num(d.peak_tflops.get(k))}"
                                                               for k in PEAK_KEYS))
    lines.append(f"  bandwidth {_num(d.bandwidth_gb_s)} GB/s · memory {_num(d.memory_gb)} GB · L2 {_num(d.l2_mb)} MB"
                 f" · SMs {_num(d.sms)} · boost {_num(d.boost_mhz)} MHz · power {_num(d.power_w)} W")
    for what, text in d.sources.items():
        lines.append(f"  source {what}: {text}")
    if d.note:
        lines.append(f"  note: {d.note}")
    if fmt == "markdown":
        return "\n".join(f"- {line.strip()}" if i else f"**{line}**" for i, line in enumerate(lines)) + "\n"
    return "\n".join(lines) + "\n"
