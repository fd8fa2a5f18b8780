"""LeNet-5's own layers (LeCun et al. 1998): a conv with a connection table (C3), the
subsampling layers' trainable per-map coefficient and bias (S2, S4), and the Euclidean RBF output."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import ShapeError
from archstat.ops.conv import conv_out_len, spatial_input
from archstat.ops.registry import RFStep, Saved, numel, register_op, saves_input, zero
from archstat.ops.types import Size, Table, arg


@dataclass(frozen=True)
class TableConvArgs:
    kernel: Size = arg(min=1)
    table: Table = arg()       # table[j]: the input maps output map j reads
    bias: bool = True


def _connections(a: TableConvArgs) -> int:
    return sum(len(row) for row in a.table)


def _table_shape(a: TableConvArgs, in_shapes):
    c, h, w = spatial_input("table_conv", in_shapes[0])
    for j, row in enumerate(a.table):
        bad = [i for i in row if not 0 <= i < c]
        if bad:
            raise ShapeError(f"table row {j} reads input map {bad[0]}, but the input has {c} maps")
        if len(set(row)) != len(row):
            raise ShapeError(f"table row {j} reads an input map twice")
    oh, ow = conv_out_len(h, a.kernel[0], 1, 0, 1), conv_out_len(w, a.kernel[1], 1, 0, 1)
    if oh < 1 or ow < 1:
        raise ShapeError(f"kernel {a.kernel[0]}×{a.kernel[1]} does not fit a {h}×{w} input")
    return (len(a.table), oh, ow)


register_op(
    "table_conv",
    Args=TableConvArgs,
    doc="A convolution whose output map j reads only the input maps table[j] (LeNet-5's C3).",
    out_shape=_table_shape,
    weights=lambda a, s: _connections(a) * a.kernel[0] * a.kernel[1],
    biases=lambda a, s: len(a.table) if a.bias else 0,
    macs=lambda a, s, o: o[1] * o[2] * _connections(a) * a.kernel[0] * a.kernel[1],
    ops=lambda a, s, o: numel(o) if a.bias else 0,
    # each output map's conv saves its own gathered copy of the input maps it reads
    saved=lambda a, s, o: (Saved("extra", _connections(a) * s[0][1] * s[0][2]),),
    label=lambda a, s, o: f"CONV{a.kernel[0]}-{len(a.table)} (table)",
    formula=lambda a, s: f"{_connections(a)} connections×{a.kernel[0]}×{a.kernel[1]}",
    rf=lambda a: RFStep(a.kernel, (1, 1), (1, 1), (0, 0)),
    layer="conv",
)


@dataclass(frozen=True)
class NoArgs:
    pass


register_op(
    "affine",
    Args=NoArgs,
    doc="A trainable coefficient and bias per channel (LeNet-5's subsampling layers): y = w_c·x + b_c.",
    out_shape=lambda a, s: s[0],
    weights=lambda a, s: s[0][0], biases=lambda a, s: s[0][0], macs=zero,
    ops=lambda a, s, o: 2 * numel(o),  # a multiply and an add per element
    saved=saves_input,
    label=lambda a, s, o: "AFFINE",
)


@dataclass(frozen=True)
class RBFArgs:
    out: int = arg(min=1)


def _rbf_in(in_shapes) -> int:
    if len(in_shapes[0]) != 1:
        raise ShapeError("rbf needs a flat input (add 'flatten' before it)")
    return in_shapes[0][0]


register_op(
    "rbf",
    Args=RBFArgs,
    doc="Euclidean RBF units (LeNet-5's output): y_j = sum_i (x_i - w_ij)^2 with fixed prototypes w, "
        "which are buffers, not trainable params.",
    out_shape=lambda a, s: (_rbf_in(s), a.out)[1:],
    weights=zero, biases=zero, macs=zero,
    ops=lambda a, s, o: 3 * _rbf_in(s) * a.out,  # subtract, square, accumulate
    saved=lambda a, s, o: (Saved("extra", _rbf_in(s) * a.out),),  # the differences x_i - w_ij, squared
    label=lambda a, s, o: f"RBF-{a.out}",
    global_rf=True,
)
