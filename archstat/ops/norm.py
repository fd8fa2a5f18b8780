"""Normalisation: batch norm and local response normalisation (AlexNet, GoogLeNet)."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.ops.conv import spatial_input
from archstat.ops.registry import Saved, numel, register_op
from archstat.ops.types import arg


@dataclass(frozen=True)
class BatchNormArgs:
    eps: float = arg(1e-5, min=0)
    momentum: float = arg(0.1, min=0)
    affine: bool = True


def _build_bn(a: BatchNormArgs, in_shapes):
    from torch import nn

    cls = nn.BatchNorm2d if len(in_shapes[0]) == 3 else nn.BatchNorm1d
    return cls(in_shapes[0][0], eps=a.eps, momentum=a.momentum, affine=a.affine)


def _build_lrn(a: "LRNArgs", in_shapes):
    from torch import nn

    return nn.LocalResponseNorm(a.size, a.alpha, a.beta, a.k)


register_op(
    "bn",
    Args=BatchNormArgs,
    doc="Batch normalisation over channels (torch.nn.BatchNorm2d / BatchNorm1d). "
        "Weights are the C scales, biases the C shifts; running statistics are buffers, not params.",
    out_shape=lambda a, s: s[0],
    weights=lambda a, s: s[0][0] if a.affine else 0,
    biases=lambda a, s: s[0][0] if a.affine else 0,
    macs=lambda a, s, o: 0,
    # inference: the statistics fold into one scale and one shift per element
    ops=lambda a, s, o: 2 * numel(o),
    # training: the input, and the batch mean and inverse std (fp32) per channel
    saved=lambda a, s, o: (Saved("input"), Saved("extra", 2 * s[0][0], 4)),
    label=lambda a, s, o: "BN",
    torch_type="BatchNorm2d",
    build=_build_bn,
    from_module=lambda m: {"eps": m.eps, "momentum": m.momentum or 0.0, "affine": m.affine},
    torch_aliases=("BatchNorm1d",),
)


@dataclass(frozen=True)
class LRNArgs:
    size: int = arg(5, min=1)
    alpha: float = arg(1e-4, min=0)
    beta: float = arg(0.75, min=0)
    k: float = arg(1.0, min=0)


register_op(
    "lrn",
    Args=LRNArgs,
    doc="Local response normalisation across channels (torch.nn.LocalResponseNorm).",
    out_shape=lambda a, s: spatial_input("lrn", s[0]),   # torch's LocalResponseNorm refuses a flat input
    weights=lambda a, s: 0, biases=lambda a, s: 0, macs=lambda a, s, o: 0,
    # per element: `size` squares-and-adds over the channel window, then scale, power, divide
    ops=lambda a, s, o: (a.size + 3) * numel(o),
    # torch composes it: square, pad channels by size - 1, average, scale, power, divide. Saved: the
    # input, the padded squares ((C + size - 1)·H·W) and two input-sized intermediates (measured)
    saved=lambda a, s, o: (Saved("input"), Saved("extra", (o[0] + a.size - 1) * numel(o[1:]) + 2 * numel(o))),
    label=lambda a, s, o: "LRN",
    torch_type="LocalResponseNorm",
    build=_build_lrn,
)
