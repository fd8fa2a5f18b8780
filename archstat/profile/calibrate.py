"""``archstat roofline --device cpu|cuda|cuda:N --calibrate``: what this machine actually reaches.

- **peak**: a square matmul (n = 1024 on the CPU, 8192 on CUDA) of the dtype, 2·n³ FLOP per call,
  the best of several timed repetitions. On CUDA, ``fp32`` is measured with TF32 off and ``tf32`` with
  it on, set through PyTorch's ``fp32_precision`` API where it exists (the legacy flags elsewhere) and
  restored exactly afterwards (``archstat.profile.precision.use``);
- **bandwidth**: ``dst.copy_(src)`` of a 256 MB (CPU) or 2 GB (CUDA) buffer, which reads and writes
  it once (2 × its size moved), the best of several;
- **overhead**: the median time of an in-place ReLU module on a one-element tensor: what one op costs
  beyond its arithmetic and traffic (dispatch, launch).

Everything runs on the device asked for (``torch.cuda.device(dev)``: cuda:1 is measured on cuda:1) and
is stored under that device's key (``cuda:1``) in the XDG cache folder
(``archstat.calibration.store_calibration``).
"""

from __future__ import annotations

import datetime
import os
import statistics
import time
from collections.abc import Callable
from typing import Optional

from archstat import dtypes
from archstat.builder import require_torch
from archstat.errors import RuntimeFailure, UnknownNameError, UsageError


def _timer(dev) -> Callable[[Callable[[], None], int], float]:
    """Seconds per call of fn, over ``n`` calls, synchronised on CUDA (on ``dev``)."""
    torch = require_torch()

    def run(fn, n: int) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return (time.perf_counter() - t0) / n
    return run


def measure(device: str = "cpu", dtype: str = "fp32", *, size: Optional[int] = None,
            copy_bytes: Optional[int] = None, repeats: int = 5) -> dict:
    """Measure the matmul peak of ``dtype``, the copy bandwidth and the per-op overhead on ``device``."""
    from archstat.profile import precision
    from archstat.profile.measure import (
        _cpu_name,
        is_oom,
        on_device,
        quiet_numpy_warning,
        resolve_device,
        tensor_device,
    )

    quiet_numpy_warning()
    torch = require_torch()
    try:
        found = dtypes.lookup(dtype, dtypes.CALIBRATE)
    except UnknownNameError:
        shown = ", ".join(dtypes.DTYPES[n].peak for n in dtypes.CALIBRATE)
        raise UsageError(f"--calibrate measures {shown} (not {dtype})") from None
    dtype = found.peak   # the key its peak is stored under: fp32, tf32, fp16, bf16
    dev = resolve_device(device)
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"--calibrate measures cpu or cuda, not {device}")
    cuda = dev.type == "cuda"
    if dtype == "tf32" and not cuda:
        raise UsageError("--calibrate --dtype tf32: TF32 is a mode of CUDA tensor cores; on the CPU measure fp32")
    from archstat.profile.environment import load_average
    from archstat.report.profile_report import load_text

    load = load_text(load_average(), os.cpu_count())   # before measuring: what else ran
    n = size or (8192 if cuda else 1024)
    nbytes = copy_bytes or (2 * 10**9 if cuda else 256 * 10**6)
    place = tensor_device(dev)
    run = _timer(dev)
    tdtype = getattr(torch, found.torch)
    tf32 = (dtype == "tf32") if cuda and dtype in ("fp32", "tf32") else None
    math_note = ""
    try:
        with on_device(dev), precision.use(torch, matmul=tf32), torch.inference_mode():
            if tf32 is not None:
                live = precision.read(torch)
                api = ("torch.backends.cuda.matmul.fp32_precision" if live.api == "fp32_precision" else
                       "torch.set_float32_matmul_precision")
                math_note = f" (TF32 {'on' if live.matmul else 'off'} through {api})"
            a = torch.randn(n, n, device=place).to(tdtype)
            b = torch.randn(n, n, device=place).to(tdtype)
            c = torch.empty(n, n, device=place, dtype=tdtype)
            matmul = lambda: torch.matmul(a, b, out=c)  # noqa: F821  (a, b, c are deleted after the timing)
            run(matmul, 2)                                          # warm-up
            per = max(1, int(0.05 / max(run(matmul, 1), 1e-6)))    # ~50 ms per repetition
            matmul_s = min(run(matmul, per) for _ in range(repeats))
            del a, b, c
            src = torch.empty(nbytes // 4, device=place, dtype=torch.float32).fill_(1.0)
            dst = torch.empty_like(src)
            copy = lambda: dst.copy_(src)  # noqa: F821  (deleted after the timing)
            run(copy, 2)
            copy_s = min(run(copy, 3) for _ in range(repeats))
            del src, dst
            relu = torch.nn.ReLU(inplace=True).to(place)
            one = torch.zeros(1, device=place)
            run(lambda: relu(one), 100)
            overhead_s = statistics.median(run(lambda: relu(one), 200) for _ in range(repeats))
    except Exception as exc:
        if is_oom(exc):
            raise RuntimeFailure(f"calibration of {dev} ran out of memory ({str(exc).splitlines()[0][:160]}); it "
                                 f"needs 3 × {n}² {dtype} matrices and 2 × {nbytes / 1e9:.2f} GB buffers") from None
        raise
    hardware = torch.cuda.get_device_name(dev) if cuda else f"{_cpu_name()}, {torch.get_num_threads()} threads"
    from archstat._version import __version__

    return {
        "device": str(dev), "hardware": hardware, "torch_version": torch.__version__, "archstat_version": __version__,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "peak_flops": {dtype: 2 * n**3 / matmul_s},
        "bandwidth": 2 * (nbytes // 4) * 4 / copy_s,
        "overhead_s": overhead_s,
        "method": {"peak": f"{dtype} matmul {n}×{n} (2·n³ FLOP){math_note}, best of {repeats}",
                   "bandwidth": f"copy_ of {nbytes // 4 * 4:,} bytes (read + write), best of {repeats}",
                   "overhead": f"in-place ReLU module on one element, median of {repeats}",
                   **({"load": f"{load} when it began"} if load else {})},
    }
