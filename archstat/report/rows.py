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
    shape = fmt_shape(row.output_shape) + (" (whole tensor)" if row.full_shape else "")
    return [row.name, label, row.op, shape, fmt_int(row.activation_elements),
            fmt_bytes(row.activation_bytes), weights_cell(row),
            "" if costless or not (row.weights or row.biases) else fmt_int(row.biases),
            "" if costless else fmt_int(row.params),
            "" if costless else fmt_int(row.macs * factor) if row.counted else "not counted", rf_cell(row.rf)] + (
        [fmt_bytes(row.saved_bytes)] if training else [])


def total_cells(stats: ModelStats, units: str) -> list[str]:
    _, factor = compute_unit(units)
    t = stats.totals
    return ["TOTAL", "", "", fmt_shape(stats.output_shape), fmt_int(t.activation_elements),
            fmt_bytes(t.activation_bytes), fmt_int(t.weights), fmt_int(t.biases), fmt_int(t.params),
            ("" if t.complete else "≥ ") + fmt_int(t.macs * factor), final_field_text(stats)] + (
        [fmt_bytes(stats.training.saved_bytes)] if stats.training else [])


def describe_run(stats: ModelStats) -> str:
    params = ", ".join(f"{k}={v}" for k, v in stats.params.items())
    text = (f"input {fmt_shape(stats.input_shape)} · batch {stats.batch} · {stats.dtype} "
            f"({stats.bytes_per_element} B/element) · mode {stats.mode}")
    if stats.layers is not None:
        text += f" · {stats.layers} layers with weights"
    text += f" · params: {params}" if params else ""
    if stats.aux_params:
        text += (f" · auxiliary heads ({fmt_int(stats.aux_params)} params) left out: --mode train "
                 "counts them" if stats.source == "config" else
                 f" · modules that did not run in eval mode ({fmt_int(stats.aux_params)} params) left out")
    return text
