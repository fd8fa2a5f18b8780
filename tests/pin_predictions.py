"""Pins every prediction of the zoo (three devices, three runtimes) while the performance model is
refactored (issue 30): ``python tests/pin_predictions.py --write`` records them; the test compares.
Temporary: dropped once the refactor lands."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import archstat
from archstat.zoo import zoo_names

PIN = Path(__file__).parent / "data" / "pin_predictions.json"
DEVICES = ("h100", "rtx4090", "i9-10940x")
RUNTIMES = ("eager", "compile", "engine")
TRAIN = ("resnet18", "vit_b_16", "mobilenet_v2")


def combos():
    for name in zoo_names():
        for device in DEVICES:
            for runtime in RUNTIMES:
                if device.startswith("i9") and runtime == "engine":
                    continue
                dtype = "fp32" if device.startswith("i9") else ("int8" if runtime == "engine" else "fp16")
                yield name, dict(device=device, runtime=runtime, dtype=dtype, batch=8)
        yield name, dict(device="rtx4090", runtime="eager", dtype="bf16", batch=1, amp=True)


def record(r) -> dict:
    rows = [[x.name, x.macs, x.read_bytes, x.written_bytes, repr(x.compute_s), repr(x.memory_s), repr(x.device_s),
             repr(x.host_s), x.bound, x.kernels, x.cached_bytes, x.weight_bytes, repr(x.efficiency), x.math,
             list(x.notes)] for x in r.ops]
    digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
    return {"latency": repr(r.latency_s), "host": repr(r.host_s), "device": repr(r.device_s),
            "idle": repr(r.idle_s), "kernels": r.kernels, "precision": r.precision, "rows": digest}


def compute(train: bool = True) -> dict:
    out = {}
    for name, kw in combos():
        key = name + " " + " ".join(f"{k}={v}" for k, v in kw.items())
        out[key] = record(archstat.roofline(name, **kw))
    if train:
        for name in TRAIN:
            for runtime in ("eager", "compile"):
                kw = dict(device="rtx4090", runtime=runtime, dtype="fp16", amp=True, batch=4, train=True)
                key = name + " " + " ".join(f"{k}={v}" for k, v in kw.items())
                out[key] = record(archstat.roofline(name, **kw))
    return out


if __name__ == "__main__":
    if "--write" in sys.argv:
        PIN.write_text(json.dumps(compute(), indent=0, sort_keys=True))
        print("wrote", PIN)
