"""benchmarks/llm/results.md from validate.py's rows (imported by validate.py --write)."""

from __future__ import annotations

import math
import re

# why the worst rows are off: (pattern on "version model device tp dtype isl osl metric", reason)
REASONS = [
    (r"0\.12\.0 mixtral-8x7b gh200 2 ", "GH200 at TP 2 measured 3–5× below H100 at TP 2, while at TP 4 the two agree "
     "(and the model follows them): nothing in the parts' figures explains it; a slow link between that system's "
     "two GH200 superchips would (the table does not say how they were connected)"),
    (r"0\.9\.0 mixtral-8x7b .* ttft", "TensorRT-LLM 0.9's Mixtral prefill: 2.6× the model's time; the model runs the "
     "routed tokens as one grouped GEMM per matrix, as later versions do"),
    (r"0\.9\.0 mixtral-8x7b .* static", "TensorRT-LLM 0.9's mixture-of-experts kernels (see its TTFT rows): the "
     "static batch's prefill and decode slower than the grouped GEMMs the model assumes"),
    (r"v3\.1 gpt-j-6b", "MLPerf v3.1 ran GPT-J on TensorRT 9.0: the same GPUs did 2.3–2.4× more in v4.0 (TensorRT 9.3, "
     "in-flight batching); one engine model sits between the two rounds"),
    (r"v4\.0 gpt-j-6b l40s", "L40S: its GPT-J ran at 0.4× an H100's where the parts' bandwidths (0.86 vs 3.35 TB/s) "
     "would say 0.26×: the request shape (an assumption here) and the Ada kernels are the likely gap"),
    (r"a100 2 fp16 2048 2048 ", "70B in fp16 on two 80 GB A100s leaves ~10 GB per GPU for the KV cache: the "
     "largest batch (a handful of 4k-token sequences) swings with every GB of runtime overhead the model does not see"),
    (r"l40s 8 ", "eight L40S without NVLink: the all-reduces run over PCIe and the host, which the model prices at "
     "the PCIe link's rate; the measured rate is lower"),
    (r"0\.5\.0 llama-2-70b h100 4 ", "TensorRT-LLM 0.5's 70B at TP 4 (its first release): later versions ran the "
     "same shape 1.5–2× faster"),
    (r"h100 8 fp16 128 4096", "TP 8 in fp16 with 4k-token outputs: eight GPUs' all-reduces at every step, "
     "and a batch the KV budget caps"),
]


def reason(r: dict) -> str:
    key = f"{r['version']} {r['model']} {r['device']} {r['tp']} {r['dtype']} {r['input_len']} {r['output_len']} " \
          f"{r['metric']}"
    for pattern, text in REASONS:
        if re.search(pattern, key):
            return text
    return ""


def results_markdown(rows, summary, table, source_of, fmt_summary) -> str:
    done = [r for r in rows if r.get("ratio")]
    skipped = [r for r in rows if not r.get("ratio")]
    total = summary(done)
    effs = sorted({round(r["efficiency"], 4) for r in done})
    out = [
        "# archstat llm against public LLM serving measurements",
        "",
        "Written by `benchmarks/llm/validate.py --write benchmarks/llm/results.md` (rows: `benchmarks/llm/data/`, "
        "copied from `../shared/public-bench` by `tables.py`, each with its citation; every row also in "
        "`results.csv`). Error = predicted / measured − 1; a row is within ±50 % when 0.5 ≤ predicted / measured "
        "≤ 1.5.",
        "",
        "**What is predicted.** `archstat.llm.estimate` on the table's model, GPU, tensor parallelism, precision, "
        "input and output lengths and batch, `--runtime engine`: TensorRT-LLM 0.5.0 and 0.9.0 static batches "
        "(`--serving static`, output tokens/s of the group or per GPU) and their first-token latency at batch 1 "
        "(`ttft_s`); 0.12.0's maximum-throughput table (`--serving inflight`: as many sequences as the KV cache "
        "holds); MLPerf Offline (in-flight) and Server (in-flight, the concurrency cut to meet the round's latency "
        "limits: GPT-J 20 s per sample, Llama 2 70B TTFT 2 s and TPOT 200 ms), per GPU.",
        "",
        "**What is fitted, on what.** One coefficient, `engine_efficiency` (`archstat/data/llm.yaml`, "
        "`benchmarks/llm/fit.py`): the share of the performance model's step speed a serving engine reaches, the "
        "geometric median over all the rows below of measured / predicted speed, capped at 1. **The errors here are "
        "cross-validated**: each model's rows are predicted with the efficiency fitted on the other models' rows "
        f"(leave one model out: {', '.join(f'{e:.3f}' for e in effs)}), never with a value their own "
        "measurements helped fit. Nothing else is fitted; the kernels' costs are the performance model's, with the "
        "coefficients it ships.",
        "",
        "**Assumptions** (not fitted, stated in `data/`): MLPerf's request shapes (GPT-J: 1,000 input tokens, 75 "
        "output, beam search of 4 decoded as 4 sequences; Llama 2 70B: 294 in, 294.45 out), Llama 2 70B at TP 2 on "
        "80–94 GB parts and TP 1 on 141–144 GB parts, MLPerf in fp8 with an fp8 KV cache, TensorRT-LLM's FP8 rows "
        "with an fp8 KV cache, its 'GH200 120GB' as devices.yaml's gh200 (96 GB HBM3), the links between GPUs "
        "from each part's devices.yaml entry (`nvlink_gb_s`, else its PCIe host link; read by "
        "`archstat/llm/comm.py`). Falcon 180B (not in the zoo) and MLPerf "
        "MaxQ (power-capped) rows are left out.",
        "",
        "## Summary",
        "",
        f"**{total['n']} rows: median error {100 * total['median_error']:.1f} %, {100 * total['within_50']:.0f} % "
        f"within ±50 % ({100 * total['within_25']:.0f} % within ±25 %), {total['over_3x']} off by more than 3× "
        f"(worst {total['worst']:.2f}×).**",
        "",
        "| source | rows | median error | within ±50 % | median predicted/measured | worst |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for src in sorted({source_of(r) for r in done}):
        out.append(f"| {src} " + fmt_summary(summary([r for r in done if source_of(r) == src])))
    out.append("")
    out += table("By model", done, lambda r: r["model"])
    out += table("By GPU", done, lambda r: r["device"])
    out += table("By tensor parallelism", done, lambda r: f"TP {r['tp']}")
    worst = sorted(done, key=lambda r: -abs(math.log(r["ratio"])))[:15]
    out += ["## The worst rows", "", "| source | model | GPU | TP | dtype | in | out | batch | measured | predicted | "
            "ratio | why |", "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in worst:
        out.append(f"| {source_of(r)} | {r['model']} | {r['device']} | {r['tp']} | {r['dtype']} | {r['input_len']} | "
                   f"{r['output_len']} | {r['batch']} | {r['value']:,.4g} | {r['predicted']:,.4g} | "
                   f"{r['ratio']:.2f} | {reason(r)} |")
    out += ["", "## Every row", "", "| source | model | GPU | TP | dtype | in | out | batch | measured | "
            "predicted | error |", "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in done:
        out.append(f"| {source_of(r)} | {r['model']} | {r['device']} | {r['tp']} | {r['dtype']} | {r['input_len']} | "
                   f"{r['output_len']} | {r['batch']} | {r['value']:,.4g} {_unit(r)} | {r['predicted']:,.4g} | "
                   f"{100 * (r['ratio'] - 1):+.0f} % |")
    if skipped:
        out += ["", "## Rows not predicted", ""]
        out += [f"- {source_of(r)} {r['model']} {r['device']} TP {r['tp']}: {r['error_text']}" for r in skipped]
    return "\n".join(out) + "\n"


def _unit(r: dict) -> str:
    m = r["metric"]
    return "ms" if m == "ttft_ms" else "samples/s" if "samples" in m else "tok/s"
