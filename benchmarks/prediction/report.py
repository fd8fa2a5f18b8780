"""Write benchmarks/prediction/results.md and scatter.png from the last fit (fit.py).

    PYTHONPATH=. python benchmarks/prediction/report.py

Every figure in results.md is out of sample unless it says otherwise: a row's error is that of
coefficients fitted without its architecture (cross-validation by architecture), without its device
(leave one device out), without its runtime or without its batch range (held out). The reason given for
each of the worst rows is read off that row's own plan (where its predicted time goes), not guessed
from its name.
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import core  # noqa: E402
import numpy as np  # noqa: E402
from tables import ALL_TABLES, by_key  # noqa: E402

from archstat.prediction import MIN_BAND_ROWS  # noqa: E402

CACHE = HERE / ".cache"


def spearman(a, b) -> float:
    if len(a) < 3:
        return float("nan")
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def num(x, digits: int = 2) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def line(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def block(r: np.ndarray, measured: np.ndarray) -> list:
    """Figures of one set of rows: n, Spearman, median error, ±25 %, ±50 %, measured ÷ predicted, worst."""
    ok = ~np.isnan(r)
    s = core.stats(r[ok])
    if not s["n"]:
        return [0, "—", "—", "—", "—", "—", "—"]
    predicted = measured[ok] * np.exp(r[ok])
    return [s["n"], num(spearman(measured[ok], predicted), 3), pct(s["median_error"]), pct(s["within_25"]),
            pct(s["within_50"]), num(s["measured_over_predicted"]), f"{s['worst']:.2f}×"]


HEAD = ["rows", "Spearman", "median error", "within ±25 %", "within ±50 %", "measured ÷ predicted", "worst"]


def reason(p: dict, r: float) -> str:
    """Where the row's predicted time goes, from its own plan: host-bound, or the kinds of kernel that take
    most of its device time (depthwise and grouped convolutions, attention, memory-bound passes)."""
    from replay import predict_row

    table = by_key(p["table"])
    row = {"model": p["model"], "img": p["img"], "batch": p["batch"], "device": p["device_key"],
           "samples_per_s": p["measured"], "runtime": p["runtime"], "dtype": p.get("dtype"),
           "power_w": p.get("power_w_row"), "device_name": p.get("device_name")}
    try:
        pred, why = predict_row(table, row)
    except Exception as exc:          # a row the replay cannot rebuild: say so rather than guess
        return f"(not re-planned: {type(exc).__name__})"
    if pred is None:
        return f"(not re-planned: {why})"
    sched = pred.schedule
    parts = []
    if sched.bound == "host":
        parts.append(f"host-bound in the prediction (launching {sched.host_s * 1e3:.2f} ms > device "
                     f"{sched.device_s * 1e3:.2f} ms)")
    time: dict[str, float] = {}
    for c in pred.costs:
        k = c.kernel
        if k.kind == "host":
            continue
        if k.kind in ("conv", "gemm") and k.dims and k.dims[0] > 1 and k.kind == "conv":
            key = "grouped convolutions"
        elif k.kind == "depthwise":
            key = "depthwise convolutions"
        elif k.kind == "attention":
            key = "fused attention"
        elif k.kind in ("conv", "gemm"):
            key = "convolutions and matrix products" + (" (compute-bound)" if c.compute_s >= c.memory_s else
                                                        " (memory-bound)")
        else:
            key = f"{k.sub or 'memory'} passes"
        time[key] = time.get(key, 0.0) + c.device_s
    total = sum(time.values()) or 1.0
    top = sorted(time.items(), key=lambda kv: -kv[1])[:2]
    parts.append(", ".join(f"{100 * v / total:.0f} % in {k}" for k, v in top))
    if pred.clock_share < 1:
        parts.append(f"power limit holds {100 * pred.clock_share:.0f} % of the boost clock")
    direction = "measured slower than predicted" if r > 0 else "measured faster than predicted"
    return f"{direction}: " + "; ".join(parts)


def main() -> int:
    with open(CACHE / "fit-rows.pkl", "rb") as f:
        rows = pickle.load(f)
    out = json.loads((CACHE / "fit.json").read_text())
    preds = rows["preds"]
    oof, lodo = np.asarray(rows["oof"]), np.asarray(rows["lodo"])
    held_b = np.asarray(rows["held_batch"])
    insample = np.asarray(rows["in_sample"])
    measured = np.asarray([p["measured"] for p in preds], dtype=float)
    tables = np.asarray([p["table"] for p in preds])
    devices = np.asarray([p["device_key"] for p in preds])
    # like for like: rows whose measurement ran the work the prediction costs (MLPerf's BERT ran unpadded
    # sequences, less work than the padded 384 traced): shown in their table, left out of every other figure
    like = np.asarray(core.like_for_like(preds))
    fit = out["fit"]
    md = ["# Predicted against measured: the public tables", "",
          "Generated by `benchmarks/prediction/report.py` from the last `fit.py` run "
          f"({fit['versions']}). archstat traced every model once on the meta device (`trace_models.py`), "
          "planned its kernels for the runtime each table ran and costed them on the datasheet of each GPU "
          "(`archstat/perf`: power-limited clocks, an LRU L2, coefficients per architecture generation). "
          "**Every error below is out of sample** unless marked in-sample: a row is predicted by coefficients "
          "fitted without its architecture (timm's source module or an identical traced graph), without its "
          "device, without its runtime or without its batch range.", "",
          "Error = |predicted/measured − 1| taken the larger way round (×1.5 either way is 50 %). "
          "Measured ÷ predicted: the geometric mean of the measured throughput over the predicted (above 1: "
          "the part ran faster). Spearman: rank correlation of predicted and measured throughput.", "",
          "## The fit", "",
          f"- {fit['fitted_on']:,} of {fit['rows']:,} rows fitted on ({fit['parameters']} coefficients, each "
          "inside its physical range: `archstat/perf/coefficients.py`); rows weighted so every (table, device) "
          "counts alike.",
          f"- the all-data fit: status {fit['status']} ({fit['message']}), {fit['nfev']} evaluations, "
          f"first-order optimality {fit['optimality']:.3g}.",
          "- coefficients left at a bound: " + ("; ".join(fit["at_bounds"]) or "none") + ".",
          "- the out-of-sample fits (each from the same priors): " + ", ".join(
              f"{k} {v['status']}" for k, v in sorted(fit["folds"].items())) + " (status ≥ 1: converged; "
          "0: stopped at the evaluation budget).", ""]
    md += ["## Per table (cross-validated by architecture)", "", line(["table", *HEAD, "leave one device out",
           "in sample"]), line(["---"] * (len(HEAD) + 3))]
    for t in ALL_TABLES:
        m = tables == t.key
        if not m.any():
            continue
        ld = core.stats(lodo[m][~np.isnan(lodo[m])])
        ins = core.stats(insample[m])
        md.append(line([f"{t.key} ({t.what})", *block(oof[m], measured[m]), pct(ld["median_error"]),
                        pct(ins["median_error"])]))
    ll = lodo[like]
    md.append(line(["**all, like for like**", *block(oof[like], measured[like]),
                    pct(core.stats(ll[~np.isnan(ll)])["median_error"]),
                    pct(core.stats(insample[like])["median_error"])]))
    for t, why in sorted(out.get("not_like_for_like", {}).items()):
        md += ["", f"**{t}** ({why['rows']} rows) is predicted and shown, never fitted, and left out of every figure "
               f"below: {why['why']}."]
    md += ["", "## Per device", "", "Leave one device out: the device's rows predicted by coefficients "
           "fitted without any of them (its generation's own coefficients from its siblings, or the nearest "
           "generation's when it is the only one of its generation): how far a device archstat has never seen "
           "lands.", "", line(["device", "rows", "architecture CV: median error", "measured ÷ predicted",
                               "leave one device out: median error", "measured ÷ predicted", "within ±20 %"]),
           line(["---"] * 7)]
    for d in sorted(set(devices[like])):
        m = (devices == d) & like
        a, ld = core.stats(oof[m][~np.isnan(oof[m])]), core.stats(lodo[m][~np.isnan(lodo[m])])
        within20 = float(np.mean(np.exp(np.abs(lodo[m][~np.isnan(lodo[m])])) - 1 <= 0.2)) if ld["n"] else None
        md.append(line([d, int(m.sum()), pct(a["median_error"]), num(a["measured_over_predicted"]),
                        pct(ld["median_error"]), num(ld["measured_over_predicted"]), pct(within20)]))
    md += ["", "## Per regime: the bands predictions quote", "", "A prediction on a device measured in its regime "
           "quotes that regime's band (cross-validated by architecture); any other quotes the leave-one-device-"
           "out band of its kind and runtime, with a warning.", "",
           line(["regime", "rows", "median error", "within ±50 %", "band (10–90 % of measured ÷ predicted)"]),
           line(["---"] * 5)]
    for k, s in sorted(out["regimes"].items()):
        if s["n"]:
            shown = (f"{s['band'][0]:.2f}–{s['band'][1]:.2f}" if s["n"] >= MIN_BAND_ROWS else
                     f"none quoted (fewer than {MIN_BAND_ROWS} rows)")
            md.append(line([k, s["n"], pct(s["median_error"]), pct(s["within_50"]), shown]))
    md += ["", line(["leave one device out", "rows", "median error", "within ±50 %", "band"]), line(["---"] * 5)]
    for k, s in sorted(out["unmeasured"].items()):
        if s["n"]:
            md.append(line([k, s["n"], pct(s["median_error"]), pct(s["within_50"]),
                            f"{s['band'][0]:.2f}–{s['band'][1]:.2f}"]))
    md += ["", "## Held out", "", "Each runtime, and the batches of 1 and of 2–16, predicted by coefficients "
           "fitted without any row of it.", "", line(["held out", "rows", "median error", "within ±50 %",
                                                      "measured ÷ predicted"]), line(["---"] * 5)]
    for k, s in sorted(out["held_out_runtime"].items()):
        md.append(line([f"runtime {k}", s["n"], pct(s["median_error"]), pct(s["within_50"]),
                        num(s["measured_over_predicted"])]))
    for k, s in sorted(out["held_out_batch"].items()):
        md.append(line([f"batch {k}", s["n"], pct(s["median_error"]), pct(s["within_50"]),
                        num(s["measured_over_predicted"])]))
    # DeepLearningExamples at batch 1: the latency goal (within ±30 %), architecture CV and held out
    dle1 = np.asarray([p["table"].startswith("dle") and p["batch"] == 1 for p in preds])
    if dle1.any():
        a = np.exp(np.abs(oof[dle1][~np.isnan(oof[dle1])])) - 1
        h = np.exp(np.abs(held_b[dle1][~np.isnan(held_b[dle1])])) - 1
        md += ["", f"DeepLearningExamples at batch 1 ({int(dle1.sum())} rows, eager PyTorch 1.x in NGC containers): "
               f"latency within ±30 % on {pct(float(np.mean(a <= 0.3)) if len(a) else None)} of them "
               f"(architecture CV), {pct(float(np.mean(h <= 0.3)) if len(h) else None)} with every batch-1 row "
               "held out of the fit."]
    # MLPerf Offline per (accelerator, benchmark): leave one device out
    md += ["", "## MLPerf per accelerator and benchmark (leave one device out; every scenario's rows)", "",
           line(["accelerator", "benchmark", "rows", "median measured ÷ predicted", "within ±20 %"]),
           line(["---"] * 5)]
    pairs: dict[tuple, list] = {}
    for i, p in enumerate(preds):
        if p["table"].startswith("mlperf") and not math.isnan(lodo[i]):
            pairs.setdefault((p["device_key"], p["table"]), []).append(lodo[i])
    good = total = 0
    for (d, t), rs in sorted(pairs.items()):
        ratio = float(np.exp(-np.median(rs)))
        ok = abs(ratio - 1) <= 0.2
        counted = t not in out.get("not_like_for_like", {})
        good += ok and counted
        total += counted
        verdict = ("yes" if ok else "no") + ("" if counted else " (not like for like)")
        md.append(line([d, t, len(rs), num(ratio), verdict]))
    if pairs:
        md += ["", f"{good} of {total} like-for-like (accelerator, benchmark) pairs within ±20 % (leave one device "
               "out); the BERT pairs are listed but not counted (unpadded sequences)."]
    # the worst rows, with where their predicted time goes
    order = np.argsort(-np.abs(np.nan_to_num(np.where(like, oof, 0.0))))[:15]
    md += ["", "## The 15 worst rows (architecture CV)", "",
           line(["table", "device", "model", "batch", "measured (samples/s)", "predicted", "measured ÷ predicted",
                 "where the predicted time goes"]), line(["---"] * 8)]
    for i in order:
        p = preds[i]
        predicted = p["measured"] * math.exp(oof[i])
        md.append(line([p["table"], p["device_key"], f"{p['model']} @ {p['img']}", p["batch"], f"{p['measured']:,.1f}",
                        f"{predicted:,.1f}", num(math.exp(-oof[i])), reason(p, oof[i])]))
    md += ["", "## The coefficients", "", "`archstat/data/perf.yaml` after the fit; each inside its physical range.",
           "", "```json", json.dumps(out["fitted"], indent=1), "```", ""]
    (HERE / "results.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    scatter(preds, oof, measured)
    return 0


def scatter(preds, oof, measured) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 7))
    families = sorted({p["table"].split("-")[0] for p in preds})
    for fam in families:
        m = np.asarray([p["table"].split("-")[0] == fam for p in preds]) & ~np.isnan(oof)
        ax.scatter(measured[m] * np.exp(oof[m]), measured[m], s=4, alpha=0.5, label=fam)
    lo, hi = np.nanmin(measured), np.nanmax(measured)
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.plot([lo, hi], [lo * 1.5, hi * 1.5], "k:", lw=0.6)
    ax.plot([lo, hi], [lo / 1.5, hi / 1.5], "k:", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted throughput (samples/s), cross-validated by architecture")
    ax.set_ylabel("measured throughput (samples/s)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "scatter.png", dpi=110)


if __name__ == "__main__":
    sys.exit(main())
