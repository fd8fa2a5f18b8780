"""Fully connected layer, over the last dimension of its input: a flat vector (F) is one row, tokens
(L×D) are L rows, a channels-last map (H×W×C, after ``permute``) is H·W rows — as torch.nn.Linear."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.ops.arith import linear_macs
from archstat.ops.registry import numel, register_op, saves_input
from archstat.ops.types import arg


@dataclass(frozen=True)
class LinearArgs:
    out: int = arg(min=1)
    bias: bool = True


def linear_rows(shape) -> int:
    """The vectors a linear layer multiplies: every index but the last (1 for a flat input)."""
    return numel(shape[:-1])


register_op(
    "linear",
    Args=LinearArgs,
    doc="Fully connected layer (torch.nn.Linear) over the last dimension: a flat input (F), tokens "
        "(L×D) or a channels-last map (H×W×C).",
    out_shape=lambda a, s: tuple(s[0][:-1]) + (a.out,),
    weights=lambda a, s: s[0][-1] * a.out,
    biases=lambda a, s: a.out if a.bias else 0,
    macs=lambda a, s, o: linear_macs(s[0][-1], a.out, linear_rows(s[0])),
    ops=lambda a, s, o: numel(o) if a.bias else 0,          # one bias add per output
    saved=saves_input,
    label=lambda a, s, o: f"FC-{a.out}",
    formula=lambda a, s: f"{s[0][-1]}×{a.out}",
    global_rf=lambda in_shapes: len(in_shapes[0]) == 1,     # a flat input: each output sees all of it
    layer="linear",
)
