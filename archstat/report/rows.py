"""The plain cells of a stats table, shared by the csv and markdown renderers and JSON."""

from __future__ import annotations

from archstat.analyze.stats import ModelStats, Row
from archstat.report.units import compute_unit, fmt_bytes, fmt_int, fmt_shape

CONVENTIONS = {
    "macs": "multiply-accumulates of conv, linear and matmul (attention) layers, bias excluded "
            "(what torchvision's GFLOPS column, fvcore's 'flops' and the ResNet/GoogLeNet papers count)",
    "flops": "2 × MACs (the convention of torch.utils.flop_counter)",
    "params": "weights + biases; batch norm: C scales are weights, C shifts biases",
    "activation_elements": "output elements of each row × batch, the input row included; in-place ops "
                           "(ReLU) and views (flatten, dropout at inference) allocate nothing",
    "activation_bytes": "activation elements × bytes per element of --dtype; MB = 10^6 B, MiB = 2^20 B",
    "ops": "other elementwise operations (compares, adds, bias adds), not included in MACs",
    "receptive_field": "input pixels one output unit sees (size), the effective stride between units "
                       "(jump) and where the first unit's field starts (start; negative: in the padding); "
                       "a merge takes the largest field of its inputs",
    "layers": "conv and linear layers on the longest path to the output",
    "mode": "eval leaves auxiliary heads out of rows and totals; train counts them",
}


def whole_shape(row: Row, batch: int) -> list[int]:
    """A row's whole output shape at the batch (the batch never invented for a tensor without one)."""
    return list(row.output_shape) if row.full_shape else [batch, *row.output_shape]


def shape_cell(row: Row) -> str:
    """One sample's shape (C×H×W); a traced tensor whose batch is not its dim 0 shows where it is
    (``20×B×32``, ``4·B×16×96`` for 4 windows per sample), one without a batch dimension says so."""
    if not row.full_shape:
        return fmt_shape(row.output_shape)
    if row.batch_dim is None:
        return fmt_shape(row.output_shape) + (" (no batch dim)" if row.scales else " (whole tensor)")
    dims = [str(d) for d in row.output_shape]
    if 0 <= row.batch_dim < len(dims):
        dims[row.batch_dim] = "B" if row.batch_factor == 1 else f"{row.batch_factor}·B"
    return "×".join(dims)


def outputs_lines(stats: ModelStats) -> list[str]:
    """A module's outputs, whole: each tensor's name, shape (at the batch) and where its batch is."""
    lines = []
    for o in stats.outputs:
        if "shape" not in o:
            lines.append(f"{o['name']}: {o['type']}")
            continue
        bd = o.get("batch_dim")
        where = ("no batch dim" if bd is None and o.get("batch_dim_known", True) else
                 "batch dim unknown" if bd is None else f"batch dim {bd}" + (
                     f", {o['per_sample']} per sample" if o.get("per_sample") else ""))
        lines.append(f"{o['name']}: {fmt_shape(o['shape']) or 'scalar'} {o['dtype']} ({where})")
    total = stats.outputs_total or len(stats.outputs)
    if total > len(stats.outputs):   # never a cut list shown as the whole
        lines.append(f"… and {total - len(stats.outputs):,} more ({total:,} outputs in all, the first "
                     f"{len(stats.outputs):,} listed)")
    return lines


def weights_cell(row: Row) -> str:
    if not row.weights:
        return ""
    return f"{row.formula} = {fmt_int(row.weights)}" if row.formula else fmt_int(row.weights)


def rf_size(rf) -> str:
    return str(rf.size[0]) if rf.size[0] == rf.size[1] else f"{rf.size[0]}×{rf.size[1]}"


def rf_cell(rf) -> str:
    """A row's receptive field: its size, or 'global' once a layer sees its whole input."""
    if rf is None:
        return ""
    return "global" if rf.is_global else rf_size(rf)


def final_field(stats: ModelStats):
    """The model's receptive field as papers quote it: the output's, or when the output is global
    the last finite field before it (VGG16: 212 at pool5). ``(rf, global_after)``."""
    rf = stats.receptive_field
    if rf is None or not rf.is_global:
        return rf, False
    for row in reversed(stats.rows):
        if row.rf is not None and not row.rf.is_global and not row.aux:
            return row.rf, True
    return rf, False


def final_field_text(stats: ModelStats, long: bool = False) -> str:
    rf, then_global = final_field(stats)
    if rf is None:
        return ""
    if rf.is_global:   # global from the first layer on (a flat input)
        return "global"
    return rf_size(rf) + (", then global" if long and then_global else "")


def header(stats: ModelStats, units: str) -> list[str]:
    unit, _ = compute_unit(units)
    return ["layer", "label", "op", "output", "activations", "memory", "weights", "biases", "params", unit,
            "rf"] + (["saved"] if stats.training else [])


def cells(row: Row, units: str, training: bool = False) -> list[str]:
    _, factor = compute_unit(units)
    label = row.label + (" (aux)" if row.aux else "")
    costless = row.op == "input"   # the input has no weights, biases, params or MACs: blank, not 0
    shape = shape_cell(row)
    return [row.name, label, row.op, shape, fmt_int(row.activation_elements),
            fmt_bytes(row.activation_bytes), weights_cell(row),
            "" if costless or not (row.weights or row.biases) else fmt_int(row.biases),
            "" if costless else fmt_int(row.params),
            "" if costless else fmt_int(row.macs * factor) if row.counted else "not counted", rf_cell(row.rf)] + (
        [fmt_bytes(row.saved_bytes)] if training else [])


def total_cells(stats: ModelStats, units: str) -> list[str]:
    _, factor = compute_unit(units)
    t = stats.totals
    out = fmt_shape(stats.output_shape) + (" (whole tensor)" if stats.output_full_shape else "")
    total = max(stats.outputs_total or 0, len(stats.outputs))
    if total > 1:
        out = f"{total:,} outputs"
    elif stats.source == "module" and stats.outputs and "shape" not in stats.outputs[0]:
        out = stats.outputs[0]["type"]   # no tensor: its type, never an invented shape
    return ["TOTAL", "", "", out, fmt_int(t.activation_elements),
            fmt_bytes(t.activation_bytes), fmt_int(t.weights), fmt_int(t.biases), fmt_int(t.params),
            ("" if t.complete else "≥ ") + fmt_int(t.macs * factor), final_field_text(stats)] + (
        [fmt_bytes(stats.training.saved_bytes)] if stats.training else [])


def inputs_text(stats: ModelStats) -> str:
    """'input 3×224×224', or a module's inputs in the --input grammar, and where they came from."""
    if not stats.inputs:
        return f"input {fmt_shape(stats.input_shape)}"
    parts = []
    for d in stats.inputs:
        if "shape" not in d:
            parts.append((f"{d['name']}=" if d["name"] else "") + d["type"])
            continue
        dims = [str(x) for i, x in enumerate(d["shape"]) if i != d["batch_dim"]]
        if d["batch_dim"] not in (0, None):
            dims.insert(d["batch_dim"], "B")
        shape = "×".join(dims) or "scalar"
        dtype = "" if d["dtype"] == "float32" else f"{d['dtype']}:"
        parts.append((f"{d['name']}=" if d["name"] else "") + dtype + ("unbatched:" if d["batch_dim"] is None
                                                                         else "") + shape)
    text = ("input " if len(parts) == 1 else "inputs ") + ", ".join(parts)
    if stats.input_source and stats.input_source not in ("--input", "input_shape"):
        text += f" (from {stats.input_source})"
    return text


def describe_run(stats: ModelStats) -> str:
    params = ", ".join(f"{k}={v}" for k, v in stats.params.items())
    text = (f"{inputs_text(stats)} · batch {stats.batch} · {stats.dtype} "
            f"({stats.bytes_per_element} B/element) · mode {stats.mode}")
    if stats.layers is not None:
        text += f" · {stats.layers} layers with weights"
    text += f" · params: {params}" if params else ""
    if stats.aux_params:
        text += (f" · auxiliary heads ({fmt_int(stats.aux_params)} params) left out: --mode train "
                 "counts them" if stats.source == "config" else
                 f" · modules that did not run in eval mode ({fmt_int(stats.aux_params)} params) left out")
    return text
