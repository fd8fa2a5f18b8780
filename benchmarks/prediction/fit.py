"""Refit the performance model's coefficients (archstat/data/perf.yaml) from the public measurements.

    PYTHONPATH=. python benchmarks/prediction/fit.py [--sample N] [--folds 5] [--write]

Every row of every table in `data/` (tables.py) is planned once (the plans do not depend on the
coefficients), then the coefficients listed in FITTED are fitted by robust least squares on
log(predicted / measured) throughput, over all rows at once: one set of coefficients for every model,
table and device (no per-model or per-table constant). How far it can be trusted is measured by
cross-validation by model family: the families are split into `--folds` groups; each group is predicted
by coefficients fitted without it. Those out-of-fold errors are the figures `perf.yaml`'s `validation`
(and every prediction's band) quotes, never the in-sample ones.

`--write` rewrites archstat/data/perf.yaml with the all-data fit and the cross-validated bands.
Needs numpy and scipy (benchmark-only dependencies).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import json
import math
import pickle
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from replay import CACHE, device_spec, family, plan_options, traced  # noqa: E402
from tables import TABLES  # noqa: E402

from archstat.perf.kernels import BatchMismatch  # noqa: E402
from archstat.perf.predict import coefficients, run_plan  # noqa: E402
from archstat.perf.vectorized import Batch  # noqa: E402

# (path in perf.yaml, lower bound, upper bound): what the fit may move
FITTED = [
    ("gpu.gemm_efficiency", 0.3, 1.2), ("gpu.tile_intensity", 8, 256), ("gpu.k_overhead", 1, 512),
    ("gpu.conv_efficiency", 0.2, 1.5), ("gpu.grouped_efficiency", 0.05, 1.5),
    ("gpu.depthwise_compute_efficiency", 0.02, 1.0), ("gpu.attention_efficiency", 0.05, 1.2),
    ("gpu.efficient_attention_efficiency", 0.02, 1.2), ("gpu.attention_head_overhead", 0.5, 256),
    ("gpu.bandwidth_efficiency.pointwise", 0.2, 1.2), ("gpu.bandwidth_efficiency.cast", 0.2, 1.2),
    ("gpu.bandwidth_efficiency.reduction", 0.1, 1.2), ("gpu.bandwidth_efficiency.norm", 0.1, 1.2),
    ("gpu.bandwidth_efficiency.softmax", 0.1, 1.2), ("gpu.bandwidth_efficiency.pool", 0.1, 1.2),
    ("gpu.bandwidth_efficiency.copy", 0.1, 1.2), ("gpu.bandwidth_efficiency.transpose", 0.1, 1.2),
    ("gpu.bandwidth_efficiency.gather", 0.05, 1.2), ("gpu.bandwidth_efficiency.fused", 0.2, 1.2),
    ("gpu.bandwidth_efficiency.matrix", 0.2, 1.2), ("gpu.bandwidth_efficiency.depthwise", 0.05, 1.2),
    ("gpu.kernel_s", 0.2e-6, 20e-6), ("gpu.l2_fraction", 0.05, 1.0), ("gpu.l2_speedup", 1.0, 10.0),
    ("gpu.nchw_transpose_share", 0.0, 1.0),
    ("host.gpu.eager.view", 0.1e-6, 20e-6), ("host.gpu.eager.pointwise", 0.5e-6, 60e-6),
    ("host.gpu.eager.norm", 0.5e-6, 80e-6), ("host.gpu.eager.conv", 1e-6, 150e-6),
    ("host.gpu.eager.gemm", 1e-6, 100e-6), ("host.gpu.eager.attention", 1e-6, 150e-6),
    ("host.gpu.compile.fused", 0.5e-6, 60e-6), ("host.gpu.compile.conv", 0.5e-6, 100e-6),
    ("host.gpu.compile.gemm", 0.5e-6, 100e-6), ("host.gpu.compile.attention", 0.5e-6, 100e-6),
    ("cpu.gemm_efficiency", 0.05, 1.2), ("cpu.conv_efficiency", 0.05, 2.0), ("cpu.grouped_efficiency", 0.02, 2.0),
    ("cpu.depthwise_compute_efficiency", 0.005, 1.0), ("cpu.attention_efficiency", 0.02, 1.2),
    ("cpu.bandwidth_efficiency.fused", 0.05, 2.0), ("cpu.bandwidth_efficiency.pool", 0.05, 2.0),
    ("cpu.bandwidth_efficiency.matrix", 0.05, 2.0), ("cpu.bandwidth_efficiency.depthwise", 0.02, 2.0),
    ("cpu.kernel_s", 0.1e-6, 50e-6), ("cpu.l2_fraction", 0.05, 1.0), ("cpu.l2_speedup", 1.0, 20.0),
    ("host.cpu.compile.fused", 0.1e-6, 60e-6), ("host.cpu.compile.conv", 0.1e-6, 100e-6),
    ("host.cpu.compile.gemm", 0.1e-6, 100e-6),
]
# coefficients that move with another (the same kind of kernel or launch); the first is fitted
TIED = {"host.gpu.eager.alloc": "host.gpu.eager.view", "host.gpu.eager.fused": "host.gpu.eager.pointwise",
        "host.gpu.compile.pointwise": "host.gpu.compile.fused", "host.gpu.compile.norm": "host.gpu.compile.fused",
        "host.cpu.compile.pointwise": "host.cpu.compile.fused", "host.cpu.compile.norm": "host.cpu.compile.fused",
        "host.cpu.compile.attention": "host.cpu.compile.gemm",
        "gpu.bandwidth_efficiency.fill": "gpu.bandwidth_efficiency.pointwise",
        "gpu.bandwidth_efficiency.other": "gpu.bandwidth_efficiency.copy",
        **{f"cpu.bandwidth_efficiency.{k}": "cpu.bandwidth_efficiency.fused"
           for k in ("pointwise", "cast", "fill", "reduction", "norm", "softmax", "copy", "transpose", "gather",
                     "other")},
        "cpu.efficient_attention_efficiency": "cpu.attention_efficiency"}


def get(c: dict, path: str):
    for p in path.split(".")[:-1]:
        c = c[p]
    return c[path.split(".")[-1]]


def put(c: dict, path: str, value) -> None:
    for p in path.split(".")[:-1]:
        c = c.setdefault(p, {})
    c[path.split(".")[-1]] = value


def with_values(base: dict, theta) -> dict:
    c = copy.deepcopy(base)
    for (path, _, _), v in zip(FITTED, theta):
        put(c, path, float(v))
    for path, source in TIED.items():
        put(c, path, get(c, source))
    return c


# -- the plans of every measured row -------------------------------------------------------------------

def build(tables, sample=None):
    """Batches (gpu, cpu) holding the plan of every measured row, with what was measured."""
    batches = {"gpu": Batch("gpu"), "cpu": Batch("cpu")}
    skipped: dict[str, int] = {}
    for table in tables:
        rows = table.rows()
        if sample:
            import random

            rows = random.Random(0).sample(rows, min(sample, len(rows)))
        device = device_spec(table.device)
        for row in rows:
            t = traced(row["model"], row["img"], table.mode)
            if t is None or "error" in t:
                why = "not traced" if t is None else t["error"].split(":")[0]
                skipped[why] = skipped.get(why, 0) + 1
                continue
            try:
                kernels = t["pair"].at(row["batch"])
            except BatchMismatch:
                skipped["batch"] = skipped.get("batch", 0) + 1
                continue
            p = run_plan(kernels, device, **plan_options(table))
            batches[device.kind].add(p, device, table=table.key, model=row["model"], family=family(row["model"]),
                                     img=row["img"], batch=row["batch"], measured=row["samples_per_s"])
    return batches, skipped


def residuals(batches, c):
    out = []
    for b in batches.values():
        if not b.preds:
            continue
        lat = b.latencies(c)
        batch = np.asarray([p["batch"] for p in b.preds], dtype=float)
        meas = np.asarray([p["measured"] for p in b.preds], dtype=float)
        out.append(np.log(batch / lat) - np.log(meas))
    return np.concatenate(out) if out else np.zeros(0)


def all_preds(batches):
    return [p for b in batches.values() for p in b.preds]


def fit(batches, base, mask=None, theta0=None, max_nfev=60):
    """Least squares on log ratios over the rows where ``mask`` is True."""
    from scipy.optimize import least_squares

    lo = np.asarray([f[1] for f in FITTED])
    hi = np.asarray([f[2] for f in FITTED])
    x0 = np.clip(np.asarray(theta0 if theta0 is not None else [get(base, f[0]) for f in FITTED], dtype=float),
                 lo * 1.0001, hi * 0.9999)
    # search in log space: every coefficient is a positive rate, share or time
    llo, lhi = np.log(np.maximum(lo, 1e-12)), np.log(hi)

    def fun(z):
        r = residuals(batches, with_values(base, np.exp(z)))
        return r if mask is None else r[mask]

    res = least_squares(fun, np.log(np.maximum(x0, 1e-12)), bounds=(llo, lhi), loss="soft_l1", f_scale=0.15,
                        max_nfev=max_nfev, x_scale=1.0, diff_step=1e-3)
    return np.exp(res.x), res


def fold_of(fam: str, folds: int) -> int:
    return int(hashlib.sha256(fam.encode()).hexdigest(), 16) % folds


def stats(r) -> dict:
    """Median |error|, share within ±25 % and ±50 %, worst, and the 10–90 % band of measured/predicted."""
    ratio = np.exp(-r)            # measured / predicted throughput
    err = np.abs(np.exp(np.abs(r)) - 1)
    return {"n": int(len(r)), "median_error": float(np.median(err)) if len(r) else None,
            "within_25": float(np.mean(err <= 0.25)) if len(r) else None,
            "within_50": float(np.mean(err <= 0.5)) if len(r) else None,
            "worst": float(np.exp(np.max(np.abs(r)))) if len(r) else None,
            "band": [float(np.quantile(ratio, 0.1)), float(np.quantile(ratio, 0.9))] if len(r) else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=None, help="rows per table (a fixed random sample)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--tables", default=",".join(t.key for t in TABLES if t.mode == "infer"))
    ap.add_argument("--max-nfev", type=int, default=60)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    tables = [t for t in TABLES if t.key in args.tables.split(",")]
    batches, skipped = build(tables, args.sample)
    preds = all_preds(batches)
    print(f"{len(preds)} rows planned ({skipped} skipped) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    base = coefficients()
    r0 = residuals(batches, base)
    print("priors:", json.dumps(stats(r0)), file=sys.stderr)
    theta, res = fit(batches, base, max_nfev=args.max_nfev)
    fitted = with_values(base, theta)
    r_all = residuals(batches, fitted)
    print(f"fit ({res.nfev} evaluations, {time.perf_counter() - t0:.0f} s):", json.dumps(stats(r_all)),
          file=sys.stderr)
    # cross-validation by family: each family predicted by coefficients fitted without it
    folds = np.asarray([fold_of(p["family"], args.folds) for p in preds])
    oof = np.full(len(preds), np.nan)
    for k in range(args.folds):
        train = folds != k
        th, _ = fit(batches, base, mask=train, theta0=theta, max_nfev=max(10, args.max_nfev // 3))
        oof[~train] = residuals(batches, with_values(base, th))[~train]
        print(f"fold {k}: {stats(oof[~train])}", file=sys.stderr)
    out = {"fitted": {f[0]: float(v) for f, v in zip(FITTED, theta)}, "in_sample": {}, "cross_validated": {}}
    keys = np.asarray([p["table"] for p in preds])
    for key in sorted(set(keys)):
        m = keys == key
        out["in_sample"][key] = stats(r_all[m])
        out["cross_validated"][key] = stats(oof[m])
    out["cross_validated"]["all"] = stats(oof)
    out["in_sample"]["all"] = stats(r_all)
    report = HERE / ".cache" / "fit.json"
    report.write_text(json.dumps(out, indent=1))
    np.save(HERE / ".cache" / "fit-oof.npy", oof)
    with open(HERE / ".cache" / "fit-rows.pkl", "wb") as f:
        pickle.dump({"preds": preds, "oof": oof, "in_sample": r_all}, f)
    print(json.dumps(out["cross_validated"], indent=1), file=sys.stderr)
    if args.write:
        write_yaml(fitted, out, tables, len(preds))
    print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


def write_yaml(c: dict, out: dict, tables, rows: int) -> None:
    """perf.yaml with the fitted coefficients and the cross-validated bands per runtime."""
    import yaml

    c = copy.deepcopy(c)
    c["provenance"] = (f"fitted by benchmarks/prediction/fit.py on {datetime.date.today().isoformat()} from {rows} "
                       f"public measurements: " + "; ".join(t.what for t in tables))
    c["validation"] = {k: v for k, v in out["cross_validated"].items()}
    text = ("# The performance model's coefficients (archstat.perf): every one a property of a kind of kernel or of\n"
            "# a runtime, never of a model. Written by benchmarks/prediction/fit.py (do not edit by hand: refit);\n"
            "# `validation` holds the cross-validated errors (by model family) that predictions quote.\n")
    text += yaml.safe_dump(c, sort_keys=False, width=120)
    (ROOT / "archstat" / "data" / "perf.yaml").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
