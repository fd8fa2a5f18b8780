"""Merges of parallel branches: concat (inception), add (residual), mean (fractal join), mul (a gate:
squeeze-and-excitation)."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import ShapeError
from archstat.ops.registry import Saved, numel, register_op, register_view, saves_nothing, zero
from archstat.ops.types import fmt_shape


@dataclass(frozen=True)
class NoArgs:
    pass


def _concat_shape(a, in_shapes):
    first = in_shapes[0]
    for s in in_shapes[1:]:
        if len(s) != len(first) or s[1:] != first[1:]:
            raise ShapeError("concat needs equal sizes except channels, got "
                             + ", ".join(fmt_shape(x) for x in in_shapes))
    return (sum(s[0] for s in in_shapes),) + tuple(first[1:])


def _same_shape(op: str):
    def out_shape(a, in_shapes):
        if any(s != in_shapes[0] for s in in_shapes[1:]):
            raise ShapeError(f"{op} needs equal shapes, got " + ", ".join(fmt_shape(x) for x in in_shapes))
        return in_shapes[0]
    return out_shape


register_view(
    "concat", Args=NoArgs, view=False, multi_input=True,
    doc="Concatenate branches along channels (torch.cat(dim=1)).",
    out_shape=_concat_shape,
)

register_op(
    "add",
    Args=NoArgs, doc="Elementwise sum of branches (residual connections).",
    out_shape=_same_shape("add"),
    weights=zero, biases=zero, macs=zero,
    ops=lambda a, s, o: (len(s) - 1) * numel(o),
    saved=saves_nothing,
    label=lambda a, s, o: "ADD", multi_input=True,
)

register_op(
    "mean",
    Args=NoArgs, doc="Elementwise mean of branches (FractalNet's join).",
    out_shape=_same_shape("mean"),
    weights=zero, biases=zero, macs=zero,
    ops=lambda a, s, o: len(s) * numel(o),  # n-1 adds and one divide per element
    saved=saves_nothing,
    label=lambda a, s, o: "MEAN", multi_input=True,
)


def broadcast_shape(shapes) -> tuple:
    """torch's broadcasting of per-sample shapes (aligned at the right; a 1 stretches), or ShapeError."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(1, rank + 1):
        sizes = {s[-i] for s in shapes if len(s) >= i} - {1}
        if len(sizes) > 1:
            raise ShapeError("mul needs shapes that broadcast (equal, or 1), got "
                             + ", ".join(fmt_shape(x) for x in shapes))
        out.append(sizes.pop() if sizes else 1)
    return tuple(reversed(out))


register_op(
    "mul",
    Args=NoArgs,
    doc="Elementwise product of branches, broadcast as torch does: a gate (squeeze-and-excitation: "
        "x · σ(W₂ δ(W₁ pool(x))) multiplies a C×H×W map by a C×1×1 gate).",
    out_shape=lambda a, s: broadcast_shape(s),
    weights=zero, biases=zero, macs=zero,
    ops=lambda a, s, o: (len(s) - 1) * numel(o),
    # each factor's gradient is the product of the others: autograd keeps every input
    saved=lambda a, s, o: tuple(Saved("input", index=i) for i in range(len(s))),
    label=lambda a, s, o: "MUL", multi_input=True, gate=True,
)
