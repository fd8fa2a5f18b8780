"""Refit the performance model's coefficients (archstat/data/perf.yaml) from the public measurements.

    PYTHONPATH=. python benchmarks/prediction/fit.py [--sample N] [--folds 5] [--write]

Every row of every table in `data/` (tables.py) is planned once (the plans do not depend on the
coefficients), then the coefficients listed in FITTED are fitted by robust least squares on
log(predicted / measured) throughput, over all rows at once: one set of coefficients for every model,
table and device (no per-model or per-table constant). How far it can be trusted is measured by
cross-validation by model family: the families are split into `--folds` groups; each group is predicted
by coefficients fitted without it. Those out-of-fold errors are the figures `perf.yaml`'s `validation`
(and every prediction's band) quotes, never the in-sample ones.

Every fit, the all-data one and each fold's, starts from the same priors (`priors.json`: the hand-set
values perf.yaml held before any fit, at f48af02), never from a fit that has seen the held-out rows, and
each runs the same `--max-nfev`: a fold's coefficients owe nothing to its own families.

`--write` rewrites archstat/data/perf.yaml with the all-data fit and the cross-validated bands.
Needs numpy and scipy (benchmark-only dependencies).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from replay import device_spec, family, plan_options, traced  # noqa: E402
from tables import TABLES, by_key  # noqa: E402

from archstat.ir.program import BatchMismatch  # noqa: E402
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

def _plan_programs(job):
    """One worker's share of the programs: (batches, skipped, ops)."""
    items, = job
    batches = {"gpu": Batch("gpu"), "cpu": Batch("cpu")}
    skipped: dict[str, int] = {}
    ops: set[str] = set()
    for (model, img, mode), entries in items:
        t = traced(model, img, mode)
        for key, row in entries:
            table = by_key(key)
            if t is None or "error" in t:
                why = "not traced" if t is None else t["error"].split(":")[0]
                skipped[why] = skipped.get(why, 0) + 1
                continue
            try:
                kernels = t["pair"].at(row["batch"])
            except BatchMismatch:
                skipped["batch"] = skipped.get("batch", 0) + 1
                continue
            device = device_spec(table.device)
            p = run_plan(kernels, device, **plan_options(table))
            ops.update(op for st in p.kernels for op in st.ops)
            batches[device.kind].add(p, device, table=table.key, model=row["model"], family=family(row["model"]),
                                     img=row["img"], batch=row["batch"], measured=row["samples_per_s"],
                                     runtime=table.runtime, train=table.mode == "train")
    return batches, skipped, ops


def build(tables, sample=None, workers: int = 2):
    """Batches (gpu, cpu) holding the plan of every measured row, with what was measured; the programs
    are planned by ``workers`` processes (each reads its cache files once)."""
    import multiprocessing as mp

    work: dict[tuple, list] = {}
    for table in tables:
        rows = table.rows()
        if sample:
            import random

            rows = random.Random(0).sample(rows, min(sample, len(rows)))
        for row in rows:
            work.setdefault((row["model"], row["img"], table.mode), []).append((table.key, row))
    items = sorted(work.items())
    chunks = [items[i::workers * 8] for i in range(workers * 8)]
    batches = {"gpu": Batch("gpu"), "cpu": Batch("cpu")}
    skipped: dict[str, int] = {}
    ops: set[str] = set()
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        for n, (b, sk, op) in enumerate(pool.imap(_plan_programs, [(c,) for c in chunks])):
            for kind in batches:
                batches[kind].extend(b[kind])
            for k, v in sk.items():
                skipped[k] = skipped.get(k, 0) + v
            ops |= op
            print(f"  planned {n + 1}/{len(chunks)} chunks, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return batches, skipped, ops


def residuals(batches, c):
    """log(predicted / measured) throughput of every stored row (gpu rows, then cpu rows)."""
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


def subset(batches, keep: np.ndarray) -> dict:
    """The batches restricted to the rows where ``keep`` is True (rows in all_preds order)."""
    out, start = {}, 0
    for kind, b in batches.items():
        n = len(b.preds)
        idx = np.flatnonzero(keep[start:start + n])
        out[kind] = b.subset(idx) if len(idx) else Batch(kind)
        start += n
    return out


def kind_of(path: str) -> str:
    """Which rows a coefficient acts on: the GPU tables' (gpu.*, host.gpu.*) or the CPU table's."""
    return "cpu" if path.startswith(("cpu.", "host.cpu.")) else "gpu"


def fit(batches, base, theta0=None, max_nfev=60, kind=None):
    """Robust least squares on log ratios over every row of ``batches``, in log space (every coefficient is
    a positive rate, share or time). With ``kind``, only that kind's coefficients move and only its rows
    are evaluated (no coefficient acts on both); the others keep their ``theta0`` values."""
    from scipy.optimize import least_squares

    lo = np.asarray([f[1] for f in FITTED])
    hi = np.asarray([f[2] for f in FITTED])
    x0 = np.clip(np.asarray(theta0 if theta0 is not None else [get(base, f[0]) for f in FITTED], dtype=float),
                 lo * 1.0001 + 1e-12, hi * 0.9999)
    moving = np.asarray([kind is None or kind_of(f[0]) == kind for f in FITTED])
    rows = batches if kind is None else {kind: batches[kind]}
    llo, lhi = np.log(np.maximum(lo[moving], 1e-12)), np.log(hi[moving])

    def full(z):
        theta = x0.copy()
        theta[moving] = np.exp(z)
        return theta

    def fun(z):
        return residuals(rows, with_values(base, full(z)))

    res = least_squares(fun, np.log(np.maximum(x0[moving], 1e-12)), bounds=(llo, lhi), loss="soft_l1",
                        f_scale=0.15, max_nfev=max_nfev, x_scale=1.0, diff_step=1e-3)
    return full(res.x), res


_SHARED: dict = {}   # the planned rows, inherited by the fitting workers (fork) instead of pickled


def _fit_job(job):
    """One fit in a worker: (kind, fold or None, theta, evaluations)."""
    kind, fold, keep, theta0, max_nfev = job
    th, res = fit(subset(_SHARED["batches"], keep), _SHARED["base"], theta0=theta0, max_nfev=max_nfev, kind=kind)
    return kind, fold, th, res.nfev


def fit_parallel(jobs: list, workers: int = 2) -> list:
    import multiprocessing as mp

    with mp.get_context("fork").Pool(workers) as pool:
        return pool.map(_fit_job, jobs, chunksize=1)


def merge(thetas: dict, x0) -> np.ndarray:
    """One coefficient vector from the per-kind fits."""
    out = np.asarray(x0, dtype=float).copy()
    for kind, th in thetas.items():
        m = np.asarray([kind_of(f[0]) == kind for f in FITTED])
        out[m] = th[m]
    return out


def fold_of(fam: str, folds: int) -> int:
    return int(hashlib.sha256(fam.encode()).hexdigest(), 16) % folds


def stats(r) -> dict:
    """Median |error|, share within ±25 % and ±50 %, worst, and the 10–90 % band of measured/predicted."""
    r = np.asarray(r)
    ratio = np.exp(-r)            # measured / predicted throughput
    err = np.exp(np.abs(r)) - 1   # ×1.5 either way is 50 % off
    return {"n": len(r), "median_error": float(np.median(err)) if len(r) else None,
            "within_25": float(np.mean(err <= 0.25)) if len(r) else None,
            "within_50": float(np.mean(err <= 0.5)) if len(r) else None,
            "worst": float(np.exp(np.max(np.abs(r)))) if len(r) else None,
            "band": [float(np.quantile(ratio, 0.1)), float(np.quantile(ratio, 0.9))] if len(r) else None}


def regime_of(p: dict, kind: str) -> str:
    return f"{kind}-{p['runtime']}-{'train' if p['train'] else 'infer'}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit-rows", type=int, default=150, help="rows per table the coefficients are fitted on")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--tables", default=",".join(t.key for t in TABLES))
    ap.add_argument("--max-nfev", type=int, default=25, help="evaluations per fit (the all-data one and each fold's)")
    ap.add_argument("--reuse", action="store_true", help="reuse the plans of the last run (.cache/fit-plans.pkl)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--start", default=str(HERE / "priors.json"),
                    help="a JSON file whose 'fitted' coefficients start every fit (default: priors.json, the values "
                         "set before any fit). A start fitted on these rows leaks them into the cross-validation: "
                         "its figures are then not out of sample")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    # the start is checked before the long planning step
    try:
        start = json.loads(Path(args.start).read_text())["fitted"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        ap.error(f"--start {args.start}: cannot read its 'fitted' coefficients ({e})")
    missing = [f[0] for f in FITTED if f[0] not in start]
    if missing:
        ap.error(f"--start {args.start} lacks {len(missing)} of the fitted coefficients: "
                 f"{', '.join(missing[:5])}{', …' if len(missing) > 5 else ''}")
    x0 = np.asarray([start[f[0]] for f in FITTED], dtype=float)
    t0 = time.perf_counter()
    tables = [t for t in TABLES if t.key in args.tables.split(",")]
    cache = HERE / ".cache" / "fit-plans.pkl"
    if args.reuse and cache.exists():
        with open(cache, "rb") as f:
            batches, skipped, ops = pickle.load(f)
    else:
        batches, skipped, ops = build(tables, workers=args.workers)
        for b in batches.values():
            b.arrays()
        with open(cache, "wb") as f:
            pickle.dump((batches, skipped, ops), f)
    preds = all_preds(batches)
    kinds = [k for k, b in batches.items() for _ in b.preds]
    print(f"{len(preds)} rows planned ({skipped} skipped) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    # the rows the coefficients are fitted on: a fixed sample of each table
    rng = np.random.default_rng(0)
    table_of = np.asarray([p["table"] for p in preds])
    fit_rows = np.zeros(len(preds), dtype=bool)
    for key in sorted(set(table_of)):
        idx = np.flatnonzero(table_of == key)
        fit_rows[rng.choice(idx, min(args.fit_rows, len(idx)), replace=False)] = True
    base = coefficients()
    print("priors:", json.dumps(stats(residuals(batches, with_values(base, x0)))), file=sys.stderr)
    kinds_present = [k for k, b in batches.items() if b.preds]
    _SHARED.update(batches=batches, base=base)
    done = fit_parallel([(k, None, fit_rows, x0, args.max_nfev) for k in kinds_present], args.workers)
    theta = merge({k: th for k, _, th, _ in done}, x0)
    fitted = with_values(base, theta)
    r_all = residuals(batches, fitted)
    print(f"fit ({sum(n for *_, n in done)} evaluations, {time.perf_counter() - t0:.0f} s): "
          f"{json.dumps(stats(r_all))}", file=sys.stderr)
    # cross-validation by family: each family predicted by coefficients fitted without any of its models,
    # from the same start and with the same budget as the all-data fit (never from that fit: it has seen them)
    folds = np.asarray([fold_of(p["family"], args.folds) for p in preds])
    oof = np.full(len(preds), np.nan)
    done = fit_parallel([(k, f, fit_rows & (folds != f), x0, args.max_nfev)
                         for f in range(args.folds) for k in kinds_present], args.workers)
    for f in range(args.folds):
        th = merge({k: t for k, ff, t, _ in done if ff == f}, x0)
        held = folds == f
        oof[held] = residuals(batches, with_values(base, th))[held]
        print(f"fold {f} ({time.perf_counter() - t0:.0f} s): {json.dumps(stats(oof[held]))}", file=sys.stderr)
    out = {"fitted": {f[0]: float(v) for f, v in zip(FITTED, theta)}, "fit_rows": int(fit_rows.sum()),
           "in_sample": {}, "cross_validated": {}, "by_regime": {}}
    for key in sorted(set(table_of)):
        m = table_of == key
        out["in_sample"][key] = stats(r_all[m])
        out["cross_validated"][key] = stats(oof[m])
    regimes = np.asarray([regime_of(p, k) for p, k in zip(preds, kinds)])
    for key in sorted(set(regimes)):
        out["by_regime"][str(key)] = stats(oof[regimes == key])
    out["cross_validated"]["all"] = stats(oof)
    out["in_sample"]["all"] = stats(r_all)
    (HERE / ".cache" / "fit.json").write_text(json.dumps(out, indent=1))
    with open(HERE / ".cache" / "fit-rows.pkl", "wb") as f:
        pickle.dump({"preds": preds, "kinds": kinds, "oof": oof, "in_sample": r_all, "fit_rows": fit_rows,
                     "theta": theta}, f)
    print(json.dumps(out["cross_validated"], indent=1), file=sys.stderr)
    if args.write:
        write_yaml(fitted, out, tables, len(preds), sorted(ops))
    print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


def write_yaml(c: dict, out: dict, tables, rows: int, ops: list) -> None:
    """perf.yaml with the fitted coefficients, the cross-validated bands per regime (what every prediction
    quotes) and the operators the validation has seen."""
    import yaml

    c = copy.deepcopy(c)
    c["provenance"] = (f"fitted by benchmarks/prediction/fit.py on {datetime.date.today().isoformat()} on "
                       f"{out['fit_rows']} of {rows} public measurements (a fixed sample of each table): "
                       + "; ".join(t.what for t in tables))
    c["validation"] = dict(out["by_regime"])
    c["validated_ops"] = [op for op in ops if "." not in op]
    text = ("# The performance model's coefficients (archstat.perf): every one a property of a kind of kernel or of\n"
            "# a runtime, never of a model. Written by benchmarks/prediction/fit.py (do not edit by hand: refit);\n"
            "# `validation` holds the cross-validated errors (by model family) that predictions quote.\n")
    text += yaml.safe_dump(c, sort_keys=False, width=120)
    (ROOT / "archstat" / "data" / "perf.yaml").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
