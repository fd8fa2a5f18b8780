"""The plain cells of a stats table, shared by the csv and markdown renderers and JSON."""

from __future__ import annotations

from archstat.analyze.stats import ModelStats, Row
from archstat.report.units import compute_unit, fmt_bytes, fmt_int, fmt_shape

CONVENTIONS = {
    "macs": "multiply-accumulates of conv and linear layers, bias excluded "
            "(what torchvision's GFLOPS column, fvcore's 'flops' and the ResNet/GoogLeNet papers count)",
    "flops": "2 × MACs (the convention of torch.utils.flop_counter)",
    "params": "weights + biases; batch norm: C scales are weights, C shifts biases",
    "activation_elements": "output elements of each row × batch, the input row included; in-place ops "
                           "(ReLU) and views (flatten, dropout at inference) allocate nothing",
    "activation_bytes": "activation elements × bytes per element of --dtype; MB = 10^6 B, MiB = 2^20 B",
    "ops": "other elementwise operations (compares, adds, bias adds), not included in MACs",
}


def weights_cell(row: Row) -> str:
    if not row.weights:
        return ""
    return f"{row.formula} = {fmt_int(row.weights)}" if row.formula else fmt_int(row.weights)


def header(stats: ModelStats, units: str) -> list[str]:
    unit, _ = compute_unit(units)
    return ["layer", "label", "op", "output", "activations", "memory", "weights", "biases", "params", unit]


def cells(row: Row, units: str) -> list[str]:
    _, factor = compute_unit(units)
    return [row.name, row.label, row.op, fmt_shape(row.output_shape), fmt_int(row.activation_elements),
            fmt_bytes(row.activation_bytes), weights_cell(row), fmt_int(row.biases), fmt_int(row.params),
            fmt_int(row.macs * factor)]


def total_cells(stats: ModelStats, units: str) -> list[str]:
    _, factor = compute_unit(units)
    t = stats.totals
    return ["TOTAL", "", "", fmt_shape(stats.output_shape), fmt_int(t.activation_elements),
            fmt_bytes(t.activation_bytes), fmt_int(t.weights), fmt_int(t.biases), fmt_int(t.params),
            fmt_int(t.macs * factor)]


def describe_run(stats: ModelStats) -> str:
    params = ", ".join(f"{k}={v}" for k, v in stats.params.items())
    text = (f"input {fmt_shape(stats.input_shape)} · batch {stats.batch} · {stats.dtype} "
            f"({stats.bytes_per_element} B/element)")
    return text + (f" · params: {params}" if params else "")
