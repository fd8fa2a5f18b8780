"""``archstat profile``: latency, throughput, achieved MAC/s and peak memory of the built module.

Timing is done as GPU engineers expect: warm-up first; on CUDA, CUDA events around each step and a
synchronisation before reading them (never host timers around asynchronous work); on the CPU,
``time.perf_counter`` with the thread count reported. A train step is forward, backward and an
optimizer step. The per-layer view comes from a separate pass with synchronised forward hooks, so
the headline timing is not disturbed by them.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from archstat.builder import require_torch
from archstat.errors import RuntimeFailure, UsageError

DTYPES = ("float32", "float16", "bfloat16")
ESTIMATE_LEAVES_OUT = ("The estimate leaves out the allocator's caching and fragmentation, cuDNN/cuBLAS "
                       "workspace, the CUDA context and framework overhead; in eval mode it counts every "
                       "activation although inference frees them as it goes.")


@dataclass
class LayerTime:
    name: str
    op: str
    time_ms: float                 # the median of the passes
    macs: int
    samples_ms: list[float] = field(default_factory=list)   # every pass

    @property
    def macs_per_s(self) -> float:
        return self.macs / (self.time_ms / 1e3) if self.time_ms > 0 else 0.0


@dataclass
class Profile:
    model: str
    device: str
    device_name: str
    torch_version: str
    dtype: str
    batch: int
    mode: str
    optimizer: Optional[str]
    channels_last: bool
    threads: Optional[int]
    warmup: int
    iters: int
    latencies_ms: list[float]
    macs_per_step: int
    measured_peak_bytes: int
    weights_bytes: int
    estimate_bytes: int
    layers: list[LayerTime] = field(default_factory=list)
    peak_flops: Optional[float] = None
    memory_method: str = ""
    prediction: Any = None                # analyze.roofline.Roofline of the same rows (eval mode), or None
    prediction_note: str = ""             # why there is none

    def percentile(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if len(data) == 1:
            return data[0]
        pos = (len(data) - 1) * q
        lo = int(pos)
        hi = min(lo + 1, len(data) - 1)
        return data[lo] + (data[hi] - data[lo]) * (pos - lo)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.batch / (self.median_ms / 1e3)

    @property
    def macs_per_s(self) -> float:
        return self.macs_per_step / (self.median_ms / 1e3)

    @property
    def peak_share(self) -> Optional[float]:
        return None if not self.peak_flops else 2 * self.macs_per_s / self.peak_flops


def resolve_device(text: str):
    """'cpu', 'cuda', 'cuda:N' or 'mps' → torch.device, or a one-line failure naming what exists."""
    torch = require_torch()
    available = ["cpu"]
    if torch.cuda.is_available():
        available += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        available.append("mps")
    kind = text.split(":")[0]
    if kind not in ("cpu", "cuda", "mps") or (kind != "cuda" and ":" in text):
        raise RuntimeFailure(f"unknown device '{text}' (use cpu, cuda, cuda:N or mps; here: {', '.join(available)})")
    if kind == "cuda":
        if not torch.cuda.is_available():
            reason = "torch was built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise RuntimeFailure(f"CUDA is not available on this machine ({reason}); available devices: "
                                 f"{', '.join(available)}")
        index = text.split(":", 1)[1] if ":" in text else "0"
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise RuntimeFailure(f"no device {text}; available devices: {', '.join(available)}")
        return torch.device(f"cuda:{index}")
    if kind == "mps" and "mps" not in available:
        raise RuntimeFailure(f"MPS is not available on this machine; available devices: {', '.join(available)}")
    return torch.device(kind)


def _sync(device):
    torch = require_torch()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _current_rss_bytes() -> Optional[int]:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


class RSSPeak:
    """The peak increase of the process's resident memory while in the block: a thread samples
    /proc/self/statm every half millisecond (getrusage's lifetime peak is the fallback)."""

    def __enter__(self):
        self.base = _current_rss_bytes()
        self.peak = self.base or 0
        self._stop = threading.Event()
        if self.base is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        else:
            self._start_maxrss = _maxrss_bytes()
        return self

    def _run(self):
        while not self._stop.wait(0.0005):
            value = _current_rss_bytes()
            if value is not None and value > self.peak:
                self.peak = value

    def __exit__(self, *exc):
        self._stop.set()
        if self.base is not None:
            self._thread.join()
            self.increase = max(0, self.peak - self.base)
        else:
            self.increase = max(0, _maxrss_bytes() - self._start_maxrss)
        return False


def _maxrss_bytes() -> int:
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _is_oom(exc: BaseException) -> bool:
    torch = require_torch()
    return isinstance(exc, getattr(torch.cuda, "OutOfMemoryError", ())) or "out of memory" in str(exc).lower()


def make_step(module, x, mode: str, optimizer: Optional[str]) -> Callable[[], Any]:
    torch = require_torch()
    if mode == "eval":
        module.eval()

        def step():
            with torch.inference_mode():
                return module(x)
        return step
    module.train()
    params = [p for p in module.parameters() if p.requires_grad]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=1e-3)
    elif optimizer == "momentum":
        opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    else:
        opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        out = module(x)
        outs = out if isinstance(out, tuple) else (out,)
        loss = sum(o.float().square().mean() for o in outs)   # a stand-in loss: every output gets a gradient
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss
    step.optimizer = opt
    return step


def profile(target: str, *, device: str = "cpu", batch: int = 1, dtype: str = "float32", mode: str = "eval",
            optimizer: str = "adam", warmup: int = 3, iters: int = 10, time_budget: Optional[float] = None,
            channels_last: bool = False, params: Optional[dict] = None, input_shape=None, per_layer: bool = True,
            layer_repeats: int = 3, on_progress: Optional[Callable[[str, int, int], None]] = None) -> Profile:
    torch = require_torch()
    from archstat.api import analyze, build, load

    if dtype not in DTYPES:
        raise UsageError(f"--dtype {dtype}: profile takes {', '.join(DTYPES)}")
    dev = resolve_device(device)
    torch_dtype = getattr(torch, dtype)
    if target.startswith("module:"):
        from archstat.trace.analyze import analyze_module
        from archstat.trace.factory import build_target_on_cpu, require_input

        shape = require_input(target, input_shape)
        module = build_target_on_cpu(target)   # a failing factory is a usage error, as in table and verify
        stats = analyze_module(module, shape, name=target[7:], batch=batch, dtype=dtype)
        name = target[7:]
    else:
        graph = load(target, params, input_shape=input_shape)
        stats = analyze(target, params, input_shape=input_shape, batch=batch, mode=mode, optimizer=optimizer,
                        dtype=dtype, fold=False)
        torch.manual_seed(0)
        module = build(graph)
        shape = graph.input_shape
        name = graph.name
    row_macs = {r.name: r.macs for r in stats.rows}
    estimate = memory_estimate(stats)
    macs = stats.totals.macs * (3 if mode == "train" else 1)   # backward ≈ 2 × forward (input and weight grads)
    rss = RSSPeak() if dev.type == "cpu" else contextlib.nullcontext()
    try:
        with rss:
            latencies, weights, base, step, module = _measure(module, shape, dev, torch_dtype, batch, mode, optimizer,
                                                              channels_last, warmup, iters, time_budget, on_progress)
        if dev.type == "cuda":
            peak = torch.cuda.max_memory_allocated(dev) - base
            method = "torch.cuda.max_memory_allocated (allocator peak)"
        else:
            peak = rss.increase
            method = "peak resident memory increase of the process, sampled every 0.5 ms"
        layers = _layer_times(module, step, dev, row_macs, stats, layer_repeats) if per_layer else []
    except Exception as exc:
        if _is_oom(exc):
            raise RuntimeFailure(_oom_message(target, dev, batch, estimate, params, input_shape, mode, optimizer))
        raise
    device_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name()
    peak_flops = _datasheet_peak(device_name, dtype) if dev.type == "cuda" else None
    prediction, why = predict(stats, str(dev), device_name, dtype, mode)
    return Profile(name, str(dev), device_name, torch.__version__, dtype, batch, mode,
                   optimizer if mode == "train" else None, channels_last,
                   torch.get_num_threads() if dev.type == "cpu" else None, warmup, len(latencies), latencies, macs,
                   peak, weights, estimate, layers, peak_flops, method, prediction, why)


def _datasheet_peak(gpu_name: str, dtype: str) -> Optional[float]:
    """The dense peak of this GPU at ``dtype`` from archstat/data/devices.yaml, where it is listed."""
    from archstat.analyze.devices import datasheet_for, resolve_dtype

    sheet = datasheet_for(gpu_name)
    return sheet.peak_flops.get(resolve_dtype(dtype)[1]) if sheet else None


def predict(stats, device: str, device_name: str, dtype: str, mode: str):
    """The roofline of the rows just measured (eager: in-place ops as their own passes), on this
    device's calibration or its datasheet: (Roofline or None, why not)."""
    from archstat.analyze.devices import roof_for_run
    from archstat.analyze.roofline import roofline

    if mode != "eval":
        return None, "no prediction in train mode (the roofline covers the forward pass)"
    roof, why = roof_for_run(device, device_name, dtype)
    return (roofline(stats, roof), "") if roof is not None else (None, why)


def memory_estimate(stats) -> int:
    """What archstat expects the run to hold: the training estimate in train mode, else params and
    every activation (an upper bound for inference, which frees activations as it goes)."""
    if stats.training is not None:
        return stats.training.total
    return stats.totals.params * stats.bytes_per_element + stats.totals.activation_bytes


def _measure(module, shape, dev, torch_dtype, batch, mode, optimizer, channels_last, warmup, iters, time_budget,
             on_progress):
    """Move the module, warm up, time the steps: (latencies ms, weight bytes, allocator base, step, module)."""
    torch = require_torch()
    base = 0
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    module = module.to(device=dev, dtype=torch_dtype)
    memory_format = torch.channels_last if channels_last and len(shape) == 3 else torch.contiguous_format
    if channels_last and len(shape) == 3:
        module = module.to(memory_format=torch.channels_last)
    weights = (torch.cuda.memory_allocated(dev) - base) if dev.type == "cuda" else \
        sum(p.numel() * p.element_size() for p in module.parameters())
    x = torch.randn(batch, *shape, device=dev, dtype=torch_dtype).contiguous(memory_format=memory_format)
    step = make_step(module, x, mode, optimizer)
    for i in range(warmup):
        step()
        if on_progress:
            on_progress("warm-up", i + 1, warmup)
    _sync(dev)
    latencies: list[float] = []
    deadline = time.perf_counter() + time_budget if time_budget else None
    while (len(latencies) < iters) if deadline is None else (time.perf_counter() < deadline or len(latencies) < 3):
        latencies.append(_timed(step, dev))
        if on_progress:
            on_progress("measuring", len(latencies), iters if deadline is None else len(latencies))
    return latencies, weights, base, step, module


def _timed(step, dev) -> float:
    torch = require_torch()
    if dev.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        torch.cuda.synchronize(dev)
        return start.elapsed_time(end)
    t0 = time.perf_counter()
    step()
    _sync(dev)
    return (time.perf_counter() - t0) * 1e3


def _layer_times(module, step, dev, row_macs: dict, stats, repeats: int = 3) -> list[LayerTime]:
    """A separate pass: synchronised hooks around every row's module; the median of a few steps."""
    ops = {r.name: r.op for r in stats.rows}
    modules = dict(module.named_modules())
    times: dict[str, list[float]] = {}
    starts: dict[str, float] = {}
    hooks = []
    for name in row_macs:
        if name in modules and name:
            m = modules[name]

            def pre(mod, inp, _n=name):
                _sync(dev)
                starts[_n] = time.perf_counter()

            def post(mod, inp, out, _n=name):
                _sync(dev)
                times.setdefault(_n, []).append((time.perf_counter() - starts[_n]) * 1e3)

            hooks += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    try:
        for _ in range(repeats):
            step()
    finally:
        for h in hooks:
            h.remove()
    out = []
    for name, values in times.items():
        # merges hold their branches as children: their own time is the merge alone
        out.append(LayerTime(name, ops.get(name, ""), statistics.median(values), row_macs.get(name, 0), values))
    return out


def _cpu_name() -> str:
    import platform

    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _oom_message(target, dev, batch, estimate, params, input_shape, mode, optimizer) -> str:
    torch = require_torch()
    from archstat.api import analyze

    text = f"out of memory at batch {batch} on {dev} (archstat's estimate: {estimate / 2**30:.2f} GiB)"
    if dev.type != "cuda" or target.startswith("module:"):
        return text
    free, total = torch.cuda.mem_get_info(dev)
    fits = 0
    for b in (2 ** k for k in range(0, 20)):
        if b >= batch:
            break
        s = analyze(target, params, input_shape=input_shape, batch=b, mode=mode, optimizer=optimizer)
        if memory_estimate(s) <= total * 0.9:
            fits = b
    return text + (f"; batch {fits} fits by estimate in {total / 2**30:.1f} GiB" if fits else "")
