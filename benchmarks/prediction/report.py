"""Write benchmarks/prediction/results.md and scatter.png from the last fit (fit.py) and the anchors.

    PYTHONPATH=. python benchmarks/prediction/report.py

Every figure in results.md is out of sample unless it says otherwise: a row's error is that of the
coefficients fitted without any model of its family (fit.py's cross-validation). The anchors (MLPerf,
NVIDIA's T4 figures) are never fitted on.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from tables import TABLES, by_key  # noqa: E402

# The batch of each MLPerf run is the engine batch NVIDIA's submission configured (`gpu_batch_size`,
# mlcommons/inference_results_v3.0, closed/NVIDIA/configs/resnet50/Offline/__init__.py: H100_SXM_80GBx1
# 2048, A100_SXM_80GBx1 2048, L4x1 32 with CUDA graphs; the v4.0 H100 run is taken at v3.0's batch).
MLPERF_CONFIG = "batch: mlcommons/inference_results_v3.0 closed/NVIDIA/configs/resnet50/Offline"
ANCHORS = [
    # (what, device, runtime, dtype, amp, batch, measured, unit, source)
    ("MLPerf Inference v4.0 closed offline, resnet50, DGX-H100 (1 × H100-SXM-80GB), TensorRT int8", "h100",
     "engine", "int8", False, 2048, 88_714, "samples/s", "mlcommons.org, inference v4.0 results; " + MLPERF_CONFIG),
    ("MLPerf Inference v3.0 closed offline, resnet50, DGX-A100 (1 × A100-SXM-80GB), TensorRT int8", "a100",
     "engine", "int8", False, 2048, 42_379, "samples/s", "mlcommons.org, inference v3.0 results; " + MLPERF_CONFIG),
    ("MLPerf Inference v3.0 closed offline, resnet50, 1 × L4, TensorRT int8", "l4", "engine", "int8", False, 32,
     13_158, "samples/s", "mlcommons.org, inference v3.0 results; " + MLPERF_CONFIG),
    ("NVIDIA DeepLearningExamples resnet50 v1.5 (NGC PyTorch 21.03), T4, AMP, batch 1", "t4", "eager", "fp16", True,
     1, 12.96, "ms", "github.com/NVIDIA/DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5"),
    ("NVIDIA DeepLearningExamples resnet50 v1.5, T4, fp32 (TF32 absent on Turing), batch 64", "t4", "eager", "fp32",
     False, 64, 152.7, "ms", "same README"),
    ("NVIDIA DeepLearningExamples resnet50 v1.5, T4, AMP, batch 256", "t4", "eager", "fp16", True, 256, 226.0, "ms",
     "same README"),
]


def spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def stats(r, measured=None, predicted=None) -> dict:
    err = np.exp(np.abs(r)) - 1
    out = {"n": len(r), "median": float(np.median(err)), "w25": float(np.mean(err <= 0.25)),
           "w50": float(np.mean(err <= 0.5)), "worst": float(np.exp(np.max(np.abs(r))))}
    if measured is not None:
        out["spearman"] = spearman(measured, predicted)
    return out


def anchors():
    import archstat

    out = []
    for what, device, runtime, dtype, amp, batch, measured, unit, source in ANCHORS:
        rl = archstat.roofline("resnet50", device=device, dtype=dtype, amp=amp, batch=batch, runtime=runtime)
        predicted = rl.throughput if unit == "samples/s" else rl.latency_s * 1e3
        ratio = measured / predicted if unit == "samples/s" else predicted / measured   # measured / predicted speed
        out.append((what, device, runtime, dtype + (" (amp)" if amp else ""), batch, measured, predicted, unit,
                    ratio, source, rl))
    return out


def why(p: dict, r: float) -> str:
    """A short reason for a large error, from the model's own figures for that row."""
    hints = []
    m = p["model"]
    if p.get("host_share", 0) > 0.5:
        hints.append("host-bound in the prediction (launch costs decide it)")
    for key, text in (("gn", "group norm"), ("vit_", "attention"), ("efficientformerv2", "attention maps mixed "
                      "by 8-channel 1×1 convs (talking heads)"), ("efficientformer", "many small reshapes and "
                      "attention in a CNN"), ("levit", "attention on small maps with hardswish chains"),
                      ("mvit", "pooled attention"), ("hiera", "masked-unit attention"), ("maxvit", "block and grid "
                      "attention"), ("convmixer", "large depthwise kernels"), ("nfnet", "weight-standardised convs"),
                      ("xcit", "cross-covariance attention"), ("crossvit", "two-branch attention"),
                      ("eva", "rotary attention"), ("sam", "global attention at 1024²"), ("lambda", "lambda layers "
                      "(3-d convs with one channel)"), ("halo", "halo attention (unfold)"), ("bat_", "bottleneck "
                      "attention"), ("volo", "outlook attention (unfold/fold)"), ("cait", "class attention"),
                      ("nest", "nested blocks"), ("regnet", "grouped convs"), ("resnext", "grouped convs")):
        if key in m:
            hints.append(text)
            break
    hints.append("measured faster than predicted" if r < 0 else "measured slower than predicted")
    return "; ".join(hints)


def scatter(preds, oof, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 7))
    keys = [t.key for t in TABLES]
    colors = dict(zip(keys, ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]))
    for key in keys:
        idx = [i for i, p in enumerate(preds) if p["table"] == key and np.isfinite(oof[i])]
        if not idx:
            continue
        meas = np.asarray([preds[i]["measured"] for i in idx])
        pred = meas * np.exp(oof[idx])
        ax.scatter(meas, pred, s=6, alpha=0.5, color=colors[key], label=f"{key} ({len(idx)})")
    lo, hi = ax.get_xlim()
    lo, hi = min(lo, ax.get_ylim()[0]), max(hi, ax.get_ylim()[1])
    xs = np.asarray([lo, hi])
    ax.plot(xs, xs, color="#222222", lw=1)
    for f, style in ((1.5, "--"), (3.0, ":")):
        ax.plot(xs, xs * f, color="#888888", lw=0.8, ls=style)
        ax.plot(xs, xs / f, color="#888888", lw=0.8, ls=style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured throughput (samples/s, timm's published tables)")
    ax.set_ylabel("predicted throughput (samples/s, cross-validated by family)")
    ax.set_title("archstat's prediction against public measurements\n(dashed ±50 %, dotted 3×)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    with open(HERE / ".cache" / "fit-rows.pkl", "rb") as f:
        data = pickle.load(f)
    fit = json.loads((HERE / ".cache" / "fit.json").read_text())
    preds, oof, ins = data["preds"], np.asarray(data["oof"]), np.asarray(data["in_sample"])
    meas = np.asarray([p["measured"] for p in preds])
    lines = ["# Predicted against measured: the public tables", "",
             "Generated by `benchmarks/prediction/report.py` from the last `fit.py` run. Each row of each table is "
             "one timm model measured by timm's `benchmark.py` (tables.py says what ran: GPU, PyTorch, runtime, "
             "precision, layout, batch). archstat traced the model on the meta device (`trace_models.py`), "
             "planned its kernels for that runtime and costed them on the datasheet of that GPU (`archstat/perf`). "
             "**Every error below is cross-validated**: the coefficients that predict a row were fitted without "
             "any model of its family (5 folds of families; the fit uses a fixed sample of "
             f"{fit['fit_rows']} rows). In-sample figures are given once, for comparison.", "",
             "Error = |predicted/measured − 1| taken the larger way round (×1.5 either way is 50 %). "
             "Spearman: rank correlation of predicted and measured throughput across the table's models.", "",
             "## Per table", "",
             "| table | rows | Spearman | median error | within ±25 % | within ±50 % | worst "
             "| median error in sample |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    keys = [t.key for t in TABLES]
    for key in keys:
        idx = np.asarray([i for i, p in enumerate(preds) if p["table"] == key])
        if not len(idx):
            continue
        s = stats(oof[idx], meas[idx], meas[idx] * np.exp(oof[idx]))
        si = stats(ins[idx])
        lines.append(f"| {key} ({by_key(key).what}) | {s['n']} | {s['spearman']:.3f} | {100 * s['median']:.1f} % | "
                     f"{100 * s['w25']:.0f} % | {100 * s['w50']:.0f} % | {s['worst']:.2f}× | "
                     f"{100 * si['median']:.1f} % |")
    s = stats(oof, meas, meas * np.exp(oof))
    lines.append(f"| **all** | {s['n']} | {s['spearman']:.3f} | {100 * s['median']:.1f} % | {100 * s['w25']:.0f} % | "
                 f"{100 * s['w50']:.0f} % | {s['worst']:.2f}× | {100 * stats(ins)['median']:.1f} % |")
    lines += ["", "![measured against predicted](scatter.png)", "", "## Per model family (all tables, 12 largest)", "",
              "| family | rows | median error | within ±50 % | worst |", "|---|---:|---:|---:|---:|"]
    fams: dict[str, list[int]] = {}
    for i, p in enumerate(preds):
        fams.setdefault(p["family"], []).append(i)
    for fam, idx in sorted(fams.items(), key=lambda x: -len(x[1]))[:12]:
        s = stats(oof[idx])
        lines.append(f"| {fam} | {s['n']} | {100 * s['median']:.1f} % | {100 * s['w50']:.0f} % | {s['worst']:.2f}× |")
    lines += ["", "## The 15 worst rows", "", "| table | model | batch | measured (samples/s) | predicted | ratio | "
              "likely reason |", "|---|---|---:|---:|---:|---:|---|"]
    for i in np.argsort(-np.abs(oof))[:15]:
        p = preds[i]
        lines.append(f"| {p['table']} | {p['model']} @ {p['img']} | {p['batch']} | {p['measured']:,.1f} | "
                     f"{p['measured'] * np.exp(oof[i]):,.1f} | {np.exp(-oof[i]):.2f} | {why(p, oof[i])} |")
    lines += ["", "## Anchors (never fitted on)", "",
              "| measurement | device | runtime | dtype | batch | measured | predicted | measured ÷ predicted speed |",
              "|---|---|---|---|---:|---:|---:|---:|"]
    for what, device, runtime, dtype, batch, measured, predicted, unit, ratio, source, _ in anchors():
        lines.append(f"| {what} ({source}) | {device} | {runtime} | {dtype} | {batch} | {measured:,.2f} {unit} | "
                     f"{predicted:,.2f} {unit} | {ratio:.2f} |")
    lines += ["", "## The fitted coefficients", "", "```json", json.dumps(fit["fitted"], indent=1), "```", ""]
    (HERE / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    scatter(preds, oof, HERE / "scatter.png")
    print((HERE / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
