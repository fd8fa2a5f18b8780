"""Graph → ModelStats: one row per op (in-place ops folded), totals, and the reference checks.

Definitions (printed in every table header and in the README):

- MACs: multiply-accumulates of conv, linear and matmul (attention), bias excluded. FLOPs = 2 × MACs.
- params = weights + biases (batch norm: C scales are weights, C shifts biases).
- activation elements: each row's output elements × batch; the input row counts;
  in-place ops and views (ReLU, dropout, flatten) allocate nothing and fold into
  the row of the tensor they act on.
- activation bytes: activation elements × bytes per element of ``dtype``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from archstat.analyze.receptive import RF, receptive_fields, weighted_depth
from archstat.dtypes import DTYPES as _DTYPES
from archstat.dtypes import STORAGE, canonical
from archstat.graph import Graph, Node
from archstat.ops.registry import all_ops, numel


@dataclass
class Row:
    name: str
    label: str
    op: str
    output_shape: tuple[int, ...]        # per sample
    activation_elements: int             # batch included
    activation_bytes: int
    weights: int
    biases: int
    macs: int                            # batch included
    ops: int                             # elementwise operations, batch included
    formula: str = ""                    # the weights formula, as the slide writes it
    saved_bytes: int = 0                 # --mode train: activations it saves for backward (new ones)
    rf: Optional[RF] = None              # receptive field of the row's output
    aux: bool = False                    # an auxiliary head's row (counted in --mode train)
    counted: bool = True                 # False: archstat has no formula for it; MACs not counted
    note: str = ""
    folded: list[str] = field(default_factory=list)     # in-place ops folded into this row
    contains: list[str] = field(default_factory=list)   # rows collapsed into this one (--depth)
    input_elements: Optional[int] = None  # elements of the tensors it reads, batch included (None: unknown)
    full_shape: bool = False             # output_shape is the whole tensor's: its dim 0 is not the batch
    batch_dim: Optional[int] = 0         # a traced row: the dim of its output that is the batch (None: none)
    batch_factor: int = 1                # ... and that dim's size per sample (Swin's windows: 4)
    scales: str = "batch"                # a traced row: "batch" (cost ∝ batch), "fixed" (the same at any batch)
    calls: int = 1                       # a data-dependent row: how many calls of its op it stands for
    depends_on_data: bool = False        # ran on what a data-dependent op (nms) returned: figures depend on the data
    output_elements: Optional[int] = None  # elements it writes, batch included, in place too (None: unknown)
    constant_elements: int = 0           # elements it reads of tensors computed from weights alone (batch-free)

    @property
    def params(self) -> int:
        return self.weights + self.biases


@dataclass
class Totals:
    weights: int = 0
    biases: int = 0
    macs: int = 0
    ops: int = 0
    activation_elements: int = 0
    activation_bytes: int = 0
    complete: bool = True                # False: some ops have no formula; macs is a lower bound
    uncounted: list = field(default_factory=list)   # [{"op", "calls", "rows"}] of the ops left out
    data_dependent: list = field(default_factory=list)   # [{"op", "calls", "rows"}] of data-dependent ops (nms)

    def per_sample(self, batch: int) -> Totals:
        """The same totals at batch 1: everything but the params scales with the batch."""
        return Totals(weights=self.weights, biases=self.biases, macs=self.macs // batch, ops=self.ops // batch,
                      activation_elements=self.activation_elements // batch,
                      activation_bytes=self.activation_bytes // batch, complete=self.complete,
                      uncounted=self.uncounted, data_dependent=self.data_dependent)

    @property
    def params(self) -> int:
        return self.weights + self.biases

    def uncounted_text(self) -> str:
        """'3 ops not counted: aten._fft_r2c ×2, aten.foo ×1' (empty when complete)."""
        if self.complete:
            return ""
        calls = sum(u["calls"] for u in self.uncounted)
        return (f"{calls} op{'s' if calls != 1 else ''} not counted: "
                + ", ".join(f"{u['op']} ×{u['calls']}" for u in self.uncounted))


@dataclass(repr=False)
class ModelStats:  # shown by report/display.py (HTML in notebooks, the table in rich)
    model: str
    description: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    batch: int
    dtype: str
    bytes_per_element: int
    rows: list[Row]
    totals: Totals
    per_sample: Totals                    # totals at batch 1 (what papers and slides quote)
    params: dict = field(default_factory=dict)
    references: list = field(default_factory=list)   # list[analyze.references.Check]
    references_skipped: str = ""                      # why the figures were not checked, if so
    folded: bool = True
    depth: Optional[int] = None
    mode: str = "eval"
    layers: Optional[int] = 0             # conv/linear layers on the longest path (None: unknown)
    receptive_field: Optional[RF] = None  # of the main output
    aux_params: int = 0                   # params of auxiliary heads (left out of eval totals)
    source: str = "config"                # "config", or "module" for an analyzed nn.Module
    expected: Optional[dict] = None       # stochastic depth, --mode train: expected MACs and layers per step
    bn_params: int = 0                    # batch norm's scales and shifts (some papers leave them out)
    conv_layers: Optional[int] = None     # conv layers alone on the longest path
    training: Any = None                  # analyze.training.TrainingMemory, in --mode train
    notes: list = field(default_factory=list)   # how a module was analysed (a CPU fallback, its memory)
    macs_by_op: dict = field(default_factory=dict)   # a traced module: MACs per aten op
    inputs: list = field(default_factory=list)       # a traced module: each input (name, shape, dtype, batch_dim)
    outputs: list = field(default_factory=list)      # a traced module: each output (name, shape | type, batch_dim)
    outputs_total: Optional[int] = None              # … how many there are (outputs lists at most 1,000)
    input_source: str = ""                           # where a module's input came from (--input, timm's cfg)
    conventions: Any = None                          # --convention: a peer's count (trace.conventions)
    output_full_shape: bool = False                  # output_shape is a module output's whole shape
    batch_trace: Any = field(default=None, repr=False, compare=False)   # trace.batch.BatchTrace of a module
    op_calls: list = field(default_factory=list)     # a traced module: every operator call (ir.program.OpCall)
    module_calls: int = 0                            # a traced module: nn.Module calls in one forward

    @property
    def not_counted(self) -> list[Row]:
        return [r for r in self.rows if not r.counted]


_COSTS: dict = {}


def node_costs(node: Node) -> tuple:
    """(in place, weights, biases, MACs, ops, formula) per sample: pure functions of the op, its
    arguments and its shapes, so a repeated layer is costed once."""
    spec = all_ops()[node.op]
    key = (id(spec), node.args, node.in_shapes, node.shape)   # the spec itself: a replaced op is costed anew
    costs = _COSTS.get(key)
    if costs is None:
        shapes = list(node.in_shapes)
        costs = (spec.inplace(node.args), spec.weights(node.args, shapes), spec.biases(node.args, shapes),
                 spec.macs(node.args, shapes, node.shape), spec.ops(node.args, shapes, node.shape),
                 spec.formula(node.args, shapes) if spec.formula else "")
        if len(_COSTS) > 100_000:
            _COSTS.clear()
        _COSTS[key] = costs
    return costs


def node_row(node: Node, batch: int, nbytes: int) -> Row:
    """The costs of one node, batch included."""
    if node.op == "input":
        elements = numel(node.shape) * batch
        return Row(name=node.name, label=node.label, op="input", output_shape=node.shape,
                   activation_elements=elements, activation_bytes=elements * nbytes, weights=0, biases=0, macs=0,
                   ops=0, input_elements=0)
    inplace, weights, biases, macs, ops, formula = node_costs(node)
    elements = 0 if inplace else numel(node.shape) * batch
    return Row(
        name=node.name, label=node.label, op=node.op, output_shape=node.shape,
        activation_elements=elements, activation_bytes=elements * nbytes,
        weights=weights, biases=biases, macs=macs * batch, ops=ops * batch, formula=formula,
        input_elements=sum(numel(s) for s in node.in_shapes) * batch, output_elements=numel(node.shape) * batch)


MODES = ("eval", "train")


def analyze_graph(graph: Graph, *, description: str = "", batch: int = 1, dtype: str = "float32",
                  fold: bool = True, depth: Optional[int] = None, mode: str = "eval",
                  optimizer: str = "adam", amp: bool = False) -> ModelStats:
    """Rows and totals. ``mode='eval'`` leaves auxiliary heads out; ``'train'`` counts them and
    estimates training memory (``optimizer``, ``amp``)."""
    dtype = canonical(dtype, STORAGE)
    training = None
    if mode == "train":
        from archstat.analyze.training import training_memory

        training = training_memory(graph, batch=batch, dtype=dtype, optimizer=optimizer, amp=amp)
    nbytes = _DTYPES[dtype].bytes
    ops = all_ops()
    rfs = receptive_fields(graph)
    rows: list[Row] = []
    by_name: dict[str, Row] = {}
    totals = Totals()
    aux_params = 0
    for node in graph.nodes:
        row = node_row(node, batch, nbytes)
        row.rf, row.aux = rfs[node.name], node.aux
        if training is not None:
            row.saved_bytes = training.per_node.get(node.name, 0)
        if node.aux and mode == "eval":
            aux_params += row.params
            continue
        accumulate(totals, row)
        folds = fold and node.op != "input" and ops[node.op].inplace(node.args) and node.inputs
        if folds:
            target = by_name.get(node.inputs[0]) or (rows[-1] if rows else None)
            if target is not None:
                target.ops += row.ops
                target.saved_bytes += row.saved_bytes
                target.weights += row.weights
                target.biases += row.biases
                target.macs += row.macs
                target.folded.append(node.name)
                by_name[node.name] = target
                continue
        rows.append(row)
        by_name[node.name] = row
    if depth is not None:
        rows = collapse(rows, depth, graph.group_labels)
    expected = None
    if mode == "train" and any(n.survival < 1 for n in graph.nodes):
        expected = {
            "macs": round(sum(node_row(n, batch, nbytes).macs * n.survival for n in graph.nodes
                              if n.op != "input" and not (n.aux and mode == "eval")), 3),
            "layers": round(weighted_depth(graph, expected=True)[graph.output.name], 6),
            "note": "stochastic depth: each residual body weighted by its survival probability",
        }
    return ModelStats(
        model=graph.name, description=description, input_shape=graph.input_shape,
        output_shape=graph.output.shape, batch=batch, dtype=dtype, bytes_per_element=nbytes,
        rows=rows, totals=totals, per_sample=totals.per_sample(batch), params=dict(graph.params), folded=fold,
        depth=depth, mode=mode, layers=int(weighted_depth(graph)[graph.output.name]),
        receptive_field=rfs[graph.output.name], aux_params=aux_params, expected=expected,
        bn_params=sum(node_row(n, 1, nbytes).params for n in graph.nodes
                      if n.op == "bn" and not (n.aux and mode == "eval")),
        conv_layers=int(weighted_depth(graph, kinds=("conv",))[graph.output.name]),
        training=training)


def accumulate(t, row: Row) -> None:
    """Add a row's costs into ``t`` (Totals, or a Row standing for a collapsed block)."""
    t.weights += row.weights
    t.biases += row.biases
    t.macs += row.macs
    t.ops += row.ops
    t.activation_elements += row.activation_elements
    t.activation_bytes += row.activation_bytes
    if isinstance(t, Row):
        t.saved_bytes += row.saved_bytes


def collapse(rows: list[Row], depth: int, labels: dict[str, str]) -> list[Row]:
    """Rows below ``depth`` dotted levels merge into one row per block with the block's totals."""
    out: list[Row] = []
    groups: dict[str, Row] = {}
    for row in rows:
        parts = row.name.split(".")
        if len(parts) <= depth:
            out.append(row)
            continue
        key = ".".join(parts[:depth])
        group = groups.get(key)
        if group is None:
            group = Row(name=key, label=labels.get(key, "BLOCK"), op="block", output_shape=row.output_shape,
                        activation_elements=0, activation_bytes=0, weights=0, biases=0, macs=0, ops=0)
            groups[key] = group
            out.append(group)
        group.output_shape, group.rf, group.aux = row.output_shape, row.rf, row.aux
        accumulate(group, row)
        group.contains.extend([row.name] + row.folded + row.contains)
    # a block's own merge row (named like the block) joins the block's group
    merged: list[Row] = []
    for row in out:
        group = groups.get(row.name)
        if group is not None and row is not group and row.op != "block":
            group.activation_elements += row.activation_elements
            group.activation_bytes += row.activation_bytes
            group.ops += row.ops
            group.saved_bytes += row.saved_bytes
            group.output_shape, group.rf = row.output_shape, row.rf
            group.contains.extend([row.name] + row.folded)
            continue
        merged.append(row)
    return merged
