"""Normalisation: batch norm and local response normalisation (AlexNet, GoogLeNet)."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.ops.conv import spatial_input
from archstat.ops.registry import Saved, numel, register_op, zero
from archstat.ops.types import arg


@dataclass(frozen=True)
class BatchNormArgs:
    eps: float = arg(1e-5, min=0)
    momentum: float = arg(0.1, min=0)
    affine: bool = True


register_op(
    "bn",
    Args=BatchNormArgs,
    doc="Batch normalisation over channels (torch.nn.BatchNorm2d / BatchNorm1d). "
        "Weights are the C scales, biases the C shifts; running statistics are buffers, not params.",
    out_shape=lambda a, s: s[0],
    weights=lambda a, s: s[0][0] if a.affine else 0,
    biases=lambda a, s: s[0][0] if a.affine else 0,
    macs=zero,
    # inference: the statistics fold into one scale and one shift per element
    ops=lambda a, s, o: 2 * numel(o),
    # training: the input, and the batch mean and inverse std (fp32) per channel
    saved=lambda a, s, o: (Saved("input"), Saved("extra", 2 * s[0][0], 4)),
    label=lambda a, s, o: "BN",
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
    weights=zero, biases=zero, macs=zero,
    # per element: `size` squares-and-adds over the channel window, then scale, power, divide
    ops=lambda a, s, o: (a.size + 3) * numel(o),
    # torch composes it: square, pad channels by size - 1, average, scale, power, divide. Saved: the
    # input, the padded squares ((C + size - 1)·H·W) and two input-sized intermediates (measured)
    saved=lambda a, s, o: (Saved("input"), Saved("extra", (o[0] + a.size - 1) * numel(o[1:]) + 2 * numel(o))),
    label=lambda a, s, o: "LRN",
)


@dataclass(frozen=True)
class LayerNormArgs:
    eps: float = arg(1e-5, min=0)
    affine: bool = True


def layer_norm_ops(a: LayerNormArgs, numel_out: int) -> int:
    """Per element: an add for the mean, a subtract, a square and an add for the variance, a multiply by
    1/std (5); the affine scale and shift (2 more). Statistics are computed at inference too."""
    return (5 + (2 if a.affine else 0)) * numel_out


def layer_norm_saved(a, in_shapes, out_shape, features: int) -> tuple:
    """autograd's native_layer_norm keeps its input and the mean and 1/std of each normalised vector
    (float32: one of each per ``features`` elements)."""
    return (Saved("input"), Saved("extra", 2 * (numel(out_shape) // features), 4))


def _channels(op: str, in_shapes) -> int:
    from archstat.ops.conv import spatial_input

    return spatial_input(op, in_shapes[0])[0]


register_op(
    "layer_norm",
    Args=LayerNormArgs,
    doc="Layer normalisation over the last dimension (torch.nn.LayerNorm): a token's D features, or the "
        "C channels of a channels-last H×W×C map. Weights: D scales; biases: D shifts.",
    out_shape=lambda a, s: s[0],
    weights=lambda a, s: s[0][-1] if a.affine else 0,
    biases=lambda a, s: s[0][-1] if a.affine else 0,
    macs=zero,
    ops=lambda a, s, o: layer_norm_ops(a, numel(o)),
    saved=lambda a, s, o: layer_norm_saved(a, s, o, s[0][-1]),
    label=lambda a, s, o: "LN",
)

register_op(
    "layer_norm2d",
    Args=LayerNormArgs,
    doc="Layer normalisation over the channels of a C×H×W map at each position, channels-last as ConvNeXt "
        "does it (torchvision's LayerNorm2d: permute to H×W×C, LayerNorm(C), permute back). "
        "Weights: C scales; biases: C shifts.",
    out_shape=lambda a, s: (_channels("layer_norm2d", s), *s[0][1:]),
    weights=lambda a, s: s[0][0] if a.affine else 0,
    biases=lambda a, s: s[0][0] if a.affine else 0,
    macs=zero,
    ops=lambda a, s, o: layer_norm_ops(a, numel(o)),
    saved=lambda a, s, o: layer_norm_saved(a, s, o, s[0][0]),
    label=lambda a, s, o: "LN2D",
)
