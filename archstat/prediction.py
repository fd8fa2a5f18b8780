"""A time prediction, wired (``archstat roofline``, ``compare --device``, ``profile``'s prediction): the
device's figures resolved, the operators of a loaded model planned and costed on it, the result put
beside the table's rows with the validation that applies. Everything it calls is a pure function of
its inputs; this module only wires them. It takes the model already loaded (``api.py`` loads or traces
it: a config's operators from its op recipes, a module's from a trace), so it never re-enters the API.
"""

from __future__ import annotations

import os
from typing import Optional

from archstat.errors import UsageError
from archstat.perf.runtime import Runtime

VALIDATED = {   # devices with public measurements behind the band, by runtime (benchmarks/prediction)
    Runtime.EAGER: ("rtx4090", "rtx3090"), Runtime.COMPILE: ("rtx4090", "i9-10940x"),
    Runtime.ENGINE: ("h100", "a100", "l4"),
}


def regime(runtime: str, kind: str, train: bool) -> str:
    """The key of the validation band a prediction quotes: gpu-eager-infer, cpu-compile-infer, …"""
    return f"{kind}-{runtime}-{'train' if train else 'infer'}"


def _spec_for(roof, device: str, peak_key: str):
    """The cost model's device: the datasheet entry behind the roof (its SMs, L2, other dtypes' peaks),
    with the roof's peak and bandwidth (calibrated or overridden) in place of the datasheet's."""
    from archstat.analyze.devices import lookup
    from archstat.perf.device import DeviceSpec, from_device

    sheet = lookup(roof.entry) if roof.entry else None
    if sheet is not None:
        spec = from_device(sheet, peak=roof.peak_flops, peak_key=peak_key, bandwidth=roof.bandwidth)
        return spec, []
    # a calibrated device without a datasheet entry: this CPU, or a GPU archstat has no entry for
    calib = roof.calibration or {}
    peaks = {k: v for k, v in (calib.get("peak_flops") or {}).items() if v}
    peaks[peak_key] = roof.peak_flops
    if device.startswith("cuda"):
        return (DeviceSpec(key=roof.device, name=roof.name, kind="gpu", peaks=peaks, bandwidth=roof.bandwidth, sms=100,
                           l2_bytes=40e6, compute_capability=8.0),
                ["no datasheet entry for this GPU: its SM count and L2 are assumed (100 SMs, 40 MB)"])
    cores = calib.get("threads") or os.cpu_count() or 1
    return (DeviceSpec(key=roof.device, name=roof.name, kind="cpu", peaks=peaks, bandwidth=roof.bandwidth,
                       sms=int(cores), l2_bytes=_last_level_cache()),
            [])


def _last_level_cache() -> float:
    """This machine's largest CPU cache in bytes (Linux sysfs), or 0 when it cannot tell."""
    best = 0.0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in os.listdir(base):
            try:
                with open(os.path.join(base, entry, "size")) as f:
                    text = f.read().strip()
            except OSError:
                continue
            scale = {"K": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:], 1.0)
            value = float(text[:-1] if text[-1:] in "KMG" else text) * scale
            best = max(best, value)
    except (OSError, ValueError):
        return 0.0
    return best


def _host_scaled(coefficients: dict, kind: str, roof) -> tuple[dict, Optional[str]]:
    """Coefficients with the host costs scaled to a measured (calibrated) or given (--overhead)
    per-op overhead: the fitted costs keep their proportions, the pointwise op takes the new value."""
    import copy

    from archstat.perf.runtime import RUNTIMES

    source = roof.sources.get("overhead", "")
    if not (source.startswith("calibrated") or source == "--overhead"):
        return coefficients, None
    c = copy.deepcopy(coefficients)
    for rt in RUNTIMES.values():
        table = c["host"][kind].get(rt.host_key, {}) if rt.per_op_host else {}
        ref = table.get("pointwise") or 0.0
        if ref > 0:
            scale = roof.overhead_s / ref
            for k in table:
                table[k] *= scale
    return c, f"host costs scaled to {roof.overhead_s * 1e6:.2f} µs per pointwise op ({source})"


def check_precision(peak_key: str, *, runtime: str, amp: bool, train: bool) -> None:
    """The dtype, autocast and runtime a prediction can plan together (a usage error otherwise)."""
    from archstat.perf.runtime import record

    if amp and peak_key not in ("fp16", "bf16"):
        raise UsageError(f"--amp runs autocast in fp16 or bf16: give --dtype fp16 or bf16, not {peak_key}")
    if peak_key == "int8" and not record(runtime).int8:
        raise UsageError("--dtype int8 is an inference engine's precision: add --runtime engine")
    if peak_key == "int8" and train:
        raise UsageError("--train with --dtype int8: int8 is an inference format")
    if peak_key in ("fp8", "fp4"):
        raise UsageError(f"--dtype {peak_key}: the performance model plans fp32, tf32, fp16, bf16 and int8 runs")


def predict_run(stats, calls, roof, *, device: str, peak_key: str, batch: int, runtime: str = "eager",
                amp: bool = False, tf32: Optional[dict] = None, channels_last: bool = False,
                optimizer: Optional[str] = None, grouped=None):
    """THE prediction, for ``roofline`` and beside ``profile``'s measurement: ``calls`` planned and
    costed on the device behind ``roof`` (its datasheet entry, with the roof's calibrated or given peak
    and bandwidth), the Roofline of ``stats`` with the band of its regime. ``optimizer``: a training step
    (``calls`` hold its backward pass; the optimizer's update is appended)."""
    from archstat.perf.predict import coefficients, predict
    from archstat.perf.roofline import roofline as make_roofline

    spec, notes = _spec_for(roof, device, peak_key)
    c, scaled = _host_scaled(coefficients(), spec.kind, roof)
    if scaled:
        notes.append(scaled)
    prediction = predict(calls, spec, batch=batch, runtime=runtime, dtype=peak_key, amp=amp, tf32=tf32,
                         channels_last=channels_last, optimizer=optimizer, foreach=True, coefficients_=c)
    train = optimizer is not None
    band, warnings = trust(c, spec, runtime, train, prediction)
    return make_roofline(stats, prediction, roof, grouped=grouped, band=band, warnings=warnings, train=train,
                         notes=notes)


def trust(c: dict, spec, runtime: str, train: bool, prediction) -> tuple[Optional[dict], list[str]]:
    """The validation band for predictions of this kind (cross-validated on the public measurements),
    and warnings where this one is outside what was validated."""
    key = regime(runtime, spec.kind, train)
    band = (c.get("validation") or {}).get(key)
    warnings = []
    if band is None:
        warnings.append(f"no public measurements validate {key.replace('-', ' ')} predictions: no error band")
    validated = VALIDATED.get(Runtime(runtime), ())
    if spec.key not in validated and band is not None:
        warnings.append(f"{spec.key} was never measured in the validation ({', '.join(validated)} were): its "
                        "band is theirs, for another device")
    known = set(c.get("validated_ops") or ())
    if known:
        new = sorted({op for s in prediction.plan.kernels for op in s.ops} - known - {"nchw_to_nhwc", "nhwc_to_nchw"})
        new = [op for op in new if "." not in op]
        if new:
            shown = ", ".join(new[:6]) + (f" and {len(new) - 6} more" if len(new) > 6 else "")
            warnings.append(f"operators never seen in the validation: {shown}")
    return band, warnings
