"""archstat llm against the public serving tables in benchmarks/llm/data/ (written by tables.py).

Every row is predicted with ``archstat.llm.estimate`` as the table ran it (model, GPU, tensor parallelism,
precision, input and output lengths, batch) and compared: TensorRT-LLM 0.5.0/0.9.0 static batches (output
tokens/s of the group or per GPU, ``--serving static``) and first-token latency at batch 1 (TTFT), 0.12.0's
maximum-throughput in-flight serving (``--serving inflight``), MLPerf offline (in-flight at the KV budget) and
server (the same, the concurrency cut to meet the benchmark's latency limits). Error = predicted / measured − 1.

The one fitted coefficient (``inflight_efficiency``, fit.py) is applied to in-flight rows; the errors of those
rows are cross-validated: each row is predicted with the efficiency fitted on the rows of the other models only
(leave one model out), never with a value its own measurements helped fit.

    python benchmarks/llm/validate.py [--write benchmarks/llm/results.md] [--csv benchmarks/llm/results.csv]
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from archstat.errors import ArchstatError  # noqa: E402
from archstat.llm import config as llm_config  # noqa: E402
from archstat.llm.estimate import estimate  # noqa: E402

LIMITS = {   # MLPerf server latency limits (the rules of v3.1 and v4.0)
    "gpt-j-6b": {"latency_s": 20.0},
    "llama-2-70b": {"ttft_s": 2.0, "tpot_s": 0.2},
}
LLAMA2_OSL = 294.45     # tokens per sample (MLPerf llama2-70b reference)


def read(name: str) -> list[dict]:
    with open(HERE / "data" / name, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["value"] = float(r["value"])
    return rows


def _int(x) -> int | None:
    return int(x) if x not in ("", None) else None


def inflight(row: dict, eff: float, **kw):
    return estimate(llm_config.load(row["model"]), row["device"], dtype=row["dtype"], tp=int(row["tp"]),
                    input_len=int(row["input_len"]), output_len=int(row["output_len"]), serving="inflight",
                    efficiency=eff, **kw)


def mlperf_rate(row: dict, r) -> float:
    """Samples/s (gpt-j: the beams of a sample decode together) or tokens/s per GPU from an in-flight estimate."""
    beam = int(row.get("beam") or 1)
    seqs = r.batch / beam
    per_prompt = r.prefill.latency_s / r.prefill.batch
    out = int(row["output_len"])
    samples = seqs / (seqs * per_prompt + (out - 1) * r.tpot_s) / int(row["tp"])
    return samples * LLAMA2_OSL if "tokens" in row["metric"] else samples


def server(row: dict, eff: float):
    """The largest concurrency (≤ the KV budget's) that meets the server scenario's latency limits."""
    lim = LIMITS[row["model"]]
    best = inflight(row, eff)

    def ok(r) -> bool:
        if "tpot_s" in lim and (r.tpot_s > lim["tpot_s"] or r.ttft_s > lim["ttft_s"]):
            return False
        return "latency_s" not in lim or r.request_latency_s <= lim["latency_s"]

    if ok(best):
        return best
    lo, hi = 1, best.batch
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(inflight(row, eff, batch=mid)) else (lo, mid)
    return inflight(row, eff, batch=lo)


def predict(row: dict, eff: float) -> tuple[float, str, int]:
    """(the prediction at engine efficiency ``eff``, what was predicted, +1 for a rate, −1 for a time)."""
    c = llm_config.load(row["model"])
    m = row["metric"]
    common = dict(dtype=row["dtype"], tp=int(row["tp"]), input_len=int(row["input_len"]),
                  output_len=int(row["output_len"]), efficiency=eff)
    if m == "ttft_ms":
        r = estimate(c, row["device"], batch=1, serving="static", **{**common, "output_len": 1})
        return r.ttft_s * 1e3, "TTFT ms", -1
    if m.startswith("static"):
        r = estimate(c, row["device"], batch=_int(row["batch"]) or 1, serving="static", **common)
        return (r.throughput if m.endswith("group") else r.throughput_per_gpu), "static tokens/s", 1
    if m == "inflight_tokens_per_s_group":
        return inflight(row, eff).throughput, "in-flight tokens/s", 1
    r = server(row, eff) if m.startswith("server") else inflight(row, eff)
    return mlperf_rate(row, r), m.replace("_per_gpu", "").replace("_", " "), 1


def group_of(row: dict) -> str:
    return row["model"]


def speed_ratio(row: dict) -> float:
    """measured / predicted speed at efficiency 1: what the efficiency would have to be for this row."""
    return row["value"] / row["raw"] if row["sign"] > 0 else row["raw"] / row["value"]


def fit_efficiency(ratios: list[float]) -> float:
    """The efficiency that centres the rows (the geometric median of their speed ratios), capped at 1."""
    if not ratios:
        return 1.0
    return min(1.0, math.exp(statistics.median(math.log(x) for x in ratios)))


def raw_predictions(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        try:
            raw, what, sign = predict(row, 1.0)
        except ArchstatError as exc:
            out.append({**row, "raw": None, "what": "", "sign": 0, "error_text": str(exc)})
            continue
        out.append({**row, "raw": raw, "what": what, "sign": sign, "error_text": ""})
    return out


def run(rows: list[dict]) -> list[dict]:
    """Every row predicted at efficiency 1, then with the efficiency fitted on the other models' rows (leave
    one model out)."""
    out = raw_predictions(rows)
    usable = [r for r in out if r["raw"]]
    cv: dict[str, float] = {}
    for g in sorted({group_of(r) for r in usable}):
        cv[g] = fit_efficiency([speed_ratio(x) for x in usable if group_of(x) != g])
    for r in usable:
        eff = cv[group_of(r)]
        r["efficiency"] = eff
        if r["metric"].startswith("server"):      # the latency limits depend on the step times
            r["predicted"] = predict(r, eff)[0]
        else:
            r["predicted"] = r["raw"] * eff if r["sign"] > 0 else r["raw"] / eff
        r["ratio"] = r["predicted"] / r["value"]
    return out


def summary(rows: list[dict]) -> dict:
    ratios = [r["ratio"] for r in rows if r.get("ratio")]
    if not ratios:
        return {"n": 0}
    errs = [abs(x - 1) for x in ratios]
    return {"n": len(ratios), "median_error": statistics.median(errs),
            "within_50": sum(e <= 0.5 for e in errs) / len(errs),
            "within_25": sum(e <= 0.25 for e in errs) / len(errs),
            "worst": max(ratios, key=lambda x: abs(math.log(x))),
            "over_3x": sum(x > 3 or x < 1 / 3 for x in ratios),
            "median_ratio": statistics.median(ratios)}


def source_of(r: dict) -> str:
    if r["source"] == "mlperf":
        return f"MLPerf {r['version']} {r['table_model']}"
    return f"TensorRT-LLM {r['version']} " + ("TTFT" if r["metric"] == "ttft_ms" else
                                               "in-flight" if r["metric"].startswith("inflight") else "static")


def fmt_summary(s: dict) -> str:
    if not s.get("n"):
        return "| — | — | — | — | — |"
    return (f"| {s['n']} | {100 * s['median_error']:.0f} % | {100 * s['within_50']:.0f} % | "
            f"{s['median_ratio']:.2f} | {s['worst']:.2f}× |")


def table(title: str, rows: list[dict], key) -> list[str]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    lines = [f"### {title}", "", "| group | rows | median error | within ±50 % | median predicted/measured | worst |",
             "|---|---:|---:|---:|---:|---:|"]
    for k in sorted(groups):
        lines.append(f"| {k} " + fmt_summary(summary(groups[k])))
    return lines + [""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", default=None)
    ap.add_argument("--csv", default=None)
    args = ap.parse_args(argv)
    started = time.time()
    rows = run(read("trtllm.csv") + read("mlperf.csv"))
    done = [r for r in rows if r.get("ratio")]
    total = summary(done)
    print(f"{total['n']} rows: median error {100 * total['median_error']:.1f} %, within ±50 % "
          f"{100 * total['within_50']:.0f} %, worst {total['worst']:.2f}×, over 3×: {total['over_3x']} "
          f"[{time.time() - started:.0f} s]", file=sys.stderr)
    for src in sorted({source_of(r) for r in done}):
        s = summary([r for r in done if source_of(r) == src])
        print(f"  {src:40s} n={s['n']:4d} median {100 * s['median_error']:5.1f} % within50 "
              f"{100 * s['within_50']:5.1f} % median ratio {s['median_ratio']:.2f} worst {s['worst']:.2f}",
              file=sys.stderr)
    if args.csv:
        keys = ["source", "version", "table_model", "model", "table_gpu", "device", "tp", "dtype", "input_len",
                "output_len", "batch", "metric", "value", "raw", "efficiency", "predicted", "ratio", "error_text"]
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, keys, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    if args.write:
        from report import results_markdown

        Path(args.write).write_text(results_markdown(rows, summary, table, source_of, fmt_summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
