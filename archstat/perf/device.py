"""The device figures the cost model reads, from the shipped devices file (``archstat devices``)."""

from __future__ import annotations

from typing import Optional

from archstat.perf.cost import DeviceSpec

# compute capability by architecture (NVIDIA); what kernels exist there (flash attention needs sm80+)
_CC = {"volta": 7.0, "turing": 7.5, "ampere": 8.0, "ada": 8.9, "hopper": 9.0, "blackwell": 10.0}


# INTERIM (until devices.yaml version 2 lands with these figures for every entry): SMs, L2 (MB), boost
# clock, architecture of the validation devices; the datasheet references are those of devices.yaml v2.
_INTERIM = {
    "rtx4090": dict(sms=128, l2_mb=72, boost_mhz=2520, arch="ada"),
    "rtx3090": dict(sms=82, l2_mb=6, boost_mhz=1695, arch="ampere", compute_capability=8.6,
                    peaks={"fp32": 35.6e12, "tf32": 35.6e12, "fp16": 71e12, "bf16": 71e12, "int8": 284e12},
                    bandwidth=936e9, name="NVIDIA GeForce RTX 3090"),
    "h100": dict(sms=132, l2_mb=50, boost_mhz=1980, arch="hopper"),
    "h200": dict(sms=132, l2_mb=50, boost_mhz=1980, arch="hopper"),
    "a100": dict(sms=108, l2_mb=40, boost_mhz=1410, arch="ampere"),
    "l4": dict(sms=58, l2_mb=48, boost_mhz=2040, arch="ada"),
    "t4": dict(sms=40, l2_mb=4, boost_mhz=1590, arch="turing"),
    "i9-10940x": dict(kind="cpu", sms=14, l2_mb=19.25, boost_mhz=3300, arch="cascadelake",
                      peaks={"fp32": 14 * 2 * 16 * 2 * 3.3e9}, bandwidth=4 * 2933e6 * 8,
                      name="Intel Core i9-10940X"),
}


def spec(key: str, *, peak: Optional[float] = None, peak_key: Optional[str] = None,
         bandwidth: Optional[float] = None) -> DeviceSpec:
    """The DeviceSpec of a devices.yaml entry; ``peak`` (FLOP/s, for ``peak_key``) and ``bandwidth``
    (bytes/s) override its figures."""
    from archstat.analyze.devices import devices

    known = devices()
    if key not in known or not hasattr(known[key], "sms"):
        extra = _INTERIM.get(key, {})
        if key not in known:
            from types import SimpleNamespace

            d = SimpleNamespace(key=key, name=extra["name"], peak_flops=extra["peaks"], bandwidth=extra["bandwidth"],
                                **{k: v for k, v in extra.items() if k not in ("name", "peaks", "bandwidth")})
        else:
            from types import SimpleNamespace

            base = known[key]
            d = SimpleNamespace(key=key, name=base.name, peak_flops=base.peak_flops, bandwidth=base.bandwidth, **extra)
        return from_device(d, peak=peak, peak_key=peak_key, bandwidth=bandwidth)
    return from_device(known[key], peak=peak, peak_key=peak_key, bandwidth=bandwidth)


def from_device(d, *, peak: Optional[float] = None, peak_key: Optional[str] = None,
                bandwidth: Optional[float] = None) -> DeviceSpec:
    peaks = {k: v for k, v in d.peak_flops.items() if v}
    if peak is not None and peak_key:
        peaks[peak_key] = peak
    kind = getattr(d, "kind", "cpu" if d.key == "cpu" else "gpu")
    arch = getattr(d, "arch", "") or ""
    cc = getattr(d, "compute_capability", None)
    try:
        cc = float(cc) if cc not in (None, "") else _CC.get(arch, 8.0 if kind == "gpu" else 0.0)
    except (TypeError, ValueError):
        cc = _CC.get(arch, 8.0)
    l2 = getattr(d, "l2_mb", None)
    return DeviceSpec(d.key, d.name, kind, peaks, bandwidth if bandwidth is not None else d.bandwidth,
                      int(getattr(d, "sms", None) or 1), float(l2 or 0) * 1e6, arch, cc,
                      float(getattr(d, "boost_mhz", None) or 0))
