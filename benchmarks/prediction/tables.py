"""The public measurements the prediction is checked against: which table ran what, and how to read it.

`data/` holds copies of timm's published benchmark tables (huggingface/pytorch-image-models,
`results/`, commit aa4b585, 2026-08-08; https://github.com/huggingface/pytorch-image-models/tree/main/results):
each row is one `timm.create_model(name)` measured by timm's `benchmark.py` (inference: `model.eval()`,
`torch.no_grad()`, `torch.cuda.amp.autocast()` for AMP, `cudnn.benchmark = True`, a synchronisation
after every step; train: forward, cross-entropy, backward and an SGD step with momentum 0.9 and
Nesterov, inside autocast, no GradScaler).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Table:
    key: str
    file: str
    device: str
    runtime: str
    dtype: str
    amp: bool
    channels_last: bool
    mode: str                 # infer or train
    what: str
    optimizer: Optional[str] = None   # train: the update step timm's benchmark runs
    foreach: bool = True              # PyTorch ≥ 2.0 runs optimizers as multi-tensor kernels; 1.12 did not
    sdpa: str = "auto"                # PyTorch 1.12 had no fused attention: "math"

    def rows(self) -> list[dict]:
        """(model, img, batch, samples/s) of every measured row."""
        out = []
        with open(DATA / self.file, newline="") as f:
            for row in csv.DictReader(f):
                p = "train_" if self.mode == "train" else "infer_"
                out.append({"model": row["model"], "img": int(row[p + "img_size"]), "batch": int(row[p + "batch_size"]),
                            "samples_per_s": float(row[p + "samples_per_sec"]),
                            "step_ms": float(row[p + "step_time"])})
        return out


TABLES = (
    Table("rtx4090-eager", "benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv", "rtx4090", "eager", "fp16", True, False,
          "infer", "RTX 4090, PyTorch 2.4.0 (CUDA 12.4), eager, AMP fp16, NCHW, inference"),
    Table("rtx4090-compile", "benchmark-infer-amp-nchw-pt240-cu124-rtx4090-dynamo.csv", "rtx4090", "compile", "fp16",
          True, False, "infer", "RTX 4090, PyTorch 2.4.0, torch.compile (Inductor), AMP fp16, inference"),
    Table("rtx4090-eager-nhwc", "benchmark-infer-amp-nhwc-pt240-cu124-rtx4090.csv", "rtx4090", "eager", "fp16", True,
          True, "infer", "RTX 4090, PyTorch 2.4.0, eager, AMP fp16, channels_last, inference"),
    Table("rtx3090-eager", "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv", "rtx3090", "eager", "fp16", True, False,
          "infer", "RTX 3090, PyTorch 2.4.0, eager, AMP fp16, NCHW, inference"),
    Table("i9-compile", "benchmark-infer-fp32-nchw-pt240-cpu-i9_10940x-dynamo.csv", "i9-10940x", "compile", "fp32",
          False, False, "infer", "Core i9-10940X (CPU), PyTorch 2.4.0, torch.compile, fp32, batch 1"),
    Table("rtx3090-train", "benchmark-train-amp-nchw-pt112-cu113-rtx3090.csv", "rtx3090", "eager", "fp16", True, False,
          "train", "RTX 3090, PyTorch 1.12 (CUDA 11.3), eager, AMP, NCHW, training step (SGD)", optimizer="sgd",
          foreach=False, sdpa="math"),
)


def by_key(key: str) -> Table:
    return next(t for t in TABLES if t.key == key)
