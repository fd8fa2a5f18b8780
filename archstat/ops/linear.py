"""Fully connected layer."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import ShapeError
from archstat.ops.arith import linear_macs
from archstat.ops.registry import register_op, saves_input
from archstat.ops.types import arg, fmt_shape


@dataclass(frozen=True)
class LinearArgs:
    out: int = arg(min=1)
    bias: bool = True


def _in_features(in_shapes) -> int:
    shape = in_shapes[0]
    if len(shape) != 1:
        raise ShapeError(f"linear needs a flat input, got {fmt_shape(shape)} (add 'flatten' before it)")
    return shape[0]


def _build(a: LinearArgs, in_shapes):
    from torch import nn

    return nn.Linear(_in_features(in_shapes), a.out, a.bias)


register_op(
    "linear",
    Args=LinearArgs,
    doc="Fully connected layer (torch.nn.Linear) on a flat input.",
    out_shape=lambda a, s: (_in_features(s), a.out)[1:],
    weights=lambda a, s: _in_features(s) * a.out,
    biases=lambda a, s: a.out if a.bias else 0,
    macs=lambda a, s, o: linear_macs(_in_features(s), a.out),
    ops=lambda a, s, o: a.out if a.bias else 0,
    saved=saves_input,
    label=lambda a, s, o: f"FC-{a.out}",
    formula=lambda a, s: f"{_in_features(s)}×{a.out}",
    global_rf=True,
    layer="linear",
    torch_type="Linear",
    build=_build,
    from_module=lambda m: {"out": m.out_features, "bias": m.bias is not None},
)
