"""What each kernel of a plan costs on a device: device time (efficiency by kind and shape) and host time.

Device time of a kernel is ``max(compute, memory) + kernel_s`` where

- **compute** of a matrix kernel (GEMM, implicit-GEMM convolution, fused attention) comes from tiles and
  waves: the output is cut into CTA tiles (the best of a few sizes, as cuBLAS and cuDNN choose), the
  tiles run in waves of one per SM, so a GEMM that fills 1.1 waves costs 2; each tile runs at
  the dtype's dense peak per SM times the tile's efficiency (large tiles reach ``gemm_efficiency``;
  small ones are bound by their operand traffic: ``min(1, tile intensity / tile_intensity)``) and a
  short K pays its prologue (``K / (K + k_overhead)``); tensor cores need channels in multiples of 8
  (fp16/bf16), 4 (tf32) or 16 (int8): other sizes are padded up. Split-K fills the SMs for long, thin
  products (a convolution's weight gradient). A k×k convolution reaches ``conv_efficiency`` of a GEMM,
  a grouped one ``grouped_efficiency``; a depthwise convolution runs on the CUDA cores
  (``depthwise_compute_efficiency`` of the fp32 peak), and so does any convolution whose direct kernel
  beats the tensor cores (narrow groups): cuDNN benchmarks its algorithms and runs the fastest. Flash attention
  runs blocks of 128 queries per CTA at ``attention_efficiency`` × ``E / (E + attention_head_overhead)``.
- **memory** is the bytes the plan says the kernel moves, at ``bandwidth × efficiency`` of its kind
  (pointwise, reduction, transpose, gather, …); what it reads of a tensor a recent kernel wrote, while the
  bytes moved since then and the tensor fit in ``l2_fraction`` of the L2, comes from the L2, ``l2_speedup``
  times faster.
- **kernel_s** is the fixed time of the smallest kernel on the device (launch latency, ramp and tail).

Host time is the framework's time to launch a kernel: the sum of its operators' host costs by class
(``host.<kind>.<runtime>``: view, pointwise, norm, conv, gemm, attention, …); none where the runtime
launches one graph for the whole program (an engine's CUDA graph).

The coefficients are data (``archstat/data/perf.yaml``) refitted by ``benchmarks/prediction/fit.py``.
The formulas below are written once for numbers and for arrays (``xp``: this module's scalar helpers, or
numpy in the fit), so the fit evaluates exactly what a prediction runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from archstat.ir.aten import Kind, Sub
from archstat.perf.device import DeviceSpec, coefficient_set
from archstat.perf.plan import DeviceKernel, Plan, align_of
from archstat.perf.runtime import record

TILES = ((256, 128), (128, 256), (128, 128), (128, 64), (64, 128), (64, 64), (64, 32), (32, 64))
SPLIT_K_MIN = 256           # the shortest K slice split-K makes
ATTENTION_BLOCK = 128       # queries per CTA of a fused attention kernel


class Scalar:
    """The three array helpers the formulas use, for plain numbers."""

    minimum = staticmethod(min)
    maximum = staticmethod(max)

    @staticmethod
    def where(cond, a, b):
        return a if cond else b


# -- the formulas (numbers or arrays) ----------------------------------------------------------------

def tile_seconds(ideal_s, intensity, k_slice, split, c: dict, xp=Scalar):
    """A tiled product's time from its ideal time at the full per-SM peak (waves included)."""
    eff = c["gemm_efficiency"] * xp.minimum(1.0, intensity / c["tile_intensity"]) * k_slice / (
        k_slice + c["k_overhead"])
    return ideal_s / eff * (1.0 + c["split_k_cost"] * (split > 1))


def conv_factor(taps, groups, c: dict, xp=Scalar):
    """A convolution's efficiency against a GEMM of its implicit-GEMM shape."""
    return xp.where(taps > 1, c["conv_efficiency"], 1.0) * xp.where(groups > 1, c["grouped_efficiency"], 1.0)


def attention_seconds(ideal_s, head_dim, flash, c: dict, xp=Scalar):
    eff = xp.where(flash, c["attention_efficiency"], c["efficient_attention_efficiency"])
    return ideal_s / (eff * head_dim / (head_dim + c["attention_head_overhead"]))


def l2_hit(size, distance, l2_bytes, c: dict):
    """Whether a read of ``size`` bytes written ``distance`` bytes of traffic ago comes from the L2."""
    room = c["l2_fraction"] * l2_bytes
    return (size <= room) * (distance + size <= room)


def memory_seconds(dram_bytes, cached_bytes, bandwidth, efficiency, c: dict):
    bw = bandwidth * efficiency
    return dram_bytes / bw + cached_bytes / (bw * c["l2_speedup"])


def device_seconds(compute_s, memory_s, c: dict, xp=Scalar):
    return xp.maximum(compute_s, memory_s) + c["kernel_s"]


# -- what a kernel needs, independent of the coefficients -----------------------------------------------

def _pad(n: int, to: int) -> int:
    return -(-n // to) * to if to > 1 else n


def tiles_of(count: int, m: int, n: int, k: int, peak: float, sms: int, math_: str):
    """[(ideal seconds, tile intensity, K per slice, split), …] of every tile size for ``count``
    products of (m×k)·(k×n) at ``peak`` FLOP/s on ``sms`` SMs (channels padded for the tensor cores)."""
    align = align_of(math_)
    n, k = _pad(n, align), _pad(k, align)
    per_sm = peak / max(1, sms)
    out = []
    for tm, tn in TILES:
        tiles = count * -(-m // tm) * -(-n // tn)
        split = 1
        if tiles < sms and k >= 4 * SPLIT_K_MIN:
            split = max(1, min(sms // tiles, k // SPLIT_K_MIN, 16))
        kk = -(-k // split)
        waves = -(-tiles * split // sms)        # an SM runs its share of the tiles one after another
        out.append((waves * 2.0 * tm * tn * kk / per_sm, tm * tn / (tm + tn), kk, split))
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
        bh, l, sk, e, ev = s.dims
        ctas = bh * -(-l // ATTENTION_BLOCK)
        waves = -(-ctas // max(1, device.sms))
        ideal = waves * 2.0 * ATTENTION_BLOCK * sk * (e + ev) / (peak / max(1, device.sms))
        f.attention = (ideal, e, s.backend != "efficient")
    elif s.kind == Kind.DEPTHWISE and s.macs > 0:
        f.cuda_core_s = 2.0 * s.macs / (device.peak("fp32") or peak or 1.0)


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
    compute_s: float
    memory_s: float
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


def costs(plan: Plan, device: DeviceSpec, coefficients: dict) -> list[KernelCost]:
    """The cost of every kernel of ``plan`` on ``device``."""
    c = coefficient_set(coefficients, device)
    rt = record(plan.runtime)
    host = coefficients["host"][device.kind].get(rt.host_key, {}) if rt.per_op_host else {}
    out = []
    for f in features(plan, device):
        s = f.kernel
        host_s = host_seconds(s, host)
        if s.kind == Kind.HOST:
            out.append(KernelCost(kernel=s, compute_s=0.0, memory_s=0.0, kernel_s=0.0, device_s=0.0, host_s=host_s))
            continue
        cached = min(s.read, sum(n for n, d in f.reads if l2_hit(n, d, device.l2_bytes, c)))
        eff = c["bandwidth_efficiency"].get(f.efficiency_key, c["bandwidth_efficiency"]["other"])
        memory_s = memory_seconds(s.read - cached + s.written, cached, device.bandwidth, eff, c)
        if s.sub == Sub.TRANSPOSE:
            memory_s *= c["nchw_transpose_share"]
        compute_s = 0.0
        if f.tiles:
            compute_s = min(tile_seconds(t, i, kk, sp, c) for t, i, kk, sp in f.tiles)
            if s.kind == Kind.CONV:   # cuDNN runs the fastest of its algorithms (cudnn.benchmark)
                compute_s = min(compute_s / conv_factor(s.dims[4], s.dims[0], c),
                                f.cuda_core_s / c["depthwise_compute_efficiency"])
        elif f.attention is not None:
            compute_s = attention_seconds(*f.attention, c)
        elif f.cuda_core_s:
            compute_s = f.cuda_core_s / c["depthwise_compute_efficiency"]
        peak = device.peak(s.math) or device.peak("fp32") or 0.0
        achieved = s.flops / compute_s / peak if compute_s and peak else 0.0
        out.append(KernelCost(kernel=s, compute_s=compute_s, memory_s=memory_s, kernel_s=c["kernel_s"],
                              device_s=device_seconds(compute_s, memory_s, c), host_s=host_s, cached_bytes=cached,
                              efficiency=achieved))
    return out
