"""benchmarks/prediction/tables.py reads the public measurements as they are published: MLPerf Inference
v3.0–v4.0 (data/mlperf-inference-v3.0-v4.0.csv) and NVIDIA DeepLearningExamples (data/dle-inference.csv)
beside timm's tables. Small and fast: reading CSVs, no trace, no prediction."""

import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks" / "prediction"))

import tables


@pytest.fixture(scope="module")
def mlperf_resnet50():
    return tables.by_key("mlperf-resnet50").rows()


def test_timm_tables_keep_their_interface():
    """fit.py and report.py read TABLES: still timm's six, rows with model, img, batch, samples_per_s."""
    assert [t.key for t in tables.TABLES] == ["rtx4090-eager", "rtx4090-compile", "rtx4090-eager-nhwc", "rtx3090-eager",
                                              "i9-compile", "rtx3090-train"]
    row = tables.by_key("rtx4090-eager").rows()[0]
    assert {"model", "img", "batch", "samples_per_s", "step_ms"} <= set(row)
    assert all(t in tables.ALL_TABLES for t in tables.TABLES + tables.ENGINE_TABLES)


def test_mlperf_resnet50_rows(mlperf_resnet50):
    offline = [r for r in mlperf_resnet50 if r["scenario"] == "Offline"]
    assert len(offline) == 65
    assert {r["scenario"] for r in mlperf_resnet50} == {"Offline", "Server", "SingleStream", "MultiStream"}
    assert all(r["model"] == "resnet50" and r["img"] == 224 and r["runtime"] == "engine" for r in mlperf_resnet50)


def test_one_offline_row_exactly_as_published(mlperf_resnet50):
    """v4.0, NVIDIA DGX-H100 with one H100-SXM-80GB: 88,714.3 samples/s (the checker's value), at the engine
    batch of NVIDIA's v3.0 config for that system (2048; v4.0's configs are not read)."""
    row = next(r for r in mlperf_resnet50 if r["round"] == "v4.0" and r["system"] == "DGX-H100_H100-SXM-80GBx1_TRT"
               and r["scenario"] == "Offline")
    assert row["samples_per_s"] == 88714.3 and row["value"] == 88714.3
    assert (row["device"], row["dtype"], row["batch"]) == ("h100", "int8", 2048)
    assert "v3.0 config of the same system" in row["batch_from"]
    assert row["replayable"] and row["source"].startswith("mlcommons/inference_results_v4.0@")


def test_a_latency_row_becomes_samples_per_second(mlperf_resnet50):
    """SingleStream: the 90th-percentile latency of one sample (L4, v3.0: 0.361604 ms) → 1000 / ms at batch 1."""
    row = next(r for r in mlperf_resnet50 if r["round"] == "v3.0" and r["system"] == "L4x1_TRT"
               and r["scenario"] == "SingleStream")
    assert (row["batch"], row["step_ms"]) == (1, 0.361604)
    assert row["samples_per_s"] == pytest.approx(1000 / 0.361604)
    multi = next(r for r in mlperf_resnet50 if r["round"] == "v3.0" and r["system"] == "L4x1_TRT"
                 and r["scenario"] == "MultiStream")
    assert multi["batch"] == 8 and multi["samples_per_s"] == pytest.approx(8000 / multi["value"])


def test_per_accelerator_value_and_power_cap():
    """Offline of an 8-GPU MaxQ system: the per-accelerator share (33,484.4 / 8), the GPU's power limit as
    NVIDIA's config sets it (300 W), and the FP8 engine Hopper runs bert-99.9 with: kept, not replayed."""
    row = next(r for r in tables.by_key("mlperf-bert").rows() if r["system"] == "H100-PCIe-80GBx8_TRT_MaxQ"
               and r["round"] == "v3.0" and r["benchmark"] == "bert-99.9" and r["scenario"] == "Offline")
    assert row["samples_per_s"] == pytest.approx(33484.4 / 8, rel=1e-5)
    assert (row["maxq"], row["power_w"], row["batch"], row["input"]) == (True, 300.0, 1024, 384)
    assert row["dtype"] == "fp8" and not row["replayable"] and "FP8" in row["why"]


def test_a_mig_row_is_what_its_one_slice_ran(mlperf_resnet50):
    """Azure v3.0, 'NVIDIA A100-PCIe-80GB (1x1g.10gb MIG)' on a 4-GPU system: 5,361.73 samples/s offline is one
    1g.10gb slice's (a seventh of the 38,717 one whole A100-PCIe-80GB ran in that round is 5,531), not 5,361.73 / 4."""
    row = next(r for r in mlperf_resnet50 if r["round"] == "v3.0" and "MIG" in r["accelerator"]
               and r["scenario"] == "Offline")
    assert row["accelerator_count"] == 4 and row["device"] == "a100-pcie-mig-1g.10gb"
    assert row["samples_per_s"] == 5361.73
    whole = next(r for r in mlperf_resnet50 if r["round"] == "v3.0" and r["system"] == "NC96ads_A100_v4_TRT"
                 and r["scenario"] == "Offline")
    assert whole["samples_per_s"] == pytest.approx(154868 / 4)


def test_accelerator_names_are_cleaned_before_matching():
    assert tables.clean_accelerator("NVIDIA A100-PCIe-80GB (1x1g.10gb MIG)")[0] == "NVIDIA A100-PCIe-80GB MIG 1g.10gb"
    assert tables.clean_accelerator("NVIDIA H100-SXM-80GB [parsed from system id; system JSON not read]")[0] == \
        "NVIDIA H100-SXM-80GB"
    assert tables.clean_accelerator("NVIDIA H100-80C", "vR750xa_H100_PCIe_80Cx2_TRT")[0] == "NVIDIA H100-PCIe-80GB"
    assert tables.device_of("NVIDIA H100-SXM-80GB")[0] == "h100"
    assert tables.device_of("NVIDIA L4")[0] == "l4"


def test_dle_rows():
    rows = tables.by_key("dle-convnets").rows()
    assert len(rows) == 219 and all(r["runtime"] == "eager" for r in rows)
    t4 = [r for r in rows if r["dle_model"] == "ResNet-50 v1.5" and r["gpu"] == "NVIDIA T4" and r["precision"] == "AMP"
          and r["batch"] == 1]
    # two revisions of the README (NGC 20.12 and 21.03), each row with its own source
    assert sorted((r["samples_per_s"], r["latency_ms"]) for r in t4) == [(79.0, 12.96), (112.0, 9.25)]
    assert all((r["model"], r["device"], r["dtype"], r["amp"], r["channels_last"]) == ("resnet50", "t4", "fp16", True,
                                                                                         True) for r in t4)
    eff = tables.by_key("dle-efficientnet").rows()
    assert {(r["model"], r["img"]) for r in eff} == {("efficientnet_b0", 224), ("efficientnet_b4", 380),
                                                     ("dle-efficientnet-widese-b0", 224),
                                                     ("dle-efficientnet-widese-b4", 380)}
    bert = tables.by_key("dle-bert").rows()
    assert {(r["model"], r["img"]) for r in bert} == {("bert-large", 384), ("bert-large-classify", 128)}
    tf32 = next(r for r in eff if r["precision"] == "TF32")
    assert tf32["tf32"] == {"conv": True, "matmul": True} and tf32["device"] == "a100"
