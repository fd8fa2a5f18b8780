"""The performance model's coefficients: what each one means, its unit and the physical range it may take.

``archstat/data/perf.yaml`` holds the values (fitted by ``benchmarks/prediction/fit.py`` on public
measurements); this module declares them. The fit moves a coefficient only inside its range, and
``tests/test_coefficients.py`` fails if a shipped value crosses one: an efficiency is a share of what
the datasheet says the part can do (never above 1), an energy or a bandwidth per clock lies in the range
the hardware literature gives for it.

Device-side coefficients come in **sets**, one per architecture generation that public measurements
cover (``sets.<arch>``: ampere, ada, hopper, …; ``sets.cpu``). A device of a generation without a set is
costed with the nearest measured one (``nearest``: the same memory technology, HBM or GDDR, the closest
generation), and says so. Host-side coefficients (``host.<kind>.<runtime>.<class>``) are the framework's
time to launch an operator of a class; they belong to the runtime and the host CPU, not to the device.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEVICE", "HOST", "NEAREST", "Coefficient", "out_of_range"]


@dataclass(frozen=True)
class Coefficient:
    low: float
    high: float
    unit: str
    meaning: str


# the keys of every device-side set (sets.<arch>.<key>); bandwidth_efficiency.<kind> per memory kernel kind
DEVICE: dict[str, Coefficient] = {
    "gemm_efficiency": Coefficient(0.3, 1.0, "share", "a large-tile GEMM's share of the sustained tensor peak"),
    "tile_intensity": Coefficient(8, 512, "FLOP/byte", "operand intensity an SM's tensor cores need from shared "
                                  "memory: a smaller tile is bound by its operand traffic"),
    "k_overhead": Coefficient(1, 512, "K elements", "a tile's prologue and epilogue, in K elements of its loop"),
    "split_k_cost": Coefficient(0.0, 1.0, "share", "extra time split-K's reduction of partial sums costs"),
    "conv_efficiency": Coefficient(0.2, 1.0, "share", "an implicit-GEMM k×k convolution against a GEMM of its shape"),
    "grouped_efficiency": Coefficient(0.05, 1.0, "share", "a grouped convolution against a dense one"),
    "depthwise_compute_efficiency": Coefficient(0.01, 1.0, "share", "a depthwise (or direct) convolution's share "
                                                "of the fp32 CUDA-core peak"),
    "attention_efficiency": Coefficient(0.05, 1.0, "share", "flash attention's share of the tensor peak (large "
                                        "head dims)"),
    "efficient_attention_efficiency": Coefficient(0.02, 1.0, "share", "memory-efficient attention's share"),
    "attention_head_overhead": Coefficient(0.5, 256, "elements", "per-block work of attention independent of the "
                                           "head dim (softmax, rescaling): efficiency × E / (E + this)"),
    "kernel_s": Coefficient(0.2e-6, 20e-6, "s", "the fixed time of a kernel: launch latency, ramp and tail"),
    "l2_fraction": Coefficient(0.05, 1.0, "share", "share of the L2 that keeps recently written data for the "
                               "next kernels (least recently used first out)"),
    "l2_bytes_per_clock": Coefficient(8, 256, "bytes/clock/SM", "L2 bandwidth per SM per core clock (L2 "
                                      "bandwidth = this × SMs × clock); CPUs: the last-level cache's per core"),
    "energy_tensor_pj": Coefficient(0.05, 6.0, "pJ/FLOP", "the board's energy per fp16 tensor-core FLOP at the "
                                    "boost clock and the part's full fp16 rate; an operation at another rate "
                                    "(TF32, FP32 accumulation on GeForce, int8, fp8, fp4) costs it × full rate ÷ "
                                    "its rate: a tensor core at full speed draws about the same power whatever "
                                    "its precision"),
    "energy_int8_share": Coefficient(0.25, 1.5, "share", "how much more (or less) power the tensor cores draw "
                                     "at full speed in 8 bits than in fp16"),
    "energy_fp32_pj": Coefficient(0.5, 40.0, "pJ/FLOP", "the board's energy per fp32 CUDA-core FLOP at the boost "
                                  "clock"),
    # a byte between DRAM and the chip: the memory device's energy and its interface's. Device energies per
    # bit: HBM2E 6.0, GDDR6 7.5, GDDR6X 7.25 pJ (Kylo Lab's memory comparison, kylolab.com/ultra-bandwidth-
    # solutions); GDDR's PHY draws 3.5–4.5× HBM2's power for its bandwidth (Rambus, S. Woo, Semiconductor
    # Engineering 2019). So HBM 3–8 pJ/bit and GDDR 7–20 pJ/bit, ×8 per byte: the two ranges do not overlap
    # (HBM moves a byte for less), whatever the fit prefers
    "energy_byte_hbm_pj": Coefficient(24.0, 64.0, "pJ/byte", "energy of a byte moved to or from HBM"),
    "energy_byte_gddr_pj": Coefficient(56.0, 160.0, "pJ/byte", "energy of a byte moved to or from GDDR"),
    "busy_power_w": Coefficient(0.005, 0.5, "W/(SM·GHz³)", "dynamic power of a busy SM whatever it computes "
                                "(clocks, schedulers, caches): × SMs × (clock in GHz)³, as power follows f·V² "
                                "and the voltage the clock"),
    "static_share": Coefficient(0.02, 0.5, "share", "of the power limit, what the part draws whatever it runs "
                                "(leakage, fans, memory refresh)"),
}
BANDWIDTH_KINDS = ("pointwise", "cast", "fill", "reduction", "norm", "softmax", "pool", "copy", "transpose", "gather",
                   "fused", "other", "matrix", "depthwise")
BANDWIDTH = Coefficient(0.05, 1.0, "share", "share of the datasheet DRAM bandwidth a memory kernel of this kind "
                        "reaches")
HOST = Coefficient(0.0, 200e-6, "s", "the framework's host time to launch one operator of this class")
# what a framework build does beside its host costs (host.<kind>.<runtime>.<key>), with their ranges
FRAMEWORK = {"nchw_transpose_share": Coefficient(0.0, 1.0, "share", "of an NCHW↔NHWC transpose around a tensor-core "
                                                 "convolution, the share of its traffic this build's cuDNN pays (newer "
                                                 "cuDNN kernels read NCHW directly)")}

# generation → the measured generation its devices are costed with, by memory technology (the L2 and
# memory system decide most of what the coefficients absorb)
NEAREST = {"hbm": ("hopper", "ampere"), "gddr": ("ada", "ampere"), "cpu": ("cpu",)}


def out_of_range(coefficients: dict) -> list[str]:
    """Every shipped coefficient outside its declared range, as 'path=value (range)'."""
    bad = []
    for name, values in (coefficients.get("sets") or {}).items():
        for key, c in DEVICE.items():
            v = values.get(key)
            if v is None or not c.low <= v <= c.high:
                bad.append(f"sets.{name}.{key}={v} ({c.low}–{c.high} {c.unit})")
        for kind in BANDWIDTH_KINDS:
            v = (values.get("bandwidth_efficiency") or {}).get(kind)
            if v is None or not BANDWIDTH.low <= v <= BANDWIDTH.high:
                bad.append(f"sets.{name}.bandwidth_efficiency.{kind}={v} (≤ 1)")
    for kind, runtimes in (coefficients.get("host") or {}).items():
        for runtime, table in runtimes.items():
            if not isinstance(table, dict):
                continue
            for cls, v in table.items():
                rng = FRAMEWORK.get(cls, HOST)
                if not rng.low <= v <= rng.high:
                    bad.append(f"host.{kind}.{runtime}.{cls}={v}")
    return bad
