"""The devices file (every entry, its dense figures and their sources), matching a driver's name to the
exact part, `archstat devices`, and the calibration cache's one validated loader (issue 20.5, issue 21
point 5, issue 23 items 5-8)."""

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
from archstat.errors import ConfigError
from tests.conftest import ROOT

REQUIRED_KEYS = {"h100", "h100-pcie", "h100-nvl", "h200", "h200-nvl", "gh200", "a100", "a100-40gb", "a100-pcie",
                 "l4", "l40", "l40s", "a10", "t4", "v100", "b200", "gb200", "mi300x", "mi325x", "rtx3090", "rtx4090",
                 "rtx5090", "rtx-pro-6000", "rtx-pro-6000-max-q", "cpu", "i9-10940x"}


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
        figures = [d.bandwidth_gb_s, d.memory_gb, d.l2_mb, d.sms, d.boost_mhz, d.power_w]
        if d.key != "cpu":
            assert d.sources["peak_tflops"] and d.sources["bandwidth_gb_s"]
        if d.kind == "gpu":
            assert all(v is not None for v in figures), d.key
            assert d.vendor in ("nvidia", "amd") and d.arch and d.form
            assert (d.compute_capability is not None) == (d.vendor == "nvidia")


def test_the_file_round_trips_through_validation():
    from importlib import resources

    text = (resources.files("archstat") / "data" / "devices.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["version"] == 2 and set(devices.validate(data)) == set(devices.devices())
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
    ("i9-10940x", "fp32", 14 * 3.3 * 2 * 16 * 2 / 1000),   # cores × GHz × FMA units × lanes × 2 FLOP
    ("i9-10940x", "int8", 14 * 3.3 * 2 * 64 * 2 / 1000),   # VNNI: 64 multiply-adds per instruction, 2 a clock
])
def test_dense_figures(key, dtype, tflops):
    assert devices.devices()[key].peak_tflops[dtype] == pytest.approx(tflops)


def test_modes_a_part_does_not_have_are_null():
    known = devices.devices()
    for key in ("t4", "v100", "v100-pcie"):
        assert known[key].peak_tflops["tf32"] is None and known[key].peak_tflops["bf16"] is None
    for key in ("a100", "a100-40gb", "a100-pcie", "a10", "rtx3090", "v100", "t4"):   # FP8 came with Ada, Hopper, CDNA3
        assert known[key].peak_tflops["fp8"] is None
    blackwell = {k for k, d in known.items() if d.arch == "blackwell"}
    assert blackwell == {"b200", "gb200", "rtx5090", "rtx-pro-6000", "rtx-pro-6000-max-q"}
    assert all((d.peak_tflops["fp4"] is not None) == (k in blackwell) for k, d in known.items())


# GPU FP32 lanes per SM (per CU for AMD, counting CDNA3's dual issue): 64 on Volta, Turing and GA100, 128 on
# GA102, Ada, Hopper and Blackwell; AMD CDNA3 256 FLOP per CU per clock (163.4 TFLOPS / (304 × 2.1 GHz))
FLOP_PER_CLOCK = {"volta": 128, "turing": 128, "ada": 256, "hopper": 256, "blackwell": 256, "cdna3": 256}


def test_fp32_peak_equals_units_times_clock():
    for d in devices.devices().values():
        if d.kind != "gpu":
            continue
        per_clock = 128 if d.key.startswith("a100") else FLOP_PER_CLOCK.get(d.arch, 256)
        expected = d.sms * per_clock * d.boost_mhz * 1e6 / 1e12
        assert d.peak_tflops["fp32"] == pytest.approx(expected, rel=0.012), d.key


def test_the_readme_table_lists_every_entry():
    text = (ROOT / "docs" / "roofline.md").read_text()
    section = text.split("## Roofline (`archstat roofline`)", 1)[1].split("\n## ", 1)[0]
    keys = re.findall(r"^\| `([a-z0-9.-]+)` \|", section, flags=re.M)
    assert keys == list(devices.devices())


def _entry():
    return copy.deepcopy({"version": 2, "devices": {"x": {
        "name": "X", "kind": "gpu", "vendor": "nvidia", "arch": "hopper", "compute_capability": "9.0", "form": "sxm",
        "peak_tflops": dict.fromkeys(devices.PEAK_KEYS, 1.0), "bandwidth_gb_s": 100, "memory_gb": 8, "l2_mb": 4,
        "sms": 10, "boost_mhz": 1000, "power_w": 100,
        "sources": dict.fromkeys(devices.FIGURES, "the X datasheet"), "note": "", "match": {"names": ["x"]}}}})


@pytest.mark.parametrize("change, message", [
    (lambda d: d["devices"]["x"].pop("sources"), "x: missing 'sources'"),
    (lambda d: d["devices"]["x"]["sources"].update(l2_mb=" "), "x.sources.l2_mb: every figure cites the document"),
    (lambda d: d["devices"]["x"]["sources"].pop("power_w"), "x.sources.power_w: every figure cites the document"),
    (lambda d: d["devices"]["x"]["peak_tflops"].update(fp32=-1), "x.peak_tflops.fp32: expected a positive number "
                                                                 "or null, got -1"),
    (lambda d: d["devices"]["x"]["peak_tflops"].update(fp32=float("nan")), "x.peak_tflops.fp32: expected a positive"),
    (lambda d: d["devices"]["x"]["peak_tflops"].pop("fp4"), "x.peak_tflops: expected exactly the keys"),
    (lambda d: d["devices"]["x"].update(sparse=True), "x: unknown key 'sparse'"),
    (lambda d: d["devices"]["x"].update(overhead_us=5), "x: unknown key 'overhead_us'"),
    (lambda d: d["devices"]["x"].update(bandwidth_gb_s="fast"), "x.bandwidth_gb_s: expected a positive number"),
    (lambda d: d["devices"]["x"].update(kind="tpu"), "x.kind: expected one of gpu, cpu"),
    (lambda d: d["devices"]["x"].update(form="card"), "x.form: expected one of"),
    (lambda d: d["devices"]["x"].update(compute_capability=9.0), "x.compute_capability: an NVIDIA GPU states"),
    (lambda d: d["devices"]["x"].update(sms=10.5), "x.sms: expected a whole number"),
    (lambda d: d["devices"]["x"]["match"].update(names=["(unclosed"]), "x.match.names[0]: not a regular expression"),
    (lambda d: d["devices"]["x"]["match"].update(mig={"compute": 7}), "x.match.mig: expected {compute: N"),
    (lambda d: d.update(version=1), "expected 'version: 2'"),
])
def test_devices_validation(change, message):
    data = _entry()
    assert devices.validate(data)["x"].bandwidth == 100e9
    change(data)
    with pytest.raises(ConfigError, match=re.escape(message)):
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
    ("Intel(R) Core(TM) i9-10940X CPU @ 3.30GHz", None, "i9-10940x"),
    ("h100-pcie", None, "h100-pcie"),                         # a key names its entry
    ("NVIDIA H100 SXM5 80GB", None, "h100"),                  # an entry's own name
])
def test_driver_names_map_to_the_exact_part(name, memory_gib, key):
    m = devices.match_device(name, None if memory_gib is None else int(memory_gib * 2**30))
    assert m.device is not None and m.device.key == key, m.how


@pytest.mark.parametrize("name, closest", [
    ("NVIDIA GeForce RTX 3090 Ti", "rtx3090"),     # another part: never the 3090's figures
    ("NVIDIA A10G", "a10"),
    ("Tesla V100S-PCIE-32GB", "v100-pcie"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "rtx-pro-6000"),
    ("NVIDIA RTX 6000 Ada Generation", None),
])
def test_other_parts_match_nothing(name, closest):
    m = devices.match_device(name)
    assert m.device is None and m.how.startswith("no devices.yaml entry matches")
    if closest:
        assert m.suggestion == closest


def test_mig_slices_get_their_share():
    # NVIDIA MIG user guide: a 1g slice of an H100 has 1/7 of the SMs and 1 of 8 memory slices
    m = devices.match_device("NVIDIA H100 80GB HBM3 MIG 1g.10gb")
    d = m.device
    assert d.key == "h100-mig-1g.10gb" and d.parent == "h100" and d.mig == "1g.10gb"
    assert d.peak_tflops["bf16"] == pytest.approx(989.5 / 7, abs=1e-3)
    assert d.bandwidth_gb_s == pytest.approx(3350 / 8) and d.l2_mb == pytest.approx(50 / 8)
    assert d.memory_gb == 10 and d.sms == round(132 / 7)
    # the SM count the driver reports wins over the fraction (an H100 1g slice has 16 SMs)
    d = devices.match_device("NVIDIA H100 80GB HBM3", mig="1g.10gb", sms=16).device
    assert d.peak_tflops["bf16"] == pytest.approx(989.5 * 16 / 132, abs=1e-3) and d.sms == 16
    # 3g.40gb on an A100 80GB: 3/7 of the SMs, 4 of 8 memory slices
    d = devices.match_device("NVIDIA A100-SXM4-80GB MIG 3g.40gb").device
    assert d.peak_tflops["fp16"] == pytest.approx(312 * 3 / 7, abs=1e-3) and d.bandwidth_gb_s == pytest.approx(2039 / 2)
    # a part without MIG refuses a profile; a key names a slice for the roofline too
    assert devices.match_device("NVIDIA GeForce RTX 4090", mig="1g.6gb").device is None
    assert calibration.roof("h100-mig-1g.10gb", "bf16").peak_flops == pytest.approx(989.5e12 / 7, rel=1e-6)


def test_devices_command_lists_every_entry(cli):
    r = cli("devices", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert [e["key"] for e in d["devices"]] == list(devices.devices())
    h100 = next(e for e in d["devices"] if e["key"] == "h100")
    assert h100["peak_tflops"]["bf16"] == 989.5 and h100["sources"]["peak_tflops"].startswith("NVIDIA H100")
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
    from archstat.errors import ConfigError
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
