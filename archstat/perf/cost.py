"""What each kernel of a plan costs on a device: device time (physics, with fitted efficiencies) and host time.

Device time of a kernel is ``max(compute / s, dram + l2 / s) + kernel_s`` where ``s`` is the share of the
boost clock the part sustains (below), and

- **compute** of a matrix kernel (GEMM, implicit-GEMM convolution, fused attention) comes from tiles and
  waves: the output is cut into CTA tiles (the best of a few sizes, as cuBLAS and cuDNN choose), the
  tiles run in waves of one per SM, so a GEMM that fills 1.1 waves costs 2; each tile runs at the
  dtype's dense peak per SM times the tile's efficiency (large tiles reach ``gemm_efficiency``; small
  ones are bound by their operand traffic from shared memory: ``min(1, tile intensity / tile_intensity)``)
  and a short K pays its prologue (``K / (K + k_overhead)``); a tile also re-reads its operands through
  the L2 (each A row block once per column of tiles, each B column block once per row of tiles), at
  the L2's bandwidth. Tensor cores need channels in multiples of 8 (fp16/bf16), 4 (tf32) or 16 (int8):
  other sizes are padded up. Split-K fills the SMs for long, thin products. A k×k convolution reaches
  ``conv_efficiency`` of a GEMM, a grouped one ``grouped_efficiency``; a depthwise convolution runs on
  the CUDA cores (``depthwise_compute_efficiency`` of the fp32 peak), and so does any convolution whose
  direct kernel beats the tensor cores: cuDNN benchmarks its algorithms and runs the fastest. Flash
  attention runs blocks of 128 queries per CTA at ``attention_efficiency`` × ``E / (E + attention_head_overhead)``.
- **memory**: what a kernel reads of a tensor a recent kernel wrote is still in the L2 as far as a
  least-recently-used cache of ``l2_fraction`` of the L2 keeps it (the last bytes written survive: of a
  tensor of n bytes with d bytes of traffic since, ``clamp(room − d, 0, n)``); those bytes come at the L2's
  bandwidth (``l2_bytes_per_clock`` × SMs × clock), the rest from DRAM at ``bandwidth × efficiency`` of
  the kernel's kind (pointwise, reduction, transpose, gather, …; every efficiency ≤ 1).
- **kernel_s** is the fixed time of the smallest kernel on the device (launch latency, ramp and tail).

**The clock a power limit lets the part hold.** A program draws ``static_share × power_w`` whatever it
runs, its SMs ``busy_power_w × SMs × (clock in GHz)³`` while it runs (power follows f·V², the voltage the
clock), plus the energy of its arithmetic (``energy_tensor_pj`` per fp16/bf16 tensor FLOP, twice that for
TF32, ``energy_int8_share`` of it for int8/fp8, ``energy_fp32_pj`` per CUDA-core FLOP) and of its DRAM
traffic (``energy_byte_hbm_pj`` or ``energy_byte_gddr_pj`` per byte) over its device time. Where that
power exceeds ``power_w`` at the boost clock, the clock drops to the share ``s`` at which it does not: the
work that runs on the core clock (arithmetic, L2 traffic) takes ``1/s`` longer and its energy per
operation falls as ``s²`` (the voltage follows the clock), DRAM traffic keeps its pace. ``s`` never falls
below the vendor's base clock (half the boost where none is stated). So a compute-bound kernel on a power-
capped part runs at the clock it can hold, and two parts of one chip at different power limits differ by
exactly this.

Host time is the framework's time to launch a kernel: the sum of its operators' host costs by class
(``host.<kind>.<runtime>``: view, pointwise, norm, conv, gemm, attention, …); none where the runtime
launches one graph for the whole program (an engine's CUDA graph).

The coefficients are data (``archstat/data/perf.yaml``, declared with their physical ranges in
``perf/coefficients.py``), refitted by ``benchmarks/prediction/fit.py``, one set per architecture
generation. The formulas below are written once for numbers and for arrays (``xp``: this module's
scalar helpers, or numpy in the fit), so the fit evaluates exactly what a prediction runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

from archstat.ir.aten import Kind, Sub
from archstat.perf.device import DeviceSpec, coefficient_set
from archstat.perf.plan import DeviceKernel, Plan, align_of
from archstat.perf.runtime import record

# CTA tiles a GEMM library chooses among (the 16-row ones: a product of a few rows, a decode step's)
TILES = ((256, 128), (128, 256), (128, 128), (128, 64), (64, 128), (64, 64), (64, 32), (32, 64), (16, 128),
         (16, 64))
SPLIT_K_MIN = 256           # the shortest K slice split-K makes
ATTENTION_BLOCK = 128       # queries per CTA of a fused attention kernel (fewer queries: a multiple of 16)
ATTENTION_SPLIT_KEYS = 256  # the fewest keys a split-KV (flash-decoding) CTA takes
POWER_STEPS = 30            # bisection steps of the sustained clock (2^-30 of the range)


class Scalar:
    """The array helpers the formulas use, for plain numbers."""

    minimum = staticmethod(min)
    maximum = staticmethod(max)

    @staticmethod
    def where(cond, a, b):
        return a if cond else b

    @staticmethod
    def clip(x, lo, hi):
        return min(max(x, lo), hi)


# -- the formulas (numbers or arrays) ----------------------------------------------------------------

def tile_seconds(ideal_s, intensity, k_slice, split, c: dict, xp=Scalar):
    """A tiled product's arithmetic time from its ideal time at the full per-SM peak (waves included)."""
    eff = c["gemm_efficiency"] * xp.minimum(1.0, intensity / c["tile_intensity"]) * k_slice / (
        k_slice + c["k_overhead"])
    return ideal_s / eff * (1.0 + c["split_k_cost"] * (split > 1))


def conv_factor(taps, groups, c: dict, xp=Scalar):
    """A convolution's efficiency against a GEMM of its implicit-GEMM shape."""
    return xp.where(taps > 1, c["conv_efficiency"], 1.0) * xp.where(groups > 1, c["grouped_efficiency"], 1.0)


def attention_seconds(ideal_s, head_dim, flash, c: dict, xp=Scalar):
    eff = xp.where(flash, c["attention_efficiency"], c["efficient_attention_efficiency"])
    return ideal_s / (eff * head_dim / (head_dim + c["attention_head_overhead"]))


def l2_hit_bytes(size, distance, l2_bytes, c: dict, xp=Scalar):
    """Of a read of ``size`` bytes written ``distance`` bytes of traffic ago, the bytes still in the L2."""
    return xp.clip(c["l2_fraction"] * l2_bytes - distance, 0.0, size)


def l2_bandwidth(sms, clock_mhz, c: dict):
    """Bytes/s the L2 serves at the boost clock."""
    return c["l2_bytes_per_clock"] * sms * clock_mhz * 1e6


def dram_seconds(dram_bytes, bandwidth, efficiency):
    return dram_bytes / (bandwidth * efficiency)


def math_energy_pj(math_class, c: dict, xp=Scalar):
    """pJ per FLOP at the boost clock and the full fp16 tensor rate of a kernel's arithmetic (scaled by
    ``energy_scale`` to its own rate): 0 fp32 (CUDA cores), 1 fp16/bf16/tf32 tensor, 3 int8/fp8 tensor,
    -1 none."""
    tensor = c["energy_tensor_pj"]
    return xp.where(math_class == 0, c["energy_fp32_pj"],
                    xp.where((math_class == 1) | (math_class == 2), tensor,
                             xp.where(math_class == 3, tensor * c["energy_int8_share"], 0.0)))


def busy_power(sms, clock_mhz, c: dict):
    """Watts the part's SMs draw busy at the boost clock, whatever they compute."""
    ghz = clock_mhz / 1000.0
    return c["busy_power_w"] * sms * ghz * ghz * ghz


def energy_scale(math: str, device: DeviceSpec) -> float:
    """A tensor-core operation at another rate than the part's full fp16 rate keeps the tensor cores busy
    that much longer (TF32, FP32 accumulation on GeForce) or shorter (int8, fp8, fp4): the energy per
    operation scales by full fp16 rate ÷ its rate. CUDA-core arithmetic: 1."""
    if MATH_CLASS.get(math, 0) == 0 or not device.tensor_flops:
        return 1.0
    rate = device.peak(math) or device.tensor_flops
    return device.tensor_flops / rate


def byte_energy_pj(memory: str, c: dict) -> float:
    """pJ per DRAM byte of the part's memory technology (LPDDR and DDR as GDDR)."""
    return c["energy_byte_hbm_pj"] if memory == "hbm" else c["energy_byte_gddr_pj"]


MATH_CLASS = {"fp32": 0, "fp16": 1, "bf16": 1, "tf32": 2, "int8": 3, "fp8": 3}


def clock_share(core_s, other_s, flop_j, byte_j, static_w, busy_w, power_w, s_min, xp=Scalar):
    """The share of the boost clock a program sustains under ``power_w`` (1 where it fits at boost).

    At share ``s`` the program takes ``core_s / s + other_s`` (its core-clock-bound kernels stretch; its
    DRAM-bound ones and launches do not) and draws ``static_w + busy_w · s³ + (flop_j · s² + byte_j) /
    time``: the largest ``s`` in [``s_min``, 1] where that is at most ``power_w``, by bisection (power
    rises with s)."""
    def power(x):
        return static_w + busy_w * x * x * x + (flop_j * x * x + byte_j) / (core_s / x + other_s)

    lo = s_min + 0.0 * core_s
    hi = 1.0 + 0.0 * core_s
    fits = power(hi) <= power_w
    for _ in range(POWER_STEPS):
        mid = (lo + hi) / 2
        ok = power(mid) <= power_w
        lo = xp.where(ok, mid, lo)
        hi = xp.where(ok, hi, mid)
    return xp.where(fits, 1.0, lo)


# -- what a kernel needs, independent of the coefficients -----------------------------------------------

def _pad(n: int, to: int) -> int:
    return -(-n // to) * to if to > 1 else n


_ELEMENT = {"fp16": 2, "bf16": 2, "tf32": 4, "fp32": 4, "int8": 1, "fp8": 1}


def tiles_of(count: int, m: int, n: int, k: int, peak: float, sms: int, math_: str):
    """[(ideal seconds, tile intensity, K per slice, split, L2 bytes), …] of every tile size for ``count``
    products of (m×k)·(k×n) at ``peak`` FLOP/s on ``sms`` SMs (channels padded for the tensor cores): the
    L2 bytes are the operands as the tiles read them (A once per column of tiles, B once per row)."""
    align = align_of(math_)
    n, k = _pad(n, align), _pad(k, align)
    element = _ELEMENT.get(math_, 4)
    per_sm = peak / max(1, sms)
    out = []
    for tm, tn in TILES:
        rows, cols = -(-m // tm), -(-n // tn)
        tiles = count * rows * cols
        split = 1
        if tiles < sms and k >= 4 * SPLIT_K_MIN:
            split = max(1, min(sms // tiles, k // SPLIT_K_MIN, 16))
        kk = -(-k // split)
        waves = -(-tiles * split // sms)        # an SM runs its share of the tiles one after another
        l2 = float(count * (m * k * cols + k * n * rows) * element)
        out.append((waves * 2.0 * tm * tn * kk / per_sm, tm * tn / (tm + tn), kk, split, l2))
    return out


@dataclass
class Features:
    """One kernel's coefficient-free figures: what the formulas need."""

    kernel: DeviceKernel
    tiles: list = field(default_factory=list)        # matrix kernels: tiles_of(...)
    attention: Optional[tuple[float, int, bool]] = None   # (ideal seconds, head dim, flash)
    cuda_core_s: float = 0.0                         # depthwise: FLOP / fp32 peak
    reads: list = field(default_factory=list)        # (bytes, bytes moved since it was written) per input
    efficiency_key: str = "other"                    # which bandwidth_efficiency applies
    math_class: int = -1                             # the energy class of its arithmetic (MATH_CLASS)


# which bandwidth efficiency (perf.yaml ``bandwidth_efficiency``) a kernel's memory traffic runs at
EFFICIENCY_KEYS = ("pointwise", "cast", "fill", "reduction", "norm", "softmax", "pool", "copy", "transpose",
                   "gather", "fused", "other", "matrix", "depthwise")


def efficiency_key(s: DeviceKernel) -> str:
    """A matrix kernel's traffic runs at the ``matrix`` efficiency, a depthwise one at ``depthwise``'s,
    a memory kernel at its sub-kind's."""
    if s.kind in (Kind.CONV, Kind.GEMM, Kind.ATTENTION):
        return "matrix"
    if s.kind == Kind.DEPTHWISE:
        return "depthwise"
    return str(s.sub) or "other"


def attention_ideal(s: DeviceKernel, peak: float, sms: int) -> float:
    """A fused attention kernel's time at the full per-SM peak: CTAs of ``block`` queries (128, or the
    queries rounded up to 16 when fewer) over all the keys, in waves over the SMs; when the CTAs do not
    fill the SMs (a decode step: one query per sequence), the keys are split among several CTAs (split-KV,
    as flash-decoding runs); a causal mask skips the key blocks above the diagonal."""
    bh, l, sk, e, ev = s.dims
    block = min(ATTENTION_BLOCK, max(16, -(-l // 16) * 16))
    ctas = bh * -(-l // block)
    split = 1
    if ctas < sms and sk >= 2 * ATTENTION_SPLIT_KEYS:
        split = max(1, min(-(-sms // ctas), sk // ATTENTION_SPLIT_KEYS))
    keys = -(-sk // split)
    waves = -(-(ctas * split) // max(1, sms))
    ideal = waves * 2.0 * block * keys * (e + ev) / (peak / max(1, sms))
    blocks = -(-l // block)
    if s.causal and l == sk and blocks > 1:
        ideal *= (blocks + 1) / (2 * blocks)        # of n × n blocks, the n(n + 1)/2 on and below the diagonal
    return ideal


def _compute_features(f: Features, s: DeviceKernel, device: DeviceSpec) -> None:
    """A matrix kernel's tiles, a fused attention's ideal time, a depthwise (or direct) convolution's
    time on the CUDA cores at the fp32 peak."""
    peak = device.peak(s.math) or device.peak("fp32") or 0.0
    if s.kind in (Kind.CONV, Kind.GEMM) and peak and s.macs > 0 and s.dims:
        groups, m, n, k, _ = s.dims
        f.tiles = tiles_of(groups, m, n, k, peak, device.sms, s.math)
        if s.kind == Kind.CONV:     # a direct kernel on the CUDA cores, where it beats the tensor cores
            f.cuda_core_s = 2.0 * s.macs / (device.peak("fp32") or peak)
    elif s.kind == Kind.ATTENTION and peak and s.macs > 0:
        f.attention = (attention_ideal(s, peak, device.sms), s.dims[3], s.backend != "efficient")
    elif s.kind == Kind.DEPTHWISE and s.macs > 0:
        f.cuda_core_s = 2.0 * s.macs / (device.peak("fp32") or peak or 1.0)
    if s.macs > 0:
        f.math_class = 0 if s.kind == Kind.DEPTHWISE else MATH_CLASS.get(s.math, 0)


def features(plan: Plan, device: DeviceSpec) -> list[Features]:
    """The coefficient-free figures of every kernel of ``plan`` on ``device``."""
    out = []
    moved = 0
    written_at: dict[int, int] = {}
    for s in plan.kernels:
        f = Features(s)
        out.append(f)
        if s.kind == Kind.HOST:
            continue
        f.efficiency_key = efficiency_key(s)
        _compute_features(f, s, device)
        seen = 0
        for t, n in s.inputs:
            if t in written_at and seen + n <= s.read:
                f.reads.append((n, moved - written_at[t]))
                seen += n
        moved += s.read + s.written
        for t, _ in s.outputs:
            written_at[t] = moved
    return out


@dataclass(kw_only=True)
class KernelCost:
    kernel: DeviceKernel
    compute_s: float                 # its arithmetic (and in-kernel L2 traffic) at the sustained clock
    memory_s: float                  # its DRAM traffic, plus what it reads from the L2 at the sustained clock
    kernel_s: float
    device_s: float
    host_s: float
    cached_bytes: int = 0            # bytes read from the L2 instead of DRAM
    efficiency: float = 0.0          # share of the peak its compute reaches (matrix kernels)

    @property
    def bound(self) -> str:
        if self.kernel.kind == Kind.HOST:
            return "host"
        return "compute" if self.compute_s >= self.memory_s else "memory"


def host_seconds(kernel: DeviceKernel, host: dict) -> float:
    return sum(host.get(h, host.get("pointwise", 0.0)) for h in kernel.host_ops)


@dataclass
class _AtBoost:
    """One kernel's times at the boost clock, split by what scales with the core clock."""

    compute: float
    l2: float
    dram: float
    dram_bytes: float
    cached: float
    flops: float                     # × energy_scale: the FLOPs at the full fp16 tensor rate's energy
    math_class: int


def _at_boost(f: Features, device: DeviceSpec, c: dict, l2_bw: float, transpose_share: float) -> _AtBoost:
    s = f.kernel
    cached = min(s.read, sum(l2_hit_bytes(n, d, device.l2_bytes, c) for n, d in f.reads))
    eff = c["bandwidth_efficiency"].get(f.efficiency_key, c["bandwidth_efficiency"]["other"])
    dram_bytes = float(s.read - cached + s.written)
    l2 = cached / l2_bw if l2_bw else 0.0
    if s.sub == Sub.TRANSPOSE:
        dram_bytes *= transpose_share
        l2 *= transpose_share
    dram = dram_seconds(dram_bytes, device.bandwidth, eff)
    compute = 0.0
    if f.tiles:
        compute = min(max(tile_seconds(t, i, kk, sp, c), (l2b / l2_bw if l2_bw else 0.0))
                      for t, i, kk, sp, l2b in f.tiles)
        if s.kind == Kind.CONV:   # cuDNN runs the fastest of its algorithms (cudnn.benchmark)
            compute = min(compute / conv_factor(s.dims[4], s.dims[0], c),
                          f.cuda_core_s / c["depthwise_compute_efficiency"])
    elif f.attention is not None:
        compute = attention_seconds(*f.attention, c)
    elif f.cuda_core_s:
        compute = f.cuda_core_s / c["depthwise_compute_efficiency"]
    scale = energy_scale(s.math, device) if f.math_class > 0 else 1.0
    return _AtBoost(compute, l2, dram, dram_bytes, cached, float(s.flops) * scale, f.math_class)


def sustained_clock(boost: list[_AtBoost], device: DeviceSpec, c: dict,
                    weights: Optional[list[float]] = None) -> float:
    """The share of the boost clock ``device`` holds over the program (``clock_share``); 1 without a
    power limit (a CPU, a part whose entry states none). ``weights``: how many times each kernel runs in
    the whole program (a program written with one layer standing for several: the llm's sampled layers)."""
    if device.kind != "gpu" or not device.power_w:
        return 1.0
    w = weights or [1.0] * len(boost)
    core = other = flop_j = byte_bytes = 0.0
    for b, n in zip(boost, w):
        if b.compute >= b.dram + b.l2:
            core += n * b.compute
        else:
            core += n * b.l2
            other += n * b.dram
        other += n * c["kernel_s"]
        flop_j += n * b.flops * math_energy_pj(b.math_class, c) * 1e-12
        byte_bytes += n * b.dram_bytes
    byte_j = byte_bytes * byte_energy_pj(device.memory, c) * 1e-12
    if core + other <= 0:
        return 1.0
    return clock_share(max(core, 1e-30), other, flop_j, byte_j, c["static_share"] * device.power_w,
                       busy_power(device.sms, device.clock_mhz, c), device.power_w, device.min_clock_share)


def costs(plan: Plan, device: DeviceSpec, coefficients: dict,
          repeats: Optional[Callable[[DeviceKernel], float]] = None) -> tuple[list[KernelCost], float]:
    """The cost of every kernel of ``plan`` on ``device``, and the share of the boost clock it ran at.
    ``repeats``: how many times a kernel runs in the whole program when ``plan`` writes a repeated part
    once (the power limit's clock is the whole program's); None: each once."""
    c = coefficient_set(coefficients, device)
    rt = record(plan.runtime)
    table = coefficients["host"][device.kind].get(plan.host_key or rt.host_key, {})
    host = table if rt.per_op_host else {}
    share = table.get("nchw_transpose_share", 1.0)
    l2_bw = l2_bandwidth(device.sms, device.clock_mhz, c)
    feats = features(plan, device)
    boost = [_at_boost(f, device, c, l2_bw, share) if f.kernel.kind != Kind.HOST else None for f in feats]
    ran = [(b, f.kernel) for b, f in zip(boost, feats) if b is not None]
    weights = [float(repeats(k)) for _, k in ran] if repeats is not None else None
    clock = sustained_clock([b for b, _ in ran], device, c, weights) if ran else 1.0
    out = []
    for f, b in zip(feats, boost):
        s = f.kernel
        host_s = host_seconds(s, host)
        if b is None:
            out.append(KernelCost(kernel=s, compute_s=0.0, memory_s=0.0, kernel_s=0.0, device_s=0.0, host_s=host_s))
            continue
        compute_s = b.compute / clock
        memory_s = b.dram + b.l2 / clock
        peak = device.peak(s.math) or device.peak("fp32") or 0.0
        achieved = s.flops / compute_s / peak if compute_s and peak else 0.0
        out.append(KernelCost(kernel=s, compute_s=compute_s, memory_s=memory_s, kernel_s=c["kernel_s"],
                              device_s=max(compute_s, memory_s) + c["kernel_s"], host_s=host_s,
                              cached_bytes=int(b.cached), efficiency=achieved))
    return out, clock


def full_load_clock(device: DeviceSpec, coefficients: dict, math: str = "fp16") -> Optional[float]:
    """The share of the boost clock ``device`` holds running dense matrix products in ``math`` back to
    back (at its set's ``gemm_efficiency``): where its power limit caps a compute-bound run. None for a
    part with no such peak or no power limit stated."""
    c = coefficient_set(coefficients, device)
    peak = device.peak(math)
    if device.kind != "gpu" or not device.power_w or not peak:
        return None
    cls = MATH_CLASS.get(math, 0)
    flop_j = peak * c["gemm_efficiency"] * math_energy_pj(cls, c) * energy_scale(math, device) * 1e-12
    return clock_share(1.0, 0.0, flop_j, 0.0, c["static_share"] * device.power_w,
                       busy_power(device.sms, device.clock_mhz, c), device.power_w, device.min_clock_share)
