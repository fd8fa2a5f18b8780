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

from tables import TABLES, Table  # noqa: E402

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


def device_spec(key: str):
    from archstat.perf.device import spec

    return spec(key)


def family(model: str) -> str:
    """timm's family of a model name: the letters before the first digit or separator
    (resnet50d → resnet, vit_base_patch16_224 → vit, convnextv2_tiny → convnextv2)."""
    import re

    head = re.split(r"[_.]", model)[0]
    m = re.match(r"[a-z]+(?:v\d+)?", head)
    fam = m.group(0) if m else head
    return re.sub(r"\d+$", "", fam) or head


def plan_options(table: Table, row: dict | None = None) -> dict:
    """What a table's runs did (a row may say otherwise: its own dtype, as MLPerf's precision per
    submission), as run_plan's options."""
    row = row or {}
    return dict(runtime=row.get("runtime", table.runtime), dtype=row.get("dtype", table.dtype),
                amp=row.get("amp", table.amp), channels_last=row.get("channels_last", table.channels_last),
                optimizer=table.optimizer, foreach=table.foreach, sdpa=table.sdpa)


def predict_row(table: Table, row: dict, coefficients=None):
    t = traced(row["model"], row["img"], table.mode)
    if t is None:
        return None, "not traced"
    if "error" in t:
        return None, t["error"]
    try:
        kernels = t["pair"].at(row["batch"])
    except BatchMismatch as exc:
        return None, f"batch: {exc}"
    p = predict(kernels, device_spec(row.get("device") or table.device), batch=row["batch"],
                coefficients_=coefficients, **plan_options(table, row))
    return p, ""


def _predict_model(jobs: list[tuple[str, dict]]) -> list[dict]:
    """Every (table key, row) of one model: its cache file is read once for all its tables."""
    from tables import by_key

    out = []
    for key, row in jobs:
        p, why = predict_row(by_key(key), row)
        rec = {"table": key, "model": row["model"], "family": family(row["model"]), "img": row["img"],
               "batch": row["batch"], "measured_samples_per_s": row["samples_per_s"]}
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
    for table in TABLES:
        if table.key in keys:
            for row in sample_rows(table, sample):
                if models is None or row["model"] in models:
                    by_model.setdefault(row["model"], []).append((table.key, row))
    groups = [by_model[m] for m in sorted(by_model)]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            done = pool.map(_predict_model, groups, chunksize=4)
    else:
        done = [_predict_model(g) for g in groups]
    order = {key: i for i, key in enumerate(keys)}
    return sorted((r for group in done for r in group), key=lambda r: (order[r["table"]], r["model"], r["img"]))


FIELDS = ["table", "model", "family", "img", "batch", "measured_samples_per_s", "predicted_samples_per_s",
          "host_s", "device_s", "why"]


def write_csv(rows: list[dict], path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default=",".join(t.key for t in TABLES))
    ap.add_argument("--sample", type=int, default=None, help="only N rows of each table (a fixed random sample)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / ".cache" / "replay.csv"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = replay(args.tables.split(","), args.sample, args.workers)
    write_csv(rows, args.out)
    print(f"{len(rows)} rows in {time.perf_counter() - t0:.0f} s → {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
