"""The device figures the cost model reads, from the shipped devices file (``archstat devices``)."""

from __future__ import annotations

from typing import Optional

from archstat.perf.cost import DeviceSpec

# compute capability by architecture where an entry gives none (what kernels exist: flash needs sm80+)
_CC = {"volta": 7.0, "turing": 7.5, "ampere": 8.0, "ada": 8.9, "hopper": 9.0, "blackwell": 10.0}


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
    return DeviceSpec(d.key, d.name, d.kind, peaks, bandwidth if bandwidth is not None else (d.bandwidth or 0.0),
                      int(d.sms or 1), float(d.l2_mb or 0) * 1e6, d.arch or "", cc, float(d.boost_mhz or 0))
