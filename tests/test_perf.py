"""The performance model's arithmetic (archstat.perf), each formula pinned with its numbers beside it.

How close the predictions come to real GPUs is not a test: benchmarks/prediction/ replays the public
measurements and writes the figures to benchmarks/prediction/results.md.
"""

import math

import pytest

from archstat.ir.program import BatchMismatch, BatchPair, OpCall, TensorRef, from_rows, to_rows
from archstat.perf import precision
from archstat.perf.cost import KernelCost, attention_seconds, clock_share, l2_hit_bytes, tile_seconds, tiles_of
from archstat.perf.device import DeviceSpec
from archstat.perf.plan import DeviceKernel, Target, gemm_dims, plan
from archstat.perf.predict import coefficients, predict, run_plan
from archstat.perf.schedule import schedule
from archstat.perf.training import optimizer_calls

AMPERE = Target("gpu", "ampere", 8.0)
RTX4090 = DeviceSpec(key="rtx4090", name="RTX 4090", kind="gpu", peaks={"fp32": 82.6e12, "tf32": 82.6e12, "fp16": 165.2e12},
                     bandwidth=1008e9, sms=128, l2_bytes=72e6, arch="ada", compute_capability=8.9)
C = {"gemm_efficiency": 0.8, "tile_intensity": 64.0, "k_overhead": 32.0, "split_k_cost": 0.1}


def t(shape, tid, role="", dtype="float32", layout=""):
    return TensorRef(tuple(shape), dtype, tid, role, layout)


# -- tiles and waves ---------------------------------------------------------------------------------

def test_a_square_gemm_fills_whole_waves():
    # 4096³ fp16 on 128 SMs with 256×128 tiles: 16·32 = 512 tiles = 4 full waves; each tile 2·256·128·4096
    # = 268,435,456 FLOP at 165.2e12 / 128 = 1.290625e12 FLOP/s per SM
    ideal, intensity, k_slice, split, l2 = tiles_of(1, 4096, 4096, 4096, 165.2e12, 128, "fp16")[0]
    assert ideal == pytest.approx(4 * 268_435_456 / 1.290625e12)
    # through the L2: A (4096²) once per 32 columns of tiles, B once per 16 rows, 2 bytes each
    assert l2 == 2 * (4096 * 4096 * 32 + 4096 * 4096 * 16)
    assert ideal == pytest.approx(2 * 4096**3 / 165.2e12)           # no quantisation loss: the peak's time
    assert (intensity, k_slice, split) == (pytest.approx(256 * 128 / 384), 4096, 1)


def test_one_more_row_of_tiles_costs_a_whole_wave():
    # m = 4352: 17·32 = 544 tiles → ⌈544 / 128⌉ = 5 waves, not 4.25
    ideal = tiles_of(1, 4352, 4096, 4096, 165.2e12, 128, "fp16")[0][0]
    assert ideal == pytest.approx(5 * 268_435_456 / 1.290625e12)


def test_tensor_cores_pad_channels_to_eight():
    # n = 3 in fp16 is computed as n = 8 (one 256×128 tile across it either way); fp32 runs it as it is
    fp16 = tiles_of(1, 256, 3, 64, 165.2e12, 128, "fp16")[0]
    assert fp16[2] == 64 and fp16[0] == pytest.approx(2 * 256 * 128 * 64 / 1.290625e12)
    assert tiles_of(1, 256, 3, 60, 82.6e12, 128, "fp32")[0][2] == 60     # K = 60 stays 60 in fp32
    assert tiles_of(1, 256, 3, 60, 165.2e12, 128, "fp16")[0][2] == 64    # … and pads to 64 in fp16


def test_split_k_fills_the_sms_of_a_long_thin_product():
    # 64×64 output, K = 2^20: one 256×128 tile; split-K into min(128 // 1, 2^20 // 256, 16) = 16 slices of 65,536
    ideal, _, k_slice, split, l2 = tiles_of(1, 64, 64, 1 << 20, 165.2e12, 128, "fp16")[0]
    assert (split, k_slice) == (16, 65_536)
    assert ideal == pytest.approx(2 * 256 * 128 * 65_536 / 1.290625e12)   # one wave of 16 CTAs
    # the one tile reads A (64 × 2^20) once and B (2^20 × 64) once, 2 bytes each
    assert l2 == 2 * (64 * (1 << 20) * 1 + (1 << 20) * 64 * 1)


def test_tile_efficiency():
    # 0.8 × min(1, 85.33 / 64) × 4096 / (4096 + 32) = 0.8 × 0.992248…; split-K adds 10 %
    assert tile_seconds(1.0, 256 * 128 / 384, 4096, 1, C) == pytest.approx(1 / (0.8 * 4096 / 4128))
    # a 64×64 tile: intensity 32, half the 64 that feeds the tensor cores: half the efficiency
    assert tile_seconds(1.0, 32.0, 4096, 1, C) == pytest.approx(1 / (0.8 * 0.5 * 4096 / 4128))
    assert tile_seconds(1.0, 85.4, 4096, 2, C) == pytest.approx(1.1 / (0.8 * 4096 / 4128))


def test_attention_efficiency_grows_with_the_head_dim():
    c = {"attention_efficiency": 0.6, "efficient_attention_efficiency": 0.3, "attention_head_overhead": 16.0}
    assert attention_seconds(1.0, 64, True, c) == pytest.approx(1 / (0.6 * 64 / 80))
    assert attention_seconds(1.0, 64, False, c) == pytest.approx(1 / (0.3 * 64 / 80))


def test_the_l2_keeps_the_last_bytes_written():
    c = {"l2_fraction": 0.5}                             # 36 MB of a 72 MB L2 behaves as an LRU cache
    assert l2_hit_bytes(10e6, 20e6, 72e6, c) == 10e6     # written 20 MB of traffic ago: all of it is in
    assert l2_hit_bytes(10e6, 30e6, 72e6, c) == 6e6      # 36 − 30: its last 6 MB survive
    assert l2_hit_bytes(10e6, 40e6, 72e6, c) == 0.0      # evicted
    assert l2_hit_bytes(40e6, 0.0, 72e6, c) == 36e6      # larger than the room: the room's worth


def test_a_power_limit_holds_the_clock_where_the_energy_fits():
    # 1 s of core-bound work, 0.5 s else; 300 J of arithmetic at the boost clock, 50 J of DRAM traffic, 50 W
    # static, 40 W of busy SMs: at boost 50 + 40 + 350 / 1.5 = 323 W fits a 330 W limit, not a 200 W one
    assert clock_share(1.0, 0.5, 300.0, 50.0, 50.0, 40.0, 330.0, 0.5) == 1.0
    s = clock_share(1.0, 0.5, 300.0, 50.0, 50.0, 40.0, 200.0, 0.5)
    # at share s: 50 + 40 s³ + (300 s² + 50) / (1 / s + 0.5) = 200
    assert 50 + 40 * s**3 + (300 * s * s + 50) / (1 / s + 0.5) == pytest.approx(200, rel=1e-6) and 0.5 < s < 1.0
    assert clock_share(1.0, 0.5, 300.0, 50.0, 50.0, 40.0, 60.0, 0.5) == pytest.approx(0.5)   # never below base


# -- the schedule: host and device overlap ------------------------------------------------------------

def _cost(host, device):
    return KernelCost(kernel=DeviceKernel(kind="memory", sub="pointwise", ops=("relu",), rows=("r",)), compute_s=0.0,
                      memory_s=device, kernel_s=0.0, device_s=device, host_s=host)


def test_a_host_bound_program_waits_for_launches():
    # launches at 10, 20, 30 µs; each kernel runs 1 µs after its launch: the last ends at 31 µs
    s = schedule([_cost(10e-6, 1e-6)] * 3)
    assert s.latency_s == pytest.approx(31e-6) and s.host_bound and s.idle_s == pytest.approx(28e-6)


def test_a_device_bound_program_hides_its_launches():
    # launches at 1, 2, 3 µs; the device runs back to back from 1 µs: 1 + 3 × 10 = 31 µs
    s = schedule([_cost(1e-6, 10e-6)] * 3)
    assert s.latency_s == pytest.approx(31e-6) and not s.host_bound and s.idle_s == pytest.approx(1e-6)


def test_on_a_cpu_host_and_compute_add_up():
    assert schedule([_cost(1e-6, 10e-6)] * 3, overlap=False).latency_s == pytest.approx(33e-6)


# -- precision: autocast as PyTorch runs it ---------------------------------------------------------

def _ln_linear():
    x, ln_w, ln_b, y = t((8, 16), 1), t((16,), 2, "param"), t((16,), 3, "param"), t((8, 16), 4)
    w, b, z, z2 = t((16, 32), 5, "param"), t((32,), 6, "param"), t((8, 32), 7), t((8, 32), 8)
    return [OpCall("native_layer_norm", "ln", (x, ln_w, ln_b), (y,)),
            OpCall("addmm", "fc1", (b, y, w), (z,), macs=8 * 16 * 32),
            OpCall("addmm", "fc2", (b, y, w), (z2,), macs=8 * 16 * 32)]


def test_autocast_casts_the_inputs_of_a_lower_precision_op():
    run = precision.apply(_ln_linear(), precision.Precision("float32", "float16"))
    ops = [(k.op, k.row) for k in run]
    # layer norm stays fp32; fc1 casts its bias, its fp32 input and its weight; fc2 reuses the weights'
    # casts (autocast's cache) but casts the activation again
    assert ops == [("native_layer_norm", "ln"), ("_to_copy", "fc1"), ("_to_copy", "fc1"), ("_to_copy", "fc1"),
                   ("addmm", "fc1"), ("_to_copy", "fc2"), ("addmm", "fc2")]
    assert run[0].outputs[0].dtype == "float32" and run[4].outputs[0].dtype == "float16"
    activation_cast = run[2]
    assert activation_cast.read_bytes == 8 * 16 * 4 and activation_cast.written_bytes == 8 * 16 * 2


def test_batch_norm_keeps_the_half_input_and_a_residual_add_promotes():
    x, w = t((2, 8, 4, 4), 1), t((8, 8, 1, 1), 2, "param")
    y, bn = t((2, 8, 4, 4), 3), t((2, 8, 4, 4), 4)
    ps = [t((8,), i, "param") for i in (5, 6)] + [t((8,), i, "buffer") for i in (7, 8)]
    pos, out = t((1, 8, 4, 4), 9, "param"), t((2, 8, 4, 4), 10)
    run = precision.apply([OpCall("convolution", "c", (x, w), (y,), macs=1),
                           OpCall("native_batch_norm", "bn", (y, *ps), (bn,)),
                           OpCall("add", "pos", (bn, pos), (out,))], precision.Precision("float32", "bfloat16"))
    by_op = {k.op: k for k in run}
    assert by_op["native_batch_norm"].outputs[0].dtype == "bfloat16"
    assert by_op["add"].outputs[0].dtype == "float32"        # bf16 + an fp32 parameter: fp32, as in PyTorch


def test_a_cached_weight_cast_is_read_through_each_ops_own_view():
    # nn.Linear(16 → 32) in a training step: the forward reads w (32×16) as its transposed view w.t()
    # (16×32, same storage), the backward's grad_input = grad_out @ w reads w as it is
    x, w, wt = t((8, 16), 1), t((32, 16), 2, "param"), t((16, 32), 2, "param")
    b, z, gz, gx = t((32,), 3, "param"), t((8, 32), 4), t((8, 32), 5), t((8, 16), 6)
    run = precision.apply([OpCall("t", "fc", (w,), (wt,), view=True),
                           OpCall("addmm", "fc", (b, x, wt), (z,), macs=8 * 16 * 32),
                           OpCall("mm", "fc", (gz, w), (gx,), macs=8 * 32 * 16, phase="backward")],
                          precision.Precision("float32", "float16"))
    forward, backward = (k for k in run if k.op in ("addmm", "mm"))
    weight = backward.inputs[1]
    # the backward reads the forward's half copy (its storage, fp16) in its own 32×16 shape: 8×32 @ 32×16
    assert weight.id == forward.inputs[2].id and weight.dtype == "float16" and weight.shape == (32, 16)
    assert gemm_dims(backward) == (1, 8, 16, 32, 1) and gemm_dims(forward) == (1, 8, 32, 16, 1)
    assert weight.nbytes == 32 * 16 * 2


# -- the runtimes' rules ------------------------------------------------------------------------------

def _block(dtype="float16"):
    """conv → batch norm → relu_ → + residual, on 2×16×8×8 fp16 NCHW tensors (4,096 bytes each)."""
    x, w = t((2, 16, 8, 8), 1, dtype=dtype), t((16, 16, 3, 3), 2, "param", dtype)
    y, z, res, out = (t((2, 16, 8, 8), i, dtype=dtype) for i in (3, 4, 5, 6))
    ps = [t((16,), i, "param") for i in (7, 8)] + [t((16,), i, "buffer") for i in (9, 10)]
    return [OpCall("convolution", "conv", (x, w), (y,), macs=2 * 8 * 8 * 16 * 16 * 9, attrs={"groups": 1}),
            OpCall("native_batch_norm", "bn", (y, *ps), (z,), attrs={"training": False}),
            OpCall("relu_", "relu", (z,), (z,), inplace=True, attrs={"pointwise": True}),
            OpCall("add", "add", (z, res), (out,), attrs={"pointwise": True})]


def test_eager_runs_every_op_and_transposes_nchw_for_the_tensor_cores():
    p = plan(_block(), "eager", AMPERE)
    assert [(s.kind, s.sub) for s in p.kernels] == [("memory", "transpose"), ("conv", ""), ("memory", "transpose"),
                                                  ("memory", "norm"), ("memory", "pointwise"), ("memory", "pointwise")]
    relu = p.kernels[4]
    assert relu.read == relu.written == 4096                    # in place: reads and writes its tensor
    assert plan(_block(), "eager", AMPERE, channels_last=True).kernels[0].kind == "conv"   # NHWC: no transposes


def test_compile_fuses_the_chain_after_the_convolution():
    p = plan(_block(), "compile", AMPERE)
    conv, fused = p.kernels
    assert conv.kind == "conv" and fused.ops == ("native_batch_norm", "relu_", "add")
    # it reads the conv's output, the residual and the norm's 4 × 16 fp32 figures once; writes the sum once
    assert fused.read == 4096 + 4096 + 4 * 16 * 4 and fused.written == 4096


def test_an_engine_folds_the_norm_and_runs_the_rest_in_the_epilogue():
    p = plan(_block(), "engine", AMPERE)
    (conv,) = p.kernels
    assert conv.ops == ("convolution", "native_batch_norm", "relu_", "add")
    # x (4,096 B) + weights (16·16·9·2 = 4,608 B) + the residual (4,096 B); only the sum is written
    assert conv.read == 4096 + 4608 + 4096 and conv.written == 4096
    int8 = plan(_block(), "engine", AMPERE, int8=True).kernels[0]
    assert (int8.math, int8.read, int8.written) == ("int8", (4096 + 4608 + 4096) // 2, 2048)


def test_fused_attention_moves_only_its_inputs_and_output():
    torch = pytest.importorskip("torch")
    from archstat.trace.analyze import analyze_module
    from tests.fixtures import nets

    del torch
    kernels = analyze_module(nets.vit_sdpa(), (3, 32, 32), batch=2).op_calls
    run = precision.apply(kernels, precision.Precision("float16"))
    fused = [s for s in plan(run, "eager", AMPERE).kernels if s.kind == "attention"]
    # 2 images × 4 heads × 17 tokens × 8 dims, fp16: q, k, v read (3 × 2,176 B), the output written
    assert len(fused) == 2 and fused[0].read == 3 * 2 * 4 * 17 * 8 * 2 and fused[0].written == 2 * 4 * 17 * 8 * 2
    math_path = plan(run, "eager", AMPERE, sdpa="math").kernels
    scores = [s for s in math_path if s.kind == "gemm" and s.written == 2 * 4 * 17 * 17 * 2]
    assert len(scores) == 2                                     # the math path writes the 17×17 scores


# -- kernels at any batch ---------------------------------------------------------------------------

def test_two_batches_give_every_batch():
    def prog(b):
        x, y = t((b, 12, 197, 64), 1), t((b * 12, 197, 197), 2)
        return [OpCall("bmm", "a", (x,), (y,), macs=b * 12 * 197 * 197 * 64)]
    pair = BatchPair(prog(2), prog(3), 2, 3)
    k = pair.at(256)[0]
    assert k.outputs[0].shape == (256 * 12, 197, 197) and k.macs == 256 * 12 * 197 * 197 * 64
    assert pair.batch_dims() == [(0, 0)]
    with pytest.raises(BatchMismatch):
        BatchPair(prog(2), prog(2)[:0], 2, 3)
    assert from_rows(to_rows(prog(2)))[0].outputs[0].shape == (24, 197, 197)


# -- training -------------------------------------------------------------------------------------------

def test_a_training_step_traces_the_backward_and_writes_the_update():
    pytest.importorskip("torch")
    from archstat.trace.analyze import analyze_module
    from tests.fixtures.user_net import make

    stats = analyze_module(make(), (3, 32, 32), batch=2, mode="train", backward=True)
    backward = [k for k in stats.op_calls if k.phase == "backward" and k.op == "convolution_backward"]
    assert len(backward) == 2                                    # the module's conv and the functional one
    p = run_plan(stats.op_calls, RTX4090, dtype="fp32", optimizer="sgd", foreach=False)
    conv = [s for s in p.kernels if s.kind == "conv" and s.phase == "backward"]
    forward_macs = {k.row: k.macs for k in stats.op_calls if k.op == "convolution" and k.phase == "forward"}
    # the first conv needs no input gradient: its weight gradient only; the second has both, each as many
    # MACs as its forward
    assert sorted(s.macs for s in conv) == sorted([forward_macs["conv"]] + [forward_macs["convolution1"]] * 2)
    params = [k for k in stats.op_calls if k.phase == "forward"]
    updates = [s for s in p.kernels if s.phase == "optimizer"]
    n_params = len({x.id for k in params for x in k.inputs if x.role == "param"})
    assert len(updates) == 4 * n_params                         # SGD with momentum, one kernel per tensor each
    assert len(optimizer_calls(stats.op_calls, "sgd", foreach=True)) == 4   # multi-tensor: 4 launches


# -- the whole prediction ----------------------------------------------------------------------------

def test_the_fit_evaluates_exactly_what_a_prediction_runs():
    np = pytest.importorskip("numpy")
    import archstat
    from archstat.perf.device import set_name, spec
    from archstat.perf.recipes import graph_calls
    from archstat.perf.vectorized import Batch

    del np
    c = coefficients()
    cases = [("resnet50", "rtx4090", "eager", 64), ("vit_b_16", "rtx4090", "compile", 8),
             ("resnet50", "l4", "engine", 32), ("vit_b_16", "h100-pcie", "eager", 64),
             ("efficientnet_b0", "i9-10940x", "compile", 1)]
    batches: dict = {}
    expected: dict = {}
    shares = []
    for model, device, runtime, b in cases:
        d = spec(device)
        kernels = graph_calls(archstat.load(model), b)
        amp = d.kind == "gpu" and runtime != "engine"
        dtype = "int8" if runtime == "engine" else "fp16" if amp else "fp32"
        p = predict(kernels, d, batch=b, runtime=runtime, dtype=dtype, amp=amp)
        name = set_name(c, d)[0]
        batches.setdefault(name, Batch(d.kind, name)).add(p.plan, d)
        expected.setdefault(name, []).append(p.latency_s)
        shares.append(p.clock_share)
    assert min(shares) < 1.0     # a power limit held some run below its boost clock: that path is checked too
    for kind, batch in batches.items():
        assert list(batch.latencies(c)) == pytest.approx(expected[kind], rel=1e-9)


def test_costs_of_a_plan_are_positive_and_bounded_by_the_device():
    import archstat
    from archstat.perf.recipes import graph_calls

    kernels = graph_calls(archstat.load("resnet50"), 64)
    p = predict(kernels, RTX4090, batch=64, dtype="fp16", amp=True)
    for c in p.costs:
        if c.kernel.kind == "host":
            continue
        assert c.device_s > 0
        if c.kernel.macs:     # nothing runs faster than the dense peak
            assert 2 * c.kernel.macs / c.device_s <= RTX4090.peak(c.kernel.math)
    assert math.isclose(p.throughput, 64 / p.latency_s)


# -- a config's operators without torch equal its built module's ---------------------------------------

def _zoo():
    import os

    from tests.conftest import ROOT

    names = sorted(f[:-5] for f in os.listdir(ROOT / "configs") if f.endswith(".yaml"))
    # the two 1000-layer nets repeat the blocks of resnet110 and preact-resnet164, which run here
    return [n for n in names if n not in ("resnet1202", "preact-resnet1001")]


@pytest.mark.slow
@pytest.mark.parametrize("name", _zoo())
def test_config_recipes_equal_the_traced_module(name):
    pytest.importorskip("torch")
    import archstat
    from archstat.perf.recipes import graph_calls
    from archstat.trace.analyze import analyze_module

    def sig(k):
        return (k.op, k.row.split("#")[0], tuple((x.shape, x.role, x.layout == "channels_last", x.nbytes)
                                                 for x in k.inputs),
                tuple(x.shape for x in k.outputs), k.macs, k.view)

    graph = archstat.load(name)
    ours = [sig(k) for k in graph_calls(graph, 2)]
    traced = analyze_module(archstat.build(name, device="meta"), graph.input_shape, batch=2, fold=False).op_calls
    assert ours == [sig(k) for k in traced if k.part_of < 0]
