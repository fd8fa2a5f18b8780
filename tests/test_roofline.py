"""archstat roofline: hand arithmetic on resnet50's rows, the devices file, overrides, calibration
storage (a fixed fake measurement: no timing is asserted), --depth, --unfold, compare and plot."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from archstat.analyze import devices
from archstat.analyze.roofline import analyze_roofline
from archstat.cli import app
from archstat.errors import ConfigError

try:
    runner = CliRunner(mix_stderr=False)
except TypeError:  # newer click: stderr is always kept apart
    runner = CliRunner()

H100_BF16 = 989.5e12   # datasheet: 1,979 TFLOPS "with sparsity"; dense is half
H100_BW = 3.35e12      # datasheet: 3.35 TB/s
H100_OVERHEAD = 5e-6   # devices.yaml's assumed overhead per op


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets an empty XDG cache: a calibration on the developer's machine never leaks in."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def run(*args):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def resnet50_h100():
    r = runner.invoke(app, ["roofline", "resnet50", "--device", "h100", "--dtype", "bf16", "--batch", "64",
                            "--format", "json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    return d, {x["name"]: x for x in d["layers"]}


def test_conv1_by_hand(resnet50_h100):
    _, rows = resnet50_h100
    r = rows["conv1"]
    # 7×7 conv, 3 → 64 channels, stride 2: 224×224 → 112×112; batch 64; bf16 = 2 bytes
    assert r["macs"] == 7_552_892_928                    # 64 · 112·112·64 · 3·7·7
    assert r["input_bytes"] == 19_267_584                 # 64·3·224·224 · 2
    assert r["weight_bytes"] == 18_816                    # 64·3·7·7 = 9,408 weights (no bias) · 2
    assert r["output_bytes"] == 102_760_448               # 64·64·112·112 · 2
    assert r["bytes"] == 122_046_848
    assert r["intensity_flop_per_byte"] == pytest.approx(123.770389, rel=1e-6)   # 2·7,552,892,928 / 122,046,848
    assert r["compute_s"] == pytest.approx(15_105_785_856 / H100_BF16)           # 15.27 µs
    assert r["memory_s"] == pytest.approx(122_046_848 / H100_BW)                 # 36.43 µs: more than compute
    assert r["bound"] == "memory"
    assert r["attainable_flop_per_s"] == pytest.approx(123.770389 * H100_BW, rel=1e-6)   # 414.6 TFLOP/s
    assert r["predicted_s"] == pytest.approx(122_046_848 / H100_BW + H100_OVERHEAD)      # 41.43 µs


def test_bn1_and_fc_by_hand(resnet50_h100):
    _, rows = resnet50_h100
    bn = rows["bn1"]
    # reads 64·64·112·112 elements, 64 scales + 64 shifts, writes as many elements; no MACs
    assert (bn["input_bytes"], bn["weight_bytes"], bn["output_bytes"]) == (102_760_448, 256, 102_760_448)
    assert bn["bound"] == "memory" and bn["flops"] == 0
    assert bn["predicted_s"] == pytest.approx(205_521_152 / H100_BW + H100_OVERHEAD)   # 66.35 µs
    fc = rows["fc"]
    assert fc["macs"] == 131_072_000                     # 64 · 2048·1000
    assert fc["bytes"] == 262_144 + 4_098_000 + 128_000   # 64·2048·2 + (2048·1000 + 1000)·2 + 64·1000·2
    assert fc["bound"] == "memory"                       # 58.4 FLOP/B, under the ridge 989.5/3.35 = 295.4


def test_a_compute_bound_conv_by_hand(resnet50_h100):
    _, rows = resnet50_h100
    r = rows["layer4.0.body.conv2"]
    # 3×3 conv 512 → 512, stride 2 (v1.5): 14×14 → 7×7
    assert r["macs"] == 7_398_752_256                     # 64 · 7·7·512 · 512·3·3
    assert r["bytes"] == 12_845_056 + 4_718_592 + 3_211_264   # 64·512·14·14·2 + 512·512·9·2 + 64·512·7·7·2
    assert r["intensity_flop_per_byte"] == pytest.approx(14_797_504_512 / 20_774_912)   # 712.3 > 295.4
    assert r["bound"] == "compute"
    assert r["attainable_flop_per_s"] == pytest.approx(H100_BF16)
    assert r["predicted_s"] == pytest.approx(14_797_504_512 / H100_BF16 + H100_OVERHEAD)   # 19.95 µs


def test_totals_add_up(resnet50_h100):
    d, rows = resnet50_h100
    t = d["totals"]
    assert t["macs"] == 261_707_792_384                   # 64 × resnet50's 4,089,184,256
    assert t["predicted_s"] == pytest.approx(sum(r["predicted_s"] for r in rows.values()))
    assert t["throughput_samples_per_s"] == pytest.approx(64 / t["predicted_s"])
    assert sum(r["share"] for r in rows.values()) == pytest.approx(1.0)
    working = [r for r in rows.values() if r["bound"] != "none"]
    memory = [r for r in working if r["bound"] == "memory"]
    assert t["memory_bound_layer_share"] == pytest.approx(len(memory) / len(working))
    assert t["memory_bound_time_share"] == pytest.approx(sum(r["predicted_s"] for r in memory) / t["predicted_s"])
    assert t["overhead_s"] == pytest.approx(H100_OVERHEAD * len(working))
    assert d["device"]["ridge_flop_per_byte"] == pytest.approx(H100_BF16 / H100_BW)
    assert d["device"]["sources"]["peak"] == "datasheet"
    assert d["dtype"] == "bfloat16" and d["bytes_per_element"] == 2


def test_json_keys_are_the_documented_ones(resnet50_h100):
    d, rows = resnet50_h100
    assert list(d) == ["archstat_version", "model", "device", "batch", "dtype", "bytes_per_element", "fused",
                       "depth", "traffic_model", "time_model", "layers", "totals"]
    assert list(d["device"]) == ["key", "name", "peak_dtype", "peak_flop_per_s", "bandwidth_bytes_per_s",
                                 "overhead_s", "ridge_flop_per_byte", "sources", "calibration"]
    assert list(rows["conv1"]) == ["name", "label", "op", "kind", "macs", "flops", "input_bytes", "weight_bytes",
                                   "output_bytes", "bytes", "intensity_flop_per_byte", "bound",
                                   "attainable_flop_per_s", "compute_s", "memory_s", "overhead_s", "predicted_s",
                                   "share", "counted"]
    assert list(d["totals"]) == ["macs", "flops", "bytes", "intensity_flop_per_byte", "predicted_s", "overhead_s",
                                 "throughput_samples_per_s", "ops", "memory_bound_layer_share",
                                 "memory_bound_time_share", "complete"]


def test_depth_groups_sum_to_the_same_total(resnet50_h100):
    d, _ = resnet50_h100
    r = run("roofline", "resnet50", "--device", "h100", "--dtype", "bf16", "--batch", "64", "--depth", "1",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    g = json.loads(r.stdout)
    names = [x["name"] for x in g["layers"]]
    assert names == ["conv1", "bn1", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    layer1 = g["layers"][3]
    members = [x for x in d["layers"] if x["name"].startswith("layer1.") or x["name"] == "layer1"]
    assert layer1["predicted_s"] == pytest.approx(sum(x["predicted_s"] for x in members))
    assert layer1["bytes"] == sum(x["bytes"] for x in members)
    assert g["totals"]["predicted_s"] == pytest.approx(d["totals"]["predicted_s"])


def test_unfold_costs_each_relu_pass():
    fused = analyze_roofline("vgg16", device="h100")
    eager = analyze_roofline("vgg16", device="h100", fold=False)
    relu = {r.name: r for r in eager.ops}["relu1_1"]
    # an in-place ReLU on 64×224×224 fp32 reads and writes it: 2 · 3,211,264 · 4 bytes
    assert (relu.input_bytes, relu.output_bytes, relu.macs) == (12_845_056, 12_845_056, 0)
    views = [r for r in eager.ops if r.op in ("flatten", "dropout")]
    assert views and all(r.bytes == 0 and r.predicted_s == 0 and r.bound == "none" for r in views)
    relus = [r for r in eager.ops if r.op == "relu"]
    assert eager.bytes - fused.bytes == sum(r.bytes for r in relus)


def test_overrides_replace_the_datasheet():
    r = run("roofline", "resnet50", "--device", "h100", "--dtype", "bf16", "--batch", "64", "--peak", "100T",
            "--bandwidth", "1e12", "--overhead", "0", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    conv1 = d["layers"][0]
    # compute 15,105,785,856 / 1e14 = 151.1 µs > memory 122,046,848 / 1e12 = 122.0 µs
    assert conv1["bound"] == "compute"
    assert conv1["predicted_s"] == pytest.approx(15_105_785_856 / 1e14)
    assert d["device"]["sources"] == {"peak": "--peak", "bandwidth": "--bandwidth", "overhead": "--overhead"}


@pytest.mark.parametrize("args, message", [
    (["--device", "cpu"], "error: device 'cpu' has no fp32 peak and no memory bandwidth: calibrate it "
                          "(archstat roofline --device cpu --dtype fp32 --calibrate) or pass --peak and --bandwidth"),
    (["--device", "t4", "--dtype", "bf16"], "error: device 't4' has no bf16 peak in its datasheet: pass --peak"),
    (["--device", "h10"], "error: --device: unknown device 'h10' (did you mean 'h100'?)"),
    (["--device", "h100", "--dtype", "bf17"], "error: --dtype: unknown dtype 'bf17' (did you mean 'bf16'?)"),
    (["--device", "h100", "--peak", "fast"], "error: --peak 'fast': expected a positive number such as 989.5T "
                                             "or 3.35e12"),
    (["--device", "h100", "--calibrate"], "error: --calibrate measures this machine: use --device cpu or cuda, "
                                          "not h100"),
])
def test_bad_options_one_line(args, message):
    r = run("roofline", "resnet18", *args)
    assert r.exit_code == 2
    assert r.stderr == message + "\n" and r.stdout == ""


# the devices file itself (figures, validation, matching) is tested in tests/test_devices.py


FAKE = {"hardware": "Test CPU, 2 threads", "torch_version": "x", "measured_at": "2026-01-01 00:00 UTC",
        "peak_flops": {"fp32": 50e9}, "bandwidth": 10e9, "overhead_s": 4e-6, "method": {"peak": "fake"}}


def test_calibration_is_stored_shown_and_used(cache, monkeypatch):
    import archstat.profile.calibrate as calibrate

    calls = []
    monkeypatch.setattr(calibrate, "measure", lambda device, dtype: calls.append((device, dtype)) or dict(FAKE))
    r = run("roofline", "--device", "cpu", "--calibrate")
    assert r.exit_code == 0, r.stderr
    assert calls == [("cpu", "fp32")]
    stored = json.loads((cache / "archstat" / "calibration.json").read_text())
    assert stored["cpu"]["peak_flops"] == {"fp32": 50e9} and stored["cpu"]["bandwidth"] == 10e9
    assert "calibrated 2026-01-01 00:00 UTC on Test CPU, 2 threads" in r.stdout and "50.0 GFLOP/s" in r.stdout
    r = run("roofline", "resnet18", "--device", "cpu", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["device"]["peak_flop_per_s"] == 50e9 and d["device"]["bandwidth_bytes_per_s"] == 10e9
    assert d["device"]["sources"]["peak"].startswith("calibrated") and "datasheet" not in d["device"]["sources"]
    conv1 = d["layers"][0]
    # resnet18 conv1 at batch 1, fp32: 118,013,952 MACs; 150,528 + 9,408 + 802,816 elements · 4 bytes
    assert conv1["predicted_s"] == pytest.approx(max(2 * 118_013_952 / 50e9, 3_851_008 / 10e9) + 4e-6)
    # another dtype is stored beside the first; an override still wins
    monkeypatch.setattr(calibrate, "measure", lambda device, dtype: {**FAKE, "peak_flops": {dtype: 20e9}})
    assert run("roofline", "--device", "cpu", "--dtype", "bf16", "--calibrate").exit_code == 0
    stored = json.loads((cache / "archstat" / "calibration.json").read_text())
    assert stored["cpu"]["peak_flops"] == {"fp32": 50e9, "bf16": 20e9}
    d = json.loads(run("roofline", "resnet18", "--device", "cpu", "--peak", "1T", "--format", "json").stdout)
    assert d["device"]["peak_flop_per_s"] == 1e12 and d["device"]["sources"]["peak"] == "--peak"


def test_compare_adds_predicted_latency():
    r = run("compare", "resnet50", "densenet121", "--device", "h100", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    for m in d["models"]:
        assert m["predicted_latency_s"] == pytest.approx(analyze_roofline(m["model"], device="h100").predicted_s)
    a, b = d["models"]
    # densenet121 needs fewer MACs than resnet50 and is predicted to take longer
    assert b["totals"]["macs"] < a["totals"]["macs"] and b["predicted_latency_s"] > a["predicted_latency_s"]
    r = run("compare", "resnet50", "densenet121", "--device", "h100")
    assert "predicted latency (h100, fp32)" in r.stdout and "memory-bound time" in r.stdout


def test_depthwise_and_kinds(write_config):
    path = write_config("""
archstat: 1
name: dw
input: [32, 16, 16]
layers:
  - {conv: {out: 32, kernel: 3, padding: 1, groups: 32}}
  - bn
  - {conv: {out: 64, kernel: 1}}
  - {maxpool: {kernel: 2}}
  - flatten
  - {linear: {out: 10}}
""")
    kinds = {r.name: r.kind for r in analyze_roofline(str(path), device="a100").ops}
    assert kinds == {"conv1": "depthwise", "bn1": "norm", "conv2": "conv", "maxpool1": "pooling",
                     "linear1": "linear"}   # flatten, a view, folds into the pool


def test_roofline_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.png"
    r = run("plot", "resnet18", "--roofline", "--device", "h100", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run("plot", "resnet18", "--roofline")
    assert r.exit_code == 2 and "needs --device" in r.stderr


def test_profile_predicts_every_measured_row(cache):
    pytest.importorskip("torch")
    from archstat.profile.measure import predict, profile
    from archstat.report.profile_report import profile_dict, render

    p = profile("googlenet-naive", device="cpu", batch=2, warmup=0, iters=1)
    assert p.prediction is None and "archstat roofline --device cpu --dtype fp32 --calibrate" in p.prediction_note
    devices.store_calibration("cpu", dict(FAKE))
    p = profile("googlenet-naive", device="cpu", batch=2, warmup=0, iters=1)
    predicted = {r.name: r for r in p.prediction.ops}
    assert {x.name for x in p.layers} <= set(predicted)          # every measured row has its prediction
    assert p.prediction.roof.peak_flops == 50e9
    d = profile_dict(p)
    assert d["prediction"]["latency_ms"] == pytest.approx(p.prediction.predicted_s * 1e3)
    assert all(x["predicted_ms"] == pytest.approx(predicted[x["name"]].predicted_s * 1e3) for x in d["layers"])
    text = " ".join(render([p], "table", per_layer=True).text().split())   # lines wrapped to the width
    assert "every row" in text and "measured / predicted" in text
    assert "calibrated on Test CPU, 2 threads, run on " in text   # another machine's calibration is flagged
    assert "Predicted (ms)" in text
    # the rows are the eager ones profile runs: ReLU is its own pass
    assert any(r.op == "relu" and r.bytes for r in p.prediction.ops)
    assert predict(None, "cpu", "x", "float32", "train")[0] is None


def test_real_calibration_measures_something():
    pytest.importorskip("torch")
    from archstat.profile.calibrate import measure

    m = measure("cpu", "fp32", size=64, copy_bytes=1 << 20, repeats=1)   # tiny: structure, not speed
    assert set(m) >= {"hardware", "peak_flops", "bandwidth", "overhead_s", "method", "measured_at"}
    assert m["peak_flops"]["fp32"] > 0 and m["bandwidth"] > 0 and m["overhead_s"] > 0


def test_rows_without_recorded_inputs_read_the_previous_output():
    import archstat
    from archstat.analyze.roofline import roofline

    stats = archstat.analyze("vgg16")
    for r in stats.rows:
        r.input_elements = None   # as a row source that does not record its inputs would give
    rl = roofline(stats, devices.roof("h100"))
    conv1_1, conv1_2 = rl.ops[0], rl.ops[1]
    assert conv1_1.input_guessed and conv1_1.input_bytes == 3 * 224 * 224 * 4     # the input row's output
    assert conv1_2.input_bytes == 64 * 224 * 224 * 4                               # conv1_1's output


def test_a_traced_module_records_what_each_row_reads():
    pytest.importorskip("torch")
    rl = analyze_roofline("module:tests/fixtures/user_net.py:make", device="a100", input_shape=(3, 32, 32))
    first = rl.ops[0]
    assert not any(r.input_guessed for r in rl.ops)
    assert first.input_bytes == 3 * 32 * 32 * 4   # the 3×32×32 float32 input, read by the first conv


@pytest.mark.parametrize("factory", ["nets.py:vit_sdpa", "nets.py:Swin", "nets.py:MaxViT", "nets.py:ConvNeXt",
                                     "user_net.py:make"])
def test_activation_traffic_counts_the_batch_once(factory):
    # every row's activation traffic (what it reads and writes of activations) at batch 8 is exactly
    # 8 × batch 1, whatever its leading dimension (attention's bmm and SDPA run on batch × heads,
    # Swin's and MaxViT's on batch × windows); weights are read once per batch at any batch size, and
    # a row computed from weights alone (Swin's relative-position bias lookup) costs the same at any batch
    pytest.importorskip("torch")
    target = f"module:tests/fixtures/{factory}"
    one = analyze_roofline(target, device="h100", input_shape=(3, 32, 32), batch=1)
    eight = analyze_roofline(target, device="h100", input_shape=(3, 32, 32), batch=8)
    assert [r.name for r in one.ops] == [r.name for r in eight.ops]
    for a, b in zip(one.ops, eight.ops):
        per_batch = 8 if a.input_bytes else 1
        assert b.input_bytes + b.output_bytes == per_batch * (a.input_bytes + a.output_bytes), a.name
        assert b.weight_bytes == a.weight_bytes, a.name
    assert sum(bool(a.input_bytes) for a in one.ops) > len(one.ops) / 2
