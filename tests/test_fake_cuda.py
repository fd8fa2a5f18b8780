"""Every CUDA branch of profile, calibrate, per-layer timing, OOM handling and device matching, run on
this CPU machine through the fake CUDA layer (tests/fake_cuda.py), which records each device, stream,
event and synchronisation used. One test (at least) per defect of issue 21; each fails on 8029d20."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT
from tests.fake_cuda import FakeCuda, FakeMps, Gpu

torch = pytest.importorskip("torch")

import archstat  # noqa: E402
from archstat import calibration  # noqa: E402
from archstat.errors import RuntimeFailure, UsageError  # noqa: E402
from archstat.profile.measure import make_step, profile  # noqa: E402


class _Precision:   # archstat.profile.precision, imported when a test first uses it
    def __getattr__(self, name):
        from archstat.profile import precision as module

        return getattr(module, name)


precision = _Precision()

H100_PCIE = Gpu("NVIDIA H100 PCIe", 85_045_870_592, 114, (9, 0), "GPU-aaaaaaaa-0000-0000-0000-000000000001")
A100_40 = Gpu("NVIDIA A100-SXM4-40GB", 42_505_273_344, 108, (8, 0), "GPU-bbbbbbbb-0000-0000-0000-000000000002")


# every test gets an empty XDG cache (conftest): a calibration made elsewhere never leaks in
pytestmark = pytest.mark.usefixtures("xdg_cache")


@pytest.fixture
def two_gpus(monkeypatch):
    return FakeCuda(monkeypatch, [A100_40, H100_PCIE], tick_s=1e-6).install()


def quick(model="lenet5-modern", **kw):
    kw.setdefault("warmup", 1)
    kw.setdefault("iters", 2)
    kw.setdefault("layer_repeats", 2)
    return profile(model, **kw)


# -- 4. cuda:N: every event, stream, memory statistic and empty_cache on the device asked for -----------------

def test_cuda_1_is_measured_on_cuda_1(two_gpus):
    p = quick(device="cuda:1", batch=2)
    fake = two_gpus
    assert p.device == "cuda:1" and p.device_name == "NVIDIA H100 PCIe"
    # every event recorded on an explicit stream of device 1 (the module's), never the current device's default
    records = fake.of("event.record")
    assert records and {c.device for c in records} == {1}
    assert {c.detail for c in records} == {"explicit stream"}
    assert fake.devices_of("synchronize") == {1}
    for what in ("reset_peak_memory_stats", "memory_allocated", "max_memory_allocated"):
        assert fake.devices_of(what) == {1}, what
    # empty_cache acts on the current device: it ran inside torch.cuda.device(1)
    assert fake.devices_of("empty_cache") == {1}
    assert fake.devices_of("device.enter") == {1}
    assert fake.current == 0                       # and the caller's current device is back


def test_calibration_of_cuda_1_is_stored_as_cuda_1(two_gpus, monkeypatch):
    import types

    from archstat.profile import calibrate
    from archstat.profile.calibrate import measure

    # the host clock the calibration reads, by count (1 ms per reading): the fake GPU's "kernels" are CPU
    # work, whose real time on a loaded machine could fall below the stored figures' plausible range
    # (1e6 FLOP/s); what is checked here is where the measurement goes, not how fast anything is
    readings = iter(range(10**9))
    monkeypatch.setattr(calibrate, "time", types.SimpleNamespace(perf_counter=lambda: next(readings) * 1e-3))
    m = measure("cuda:1", "fp32", size=32, copy_bytes=1 << 16, repeats=1)
    assert m["device"] == "cuda:1" and m["hardware"] == "NVIDIA H100 PCIe"
    assert two_gpus.devices_of("synchronize") == {1} and two_gpus.devices_of("device.enter") == {1}
    calibration.store_calibration("cuda", m)           # the measurement names its device: stored per device
    assert set(calibration.load_calibrations()) == {"cuda:1"}
    # and a run on cuda:0 (an A100) does not borrow cuda:1's (an H100's) calibration
    roof, _ = calibration.roof_for_run("cuda:0", "NVIDIA A100-SXM4-40GB", "fp32", memory_bytes=A100_40.total_memory)
    assert roof.sources["peak"] == "datasheet" and roof.entry == "a100-40gb"
    roof, _ = calibration.roof_for_run("cuda:1", "NVIDIA H100 PCIe", "fp32")
    assert roof.sources["peak"].startswith("calibrated") and roof.peak_flops == m["peak_flops"]["fp32"]


# -- 3. true per-layer GPU times: event pairs per row, one synchronisation, rows against the whole pass ------------

def test_per_layer_pass_synchronises_once(monkeypatch):
    fake = FakeCuda(monkeypatch).install()
    from archstat.profile import measure

    calls_at = {}
    real = measure._layer_times

    def spy(*a, **kw):
        calls_at["before"] = len(fake.calls)
        out = real(*a, **kw)
        calls_at["after"] = len(fake.calls)
        return out

    monkeypatch.setattr(measure, "_layer_times", spy)
    p = quick("resnet20", device="cuda", batch=2, layer_repeats=3)
    inside = fake.calls[calls_at["before"]:calls_at["after"]]
    assert [c.what for c in inside].count("synchronize") == 1          # once, at the end
    assert [c.what for c in inside if c.what != "event.elapsed_time"][-1] == "synchronize"
    rows_with_module = [r for r in archstat.analyze("resnet20", fold=False, batch=2).rows if r.op != "input"]
    # two events per row call and two per whole pass, three passes
    assert [c.what for c in inside].count("event.record") == 3 * 2 * (len(rows_with_module) + 1)
    assert len(p.layer_passes_ms) == 3 and p.layer_method.startswith("CUDA events per row on cuda:0")
    # each row's own time: a merge (layer1.0, the residual add holding its body) excludes its children, so
    # the rows add up to no more than the whole pass, and the gap is what no row holds
    assert 0 < p.layers_sum_ms <= p.layer_pass_ms * 1.0001
    assert p.layers_gap_ms == pytest.approx(p.layer_pass_ms - p.layers_sum_ms)
    d = json.loads(__import__("archstat.report.profile_report", fromlist=["render"]).render([p], "json"))
    assert d["layers_timing"]["gap_ms"] == pytest.approx(p.layers_gap_ms)
    assert d["layers_timing"]["method"] == p.layer_method


def test_reading_an_event_before_synchronising_is_caught_by_the_fake(monkeypatch):
    # the fake holds the code to CUDA's rule, so the test above could fail
    FakeCuda(monkeypatch).install()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record(torch.cuda.current_stream(0))
    b.record(torch.cuda.current_stream(0))
    with pytest.raises(RuntimeError, match="device not ready"):
        a.elapsed_time(b)
    torch.cuda.synchronize(0)
    assert a.elapsed_time(b) >= 0


# -- 2. TF32 honesty: the math that ran, per op kind, and the peak of that math -------------------------------

def test_float32_follows_live_settings_per_op_kind(monkeypatch):
    FakeCuda(monkeypatch).install()                # an H100 SXM (compute capability 9.0: TF32 tensor cores)
    p = quick(device="cuda", batch=4)
    # PyTorch's defaults: cuDNN convs in TF32, matmuls in IEEE FP32
    assert p.math == {"conv": "tf32", "matmul": "fp32"}
    live = precision.read(torch)
    assert (live.conv, live.matmul) == (True, False)
    assert p.tf32["source"] == "PyTorch's live settings" and p.tf32["conv"] and not p.tf32["matmul"]
    # the prediction (h100 datasheet, no calibration) runs the convs at the TF32 peak, the linears at FP32
    rows = {r.name: r for r in p.prediction.ops}
    stats = archstat.analyze("lenet5-modern", fold=False, batch=4)
    assert rows["conv1"].math == "tf32" and rows["fc1"].math == "fp32"
    assert p.prediction.tf32 == {"conv": True, "matmul": False}
    # the share of peak weighs each kind's MACs at its own peak
    conv_macs = sum(r.macs for r in stats.rows if r.op == "conv")
    lin_macs = sum(r.macs for r in stats.rows if r.op == "linear")
    assert p.peak_flops == pytest.approx((conv_macs + lin_macs) / (conv_macs / 494.5e12 + lin_macs / 67e12))
    d = json.loads(__import__("archstat.report.profile_report", fromlist=["render"]).render([p], "json"))
    assert d["math"] == {"conv": "tf32", "matmul": "fp32"} and d["tf32"]["conv"] is True
    assert d["prediction"]["math"] == d["math"]


@pytest.mark.parametrize("flag, expected", [(True, "tf32"), (False, "fp32")])
def test_tf32_flag_sets_both_kinds_and_restores(monkeypatch, flag, expected):
    FakeCuda(monkeypatch).install()
    conv_before, matmul_before = torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision
    p = quick(device="cuda", tf32=flag)
    assert p.math == {"conv": expected, "matmul": expected}
    assert p.tf32["source"] == ("--tf32" if flag else "--no-tf32")
    assert (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision) == \
        (conv_before, matmul_before)


def test_no_tf32_on_a_gpu_without_tf32(monkeypatch):
    FakeCuda(monkeypatch, [Gpu("Tesla V100-SXM2-32GB", 34_089_730_048, 80, (7, 0))]).install()
    p = quick(device="cuda", tf32=True)
    assert p.math == {"conv": "fp32", "matmul": "fp32"} and p.tf32["device_has_tf32"] is False


def test_tf32_flag_is_refused_where_it_means_nothing():
    with pytest.raises(UsageError, match="--tf32"):
        quick(device="cpu", tf32=True)


# -- 6. calibration with PyTorch's new precision API, restored exactly ---------------------------------------

NEW_API_CHILD = textwrap.dedent("""
    import json, sys
    import pytest, torch
    sys.path.insert(0, {root!r})
    from tests.fake_cuda import FakeCuda
    from archstat.profile.calibrate import measure
    b = torch.backends
    results = {{}}
    for value in ("none", "tf32", "ieee"):
        b.cuda.matmul.fp32_precision = value   # the user chose with the new API: legacy reads now raise
        with pytest.MonkeyPatch.context() as mp:
            FakeCuda(mp, tick_s=1e-6).install()   # event times by count: the figures never depend on load
            before = (b.cuda.matmul.fp32_precision, b.cudnn.conv.fp32_precision, b.cudnn.fp32_precision,
                      b.fp32_precision)
            methods = {{dtype: measure("cuda", dtype, size=32, copy_bytes=1 << 16, repeats=1)["method"]["peak"]
                        for dtype in ("fp32", "tf32")}}
            after = (b.cuda.matmul.fp32_precision, b.cudnn.conv.fp32_precision, b.cudnn.fp32_precision,
                     b.fp32_precision)
        results[value] = {{"before": before, "after": after, "methods": methods}}
    print(json.dumps(results))
""")


def has_new_api() -> bool:
    try:
        torch.backends.cuda.matmul.fp32_precision  # noqa: B018  (exists, or raises)
        return True
    except (AttributeError, RuntimeError):
        return False


@pytest.mark.slow
def test_calibrate_uses_the_new_precision_api_and_restores_it():
    if not has_new_api():
        pytest.skip("this torch has no fp32_precision API")
    r = subprocess.run([sys.executable, "-c", NEW_API_CHILD.format(root=str(ROOT))],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    results = json.loads(r.stdout.strip().splitlines()[-1])
    for value, d in results.items():
        assert d["after"] == d["before"] and d["before"][0] == value    # 'none' stays 'none'
        assert "TF32 off" in d["methods"]["fp32"] and "TF32 on" in d["methods"]["tf32"]
        assert "fp32_precision" in d["methods"]["tf32"]


PROBE_CHILD = textwrap.dedent("""
    import itertools, json, os, sys
    sys.path.insert(0, {root!r})
    import torch
    from archstat.profile import precision
    b = torch.backends
    SCENARIOS = {{"default": "", "matmul tf32": "b.cuda.matmul.fp32_precision = 'tf32'",
                  "conv ieee": "b.cudnn.conv.fp32_precision = 'ieee'", "global tf32": "b.fp32_precision = 'tf32'",
                  "global ieee": "b.fp32_precision = 'ieee'", "cudnn ieee": "b.cudnn.fp32_precision = 'ieee'",
                  "legacy matmul on": "b.cuda.matmul.allow_tf32 = True",
                  "legacy conv off": "b.cudnn.allow_tf32 = False", "conv none": "b.cudnn.conv.fp32_precision = 'none'"}}

    def probe():   # how every level reads under each later global setting: exact restoration shows here
        out = []
        for g in ("ieee", "tf32", "none"):
            b.fp32_precision = g
            out.append([b.cudnn.conv.fp32_precision, b.cuda.matmul.fp32_precision, b.cudnn.fp32_precision])
        return out

    def in_child(fn):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                res = fn()
            except BaseException as exc:
                res = "error: " + repr(exc)
            os.write(w, json.dumps(res).encode())
            os._exit(0)
        os.close(w)
        data = b""
        while True:
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            data += chunk
        os.waitpid(pid, 0)
        return json.loads(data)

    problems = {{}}
    for name, setup in SCENARIOS.items():
        def scenario():
            exec(setup)
            reference = in_child(probe)
            found = []
            for conv, matmul in itertools.product([None, True, False], repeat=2):
                start = precision.read(torch)
                with precision.use(torch, conv, matmul):
                    m = precision.read(torch)
                    if (conv is not None and m.conv != conv) or (matmul is not None and m.matmul != matmul):
                        found.append(f"not applied: conv={{conv}} matmul={{matmul}}")
                if precision.read(torch) != start:
                    found.append(f"reads differ after conv={{conv}} matmul={{matmul}}")
            if probe() != reference:
                found.append("a later global setting acts differently")
            return found
        result = in_child(scenario)
        if result:
            problems[name] = result
    print(json.dumps(problems))
""")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_precision_use_restores_exactly_in_every_state():
    if not has_new_api():
        pytest.skip("this torch has no fp32_precision API")
    r = subprocess.run([sys.executable, "-c", PROBE_CHILD.format(root=str(ROOT))], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {}


def test_legacy_api_is_used_where_the_new_one_is_missing(monkeypatch):
    class Flags:
        pass

    class Torch:   # a torch without fp32_precision: allow_tf32 and the matmul precision string
        backends = Flags()
        backends.cudnn = Flags()
        backends.cuda = Flags()
        backends.cuda.matmul = Flags()
        backends.cudnn.allow_tf32 = True
        _precision = "highest"

        @classmethod
        def get_float32_matmul_precision(cls):
            return cls._precision

        @classmethod
        def set_float32_matmul_precision(cls, value):
            cls._precision = value

    assert not precision.has_new_api(Torch.backends)
    assert (precision.read(Torch).conv, precision.read(Torch).matmul) == (True, False)
    with precision.use(Torch, conv=False, matmul=True):
        assert (precision.read(Torch).conv, precision.read(Torch).matmul) == (False, True)
        assert Torch._precision == "high"
    assert Torch.backends.cudnn.allow_tf32 is True and Torch._precision == "highest"


# -- 5. exact parts: the entry the driver's name maps to, MIG slices, a calibration lacking a dtype -----------

def test_h100_pcie_gets_the_pcie_figures(monkeypatch):
    FakeCuda(monkeypatch, [H100_PCIE]).install()
    p = quick(device="cuda", dtype="bfloat16")
    assert p.peak_flops == pytest.approx(756.5e12)       # H100 PCIe dense BF16 (1,513* sparse halved), not SXM
    assert p.device_entry["key"] == "h100-pcie"
    assert p.prediction.roof.entry == "h100-pcie" and p.prediction.roof.bandwidth == 2000e9


def test_a_mig_slice_gets_its_share(monkeypatch):
    # CUDA names a MIG instance after its part and profile; its SM count is the slice's
    FakeCuda(monkeypatch, [Gpu("NVIDIA H100 80GB HBM3 MIG 1g.10gb", 10_468_982_784, 16, (9, 0))]).install()
    p = quick(device="cuda", dtype="bfloat16")
    assert p.peak_flops == pytest.approx(989.5e12 * 16 / 132)                  # 16 of 132 SMs
    assert p.device_entry["key"] == "h100-mig-1g.10gb"
    assert p.prediction.roof.bandwidth == pytest.approx(3350e9 / 8)            # 1 of 8 memory slices


def test_a_calibration_lacking_the_dtype_falls_back_to_the_datasheet_and_says_so(monkeypatch):
    FakeCuda(monkeypatch, [H100_PCIE]).install()
    calibration.store_calibration("cuda", {"device": "cuda:0", "hardware": "NVIDIA H100 PCIe",
                                       "peak_flops": {"fp32": 40e12}, "bandwidth": 1.8e12, "overhead_s": 6e-6,
                                       "measured_at": "2026-01-01 00:00 UTC"})
    p = quick(device="cuda", dtype="bfloat16")
    assert p.prediction is not None, p.prediction_note
    roof = p.prediction.roof
    assert roof.peak_flops == 756.5e12 and roof.bandwidth == 1.8e12 and roof.overhead_s == 6e-6
    assert roof.sources["peak"] == "datasheet (h100-pcie; the cuda:0 calibration has no bf16 peak)"
    assert roof.sources["bandwidth"].startswith("calibrated")


# -- 7. MPS works ------------------------------------------------------------------------------------------------

def test_mps_profile_runs(monkeypatch):
    mps = FakeMps().install(monkeypatch)
    p = quick(device="mps", batch=2)
    assert p.device == "mps" and p.measured_peak_bytes >= 0 and p.layers
    assert "MPS" in p.memory_method and "synchronising MPS" in p.layer_method
    assert mps.calls.count("synchronize") > 0


# -- 8. training as people train: autocast, fp32 master weights, GradScaler for fp16 ------------------------------

def test_amp_training_keeps_fp32_weights_and_scales_fp16():
    torch.manual_seed(0)
    module = archstat.build("conv3x3-stack", C=4, input_shape=(4, 8, 8))
    seen = []
    module.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    step = make_step(module, torch.randn(2, 4, 8, 8), "train", "adam", amp_dtype=torch.float16, device_type="cpu")
    before = [p.detach().clone() for p in module.parameters()]
    step()
    assert seen == [torch.float16]                                    # the forward ran under autocast
    assert all(p.dtype == torch.float32 for p in module.parameters())  # fp32 master weights
    assert step.scaler is not None and step.scaler.get_scale() > 0      # fp16: a GradScaler
    assert any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))
    bf16 = make_step(archstat.build("conv3x3-stack", C=4, input_shape=(4, 8, 8)), torch.randn(2, 4, 8, 8), "train",
                     "sgd", amp_dtype=torch.bfloat16, device_type="cpu")
    assert bf16.scaler is None                                        # bf16 needs no loss scaling


def test_profile_train_low_precision_is_amp_unless_pure(monkeypatch):
    FakeCuda(monkeypatch).install()
    weights = []
    real_conv = torch.nn.Conv2d.forward

    def spy(self, x):
        weights.append(self.weight.dtype)
        return real_conv(self, x)

    monkeypatch.setattr(torch.nn.Conv2d, "forward", spy)
    p = quick("conv3x3-stack", device="cuda", mode="train", dtype="bfloat16", per_layer=False, params={"C": "4"},
              input_shape=(4, 8, 8))
    assert set(weights) == {torch.float32}          # fp32 master weights: autocast casts per op
    assert p.precision == "amp" and p.dtype == "bfloat16"
    # the estimate is AMP's: fp32 weights, gradients and Adam state, 2-byte activations and weight copies
    amp_estimate = archstat.analyze("conv3x3-stack", {"C": "4"}, input_shape=(4, 8, 8), mode="train",
                                    optimizer="adam", amp=True, dtype="bfloat16", fold=False).training.total
    assert p.estimate_bytes == amp_estimate
    weights.clear()
    pure = quick("conv3x3-stack", device="cuda", mode="train", dtype="bf16", per_layer=False, params={"C": "4"},
                 input_shape=(4, 8, 8), precision="pure")
    assert pure.precision == "pure" and set(weights) == {torch.bfloat16}   # the pure mode, by name
    with pytest.raises(UsageError, match="--precision amp"):
        quick(device="cpu", precision="amp")


# -- 9. channels_last and cudnn.benchmark, offered and recorded -------------------------------------------------

def test_channels_last_and_cudnn_benchmark_are_applied_and_recorded(monkeypatch):
    FakeCuda(monkeypatch).install()
    seen = {}
    real_conv = torch.nn.Conv2d.forward

    def spy(self, x):
        seen.setdefault("channels_last", x.is_contiguous(memory_format=torch.channels_last))
        seen.setdefault("benchmark", torch.backends.cudnn.benchmark)
        return real_conv(self, x)

    monkeypatch.setattr(torch.nn.Conv2d, "forward", spy)
    was = torch.backends.cudnn.benchmark
    p = quick("conv3x3-stack", device="cuda", channels_last=True, cudnn_benchmark=not was, params={"C": "4"},
              input_shape=(4, 8, 8))
    assert seen == {"channels_last": True, "benchmark": not was}
    assert p.channels_last and p.cudnn_benchmark is (not was)
    assert torch.backends.cudnn.benchmark is was                    # restored
    d = json.loads(__import__("archstat.report.profile_report", fromlist=["render"]).render([p], "json"))
    assert d["channels_last"] is True and d["cudnn_benchmark"] is (not was)
    assert d["environment"]["cudnn_benchmark"] is (not was)


def test_cli_offers_the_flags(cli, monkeypatch):
    FakeCuda(monkeypatch).install()
    r = cli("profile", "conv3x3-stack", "--device", "cuda", "--set", "C=4", "--input", "4x8x8",
            "--warmup", "0", "--iters", "1", "--channels-last", "--cudnn-benchmark", "--no-tf32",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["channels_last"] and d["cudnn_benchmark"] and d["math"] == {"conv": "fp32", "matmul": "fp32"}
    assert d["tf32"]["source"] == "--no-tf32"
    r = cli("profile", "conv3x3-stack", "--device", "cuda", "--set", "C=4", "--input", "4x8x8",
            "--warmup", "0", "--iters", "1", "--train", "--dtype", "fp16", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["mode"] == "train" and d["precision"] == "amp" and d["dtype"] == "float16"


# -- 10 and issue 23.12. cuDNN/cuBLAS allocation failures are out of memory, with the estimate and a batch that fits

@pytest.mark.parametrize("text", ["cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
                                  "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
                                  "CUDA out of memory. Tried to allocate 2.00 GiB"])
def test_library_alloc_failures_are_out_of_memory(monkeypatch, text):
    small = Gpu("NVIDIA H100 PCIe", 1 << 30, 114, (9, 0))          # a 1 GiB device, to make the arithmetic visible
    FakeCuda(monkeypatch, [small]).install()

    def fail(*a, **kw):
        raise RuntimeError(text)

    monkeypatch.setattr(torch.nn.functional, "conv2d", fail)
    with pytest.raises(RuntimeFailure) as info:
        quick("resnet18", device="cuda", batch=64, per_layer=False)
    message = info.value.message
    stats = archstat.analyze("resnet18", batch=64, fold=False)
    estimate = stats.totals.params * 4 + stats.totals.activation_bytes
    assert message.startswith(f"out of memory at batch 64 on cuda:0 ({text}; archstat's estimate: "
                              f"{estimate / 2**30:.2f} GiB)")
    # the estimate is linear in the batch: 11,689,512 params × 4 bytes fixed, activations per sample
    fixed = 11_689_512 * 4
    per_sample = stats.totals.activation_bytes / 64
    fits = int((0.9 * (1 << 30) - fixed) // per_sample)
    assert 1 <= fits < 64 and f"; batch {fits} fits by estimate (" in message


@pytest.mark.slow
def test_no_numpy_warning_leaks():
    code = textwrap.dedent("""
        import sys
        class NoNumpy:
            def find_spec(self, name, path=None, target=None):
                if name == "numpy" or name.startswith("numpy."):
                    raise ModuleNotFoundError("No module named 'numpy'")
        sys.meta_path.insert(0, NoNumpy())
        sys.argv = ["archstat", "profile", "conv3x3-stack", "--set", "C=4", "--input", "4x8x8", "--warmup", "0",
                    "--iters", "1", "--no-layers", "--format", "json"]
        from archstat.cli import main
        main()
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "NumPy" not in r.stderr and json.loads(r.stdout)["batch"] == 1


# -- 11. the environment, recorded in every profile ---------------------------------------------------------------

def test_environment_is_recorded(monkeypatch):
    FakeCuda(monkeypatch, [H100_PCIE]).install()
    p = quick(device="cuda")
    env = p.environment
    assert env["nvidia_smi"]["driver_version"] == "550.54.15"
    for key in ("clocks.sm", "clocks.max.sm", "power.limit", "mig.mode.current"):
        assert env["nvidia_smi"][key]
    assert env["cuda_runtime"] == "12.4" and env["cudnn"] == 90100 and env["cuda_driver_api"] == 12040
    assert env["device_name"] == "NVIDIA H100 PCIe" and env["device_sms"] == 114
    assert env["compute_capability"] == "9.0" and env["device_uuid"] == H100_PCIE.uuid
    assert env["tf32"]["conv_tf32"] is True and env["cudnn_benchmark"] is False
    assert env["cpu_model"] and env["archstat_version"] == archstat.__version__
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert env["archstat_commit"] == head.stdout.strip()
    d = json.loads(__import__("archstat.report.profile_report", fromlist=["render"]).render([p], "json"))
    assert d["environment"]["nvidia_smi"]["driver_version"] == "550.54.15"
    table = __import__("archstat.report.profile_report", fromlist=["render"]).render([p], "table").text()
    assert "driver 550.54.15 · CUDA 12.4 · cuDNN 90100" in " ".join(table.split())


def test_cpu_profile_records_its_environment():
    p = quick(device="cpu", per_layer=False)
    assert p.environment["cpu_model"] and p.environment["torch"] == torch.__version__
    assert "nvidia_smi" not in p.environment


# -- 12. benchmarks/roofline_cpu.py on CUDA ----------------------------------------------------------------------

def load_roofline_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("roofline_cpu", ROOT / "benchmarks" / "roofline_cpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_roofline_script_explains_gpu_rows_as_gpu_rows():
    script = load_roofline_script()
    from archstat.perf.roofline import RoofRow

    row = RoofRow(name="bn1", label="", op="bn", kind="norm", macs=0, read_bytes=10**6, written_bytes=10**6, compute_s=0.0,
                  memory_s=1e-6, device_s=1e-6, host_s=5e-6, bound="memory")   # launching it: 5× its run
    cpu_why = script.reason(row, 1e-3, 32 * 10**6, "cpu")
    gpu_why = script.reason(row, 1e-3, 50 * 10**6, "cuda")
    assert "descheduled" not in gpu_why and "thread" not in gpu_why
    assert "launch" in gpu_why or "overhead" in gpu_why
    assert cpu_why != gpu_why
    # the cache a GPU row can sit in is the GPU's L2 from its devices entry, not the CPU's
    assert script.cache_size("cuda", "NVIDIA H100 PCIe") == 50 * 10**6


def test_roofline_script_calibration_failure_is_one_line(monkeypatch, capsys):
    script = load_roofline_script()
    import archstat.profile.calibrate as calibrate

    def fail(*a, **kw):
        raise RuntimeFailure("CUDA is not available on this machine (torch was built without CUDA)")

    monkeypatch.setattr(calibrate, "measure", fail)
    monkeypatch.setattr(sys, "argv", ["roofline_cpu.py", "--device", "cuda", "--models", "conv7x7"])
    with pytest.raises(SystemExit) as info:
        script.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: calibration failed: CUDA is not available") and err.count("\n") == 1


# -- 13. the CUDA path of profile end to end in the default suite (the real-GPU test is only a marked extra) ----------

def test_cuda_profile_end_to_end_in_the_default_suite(cli, monkeypatch):
    FakeCuda(monkeypatch).install()
    r = cli("profile", "resnet20", "--device", "cuda", "--batch", "2", "--warmup", "1", "--iters",
            "2", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    stats = archstat.analyze("resnet20", batch=2, fold=False)
    assert d["device"] == "cuda:0" and d["device_entry"]["key"] == "h100"
    assert {x["name"] for x in d["layers"]} == {r.name for r in stats.rows if r.op != "input"}
    assert d["memory"]["measured_peak_bytes"] == (3 << 20) - (1 << 20)   # the fake allocator: peak − base
    assert d["prediction"]["entry"] == "h100" and d["prediction"]["latency_ms"] > 0
    assert d["macs_per_step"] == stats.totals.macs
