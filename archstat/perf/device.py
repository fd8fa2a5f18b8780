"""A device as the cost model reads it, and the coefficient set it is costed with, resolved in one place.

:class:`DeviceSpec` holds the figures of a part the formulas read (its peaks by dtype, bandwidth, SMs,
L2, architecture); :func:`spec` builds it from an entry of the shipped devices file (``archstat
devices``), :func:`from_device` from an ``analyze.devices.Device`` (a datasheet entry or a MIG slice).
:func:`coefficient_set` picks the fitted coefficients a device is costed with (``archstat/data/perf.yaml``):
its architecture generation's set, or the nearest measured generation's (``set_name`` says which).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["DeviceSpec", "coefficient_set", "from_device", "set_name", "spec"]

# compute capability by architecture where an entry gives none (what kernels exist: flash needs sm80+)
_CC = {"volta": 7.0, "turing": 7.5, "ampere": 8.0, "ada": 8.9, "hopper": 9.0, "blackwell": 10.0}


@dataclass(frozen=True, kw_only=True)
class DeviceSpec:
    """The figures of a device the cost model reads."""

    key: str
    name: str
    kind: str                       # gpu or cpu
    peaks: dict                     # peak key → FLOP/s (dense)
    bandwidth: float                # bytes/s
    sms: int                        # SMs (CUs; CPU cores)
    l2_bytes: float                 # the last-level cache
    arch: str = ""
    compute_capability: float = 0.0
    clock_mhz: float = 0.0          # the boost clock the peaks are quoted at
    base_mhz: float = 0.0           # the clock the vendor guarantees (0: not stated)
    power_w: float = 0.0            # the board's power limit (0: not stated: no power model)
    memory: str = ""                # hbm, gddr, ddr (the memory technology: which coefficients are nearest)
    tensor_flops: float = 0.0       # the full fp16 tensor rate (with FP16 accumulation where that is faster)

    def peak(self, key: str) -> Optional[float]:
        return self.peaks.get(key)

    @property
    def min_clock_share(self) -> float:
        """The lowest clock, as a share of the boost clock, a power limit may hold a kernel at: the base
        clock where the vendor states one, else half the boost clock."""
        return self.base_mhz / self.clock_mhz if self.base_mhz and self.clock_mhz else 0.5


def set_name(coefficients: dict[str, Any], device: DeviceSpec) -> tuple[str, bool]:
    """(the coefficient set ``device`` is costed with, whether it is its own generation's): its
    architecture's set where perf.yaml has one (``sets.<arch>``), else the nearest measured generation
    of the same memory technology (``perf.coefficients.NEAREST``)."""
    from archstat.perf.coefficients import NEAREST

    sets = coefficients.get("sets") or {}
    if device.kind == "cpu":
        return ("cpu", device.arch == "cpu" or device.arch in sets) if "cpu" in sets else ("cpu", False)
    if device.arch in sets:
        return device.arch, True
    for name in NEAREST.get(device.memory or "hbm", NEAREST["hbm"]):
        if name in sets:
            return name, False
    return next(iter(k for k in sets if k != "cpu")), False


def coefficient_set(coefficients: dict[str, Any], device: DeviceSpec) -> dict[str, Any]:
    """The device-side coefficients ``device`` is costed with (``set_name``)."""
    if "sets" not in coefficients:     # a version 1 file: one set per device kind
        return coefficients[device.kind]
    return coefficients["sets"][set_name(coefficients, device)[0]]


def _full_tensor_rate(d) -> float:
    """FLOP/s of the part's tensor cores at their full fp16 rate: with FP16 accumulation where that is
    faster than the FP32-accumulate rate ``peak_tflops`` gives (GeForce), else that rate; 0 without."""
    half = (getattr(d, "peak_tflops_half_acc", None) or {}).get("fp16") or 0.0
    full = d.peak_tflops.get("fp16") or 0.0
    return max(half, full) * 1e12


def spec(key: str, *, peak: Optional[float] = None, peak_key: Optional[str] = None,
         bandwidth: Optional[float] = None) -> DeviceSpec:
    """The DeviceSpec of a devices.yaml entry; ``peak`` (FLOP/s, for ``peak_key``) and ``bandwidth``
    (bytes/s) override its figures."""
    from archstat.analyze.devices import devices

    return from_device(devices()[key], peak=peak, peak_key=peak_key, bandwidth=bandwidth)


def from_device(d, *, peak: Optional[float] = None, peak_key: Optional[str] = None,
                bandwidth: Optional[float] = None) -> DeviceSpec:
    """A DeviceSpec from an ``analyze.devices.Device`` (a datasheet entry, or a MIG slice of one)."""
    peaks = {k: v for k, v in d.peak_flops.items() if v}
    if peak is not None and peak_key:
        peaks[peak_key] = peak
    try:
        cc = float(d.compute_capability) if d.compute_capability else _CC.get(d.arch or "", 0.0)
    except ValueError:
        cc = _CC.get(d.arch or "", 0.0)
    memory = (d.memory_type or "")
    memory = "hbm" if memory.startswith("hbm") else "gddr" if memory.startswith(("gddr", "lpddr")) else (
        "ddr" if memory else "")
    return DeviceSpec(key=d.key, name=d.name, kind=d.kind, peaks=peaks,
                      bandwidth=bandwidth if bandwidth is not None else (d.bandwidth or 0.0), sms=int(d.sms or 1),
                      l2_bytes=float(d.l2_mb or 0) * 1e6, arch=d.arch or "", compute_capability=cc,
                      clock_mhz=float(d.boost_mhz or 0), base_mhz=float(d.base_mhz or 0),
                      power_w=float(d.power_w or 0), memory=memory, tensor_flops=_full_tensor_rate(d))
