"""The public LLM serving measurements archstat llm is validated against, copied with their citations.

``python benchmarks/llm/tables.py`` reads the shared public tables (``../shared/public-bench``: TensorRT-LLM's
performance tables of 0.5.0, 0.9.0 and 0.12.0; MLPerf Inference v3.1–v4.0 closed results) and writes the rows
the validation uses to ``benchmarks/llm/data/`` (``trtllm.csv``, ``mlperf.csv``), each row with its source and
how it maps onto archstat's zoo and devices. Rows of models outside the zoo (Falcon 180B) and power-capped
(MaxQ) MLPerf systems are left out, and MLPerf's -99.9 accuracy variants (the same runs as -99) are kept once.
The validation (``validate.py``) reads only ``data/``.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path("/work/shared/public-bench")

MODELS = {   # the tables' names → archstat's zoo (same shapes: LLaMA 7B is LLaMA-1/2 7B; v3 is Llama 3 and 3.1)
    "GPT-J 6B": "gpt-j-6b", "GPTJ 6B": "gpt-j-6b", "LLaMA 7B": "llama-2-7b", "LLaMA v2 7B": "llama-2-7b",
    "LLaMA 70B": "llama-2-70b", "LLaMA v2 70B": "llama-2-70b", "LLaMA v3 8B": "llama-3.1-8b",
    "LLaMA v3 70B": "llama-3.1-70b", "Mistral 7B": "mistral-7b", "Mixtral 8x7B": "mixtral-8x7b",
}


def gpu_key(text: str) -> str | None:
    t = text.lower()
    if "gh200" in t:
        return "gh200-144gb" if "144" in t else "gh200"
    if "h200" in t:
        return "h200"
    if "h100" in t:
        return "h100-pcie" if "pcie" in t else "h100-nvl" if "nvl" in t else "h100"
    if "a100" in t:
        return "a100"
    if "l40s" in t:
        return "l40s"
    if re.search(r"\bl4\b", t):
        return "l4"
    return None


def precision(text: str) -> str:
    t = text.lower()
    return "fp8" if "fp8" in t else "fp16" if ("fp16" in t or "mixed" in t) else ""


def trtllm_rows() -> list[dict]:
    out = []
    with open(SHARED / "trtllm" / "trtllm_v0.5-v0.12.csv", newline="") as f:
        for r in csv.DictReader(f):
            model = MODELS.get(r["model"])
            if model is None:
                continue
            version = "0.5.0" if r["version"].startswith("release/0.5.0") else "0.12.0" if "0.12.0" in r[
                "version"] else "0.9.0"
            metric = r["metric"]
            kind = ("ttft_ms" if metric.startswith("first-token") else
                    "inflight_tokens_per_s_group" if "IFB" in metric else
                    "static_tokens_per_s_per_gpu" if "per GPU" in metric else "static_tokens_per_s_group")
            out.append({"source": "trtllm", "version": version, "table_model": r["model"], "model": model,
                        "table_gpu": r["gpu"], "device": gpu_key(r["gpu"]), "tp": int(r["tp"]), "pp": int(r["pp"]),
                        "dtype": precision(r["precision"]), "table_precision": r["precision"],
                        "input_len": int(r["isl"]), "output_len": int(r["osl"]) if r["osl"] else 1,
                        "batch": int(r["batch"]) if r["batch"] else "", "metric": kind,
                        "value": float(r["value"].replace(",", "")), "citation": r["source"]})
    return out


# MLPerf: the benchmarks' request shapes (means over the data set) and tensor parallelism, as stated
MLPERF = {
    "gptj-99": {"model": "gpt-j-6b", "input_len": 1000, "output_len": 75, "beam": 4,
                "shape_source": "ASSUMED from CNN/DailyMail's statistics (articles ≈ 770 words, highlights ≈ 55 words, "
                                "≈ 1.3 GPT-J tokens a word; max 128 new tokens, beam search of 4, per the MLPerf GPT-J "
                                "reference): not stated in the sources read"},
    "llama2-70b-99": {"model": "llama-2-70b", "input_len": 294, "output_len": 294, "beam": 1,
                      "shape_source": "output: 294.45 tokens per sample (mlcommons/inference language/llama2-70b "
                                      "README, accuracy target); input ASSUMED equal to it (no figure in the sources "
                                      "read; OpenOrca prompts are capped at 1,024 tokens)"},
}
TP_LLAMA2_70B = {"h100": 2, "h100-nvl": 2}    # 80–94 GB parts: TP 2 (an assumption); 141–144 GB parts: 1


def mlperf_rows() -> list[dict]:
    out = []
    with open(SHARED / "mlperf" / "mlperf_inference_v3.0-v4.0.csv", newline="") as f:
        for r in csv.DictReader(f):
            bench = MLPERF.get(r["benchmark"])
            if bench is None or r["scenario"] not in ("Offline", "Server") or "maxq" in r["power_note"].lower():
                continue
            device = gpu_key(r["accelerator"] + " " + r["system"])
            per = r["per_accelerator"].split(" ")[0]
            if device is None or not per:
                continue
            tp = TP_LLAMA2_70B.get(device, 1) if bench["model"] == "llama-2-70b" else 1
            unit = "tokens" if "tokens" in r["metric"] else "samples"
            out.append({"source": "mlperf", "version": r["round"], "table_model": r["benchmark"],
                        "model": bench["model"], "table_gpu": r["accelerator"], "device": device, "tp": tp, "pp": 1,
                        "dtype": "fp8", "table_precision": r["precision"] or "fp8 (NVIDIA's submissions)",
                        "input_len": bench["input_len"], "output_len": bench["output_len"],
                        "batch": r["engine_batch"] or "", "beam": bench["beam"],
                        "metric": f"{r['scenario'].lower()}_{unit}_per_s_per_gpu",
                        "value": float(per), "system": r["system"], "accelerators": int(r["accelerator_count"]),
                        "shape_source": bench["shape_source"], "citation": r["source"]})
    return out


def write(rows: list[dict], path: Path) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)


def main() -> int:
    (HERE / "data").mkdir(exist_ok=True)
    t = trtllm_rows()
    m = mlperf_rows()
    write(t, HERE / "data" / "trtllm.csv")
    write(m, HERE / "data" / "mlperf.csv")
    print(f"{len(t)} TensorRT-LLM rows, {len(m)} MLPerf rows written to {HERE / 'data'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
