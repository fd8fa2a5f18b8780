"""``archstat profile``: latency, throughput, achieved MAC/s and peak memory of the built module.

Timing is done as GPU engineers expect: warm-up first; on CUDA, a pair of CUDA events on the module's
own device and stream around each step and a synchronisation of that device before reading them (never
host timers around asynchronous work); on the CPU, ``time.perf_counter`` with the thread count
reported. Everything CUDA runs inside ``torch.cuda.device(dev)``, so ``cuda:1`` is measured on cuda:1
(events, streams, memory statistics, ``empty_cache``). A train step is forward, backward and an
optimizer step; with float16/bfloat16 it is AMP as people train (autocast, fp32 master weights, a
GradScaler for float16) unless ``precision='pure'`` casts the whole model.

The per-layer view comes from a separate pass: a pair of CUDA events per row recorded by hooks on the
stream the module runs on, read after one synchronisation at the end (no synchronisation inside the
pass), each row's own time (its children's subtracted), and the sum of the rows set against the whole
pass timed by events around it.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from archstat import dtypes
from archstat.builder import require_torch
from archstat.enums import StrEnum
from archstat.errors import RuntimeFailure, UsageError
from archstat.perf.runtime import Runtime, measurable


class PrecisionMode(StrEnum):
    """How ``profile`` runs a low-precision dtype: ``amp`` (autocast over fp32 master weights), ``pure`` (the
    module cast to the dtype), or ``auto`` (amp for a float16/bfloat16 training step, else pure)."""

    AUTO = "auto"
    AMP = "amp"
    PURE = "pure"


PRECISIONS = tuple(PrecisionMode)
# allocation failures that are out-of-memory whatever library raised them
OOM_TEXT = ("out of memory", "cudnn_status_alloc_failed", "cublas_status_alloc_failed", "cufft_alloc_failed",
            "cusolver_status_alloc_failed", "cusparse_status_alloc_failed", "cudnn_status_not_enough_workspace",
            "not enough memory", "can't allocate memory", "cannot allocate memory",
            "failed to allocate", "hipblas_status_alloc_failed", "miopenstatusallocfailed")
FIT_SHARE = 0.9        # a batch "fits by estimate" when its estimate is within this share of the memory


def tensor_device(dev):
    """Where the tensors of a run on ``dev`` live: ``dev`` itself. (The one seam of the tests' fake CUDA
    layer, which keeps tensors on the CPU while every torch.cuda call sees the device.)"""
    return dev


@dataclass
class LayerTime:
    name: str
    op: str
    time_ms: float                 # the median of the passes (the row's own time: children excluded)
    macs: int
    samples_ms: list[float] = field(default_factory=list)   # every pass

    @property
    def macs_per_s(self) -> float:
        return self.macs / (self.time_ms / 1e3) if self.time_ms > 0 else 0.0


@dataclass(kw_only=True)
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
    macs_per_step: Optional[int]   # None: a training step whose backward could not be traced
    measured_peak_bytes: int
    weights_bytes: int
    estimate_bytes: int
    layers: list[LayerTime] = field(default_factory=list)
    peak_flops: Optional[float] = None
    memory_method: str = ""
    prediction: Any = None                # perf.roofline.Roofline of the same rows (eval mode), or None
    prediction_note: str = ""             # why there is none
    precision: str = "pure"               # amp (autocast, fp32 weights) or pure (the module cast to dtype)
    math: dict = field(default_factory=dict)        # op kind (conv, matmul) → the peak key of the math that ran
    tf32: Optional[dict] = None           # CUDA float32: {conv, matmul: bool, source, api}
    cudnn_benchmark: Optional[bool] = None
    layer_method: str = ""
    layer_passes_ms: list[float] = field(default_factory=list)   # the whole passes of the per-layer pass
    layer_plain_ms: list[float] = field(default_factory=list)    # plain steps run between those passes
    environment: dict = field(default_factory=dict)
    device_entry: Optional[dict] = None   # the devices.yaml entry the device maps to: {key, how}
    peak_note: str = ""                   # what peak_flops is (the math per kind, the entry)
    runtime: str = "eager"                # eager, or compile (the module ran under torch.compile)

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
    def macs_per_s(self) -> Optional[float]:
        return None if self.macs_per_step is None else self.macs_per_step / (self.median_ms / 1e3)

    @property
    def peak_share(self) -> Optional[float]:
        rate = self.macs_per_s
        return None if not self.peak_flops or rate is None else 2 * rate / self.peak_flops

    @property
    def layers_sum_ms(self) -> Optional[float]:
        """The sum of the rows' own times (medians), or None without a per-layer pass."""
        return sum(x.time_ms for x in self.layers) if self.layers else None

    @property
    def layer_pass_ms(self) -> Optional[float]:
        """The median whole pass of the per-layer pass (the same passes the rows were timed in)."""
        return statistics.median(self.layer_passes_ms) if self.layer_passes_ms else None

    @property
    def layers_gap_ms(self) -> Optional[float]:
        """Whole pass − sum of rows: time in no row (ops outside any row's module, launch gaps; in train
        mode the backward pass and the optimizer step, which no forward hook sees)."""
        if self.layers_sum_ms is None or self.layer_pass_ms is None:
            return None
        return self.layer_pass_ms - self.layers_sum_ms

    @property
    def hooks_share(self) -> Optional[float]:
        """What the per-layer pass's clock reads cost: its whole step ÷ plain steps run between its passes,
        less one (the same minutes, so the same load)."""
        if not self.layer_plain_ms or not self.layer_pass_ms:
            return None
        return self.layer_pass_ms / statistics.median(self.layer_plain_ms) - 1.0

    @property
    def pass_to_step(self) -> Optional[float]:
        """The per-layer pass's whole step ÷ the measured median step."""
        return self.layer_pass_ms / self.median_ms if self.layer_pass_ms and self.median_ms else None


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
                                 f"{', '.join(available)}; without a GPU, archstat roofline MODEL --device h100 "
                                 "predicts the time on one (archstat devices lists the GPUs it knows)")
        index = text.split(":", 1)[1] if ":" in text else str(torch.cuda.current_device())
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise RuntimeFailure(f"no device {text}; available devices: {', '.join(available)}")
        return torch.device(f"cuda:{index}")
    if kind == "mps" and "mps" not in available:
        raise RuntimeFailure(f"MPS is not available on this machine; available devices: {', '.join(available)}")
    return torch.device(kind)


@contextlib.contextmanager
def on_device(dev):
    """The block runs with ``dev`` as the current CUDA device (kernels, default streams, cuBLAS/cuDNN
    handles, empty_cache all on it); nothing to do elsewhere."""
    torch = require_torch()
    if dev.type == "cuda":
        with torch.cuda.device(dev):
            yield
    else:
        yield


def _sync(device):
    torch = require_torch()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def quiet_numpy_warning() -> None:
    """torch warns 'Failed to initialize NumPy' at import where numpy is missing (archstat does not need
    it): that line is noise in profile's output, so it is filtered before torch is imported."""
    warnings.filterwarnings("ignore", message=r"Failed to initialize NumPy", category=UserWarning)


def _current_rss_bytes() -> Optional[int]:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


class PeakSampler:
    """The peak increase of a memory figure (``read()``) while in the block: a thread samples it every
    half millisecond. ``fallback`` (a lifetime peak) is used where ``read`` gives nothing."""

    def __init__(self, read: Callable[[], Optional[int]], fallback: Optional[Callable[[], int]] = None):
        self.read, self.fallback = read, fallback
        self.increase = 0

    def __enter__(self):
        self.base = self.read()
        self.peak = self.base or 0
        self._stop = threading.Event()
        if self.base is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        elif self.fallback:
            self._start = self.fallback()
        return self

    def _run(self):
        while not self._stop.wait(0.0005):
            value = self.read()
            if value is not None and value > self.peak:
                self.peak = value

    def __exit__(self, *exc):
        self._stop.set()
        if self.base is not None:
            self._thread.join()
            value = self.read()
            if value is not None and value > self.peak:
                self.peak = value
            self.increase = max(0, self.peak - self.base)
        elif self.fallback:
            self.increase = max(0, self.fallback() - self._start)
        return False


def RSSPeak() -> PeakSampler:
    """The peak increase of the process's resident memory (getrusage's lifetime peak the fallback)."""
    return PeakSampler(_current_rss_bytes, _maxrss_bytes)


def _maxrss_bytes() -> int:
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def is_oom(exc: BaseException) -> bool:
    """An allocation failure: torch's OutOfMemoryError, MemoryError, or a library's alloc-failed status
    (cuDNN, cuBLAS, …) that torch raises as a RuntimeError."""
    torch = require_torch()
    if isinstance(exc, (MemoryError, getattr(torch.cuda, "OutOfMemoryError", MemoryError))):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(t in text for t in OOM_TEXT)



def _grad_scaler(device_type: str):
    torch = require_torch()
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler(device_type)
    return torch.cuda.amp.GradScaler()   # pragma: no cover - torch < 2.3


@dataclass
class StepFn:
    """One measured step (a forward, or a training step), and what it runs with."""

    fn: Callable[[], Any]
    autocast: Any = None                 # the autocast dtype, or None
    optimizer: Any = None                # a training step's optimizer
    scaler: Any = None                   # its GradScaler (fp16 autocast on CUDA), or None

    def __call__(self) -> Any:
        return self.fn()


def make_step(module, x, mode: str, optimizer: Optional[str], *, amp_dtype=None,
              device_type: Optional[str] = None) -> Callable[[], Any]:
    """One step: eval (inference_mode) or train (forward, a stand-in loss, backward, optimizer step).
    ``amp_dtype`` (torch.float16 / torch.bfloat16): autocast on ``device_type`` around the forward, the
    module's fp32 weights the master copy, and for float16 a GradScaler (scale, step, update)."""
    torch = require_torch()
    device_type = device_type or x.device.type
    autocast = (lambda: torch.autocast(device_type=device_type, dtype=amp_dtype)) if amp_dtype is not None else \
        contextlib.nullcontext
    if mode == "eval":
        module.eval()

        def infer():
            with torch.inference_mode(), autocast():
                return module(x)
        return StepFn(infer, autocast=amp_dtype)
    from archstat.trace.run import nothing_to_train, stand_in_loss

    module.train()
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise UsageError(nothing_to_train(module))
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=1e-3)
    elif optimizer == "momentum":
        opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    else:
        opt = torch.optim.Adam(params, lr=1e-3)
    scaler = _grad_scaler(device_type) if amp_dtype is torch.float16 else None

    def train():
        with autocast():
            # the loss the prediction's traced backward ran (every floating output takes a gradient)
            loss = stand_in_loss(module(x), module)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=True)
        return loss
    return StepFn(train, autocast=amp_dtype, optimizer=opt, scaler=scaler)


def resolve_precision(precision: str, dtype: str, mode: str) -> str:
    """'auto' → 'amp' for float16/bfloat16 training, else 'pure'; 'amp' needs a low-precision dtype."""
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision}: expected one of {', '.join(PRECISIONS)}")
    if precision == PrecisionMode.AUTO:
        return PrecisionMode.AMP if mode == "train" and dtype != "float32" else PrecisionMode.PURE
    if precision == PrecisionMode.AMP and dtype == "float32":
        raise UsageError("--precision amp: autocast runs in float16 or bfloat16; pass --dtype float16 or bfloat16")
    return precision


def profile(target: str, *, device: str = "cpu", batch: int = 1, dtype: str = "float32", mode: str = "eval",
            optimizer: str = "adam", warmup: int = 3, iters: int = 10, time_budget: Optional[float] = None,
            channels_last: bool = False, params: Optional[dict] = None, input_shape=None, per_layer: bool = True,
            layer_repeats: int = 3, on_progress: Optional[Callable[[str, int, int], None]] = None,
            precision: str = "auto", tf32: Optional[bool] = None,
            cudnn_benchmark: Optional[bool] = None, runtime: str = "eager") -> Profile:
    """Measure ``target`` on ``device``. ``precision``: 'amp' (autocast with fp32 master weights; float16
    training adds a GradScaler), 'pure' (the whole module cast to ``dtype``) or 'auto' (amp for float16 /
    bfloat16 training, pure otherwise). ``tf32`` (CUDA, float32): True/False sets TF32 for convs and
    matmuls for the run, None follows PyTorch's live settings; either way the math that ran is recorded.
    ``cudnn_benchmark``: set torch.backends.cudnn.benchmark for the run (None: as it is).
    ``runtime``: 'eager', or 'compile' (the module under torch.compile, Inductor's defaults; no
    per-layer pass, which needs the module's hooks): the prediction beside it plans the same runtime."""
    quiet_numpy_warning()
    torch = require_torch()
    from archstat.profile import precision as fp32math
    from archstat.zoo import as_target

    target = as_target(target)   # a zoo module's name → its module: target

    dtype = dtypes.canonical(dtype, dtypes.PROFILE)
    precision = resolve_precision(precision, dtype, mode)
    dev = resolve_device(device)
    if tf32 is not None and (dev.type != "cuda" or dtype != "float32"):
        raise UsageError("--tf32/--no-tf32: TF32 is how CUDA GPUs (Ampere and later) run float32; it applies "
                         "with --device cuda and --dtype float32")
    if cudnn_benchmark is not None and dev.type != "cuda":
        raise UsageError("--cudnn-benchmark: cuDNN's autotuner runs on CUDA devices only")
    if runtime not in measurable():
        raise UsageError(f"--runtime {runtime}: profile measures eager or compile (torch.compile); an inference "
                         "engine's time is predicted by archstat roofline --runtime engine")
    if runtime == Runtime.COMPILE:
        per_layer = False
    torch_dtype = getattr(torch, dtype)
    amp = precision == PrecisionMode.AMP
    stats, module, shape, name, in_dtype = _build(target, params, input_shape, batch, dtype, mode, optimizer, amp)
    if channels_last and len(shape) != 3:
        raise UsageError(f"--channels-last: NHWC applies to image inputs (C×H×W); this input is "
                         f"{'×'.join(map(str, shape))}")
    row_macs = {r.name: r.macs for r in stats.rows}
    estimate = memory_estimate(stats)
    with on_device(dev), fp32math.use(torch, conv=tf32, matmul=tf32), \
            fp32math.cudnn_benchmark(torch, cudnn_benchmark):
        live = fp32math.read(torch) if dev.type == "cuda" else None
        bench = bool(torch.backends.cudnn.benchmark) if dev.type == "cuda" else None
        environment = _environment(torch, dev, live, bench)
        sampler: Any = (RSSPeak() if dev.type == "cpu" else
                   PeakSampler(lambda: torch.mps.current_allocated_memory()) if dev.type == "mps" else
                   contextlib.nullcontext())
        try:
            with sampler:
                latencies, weights, base, step, module = _measure(
                    module, shape, dev, torch_dtype, batch, mode, optimizer, channels_last, warmup, iters,
                    time_budget, on_progress, amp, runtime, in_dtype)
            if dev.type == "cuda":
                peak = torch.cuda.max_memory_allocated(dev) - base
                method = f"torch.cuda.max_memory_allocated({dev}) (allocator peak)"
            elif dev.type == "mps":
                peak = sampler.increase
                method = "torch.mps.current_allocated_memory, sampled every 0.5 ms (MPS has no peak statistic)"
            else:
                peak = sampler.increase
                method = "peak resident memory increase of the process, sampled every 0.5 ms"
            layers, passes, plain, layer_method = (
                _layer_times(module, step, dev, row_macs, stats, layer_repeats) if per_layer else ([], [], [], ""))
        except Exception as exc:
            if is_oom(exc):
                if dev.type == "cuda":
                    with contextlib.suppress(Exception):
                        torch.cuda.empty_cache()
                raise RuntimeFailure(_oom_message(stats, dev, batch, estimate, exc)) from None
            raise
    device_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (
        "Apple GPU (MPS)" if dev.type == "mps" else _cpu_name())
    props = torch.cuda.get_device_properties(dev) if dev.type == "cuda" else None
    math = math_kinds(dtype, live, props)
    tf32_record = None
    if live is not None and dtype == "float32":
        tf32_record = {"conv": math["conv"] == "tf32", "matmul": math["matmul"] == "tf32",
                       "requested": tf32, "source": ("PyTorch's live settings" if tf32 is None else
                                                     "--tf32" if tf32 else "--no-tf32"),
                       "settings": live.as_dict(), "device_has_tf32": fp32math.device_has_tf32(props)}
    memory_bytes = getattr(props, "total_memory", None)
    sms = getattr(props, "multi_processor_count", None)
    untraced = ""
    try:
        kernels = prediction_calls(target, params, input_shape, module, shape, batch, mode, in_dtype)
    except Exception as exc:   # the measurement stands; the prediction (and a step's MACs) say why they cannot
        kernels, untraced = None, " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    macs = _step_macs(stats, kernels, mode)
    prediction, why, peak_flops, peak_note, entry = _predict(
        stats, str(dev), device_name, mode, math, memory_bytes, sms, kernels=kernels, batch=batch, dtype=dtype,
        precision=precision, channels_last=channels_last, optimizer=optimizer, runtime=runtime)
    if untraced and prediction is None:
        why = f"{why} ({untraced})"
    return Profile(model=name, device=str(dev), device_name=device_name, torch_version=torch.__version__,
                   dtype=dtype, batch=batch, mode=mode, optimizer=optimizer if mode == "train" else None,
                   channels_last=channels_last, threads=torch.get_num_threads() if dev.type == "cpu" else None,
                   warmup=warmup, iters=len(latencies), latencies_ms=latencies, macs_per_step=macs,
                   measured_peak_bytes=peak, weights_bytes=weights, estimate_bytes=estimate, layers=layers,
                   peak_flops=peak_flops, memory_method=method, prediction=prediction, prediction_note=why,
                   precision=precision, math=math, tf32=tf32_record, cudnn_benchmark=bench,
                   layer_method=layer_method, layer_passes_ms=passes, layer_plain_ms=plain,
                   environment=_with_load_after(environment), device_entry=entry,
                   peak_note=peak_note, runtime=runtime)


def _step_macs(stats, kernels, mode: str) -> Optional[int]:
    """The MACs one measured step runs: the forward's (the table's total); a training step's from its traced
    backward as the performance model plans it (``perf.plan.step_macs``), None when that trace failed."""
    if mode != "train":
        return stats.totals.macs
    if kernels is None:
        return None
    from archstat.perf.plan import step_macs

    return step_macs(kernels)


def _environment(torch, dev, live, bench) -> dict:
    from archstat.profile.environment import collect

    return collect(torch, dev, live, bench)


def _with_load_after(environment: dict) -> dict:
    from archstat.profile.environment import load_average

    return {**environment, "load_average_after": load_average()}


def _build(target, params, input_shape, batch, dtype, mode, optimizer, amp):
    """(analytic stats, the module on the CPU, the input shape, the model's name, the input's dtype or None)."""
    torch = require_torch()
    from archstat.api import analyze, build, load

    if target.startswith("module:"):
        from archstat.trace.analyze import analyze_module
        from archstat.trace.factory import build_target_on_cpu, load_target
        from archstat.zoo import shown_name

        built = load_target(target)   # on the meta device: what it holds is known before anything is allocated
        spec = _module_input(target, built, input_shape)
        stats = analyze_module(built.model, spec, name=shown_name(target), batch=batch, dtype=dtype,
                               notes=tuple(built.notes), cpu_model=lambda: build_target_on_cpu(target))
        _fits_on_the_host(built.model, stats, batch)
        try:
            module = build_target_on_cpu(target)   # a failing factory is a usage error, as in table and verify
        except RuntimeFailure:
            raise
        except Exception as exc:
            if is_oom(exc):
                raise RuntimeFailure(_oom_message(stats, torch.device("cpu"), batch, memory_estimate(stats), exc)
                                     ) from None
            raise
        from archstat.trace.analyze import materialize_lazy
        from archstat.trace.inputs import InputSet

        materialize_lazy(module, InputSet((spec,)), 1, "cpu")   # lazy modules take their shapes from a forward
        return stats, module, tuple(spec.shape), shown_name(target), spec.dtype
    graph = load(target, params, input_shape=input_shape)
    stats = analyze(target, params, input_shape=input_shape, batch=batch, mode=mode, optimizer=optimizer,
                    dtype=dtype, fold=False, amp=amp and mode == "train")
    torch.manual_seed(0)
    return stats, build(graph), graph.input_shape, graph.name, None


def _module_input(target: str, built, input_shape):
    """The one positional input profile feeds a module: ``--input``, else the factory's example input, else the
    model's own size (timm, torchvision); its dtype resolved for the model (token ids for an Embedding)."""
    from archstat.trace.factory import find_input

    # the input as every command finds it (--input, the factory's, the model's own), else a one-line error
    inputs = find_input(built.model, input_shape, target=target, example=built.inputs or None)
    s = inputs.resolved(built.model).specs[0]
    if len(inputs.specs) != 1 or s.name or s.batch_dim != 0 or s.is_value:
        raise UsageError(f"{inputs.source}: profile measures one plain input (a shape such as 3x224x224), got "
                         f"{inputs.text()}")
    return s


def _fits_on_the_host(model, stats, batch: int) -> None:
    """A module is built on the CPU before it moves to its device: refuse, as out of memory with the estimate,
    one whose parameters and buffers alone exceed the memory this machine has available."""
    torch = require_torch()
    held = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    capacity, what = _capacity(torch.device("cpu"))
    if capacity and held > capacity:
        raise RuntimeFailure(f"out of memory: the model's parameters and buffers take {held / 1e9:,.1f} GB "
                             f"({stats.totals.params:,} parameters), more than {what} ({capacity / 1e9:,.1f} GB) "
                             f"to build it on the CPU; archstat's estimate for the run at batch {batch}: "
                             f"{memory_estimate(stats) / 2**30:,.2f} GiB")


def math_kinds(dtype: str, live, props) -> dict:
    """The peak key of the math each op kind ran in: float16/bfloat16 (pure or autocast) run convs and
    matmuls in that dtype; float32 on a CUDA device with TF32 tensor cores follows the live settings
    (``live``: precision.Math), per kind; elsewhere float32 is FP32."""
    if dtype != "float32":
        return {"conv": dtypes.DTYPES[dtype].peak, "matmul": dtypes.DTYPES[dtype].peak}
    from archstat.profile.precision import device_has_tf32

    tf32_ok = live is not None and props is not None and device_has_tf32(props)
    return {"conv": "tf32" if tf32_ok and live.conv else "fp32",
            "matmul": "tf32" if tf32_ok and live.matmul else "fp32"}


CONV_KINDS = ("conv", "depthwise")


def prediction_calls(target, params, input_shape, module, shape, batch: int, mode: str,
                     in_dtype: Optional[str] = None):
    """The operators the prediction plans: a config's from its recipes (inference: ``api.program``),
    else the module's (the one measured), traced on the meta device at ``batch`` (with its backward
    pass for a training step)."""
    from archstat.trace.analyze import analyze_module

    if mode == "eval" and not target.startswith("module:"):
        from archstat.api import program

        return program(target, params, input_shape=input_shape, batch=batch)[1]
    from archstat.trace.inputs import InputSpec

    return analyze_module(module, InputSpec(tuple(shape), in_dtype), batch=batch,
                          mode="train" if mode == "train" else "eval", backward=mode == "train").op_calls


def _predict(stats, device: str, device_name: str, mode: str, math: dict, memory_bytes=None, sms=None, *,
             kernels=None, batch: int = 1, dtype: str = "float32", precision: str = "pure",
             channels_last: bool = False, optimizer: Optional[str] = None, runtime: str = "eager"):
    """THE prediction beside a measurement, in one place: the performance model's (archstat.perf) latency of
    this run (eager PyTorch, this batch, dtype, autocast or not, layout; a training step with its
    backward and optimizer) on this device's calibration or the datasheet of the exact part, each op kind
    at the peak of the math that ran (``math``: conv → 'tf32', matmul → 'fp32', …).
    Returns (Roofline or None, why not, peak FLOP/s for the share of peak or None, what that peak is,
    the devices.yaml entry {key, how} or None)."""
    from archstat.analyze.devices import match_device
    from archstat.calibration import roof_for_run
    from archstat.perf.roofline import kind

    entry, peak_flops, peak_note = None, None, ""
    sheet = None
    if device.startswith("cuda"):
        found = match_device(device_name, memory_bytes, sms=sms)
        entry = {"key": found.device.key if found.device else None, "how": found.how}
        sheet = found.device
    if sheet is not None and stats is not None:
        conv_macs = sum(r.macs for r in stats.rows if kind(r) in CONV_KINDS)
        matmul_macs = sum(r.macs for r in stats.rows if r.macs and kind(r) not in CONV_KINDS)
        peaks = {k: sheet.peak_flops.get(v) for k, v in math.items()}
        if all(peaks.values()):
            seconds = conv_macs / peaks["conv"] + matmul_macs / peaks["matmul"]
            peak_flops = (conv_macs + matmul_macs) / seconds if seconds else peaks["conv"]
            peak_note = (f"{sheet.key}'s dense {math['conv']} peak" if math["conv"] == math["matmul"] else
                         f"{sheet.key}'s dense peaks of the math that ran, weighted by MACs: convs "
                         f"{math['conv']}, matmuls {math['matmul']}")
    if not device.startswith(("cpu", "cuda")):
        return (None, f"no prediction on {device}: archstat has neither a calibration nor a datasheet for it",
                peak_flops, peak_note, entry)
    if kernels is None:
        return None, "no prediction: the run's operators were not traced", peak_flops, peak_note, entry
    from archstat.prediction import predict_run

    low = dtypes.DTYPES[dtype].peak if dtype in dtypes.PROFILE else "fp32"
    roof, why = roof_for_run(device, device_name, low, memory_bytes=memory_bytes, sms=sms)
    if roof is None:
        return None, why, peak_flops, peak_note, entry
    amp = precision == PrecisionMode.AMP and dtype != "float32"
    tf32 = {"conv": math.get("conv") == "tf32", "matmul": math.get("matmul") == "tf32"}
    perf_optimizer = None
    if mode == "train":
        perf_optimizer = "adamw" if optimizer == "adam" else "sgd"
    rl = predict_run(stats, kernels, roof, device=device, peak_key=low, batch=batch, runtime=runtime, amp=amp,
                     tf32=tf32, channels_last=channels_last, optimizer=perf_optimizer)
    return rl, "", peak_flops, peak_note, entry


def predict(stats, device: str, device_name: str, dtype: str, mode: str, *, kernels=None, batch: int = 1):
    """(Roofline or None, why not) for a run at ``dtype`` with float32 as FP32 (see _predict)."""
    dtype = dtypes.canonical(dtype, dtypes.PROFILE) if dtype in dtypes.spellings(dtypes.PROFILE) else dtype
    peak = dtypes.DTYPES[dtype].peak if dtype in dtypes.PROFILE else "fp32"
    kinds = {"conv": peak, "matmul": peak}
    rl, why, *_ = _predict(stats, device, device_name, mode, kinds, kernels=kernels, batch=batch, dtype=dtype)
    return rl, why


def memory_estimate(stats) -> int:
    """What archstat expects the run to hold: the training estimate in train mode, else params and
    every activation (an upper bound for inference, which frees activations as it goes)."""
    if stats.training is not None:
        return stats.training.total
    return stats.totals.params * stats.bytes_per_element + stats.totals.activation_bytes


def estimate_parts(stats) -> tuple[int, float]:
    """The estimate as fixed + per-sample bytes (it is linear in the batch): weights (and in training
    gradients, optimizer state and autocast's weight copies) are fixed; activations grow with the batch."""
    batch = max(1, stats.batch)
    if stats.training is not None:
        t = stats.training
        fixed = t.param_bytes + t.grad_bytes + t.optimizer_bytes + t.weight_copy_bytes
        return fixed, t.saved_bytes / batch
    return stats.totals.params * stats.bytes_per_element, stats.totals.activation_bytes / batch


def _capacity(dev) -> tuple[Optional[int], str]:
    """The memory the device has, bytes, and what that figure is."""
    torch = require_torch()
    if dev.type == "cuda":
        with contextlib.suppress(Exception):
            return int(torch.cuda.mem_get_info(dev)[1]), f"{dev}'s memory"
        with contextlib.suppress(Exception):
            return int(torch.cuda.get_device_properties(dev).total_memory), f"{dev}'s memory"
        return None, ""
    if dev.type == "mps":
        fn = getattr(torch.mps, "recommended_max_memory", None)
        with contextlib.suppress(Exception):
            if fn:
                return int(fn()), "MPS's recommended maximum"
        return None, ""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "the memory available to processes"
    except (OSError, ValueError, IndexError):
        pass
    return None, ""


def _oom_message(stats, dev, batch, estimate, exc=None) -> str:
    """Out of memory, with archstat's estimate and the largest batch that fits by that estimate."""
    first = str(exc).strip().splitlines()[0][:160] if exc is not None and str(exc).strip() else type(exc).__name__
    text = f"out of memory at batch {batch} on {dev} ({first}; archstat's estimate: {estimate / 2**30:.2f} GiB)"
    capacity, what = _capacity(dev)
    if not capacity:
        return text
    fixed, per_sample = estimate_parts(stats)
    budget = FIT_SHARE * capacity - fixed
    fits = min(batch - 1, int(budget // per_sample)) if per_sample > 0 and budget > 0 else 0
    how = (f"{fixed / 2**30:.2f} GiB fixed + {per_sample / 2**20:.1f} MiB per sample, within "
           f"{FIT_SHARE:.0%} of {what}, {capacity / 2**30:.1f} GiB")
    if fits >= 1:
        return text + f"; batch {fits} fits by estimate ({how})"
    return text + f"; not even batch 1 fits by estimate ({how})"


def _measure(module, shape, dev, torch_dtype, batch, mode, optimizer, channels_last, warmup, iters, time_budget,
             on_progress, amp: bool = False, runtime: str = "eager", in_dtype: Optional[str] = None):
    """Move the module, warm up, time the steps: (latencies ms, weight bytes, allocator base, step, module)."""
    torch = require_torch()
    place = tensor_device(dev)
    base = 0
    if dev.type == "cuda":
        torch.cuda.empty_cache()          # the current device is dev (on_device)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    # amp: the weights stay fp32 (the master copy) and autocast casts per op; pure: the module is cast
    module = module.to(device=place) if amp else module.to(device=place, dtype=torch_dtype)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    weights = (torch.cuda.memory_allocated(dev) - base) if dev.type == "cuda" else \
        sum(p.numel() * p.element_size() for p in module.parameters())
    x_dtype = torch.float32 if amp else torch_dtype
    from archstat.trace.inputs import takes_tokens

    if in_dtype in ("int64", "int32") or (in_dtype is None and takes_tokens(module)):   # token ids, as table reads
        x = torch.zeros(batch, *shape, device=place, dtype=getattr(torch, in_dtype or "int64"))
    elif in_dtype == "bool":
        x = torch.ones(batch, *shape, device=place, dtype=torch.bool)
    else:
        x = torch.randn(batch, *shape, device=place, dtype=x_dtype)
    if channels_last:
        x = x.contiguous(memory_format=memory_format)
    # --runtime compile: torch.compile with Inductor's defaults (it compiles during the warm-up steps)
    run = torch.compile(module) if runtime == Runtime.COMPILE else module
    step = make_step(run, x, mode, optimizer, amp_dtype=torch_dtype if amp else None, device_type=place.type)
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
    """One step, ms: CUDA events on dev's current stream (the one the module's kernels go to), read after
    synchronising dev; elsewhere the host clock (MPS synchronised first)."""
    torch = require_torch()
    if dev.type == "cuda":
        stream = torch.cuda.current_stream(dev)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        step()
        end.record(stream)
        torch.cuda.synchronize(dev)
        return start.elapsed_time(end)
    t0 = time.perf_counter()
    step()
    _sync(dev)
    return (time.perf_counter() - t0) * 1e3


def _layer_times(module, step, dev, row_macs: dict, stats, repeats: int = 3):
    """A separate pass: each row's own time in each of ``repeats`` steps, and each step's whole time; on the
    CPU and MPS after each, one plain step without the hooks (the same minutes, so the same load: what the
    hooks cost is the difference; the measured median, taken earlier, may have seen another load).
    On CUDA a pair of events per row call, recorded by hooks on dev's current stream and read after ONE
    synchronisation at the end; on the CPU the host clock (CPU ops complete before they return); on MPS
    the host clock with a synchronisation in each hook (MPS has no per-stream timing events here).
    A row's own time is its call's time less the calls of rows nested in it (a merge holding its
    branches). Returns (layers, the whole passes in ms, the plain steps between them in ms, how they were
    timed)."""
    torch = require_torch()
    ops = {r.name: r.op for r in stats.rows}
    modules = dict(module.named_modules())
    cuda, mps = dev.type == "cuda", dev.type == "mps"
    stream = torch.cuda.current_stream(dev) if cuda else None

    def mark():
        if cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record(stream)
            return event
        if mps:
            _sync(dev)
        return time.perf_counter()

    def elapsed_ms(a, b) -> float:
        return a.elapsed_time(b) if cuda else (b - a) * 1e3

    calls: list[list] = []         # [name, start mark, end mark, index of the enclosing row call or None]
    open_calls: list[int] = []
    hooks: list = []

    def hook_rows() -> None:
        for name in row_macs:
            if name in modules and name:
                m = modules[name]

                def pre(mod, inp, _n=name):
                    calls.append([_n, mark(), None, open_calls[-1] if open_calls else None])
                    open_calls.append(len(calls) - 1)

                def post(mod, inp, out, _n=name):
                    if open_calls:
                        calls[open_calls.pop()][2] = mark()

                hooks.extend([m.register_forward_pre_hook(pre), m.register_forward_hook(post)])

    def unhook() -> None:
        for h in hooks:
            h.remove()
        hooks.clear()

    passes, plain = [], []
    try:
        for _ in range(repeats):
            hook_rows()
            begin = mark()
            first = len(calls)
            step()
            passes.append((begin, mark(), first, len(calls)))
            unhook()
            if not cuda:   # CUDA's events are read after one synchronisation at the end: no plain steps between
                plain.append(_timed(step, dev))
    finally:
        unhook()
    _sync(dev)                     # once, after every mark of every pass is recorded
    inclusive = [elapsed_ms(c[1], c[2]) if c[2] is not None else 0.0 for c in calls]
    own = list(inclusive)
    for i, c in enumerate(calls):
        if c[3] is not None:
            own[c[3]] -= inclusive[i]
    times: dict[str, list[float]] = {}
    for (_, _, first, last) in passes:
        per_pass: dict[str, float] = {}
        for i in range(first, last):
            per_pass[calls[i][0]] = per_pass.get(calls[i][0], 0.0) + max(0.0, own[i])
        for n, v in per_pass.items():
            times.setdefault(n, []).append(v)
    whole = [elapsed_ms(b, e) for b, e, _, _ in passes]
    layers = [LayerTime(n, ops.get(n, ""), statistics.median(v), row_macs.get(n, 0), v) for n, v in times.items()]
    method = (f"CUDA events per row on {dev}'s stream, read after one synchronisation" if cuda else
              "host clock per row, synchronising MPS in every hook" if mps else "host clock per row")
    return layers, whole, plain, method


def _cpu_name() -> str:
    from archstat.profile.environment import cpu_name

    return cpu_name()


