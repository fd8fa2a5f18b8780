"""archstat roofline on the performance model (archstat.perf): what each row and the total report, the
runtimes, autocast, training, overrides, calibration storage (a fixed fake measurement: no timing is
asserted), --depth, compare, plot, profile's prediction. The formulas are pinned in tests/test_perf.py;
how close predictions come to measurements is benchmarks/prediction/, not a test."""

import json

import pytest

import archstat
from archstat import calibration

roofline = archstat.roofline


# every test gets an empty XDG cache (conftest): a calibration made elsewhere never leaks in
pytestmark = pytest.mark.usefixtures("xdg_cache")



@pytest.fixture(scope="module")
def resnet50_h100(cli):
    r = cli("roofline", "resnet50", "--device", "h100", "--dtype", "bf16", "--batch", "64", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    return d, {x["name"]: x for x in d["layers"]}


def test_rows_are_the_table_rows_with_their_kernels(resnet50_h100):
    d, rows = resnet50_h100
    stats = archstat.analyze("resnet50", batch=64)
    assert [x["name"] for x in d["layers"]] == [r.name for r in stats.rows if r.op != "input"]
    assert sum(x["macs"] for x in d["layers"]) == stats.totals.macs == d["totals"]["macs"]   # counts never change
    conv1 = rows["conv1"]
    # eager bf16 on NCHW: the input transposed for cuDNN's NHWC kernel, the conv, its output transposed back
    assert conv1["kernels"] == 3 and conv1["kind"] == "conv" and conv1["math"] == "bf16"
    # the conv reads 64 × 3 × 224 × 224 bf16 and its 9,408 weights, writes 64 × 64 × 112 × 112; each
    # transpose reads and writes its tensor once
    x, y = 64 * 3 * 224 * 224 * 2, 64 * 64 * 112 * 112 * 2
    assert conv1["read_bytes"] == x + 9_408 * 2 + x + y and conv1["written_bytes"] == y + x + y
    assert conv1["weight_bytes"] == 9_408 * 2


def test_totals_add_up(resnet50_h100):
    d, _ = resnet50_h100
    t = d["totals"]
    assert t["device_s"] == pytest.approx(sum(x["device_s"] for x in d["layers"]))
    assert t["host_s"] == pytest.approx(sum(x["host_s"] for x in d["layers"]))
    # the host runs ahead: the latency is at least each of them, and less than their sum
    assert max(t["device_s"], t["host_s"]) <= t["predicted_s"] < t["device_s"] + t["host_s"]
    assert t["throughput_samples_per_s"] == pytest.approx(64 / t["predicted_s"])
    assert t["kernels"] == sum(x["kernels"] for x in d["layers"])


def test_json_keys_are_the_documented_ones(resnet50_h100):
    d, rows = resnet50_h100
    assert set(d) == {"archstat_version", "model", "device", "batch", "runtime", "precision", "train", "tf32",
                      "dtype", "depth", "traffic_model", "time_model", "layers", "totals", "band", "warnings",
                      "notes"}
    assert set(rows["conv1"]) >= {"name", "label", "op", "kind", "macs", "flops", "read_bytes", "weight_bytes",
                                  "written_bytes", "cached_bytes", "bytes", "intensity_flop_per_byte", "bound",
                                  "attainable_flop_per_s", "compute_s", "memory_s", "device_s", "host_s", "kernels",
                                  "share", "counted", "math"}
    assert set(d["totals"]) == {"macs", "flops", "bytes", "intensity_flop_per_byte", "predicted_s", "host_s",
                                "device_s", "idle_s", "bound", "host_bound", "throughput_samples_per_s", "kernels",
                                "clock_share", "coefficient_set", "memory_bound_layer_share",
                                "memory_bound_time_share", "complete"}
    assert d["device"]["sms"] == 132 and d["device"]["l2_bytes"] == 50e6       # h100's datasheet entry


def test_depth_groups_sum_to_the_same_total(cli, resnet50_h100):
    d, _ = resnet50_h100
    r = cli("roofline", "resnet50", "--device", "h100", "--dtype", "bf16", "--batch", "64", "--depth", "1",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    g = json.loads(r.stdout)
    names = [x["name"] for x in g["layers"]]
    assert names == ["conv1", "bn1", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    layer1 = g["layers"][3]
    members = [x for x in d["layers"] if x["name"].startswith("layer1.") or x["name"] == "layer1"]
    assert layer1["device_s"] == pytest.approx(sum(x["device_s"] for x in members))
    assert layer1["bytes"] == sum(x["bytes"] for x in members)
    assert g["totals"]["predicted_s"] == pytest.approx(d["totals"]["predicted_s"])


def test_the_runtimes_fuse_what_they_fuse():
    eager, compiled, engine = (roofline("resnet50", device="a100", dtype="fp16", batch=32, runtime=r)
                               for r in ("eager", "compile", "engine"))
    # the same MACs; ever fewer kernels and bytes: compile fuses each norm-activation-add chain into one
    # kernel and runs convs channels-last, an engine folds the norms and runs the chains in the convs'
    # epilogues under a CUDA graph (no host cost per kernel)
    assert eager.macs == compiled.macs == engine.macs
    assert eager.kernels > compiled.kernels > engine.kernels
    assert eager.bytes > compiled.bytes > engine.bytes
    from archstat.perf.predict import coefficients

    assert engine.host_s == coefficients()["host"]["gpu"]["engine_launch_s"]   # one graph launch, whatever the kernels
    assert compiled.host_s < eager.host_s
    bn1 = {r.name: r for r in engine.ops}["bn1"]
    assert bn1.kernels == 0 and bn1.device_s == 0            # folded into conv1


def test_amp_casts_weights_and_keeps_norms_in_fp32():
    plain = roofline("vit_b_16", device="rtx4090", dtype="fp16", batch=8)
    amp = roofline("vit_b_16", device="rtx4090", dtype="fp16", batch=8, amp=True)
    assert amp.precision == "amp-fp16" and plain.precision == "fp16"
    # autocast adds the weight casts (once each per forward) and the casts of the fp32 layer-norm outputs
    assert amp.kernels > plain.kernels and amp.bytes > plain.bytes
    ln = {r.name: r for r in amp.ops}["encoder.0.attention.body.ln_1"]
    x = 8 * 197 * 768
    assert ln.written_bytes >= x * 4                          # layer norm writes float32 under autocast


def test_float32_on_a_gpu_runs_convs_in_tf32_unless_told():
    default = {r.name: r for r in roofline("resnet18", device="a100").ops}
    assert default["conv1"].math == "tf32" and default["fc"].math == "fp32"   # PyTorch's defaults
    off = {r.name: r for r in roofline("resnet18", device="a100", tf32=False).ops}
    on = {r.name: r for r in roofline("resnet18", device="a100", tf32=True).ops}
    assert off["conv1"].math == "fp32" and on["fc"].math == "tf32"


def test_a_training_step_has_its_backward_and_update():
    pytest.importorskip("torch")
    rl = roofline("module:tests/fixtures/user_net.py:make", device="a100", input_shape=(3, 32, 32), batch=4,
                  train=True, optimizer="adamw")
    names = [r.name for r in rl.ops]
    assert "(backward)" in names and "(optimizer)" in names and rl.train
    backward = {r.name: r for r in rl.ops}["(backward)"]
    forward_macs = sum(r.macs for r in rl.ops if not r.name.startswith("("))
    # the backward runs a data and a weight gradient per conv and linear (the first conv needs no data
    # gradient): more MACs than the forward, less than twice as many again
    assert forward_macs < backward.macs < 2 * forward_macs


def test_training_a_config_needs_torch(cli, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_torch(name, *args, **kw):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    r = cli("roofline", "resnet18", "--device", "a100", "--train")
    assert r.exit_code == 1 and "needs torch" in r.stderr


def test_overrides_replace_the_datasheet(cli):
    r = cli("roofline", "resnet50", "--device", "h100", "--dtype", "bf16", "--batch", "64", "--peak", "100T",
            "--bandwidth", "1e12", "--overhead", "0", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["device"]["peak_flop_per_s"] == 1e14 and d["device"]["peaks_flop_per_s"]["bf16"] == 1e14
    assert d["device"]["bandwidth_bytes_per_s"] == 1e12
    assert d["device"]["sources"] == {"peak": "--peak", "bandwidth": "--bandwidth", "overhead": "--overhead"}
    assert d["totals"]["host_s"] == 0                          # --overhead 0: no host cost per op
    conv1 = d["layers"][0]
    # nothing runs faster than the overridden roofs: the peak, and the bandwidth for what crosses DRAM (the
    # reads the L2 serves come at the L2's own bandwidth)
    assert conv1["compute_s"] >= 2 * conv1["macs"] / 1e14
    # channels_last: no NCHW↔NHWC transposes, whose bytes the plan lists in full while the framework build pays
    # only its fitted share of them (host.gpu.eager's nchw_transpose_share)
    r = cli("roofline", "resnet50", "--device", "h100", "--dtype", "bf16", "--batch", "64", "--peak", "100T",
            "--bandwidth", "1e12", "--overhead", "0", "--channels-last", "--format", "json")
    for row in json.loads(r.stdout)["layers"]:
        assert row["compute_s"] >= 2 * row["macs"] / 1e14 * (1 - 1e-9)
        assert row["memory_s"] >= (row["bytes"] - row["cached_bytes"]) / 1e12 * (1 - 1e-9)


@pytest.mark.parametrize("args, message", [
    (["--device", "h100", "--runtime", "jit"], "error: --runtime: unknown value 'jit'"),
    (["--device", "h100", "--amp"], "error: --amp runs autocast in fp16 or bf16: give --dtype fp16 or bf16, not fp32"),
    (["--device", "h100", "--dtype", "int8"], "error: --dtype int8 is an inference engine's precision: add "
                                              "--runtime engine"),
    (["--device", "h100", "--optimizer", "adamw"], "error: --optimizer adamw: the optimizer applies only with "
                                                   "--train"),
])
def test_bad_runtime_options_one_line(cli, args, message):
    r = cli("roofline", "resnet18", *args)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(message)


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
def test_bad_options_one_line(cli, args, message):
    r = cli("roofline", "resnet18", *args)
    assert r.exit_code == 2
    assert r.stderr == message + "\n" and r.stdout == ""


FAKE = {"hardware": "Test CPU, 2 threads", "torch_version": "x", "measured_at": "2026-01-01 00:00 UTC",
        "peak_flops": {"fp32": 50e9}, "bandwidth": 10e9, "overhead_s": 4e-6, "method": {"peak": "fake"}}




def test_calibration_is_stored_shown_and_used(cli, xdg_cache, monkeypatch):
    import archstat.profile.calibrate as calibrate

    calls = []
    monkeypatch.setattr(calibrate, "measure", lambda device, dtype: calls.append((device, dtype)) or dict(FAKE))
    r = cli("roofline", "--device", "cpu", "--calibrate")
    assert r.exit_code == 0, r.stderr
    assert calls == [("cpu", "fp32")]
    stored = json.loads((xdg_cache / "archstat" / "calibration.json").read_text())
    assert stored["cpu"]["peak_flops"] == {"fp32": 50e9} and stored["cpu"]["bandwidth"] == 10e9
    assert "calibrated 2026-01-01 00:00 UTC on Test CPU, 2 threads" in r.stdout and "50.0 GFLOP/s" in r.stdout
    r = cli("roofline", "resnet18", "--device", "cpu", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["device"]["peak_flop_per_s"] == 50e9 and d["device"]["bandwidth_bytes_per_s"] == 10e9
    assert d["device"]["sources"]["peak"].startswith("calibrated") and "datasheet" not in d["device"]["sources"]
    # the calibrated per-op overhead sets the host cost of a pointwise op (4 µs), the others in proportion
    assert any("host costs scaled to 4.00 µs" in n for n in d["notes"])
    conv1 = d["layers"][0]
    # resnet18 conv1 at batch 1, fp32: 118,013,952 MACs can not run faster than the calibrated peak
    assert conv1["compute_s"] >= 2 * 118_013_952 / 50e9
    # another dtype is stored beside the first; an override still wins
    monkeypatch.setattr(calibrate, "measure", lambda device, dtype: {**FAKE, "peak_flops": {dtype: 20e9}})
    assert cli("roofline", "--device", "cpu", "--dtype", "bf16", "--calibrate").exit_code == 0
    stored = json.loads((xdg_cache / "archstat" / "calibration.json").read_text())
    assert stored["cpu"]["peak_flops"] == {"fp32": 50e9, "bf16": 20e9}
    d = json.loads(cli("roofline", "resnet18", "--device", "cpu", "--peak", "1T", "--format", "json").stdout)
    assert d["device"]["peak_flop_per_s"] == 1e12 and d["device"]["sources"]["peak"] == "--peak"


def test_compare_adds_predicted_latency(cli):
    r = cli("compare", "resnet50", "efficientnet_b0", "--device", "h100", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    for m in d["models"]:
        assert m["predicted_latency_s"] == pytest.approx(roofline(m["model"], device="h100").predicted_s)
    r = cli("compare", "resnet50", "efficientnet_b0", "--device", "h100")
    assert "predicted latency (h100, eager, fp32)" in r.stdout and "memory-bound time" in r.stdout


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
    kinds = {r.name: r.kind for r in roofline(str(path), device="a100").ops}
    assert kinds == {"conv1": "depthwise", "bn1": "norm", "conv2": "conv", "maxpool1": "pooling",
                     "linear1": "linear"}   # flatten, a view, folds into the pool


def test_roofline_plot(cli, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.png"
    r = cli("plot", "resnet18", "--roofline", "--device", "h100", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = cli("plot", "resnet18", "--roofline")
    assert r.exit_code == 2 and "needs --device" in r.stderr


def test_profile_predicts_every_measured_row(xdg_cache):
    pytest.importorskip("torch")
    from archstat.profile.measure import profile
    from archstat.report.profile_report import profile_dict, render

    p = profile("googlenet-naive", device="cpu", batch=2, warmup=0, iters=1)
    assert p.prediction is None and "archstat roofline --device cpu --dtype fp32 --calibrate" in p.prediction_note
    calibration.store_calibration("cpu", dict(FAKE))
    p = profile("googlenet-naive", device="cpu", batch=2, warmup=0, iters=1)
    predicted = {r.name: r for r in p.prediction.ops}
    assert {x.name for x in p.layers} <= set(predicted)          # every measured row has its prediction
    assert p.prediction.roof.peak_flops == 50e9
    d = profile_dict(p)
    assert d["prediction"]["latency_ms"] == pytest.approx(p.prediction.predicted_s * 1e3)
    assert all(x["predicted_ms"] == pytest.approx(predicted[x["name"]].device_s * 1e3) for x in d["layers"])
    text = " ".join(render([p], "table", per_layer=True).text().split())   # lines wrapped to the width
    assert "every row" in text and "measured / predicted" in text
    assert "calibrated on Test CPU, 2 threads, run on " in text   # another machine's calibration is flagged
    assert "Predicted (ms)" in text
    # eager, as profile runs it: every ReLU is a kernel of its own
    assert all(r.kernels >= 1 for r in p.prediction.ops if r.op == "relu")


def test_real_calibration_measures_something():
    pytest.importorskip("torch")
    from archstat.profile.calibrate import measure

    m = measure("cpu", "fp32", size=64, copy_bytes=1 << 20, repeats=1)   # tiny: structure, not speed
    assert set(m) >= {"hardware", "peak_flops", "bandwidth", "overhead_s", "method", "measured_at"}
    assert m["peak_flops"]["fp32"] > 0 and m["bandwidth"] > 0 and m["overhead_s"] > 0


def test_a_traced_module_reads_its_input_once():
    pytest.importorskip("torch")
    rl = roofline("module:tests/fixtures/user_net.py:make", device="a100", input_shape=(3, 32, 32))
    first = rl.ops[0]
    # the 3×32×32 float32 input and the 8×3×3×3 + 8 weights; TF32 on an A100 runs NHWC: transposed in and out
    assert first.weight_bytes == (8 * 27 + 8) * 4
    assert first.read_bytes >= 3 * 32 * 32 * 4 + first.weight_bytes


@pytest.mark.parametrize("factory", ["nets.py:vit_sdpa", "nets.py:Swin", "nets.py:MaxViT", "nets.py:ConvNeXt",
                                     "user_net.py:make"])
def test_activation_traffic_counts_the_batch_once(factory):
    # every row's activation traffic (what it reads and writes besides weights) at batch 8 is exactly 8 ×
    # batch 1, whatever its leading dimension (attention runs on batch × heads, Swin's and MaxViT's on
    # batch × windows); weights are read once per batch at any batch size, and a row computed from weights
    # alone (Swin's relative-position bias lookup) costs the same at any batch
    pytest.importorskip("torch")
    target = f"module:tests/fixtures/{factory}"
    one = roofline(target, device="h100", input_shape=(3, 32, 32), batch=1)
    eight = roofline(target, device="h100", input_shape=(3, 32, 32), batch=8)
    assert [r.name for r in one.ops] == [r.name for r in eight.ops]
    for a, b in zip(one.ops, eight.ops):
        act_a = a.read_bytes + a.written_bytes - a.weight_bytes
        act_b = b.read_bytes + b.written_bytes - b.weight_bytes
        per_batch = 1 if act_a == a.written_bytes and not (a.read_bytes - a.weight_bytes) else 8
        assert act_b == per_batch * act_a, a.name
        assert b.weight_bytes == a.weight_bytes, a.name
    moving = [a for a in one.ops if a.bytes]
    assert sum(bool(a.read_bytes - a.weight_bytes) for a in moving) > len(moving) / 2
