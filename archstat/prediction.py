"""A time prediction, wired (``archstat roofline``, ``compare --device``, ``profile``'s prediction): the
device's figures resolved, the operators of a loaded model planned and costed on it, the result put
beside the table's rows with the validation that applies. Everything it calls is a pure function of
its inputs; this module only wires them. It takes the model already loaded (``api.py`` loads or traces
it: a config's operators from its op recipes, a module's from a trace), so it never re-enters the API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from archstat.enums import StrEnum
from archstat.errors import UsageError
from archstat.perf.schedule import Bound


class BatchRange(StrEnum):
    """The batch ranges a validation band is kept apart for: a batch of 1 is the host's, large ones the
    device's."""

    ONE = "1"
    SMALL = "2-16"
    MEDIUM = "17-128"
    LARGE = "129+"


class Work(StrEnum):
    """What a prediction times: one inference forward or one training step."""

    INFER = "infer"
    TRAIN = "train"


# each range's smallest and largest batch (None: no largest)
BATCH_RANGES = ((1, 1, BatchRange.ONE), (2, 16, BatchRange.SMALL), (17, 128, BatchRange.MEDIUM),
                (129, None, BatchRange.LARGE))


def batch_range(batch: int) -> BatchRange:
    """'1', '2-16', '17-128' or '129+': the batch range of a row or a prediction."""
    for lo, hi, name in BATCH_RANGES:
        if batch >= lo and (hi is None or batch <= hi):
            return name
    return BatchRange.ONE


@dataclass(frozen=True)
class Regime:
    """The validation regime a prediction (or a measured row) belongs to; its ``key`` names the band
    perf.yaml keeps for it (``gpu-eager-infer-b129+-device``)."""

    kind: str                 # the device kind: gpu or cpu
    runtime: str              # a Runtime
    work: Work
    batch: BatchRange
    bound: Bound

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.runtime}-{self.work}-b{self.batch}-{self.bound}"


def regime(kind: str, runtime: str, train: bool, batch: int, bound: str) -> str:
    """The key of the validation band a prediction quotes: the device kind, the runtime, inference or a
    training step, the batch range and what sets the latency (``gpu-eager-infer-b129+-device``)."""
    return Regime(kind, str(runtime), Work.TRAIN if train else Work.INFER, batch_range(batch), Bound(bound)).key


def coarse_regime(kind: str, runtime: str, train: bool) -> str:
    """The leave-one-device-out band's key: kind, runtime, inference or training."""
    return f"{kind}-{runtime}-{Work.TRAIN if train else Work.INFER}"


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

    from archstat.perf.coefficients import FRAMEWORK
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
                if k not in FRAMEWORK:       # a framework's shares are not times: they keep their values
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
    from archstat.perf.device import set_name
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
    used = set_name(c, spec)[0] if "sets" in c else spec.kind
    if prediction.clock_share < 1.0:
        notes.append(f"{spec.key}'s {spec.power_w:g} W limit holds this run at {100 * prediction.clock_share:.0f} % of "
                     f"its {spec.clock_mhz:g} MHz boost clock (arithmetic and L2 traffic slow by as much)")
    return make_roofline(stats, prediction, roof, grouped=grouped, band=band, warnings=warnings, train=train,
                         notes=notes, coefficient_set=used)


# the fewest measurements a band (the 10–90 % range of measured ÷ predicted) is quoted from: with fewer, its
# ends are single rows, not a range a tenth of the measurements fell outside of
MIN_BAND_ROWS = 10


def trust(c: dict, spec, runtime: str, train: bool, prediction) -> tuple[Optional[dict], list[str]]:
    """The validation band a prediction quotes, and warnings where it is outside what was validated.

    A device measured in the public tables in this prediction's regime (``regime``: kind, runtime,
    inference or training, batch range, host- or device-bound) quotes that regime's band, cross-validated
    by architecture; any other quotes the leave-one-device-out band of its kind and runtime (how far a
    device the fit never saw lands), with a warning saying so."""
    from archstat.perf.device import set_name

    validation = c.get("validation") or {}
    bound = prediction.schedule.bound
    key = regime(spec.kind, str(runtime), train, prediction.batch, bound)
    measured = validation.get("devices") or {}
    warnings: list[str] = []
    band = None
    own = (validation.get("regimes") or {}).get(key)
    rows = int((own or {}).get("n") or 0)
    if key in (measured.get(spec.key) or ()) and own is not None and rows >= MIN_BAND_ROWS:
        band = dict(own, regime=key, how="cross-validated by architecture")
    else:
        coarse = coarse_regime(spec.kind, str(runtime), train)
        lodo = (validation.get("unmeasured") or {}).get(coarse)
        seen = ", ".join(sorted(d for d, keys in measured.items() if any(k.startswith(coarse) for k in keys)))
        if lodo is not None and int(lodo.get("n") or 0) >= MIN_BAND_ROWS:
            band = dict(lodo, regime=coarse, how="leave-one-device-out")
            why = ("was never measured" if spec.key not in measured else
                   f"was never measured in this regime ({key})" if key not in measured[spec.key] else
                   f"was measured in this regime ({key}) {rows:,} time{'s' if rows != 1 else ''} in all, too few "
                   f"for a band of its own (at least {MIN_BAND_ROWS})")
            warnings.append(f"{spec.key} {why}: the band is how far devices the fit never saw landed "
                            f"(leave-one-device-out over {seen})")
        elif lodo is not None:
            warnings.append(f"only {int(lodo.get('n') or 0):,} public measurements validate "
                            f"{coarse.replace('-', ' ')} predictions, too few for an error band")
        elif measured:
            warnings.append(f"no public measurements validate {coarse.replace('-', ' ')} predictions: no error band")
    if "sets" in c:
        name, own = set_name(c, spec)
        if not own:
            warnings.append(f"{spec.key} ({spec.arch or 'unknown architecture'}) is costed with the {name} "
                            "coefficients: no public measurement of its generation was fitted")
    known = set(c.get("validated_ops") or ())
    if known:
        new = sorted({op for s in prediction.plan.kernels for op in s.ops} - known - {"nchw_to_nhwc", "nhwc_to_nchw"})
        new = [op for op in new if "." not in op]
        if new:
            shown = ", ".join(new[:6]) + (f" and {len(new) - 6} more" if len(new) > 6 else "")
            warnings.append(f"operators never seen in the validation: {shown}")
    return band, warnings
