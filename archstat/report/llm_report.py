"""``archstat llm`` in the four formats: one model on one device (or several devices side by side). JSON keys
are stable (docs/llm.md); memory is per GPU."""

from __future__ import annotations

import itertools
from typing import Optional

from archstat.llm.result import LayerRow, LLMResult
from archstat.report.fit import Col, Doc, View, wrap
from archstat.report.fit import render as fit_render
from archstat.report.roofline_report import fmt_time
from archstat.report.sanitize import csv_text, md_row, md_rule, md_text, to_json
from archstat.report.units import fmt_bytes, fmt_compact, fmt_si
from archstat.text import fmt_int

__all__ = ["CSV_COLUMNS", "render"]

CSV_COLUMNS = ["model", "device", "gpus", "runtime", "serving", "dtype", "kv_dtype", "input_len", "output_len", "batch",
               "params.total", "params.active", "memory.weights_bytes", "memory.kv_bytes_per_token", "memory.kv_bytes",
               "memory.activation_bytes", "memory.workspace_bytes", "memory.total_bytes", "memory.capacity_bytes",
               "max_batch", "ttft_s", "tpot_s", "request_latency_s", "throughput.output_tokens_per_s",
               "throughput.output_tokens_per_s_per_gpu"]


def _flat(r: LLMResult) -> dict:
    d = r.to_dict()
    out = {}
    for key in CSV_COLUMNS:
        if key in ("device", "gpus"):
            out[key] = d["device"]["key" if key == "device" else "gpus"]
            continue
        v = d
        for part in key.split("."):
            v = v[part]
        out[key] = v
    return out


def render(results: list[LLMResult], fmt: str, view: Optional[View] = None):
    if fmt == "json":
        return to_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
    if fmt == "csv":
        return csv_text([CSV_COLUMNS] + [[_flat(r)[c] for c in CSV_COLUMNS] for r in results])
    if fmt == "markdown":
        return markdown(results)
    return fitted(results, view)


# -- the lines a person reads -----------------------------------------------------------------------------

def title(r: LLMResult) -> str:
    group = f"{r.gpus} × " if r.gpus > 1 else ""
    return (f"{r.model} on {group}{r.device_name} ({r.device}) · {r.runtime} · {r.serving} batching · "
            f"{r.dtype} weights, {r.kv_dtype} KV cache")


def header(r: LLMResult) -> list[str]:
    lines = [r.architecture, f"weights: {r.dtype_summary}", f"source: {r.source}"]
    if r.link:
        lines.append(f"tensor parallel {r.gpus}: {r.link}")
    return lines


def _maybe_bytes(n: Optional[int]) -> str:
    return "not counted" if n is None else fmt_bytes(n)


def summary_lines(r: LLMResult) -> list[tuple[str, str]]:
    m = r.memory
    active = "" if r.params_active == r.params_total else f" · {fmt_int(r.params_active)} active per token"
    batch_word = "concurrent sequences" if r.serving == "inflight" else "batch"
    fits = ("fits" if m.fits else "DOES NOT FIT") + ("" if m.complete else ", a lower bound")
    kv = ("not counted (the tracer sees no KV cache)" if m.kv_per_token is None else
          f"{fmt_int(m.kv_per_token)} B per token · {fmt_bytes(m.kv or 0)} at {fmt_int(r.batch)} × "
          f"{fmt_int(r.context)} tokens")
    most = ("unknown (the KV cache is not counted)" if r.max_batch is None else
            f"{fmt_int(r.max_batch)} sequences of {fmt_int(r.input_len)} + {fmt_int(r.output_len)} tokens")
    return [
        ("params", f"{fmt_int(r.params_total)}{active}"),
        ("weights", f"{fmt_bytes(m.weights)} per GPU"),
        ("KV cache", kv),
        ("memory", f"{fmt_bytes(m.total)} of {fmt_bytes(m.capacity)} per GPU ({fits}): activations "
                   f"{_maybe_bytes(m.activations)}, workspace {fmt_bytes(m.workspace)}"),
        ("max batch", most),
        ("time", f"TTFT {fmt_time(r.ttft_s)} · TPOT {fmt_time(r.tpot_s)} · request {fmt_time(r.request_latency_s)}"),
        ("throughput", f"{r.throughput:,.0f} output tokens/s ({r.throughput_per_gpu:,.0f} per GPU) at "
                       f"{batch_word} {fmt_int(r.batch)}"),
    ]


def phase_cells(r: LLMResult) -> list[list[str]]:
    out = []
    for p in (r.prefill, r.decode):
        out.append([p.name, fmt_int(p.batch), fmt_int(p.context), fmt_si(p.macs), fmt_bytes(p.read_bytes),
                    fmt_bytes(p.written_bytes), fmt_time(p.latency_s), p.bound, fmt_int(p.kernels)])
    return out


PHASE_HEAD = ["phase", "batch", "context", "MACs", "read", "written", "time", "bound", "kernels"]


def layer_groups(r: LLMResult) -> list[tuple[str, LayerRow, int]]:
    """(label, the group's row, how many) with layers of the same kind, parameters and MACs grouped ('layers 0–31',
    'layers 0,2,…,40'); a group's times are its layers' mean."""
    groups: dict[tuple, list[LayerRow]] = {}
    for row in r.layers:
        key = (row.name if not row.name.startswith("layers.") else "layers", row.kind, row.params,
               row.prefill_macs, row.decode_macs)
        groups.setdefault(key, []).append(row)
    out = []
    for rows in groups.values():
        if not rows[0].name.startswith("layers."):
            out.append((rows[0].name, rows[0], 1))
            continue
        idx = [int(x.name.split(".")[1]) for x in rows]
        if len(idx) == 1:
            label = f"layer {idx[0]}"
        elif idx == list(range(idx[0], idx[-1] + 1)):
            label = f"layers {idx[0]}–{idx[-1]}"
        else:
            step = idx[1] - idx[0]
            regular = all(b - a == step for a, b in itertools.pairwise(idx))
            label = f"layers {idx[0]},{idx[1]},…,{idx[-1]}" if regular else f"{len(idx)} layers"
        n = len(rows)
        mean = LayerRow(rows[0].name, rows[0].kind, rows[0].params, rows[0].prefill_macs, rows[0].decode_macs,
                        sum(x.prefill_s for x in rows) / n, sum(x.decode_s for x in rows) / n)
        out.append((label, mean, n))
    return out


LAYER_HEAD = ["rows", "kind", "×", "params", "prefill MACs", "decode MACs", "prefill", "decode"]


def layer_cells(r: LLMResult) -> list[list[str]]:
    return [[label, row.kind, str(n), fmt_si(row.params), fmt_si(row.prefill_macs), fmt_si(row.decode_macs),
             fmt_time(row.prefill_s), fmt_time(row.decode_s)] for label, row, n in layer_groups(r)]


def footer(r: LLMResult) -> list[str]:
    lines = [f"note: {n}" for n in r.notes]
    if r.coefficients:
        lines.append("fitted: " + ", ".join(f"{k} {v:.3g}" for k, v in r.coefficients.items())
                     + " (archstat/data/llm.yaml)")
    lines += [f"warning: {w}" for w in r.warnings]
    lines.append("per GPU; time: the performance model's prediction (archstat.perf) of each phase's operator calls, "
                 "plus the collectives on the link; decode step at the mean context; see docs/llm.md for how far "
                 "to trust it")
    return lines


def fitted(results: list[LLMResult], view: Optional[View] = None) -> Doc:
    view = view or View()
    width = view.width if not view.wide else 10**6
    if len(results) > 1:
        return _side_by_side(results, view)
    r = results[0]
    doc = Doc().add(wrap(title(r), width), "bold")
    for line in header(r):
        doc.add(wrap(line, width, "  "), "dim")
    doc.add()
    for label, text in summary_lines(r):
        doc.add(wrap(f"{label:<12}{text}", width, " " * 12))
    doc.add()
    cells = phase_cells(r)
    cols = [Col(k, h, [[c[i] for c in cells]], right=i not in (0, 7), keep=100 - i) for i, (k, h) in
            enumerate(zip(["phase", "batch", "context", "macs", "read", "written", "time", "bound", "kernels"],
                          PHASE_HEAD))]
    doc.extend(fit_render(cols, view))
    doc.add()
    cells = layer_cells(r)
    compact = [[fmt_compact(row.params), fmt_compact(row.prefill_macs), fmt_compact(row.decode_macs)]
               for _, row, _ in layer_groups(r)]
    cols = [Col("rows", "rows", [[c[0] for c in cells]], keep=100),
            Col("kind", "kind", [[c[1] for c in cells]], keep=40),
            Col("count", "×", [[c[2] for c in cells]], right=True, keep=90),
            Col("params", "params (each)", [[c[3] for c in cells], [x[0] for x in compact]], short="params",
                right=True, keep=60),
            Col("prefill_macs", "prefill MACs", [[c[4] for c in cells], [x[1] for x in compact]], short="pf MACs",
                right=True, keep=50),
            Col("decode_macs", "decode MACs", [[c[5] for c in cells], [x[2] for x in compact]], short="dc MACs",
                right=True, keep=45),
            Col("prefill_s", "prefill (each)", [[c[6] for c in cells]], short="prefill", right=True, keep=80),
            Col("decode_s", "decode (each)", [[c[7] for c in cells]], short="decode", right=True, keep=85)]
    doc.extend(fit_render(cols, view))
    doc.add()
    for line in footer(r):
        doc.add(wrap(line, width, "  "), "dim" if line.startswith(("per GPU", "note", "fitted")) else None)
    return doc


def _side_by_side(results: list[LLMResult], view: View) -> Doc:
    r0 = results[0]
    width = view.width if not view.wide else 10**6
    doc = Doc().add(wrap(f"{r0.model} · {r0.runtime} · {r0.serving} batching · {r0.dtype} weights, {r0.kv_dtype} KV "
                         f"cache · input {fmt_int(r0.input_len)}, output {fmt_int(r0.output_len)}", width), "bold")
    doc.add(wrap(r0.architecture, width, "  "), "dim")
    names = [f"{r.gpus}×{r.device}" if r.gpus > 1 else r.device for r in results]
    rows = [("weights / GPU", [fmt_bytes(r.memory.weights) for r in results]),
            ("KV / token / GPU", ["—" if r.memory.kv_per_token is None else f"{fmt_int(r.memory.kv_per_token)} B"
                                  for r in results]),
            ("memory / GPU", [f"{fmt_bytes(r.memory.total)} of {fmt_bytes(r.memory.capacity)}" for r in results]),
            ("fits", ["yes" if r.fits else "NO" for r in results]),
            ("max batch", ["—" if r.max_batch is None else fmt_int(r.max_batch) for r in results]),
            ("batch", [fmt_int(r.batch) for r in results]),
            ("TTFT", [fmt_time(r.ttft_s) for r in results]),
            ("TPOT", [fmt_time(r.tpot_s) for r in results]),
            ("request", [fmt_time(r.request_latency_s) for r in results]),
            ("tokens/s", [f"{r.throughput:,.0f}" for r in results]),
            ("tokens/s / GPU", [f"{r.throughput_per_gpu:,.0f}" for r in results])]
    cols = [Col("metric", "", [[label for label, _ in rows]], keep=100)]
    for i, name in enumerate(names):
        cols.append(Col(name, name, [[vals[i] for _, vals in rows]], right=True, keep=90 - i))
    doc.extend(fit_render(cols, view))
    for r in results:
        for w in r.warnings:
            doc.add(wrap(f"warning ({r.device}): {w}", width, "  "))
    doc.add(wrap("per GPU; see docs/llm.md for how far to trust the times", width, "  "), "dim")
    return doc


def markdown(results: list[LLMResult]) -> str:
    out: list[str] = []
    for r in results:
        out += [f"## {md_text(r.model)} on {md_text(r.device)}" + (f" ×{r.gpus}" if r.gpus > 1 else ""), "",
                f"- {md_text(title(r))}"] + [f"- {md_text(x)}" for x in header(r)] + [""]
        out += [md_row(["", ""]), md_rule(["---", "---"])]
        out += [md_row([label, md_text(text)]) for label, text in summary_lines(r)]
        out += ["", md_row(PHASE_HEAD), md_rule(["---"] + ["---:"] * 6 + ["---", "---:"])]
        out += [md_row(c) for c in phase_cells(r)]
        out += ["", md_row(LAYER_HEAD), md_rule(["---", "---"] + ["---:"] * 6)]
        out += [md_row(c) for c in layer_cells(r)]
        out += [""] + [f"- {md_text(x)}" for x in footer(r)] + [""]
    return "\n".join(out)
