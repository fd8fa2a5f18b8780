"""The public measurements the prediction is checked against: which table ran what, and how to read it.

``TABLES``: timm's tables (what fit.py and report.py read). ``ENGINE_TABLES``: MLPerf Inference v3.0–v4.0
(TensorRT engines, per accelerator) and NVIDIA DeepLearningExamples (eager PyTorch, batch 1 to 256), read
by replay.py (``--tables mlperf-resnet50,…``); ``ALL_TABLES`` is both. Every row a table reads is a dict
with at least ``model, img, batch, samples_per_s, step_ms``; the new tables' rows also carry their device
(a devices.yaml key, or None when no entry matches the accelerator's name), precision, scenario, power and
source, and ``replayable`` with the reason when it is not (see ``Table.rows``).

`data/` holds copies of timm's published benchmark tables (huggingface/pytorch-image-models,
`results/`, commit aa4b585, 2026-08-08; https://github.com/huggingface/pytorch-image-models/tree/main/results):
each row is one `timm.create_model(name)` measured by timm's `benchmark.py` (inference: `model.eval()`,
`torch.no_grad()`, `torch.cuda.amp.autocast()` for AMP, `cudnn.benchmark = True`, a synchronisation
after every step; train: forward, cross-entropy, backward and an SGD step with momentum 0.9 and
Nesterov, inside autocast, no GradScaler).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

DATA = Path(__file__).resolve().parent / "data"
MLPERF_FILE = "mlperf-inference-v3.0-v4.0.csv"
DLE_FILE = "dle-inference.csv"


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
    kind: str = "timm"                # timm | mlperf | dle: how rows() reads the file
    host: str = ""                    # another framework build's host costs (perf.yaml host.gpu.<host>)
    select: tuple = ()                # mlperf: its benchmarks; dle: its models (the file's ``model`` column)

    def rows(self) -> list[dict]:
        """Every measured row: ``model`` (the traced program's name), ``img`` (its input size: the image side,
        or a BERT's sequence length), ``batch``, ``samples_per_s``, ``step_ms``; MLPerf and DLE rows also
        carry their per-row ``device`` and how the run was made (see ``mlperf_rows`` and ``dle_rows``)."""
        if self.kind == "mlperf":
            return mlperf_rows(self)
        if self.kind == "dle":
            return dle_rows(self)
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
          foreach=False, sdpa="math", host="eager-pt1"),
)


# -- MLPerf Inference v3.0–v4.0 (data/mlperf-inference-v3.0-v4.0.csv) ---------------------------------------

# the network each MLPerf benchmark runs, as a traced program: (name, input size)
# (resnet50: ResNet-50 v1.5, timm's and torchvision's resnet50; retinanet: archstat's zoo module,
# archstat/models/retinanet.py; bert-99 and bert-99.9: one network at two accuracy targets)
MLPERF_MODEL = {"resnet50": ("resnet50", 224), "retinanet": ("retinanet-resnext50-fpn", 800),
                "bert-99": ("bert-large", 384), "bert-99.9": ("bert-large", 384)}
# MLPerf accelerator names as the results print them → a name devices.match_device reads, and why
ACCELERATOR_FIXES = ((r" \[parsed from system id; system JSON not read\]$", "", "named from the system id"),
                     (r" \((\d+)x(\dg\.\d+gb) MIG\)$", r" MIG \2", "a MIG slice"),
                     (r" CTS$", "", "Dell's custom thermal solution (500 W TDP) of the part"),
                     (r"^NVIDIA A100-SXM-80C$", "NVIDIA A100-SXM-80GB", "a vGPU (80C: the whole GPU) of the part"),
                     (r"-GraceHopper-Superchip$", "", "the GPU of the superchip"))
SCENARIO_BATCH = {"SingleStream": 1, "MultiStream": 8}   # MLPerf's definition: one sample per query; 8 per query


def clean_accelerator(name: str, system: str = "") -> tuple[str, list[str]]:
    """An accelerator name as MLPerf prints it → the name to match and what was changed, and why."""
    notes = []
    for pattern, repl, why in ACCELERATOR_FIXES:
        new = re.sub(pattern, repl, name)
        if new != name:
            notes.append(why)
            name = new
    if name == "NVIDIA H100-80C":   # a vGPU profile: the part is in the system id
        name = "NVIDIA H100-PCIe-80GB" if "PCIe" in system else "NVIDIA H100-SXM-80GB"
        notes.append("a vGPU (80C: the whole GPU) of the part the system id names")
    return name, notes


def device_of(name: str) -> tuple[Optional[str], str]:
    """The devices.yaml key ``archstat.analyze.devices.match_device`` gives an accelerator's name (a MIG
    slice's derived key), or None, and how it matched."""
    from archstat.analyze.devices import match_device

    m = match_device(name)
    return (m.device.key if m.device is not None else None), m.how


def _num(text: str) -> Optional[float]:
    m = re.match(r"\s*([0-9.]+)", text or "")
    return float(m.group(1)) if m else None


def _mlperf_precision(row: dict) -> tuple[Optional[str], str]:
    """(archstat dtype, why) of an engine: the config's precision (fp8 where it sets use_fp8); else the
    measurements file's; None when neither says or they disagree."""
    config = row["config_precision"]
    fp8 = row["config_use_fp8"] == "True"
    measured = row["precision"]
    said = "int8" if "int8" in measured and "weights fp16" not in measured else (
        "fp16" if "fp16" in measured else ("fp32" if measured == "fp32" else ""))
    if said and config and said != config:
        return None, f"the measurements file says {measured!r}, the harness's config {config}"
    if fp8:
        return "fp8", "the config sets use_fp8 (an FP8 engine)"
    if config:
        return config, "the config's precision"
    return (said or None), ("the measurements file's precision" if said else "no precision stated")


def mlperf_rows(table: Table) -> list[dict]:
    """Per accelerator: Offline samples/s; Server scheduled samples/s; SingleStream p90 and MultiStream p99
    latency (ms) → samples/s = 1000 / ms at batch 1, 8000 / ms at batch 8 (``metric`` says which). The
    engine batch: the submitter's config (``config_batch``, with ``config_note`` when it is another
    system's). ``replayable`` is False, with ``why``, for an FP8 engine (no FP8 recipe today), an unclear
    precision, an accelerator no devices.yaml entry matches, or a row with no batch."""
    out = []
    with open(DATA / table.file, newline="") as f:
        for row in csv.DictReader(f):
            if row["benchmark"] not in table.select:
                continue
            model, size = MLPERF_MODEL[row["benchmark"]]
            scenario = row["scenario"]
            name, fixes = clean_accelerator(row["accelerator"], row["system"])
            device, how = device_of(name)
            dtype, dtype_why = _mlperf_precision(row)
            value = float(row["value"])
            if scenario in SCENARIO_BATCH:
                batch = SCENARIO_BATCH[scenario]
                samples, step_ms, batch_from = 1000.0 * batch / value, value, f"{scenario}: {batch} per query"
            else:
                batch = int(row["config_batch"]) if row["config_batch"] else 0
                samples = float(row["per_accelerator"].split()[0])
                mig = re.search(r"\((\d+)x\dg\.\d+gb MIG\)$", row["accelerator"])
                if mig:
                    # a MIG row's value is what its N instances ran ("1x1g.10gb": one slice), not per GPU of the
                    # system: the file's power note says "MIG slice of one GPU", and Azure's v3.0 1g.10gb
                    # results (bert-99 491.5, resnet50 5,361.7 samples/s offline) are a seventh of one whole
                    # A100-PCIe-80GB's in the same round (3,114 and 38,717 per GPU: 445 and 5,531), not of four
                    samples = value / int(mig.group(1))
                step_ms = 1000.0 * batch / samples if batch else None
                batch_from = ("config" + (f" ({row['config_note']})" if row["config_note"] else "")
                              if batch else "no config states it")
            maxq = "MaxQ" in row["system"] or row["power_note"].startswith("MaxQ")
            tdp = re.search(r"TDP: (\d+) ?W", row["power_note"])
            power_w = _num(row["config_power_limit_w"]) if maxq else (float(tdp.group(1)) if tdp else None)
            why = ("" if device else f"no devices.yaml entry matches '{name}'") or (
                "" if dtype in ("int8", "fp16") else
                ("an FP8 engine: archstat has no FP8 recipe today" if dtype == "fp8" else
                 f"precision unclear ({dtype or 'none'}: {dtype_why})")) or (
                "" if batch else "no engine batch")
            out.append({"model": model, "img": size, "input": size, "batch": batch, "samples_per_s": samples,
                        "step_ms": step_ms, "device": device, "device_name": name, "device_match": how,
                        "accelerator": row["accelerator"], "accelerator_fixes": "; ".join(fixes),
                        "runtime": "engine", "dtype": dtype, "amp": False, "precision": row["precision"],
                        "precision_from": dtype_why, "batch_from": batch_from, "benchmark": row["benchmark"],
                        "scenario": scenario, "metric": row["metric"], "value": value, "round": row["round"],
                        "submitter": row["submitter"], "system": row["system"],
                        "accelerator_count": int(row["accelerator_count"]), "maxq": maxq, "power_w": power_w,
                        "power_note": row["power_note"], "software": row["software"], "replayable": not why,
                        "why": why, "source": row["source"], "config_source": row["config_source"],
                        # predicted and reported, never fitted: NVIDIA's BERT engine runs each sequence unpadded
                        # (its variable-length plugins), so its work per sample is below the padded 384 traced
                        "not_fitted": ("unpadded variable-length sequences: less work than the padded 384 the "
                                       "trace runs" if model == "bert-large" else "")})
    return out


# -- NVIDIA DeepLearningExamples (data/dle-inference.csv) --------------------------------------------------

def dle_model(row: dict) -> tuple[Optional[str], int]:
    """The traced program and input size of a DLE row (None: not replayed)."""
    model, notes = row["model"], row["notes"]
    if model == "ResNet-50 v1.5":
        return "resnet50", 224                      # stride on the 3×3: timm's and torchvision's resnet50
    if model == "ResNeXt101-32x4d":
        return "resnext101_32x4d", 224
    if model == "SE-ResNeXt101-32x4d":
        return "dle-se-resnext101-32x4d", 224       # DLE's fixed 16-channel SE (dle_models.py)
    if model == "EfficientNet":
        variant = re.search(r"Model=efficientnet-(widese-)?(b\d)", notes)
        if not variant:
            return None, 0
        size = {"b0": 224, "b4": 380}[variant.group(2)]   # DLE's default_image_size
        return (f"dle-efficientnet-widese-{variant.group(2)}" if variant.group(1)
                else f"efficientnet_{variant.group(2)}"), size
    if model == "BERT":
        seq = re.search(r"Sequence Length=(\d+)", notes)
        if not seq:
            return None, 0
        return ("bert-large", 384) if seq.group(1) == "384" else ("bert-large-classify", int(seq.group(1)))
    if model == "SSD300 v1.1":
        return "dle-ssd300", 300
    return None, 0


def dle_gpu(gpu: str) -> str:
    """'NVIDIA DGX-1 (1x V100 16G)' → 'V100 16GB'; 'NVIDIA T4' → 'NVIDIA T4'."""
    m = re.search(r"\(1x ([^)]+)\)", gpu)
    name = m.group(1) if m else gpu
    return re.sub(r"(\d+)G$", r"\1GB", name)


def dle_rows(table: Table) -> list[dict]:
    """Eager PyTorch at every batch: throughput (img/s, sequences/s; SSD's tables give no unit, images/s by
    its benchmark) and the average latency where given. Precision: FP32 → fp32 without TF32; TF32 → fp32
    with TF32 convolutions and matmuls; AMP / FP16 → autocast fp16 (the ConvNets' AMP runs also NHWC,
    ``memory_format: nhwc`` in their configs.yml)."""
    out = []
    with open(DATA / table.file, newline="") as f:
        for row in csv.DictReader(f):
            if row["model"] not in table.select:
                continue
            model, size = dle_model(row)
            name = dle_gpu(row["gpu"])
            device, how = device_of(name)
            precision = row["precision"]
            amp = precision in ("AMP", "FP16")
            tf32 = {"conv": True, "matmul": True} if precision == "TF32" else (
                {"conv": False, "matmul": False} if precision == "FP32" else None)
            batch = int(row["batch"])
            samples = float(row["throughput"])
            latency = _num(row["latency_avg_ms"])
            why = "" if model else "no traced program for this row"
            why = why or ("" if device else f"no devices.yaml entry matches '{name}'")
            out.append({"model": model, "img": size, "input": size, "batch": batch, "samples_per_s": samples,
                        "step_ms": latency if latency else 1000.0 * batch / samples, "latency_ms": latency,
                        "device": device, "device_name": name, "device_match": how, "gpu": row["gpu"],
                        "runtime": "eager", "dtype": "fp16" if amp else "fp32", "amp": amp, "tf32": tf32,
                        "channels_last": amp and table.channels_last, "precision": precision,
                        "container": row["container"], "unit": row["throughput_unit"] or "images/s (assumed)",
                        "notes": row["notes"], "dle_model": row["model"], "replayable": not why, "why": why,
                        "source": row["source"]})
    return out


def _mlperf(key: str, benchmarks: tuple, what: str) -> Table:
    return Table(key, MLPERF_FILE, "", "engine", "int8", False, False, "infer", what, kind="mlperf",
                 select=benchmarks)


def _dle(key: str, models: tuple, what: str, nhwc: bool) -> Table:
    # DeepLearningExamples ran PyTorch 1.x in NGC containers (20.xx–22.xx): its dispatcher's per-operator
    # host cost and its cuDNN's NCHW handling are its own (host.gpu.eager-pt1), not PyTorch 2.4's that
    # timm's inference tables run
    return Table(key, DLE_FILE, "", "eager", "fp32", False, nhwc, "infer", what, kind="dle", select=models,
                 host="eager-pt1")


ENGINE_TABLES = (
    _mlperf("mlperf-resnet50", ("resnet50",), "MLPerf Inference v3.0–v4.0 closed, resnet50 (ResNet-50 v1.5, "
            "224²), TensorRT int8, Offline / Server / SingleStream / MultiStream, per accelerator"),
    _mlperf("mlperf-retinanet", ("retinanet",), "MLPerf Inference v3.0–v4.0 closed, retinanet (ResNeXt50-32x4d "
            "FPN, 800², 264 classes), TensorRT int8, per accelerator"),
    _mlperf("mlperf-bert", ("bert-99", "bert-99.9"), "MLPerf Inference v3.0–v4.0 closed, bert-99 (int8) and "
            "bert-99.9 (fp16; fp8 on Hopper) BERT-large SQuAD, sequence 384, TensorRT, per accelerator"),
    _dle("dle-convnets", ("ResNet-50 v1.5", "ResNeXt101-32x4d", "SE-ResNeXt101-32x4d"), "NVIDIA DeepLearningExamples "
         "ConvNets: ResNet-50 v1.5, ResNeXt101-32x4d, SE-ResNeXt101-32x4d; V100 and T4; FP32 and AMP (NHWC); "
         "eager, batch 1–256", nhwc=True),
    _dle("dle-efficientnet", ("EfficientNet",), "NVIDIA DeepLearningExamples EfficientNet-B0/B4 and WideSE-B0/B4; "
         "A100 80GB and V100; FP32, TF32 and AMP (NHWC); eager, batch 1–256", nhwc=True),
    _dle("dle-bert", ("BERT",), "NVIDIA DeepLearningExamples BERT-large fine-tuning inference: SQuAD (384) and "
         "GLUE MRPC / SST-2 (128); A100 and V100; FP32, TF32 and AMP; eager", nhwc=False),
    _dle("dle-ssd", ("SSD300 v1.1",), "NVIDIA DeepLearningExamples SSD300 v1.1 (ResNet-50); A100 and V100; FP32, "
         "TF32 and AMP; eager, batch 1–64", nhwc=False),
)
ALL_TABLES = TABLES + ENGINE_TABLES


def by_key(key: str) -> Table:
    return next(t for t in ALL_TABLES if t.key == key)
