"""Orchestration of a time prediction (``archstat roofline``, ``compare --device``, ``profile``'s
prediction): load or trace the model, take its operators, plan and cost them on the device, and put
the result beside the table's rows. Everything it calls is a pure function of its inputs; this module
only wires them (api.py's role, for time).

- A YAML config's operators come from the op recipes (``perf.recipes``): no torch. A training step
  of a config (``train=True``) needs torch: its backward pass is traced on the built module.
- A module (``module:…`` or an ``nn.Module``) is traced on the meta device at the batch asked for
  (forward, or forward + loss + backward for a training step).
"""

from __future__ import annotations

import os
from typing import Any, Optional

from archstat.errors import UsageError

RUNTIMES = ("eager", "compile", "engine")
VALIDATED = {   # devices with public measurements behind the band, by runtime (benchmarks/prediction)
    "eager": ("rtx4090", "rtx3090"), "compile": ("rtx4090", "i9-10940x"), "engine": ("h100", "a100", "l4"),
}


def regime(runtime: str, kind: str, train: bool) -> str:
    """The key of the validation band a prediction quotes: gpu-eager-infer, cpu-compile-infer, …"""
    return f"{kind}-{runtime}-{'train' if train else 'infer'}"


def _spec_for(roof, device: str, peak_key: str):
    """The cost model's device: the datasheet entry behind the roof (its SMs, L2, other dtypes' peaks),
    with the roof's peak and bandwidth (calibrated or overridden) in place of the datasheet's."""
    from archstat.analyze.devices import lookup
    from archstat.perf.cost import DeviceSpec
    from archstat.perf.device import from_device

    sheet = lookup(roof.entry) if roof.entry else None
    if sheet is not None:
        spec = from_device(sheet, peak=roof.peak_flops, peak_key=peak_key, bandwidth=roof.bandwidth)
        return spec, []
    # a calibrated device without a datasheet entry: this CPU, or a GPU archstat has no entry for
    calib = roof.calibration or {}
    peaks = {k: v for k, v in (calib.get("peak_flops") or {}).items() if v}
    peaks[peak_key] = roof.peak_flops
    if device.startswith("cuda"):
        return (DeviceSpec(roof.device, roof.name, "gpu", peaks, roof.bandwidth, 100, 40e6, "", 8.0),
                ["no datasheet entry for this GPU: its SM count and L2 are assumed (100 SMs, 40 MB)"])
    cores = calib.get("threads") or os.cpu_count() or 1
    return (DeviceSpec(roof.device, roof.name, "cpu", peaks, roof.bandwidth, int(cores), _last_level_cache(), "", 0.0),
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

    source = roof.sources.get("overhead", "")
    if not (source.startswith("calibrated") or source == "--overhead"):
        return coefficients, None
    c = copy.deepcopy(coefficients)
    for runtime in ("eager", "compile"):
        table = c["host"][kind].get(runtime, {})
        ref = table.get("pointwise") or 0.0
        if ref > 0:
            scale = roof.overhead_s / ref
            for k in table:
                table[k] *= scale
    return c, f"host costs scaled to {roof.overhead_s * 1e6:.2f} µs per pointwise op ({source})"


def kernels_of(model, params, *, input_shape, batch: int, train: bool):
    """(ModelStats, operators) of a config or a module at ``batch``."""
    from archstat import api

    is_module = hasattr(model, "named_modules") and hasattr(model, "forward")
    if (isinstance(model, str) and model.startswith("module:")) or is_module:
        from archstat.trace.analyze import analyze_module
        from archstat.trace.factory import build_target, build_target_on_cpu, require_input

        mode = "train" if train else "eval"
        if is_module:
            if input_shape is None:
                raise UsageError("analyzing an nn.Module needs input_shape, e.g. (3, 224, 224)")
            stats = analyze_module(model, tuple(input_shape), batch=batch, mode=mode, backward=train)
        else:
            shape = require_input(model, input_shape)
            module, notes = build_target(model)
            stats = analyze_module(module, shape, name=model[len("module:"):], notes=tuple(notes), batch=batch,
                                   mode=mode, backward=train, cpu_model=lambda: build_target_on_cpu(model))
        return stats, stats.op_calls
    spec = model if not isinstance(model, str) else api.load_spec(model)
    graph = api.load(spec, params, input_shape=input_shape)
    stats = api.analyze(graph, batch=batch)
    stats.model = graph.name
    if train:
        from archstat.builder import require_torch
        from archstat.trace.analyze import analyze_module

        require_torch()   # a config's training step: its backward pass is traced on the built module
        module = api.build(graph, device="meta")
        traced = analyze_module(module, graph.input_shape, name=graph.name, batch=batch, mode="train", backward=True)
        return traced, traced.op_calls
    from archstat.perf.recipes import graph_calls

    return stats, graph_calls(graph, batch)


def roofline(model, params: Optional[dict[str, Any]] = None, *, device: str, dtype: str = "fp32", batch: int = 1,
             depth: Optional[int] = None, input_shape=None, peak: Optional[float] = None,
             bandwidth: Optional[float] = None, overhead_s: Optional[float] = None, runtime: str = "eager",
             amp: bool = False, train: bool = False, optimizer: str = "sgd", tf32: Optional[bool] = None,
             channels_last: bool = False):
    """The predicted time of ``model`` on ``device`` under ``runtime``, per row and in total."""
    from archstat import api
    from archstat.analyze import devices
    from archstat.analyze.roofline import roofline as make_roofline
    from archstat.perf.predict import coefficients, predict

    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime '{runtime}' (choose from {', '.join(RUNTIMES)})")
    _storage, peak_key = devices.resolve_dtype(dtype)
    if amp and peak_key not in ("fp16", "bf16"):
        raise UsageError(f"--amp runs autocast in fp16 or bf16: give --dtype fp16 or bf16, not {dtype}")
    if peak_key == "int8" and runtime != "engine":
        raise UsageError("--dtype int8 is an inference engine's precision: add --runtime engine")
    if peak_key == "int8" and train:
        raise UsageError("--train with --dtype int8: int8 is an inference format")
    if peak_key in ("fp8", "fp4"):
        raise UsageError(f"--dtype {peak_key}: the performance model plans fp32, tf32, fp16, bf16 and int8 runs")
    roof = devices.roof(device, peak_key, peak=peak, bandwidth=bandwidth, overhead_s=overhead_s)
    spec, notes = _spec_for(roof, devices.device_key(device), peak_key)
    c, scaled = _host_scaled(coefficients(), spec.kind, roof)
    if scaled:
        notes.append(scaled)
    stats, kernels = kernels_of(model, params, input_shape=input_shape, batch=batch, train=train)
    tf32_settings = None
    if tf32 is not None:
        tf32_settings = {"conv": bool(tf32), "matmul": bool(tf32)}
    prediction = predict(kernels, spec, batch=batch, runtime=runtime, dtype=peak_key, amp=amp, tf32=tf32_settings,
                         channels_last=channels_last, optimizer=optimizer if train else None, foreach=True,
                         coefficients_=c)
    grouped = None
    if depth is not None:
        grouped = api.analyze(model, params, input_shape=input_shape, batch=batch, depth=depth) \
            if not train else None
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
    validated = VALIDATED.get(runtime, ())
    if spec.key not in validated and band is not None:
        warnings.append(f"{spec.key} was never measured in the validation ({', '.join(validated)} were): its "
                        "band is theirs, for another device")
    known = set(c.get("validated_ops") or ())
    if known:
        new = sorted({op for s in prediction.plan.steps for op in s.ops} - known - {"nchw_to_nhwc", "nhwc_to_nchw"})
        new = [op for op in new if "." not in op]
        if new:
            shown = ", ".join(new[:6]) + (f" and {len(new) - 6} more" if len(new) > 6 else "")
            warnings.append(f"operators never seen in the validation: {shown}")
    return band, warnings
