"""The roofline of every row: what the performance model predicts for it on a device and a runtime, and
what holds it back. The result (:class:`Roofline`) is assembled here, beside the prediction it reads
(``perf.predict.Prediction``): pure arithmetic on a ModelStats and a Prediction; no torch.

A row's figures are the sums over the device kernels the plan runs for it (a fused kernel belongs to the
row of its first operator): MACs, bytes read and written over DRAM (``cached_bytes`` of the reads come
from the L2), compute and memory time, device time, host time and the number of kernels. Its bound is
what most of its device time is spent on. The totals are the schedule's: the latency of one step with
the host overlapping the device (``host_s``, ``device_s``, ``idle_s``), the throughput, and the band the
public measurements give for predictions of this kind (``band``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from archstat.analyze.devices import Roof
from archstat.analyze.stats import ModelStats, Row
from archstat.ir.aten import Kind, Sub
from archstat.perf.cost import KernelCost
from archstat.perf.device import DeviceSpec
from archstat.perf.predict import Prediction

# the plot's and the table's kinds, from the plan's kernel kinds and the ops they run
_STEP_KIND = {Kind.CONV: "conv", Kind.DEPTHWISE: "depthwise", Kind.GEMM: "linear", Kind.ATTENTION: "attention",
              Kind.HOST: "other"}
_SUB_KIND = {Sub.POOL: "pooling", Sub.NORM: "norm", Sub.SOFTMAX: "elementwise", Sub.POINTWISE: "elementwise",
             Sub.REDUCTION: "pooling", Sub.COPY: "merge", Sub.TRANSPOSE: "other", Sub.GATHER: "other",
             Sub.CAST: "elementwise", Sub.FILL: "other", Sub.FUSED: "elementwise", Sub.OTHER: "other"}


KINDS = {"conv": "conv", "table_conv": "conv", "linear": "linear", "affine": "linear", "rbf": "linear",
         "maxpool": "pooling", "avgpool": "pooling", "adaptive_avgpool": "pooling",
         "bn": "norm", "lrn": "norm", "layer_norm": "norm", "layer_norm2d": "norm",
         "concat": "merge", "add": "merge", "mean": "merge", "mul": "merge", "layer_scale": "elementwise"}
_FORMULA_CIN = re.compile(r"^\(\d+×\d+×(\d+)\)×\d+$")


def kind(row: Row) -> str:
    """A table row's kind: conv, depthwise, linear, attention, pooling, norm, merge, elementwise or other."""
    op = row.op.lower()
    if "attention" in op or "mhsa" in op or op in ("matmul", "bmm"):
        return "attention"
    if op == "conv":
        m = _FORMULA_CIN.match(row.formula or "")
        # one input channel per group and more than one group's worth of outputs: depthwise
        if m and int(m.group(1)) == 1 and row.output_shape and row.output_shape[0] > 1:
            return "depthwise"
        return "conv"
    if op in KINDS:
        return KINDS[op]
    if row.macs == 0 and row.ops and not row.params:
        return "elementwise"
    return "other"


@dataclass(kw_only=True)
class RoofRow:
    name: str
    label: str
    op: str
    kind: str = "other"             # conv, depthwise, linear, attention, pooling, norm, merge, elementwise, other
    macs: int = 0
    read_bytes: int = 0             # over DRAM and L2 together
    written_bytes: int = 0
    compute_s: float = 0.0
    memory_s: float = 0.0
    device_s: float = 0.0           # its kernels' device time (compute or memory, whichever binds, + launch)
    host_s: float = 0.0             # the host's time to launch them
    bound: str = "none"             # compute, memory, host (launches only) or none (moves nothing)
    kernels: int = 0                # device kernels run for it
    cached_bytes: int = 0           # of the reads, those the L2 served
    weight_bytes: int = 0           # of the reads, parameters, buffers and tensors computed from them alone
    ops: int = 0                    # elementwise ops (the plot places MAC-free rows by them)
    counted: bool = True            # False: MACs unknown (a module archstat has no formula for)
    contains: list[str] = field(default_factory=list)
    share: float = 0.0              # of the device time
    efficiency: float = 0.0         # share of the peak its matrix kernels reach
    math: str = ""                  # the peak its matrix kernels run at: fp32, tf32, fp16, bf16, int8
    notes: list[str] = field(default_factory=list)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def bytes(self) -> int:
        return self.read_bytes + self.written_bytes

    @property
    def intensity(self) -> Optional[float]:
        """FLOP per byte moved (None: moves nothing)."""
        return self.flops / self.bytes if self.bytes else None

    @property
    def predicted_s(self) -> float:
        return self.device_s

    @property
    def roof_s(self) -> float:
        return max(self.compute_s, self.memory_s)

    @property
    def attainable(self) -> float:
        """FLOP/s this row reaches in the prediction (0 without MACs)."""
        return self.flops / self.device_s if self.flops and self.device_s else 0.0


@dataclass(kw_only=True)
class Roofline:
    model: str
    roof: Roof                      # the peak and bandwidth shown, with their sources
    device: DeviceSpec              # every figure the model used
    runtime: str
    precision: str                  # fp32, fp16, bf16, amp-fp16, amp-bf16, int8
    batch: int
    storage_dtype: str
    bytes_per_element: int
    train: bool
    depth: Optional[int]
    rows: list[RoofRow]             # what is shown (blocks with --depth)
    ops: list[RoofRow]              # one per row of the table (the totals count these)
    latency_s: float
    host_s: float
    device_s: float
    idle_s: float
    host_bound: bool
    tf32: dict = field(default_factory=dict)
    band: Optional[dict] = None     # the validation of predictions of this kind: median error, 10–90 % band
    warnings: list[str] = field(default_factory=list)
    complete: bool = True
    notes: list[str] = field(default_factory=list)
    kernels: int = 0
    clock_share: float = 1.0        # of the boost clock, what the part sustained under its power limit
    coefficient_set: str = ""       # the coefficients it was costed with (an architecture generation)

    @property
    def bound(self) -> str:
        """What sets the latency: ``host`` (launching the program takes longer than the device runs it)
        or ``device``."""
        return "host" if self.host_bound else "device"

    @property
    def predicted_s(self) -> float:
        return self.latency_s

    @property
    def overhead_s(self) -> float:
        return self.host_s

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.ops)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.ops)

    @property
    def throughput(self) -> float:
        """Samples per second at the predicted latency of a batch (a training step for --train)."""
        return self.batch / self.latency_s if self.latency_s else 0.0

    @property
    def working(self) -> list[RoofRow]:
        return [r for r in self.ops if r.bound not in ("none",)]

    @property
    def memory_bound_layer_share(self) -> float:
        work = [r for r in self.ops if r.bound in ("compute", "memory")]
        return sum(r.bound == "memory" for r in work) / len(work) if work else 0.0

    @property
    def memory_bound_time_share(self) -> float:
        total = sum(r.device_s for r in self.ops)
        return sum(r.device_s for r in self.ops if r.bound == "memory") / total if total else 0.0


def _row_of(stats: ModelStats) -> dict[str, str]:
    """Every operator's row name → the table row it is shown in (folded in-place ops and views join the
    row before them)."""
    out = {}
    for r in stats.rows:
        out[r.name] = r.name
        for f in r.folded:
            out[f] = r.name
    return out


def rows_from(stats: ModelStats, prediction: Prediction) -> list[RoofRow]:
    """One RoofRow per row of ``stats`` (in order) with the costs of the kernels planned for it; kernels
    of no row (views outside modules, the backward pass, the optimizer) gather in rows of their own."""
    shown = _row_of(stats)
    by_name: dict[str, RoofRow] = {}
    order: list[RoofRow] = []
    for r in stats.rows:
        if r.op == "input":
            continue
        row = RoofRow(name=r.name, label=r.label, op=r.op, macs=r.macs, ops=r.ops, counted=r.counted)
        by_name[r.name] = row
        order.append(row)
    kind_time: dict[str, dict[str, float]] = {}
    table_rows = {r.name for r in stats.rows}
    for c in prediction.costs:
        row = _row_for(c, shown, by_name, order)
        _add(row, c, counts_macs=c.kernel.phase != "forward" or row.name not in table_rows, kind_time=kind_time)
    for row in order:
        _settle(row, kind_time.get(row.name), prediction, shown)
    total = sum(row.device_s for row in order)
    for row in order:
        row.share = row.device_s / total if total else 0.0
    return order


def _row_for(c: KernelCost, shown: dict[str, str], by_name: dict[str, RoofRow], order: list[RoofRow]) -> RoofRow:
    """The row a kernel's costs go to (created for kernels of no table row)."""
    s = c.kernel
    name = shown.get(s.rows[0], s.rows[0]) if s.rows else ""
    if s.phase != "forward":
        name = f"({s.phase})"
    row = by_name.get(name)
    if row is None:
        row = RoofRow(name=name or "(outside any row)", label=s.phase if s.phase != "forward" else "OTHER", op="")
        by_name[row.name] = row
        order.append(row)
    return row


def _add(row: RoofRow, c: KernelCost, *, counts_macs: bool, kind_time: dict[str, dict[str, float]]) -> None:
    """Add one kernel's costs to its row (a table row keeps the table's MACs)."""
    s = c.kernel
    if counts_macs:
        row.macs += s.macs
    row.read_bytes += s.read
    row.written_bytes += s.written
    row.cached_bytes += c.cached_bytes
    row.weight_bytes += s.weight_read
    row.compute_s += c.compute_s
    row.memory_s += c.memory_s
    row.device_s += c.device_s
    row.host_s += c.host_s
    if s.kind == Kind.HOST:
        return
    row.kernels += 1
    kind = _STEP_KIND.get(s.kind) or _SUB_KIND.get(s.sub, "other")
    times = kind_time.setdefault(row.name, {})
    times[kind] = times.get(kind, 0.0) + c.device_s
    if s.note and s.note not in row.notes:
        row.notes.append(s.note)


def _settle(row: RoofRow, times: Optional[dict[str, float]], prediction: Prediction, shown: dict[str, str]) -> None:
    """A row's kind, bound, math and efficiency once all its kernels are in."""
    if times:   # a row that runs a matrix kernel is of that kind (its transposes and bias pass go with it)
        matrix = [k for k in ("conv", "depthwise", "linear", "attention") if k in times]
        row.kind = max(matrix, key=times.__getitem__) if matrix else max(times, key=times.__getitem__)
    if row.kernels:
        row.bound = "compute" if row.compute_s >= row.memory_s else "memory"
    elif row.host_s:
        row.bound = "host"
    if row.compute_s and row.macs:
        row.math = _matrix_math(prediction, row.name, shown)
        peak = prediction.device.peak(row.math) or 0.0
        row.efficiency = row.flops / row.device_s / peak if peak and row.device_s else 0.0


def _matrix_math(prediction: Prediction, name: str, shown: dict[str, str]) -> str:
    for c in prediction.costs:
        s = c.kernel
        if s.math and s.rows and shown.get(s.rows[0], s.rows[0]) == name:
            return s.math
    return "fp32"


def block_row(name: str, label: str, parts: list[RoofRow]) -> RoofRow:
    """A --depth block: the sums of its rows; bound by what bounds most of its device time."""
    compute = sum(p.device_s for p in parts if p.bound == "compute")
    memory = sum(p.device_s for p in parts if p.bound == "memory")
    bound = "none" if compute + memory == 0 else "compute" if compute >= memory else "memory"
    time: dict[str, float] = {}
    for p in parts:
        time[p.kind] = time.get(p.kind, 0.0) + p.device_s
    return RoofRow(name=name, label=label, op="block", kind=max(time, key=time.__getitem__) if time else "other",
                   macs=sum(p.macs for p in parts), read_bytes=sum(p.read_bytes for p in parts),
                   written_bytes=sum(p.written_bytes for p in parts), compute_s=sum(p.compute_s for p in parts),
                   memory_s=sum(p.memory_s for p in parts), device_s=sum(p.device_s for p in parts),
                   host_s=sum(p.host_s for p in parts), bound=bound, kernels=sum(p.kernels for p in parts),
                   cached_bytes=sum(p.cached_bytes for p in parts), weight_bytes=sum(p.weight_bytes for p in parts),
                   ops=sum(p.ops for p in parts), counted=all(p.counted for p in parts),
                   contains=[p.name for p in parts], share=sum(p.share for p in parts))


def grouped_rows(ops: list[RoofRow], grouped: ModelStats, stats: ModelStats) -> list[RoofRow]:
    """The rows of ``grouped`` (the same model with --depth): a block sums the rows it contains."""
    by_name = {r.name: r for r in ops}
    folded = {f: r.name for r in stats.rows for f in r.folded}
    rows = []
    for g in grouped.rows:
        if g.op == "input":
            continue
        if g.op != "block" and g.name in by_name:
            rows.append(by_name[g.name])
            continue
        names = [folded.get(n, n) for n in g.contains]
        parts = [by_name[n] for n in dict.fromkeys(names) if n in by_name]
        rows.append(block_row(g.name, g.label, parts))
    rows += [r for r in ops if r.name.startswith("(")]      # backward, optimizer, outside any row
    return rows


def roofline(stats: ModelStats, prediction: Prediction, roof: Roof, *, grouped: Optional[ModelStats] = None,
             band: Optional[dict] = None, warnings: Optional[list] = None, train: bool = False,
             notes: Optional[list] = None, coefficient_set: str = "") -> Roofline:
    """The Roofline of ``stats`` from a ``perf.predict.Prediction`` of its program."""
    ops = rows_from(stats, prediction)
    rows = grouped_rows(ops, grouped, stats) if grouped is not None and grouped.depth is not None else ops
    sched = prediction.schedule
    return Roofline(model=stats.model, roof=roof, device=prediction.device, runtime=prediction.runtime,
                    precision=prediction.precision, batch=stats.batch, storage_dtype=stats.dtype,
                    bytes_per_element=stats.bytes_per_element, train=train,
                    depth=grouped.depth if grouped is not None else None, rows=rows, ops=ops,
                    latency_s=sched.latency_s, host_s=sched.host_s, device_s=sched.device_s, idle_s=sched.idle_s,
                    host_bound=sched.host_bound, tf32=dict(prediction.plan.tf32), band=band,
                    warnings=list(warnings or []) + list(prediction.warnings), complete=stats.totals.complete,
                    notes=list(notes or []), kernels=len(prediction.plan.device_kernels),
                    clock_share=prediction.clock_share, coefficient_set=coefficient_set)
