"""`archstat devices`: every devices.yaml entry, or which entry a driver's name maps to, in the four
formats. JSON keys are stable (README, "Roofline": Devices)."""

from __future__ import annotations

import csv
import io
import json

from archstat.analyze.devices import PEAK_KEYS, VERSION, Device, DeviceMatch

# the scalar figures of the list, in its column order (host_link: one cell, _link)
COLUMNS = ("bandwidth_gb_s", "memory_gb", "memory_type", "l2_mb", "smem_per_sm_kb", "sms", "base_mhz", "boost_mhz",
           "power_w", "nvlink_gb_s", "host_link")
HEAD = ["key", "part", "kind"] + list(PEAK_KEYS) + list(COLUMNS)
TITLES = {"key": "Key", "part": "Part", "kind": "Kind", "fp32": "FP32", "tf32": "TF32", "fp16": "FP16",
          "bf16": "BF16", "fp8": "FP8", "fp4": "FP4", "int8": "INT8", "bandwidth_gb_s": "GB/s",
          "memory_gb": "Memory GB", "memory_type": "Memory", "l2_mb": "L2 MB", "smem_per_sm_kb": "Smem KB",
          "sms": "SMs", "base_mhz": "Base MHz", "boost_mhz": "Boost MHz", "power_w": "Power W",
          "nvlink_gb_s": "NVLink GB/s", "host_link": "Host link"}
TEXT = ("key", "part", "kind", "memory_type", "host_link")     # left-aligned columns
UNITS = ("peaks: dense TFLOP/s (int8: TOPS; never the sparse figures), bandwidth GB/s (10^9 bytes/s), memory GB, "
         "L2 (CPUs: L3; AMD: Infinity Cache) MB, shared memory (NVIDIA: L1/shared; AMD: LDS) KB per SM, SMs (AMD: "
         "compute units; CPUs: cores), clocks MHz, power W, NVLink (AMD: Infinity Fabric) GB/s both directions")


def _link(link: dict | None) -> str:
    """{'kind': 'pcie', 'gen': 5, 'lanes': 16, …} → 'PCIe 5 x16'."""
    if not link:
        return "—"
    if link["kind"] != "pcie":
        return {"nvlink-c2c": "NVLink-C2C", "socket": "socket"}.get(link["kind"], link["kind"])
    gen = [str(link["gen"])] if link["gen"] else []
    return " ".join(["PCIe", *gen] + ([f"x{link['lanes']}"] if link["lanes"] else []))


def _value(d: Device, k: str) -> object:
    return _link(d.host_link) if k == "host_link" else getattr(d, k)


def _num(v) -> str:
    """A figure as people read it: 4 significant digits (2.9568 TFLOP/s → 2.957), whole numbers from 1,000
    up (3352.0 GB/s → 3352); JSON and CSV keep the figure as the document gives it."""
    if v is None:
        return "—"
    if not isinstance(v, float):
        return str(v)
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def cells(d: Device) -> dict:
    out = {"key": d.key, "part": d.name, "kind": d.kind}
    out.update({k: _num(d.peak_tflops.get(k)) for k in PEAK_KEYS})
    out.update({k: _num(_value(d, k)) for k in COLUMNS})
    return out


def list_dict(entries: list[Device]) -> dict:
    return {"version": VERSION, "units": UNITS, "devices": [d.as_dict() for d in entries]}


def render_list(entries: list[Device], fmt: str, view=None):
    if fmt == "json":
        return json.dumps(list_dict(entries), indent=2, allow_nan=False)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(HEAD + ["peak_source", "note"])
        for d in entries:
            row = [d.key, d.name, d.kind] + [d.peak_tflops.get(k) for k in PEAK_KEYS] + \
                  [_value(d, k) for k in COLUMNS] + [d.sources.get("peak_tflops", ""), d.note]
            w.writerow(["" if v is None else v for v in row])
        return out.getvalue()
    rows = [cells(d) for d in entries]
    if fmt == "markdown":
        lines = ["| " + " | ".join(TITLES[h] for h in HEAD) + " |",
                 "|" + "|".join("---" if h in TEXT else "---:" for h in HEAD) + "|"]
        lines += ["| " + " | ".join(f"`{r[h]}`" if h == "key" else r[h] for h in HEAD) + " |" for r in rows]
        return "\n".join(lines) + f"\n\n{UNITS}\n"
    from archstat.report.fit import Col, Doc, View, wrap
    from archstat.report.fit import render as fit_render

    view = view or View()
    width = 10**6 if view.wide else view.width
    keep = {"key": 100, "part": 30, "kind": 20, "fp32": 90, "bf16": 85, "fp16": 80, "tf32": 75, "fp8": 70,
            "int8": 60, "fp4": 55, "bandwidth_gb_s": 88, "memory_gb": 50, "memory_type": 36, "l2_mb": 45,
            "smem_per_sm_kb": 32, "sms": 40, "base_mhz": 33, "boost_mhz": 35, "power_w": 38, "nvlink_gb_s": 34,
            "host_link": 31}
    cols = [Col(h, TITLES[h], [[r[h] for r in rows]], right=h not in TEXT, keep=keep[h],
                wrap=18 if h == "part" else 0) for h in HEAD]
    doc = Doc()
    doc.extend(fit_render(cols, view))
    doc.add("")
    doc.add(wrap(UNITS, width))
    doc.add(wrap("sources: archstat devices --format json (every figure's document), or --match NAME for one entry",
                 width))
    return doc


def performance_model(d: Device) -> dict:
    """What the performance model makes of the part: the coefficient set that costs it (its generation's,
    or the nearest measured one's), and the share of its boost clock its power limit lets it hold running
    dense fp16 products back to back (``perf.cost.full_load_clock``)."""
    from archstat.perf.cost import full_load_clock
    from archstat.perf.device import from_device, set_name
    from archstat.perf.predict import coefficients

    c = coefficients()
    spec = from_device(d)
    name, own = set_name(c, spec) if "sets" in c else (spec.kind, True)
    math = "fp16" if spec.peak("fp16") else "fp32"
    share = full_load_clock(spec, c, math)
    return {"coefficient_set": name, "measured_generation": own, "full_load_math": math,
            "full_load_clock_share": share,
            "full_load_clock_mhz": share * spec.clock_mhz if share is not None and spec.clock_mhz else None}


def render_match(m: DeviceMatch, fmt: str, view=None):
    if fmt == "json":
        found = m.as_dict()
        if m.device is not None:
            found["performance_model"] = performance_model(m.device)
        return json.dumps(found, indent=2, allow_nan=False)
    d = m.device
    if d is None:   # the command reports a failed match itself (cli/devices_cmd.py); only JSON shows one
        raise ValueError(f"{m.query!r} matched no device: {m.how}")
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["query", "how"] + HEAD)
        row = [m.query, m.how, d.key, d.name, d.kind] + [d.peak_tflops.get(k) for k in PEAK_KEYS] + \
              [_value(d, k) for k in COLUMNS]
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
    if d.peak_tflops_half_acc:
        lines.append("  with FP16 accumulate (faster here): " + ", ".join(
            f"{k} {_num(v)}" for k, v in d.peak_tflops_half_acc.items()))
    memory = f"{_num(d.memory_gb)} GB {d.memory_type or ''}".rstrip()
    memory += f", {d.memory_bus_bits}-bit" if d.memory_bus_bits else ""
    memory += f" at {_num(d.memory_gbps)} Gbit/s per pin" if d.memory_gbps else ""
    lines.append(f"  bandwidth {_num(d.bandwidth_gb_s)} GB/s · memory {memory} · L2 {_num(d.l2_mb)} MB"
                 f" · shared memory {_num(d.smem_per_sm_kb)} KB per SM · SMs {_num(d.sms)}")
    power = f"{_num(d.power_min_w)}-{_num(d.power_w)}" if d.power_min_w else _num(d.power_w)
    link = _link(d.host_link)
    if d.host_link and d.host_link["gb_s"]:
        link += f" ({_num(d.host_link['gb_s'])} GB/s each way)"
    lines.append(f"  clocks base {_num(d.base_mhz)} MHz, boost {_num(d.boost_mhz)} MHz · power {power} W"
                 f" · host link {link} · NVLink {_num(d.nvlink_gb_s)} GB/s")
    if d.mig_profiles:
        lines.append(f"  MIG profiles: {', '.join(d.mig_profiles)}")
    pm = performance_model(d)
    line = f"  performance model: the {pm['coefficient_set']} coefficients" + (
        "" if pm["measured_generation"] else f" (no public measurement of {d.arch or 'its generation'}: the "
                                             "nearest measured generation's)")
    if pm["full_load_clock_share"] is not None:
        share = pm["full_load_clock_share"]
        line += (f" · dense {pm['full_load_math']} products back to back hold {100 * share:.0f} % of the boost "
                 f"clock ({pm['full_load_clock_mhz']:.0f} MHz) under its {_num(d.power_w)} W limit")
    lines.append(line)
    for what, text in d.sources.items():
        lines.append(f"  source {what}: {text}")
    if d.note:
        lines.append(f"  note: {d.note}")
    if fmt == "markdown":
        return "\n".join(f"- {line.strip()}" if i else f"**{line}**" for i, line in enumerate(lines)) + "\n"
    return "\n".join(lines) + "\n"
