"""``archstat roofline --device cpu|cuda --calibrate``: what this machine actually reaches.

- **peak**: a square matmul (n = 1024 on the CPU, 8192 on CUDA) of the dtype, 2·n³ FLOP per call,
  the best of several timed repetitions;
- **bandwidth**: ``dst.copy_(src)`` of a 256 MB (CPU) or 2 GB (CUDA) buffer, which reads and writes
  it once (2 × its size moved), the best of several;
- **overhead**: the median time of an in-place ReLU module on a one-element tensor: what one op costs
  beyond its arithmetic and traffic (dispatch, launch).

The result is stored in the XDG cache folder (``archstat.analyze.devices.store_calibration``).
"""

from __future__ import annotations

import datetime
import statistics
import time
from typing import Callable, Optional

from archstat.builder import require_torch
from archstat.errors import UsageError

TORCH_DTYPES = {"fp32": "float32", "tf32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _timer(dev) -> Callable[[Callable[[], None], int], float]:
    """Seconds per call of fn, over ``n`` calls, synchronised on CUDA."""
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
    torch = require_torch()
    from archstat.profile.measure import _cpu_name, resolve_device

    if dtype not in TORCH_DTYPES:
        raise UsageError(f"--calibrate measures {', '.join(TORCH_DTYPES)} (not {dtype})")
    dev = resolve_device(device)
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"--calibrate measures cpu or cuda, not {device}")
    cuda = dev.type == "cuda"
    n = size or (8192 if cuda else 1024)
    nbytes = copy_bytes or (2 * 10**9 if cuda else 256 * 10**6)
    run = _timer(dev)
    tdtype = getattr(torch, TORCH_DTYPES[dtype])
    old_tf32 = torch.backends.cuda.matmul.allow_tf32 if cuda else None
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    try:
        with torch.inference_mode():
            a = torch.randn(n, n, device=dev).to(tdtype)
            b = torch.randn(n, n, device=dev).to(tdtype)
            c = torch.empty(n, n, device=dev, dtype=tdtype)
            matmul = lambda: torch.matmul(a, b, out=c)  # noqa: E731
            run(matmul, 2)                                          # warm-up
            per = max(1, int(0.05 / max(run(matmul, 1), 1e-6)))    # ~50 ms per repetition
            matmul_s = min(run(matmul, per) for _ in range(repeats))
            del a, b, c
            src = torch.empty(nbytes // 4, device=dev, dtype=torch.float32).fill_(1.0)
            dst = torch.empty_like(src)
            copy = lambda: dst.copy_(src)  # noqa: E731
            run(copy, 2)
            copy_s = min(run(copy, 3) for _ in range(repeats))
            del src, dst
            relu = torch.nn.ReLU(inplace=True).to(dev)
            one = torch.zeros(1, device=dev)
            run(lambda: relu(one), 100)
            overhead_s = statistics.median(run(lambda: relu(one), 200) for _ in range(repeats))
    finally:
        if cuda:
            torch.backends.cuda.matmul.allow_tf32 = old_tf32
    hardware = torch.cuda.get_device_name(dev) if cuda else f"{_cpu_name()}, {torch.get_num_threads()} threads"
    return {
        "hardware": hardware, "torch_version": torch.__version__,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "peak_flops": {dtype: 2 * n**3 / matmul_s},
        "bandwidth": 2 * (nbytes // 4) * 4 / copy_s,
        "overhead_s": overhead_s,
        "method": {"peak": f"{dtype} matmul {n}×{n} (2·n³ FLOP), best of {repeats}",
                   "bandwidth": f"copy_ of {nbytes // 4 * 4:,} bytes (read + write), best of {repeats}",
                   "overhead": f"in-place ReLU module on one element, median of {repeats}"},
    }
