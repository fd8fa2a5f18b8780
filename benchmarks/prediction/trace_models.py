"""Trace every timm model of the public tables once and cache its operators (the rows of the replay).

Run in the torchvision/timm venv (never a test dependency)::

    PYTHONPATH=. /path/to/venv-with-timm/bin/python benchmarks/prediction/trace_models.py [--sample N] [--workers 2]

``--only mlperf,dle`` traces instead the programs of the MLPerf and DeepLearningExamples tables
(``tables.ENGINE_TABLES``): timm's resnet50, resnext101_32x4d, efficientnet_b0/b4, archstat's zoo modules
(``retinanet-resnext50-fpn`` at 800, ``bert-large`` at 384, ``bert-large-classify`` at 128) and DLE's own
variants (``dle_models.py``), each keyed (model, size, mode) as the timm ones: ``("bert-large", 384, "infer")``.

Each (model, image size) is built on the meta device (``timm.create_model(name)``, no weights) and traced
once by ``archstat.trace`` (which runs it at two batch sizes: 2 and 3 in eval mode; for the training table
one training step, forward, loss and backward, at the batch the table measured and the next); the
operator logs (``archstat.ir.program``) go to
``benchmarks/prediction/.cache/`` (one gzip'd JSON per model and mode). The rows do not depend on the
device or the batch the table used: ``BatchPair`` gives them at any batch. torch and timm are imported
once per worker process.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import multiprocessing as mp
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CACHE = HERE / ".cache"
BATCHES = (2, 3)
INFER_TABLES = ("benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv",
                "benchmark-infer-amp-nchw-pt240-cu124-rtx4090-dynamo.csv",
                "benchmark-infer-amp-nhwc-pt240-cu124-rtx4090.csv", "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv",
                "benchmark-infer-fp32-nchw-pt240-cpu-i9_10940x-dynamo.csv")
TRAIN_TABLE = "benchmark-train-amp-nchw-pt112-cu113-rtx3090.csv"
TIMEOUT_S = 240
SOURCES = ("timm", "mlperf", "dle")
_DLE = f"module:{HERE / 'dle_models.py'}"
# the programs of the MLPerf and DLE tables that are no timm name: size → the module: target (whose factory
# gives its own inputs where it has any; else a 3×size×size image)
TARGETS = {
    "retinanet-resnext50-fpn":
        lambda size: f"module:archstat.models.retinanet:retinanet_resnext50_fpn(image_size={size})",
    "bert-large": lambda seq: f"module:archstat.models.bert:bert_large(seq={seq})",
    "bert-large-classify": lambda seq: f"module:archstat.models.bert:bert_large(seq={seq}, head='classify')",
    "dle-se-resnext101-32x4d": lambda size: f"{_DLE}:se_resnext101_32x4d",
    "dle-efficientnet-widese-b0": lambda size: f"{_DLE}:efficientnet_widese('b0')",
    "dle-efficientnet-widese-b4": lambda size: f"{_DLE}:efficientnet_widese('b4')",
    "dle-ssd300": lambda size: f"{_DLE}:ssd300",
}


def engine_jobs(kinds=("mlperf", "dle")) -> list[tuple[str, int, str, int]]:
    """(model, size, 'infer', 0) of every replayable row of the MLPerf and DLE tables, each once."""
    sys.path.insert(0, str(HERE))
    from tables import ENGINE_TABLES

    seen: dict[tuple[str, int, str, int], None] = {}
    for table in ENGINE_TABLES:
        if table.kind in kinds:
            for row in table.rows():
                if row["model"]:
                    seen[(row["model"], row["img"], "infer", 0)] = None
    return sorted(seen)


def jobs(sample: int | None = None, only=("timm",)) -> list[tuple[str, int, str, int]]:
    """(model, image size, mode, batch) of every row of every table, each once: inference programs are
    traced at batch 2 and 3 (batch 0 here), a training step at the one batch its table measured.
    ``only``: which tables' programs (timm's, MLPerf's, DLE's)."""
    seen: dict[tuple[str, int, str, int], None] = {}
    extra = [k for k in only if k != "timm"]
    if extra:
        seen.update(dict.fromkeys(engine_jobs(tuple(extra))))
    if "timm" not in only:
        return sorted(seen)
    for name in INFER_TABLES:
        with open(DATA / name, newline="") as f:
            for row in csv.DictReader(f):
                seen[(row["model"], int(row["infer_img_size"]), "infer", 0)] = None
    with open(DATA / TRAIN_TABLE, newline="") as f:
        for row in csv.DictReader(f):
            seen[(row["model"], int(row["train_img_size"]), "train", int(row["train_batch_size"]))] = None
    import random

    out = sorted(seen)
    random.Random(0).shuffle(out)   # any prefix of the run is a fair sample of the tables
    if sample:
        models = sorted({j[0] for j in out})
        keep = set(random.Random(0).sample(models, min(sample, len(models))))
        out = [j for j in out if j[0] in keep]
    return out


def cache_path(model: str, img: int, mode: str) -> Path:
    return CACHE / f"{model}@{img}.{mode}.json.gz"


def _alarm(*_):
    raise TimeoutError(f"no trace within {TIMEOUT_S} s")


def _init():
    global torch, timm
    import timm
    import torch
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _alarm)


def trace_one(job: tuple[str, int, str, int]) -> dict:
    """Trace one model (inference: at batch 2 and 3; training: at its table's batch); write its cache
    file; return a summary."""
    from archstat.ir.program import to_rows
    from archstat.trace.factory import build_target, load_target
    from archstat.trace.program import trace_program

    model, img, mode, table_batch = job
    path = cache_path(model, img, mode)
    if path.exists():
        return {"model": model, "img": img, "mode": mode, "status": "cached"}
    t0 = time.perf_counter()
    signal.alarm(TIMEOUT_S)
    try:
        import timm

        shape: Any
        if model in TARGETS:   # an archstat zoo module or a DLE variant: its own inputs, else an image
            built = load_target(TARGETS[model](img))
            module, notes = built.model, built.notes
            shape = built.inputs if built.inputs is not None else (3, img, img)
        else:
            if not timm.is_model(model):
                raise LookupError("not a timm model in this timm version")
            module, notes = build_target(f"module:timm:create_model({model!r})")
            cfg = getattr(module, "pretrained_cfg", {}) or {}
            chans = (cfg.get("input_size") or (3,))[0]
            shape = (chans, img, img)
        traced = trace_program(module, shape, batch=BATCHES[0] if mode == "infer" else table_batch,
                               mode="train" if mode == "train" else "eval")
        signal.alarm(0)
        pair = traced.pair
        summary = {"model": model, "img": img, "mode": mode, "status": "ok",
                   "input": list(shape) if isinstance(shape, tuple) else shape.text(),
                   "arch": type(module).__module__, "graph": graph_hash(pair.first),
                   "params": sum(p.numel() for p in module.parameters()), "macs": traced.macs, "notes": notes,
                   "device": traced.device, "seconds": round(time.perf_counter() - t0, 2)}
        record = {**summary, "kernels": {str(pair.batch_first): to_rows(pair.first),
                                         str(pair.batch_second): to_rows(pair.second)},
                  "module_calls": traced.module_calls}
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            json.dump(record, f, separators=(",", ":"))
        tmp.replace(path)
        return summary
    except BaseException as exc:
        signal.alarm(0)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return {"model": model, "img": img, "mode": mode, "status": "failed",
                "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}",
                "seconds": round(time.perf_counter() - t0, 2)}


def graph_hash(calls) -> str:
    """What the traced program is, whatever the model is called: the operators in order with their
    tensors' shapes (two names for one architecture, gluon_resnet50_v1b and resnet50, hash alike)."""
    import hashlib

    text = ";".join(f"{k.op}:{[t.shape for t in k.inputs]}>{[t.shape for t in k.outputs]}" for k in calls)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=None, help="only N models (a fixed random sample)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mode", choices=("infer", "train", "both"), default="both")
    ap.add_argument("--only", default="timm", help="whose tables' programs: timm, mlperf, dle, comma-separated "
                    "(default timm)")
    args = ap.parse_args(argv)
    only = tuple(args.only.split(","))
    if set(only) - set(SOURCES):
        ap.error(f"--only: expected some of {', '.join(SOURCES)}")
    CACHE.mkdir(exist_ok=True)
    todo = [j for j in jobs(args.sample, only) if args.mode in ("both", j[2])]
    t0 = time.perf_counter()
    log = CACHE / "trace-log.jsonl"
    done = 0
    with mp.get_context("fork").Pool(args.workers, initializer=_init, maxtasksperchild=50) as pool, \
            open(log, "a") as out:
        for summary in pool.imap_unordered(trace_one, todo, chunksize=1):
            done += 1
            out.write(json.dumps(summary) + "\n")
            out.flush()
            if summary["status"] == "failed":
                print(f"[{done}/{len(todo)}] {summary['model']}@{summary['img']} {summary['mode']}: "
                      f"{summary['error']}", file=sys.stderr)
            elif done % 50 == 0:
                print(f"[{done}/{len(todo)}] {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(f"{len(todo)} jobs in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
