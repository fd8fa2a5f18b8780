"""The roofline of every row: how long it should take on a device, and what holds it back.

Pure arithmetic on a ModelStats (Williams, Waterman and Patterson, CACM 2009); no torch.

Traffic model (per row, at the bytes per element of the dtype, weights included):

- a row reads its input tensors once (``input_elements``), reads its weights and biases once
  (``params``) and writes its output once (the output shape × batch, also for an op that writes in
  place). Caches are assumed to hold nothing between rows.
- in-place ops folded into the row before them (ReLU after conv; the default) are taken as fused into
  it: no traffic and no overhead of their own. Unfolded (``fold=False``, as ``profile`` runs eagerly),
  each reads and writes its tensor.
- views (flatten, dropout at inference, identity: no output, no params, no MACs or ops) move nothing
  and cost nothing.

Time of a row: ``max(2·MACs / peak, bytes / bandwidth) + overhead`` where the overhead is a fixed
cost per op that moves data (kernel launch and dispatch). Elementwise ``ops`` are not in the compute
term: only MACs run at the matrix peak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from archstat.analyze.devices import Roof
from archstat.analyze.stats import ModelStats, Row
from archstat.ops.registry import numel

KINDS = {"conv": "conv", "table_conv": "conv", "linear": "linear", "affine": "linear", "rbf": "linear",
         "maxpool": "pooling", "avgpool": "pooling", "adaptive_avgpool": "pooling",
         "bn": "norm", "lrn": "norm", "layer_norm": "norm", "layer_norm2d": "norm",
         "concat": "merge", "add": "merge", "mean": "merge", "mul": "merge", "layer_scale": "elementwise"}
_FORMULA_CIN = re.compile(r"^\(\d+×\d+×(\d+)\)×\d+$")


def kind(row: Row) -> str:
    """conv, depthwise, linear, attention, pooling, norm, merge, elementwise or other."""
    op = row.op.lower()
    if "attention" in op or "mhsa" in op or op in ("matmul", "bmm"):
        return "attention"
    if op == "conv":
        m = _FORMULA_CIN.match(row.formula or "")
        # one input channel per group and more than one group's worth of outputs: depthwise
        # (a conv on a one-channel image reads the same way, and is drawn the same)
        if m and int(m.group(1)) == 1 and row.output_shape and row.output_shape[0] > 1:
            return "depthwise"
        return "conv"
    if op in KINDS:
        return KINDS[op]
    if row.macs == 0 and row.ops and not row.params:
        return "elementwise"
    return "other"


@dataclass
class RoofRow:
    name: str
    label: str
    op: str
    kind: str
    macs: int
    input_bytes: int
    weight_bytes: int
    output_bytes: int
    compute_s: float                # 2·MACs / peak
    memory_s: float                 # bytes / bandwidth
    roof_s: float                   # max of the two (a block: the sum of its ops' roofs)
    bound: str                      # compute, memory, or none (a view: moves nothing)
    overhead_s: float
    ops: int = 0                    # elementwise ops (not in the compute term; the plot places MAC-free rows by them)
    counted: bool = True            # False: MACs unknown (a module archstat has no formula for)
    input_guessed: bool = False     # the row's inputs were not recorded: the previous row's output was used
    contains: list[str] = field(default_factory=list)
    share: float = 0.0

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def bytes(self) -> int:
        return self.input_bytes + self.weight_bytes + self.output_bytes

    @property
    def intensity(self) -> Optional[float]:
        """FLOP per byte moved (None: moves nothing)."""
        return self.flops / self.bytes if self.bytes else None

    @property
    def predicted_s(self) -> float:
        return self.roof_s + self.overhead_s

    @property
    def attainable(self) -> float:
        """FLOP/s the roof allows this row: min(peak, intensity × bandwidth) (0 without MACs)."""
        return self.flops / self.roof_s if self.flops and self.roof_s else 0.0


@dataclass
class Roofline:
    model: str
    roof: Roof
    batch: int
    storage_dtype: str
    bytes_per_element: int
    fused: bool
    depth: Optional[int]
    rows: list[RoofRow]             # what is shown (blocks with --depth)
    ops: list[RoofRow]              # one per op: the totals and the memory-bound shares count these

    @property
    def predicted_s(self) -> float:
        return sum(r.predicted_s for r in self.ops)

    @property
    def overhead_s(self) -> float:
        return sum(r.overhead_s for r in self.ops)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.ops)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.ops)

    @property
    def throughput(self) -> float:
        """Samples per second at the predicted latency of a batch."""
        return self.batch / self.predicted_s if self.predicted_s else 0.0

    @property
    def working(self) -> list[RoofRow]:
        return [r for r in self.ops if r.bound != "none"]

    @property
    def memory_bound_layer_share(self) -> float:
        work = self.working
        return sum(r.bound == "memory" for r in work) / len(work) if work else 0.0

    @property
    def memory_bound_time_share(self) -> float:
        total = self.predicted_s
        return sum(r.predicted_s for r in self.working if r.bound == "memory") / total if total else 0.0

    @property
    def complete(self) -> bool:
        return all(r.counted for r in self.ops)


def _is_view(row: Row) -> bool:
    return row.activation_elements == 0 and not row.macs and not row.ops and not row.params


def op_row(row: Row, roof: Roof, batch: int, nbytes: int, previous_out: int) -> RoofRow:
    """The roofline of one op row (batch included in its MACs and elements)."""
    guessed = row.input_elements is None
    view = _is_view(row)
    ins = 0 if view else previous_out if guessed else row.input_elements
    # what the row writes, from the same element counts as the table (batch applied once, whatever
    # the row's leading dimension: attention's bmm runs on batch × heads)
    written = row.output_elements if row.output_elements is not None else numel(row.output_shape) * batch
    outs = 0 if view else written
    weights = 0 if view else row.params + row.constant_elements
    compute = 2 * row.macs / roof.peak_flops
    memory = (ins + weights + outs) * nbytes / roof.bandwidth
    moves = bool(ins + weights + outs or row.macs)
    bound = "none" if not moves else "compute" if row.macs and compute >= memory else "memory"
    return RoofRow(row.name, row.label, row.op, kind(row), row.macs, ins * nbytes, weights * nbytes, outs * nbytes,
                   compute, memory, max(compute, memory), bound, roof.overhead_s if moves else 0.0,
                   ops=row.ops, counted=row.counted, input_guessed=guessed and not view)


def block_row(name: str, label: str, parts: list[RoofRow]) -> RoofRow:
    """A --depth block: the sums of its ops (its time is the sum of theirs, not the roof of the sum);
    bound by what bounds most of its time."""
    compute = sum(p.roof_s for p in parts if p.bound == "compute")
    memory = sum(p.roof_s for p in parts if p.bound == "memory")
    bound = "none" if not parts or compute + memory == 0 else "compute" if compute >= memory else "memory"
    return RoofRow(name, label, "block", _main_kind(parts), sum(p.macs for p in parts),
                   sum(p.input_bytes for p in parts), sum(p.weight_bytes for p in parts),
                   sum(p.output_bytes for p in parts), sum(p.compute_s for p in parts),
                   sum(p.memory_s for p in parts), compute + memory, bound, sum(p.overhead_s for p in parts),
                   ops=sum(p.ops for p in parts), counted=all(p.counted for p in parts), input_guessed=any(p.input_guessed for p in parts),
                   contains=[p.name for p in parts])


def _main_kind(parts: list[RoofRow]) -> str:
    time: dict[str, float] = {}
    for p in parts:
        time[p.kind] = time.get(p.kind, 0.0) + p.predicted_s
    return max(time, key=time.get) if time else "other"


def roofline(stats: ModelStats, roof: Roof, grouped: Optional[ModelStats] = None) -> Roofline:
    """Per-row roofline of ``stats`` (computed without --depth); ``grouped``, the same model analysed
    with --depth, says which rows each block holds."""
    nbytes = stats.bytes_per_element
    ops: list[RoofRow] = []
    previous_out = 0
    for row in stats.rows:
        if row.op == "input":
            previous_out = numel(row.output_shape) * stats.batch
            continue
        ops.append(op_row(row, roof, stats.batch, nbytes, previous_out))
        if not _is_view(row):
            previous_out = (row.output_elements if row.output_elements is not None
                            else numel(row.output_shape) * stats.batch)
    rows = ops
    if grouped is not None and grouped.depth is not None:
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
    total = sum(r.predicted_s for r in ops)
    for r in rows + ([] if rows is ops else ops):
        r.share = r.predicted_s / total if total else 0.0
    return Roofline(stats.model, roof, stats.batch, stats.dtype, nbytes, stats.folded, grouped.depth if grouped else None,
                    rows, ops)


def analyze_roofline(model, params: Optional[dict] = None, *, device: str, dtype: str = "fp32", batch: int = 1,
                     depth: Optional[int] = None, fold: bool = True, input_shape=None, peak: Optional[float] = None,
                     bandwidth: Optional[float] = None, overhead_s: Optional[float] = None) -> Roofline:
    """The roofline of a model (a zoo name, a path, ``module:…`` or an nn.Module) on ``device``: the rows
    come from :func:`archstat.api.analyze`, the same entry point as every other command."""
    from archstat.analyze.devices import resolve_dtype, roof as make_roof
    from archstat.api import analyze

    storage, _ = resolve_dtype(dtype)
    the_roof = make_roof(device, dtype, peak=peak, bandwidth=bandwidth, overhead_s=overhead_s)
    stats = analyze(model, params, input_shape=input_shape, batch=batch, dtype=storage, fold=fold)
    grouped = None
    if depth is not None:
        grouped = analyze(model, params, input_shape=input_shape, batch=batch, dtype=storage, fold=fold, depth=depth)
    return roofline(stats, the_roof, grouped)
