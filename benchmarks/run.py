"""archstat against torchinfo, fvcore, ptflops, thop and torch's FlopCounterMode, in one run.

    python benchmarks/run.py [--reps 3] [--out benchmarks/results.md]

1. Whole processes (import + model + analysis), alternating tools, `--reps` times per model:
   median wall time and peak resident memory per tool, and each tool's ratio to archstat.
2. The analysis step alone, inside each process (no imports, no model construction).
3. What each tool reports — params and its compute count in its own convention — beside archstat.
4. Scaling of archstat's analysis with depth (CIFAR ResNets 20 → 1202, pre-act 1001, generated
   chains of 10,000 and 100,000 layers) and sweep throughput on resnet50.
Needs the peers: pip install -r benchmarks/requirements.txt (into a venv with archstat[torch]).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["vgg16", "googlenet-torchvision", "resnet152", "densenet121", "resnext50_32x4d"]
TOOLS = ["archstat", "torchinfo", "fvcore", "ptflops", "thop", "flopcounter"]


def run_process(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS bytes (0: unknown without /usr/bin/time) and stdout of one process."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-500:]}")
    return wall, 0, proc.stdout.decode()


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Run under /usr/bin/time when it exists (peak RSS of exactly that process), else wall only."""
    if Path("/usr/bin/time").exists():
        with tempfile.NamedTemporaryFile("r", suffix=".txt") as f:
            t0 = time.perf_counter()
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name, *cmd], capture_output=True, cwd=ROOT)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-500:]}")
            return wall, int(f.read().strip().splitlines()[-1]) * 1024, proc.stdout.decode()
    return run_process(cmd)


def command(tool: str, model: str) -> list[str]:
    if tool == "archstat":   # the CLI a user types, cold
        return [sys.executable, "-m", "archstat", "table", model, "--format", "json"]
    return [sys.executable, str(ROOT / "benchmarks" / "peers.py"), tool, model]


def whole_processes(reps: int) -> dict:
    results: dict = {}
    for model in MODELS:
        for rep in range(reps):
            for tool in TOOLS if rep % 2 == 0 else reversed(TOOLS):   # alternate the order
                wall, rss, out = timed(command(tool, model))
                entry = results.setdefault((model, tool), {"wall": [], "rss": []})
                entry["wall"].append(wall)
                entry["rss"].append(rss)
                if tool != "archstat":
                    entry["report"] = json.loads(out.strip().splitlines()[-1])
                    entry.setdefault("steps", []).append(entry["report"]["analysis_s"])
                else:
                    d = json.loads(out)
                    entry["report"] = {"params": d["totals"]["params"], "count": d["totals"]["macs"],
                                       "activation_bytes": d["totals"]["activation_bytes"]}
        sys.stderr.write(f"  {model} done\n")
    return results


def analysis_steps(whole: dict, reps: int) -> dict:
    """The analysis alone, timed inside the process: the peers report it from the whole-process
    runs above; archstat's in-process time comes from peers.py archstat (its CLI runs cold)."""
    out: dict = {}
    for model in MODELS:
        for tool in TOOLS:
            if tool == "archstat":
                times = [json.loads(timed(command_inprocess(model))[2].strip().splitlines()[-1])["analysis_s"]
                         for _ in range(reps)]
            else:
                times = whole[(model, tool)]["steps"]
            out[(model, tool)] = statistics.median(times)
    return out


def command_inprocess(model: str) -> list[str]:
    return [sys.executable, str(ROOT / "benchmarks" / "peers.py"), "archstat", model]


def chain_config(n: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"archstat-chain-{n}.yaml"
    path.write_text("archstat: 1\nname: chain\ninput: [16, 32, 32]\nlayers:\n"
                    f"  - {{conv: {{out: 16, kernel: 3, padding: 1}}, repeat: {n - 1}, id: convs}}\n")
    return path


def scaling() -> list[dict]:
    import archstat

    rows = []
    targets = [("resnet20", "resnet20"), ("resnet56", "resnet56"), ("resnet110", "resnet110"),
               ("resnet1202", "resnet1202"), ("preact-resnet1001", "preact-resnet1001"),
               ("resnet152", "resnet152"), ("chain 10,000", str(chain_config(10_000))),
               ("chain 100,000", str(chain_config(100_000)))]
    for label, target in targets:
        archstat.analyze(target)   # warm the expression and spec caches once
        times = []
        for _ in range(3 if "100,000" not in label else 1):
            t0 = time.perf_counter()
            stats = archstat.analyze(target)
            times.append(time.perf_counter() - t0)
        tracemalloc.start()
        archstat.analyze(target)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"model": label, "nodes": len(stats.rows), "seconds": statistics.median(times),
                     "peak_python_bytes": peak})
    t0 = time.perf_counter()
    from archstat.orchestrate import run_sweep

    sweep = run_sweep("resnet50", [None], list(range(1, 41)), {})
    elapsed = time.perf_counter() - t0
    rows.append({"model": "sweep resnet50 (40 batch sizes)", "nodes": len(sweep.points),
                 "seconds": elapsed, "analyses_per_s": len(sweep.points) / elapsed})
    return rows


def fmt_mb(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def report(whole: dict, steps: dict, scale: list[dict], reps: int) -> str:
    lines = ["# Benchmarks", "",
             f"Run {datetime.date.today().isoformat()} on {platform.node() or 'this machine'}: "
             f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
             f"{platform.python_version()}, torch {__import__('torch').__version__}. Command: "
             f"`python benchmarks/run.py --reps {reps}`.", "",
             "## Whole process: import + model + analysis (median of the runs, tools alternating)", "",
             "| model | tool | wall | × archstat | peak RSS | × archstat |", "|---|---|---:|---:|---:|---:|"]
    for model in MODELS:
        base = whole[(model, "archstat")]
        bw, br = statistics.median(base["wall"]), statistics.median(base["rss"])
        for tool in TOOLS:
            e = whole[(model, tool)]
            w, r = statistics.median(e["wall"]), statistics.median(e["rss"])
            lines.append(f"| {model} | {tool} | {w:.2f} s | {w / bw:.1f} | {fmt_mb(r)} | {r / br:.1f} |")
    lines += ["", "## The analysis step alone (inside the process; no imports, no model construction; "
              "archstat's first call in a fresh process)", "",
              "| model | " + " | ".join(TOOLS) + " |", "|---|" + "---:|" * len(TOOLS)]
    for model in MODELS:
        lines.append(f"| {model} | " + " | ".join(f"{steps[(model, t)] * 1e3:.0f} ms" for t in TOOLS) + " |")
    lines += ["", "## What each tool reports (its own convention)", "",
              "| model | tool | params | count | convention |", "|---|---|---:|---:|---|"]
    for model in MODELS:
        for tool in TOOLS:
            rep = whole[(model, tool)]["report"]
            extra = f" (conv + linear: {rep['conv_linear']:,})" if "conv_linear" in rep else ""
            conv = rep.get("convention", "MACs (conv + linear, bias excluded)")
            lines.append(f"| {model} | {tool} | {rep['params']:,} | {rep['count']:,}{extra} | {conv} |")
    lines += ["", "## archstat's analysis against depth (in process, after one warm-up)", "",
              "| model | rows | seconds | peak Python memory |", "|---|---:|---:|---:|"]
    for row in scale:
        if "analyses_per_s" in row:
            lines.append(f"| {row['model']} | {row['nodes']} points | {row['seconds']:.2f} | "
                         f"{row['analyses_per_s']:.1f} analyses/s |")
        else:
            lines.append(f"| {row['model']} | {row['nodes']:,} | {row['seconds']:.3f} | "
                         f"{fmt_mb(row['peak_python_bytes'])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = parser.parse_args()
    sys.stderr.write("whole processes…\n")
    whole = whole_processes(args.reps)
    sys.stderr.write("analysis steps…\n")
    steps = analysis_steps(whole, args.reps)
    sys.stderr.write("scaling…\n")
    scale = scaling()
    text = report(whole, steps, scale, args.reps)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
