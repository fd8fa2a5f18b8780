"""The devices file (every entry, its dense figures and their sources; schema version 3: clocks, power range,
memory system, shared memory, host link and NVLink), matching a driver's name to the exact part (MLPerf's
accelerator names included), MIG slices from NVIDIA's profile tables, `archstat devices`, and the calibration
cache's one validated loader (issue 20.5, issue 21 point 5, issue 23 items 5-8, issue 31 items 1 and 5,
issue 34 item 7)."""

import copy
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from archstat import calibration
from archstat.analyze import devices
from archstat.errors import ConfigError, UsageError
from tests.conftest import ROOT

REQUIRED_KEYS = {"h100", "h100-pcie", "h100-nvl", "h200", "h200-nvl", "gh200", "a100", "a100-40gb", "a100-pcie",
                 "l4", "l40", "l40s", "a10", "t4", "v100", "b200", "gb200", "mi300x", "mi325x", "rtx3090", "rtx4090",
                 "rtx5090", "rtx-pro-6000", "rtx-pro-6000-max-q", "cpu", "i9-10940x",
                 # issue 31 item 5: new parts
                 "b300", "gb300", "rtx-pro-6000-server", "a30", "a40", "a2", "mi350x", "mi355x"}
# figures NVIDIA's documents leave unsettled for Blackwell Ultra (the entries' notes say why): null, not guessed
KNOWN_GAPS = {("b300", "power_w"), ("b300", "l2_mb"), ("gb300", "l2_mb")}


# every test gets an empty XDG cache (conftest): a calibration made elsewhere never leaks in
pytestmark = pytest.mark.usefixtures("xdg_cache")



# -- the shipped file -----------------------------------------------------------------------------------------

def test_every_required_key_resolves_with_every_field():
    known = devices.devices()
    assert REQUIRED_KEYS <= set(known)
    for key in REQUIRED_KEYS:
        assert devices.lookup(key) is known[key]
    for d in known.values():
        assert d.kind in ("gpu", "cpu") and set(d.peak_tflops) == set(devices.PEAK_KEYS)
        assert d.source and d.overhead_s == devices.DEFAULT_OVERHEAD_S[d.kind]
        figures = ("bandwidth_gb_s", "memory_gb", "memory_type", "l2_mb", "smem_per_sm_kb", "sms", "boost_mhz", "power_w")
        if d.key != "cpu":
            assert d.sources["peak_tflops"] and d.sources["bandwidth_gb_s"]
        assert d.host_link is not None and (d.host_link["kind"] == "socket") == (d.kind == "cpu"), d.key
        if d.kind == "gpu":
            missing = {f for f in figures if getattr(d, f) is None}
            assert missing == {f for k, f in KNOWN_GAPS if k == d.key}, (d.key, missing)
            assert d.vendor in ("nvidia", "amd") and d.arch and d.form
            assert (d.compute_capability is not None) == (d.vendor == "nvidia")


def test_the_file_round_trips_through_validation():
    from importlib import resources

    text = (resources.files("archstat") / "data" / "devices.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["version"] == 3 and set(devices.validate(data)) == set(devices.devices())
    assert not any("overhead_us" in d for d in data["devices"].values())   # a host assumption, not a datasheet's


@pytest.mark.parametrize("key, dtype, tflops", [
    ("h100", "bf16", 1979 / 2),          # H100 SXM datasheet: BF16 1,979* with sparsity
    ("h100", "fp8", 3958 / 2),
    ("h100", "fp32", 67),                # FP32 is dense (non-tensor)
    ("h100-pcie", "bf16", 1513 / 2),     # H100 PCIe column: 1,513*
    ("h100-nvl", "fp16", 1671 / 2),      # H100 NVL column: 1,671*
    ("h200-nvl", "fp8", 3341 / 2),       # H200 NVL column: 3,341*
    ("a100", "tf32", 156),               # A100 prints dense | sparse*: 156 | 312*
    ("l4", "fp16", 242 / 2),             # L4 datasheet: 242*
    ("l40s", "bf16", 362.05),            # L40S prints 362.05 | 733*
    ("a10", "int8", 250),                # A10 prints 250 | 500*
    ("t4", "fp16", 65),                  # T4 mixed precision, no sparsity
    ("v100", "fp16", 125),               # V100 SXM2 tensor (FP16 multiply, FP32 accumulate)
    ("rtx4090", "fp16", 165.2),          # Ada whitepaper: FP16 with FP32 accumulate (FP16 accumulate 330.3)
    ("rtx3090", "fp16", 71),             # GA102 whitepaper: FP16 with FP32 accumulate (FP16 accumulate 142)
    ("rtx5090", "fp4", 3352 / 2),        # 3,352 AI TOPS is FP4 with sparsity
    ("rtx-pro-6000", "fp4", 4000 / 2),   # 4,000 AI TOPS (sparse)
    ("rtx-pro-6000-max-q", "fp4", 3511 / 2),
    ("b200", "fp4", 18000 / 2),          # HGX B200: FP4 18 PFLOPS*
    ("b200", "bf16", 4500 / 2),
    ("gb200", "fp8", 10000 / 2),         # GB200 NVL72 per GPU: FP8 10 PFLOPS*
    ("mi300x", "fp16", 1307.4),          # AMD prints dense with sparse beside (2,614.9)
    ("mi325x", "fp8", 2614.9),
    ("a30", "tf32", 82),                 # A30 datasheet prints dense | sparse*: TF32 82 | 165*
    ("a30", "int8", 330),                # INT8 330 | 661*
    ("a40", "bf16", 149.7),              # A40 datasheet: BF16 149.7 | 299.4*
    ("a2", "fp16", 36 / 2),              # A2 datasheet: FP16 18 | 36*
    ("b300", "fp8", 72000 / 8 / 2),      # HGX B300: FP8 72 PFLOPS* per 8 GPUs
    ("b300", "bf16", 36000 / 8 / 2),     # FP16/BF16 36 PFLOPS* per 8 GPUs
    ("gb300", "fp4", 1080000 / 72),      # GB300 NVL72: FP4 1,080 PFLOPS dense per 72 GPUs
    ("gb300", "fp32", 5760 / 72),        # FP32 5,760 TFLOPS per 72 GPUs
    ("mi355x", "fp16", 2516.6),          # AMD MI355X: FP16 2.5 PF dense = 256 CUs × 4096 × 2.4 GHz
    ("mi355x", "fp4", 10066.3),          # MXFP4 10 PF dense = 256 × 16384 × 2.4 GHz
    ("mi350x", "fp8", 4613.7),           # AMD MI350X: FP8 4.6 PF dense = 256 × 8192 × 2.2 GHz
    ("rtx-pro-6000-server", "fp4", 4000 / 2),   # the RTX PRO 6000 family's 4,000 AI TOPS (sparse)
    ("i9-10940x", "fp32", 14 * 3.3 * 2 * 16 * 2 / 1000),   # cores × GHz × FMA units × lanes × 2 FLOP
    ("i9-10940x", "int8", 14 * 3.3 * 2 * 64 * 2 / 1000),   # VNNI: 64 multiply-adds per instruction, 2 a clock
])
def test_dense_figures(key, dtype, tflops):
    assert devices.devices()[key].peak_tflops[dtype] == pytest.approx(tflops)


def test_modes_a_part_does_not_have_are_null():
    known = devices.devices()
    for key in ("t4", "v100", "v100-pcie"):
        assert known[key].peak_tflops["tf32"] is None and known[key].peak_tflops["bf16"] is None
    for key in ("a100", "a100-40gb", "a100-pcie", "a10", "a30", "a40", "a2", "rtx3090", "v100", "t4"):
        assert known[key].peak_tflops["fp8"] is None           # FP8 came with Ada, Hopper, CDNA3
    blackwell = {k for k, d in known.items() if d.arch == "blackwell"}
    assert blackwell == {"b200", "gb200", "b300", "gb300", "rtx5090", "rtx-pro-6000", "rtx-pro-6000-max-q",
                         "rtx-pro-6000-server"}
    fp4 = blackwell | {"mi350x", "mi355x"}                     # FP4 came with Blackwell and CDNA 4
    # b300: NVIDIA's HGX B300 pages disagree on dense FP4 (105 or 108 PF per 8 GPUs): null, and the note says so
    assert {k for k, d in known.items() if d.peak_tflops["fp4"] is not None} == fp4 - {"b300"}
    assert "FP4" in known["b300"].note


# the rates with FP16 accumulation, stated where faster than the FP32-accumulate peaks: GeForce only
@pytest.mark.parametrize("key, fp16, fp8", [
    ("rtx3090", 142, None),              # GA102 whitepaper, Appendix A: FP16 Tensor with FP16 accumulate 142
    ("rtx4090", 330.3, 660.6),           # Ada whitepaper, Appendix A: 330.3 and 660.6 (FP32 accumulate: half)
    ("rtx4090-d", 294.2, 588.3),         # 114 × 1024 × 2.52 GHz and 114 × 2048 × 2.52 GHz
    ("rtx4090-laptop", 158.8, 317.5),    # 76 × 1024 × 2.04 GHz and 76 × 2048 × 2.04 GHz
    ("rtx5090", 419, 838),               # RTX Blackwell whitepaper, Appendix A
])
def test_fp16_accumulate_rates(key, fp16, fp8):
    d = devices.devices()[key]
    assert d.peak_tflops_half_acc == {"fp16": fp16, "fp8": fp8}
    assert d.peak_tflops_half_acc["fp16"] == pytest.approx(2 * d.peak_tflops["fp16"], rel=1e-3)   # GeForce: twice
    assert d.sources["peak_tflops_half_acc"]


def test_only_geforce_parts_state_a_faster_fp16_accumulate_rate():
    # data-center and professional parts run FP32 accumulation at the full rate (A40 datasheet: 149.7 both)
    stated = {k for k, d in devices.devices().items() if d.peak_tflops_half_acc is not None}
    assert stated == {"rtx3090", "rtx4090", "rtx4090-d", "rtx4090-laptop", "rtx5090"}


@pytest.mark.parametrize("key, figures", [
    # H100 whitepaper: ten 512-bit controllers, HBM3; 256 KB L1/shared per SM; datasheet: NVLink 900 GB/s,
    # PCIe Gen5 128 GB/s (64 each way); no base clock or power floor stated
    ("h100", dict(memory_type="hbm3", memory_bus_bits=5120, memory_gbps=None, smem_per_sm_kb=256, base_mhz=None,
                  power_min_w=None, nvlink_gb_s=900, host_link={"kind": "pcie", "gen": 5, "lanes": 16, "gb_s": 64})),
    # H100 datasheet, NVL column: 350-400 W configurable, NVLink 600 GB/s
    ("h100-nvl", dict(memory_type="hbm3", power_w=400, power_min_w=350, nvlink_gb_s=600)),
    # A100 whitepaper, Table 1: 5120-bit HBM2 at 1215 MHz DDR (2.43 Gbit/s): 5120 / 8 × 2.43 = 1555.2 GB/s
    ("a100-40gb", dict(memory_type="hbm2", memory_bus_bits=5120, memory_gbps=2.43, smem_per_sm_kb=192)),
    # GH200 datasheet: 450-1000 W configurable module, NVLink-C2C 900 GB/s both ways (450 each way)
    ("gh200", dict(power_min_w=450, host_link={"kind": "nvlink-c2c", "gen": None, "lanes": None, "gb_s": 450})),
    # Ada whitepaper, Appendix A: 384-bit GDDR6X at 21 Gbps = 1008 GB/s; NVIDIA: base 2.23 GHz; PCIe 4.0 x16
    ("rtx4090", dict(memory_type="gddr6x", memory_bus_bits=384, memory_gbps=21, base_mhz=2230, nvlink_gb_s=None,
                     host_link={"kind": "pcie", "gen": 4, "lanes": 16, "gb_s": 32})),
    # GA102 whitepaper: NVLink 112.5 GB/s between two RTX 3090s
    ("rtx3090", dict(nvlink_gb_s=112.5, memory_gbps=19.5)),
    # A2 datasheet: 40-60 W configurable, PCIe Gen4 x8 (16 GT/s × 8 / 8 = 16 GB/s each way)
    ("a2", dict(power_w=60, power_min_w=40, host_link={"kind": "pcie", "gen": 4, "lanes": 8, "gb_s": 16})),
    # AMD MI300X data sheet: 8192-bit HBM3 at 5.2 Gbps; 7 Infinity Fabric links × 128 GB/s = 896 GB/s; 64 KB LDS
    ("mi300x", dict(memory_type="hbm3", memory_bus_bits=8192, memory_gbps=5.2, nvlink_gb_s=896, smem_per_sm_kb=64)),
    # AMD MI355X data sheet: 1,400 W, 7 links × 153.6 GB/s = 1,075.2 GB/s; CDNA 4: 160 KB LDS per CU
    ("mi355x", dict(power_w=1400, nvlink_gb_s=1075.2, smem_per_sm_kb=160, sms=256, boost_mhz=2400)),
    # Intel ARK: 4 channels of DDR4-2933: 256 bits at 2.933 Gbit/s = 93.856 GB/s; base 3.30 GHz; the host itself
    ("i9-10940x", dict(memory_type="ddr4", memory_bus_bits=256, memory_gbps=2.933, base_mhz=3300,
                       host_link={"kind": "socket", "gen": None, "lanes": None, "gb_s": None})),
])
def test_schema_3_figures(key, figures):
    d = devices.devices()[key]
    for what, value in figures.items():
        assert getattr(d, what) == value, (key, what)
        if value is not None and what in devices.FIGURES and (what != "host_link" or value["gb_s"]):
            assert d.sources[what].strip(), (key, what)


def test_stated_bandwidth_is_bus_times_rate_everywhere_both_are_given():
    checked = 0
    for d in devices.devices().values():
        if d.memory_bus_bits and d.memory_gbps:
            assert d.memory_bus_bits / 8 * d.memory_gbps == pytest.approx(d.bandwidth_gb_s, rel=0.03), d.key
            checked += 1
    assert checked >= 20


# GPU FP32 lanes per SM (per CU for AMD, counting CDNA3's dual issue): 64 on Volta, Turing and GA100, 128 on
# GA102, Ada, Hopper and Blackwell; AMD CDNA3 256 FLOP per CU per clock (163.4 TFLOPS / (304 × 2.1 GHz)), CDNA 4
# likewise (157.3 TFLOPS / (256 × 2.4 GHz))
FLOP_PER_CLOCK = {"volta": 128, "turing": 128, "ada": 256, "hopper": 256, "blackwell": 256, "cdna3": 256, "cdna4": 256}
GA100 = ("a100", "a30")          # Ampere's GA100 has 64 FP32 lanes per SM, GA10x 128


def test_fp32_peak_equals_units_times_clock():
    for d in devices.devices().values():
        if d.kind != "gpu":
            continue
        per_clock = 128 if d.key.startswith(GA100) else FLOP_PER_CLOCK.get(d.arch, 256)
        expected = d.sms * per_clock * d.boost_mhz * 1e6 / 1e12
        assert d.peak_tflops["fp32"] == pytest.approx(expected, rel=0.012), d.key


def test_the_readme_table_lists_every_entry():
    text = (ROOT / "docs" / "roofline.md").read_text()
    section = text.split("## Roofline (`archstat roofline`)", 1)[1].split("\n## ", 1)[0]
    keys = re.findall(r"^\| `([a-z0-9.-]+)` \|", section, flags=re.M)
    assert keys == list(devices.devices())


def _entry():
    return copy.deepcopy({"version": 3, "devices": {"x": {
        "name": "X", "kind": "gpu", "vendor": "nvidia", "arch": "hopper", "compute_capability": "9.0", "form": "sxm",
        "peak_tflops": dict.fromkeys(devices.PEAK_KEYS, 1.0), "peak_tflops_half_acc": None, "bandwidth_gb_s": 100,
        "memory_gb": 8, "memory_type": "hbm3", "memory_bus_bits": 1024, "memory_gbps": 0.8, "l2_mb": 4,
        "smem_per_sm_kb": 256, "sms": 10, "base_mhz": 900, "boost_mhz": 1000, "power_w": 100, "power_min_w": 50,
        "host_link": {"kind": "pcie", "gen": 5, "lanes": 16, "gb_s": 64}, "nvlink_gb_s": 900,
        "sources": dict.fromkeys(devices.SOURCE_KEYS, "the X datasheet"), "note": "",
        "match": {"names": ["x"], "mig": {"slices": {"compute": 7, "memory": 8},
                                          "profiles": {"1g.1gb": {"compute": 1, "memory": 1, "l2": 1}}}}}}})


def _x(**changes):
    return lambda d: d["devices"]["x"].update(changes)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["devices"]["x"].pop("sources"), "x: missing 'sources'"),
    (lambda d: d["devices"]["x"].pop("host_link"), "x: missing 'host_link' (null where it does not apply; devices.yaml "
                                                   "version 3)"),
    (lambda d: d["devices"]["x"]["sources"].update(l2_mb=" "), "x.sources.l2_mb: every figure cites the document"),
    (lambda d: d["devices"]["x"]["sources"].pop("power_w"), "x.sources.power_w: every figure cites the document"),
    (lambda d: d["devices"]["x"]["sources"].pop("base_mhz"), "x.sources.base_mhz: every figure cites the document"),
    (lambda d: d["devices"]["x"]["sources"].pop("host_link"), "x.sources.host_link: every figure cites the document"),
    (lambda d: d["devices"]["x"]["sources"].pop("nvlink_gb_s"), "x.sources.nvlink_gb_s: every figure cites"),
    (lambda d: d["devices"]["x"]["sources"].pop("mig"), "x.sources.mig: a MIG profile table cites the document"),
    (lambda d: d["devices"]["x"]["sources"].update(price="$"), "x.sources: expected a mapping from the figures"),
    (lambda d: d["devices"]["x"]["peak_tflops"].update(fp32=-1), "x.peak_tflops.fp32: expected a positive number "
                                                                 "or null, got -1"),
    (lambda d: d["devices"]["x"]["peak_tflops"].update(fp32=float("nan")), "x.peak_tflops.fp32: expected a positive"),
    (lambda d: d["devices"]["x"]["peak_tflops"].pop("fp4"), "x.peak_tflops: expected exactly the keys"),
    (lambda d: d["devices"]["x"].update(sparse=True), "x: unknown key 'sparse'"),
    (lambda d: d["devices"]["x"].update(overhead_us=5), "x: unknown key 'overhead_us'"),
    (_x(bandwidth_gb_s="fast"), "x.bandwidth_gb_s: expected a positive number"),
    (_x(kind="tpu"), "x.kind: expected one of gpu, cpu"),
    (_x(form="card"), "x.form: expected one of"),
    (_x(compute_capability=9.0), "x.compute_capability: an NVIDIA GPU states"),
    (_x(sms=10.5), "x.sms: expected a whole number"),
    (_x(memory_type="hbm4"), "x.memory_type: expected one of hbm2, hbm2e, hbm3, hbm3e, gddr6, gddr6x, gddr7, lpddr5x, "
                             "ddr4, ddr5 or null, got 'hbm4'"),
    (_x(memory_bus_bits=1024.5), "x.memory_bus_bits: expected a whole number"),
    # 1024 bits / 8 × 0.9 Gbit/s = 115.2 GB/s: 15 % off the stated 100 (a typo): the rule catches it
    (_x(memory_gbps=0.9), "x.bandwidth_gb_s: 100 GB/s is not the bus × the rate: 1024 bits / 8 × 0.9 Gbit/s = "
                          "115.2 GB/s (more than 3% apart: a typo?)"),
    (_x(base_mhz=1100), "x.base_mhz: the base clock (1100 MHz) exceeds the boost clock (1000 MHz)"),
    (_x(power_min_w=100), "x.power_min_w: the bottom of a configurable power range lies below power_w (100), got 100"),
    (_x(power_w=None), "x.power_min_w: the bottom of a configurable power range lies below power_w (None)"),
    (_x(smem_per_sm_kb=0), "x.smem_per_sm_kb: expected a positive number or null, got 0"),
    (_x(peak_tflops_half_acc={"fp16": 2.0}), "x.peak_tflops_half_acc: expected null or exactly the keys fp16, fp8"),
    (_x(peak_tflops_half_acc={"fp16": None, "fp8": None}), "x.peak_tflops_half_acc: expected at least one figure"),
    (_x(peak_tflops_half_acc={"fp16": 1.0, "fp8": None}), "x.peak_tflops_half_acc.fp16: the FP16-accumulate rate is "
                                                          "stated only where it is faster than peak_tflops.fp16 (1.0)"),
    (_x(host_link={"kind": "usb", "gen": 5, "lanes": 16, "gb_s": 64}), "x.host_link: kind: expected one of pcie, "
                                                                       "nvlink-c2c, socket, got 'usb'"),
    (_x(host_link={"kind": "pcie", "gen": 5, "lanes": 16}), "x.host_link: expected null or exactly the keys kind, gen"),
    (_x(host_link={"kind": "pcie", "gen": 5.5, "lanes": 16, "gb_s": 64}), "x.host_link: gen: expected a whole number"),
    (_x(host_link={"kind": "socket", "gen": None, "lanes": None, "gb_s": None}), "x.host_link.kind: a GPU is not a "
                                                                                 "socket"),
    (_x(nvlink_gb_s=-900), "x.nvlink_gb_s: expected a positive number or null, got -900"),
    (lambda d: d["devices"]["x"]["match"].update(names=["(unclosed"]), "x.match.names[0]: not a regular expression"),
    (lambda d: d["devices"]["x"]["match"].update(mig={"compute": 7, "memory": 8}), "x.match.mig: expected {slices: "
                                                                                   "{compute: N, memory: M}, profiles"),
    (lambda d: d["devices"]["x"]["match"]["mig"]["profiles"].update({"1g.x": {"compute": 1, "memory": 1, "l2": 1}}),
     "x.match.mig.profiles.1g.x: expected a GPU-instance profile name such as 1g.10gb"),
    (lambda d: d["devices"]["x"]["match"]["mig"]["profiles"].update({"1c.2g.2gb": {"compute": 1, "memory": 1, "l2": 1}}),
     "x.match.mig.profiles.1c.2g.2gb: expected a GPU-instance profile name"),
    (lambda d: d["devices"]["x"]["match"]["mig"]["profiles"].update({"2g.2gb": {"compute": 2, "memory": 2}}),
     "x.match.mig.profiles.2g.2gb: expected {compute: N, memory: M, l2: L}"),
    (lambda d: d["devices"]["x"]["match"]["mig"]["profiles"].update({"2g.2gb": {"compute": 3, "memory": 2, "l2": 2}}),
     "x.match.mig.profiles.2g.2gb: {'compute': 3, 'memory': 2, 'l2': 2} does not fit the name or the part"),
    (lambda d: d["devices"]["x"]["match"]["mig"]["profiles"].update({"7g.80gb": {"compute": 7, "memory": 8, "l2": 8}}),
     "x.match.mig.profiles.7g.80gb: holds more memory than the part's 8 GB"),
    (lambda d: d.update(version=2), "devices.yaml: : expected 'version: 3' and a 'devices' mapping (got version 2)"),
])
def test_devices_validation(change, message):
    data = _entry()
    x = devices.validate(data)["x"]
    assert x.bandwidth == 100e9 and x.host_link["gb_s"] == 64 and x.mig_profiles == {
        "1g.1gb": {"compute": 1, "memory": 1, "l2": 1}}
    change(data)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        devices.validate(data)
    assert "\n" not in info.value.message


def test_a_cpu_is_its_socket_with_no_figures():
    data = _entry()
    data["devices"]["x"].update(kind="cpu", vendor="intel", compute_capability=None, form="socket",
                                host_link={"kind": "socket", "gen": None, "lanes": None, "gb_s": None})
    data["devices"]["x"]["match"].pop("mig")
    assert devices.validate(data)["x"].host_link["kind"] == "socket"
    data["devices"]["x"]["host_link"]["lanes"] = 48
    with pytest.raises(ConfigError, match=re.escape("x.host_link: a socket's figures are null (the CPU is the host)")):
        devices.validate(data)


# -- matching the driver's name to the exact part ---------------------------------------------------------------

@pytest.mark.parametrize("name, memory_gib, key", [
    ("NVIDIA H100 80GB HBM3", None, "h100"),                  # what CUDA calls an H100 SXM5
    ("NVIDIA H100 PCIe", None, "h100-pcie"),
    ("NVIDIA H100 NVL", None, "h100-nvl"),
    ("NVIDIA H200", None, "h200"),
    ("NVIDIA H200 NVL", None, "h200-nvl"),
    ("NVIDIA GH200 480GB", None, "gh200"),                    # 480 GB is the Grace CPU's LPDDR5X
    ("NVIDIA GH200 480GB", 143.9, "gh200-144gb"),             # the same name, the HBM3e memory size
    ("NVIDIA GH200 144G HBM3e", None, "gh200-144gb"),
    ("NVIDIA A100-SXM4-80GB", None, "a100"),
    ("NVIDIA A100-SXM4-40GB", None, "a100-40gb"),
    ("NVIDIA A100-PCIE-40GB", None, "a100-pcie-40gb"),
    ("NVIDIA A100 80GB PCIe", None, "a100-pcie"),
    ("NVIDIA A100", 39.6, "a100-40gb"),                       # a bare name: the memory decides
    ("NVIDIA L4", None, "l4"),
    ("NVIDIA L40", None, "l40"),
    ("NVIDIA L40S", None, "l40s"),
    ("NVIDIA A10", None, "a10"),
    ("Tesla T4", None, "t4"),
    ("Tesla V100-SXM2-32GB", None, "v100"),
    ("Tesla V100-PCIE-16GB", None, "v100-pcie"),
    ("NVIDIA B200", None, "b200"),
    ("NVIDIA GB200", None, "gb200"),
    ("AMD Instinct MI300X", None, "mi300x"),
    ("AMD Instinct MI325X", None, "mi325x"),
    ("NVIDIA GeForce RTX 3090", None, "rtx3090"),
    ("NVIDIA GeForce RTX 4090", None, "rtx4090"),
    ("NVIDIA GeForce RTX 4090 D", None, "rtx4090-d"),
    ("NVIDIA GeForce RTX 4090 Laptop GPU", None, "rtx4090-laptop"),
    ("NVIDIA GeForce RTX 5090", None, "rtx5090"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", None, "rtx-pro-6000"),
    ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", None, "rtx-pro-6000-max-q"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", None, "rtx-pro-6000-server"),
    ("NVIDIA A30", None, "a30"),
    ("NVIDIA A40", None, "a40"),
    ("NVIDIA A2", None, "a2"),
    ("NVIDIA B300", None, "b300"),
    ("NVIDIA GB300", None, "gb300"),
    ("AMD Instinct MI350X", None, "mi350x"),
    ("AMD Instinct MI355X", None, "mi355x"),
    ("NVIDIA GH200 Grace Hopper Superchip 96GB", None, "gh200"),
    ("NVIDIA H100-NVL-94GB", None, "h100-nvl"),
    ("Intel(R) Core(TM) i9-10940X CPU @ 3.30GHz", None, "i9-10940x"),
    ("h100-pcie", None, "h100-pcie"),                         # a key names its entry
    ("NVIDIA H100 SXM5 80GB", None, "h100"),                  # an entry's own name
])
def test_driver_names_map_to_the_exact_part(name, memory_gib, key):
    m = devices.match_device(name, None if memory_gib is None else int(memory_gib * 2**30))
    if key is None:
        assert m.device is None, m.how
        return
    assert m.device is not None and m.device.key == key, m.how


# MLPerf Inference v3.0-v4.0 (closed division): every accelerator name its systems report maps to its entry,
# a MIG slice to its slice; the names are a copy of the results' `accelerator` column (tests/data, with its source)
MLPERF = [tuple(line.split("\t")) for line in (ROOT / "tests" / "data" / "mlperf_accelerators.txt").read_text().splitlines()
          if line and not line.startswith("#")]


@pytest.mark.parametrize("name, key", MLPERF)
def test_mlperf_accelerator_names_map_to_their_entries(name, key, cli):
    m = devices.match_device(name)
    assert m.device is not None and m.device.key == key, m.how
    r = cli("devices", "--match", name, "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["key"] == key, r.stderr


def test_the_mlperf_list_covers_the_names_that_matter():
    keys = dict(MLPERF)
    assert len(MLPERF) == 20 and len(keys) == 20
    assert keys["NVIDIA H100-80C"] == "h100-pcie"            # vGPU H100-80C: the whole H100 PCIe 80GB
    assert keys["NVIDIA A100-SXM-80C"] == "a100"             # vGPU A100DX-80C: the whole A100 SXM4 80GB
    assert keys["NVIDIA A100-PCIe-80GB (1x1g.10gb MIG)"] == "a100-pcie-mig-1g.10gb"


@pytest.mark.parametrize("name, closest", [
    ("NVIDIA GeForce RTX 3090 Ti", "rtx3090"),     # another part: never the 3090's figures
    ("NVIDIA A10G", "a10"),
    ("Tesla V100S-PCIE-32GB", "v100-pcie"),
    ("NVIDIA RTX 6000 Ada Generation", None),
])
def test_other_parts_match_nothing(name, closest):
    m = devices.match_device(name)
    assert m.device is None and m.how.startswith("no devices.yaml entry matches")
    if closest:
        assert m.suggestion == closest


def test_mig_slices_get_their_share():
    # NVIDIA MIG user guide, H100 80GB table: 1g.10gb has 1/7 of the SMs, 1/8 of the memory and 1/8 of the L2
    m = devices.match_device("NVIDIA H100 80GB HBM3 MIG 1g.10gb")
    d = m.device
    assert d.key == "h100-mig-1g.10gb" and d.parent == "h100" and d.mig == "1g.10gb"
    assert d.peak_tflops["bf16"] == pytest.approx(989.5 / 7, abs=1e-3)
    assert d.bandwidth_gb_s == pytest.approx(3350 / 8) and d.l2_mb == pytest.approx(50 / 8)
    assert d.memory_gb == 10 and d.sms == round(132 / 7) and d.nvlink_gb_s is None    # no NVLink in a MIG instance
    assert d.memory_bus_bits == 5120 / 8 and d.sources["mig"].startswith("NVIDIA Multi-Instance GPU user guide")
    # the SM count the driver reports wins over the fraction (an H100 1g slice has 16 SMs)
    d = devices.match_device("NVIDIA H100 80GB HBM3", mig="1g.10gb", sms=16).device
    assert d.peak_tflops["bf16"] == pytest.approx(989.5 * 16 / 132, abs=1e-3) and d.sms == 16
    # 1g.20gb: 1/7 of the SMs, 2/8 of the memory, but 1/8 of the L2 (the guide's table)
    d = devices.lookup("h100-mig-1g.20gb")
    assert d.bandwidth_gb_s == pytest.approx(3350 * 2 / 8) and d.l2_mb == pytest.approx(50 / 8) and d.memory_gb == 20
    # 3g.40gb on an A100 80GB: 3/7 of the SMs, 4 of 8 memory slices, 4 of 8 L2 slices
    d = devices.match_device("NVIDIA A100-SXM4-80GB MIG 3g.40gb").device
    assert d.peak_tflops["fp16"] == pytest.approx(312 * 3 / 7, abs=1e-3) and d.bandwidth_gb_s == pytest.approx(2039 / 2)
    assert d.l2_mb == pytest.approx(40 / 2) and devices.lookup("a100-mig-3g.40gb") == d
    # a compute instance of a GI (the guide's MIG device names: 1c.3g.40gb): 1 of its 3 compute slices, its memory
    d = devices.lookup("h100-mig-1c.3g.40gb")
    assert d.peak_tflops["bf16"] == pytest.approx(989.5 / 7, abs=1e-3) and d.bandwidth_gb_s == pytest.approx(3350 / 2)
    # A30: quarters; RTX PRO 6000: quarters, with the Blackwell RTX suffixes
    assert devices.lookup("a30-mig-2g.12gb").peak_tflops["bf16"] == pytest.approx(165 / 2)
    assert devices.lookup("rtx-pro-6000-server-mig-1g.24gb+gfx").bandwidth_gb_s == pytest.approx(1792 / 4)
    # a part without MIG refuses a profile; a key names a slice for the roofline too
    assert devices.match_device("NVIDIA GeForce RTX 4090", mig="1g.6gb").device is None
    assert calibration.roof("h100-mig-1g.10gb", "bf16").peak_flops == pytest.approx(989.5e12 / 7, rel=1e-6)


H100_PROFILES = "1g.10gb, 1g.10gb+me, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb"


@pytest.mark.parametrize("part, profile", [
    ("h100", "1g.0gb"),          # fits arithmetic, is no profile
    ("h100", "7g.1gb"),
    ("a100", "5g.50gb"),         # A100 has no 5g or 6g profile
    ("a100", "6g.70gb"),
    ("h100", "3g.40gb+me"),      # only the 1g profile takes the media extensions
    ("h100", "3c.3g.40gb"),      # a compute instance is part of its GI: fewer compute slices than it
    ("h100", "1c.1g.10gb"),
    ("h100", "1g.12gb"),         # the H100 94GB's, not the 80GB's
])
def test_profiles_nvidia_does_not_list_are_refused_with_the_list(part, profile, cli):
    sheet = devices.devices()[part]
    listed = ", ".join(sheet.mig_profiles)
    expected = (f"'{profile}' is not a MIG profile of {part} ({sheet.name}); NVIDIA's MIG user guide lists {listed} "
                f"(and Nc.<profile>, a compute instance of N of its compute slices)")
    with pytest.raises(UsageError) as info:
        devices.mig_slice(sheet, profile)
    assert info.value.message == expected
    assert devices.lookup(f"{part}-mig-{profile}") is None
    m = devices.match_device(sheet.name, mig=profile)                     # the API
    assert m.device is None and m.how.endswith(expected)
    with pytest.raises(UsageError, match=re.escape(expected)):
        calibration.roof(f"{part}-mig-{profile}", "bf16")
    r = cli("roofline", "resnet18", "--device", f"{part}-mig-{profile}")   # the command line: one line, exit 2
    assert r.exit_code == 2 and r.stdout == "" and r.stderr == f"error: {expected}\n"
    r = cli("devices", "--match", f"{part}-mig-{profile}")
    assert r.exit_code == 2 and expected in r.stderr and r.stderr.count("\n") == 1


def test_the_h100_list_is_the_guides():
    assert ", ".join(devices.devices()["h100"].mig_profiles) == H100_PROFILES
    # every part NVIDIA's guide gives a table for has one; the others have no MIG
    with_mig = {k for k, d in devices.devices().items() if d.mig_profiles}
    assert with_mig == {"h100", "h100-pcie", "h100-nvl", "h200", "h200-nvl", "gh200", "gh200-144gb", "a100",
                        "a100-40gb", "a100-pcie", "a100-pcie-40gb", "a30", "b200", "rtx-pro-6000", "rtx-pro-6000-max-q",
                        "rtx-pro-6000-server"}
    assert ", ".join(devices.devices()["b200"].mig_profiles) == ("1g.23gb, 1g.23gb+me, 1g.45gb, 2g.45gb, 3g.90gb, "
                                                                 "4g.90gb, 7g.180gb")


def test_devices_command_lists_every_entry(cli):
    r = cli("devices", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert [e["key"] for e in d["devices"]] == list(devices.devices())
    assert d["version"] == 3
    h100 = next(e for e in d["devices"] if e["key"] == "h100")
    assert h100["peak_tflops"]["bf16"] == 989.5 and h100["sources"]["peak_tflops"].startswith("NVIDIA H100")
    assert h100["memory_type"] == "hbm3" and h100["nvlink_gb_s"] == 900 and h100["power_min_w"] is None
    assert h100["host_link"] == {"kind": "pcie", "gen": 5, "lanes": 16, "gb_s": 64} and "7g.80gb" in h100["mig_profiles"]
    assert set(h100) >= set(devices.FIGURES)
    r = cli("devices", "--wide")
    assert r.exit_code == 0 and all(key in r.stdout for key in devices.devices())
    r = cli("devices", "--format", "csv")
    assert r.stdout.splitlines()[0].startswith("key,part,kind,fp32,tf32,fp16,bf16,fp8,fp4,int8")


def test_devices_match(cli):
    r = cli("devices", "--match", "NVIDIA H100 PCIe")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("'NVIDIA H100 PCIe' → h100-pcie: NVIDIA H100 PCIe 80GB")
    d = json.loads(cli("devices", "--match", "NVIDIA H100 PCIe", "--format", "json").stdout)
    assert d["key"] == "h100-pcie" and d["device"]["bandwidth_gb_s"] == 2000
    d = json.loads(cli("devices", "--match", "NVIDIA H100 80GB HBM3", "--mig", "3g.40gb", "--format", "json").stdout)
    assert d["key"] == "h100-mig-3g.40gb" and d["device"]["bandwidth_gb_s"] == pytest.approx(3350 / 2)
    r = cli("devices", "--match", "NVIDIA GeForce RTX 3090 Ti")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == ("error: --match 'NVIDIA GeForce RTX 3090 Ti': no devices.yaml entry matches 'rtx 3090 ti'; "
                        "archstat devices lists every entry (closest: 'rtx3090', a different part)\n")
    r = cli("devices", "--mig", "1g.10gb")
    assert r.exit_code == 2 and "go with --match" in r.stderr
    r = cli("devices", "--match", "NVIDIA H100 80GB HBM3", "--mig", "seven")
    assert r.exit_code == 2 and "expected a MIG profile" in r.stderr


def test_devices_command_needs_no_torch():
    from tests.test_no_torch import SCRIPT

    for args in (["devices"], ["devices", "--match", "NVIDIA H100 PCIe", "--format", "json"]):
        r = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0 and r.stdout and r.stderr == "", r.stderr


# -- the roof: datasheet keys never read the calibration; overrides held to the bounds -----------------------------

FAKE = {"hardware": "Test CPU, 2 threads", "torch_version": "x", "measured_at": "2026-01-01 00:00 UTC",
        "peak_flops": {"fp32": 50e9}, "bandwidth": 10e9, "overhead_s": 4e-6, "method": {"peak": "fake"}}


def write_calibration(cache, data) -> str:
    (cache / "archstat").mkdir(parents=True, exist_ok=True)
    path = cache / "archstat" / "calibration.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_a_stored_calibration_never_replaces_a_datasheet(cli, xdg_cache):
    path = write_calibration(xdg_cache, {"h100": {**FAKE, "peak_flops": {"fp32": 1e9}}})
    d = json.loads(cli("roofline", "resnet18", "--device", "h100", "--format", "json").stdout)
    assert d["device"]["peak_flop_per_s"] == 67e12 and d["device"]["sources"]["peak"] == "datasheet"
    r = cli("roofline", "resnet18", "--device", "cpu")
    assert r.exit_code == 2
    assert r.stderr == (f"error: {path}: unreadable calibration ('h100' is not a device archstat calibrates (cpu, "
                        "cuda, cuda:N); a datasheet entry is never replaced by a calibration); delete it and "
                        "calibrate again\n")


@pytest.mark.parametrize("data, why", [
    ({"cpu": "x"}, "cpu is str, not a mapping"),
    ({"cpu": {**FAKE, "peak_flops": {"fp32": "abc"}}}, "cpu.peak_flops.fp32 is 'abc'"),
    ({"cpu": {**FAKE, "overhead_s": [1]}}, "cpu.overhead_s is [1]"),
    ({"cpu": {**FAKE, "peak_flops": {"fp32": 0}}}, "cpu.peak_flops.fp32 is 0"),
    ({"cpu": {**FAKE, "peak_flops": {"fp32": -5e9}}}, "cpu.peak_flops.fp32 is -5000000000.0"),
    ({"cpu": {**FAKE, "overhead_s": -1e-6}}, "cpu.overhead_s is -1e-06"),
    ({"cpu": {**FAKE, "bandwidth": 1e-300}}, "cpu.bandwidth is 1e-300"),
    ({"cpu": {**FAKE, "secret": 1}}, "cpu holds 'secret'"),
    ({"cpu": {**FAKE, "hardware": 7}}, "cpu.hardware is not a short string"),
    ({"cpu": {**FAKE, "hardware": "\u001b]0;TITLE\u0007CPU"}}, "cpu.hardware holds control characters"),
    ('{"cpu": {"peak_flops": {"fp32": NaN}, "bandwidth": 1e10, "overhead_s": 1e-6, "hardware": "x"}}', "bare NaN"),
    ('{"cpu": {"peak_flops": {"fp32": Infinity}}}', "bare Infinity"),
    ("[1, 2]", "the file holds list"),
    ('{"cpu": ', "not JSON"),
])
@pytest.mark.parametrize("command", ["roofline", "compare"])
def test_a_calibration_of_the_wrong_shape_is_unreadable(cli, xdg_cache, data, why, command):
    path = write_calibration(xdg_cache, data)
    args = (["roofline", "resnet18", "--device", "cpu"] if command == "roofline" else
            ["compare", "resnet18", "vgg11", "--device", "cpu"])
    r = cli(*args)
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith(f"error: {path}: unreadable calibration (") and why in r.stderr
    assert r.stderr.endswith("; delete it and calibrate again\n") and "internal error" not in r.stderr


def test_profile_refuses_an_unreadable_calibration_too(cli, xdg_cache):
    pytest.importorskip("torch")
    path = write_calibration(xdg_cache, '{"cpu": {"hardware": "x", "peak_flops": {"fp32": NaN}, "bandwidth": 1e10, '
                                    '"overhead_s": 1e-6}}')
    r = cli("profile", "conv7x7", "--warmup", "0", "--iters", "1", "--no-layers")
    assert r.exit_code == 2 and r.stderr.startswith(f"error: {path}: unreadable calibration (")


@pytest.mark.parametrize("args, message", [
    (["--peak", "1e-300"], "error: --peak '1e-300': must be between 1e6 and 1e18 FLOP/s"),
    (["--bandwidth", "1e-300"], "error: --bandwidth '1e-300': must be between 1e6 and 1e17 bytes/s"),
    (["--overhead", "inf"], "error: --overhead inf: expected a finite number of µs"),
    (["--overhead", "nan"], "error: --overhead nan: expected a finite number of µs"),
])
def test_absurd_overrides_are_refused(cli, args, message):
    r = cli("roofline", "resnet18", "--device", "h100", *args, "--format", "json")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == message + "\n"


def test_roofline_json_holds_no_bare_nan_or_infinity(cli):
    r = cli("roofline", "resnet18", "--device", "h100", "--peak", "1e18", "--bandwidth", "1e6", "--format", "json")
    assert r.exit_code == 0
    json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in the JSON"))


def test_a_measurement_of_absurd_figures_is_not_stored(xdg_cache):
    from archstat.errors import RuntimeFailure

    with pytest.raises(RuntimeFailure, match="measured something impossible"):
        calibration.store_calibration("cpu", {**FAKE, "bandwidth": float("inf")})
    assert not (xdg_cache / "archstat" / "calibration.json").exists()


# -- the file itself: a regular file, of bounded size ---------------------------------------------------------------

SPECIAL = textwrap.dedent("""
    import os, sys
    sys.argv = ["archstat", "roofline", "resnet18", "--device", "cpu"]
    from archstat.cli import main
    main()
""")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "huge"])
def test_the_calibration_path_must_be_a_small_regular_file(xdg_cache, kind):
    folder = xdg_cache / "archstat"
    folder.mkdir(parents=True)
    path = folder / "calibration.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", path)
    elif kind == "directory":
        path.mkdir()
    else:
        with open(path, "wb") as f:       # 300 MB, sparse: refused by its size, never read
            f.truncate(300 * 10**6)
    env = {**os.environ, "XDG_CACHE_HOME": str(xdg_cache)}
    r = subprocess.run([sys.executable, "-c", SPECIAL], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert r.returncode == 2, r.stderr
    why = "300,000,000 bytes, more than the 1,048,576" if kind == "huge" else "not a regular file"
    assert r.stderr == f"error: {path}: unreadable calibration ({why}" + \
        (" a calibration can hold" if kind == "huge" else "") + "); delete it and calibrate again\n"


# -- concurrent writers keep every key; readers never see half a file --------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    from archstat import calibration
    i = int(sys.argv[1])
    start = float(sys.argv[2])
    while time.time() < start:
        time.sleep(0.001)
    calibration.store_calibration(f"cuda:{i}", {"hardware": f"GPU {i}", "peak_flops": {"fp32": 1e12 + i},
                                            "bandwidth": 1e11, "overhead_s": 5e-6})
""")
READER = textwrap.dedent("""
    import sys, time
    from archstat import calibration
    from archstat.errors import ConfigError, UsageError
    end = float(sys.argv[1])
    reads = bad = 0
    while time.time() < end:
        try:
            calibration.load_calibrations()
        except ConfigError as exc:
            bad += 1
            print(exc.message, file=sys.stderr)
        reads += 1
    print(reads, bad)
""")


@pytest.mark.slow
def test_sixteen_concurrent_calibrations_keep_all_sixteen(xdg_cache):
    import time

    env = {**os.environ, "XDG_CACHE_HOME": str(xdg_cache), "PYTHONPATH": str(ROOT)}
    start = time.time() + 3.0
    reader = subprocess.Popen([sys.executable, "-c", READER, str(start + 6.0)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(i), str(start)], env=env) for i in range(16)]
    assert all(w.wait(timeout=120) == 0 for w in writers)
    out, err = reader.communicate(timeout=120)
    stored = calibration.load_calibrations()
    assert set(stored) == {f"cuda:{i}" for i in range(16)}
    assert all(stored[f"cuda:{i}"]["peak_flops"]["fp32"] == 1e12 + i for i in range(16))
    reads, bad = map(int, out.split())
    assert reads > 0 and bad == 0, err
    leftovers = [p.name for p in (xdg_cache / "archstat").iterdir() if p.name not in ("calibration.json",
                                                                                  "calibration.json.lock")]
    assert leftovers == []                       # every writer's own temporary file was renamed into place
