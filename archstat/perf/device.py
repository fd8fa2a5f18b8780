"""A device as the cost model reads it, and the coefficient set it is costed with, resolved in one place.

:class:`DeviceSpec` holds the figures of a part the formulas read (its peaks by dtype, bandwidth, SMs,
L2, architecture); :func:`spec` builds it from an entry of the shipped devices file (``archstat
devices``), :func:`from_device` from an ``analyze.devices.Device`` (a datasheet entry or a MIG slice).
:func:`coefficient_set` picks the fitted coefficients a device is costed with (``archstat/data/perf.yaml``):
today one set per device kind (gpu, cpu); a set per architecture generation falls back to its kind's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["DeviceSpec", "coefficient_set", "from_device", "spec"]

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
    clock_mhz: float = 0.0

    def peak(self, key: str) -> Optional[float]:
        return self.peaks.get(key)


def coefficient_set(coefficients: dict[str, Any], device: DeviceSpec) -> dict[str, Any]:
    """The device-side coefficients ``device`` is costed with: its architecture generation's set where
    perf.yaml has one (``sets.<arch>``), else its kind's (``gpu`` or ``cpu``)."""
    by_arch = (coefficients.get("sets") or {}).get(device.arch)
    return by_arch if by_arch is not None else coefficients[device.kind]


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
    return DeviceSpec(key=d.key, name=d.name, kind=d.kind, peaks=peaks,
                      bandwidth=bandwidth if bandwidth is not None else (d.bandwidth or 0.0), sms=int(d.sms or 1),
                      l2_bytes=float(d.l2_mb or 0) * 1e6, arch=d.arch or "", compute_capability=cc,
                      clock_mhz=float(d.boost_mhz or 0))
