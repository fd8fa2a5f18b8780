"""The fit's core, importable without numpy or scipy and unit-tested (tests/test_prediction_core.py): which
coefficients move and how they map onto perf.yaml, how rows are grouped so that twins share a fold, and
the statistics every report quotes.

- **Parameters.** Each fitted value is a ``Param``: a name, the perf.yaml paths it writes (one path, or
  the same key in every GPU generation's set when the key is shared), its physical range from
  ``archstat/perf/coefficients.py``, and the rows it acts on (a generation's, every GPU's, the CPU's).
  ``TIED`` keys copy another key (a kind of kernel the tables never isolate). ``apply`` writes a vector
  of values into a copy of the coefficients.
- **Groups.** Two rows belong to one architecture when their models share timm's source module (every
  ``resnet*`` of ``timm.models.resnet``) or their traced graphs hash alike (``gluon_resnet50_v1b`` and
  ``resnet50``): a union-find over both keys. Cross-validation folds are drawn by group, so no
  architecture is predicted by coefficients fitted on its twin.
- **Statistics.** Error = |predicted/measured − 1| taken the larger way round (×1.5 either way is 50 %);
  the band is the 10–90 % range of measured ÷ predicted.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from archstat.perf.coefficients import BANDWIDTH, DEVICE, FRAMEWORK, HOST

# device-side keys a generation fits for itself (what the architecture changes: its tensor cores, its
# L2, its energy per operation, its launch); every other device-side key is shared by all GPU sets
PER_GENERATION = ("gemm_efficiency", "conv_efficiency", "attention_efficiency", "kernel_s", "l2_bytes_per_clock",
                  "l2_fraction", "energy_tensor_pj", "busy_power_w")
# bandwidth efficiencies the tables measure apart; the others move with one they do
BANDWIDTH_FITTED = ("pointwise", "reduction", "norm", "softmax", "pool", "copy", "transpose", "gather", "fused",
                    "matrix", "depthwise")
TIED = {"bandwidth_efficiency.cast": "bandwidth_efficiency.pointwise",
        "bandwidth_efficiency.fill": "bandwidth_efficiency.pointwise",
        "bandwidth_efficiency.other": "bandwidth_efficiency.copy"}
# the CPU table (one CPU, one runtime, batch 1) measures these; the rest keep their priors
CPU_FITTED = ("gemm_efficiency", "conv_efficiency", "grouped_efficiency", "depthwise_compute_efficiency",
              "attention_efficiency", "kernel_s", "l2_fraction", "l2_bytes_per_clock", "bandwidth_efficiency.fused",
              "bandwidth_efficiency.pool", "bandwidth_efficiency.matrix", "bandwidth_efficiency.depthwise")
# host costs per runtime and operator class the tables can tell apart (the rest copy one of them)
HOST_FITTED = {"gpu": {"eager": ("view", "pointwise", "norm", "conv", "gemm", "attention"),
                       "eager-pt1": ("view", "pointwise", "norm", "conv", "gemm", "attention"),
                       "compile": ("fused", "conv", "gemm", "attention")},
               "cpu": {"compile": ("fused", "conv", "gemm")}}
HOST_TIED = {"gpu": {"eager": {"alloc": "view", "fused": "pointwise"},
                     "eager-pt1": {"alloc": "view", "fused": "pointwise"},
                     "compile": {"pointwise": "fused", "norm": "fused"}},
             "cpu": {"compile": {"pointwise": "fused", "norm": "fused", "attention": "gemm"}}}
# shared GPU keys the tables cannot identify (nothing they measure depends on them enough): kept at priors
GPU_FIXED = ("energy_fp32_pj",)


@dataclass(frozen=True)
class Param:
    name: str                      # "sets.ada.gemm_efficiency", "gpu.tile_intensity" (shared), "host.gpu.eager.view"
    paths: tuple[str, ...]         # the perf.yaml paths it writes
    low: float
    high: float
    scope: str                     # the rows it acts on: a set name, "gpu" (every GPU set) or "host-gpu"/"host-cpu"


def _device_range(key: str) -> tuple[float, float]:
    if key.startswith("bandwidth_efficiency."):
        return BANDWIDTH.low, BANDWIDTH.high
    c = DEVICE[key]
    return c.low, c.high


def params(gpu_sets: Sequence[str], cpu: bool) -> list[Param]:
    """The fitted parameters for these GPU generations (and the CPU set): per-generation keys per set,
    shared keys once for every GPU set, host costs per runtime and class."""
    out: list[Param] = []
    shared = [k for k in DEVICE if k not in PER_GENERATION and k not in GPU_FIXED] + [
        f"bandwidth_efficiency.{k}" for k in BANDWIDTH_FITTED]
    for gen in gpu_sets:
        for key in PER_GENERATION:
            lo, hi = _device_range(key)
            out.append(Param(f"sets.{gen}.{key}", (f"sets.{gen}.{key}",), lo, hi, gen))
    if gpu_sets:
        for key in shared:
            lo, hi = _device_range(key)
            paths = tuple(f"sets.{gen}.{key}" for gen in gpu_sets)
            out.append(Param(f"gpu.{key}", paths, lo, hi, "gpu"))
    if cpu:
        for key in CPU_FITTED:
            lo, hi = _device_range(key)
            out.append(Param(f"sets.cpu.{key}", (f"sets.cpu.{key}",), lo, hi, "cpu"))
    for kind, runtimes in HOST_FITTED.items():
        if (kind == "gpu" and not gpu_sets) or (kind == "cpu" and not cpu):
            continue
        if kind == "gpu":             # what a build's cuDNN pays for NCHW around tensor-core convolutions
            f = FRAMEWORK["nchw_transpose_share"]
            for runtime in ("eager", "eager-pt1"):
                out.append(Param(f"host.gpu.{runtime}.nchw_transpose_share",
                                 (f"host.gpu.{runtime}.nchw_transpose_share",), f.low, f.high, "host-gpu"))
        for runtime, classes in runtimes.items():
            for cls in classes:
                # a launch costs at least half a microsecond of Python and dispatch: the floor
                out.append(Param(f"host.{kind}.{runtime}.{cls}", (f"host.{kind}.{runtime}.{cls}",), 0.5e-6,
                                 HOST.high, f"host-{kind}"))
    return out


def get(c: dict, path: str):
    for p in path.split(".")[:-1]:
        c = c[p]
    return c[path.split(".")[-1]]


def put(c: dict, path: str, value) -> None:
    for p in path.split(".")[:-1]:
        c = c.setdefault(p, {})
    c[path.split(".")[-1]] = value


def start(base: dict, ps: Sequence[Param]) -> list[float]:
    """The starting vector: each parameter's value in ``base`` (its first path), inside its range."""
    out = []
    for p in ps:
        v = float(get(base, p.paths[0]))
        out.append(min(max(v, p.low * 1.0001 + 1e-12), p.high * 0.9999))
    return out


def apply(base: dict, ps: Sequence[Param], values: Iterable[float]) -> dict:
    """A copy of ``base`` with every parameter written to its paths and every tied key copied."""
    c = copy.deepcopy(base)
    for p, v in zip(ps, values):
        for path in p.paths:
            put(c, path, float(v))
    for _name, values_ in (c.get("sets") or {}).items():
        for key, source in TIED.items():
            put(values_, key, get(values_, source))
    for kind, runtimes in HOST_TIED.items():
        for runtime, pairs in runtimes.items():
            table = c["host"][kind].setdefault(runtime, {})
            for key, source in pairs.items():
                table[key] = table[source]
    return c


def at_bounds(ps: Sequence[Param], values: Sequence[float], rel: float = 1e-3) -> list[str]:
    """The parameters the fit left at (within ``rel`` of) a bound of their range."""
    out = []
    for p, v in zip(ps, values):
        if abs(v - p.low) <= rel * max(abs(p.low), 1e-12):
            out.append(f"{p.name} at its lower bound {p.low:g}")
        elif abs(v - p.high) <= rel * max(abs(p.high), 1e-12):
            out.append(f"{p.name} at its upper bound {p.high:g}")
    return out


class Groups:
    """Union-find over row keys: two rows are one architecture when they share a source module or a graph."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def architecture_groups(models: dict[str, tuple[str, str]]) -> dict[str, str]:
    """model → its architecture group, from ``models``: model → (source module, graph hash); an empty
    key joins nothing."""
    g = Groups()
    for model, (module, graph) in models.items():
        g.find(f"model:{model}")
        if module:
            g.union(f"model:{model}", f"module:{module}")
        if graph:
            g.union(f"model:{model}", f"graph:{graph}")
    return {model: g.find(f"model:{model}") for model in models}


def fold_of(group: str, folds: int) -> int:
    """A group's fold: a stable hash (the same in every process and run)."""
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % folds


def batch_range(batch: int) -> str:
    """The batch regime a row or a prediction belongs to (archstat.prediction.batch_range)."""
    from archstat.prediction import batch_range as shared

    return shared(batch)


def like_for_like(preds: Sequence[dict]) -> list[bool]:
    """Which rows measured the work their prediction costs: every row but those the tables mark as predicted,
    never fitted (MLPerf's BERT, run on unpadded sequences); the bands and every figure but their own table's
    are made of these."""
    return [bool(p.get("fit", True)) and not p.get("not_fitted") for p in preds]


def stats(log_ratios: Sequence[float]) -> dict:
    """Median |error|, shares within ±25 % and ±50 %, worst, geometric mean of measured ÷ predicted, and
    the 10–90 % band of measured ÷ predicted, from log(predicted / measured) per row."""
    r = sorted(float(x) for x in log_ratios if not math.isnan(x))
    n = len(r)
    if not n:
        return {"n": 0, "median_error": None, "within_25": None, "within_50": None, "worst": None,
                "measured_over_predicted": None, "band": None}
    err = sorted(math.exp(abs(x)) - 1 for x in r)
    ratio = sorted(math.exp(-x) for x in r)

    def quantile(xs: list[float], q: float) -> float:
        pos = (len(xs) - 1) * q
        lo = int(pos)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    return {"n": n, "median_error": quantile(err, 0.5), "within_25": sum(e <= 0.25 for e in err) / n,
            "within_50": sum(e <= 0.5 for e in err) / n, "worst": math.exp(max(abs(x) for x in r)),
            "measured_over_predicted": math.exp(-sum(r) / n),
            "band": [quantile(ratio, 0.1), quantile(ratio, 0.9)]}
