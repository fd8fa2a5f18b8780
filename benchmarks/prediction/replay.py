"""Replay the public measurements: archstat's prediction beside every measured row.

    PYTHONPATH=. python benchmarks/prediction/replay.py [--tables KEY,…] [--sample N] [--workers 2] [--out F]

Reads the traced operators from `.cache/` (written by trace_models.py; the replay itself needs no torch),
predicts every row of every table (`tables.py`) and writes one CSV row per prediction. `report.py`
turns that into results.md and the scatter plot.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
import time
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tables import ALL_TABLES, TABLES, Table  # noqa: E402

from archstat.ir.program import BatchMismatch, BatchPair, from_rows  # noqa: E402
from archstat.perf.predict import predict  # noqa: E402

CACHE = HERE / ".cache"


@lru_cache(maxsize=64)
def traced(model: str, img: int, mode: str):
    path = CACHE / f"{model}@{img}.{mode}.json.gz"
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as f:
        record = json.load(f)
    k = record["kernels"]
    if len(k) == 1:                  # traced at the one batch its table measured
        (batch, rows), = k.items()
        return {"pair": Fixed(from_rows(rows), int(batch)), "record": record}
    try:
        (b1, r1), (b2, r2) = sorted(k.items(), key=lambda x: int(x[0]))
        pair = BatchPair(from_rows(r1), from_rows(r2), int(b1), int(b2))
    except BatchMismatch as exc:
        return {"error": f"batch: {exc}"}
    return {"pair": pair, "record": record}


class Fixed:
    """A program traced at one batch only."""

    def __init__(self, kernels, batch: int):
        self.kernels, self.batch = kernels, batch

    def at(self, batch: int):
        if batch != self.batch:
            raise BatchMismatch(f"traced at batch {self.batch} only, not {batch}")
        return self.kernels


def device_spec(key: str, name: str | None = None):
    """A devices.yaml entry's DeviceSpec; a key no entry has (a MIG slice's, derived) through the
    accelerator's ``name`` as ``devices.match_device`` reads it."""
    from archstat.analyze.devices import devices
    from archstat.perf.device import from_device, spec

    if key in devices() or name is None:
        return spec(key)
    from archstat.analyze.devices import match_device

    found = match_device(name).device
    if found is None or found.key != key:
        raise KeyError(f"no device '{key}' ({name})")
    return from_device(found)


def family(model: str) -> str:
    """timm's family of a model name: the letters before the first digit or separator
    (resnet50d → resnet, vit_base_patch16_224 → vit, convnextv2_tiny → convnextv2)."""
    import re

    head = re.split(r"[_.]", model)[0]
    m = re.match(r"[a-z]+(?:v\d+)?", head)
    fam = m.group(0) if m else head
    return re.sub(r"\d+$", "", fam) or head


ROW_OPTIONS = ("runtime", "dtype", "amp", "channels_last", "tf32")


def plan_options(table: Table, row: dict | None = None) -> dict:
    """What a table's runs did, as run_plan's options; an MLPerf or DLE row's own runtime, precision,
    layout and TF32 settings override its table's."""
    options = dict(runtime=table.runtime, dtype=table.dtype, amp=table.amp, channels_last=table.channels_last,
                   optimizer=table.optimizer, foreach=table.foreach, sdpa=table.sdpa, host=table.host)
    for key in ROW_OPTIONS:
        if row is not None and row.get(key) is not None:
            options[key] = row[key]
    return options


def predict_row(table: Table, row: dict, coefficients=None):
    if row.get("replayable") is False:
        return None, row["why"]
    t = traced(row["model"], row["img"], table.mode)
    if t is None:
        return None, "not traced"
    if "error" in t:
        return None, t["error"]
    try:
        kernels = t["pair"].at(row["batch"])
    except BatchMismatch as exc:
        return None, f"batch: {exc}"
    device = device_spec(row.get("device") or table.device, row.get("device_name"))
    if row.get("power_w") and device.kind == "gpu":      # a power-capped run (MLPerf's MaxQ)
        import dataclasses

        device = dataclasses.replace(device, power_w=float(row["power_w"]))
    p = predict(kernels, device, batch=row["batch"], coefficients_=coefficients, **plan_options(table, row))
    return p, ""


def _predict_model(jobs: list[tuple[str, dict]]) -> list[dict]:
    """Every (table key, row) of one model: its cache file is read once for all its tables."""
    from tables import by_key

    out = []
    for key, row in jobs:
        p, why = predict_row(by_key(key), row)
        rec = {"table": key, "model": row["model"], "family": family(row["model"] or ""), "img": row["img"],
               "batch": row["batch"], "measured_samples_per_s": row["samples_per_s"],
               **{k: row.get(k, "") for k in ROW_FIELDS}}
        if p is None:
            rec.update(predicted_samples_per_s="", why=why)
        else:
            rec.update(predicted_samples_per_s=round(p.throughput, 3), host_s=p.schedule.host_s,
                       device_s=p.schedule.device_s, why="")
        out.append(rec)
    traced.cache_clear()
    return out


def sample_rows(table: Table, sample: int | None) -> list[dict]:
    rows = table.rows()
    if sample:
        import random

        rows = random.Random(0).sample(rows, min(sample, len(rows)))
    return rows


def replay(keys: list[str], sample: int | None = None, workers: int = 2, models=None) -> list[dict]:
    """The prediction beside every measured row of the tables ``keys`` (``sample`` rows of each; only the
    rows of ``models`` when given)."""
    by_model: dict[str, list[tuple[str, dict]]] = {}
    for table in ALL_TABLES:
        if table.key in keys:
            for row in sample_rows(table, sample):
                if models is None or row["model"] in models:
                    by_model.setdefault(row["model"] or "", []).append((table.key, row))
    groups = [by_model[m] for m in sorted(by_model)]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            done = pool.map(_predict_model, groups, chunksize=4)
    else:
        done = [_predict_model(g) for g in groups]
    order = {key: i for i, key in enumerate(keys)}
    return sorted((r for group in done for r in group), key=lambda r: (order[r["table"]], r["model"], r["img"]))


# what an MLPerf or DLE row adds (empty for timm's)
ROW_FIELDS = ("device", "dtype", "scenario", "metric", "power_w", "maxq", "round", "system", "precision", "source")
FIELDS = ["table", "model", "family", "img", "batch", "measured_samples_per_s", "predicted_samples_per_s",
          "host_s", "device_s", "why", *ROW_FIELDS]


def write_csv(rows: list[dict], path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default=",".join(t.key for t in TABLES),
                    help="table keys (default timm's; also " + ", ".join(t.key for t in ALL_TABLES if t not in TABLES)
                    + ")")
    ap.add_argument("--summary", action="store_true", help="print per table: rows, median error, measured ÷ "
                    "predicted (geometric mean)")
    ap.add_argument("--by", default="", help="also the summary per value of these row fields, comma-separated "
                    "(scenario, device, dtype, maxq, precision; batch_regime: 1, 2-8, 9-63, 64+)")
    ap.add_argument("--sample", type=int, default=None, help="only N rows of each table (a fixed random sample)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / ".cache" / "replay.csv"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = replay(args.tables.split(","), args.sample, args.workers)
    write_csv(rows, args.out)
    print(f"{len(rows)} rows in {time.perf_counter() - t0:.0f} s → {args.out}", file=sys.stderr)
    if args.summary:
        print("\n".join(summary(rows, args.tables.split(","))))
    for field in args.by.split(",") if args.by else ():
        print(f"\nby {field}:\n" + "\n".join(summary(rows, args.tables.split(","), by=field)))
    return 0


def batch_regime(row: dict) -> str:
    b = int(row["batch"])
    return "1" if b == 1 else ("2-8" if b <= 8 else ("9-63" if b < 64 else "64+"))


def summary(rows: list[dict], keys: list[str], by: str | None = None) -> list[str]:
    """Per table: rows, predicted, median error (as report.py: exp(|log(predicted / measured)|) − 1),
    share within ±50 %, measured ÷ predicted (geometric mean), and why rows were not predicted."""
    import math
    from collections import Counter
    from statistics import median

    lines = ["| table | rows | predicted | median error | within ±50 % | measured ÷ predicted (geomean) "
             "| not predicted, why |", "|---|---:|---:|---:|---:|---:|---|"]
    groups = []
    for key in keys:
        mine = [r for r in rows if r["table"] == key]
        if by is None:
            groups.append((key, mine))
            continue
        value = batch_regime if by == "batch_regime" else (lambda r: str(r.get(by, "")))
        for v in sorted({value(r) for r in mine}):
            groups.append((f"{key} · {by}={v}", [r for r in mine if value(r) == v]))
    for key, mine in groups:
        ok = [r for r in mine if r["predicted_samples_per_s"] not in ("", None)]
        if by is not None and not ok:
            continue
        ratios = [float(r["measured_samples_per_s"]) / float(r["predicted_samples_per_s"]) for r in ok]
        errors = [math.exp(abs(math.log(q))) - 1 for q in ratios]
        err = median(errors) if errors else float("nan")
        w50 = sum(e <= 0.5 for e in errors) / len(errors) if errors else float("nan")
        geo = math.exp(sum(math.log(q) for q in ratios) / len(ratios)) if ratios else float("nan")
        why = Counter(r["why"] for r in mine if r["predicted_samples_per_s"] in ("", None)) if by is None else Counter()
        lines.append(f"| {key} | {len(mine)} | {len(ok)} | {100 * err:.1f} % | {100 * w50:.0f} % | {geo:.2f} | "
                     + "; ".join(f"{w} ×{n}" for w, n in why.most_common()) + " |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
