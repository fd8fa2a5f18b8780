"""Refit the performance model's coefficients (archstat/data/perf.yaml) on the public measurements, and
measure how far its predictions can be trusted, by regime.

    PYTHONPATH=. python benchmarks/prediction/fit.py [--fit-rows N] [--folds 5] [--workers 2] [--write]

Every row of every table (tables.py: timm's GPU and CPU tables, MLPerf Inference, NVIDIA
DeepLearningExamples) is planned once (plans do not depend on the coefficients). The coefficients
(``core.params``: per architecture generation where a generation changes them, shared by every GPU
otherwise, host costs per runtime and operator class; each inside the physical range
``archstat/perf/coefficients.py`` declares) are fitted by robust least squares on log(predicted /
measured) throughput, rows weighted so that every (table, device) counts alike, run to convergence
(``--max-nfev`` is a safety net: the fit records whether it converged, its optimality and the
coefficients left at a bound).

How far it can be trusted is measured out of sample, never in it:

- **by architecture**: rows grouped by architecture (timm's source module, or an identical traced
  graph: ``core.architecture_groups``), the groups split into ``--folds`` folds, each predicted by
  coefficients fitted without it: the bands of measured devices, per regime (kind, runtime, inference
  or training, batch range, host- or device-bound);
- **leave one device out**: each measured device predicted by coefficients fitted without any of its
  rows (its generation's own coefficients fitted on its siblings, or its nearest generation's when it
  is the only one): the band a device archstat was never measured on quotes;
- **held-out runtimes and batch ranges**: each runtime, and the batches of 1 and of 2–16, predicted by
  coefficients fitted without them.

Every fit starts from the same priors (``priors.yaml``: hand-set before any fit, or ``--start``), so a
held-out row's coefficients owe nothing to it. ``--write`` rewrites perf.yaml; ``report.py`` writes
results.md from the last run. Needs numpy and scipy (benchmark-only dependencies).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import pickle
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import core  # noqa: E402
import numpy as np  # noqa: E402
from replay import device_spec, plan_options, traced  # noqa: E402
from tables import ALL_TABLES, by_key  # noqa: E402

from archstat.ir.program import BatchMismatch  # noqa: E402
from archstat.perf.device import set_name  # noqa: E402
from archstat.perf.predict import run_plan  # noqa: E402
from archstat.perf.vectorized import Batch  # noqa: E402
from archstat.prediction import batch_range, coarse_regime, regime  # noqa: E402

CACHE = HERE / ".cache"


# -- the plans of every measured row -------------------------------------------------------------------

def _plan_programs(job):
    """One worker's share of the programs: (batches by coefficient set, skipped, operators)."""
    items, base = job
    batches: dict[str, Batch] = {}
    skipped: dict[str, int] = {}
    ops: set[str] = set()
    for (model, img, mode), entries in items:
        t = traced(model, img, mode)
        for key, row in entries:
            table = by_key(key)
            if not row.get("replayable", True):
                skipped[row.get("why") or "not replayable"] = skipped.get(row.get("why") or "not replayable", 0) + 1
                continue
            if t is None or "error" in t:
                why = "not traced" if t is None else t["error"].split(":")[0]
                skipped[why] = skipped.get(why, 0) + 1
                continue
            try:
                calls = t["pair"].at(row["batch"])
            except BatchMismatch:
                skipped["batch"] = skipped.get("batch", 0) + 1
                continue
            device = device_spec(row.get("device") or table.device, row.get("device_name"))
            if row.get("power_w") and device.kind == "gpu":      # a power-capped run (MLPerf's MaxQ)
                device = dataclasses.replace(device, power_w=float(row["power_w"]))
            try:
                p = run_plan(calls, device, **plan_options(table, row))
            except ValueError as exc:
                skipped[f"plan: {exc}"] = skipped.get(f"plan: {exc}", 0) + 1
                continue
            ops.update(op for st in p.kernels for op in st.ops)
            name = set_name(base, device)[0]
            record = t.get("record") or {}
            batches.setdefault(name, Batch(device.kind, name)).add(
                p, device, table=table.key, model=row["model"], img=row["img"], batch=row["batch"],
                measured=row["samples_per_s"], runtime=str(p.runtime), train=table.mode == "train",
                fit=not row.get("not_fitted"), dtype=row.get("dtype"), power_w_row=row.get("power_w"),
                device_name=row.get("device_name"),
                device_key=device.key, kind=device.kind, arch=record.get("arch", ""), graph=record.get("graph", ""))
    return batches, skipped, ops


def build(tables, base: dict, workers: int = 2):
    """Batches (one per coefficient set) holding the plan of every measured row."""
    import multiprocessing as mp

    work: dict[tuple, list] = {}
    for table in tables:
        for row in table.rows():
            work.setdefault((row["model"], row["img"], table.mode), []).append((table.key, row))
    items = sorted(work.items())
    chunks = [items[i::workers * 8] for i in range(workers * 8)]
    batches: dict[str, Batch] = {}
    skipped: dict[str, int] = {}
    ops: set[str] = set()
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        for n, (b, sk, op) in enumerate(pool.imap(_plan_programs, [(c, base) for c in chunks])):
            for name, batch in b.items():
                if name in batches:
                    batches[name].extend(batch)
                else:
                    batches[name] = batch
            for k, v in sk.items():
                skipped[k] = skipped.get(k, 0) + v
            ops |= op
            print(f"  planned {n + 1}/{len(chunks)} chunks, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return dict(sorted(batches.items())), skipped, ops


# -- residuals and the fit -----------------------------------------------------------------------------

class Problem:
    """The rows a fit sees (a mask over every planned row), its parameters and its weights."""

    def __init__(self, batches: dict[str, Batch], base: dict, params: list[core.Param], mask: np.ndarray,
                 weights: np.ndarray):
        self.base, self.params = base, params
        self.parts: list[tuple[Batch, np.ndarray]] = []   # (the batch cut to the mask, its rows' indices)
        start = 0
        for b in batches.values():
            n = len(b.preds)
            idx = np.flatnonzero(mask[start:start + n])
            if len(idx):
                self.parts.append((b.subset(idx), start + idx))
            start += n
        self.rows = np.concatenate([i for _, i in self.parts]) if self.parts else np.zeros(0, dtype=int)
        self.weights = weights[self.rows]
        self.measured = np.concatenate([[p["measured"] for p in b.preds] for b, _ in self.parts])
        self.batch = np.concatenate([[p["batch"] for p in b.preds] for b, _ in self.parts]).astype(float)
        self.sparsity = self._sparsity()

    def _sparsity(self) -> np.ndarray:
        """Which residuals each parameter can move (so the Jacobian is estimated by columns that touch
        disjoint rows at once)."""
        out = np.zeros((len(self.rows), len(self.params)), dtype=bool)
        start = 0
        for b, _ in self.parts:
            n = len(b.preds)
            for j, p in enumerate(self.params):
                if p.scope == b.set_name or (p.scope in ("gpu", "host-gpu") and b.kind == "gpu") or (
                        p.scope in ("cpu", "host-cpu") and b.kind == "cpu"):
                    out[start:start + n, j] = True
            start += n
        return out

    def residuals(self, values) -> np.ndarray:
        """log(predicted / measured) throughput of every row of the fit."""
        c = core.apply(self.base, self.params, values)
        lat = np.concatenate([b.latencies(c) for b, _ in self.parts])
        return np.log(self.batch / lat) - np.log(self.measured)

    def fit(self, x0, max_nfev: int):
        from scipy.optimize import least_squares

        lo = np.asarray([p.low for p in self.params])
        hi = np.asarray([p.high for p in self.params])
        z0 = np.log(np.clip(np.asarray(x0, dtype=float), lo * 1.0001 + 1e-15, hi * 0.9999))
        used = self.sparsity.any(axis=0)              # a parameter no row of this fit moves stays at its start

        def full(z):
            out = np.exp(z0.copy())
            out[used] = np.exp(z)
            return out

        def fun(z):
            return self.weights * self.residuals(full(z))

        res = least_squares(fun, z0[used], bounds=(np.log(np.maximum(lo[used], 1e-15)), np.log(hi[used])),
                            loss="soft_l1", f_scale=0.15, max_nfev=max_nfev, diff_step=1e-3, ftol=1e-6, xtol=1e-6,
                            jac_sparsity=self.sparsity[:, used] if self.sparsity.any() else None)
        return full(res.x), res


_SHARED: dict = {}   # what the fitting workers inherit (fork) instead of pickling


def _fit_job(job):
    label, mask, max_nfev = job
    prob = Problem(_SHARED["batches"], _SHARED["base"], _SHARED["params"], mask, _SHARED["weights"])
    t0 = time.perf_counter()
    values, res = prob.fit(_SHARED["x0"], max_nfev)
    return label, values, {"status": int(res.status), "message": str(res.message), "nfev": int(res.nfev),
                           "optimality": float(res.optimality), "cost": float(res.cost),
                           "seconds": round(time.perf_counter() - t0, 1)}


def run_fits(jobs: list, workers: int) -> dict:
    import multiprocessing as mp

    if workers <= 1:
        return {label: (v, info) for label, v, info in map(_fit_job, jobs)}
    with mp.get_context("fork").Pool(workers) as pool:
        return {label: (v, info) for label, v, info in pool.imap_unordered(_fit_job, jobs, chunksize=1)}


def predict_all(batches: dict[str, Batch], c: dict) -> tuple[np.ndarray, np.ndarray]:
    """log(predicted / measured) of every planned row under coefficients ``c``, and whether each is
    host-bound (the schedule's bound)."""
    out, bound = [], []
    for b in batches.values():
        device, host, _ = b.device_and_host(c)
        lat = b.latencies(c)
        pred = b.arrays()["step_pred"]
        m = len(b.preds)
        busy = np.bincount(pred, weights=device, minlength=m)
        launch = np.bincount(pred, weights=host, minlength=m)
        batch = np.asarray([p["batch"] for p in b.preds], dtype=float)
        meas = np.asarray([p["measured"] for p in b.preds], dtype=float)
        out.append(np.log(batch / lat) - np.log(meas))
        bound.append((launch > busy) & (b.kind == "gpu"))
    return np.concatenate(out), np.concatenate(bound)


# -- the run ----------------------------------------------------------------------------------------------

def weights_of(preds: list[dict]) -> np.ndarray:
    """Every (table, device) counts alike: a row of a group of n rows weighs 1/√n (normalised)."""
    groups: dict[tuple, int] = {}
    for p in preds:
        groups[(p["table"], p["device_key"])] = groups.get((p["table"], p["device_key"]), 0) + 1
    w = np.asarray([1.0 / math.sqrt(groups[(p["table"], p["device_key"])]) for p in preds])
    return w / w.mean()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit-rows", type=int, default=120, help="rows per (table, device) the coefficients are "
                    "fitted on (a fixed sample; every row is predicted)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--tables", default=",".join(t.key for t in ALL_TABLES))
    ap.add_argument("--max-nfev", type=int, default=400, help="a safety net: each fit stops when it converges")
    ap.add_argument("--reuse", action="store_true", help="reuse the plans of the last run (.cache/fit-plans.pkl)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--start", default=str(HERE / "priors.yaml"),
                    help="the coefficients every fit starts from (default: priors.yaml, hand-set before any fit)")
    ap.add_argument("--skip-cv", action="store_true", help="the all-data fit only (no out-of-sample figures)")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--refigure", action="store_true",
                    help="no fit: the figures (fit.json; with --write, perf.yaml's validation) computed again from "
                         "the last run's rows (.cache/fit-rows.pkl), after a change to how they are summarised")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    import yaml

    if args.refigure:
        return refigure(args.write)

    try:
        base = yaml.safe_load(Path(args.start).read_text())
        missing = [k for k in ("sets", "host") if k not in base]
    except (OSError, yaml.YAMLError, TypeError) as e:
        ap.error(f"--start {args.start}: {e}")
    if missing:
        ap.error(f"--start {args.start}: no {' or '.join(missing)} (a perf.yaml of version 2)")
    tables = [t for t in ALL_TABLES if t.key in args.tables.split(",")]
    cache = CACHE / "fit-plans.pkl"
    if args.reuse and cache.exists():
        with open(cache, "rb") as f:
            batches, skipped, ops = pickle.load(f)
    else:
        batches, skipped, ops = build(tables, base, workers=args.workers)
        for b in batches.values():
            b.arrays()
        with open(cache, "wb") as f:
            pickle.dump((batches, skipped, ops), f)
    preds = [p for b in batches.values() for p in b.preds]
    print(f"{len(preds)} rows planned in {len(batches)} coefficient sets ({skipped} skipped), "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    gpu_sets = [name for name, b in batches.items() if b.kind == "gpu" and b.preds]
    params = core.params(gpu_sets, cpu="cpu" in batches)
    x0 = core.start(base, params)
    weights = weights_of(preds)
    n = len(preds)
    # the rows the coefficients are fitted on: a fixed sample of each (table, device)
    rng = np.random.default_rng(0)
    group_of = np.asarray([f"{p['table']}|{p['device_key']}" for p in preds])
    fit_rows = np.zeros(n, dtype=bool)
    fittable = np.asarray([p.get("fit", True) for p in preds])
    for g in sorted(set(group_of)):
        idx = np.flatnonzero((group_of == g) & fittable)
        if not len(idx):
            continue
        fit_rows[rng.choice(idx, min(args.fit_rows, len(idx)), replace=False)] = True
    _SHARED.update(batches=batches, base=base, params=params, weights=weights, x0=x0)
    r_prior, _ = predict_all(batches, base)
    print("priors:", json.dumps(core.stats(r_prior)), file=sys.stderr)
    jobs = [("all", fit_rows, args.max_nfev)]
    # out of sample: architecture folds, each measured device, each runtime, the small batch ranges
    arch = core.architecture_groups({p["model"]: (p.get("arch", ""), p.get("graph", "")) for p in preds})
    folds = np.asarray([core.fold_of(arch[p["model"]], args.folds) for p in preds])
    devices = np.asarray([p["device_key"] for p in preds])
    runtimes = np.asarray([p["runtime"] for p in preds])
    ranges = np.asarray([batch_range(p["batch"]) for p in preds])
    if not args.skip_cv:
        jobs += [(f"fold:{f}", fit_rows & (folds != f), args.max_nfev) for f in range(args.folds)]
        jobs += [(f"device:{d}", fit_rows & (devices != d), args.max_nfev) for d in sorted(set(devices))]
        jobs += [(f"runtime:{r}", fit_rows & (runtimes != r), args.max_nfev) for r in sorted(set(runtimes))
                 if (runtimes != r).any()]
        jobs += [(f"batch:{b}", fit_rows & (ranges != b), args.max_nfev) for b in ("1", "2-16")
                 if (ranges == b).any()]
    done = run_fits(jobs, args.workers)
    theta, info = done["all"]
    fitted = core.apply(base, params, theta)
    r_all, host_bound = predict_all(batches, fitted)
    print(f"fit: {info} {json.dumps(core.stats(r_all))}", file=sys.stderr)
    oof = np.full(n, np.nan)
    lodo = np.full(n, np.nan)
    held_runtime = np.full(n, np.nan)
    held_batch = np.full(n, np.nan)
    for label, (values, inf) in done.items():
        if label == "all":
            continue
        c = core.apply(base, params, values)
        if label.startswith("device:"):
            c = as_if_unmeasured(c, batches, label.partition(":")[2], fit_rows)
        r, _ = predict_all(batches, c)
        what, _, which = label.partition(":")
        target = {"fold": (oof, folds == (int(which) if what == "fold" else -1)),
                  "device": (lodo, devices == which), "runtime": (held_runtime, runtimes == which),
                  "batch": (held_batch, ranges == which)}[what]
        target[0][target[1]] = r[target[1]]
        print(f"{label}: {inf['status']} {inf['nfev']} evaluations {inf['seconds']} s: "
              f"{json.dumps(core.stats(r[target[1]]))}", file=sys.stderr)
    out = report_figures(preds, r_all, oof, lodo, held_runtime, held_batch, host_bound, fit_rows)
    out["fit"] = {**info, "at_bounds": core.at_bounds(params, theta), "parameters": len(params),
                  "fitted_on": int(fit_rows.sum()), "rows": n, "skipped": skipped,
                  "folds": {k: v[1] for k, v in done.items() if k != "all"}, "versions": versions()}
    out["fitted"] = {p.name: float(v) for p, v in zip(params, theta)}
    (CACHE / "fit.json").write_text(json.dumps(out, indent=1))
    with open(CACHE / "fit-rows.pkl", "wb") as f:
        pickle.dump({"preds": preds, "in_sample": r_all, "oof": oof, "lodo": lodo, "held_runtime": held_runtime,
                     "held_batch": held_batch, "host_bound": host_bound, "fit_rows": fit_rows, "theta": theta,
                     "params": [p.name for p in params]}, f)
    if args.write:
        write_yaml(fitted, out, tables, sorted(ops))
    print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


def as_if_unmeasured(c: dict, batches: dict[str, Batch], device: str, fit_rows: np.ndarray) -> dict:
    """The coefficients a device the fit never saw is predicted with: its generation's set where another
    device of that generation was fitted, else the nearest measured generation's (as archstat does for
    a generation no public measurement covers)."""
    import copy

    from archstat.perf.coefficients import NEAREST

    start, own, others = 0, None, set()
    for name, b in batches.items():
        for i, p in enumerate(b.preds):
            if p["device_key"] == device:
                own = name
            elif fit_rows[start + i]:
                others.add(name)
        start += len(b.preds)
    if own is None or own in others or own == "cpu":
        return c
    memory = "hbm" if any(p["hbm"] for p in batches[own].preds) else "gddr"
    nearest = next((g for g in NEAREST[memory] if g in others and g != own), None)
    if nearest is None:
        return c
    c = copy.deepcopy(c)
    c["sets"][own] = copy.deepcopy(c["sets"][nearest])
    return c


def refigure(write: bool) -> int:
    """The last run's figures summarised again (its rows, residuals and coefficients unchanged)."""
    import yaml

    with open(CACHE / "fit-rows.pkl", "rb") as f:
        rows = pickle.load(f)
    last = json.loads((CACHE / "fit.json").read_text())
    arrays = [np.asarray(rows[k]) for k in ("in_sample", "oof", "lodo", "held_runtime", "held_batch")]
    out = report_figures(rows["preds"], *arrays, np.asarray(rows["host_bound"]), rows["fit_rows"])
    out["fit"], out["fitted"] = last["fit"], last["fitted"]
    (CACHE / "fit.json").write_text(json.dumps(out, indent=1))
    if write:
        shipped = yaml.safe_load((ROOT / "archstat" / "data" / "perf.yaml").read_text(encoding="utf-8"))
        keys = {p["table"] for p in rows["preds"]}
        write_yaml({k: v for k, v in shipped.items() if k not in ("provenance", "fit", "validation", "validated_ops")},
                   out, [t for t in ALL_TABLES if t.key in keys], shipped.get("validated_ops", []))
    print("figures written again from .cache/fit-rows.pkl", file=sys.stderr)
    return 0


def report_figures(preds, r_all, oof, lodo, held_runtime, held_batch, host_bound, fit_rows) -> dict:
    """Every figure results.md and perf.yaml quote, from the residuals of each validation. A row whose
    measurement ran other work than the prediction costs (``not_fitted``: MLPerf's BERT, run unpadded) is
    reported in its table and nowhere else: the devices, regimes, held-out figures and the bands predictions
    quote are of like-for-like rows only."""
    out: dict = {"in_sample": {}, "by_table": {}, "by_device": {}, "regimes": {}, "unmeasured": {},
                 "held_out_runtime": {}, "held_out_batch": {}, "devices": {}, "not_like_for_like": {}}
    like = np.asarray(core.like_for_like(preds))
    keys = [regime(p["kind"], p["runtime"], p["train"], p["batch"], "host" if hb else "device")
            for p, hb in zip(preds, host_bound)]
    coarse = [coarse_regime(p["kind"], p["runtime"], p["train"]) for p in preds]
    tables = np.asarray([p["table"] for p in preds])
    devices = np.asarray([p["device_key"] for p in preds])
    for t in sorted(set(tables)):
        m = tables == t
        out["by_table"][str(t)] = {"architecture_cv": core.stats(oof[m]), "in_sample": core.stats(r_all[m]),
                                   "leave_one_device_out": core.stats(lodo[m])}
        if not like[m].all():
            why = next((r["not_fitted"] for r in by_key(str(t)).rows() if r.get("not_fitted")), "not fitted")
            out["not_like_for_like"][str(t)] = {"rows": int((m & ~like).sum()), "why": why}
    preds = [p for p, k in zip(preds, like) if k]
    r_all, oof, lodo, held_runtime, held_batch = (a[like] for a in (r_all, oof, lodo, held_runtime, held_batch))
    keys = [k for k, mm in zip(keys, like) if mm]
    coarse = [k for k, mm in zip(coarse, like) if mm]
    devices = devices[like]
    for d in sorted(set(devices)):
        m = devices == d
        out["by_device"][str(d)] = {"architecture_cv": core.stats(oof[m]), "leave_one_device_out": core.stats(lodo[m]),
                                    "in_sample": core.stats(r_all[m])}
        out["devices"][str(d)] = sorted({k for k, mm in zip(keys, m) if mm})
    keys_a, coarse_a = np.asarray(keys), np.asarray(coarse)
    for k in sorted(set(keys)):
        out["regimes"][k] = core.stats(oof[keys_a == k])
    for k in sorted(set(coarse)):
        out["unmeasured"][k] = core.stats(lodo[coarse_a == k])
    runtimes = np.asarray([p["runtime"] for p in preds])
    for r in sorted(set(runtimes)):
        out["held_out_runtime"][str(r)] = core.stats(held_runtime[runtimes == r])
    ranges = np.asarray([batch_range(p["batch"]) for p in preds])
    for b in ("1", "2-16"):
        out["held_out_batch"][b] = core.stats(held_batch[ranges == b])
    out["in_sample"]["all"] = core.stats(r_all)
    out["architecture_cv"] = core.stats(oof)
    out["leave_one_device_out"] = core.stats(lodo)
    return out


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "torch", "timm", "archstat"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def write_yaml(c: dict, out: dict, tables, ops: list) -> None:
    """perf.yaml: the fitted sets and host costs, how the fit ended, and the validation every prediction
    quotes (the regimes' bands, the leave-one-device-out bands, which device was measured in which regime)."""
    import copy

    import yaml

    c = copy.deepcopy(c)
    c["provenance"] = (f"fitted by benchmarks/prediction/fit.py on {datetime.date.today().isoformat()} on "
                       f"{out['fit']['fitted_on']} of {out['fit']['rows']} public measurements (a fixed sample of "
                       "each table and device): " + "; ".join(t.what for t in tables))
    c["fit"] = {k: out["fit"][k] for k in ("status", "message", "nfev", "optimality", "at_bounds", "versions")}
    c["validation"] = {"regimes": out["regimes"], "unmeasured": out["unmeasured"], "devices": out["devices"]}
    c["validated_ops"] = [op for op in ops if "." not in op]
    text = ("# The performance model's coefficients (archstat.perf), declared with their meaning and physical range\n"
            "# in archstat/perf/coefficients.py: one set of device-side coefficients per architecture generation\n"
            "# that public measurements cover (sets.<arch>), host costs per runtime and operator class. Written by\n"
            "# benchmarks/prediction/fit.py (do not edit by hand: refit); `validation` holds the out-of-sample\n"
            "# errors by regime that predictions quote.\n")
    text += yaml.safe_dump(json.loads(json.dumps(c)), sort_keys=False, width=120)
    (ROOT / "archstat" / "data" / "perf.yaml").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
