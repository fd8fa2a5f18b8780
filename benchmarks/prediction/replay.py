"""Replay the public measurements: archstat's prediction beside every measured row.

    PYTHONPATH=. python benchmarks/prediction/replay.py [--tables KEY,…] [--sample N] [--out results.csv]

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

from archstat.perf.kernels import BatchMismatch, BatchPair, from_rows  # noqa: E402
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


def plan_options(table: Table) -> dict:
    """What a table's runs did, as run_plan's options."""
    return dict(runtime=table.runtime, dtype=table.dtype, amp=table.amp, channels_last=table.channels_last,
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
    p = predict(kernels, device_spec(table.device), batch=row["batch"], coefficients_=coefficients,
                **plan_options(table))
    return p, ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", default=",".join(t.key for t in TABLES))
    ap.add_argument("--sample", type=int, default=None)
    ap.add_argument("--out", default=str(HERE / ".cache" / "replay.csv"))
    args = ap.parse_args(argv)
    keys = args.tables.split(",")
    t0 = time.perf_counter()
    out_rows = []
    for table in TABLES:
        if table.key not in keys:
            continue
        rows = table.rows()
        if args.sample:
            import random

            rows = random.Random(0).sample(rows, min(args.sample, len(rows)))
        for row in rows:
            p, why = predict_row(table, row)
            rec = {"table": table.key, "model": row["model"], "family": family(row["model"]), "img": row["img"],
                   "batch": row["batch"], "measured_samples_per_s": row["samples_per_s"]}
            if p is None:
                rec.update(predicted_samples_per_s="", why=why)
            else:
                rec.update(predicted_samples_per_s=round(p.throughput, 3), host_s=p.schedule.host_s,
                           device_s=p.schedule.device_s, why="")
            out_rows.append(rec)
    keys_out = ["table", "model", "family", "img", "batch", "measured_samples_per_s", "predicted_samples_per_s",
                "host_s", "device_s", "why"]
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, keys_out, extrasaction="ignore")
        w.writeheader()
        w.writerows(out_rows)
    print(f"{len(out_rows)} rows in {time.perf_counter() - t0:.0f} s → {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
