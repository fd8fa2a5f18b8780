"""archstat roofline NAME|PATH|module:… --device DEV: how long each row should take, and why."""

from __future__ import annotations

import re
import sys
from typing import Optional

import typer

from archstat.cli import options, output
from archstat.cli.app import app
from archstat.cli.output import emit
from archstat.errors import UsageError
from archstat.perf.runtime import Runtime

_SI = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_RATE_KEY = {"--peak": "peak", "--bandwidth": "bandwidth"}


def parse_rate(text: Optional[str], flag: str) -> Optional[float]:
    """'989.5T', '3.35e12', '2039G' → a float (per second), finite and within the range of
    ``argcheck.ROOF_LIMITS`` (``--peak`` 1M to 1000P FLOP/s, ``--bandwidth`` 1M to 100P bytes/s)."""
    from archstat.argcheck import roof_problem

    if text is None:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKMGTP]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"{flag} '{text}': expected a positive number such as 989.5T or 3.35e12")
    value = float(m.group(1)) * _SI[m.group(2)]
    problem = roof_problem(value, _RATE_KEY[flag])
    if problem:
        raise UsageError(f"{flag} '{text}': {problem}")
    return value


def parse_overhead(value: Optional[float]) -> Optional[float]:
    """--overhead µs → seconds: finite, from 0 to 1,000,000 µs (one second per op)."""
    from archstat.argcheck import roof_problem

    if value is None:
        return None
    problem = roof_problem(value, "overhead_s", scale=1e-6, unit="µs")
    if problem:
        raise UsageError(f"--overhead {value}: {problem}")
    return value * 1e-6


@app.command("roofline")
def roofline_cmd(
    model: Optional[str] = typer.Argument(None, help="A zoo name, a config path or module:PKG.MOD:FACTORY "
                                          "(not needed with --calibrate).", metavar="NAME|PATH|module:..."),
    device: options.RequiredDevice = ...,  # type: ignore[assignment]  # typer: required, never None at run time
    dtype: options.RooflineDtype = "fp32",
    runtime: str = typer.Option("eager", "--runtime", help="eager (PyTorch), compile (torch.compile, Inductor) "
                                "or engine (TensorRT-class): what fuses, and the host cost per kernel."),
    amp: bool = typer.Option(False, "--amp", help="Autocast as PyTorch runs it: fp32 weights cast per op, "
                             "activations in --dtype (fp16 or bf16), the ops autocast keeps in fp32 at fp32."),
    train: bool = typer.Option(False, "--train", help="One training step: forward, the traced backward and "
                               "the optimizer's update (a config's backward needs torch)."),
    optimizer: str = typer.Option("sgd", "--optimizer", help="With --train: sgd (momentum) or adamw."),
    tf32: Optional[bool] = typer.Option(None, "--tf32/--no-tf32", help="float32 on a GPU: convolutions and "
                                        "matmuls in TF32 (or not); default PyTorch's: convolutions yes, "
                                        "matmuls no."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Convolutions on NHWC tensors (eager: "
                                       "no NCHW↔NHWC transposes around cuDNN)."),
    batch: options.Batch = 1,
    depth: options.Depth = None,
    input_: options.Inputs = None,
    peak: Optional[str] = typer.Option(None, "--peak", help="Override the dtype's peak, FLOP/s (e.g. 500T; 1M "
                                       "to 1000P)."),
    bandwidth: Optional[str] = typer.Option(None, "--bandwidth", help="Override the bandwidth, bytes/s "
                                            "(e.g. 2T; 1M to 100P)."),
    overhead: Optional[float] = typer.Option(None, "--overhead", help="The host's cost of one pointwise op, "
                                             "µs (0 to 1000000); the other ops' costs keep their fitted "
                                             "proportions."),
    calibrate: bool = typer.Option(False, "--calibrate", help="Measure this machine's matmul peak, copy "
                                   "bandwidth and per-op overhead (cpu or cuda; torch needed) and store them."),
    sets: options.Sets = None,
    fmt: options.Format = "table",
    wide: options.Wide = False,
    columns: options.Columns = None,
):
    """Predicted time on a device under a runtime: per row the kernels it runs, bytes moved, bound and
    device time; in total the latency (host and device overlapped), throughput and how far to trust it."""
    from archstat import api, calibration
    from archstat.analyze import devices
    from archstat.report import roofline_report

    fmt = options.choice(fmt, options.FORMATS, "--format")
    runtime = options.choice(runtime, Runtime.values(), "--runtime")
    optimizer = options.choice(optimizer, ("sgd", "adamw"), "--optimizer")
    _, peak_key = devices.resolve_dtype(dtype)
    depth = options.parse_depth(depth)
    if optimizer != "sgd" and not train:
        raise UsageError(f"--optimizer {optimizer}: the optimizer applies only with --train")
    overhead_s = parse_overhead(overhead)
    several = "," in device
    if several and not all(d.strip() for d in device.split(",")):
        raise UsageError(f"--device '{device}': an empty device name (give names separated by commas: h100,a100)")
    if several and calibrate:
        raise UsageError(f"--calibrate measures one device of this machine, not a list ({device})")
    if several and columns:
        raise UsageError("--columns chooses the per-layer columns of one device; with several devices the table "
                         "has a column per device (--format json gives every device's rows)")
    if calibrate:
        from archstat.profile.calibrate import measure

        if devices.device_key(device).split(":")[0] not in devices.CALIBRATABLE:
            raise UsageError(f"--calibrate measures this machine: use --device cpu or cuda, not {device}")
        path = calibration.store_calibration(device, measure(device, peak_key))
        sys.stderr.write(f"calibration stored in {path}\n")
    if model is None:
        if not calibrate:
            raise UsageError("roofline needs a model (or --calibrate)")
        emit(roofline_report.roof_lines(calibration.roof(device, peak_key)))
        return
    from archstat.cli import progress
    from archstat.zoo import as_target

    traced = as_target(model).startswith("module:") or train
    progress.say(f"tracing {model}: {'forward, loss and backward' if train else 'its forward'}, op by op" if traced
                 else f"planning {model}'s kernels and costing them on {device}")
    result = api.roofline(model, options.parse_sets(sets), device=device.split(",") if several else device, dtype=dtype,
                          batch=options.parse_batch(batch), depth=depth, input_shape=options.parse_inputs(input_),
                          peak=parse_rate(peak, "--peak"), bandwidth=parse_rate(bandwidth, "--bandwidth"),
                          overhead_s=overhead_s, runtime=runtime, amp=amp, train=train, optimizer=optimizer,
                          tf32=tf32, channels_last=channels_last)
    if isinstance(result, list):   # --device h100,a100: traced once, predicted on each
        emit(roofline_report.render_devices(result, fmt, output.view(None, wide)))
        return
    emit(roofline_report.render(result, fmt, output.view(columns, wide)))
