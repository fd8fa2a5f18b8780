"""Ops that reshape or pass through: flatten (a view), dropout (identity at inference), softmax."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import ShapeError
from archstat.ops.registry import RFStep, Saved, numel, register_op, register_view, saves_output, zero
from archstat.ops.types import arg, fmt_shape


@dataclass(frozen=True)
class NoArgs:
    pass


@dataclass(frozen=True)
class DropoutArgs:
    p: float = arg(0.5, min=0)


@dataclass(frozen=True)
class SoftmaxArgs:
    dim: int = 1


def _softmax_shape(a: SoftmaxArgs, shape):
    rank = len(shape) + 1   # torch sees the batch dimension too
    if not -rank <= a.dim < rank:
        raise ShapeError(f"softmax dim={a.dim} is out of range for a {rank}-dimensional batch "
                         f"(N×{fmt_shape(shape)}): expected {-rank} to {rank - 1}")
    return shape


register_view(
    "flatten", Args=NoArgs, view=True,
    doc="Flatten each sample to one dimension (torch.nn.Flatten); a view, it allocates nothing.",
    out_shape=lambda a, s: (numel(s[0]),),   # flatten of each sample only
    global_rf=False,
)

register_view(
    "identity", Args=NoArgs, view=True,
    doc="The identity (torch.nn.Identity): returns its input, allocates nothing.",
)

register_view(
    "dropout", Args=DropoutArgs, view=True,
    doc="Dropout (torch.nn.Dropout); the identity at inference, so it allocates nothing there.",
    # training: a new output (not in place) and its bool mask
    saved=lambda a, s, o: (Saved("extra", numel(o), 1),),
    training_inplace=lambda a: False,  # training: a new output and its mask
)

register_op(
    "softmax",
    Args=SoftmaxArgs,
    doc="Softmax over the class (or channel) dimension (torch.nn.Softmax(dim=1)).",
    out_shape=lambda a, s: _softmax_shape(a, s[0]),
    weights=zero, biases=zero, macs=zero,
    ops=lambda a, s, o: 3 * numel(o),  # exp, sum, divide per element
    saved=saves_output,
    label=lambda a, s, o: "SOFTMAX",
)


@dataclass(frozen=True)
class PadShortcutArgs:
    out: int = arg(min=1)
    stride: int = arg(1, min=1)


def _pad_shape(a: PadShortcutArgs, in_shapes):
    from archstat.ops.conv import spatial_input

    _c, h, w = spatial_input("pad_shortcut", in_shapes[0])
    return (a.out, -(-h // a.stride), -(-w // a.stride))


register_view(
    "pad_shortcut", Args=PadShortcutArgs, view=False, label="PAD",
    doc="Option A shortcut of He et al. 2015: x[:, :, ::stride, ::stride] with channels zero-padded "
        "to out (no params). Used by residual's shortcut: pad.",
    out_shape=_pad_shape,
    rf=lambda a: RFStep((1, 1), (a.stride, a.stride), (1, 1), (0, 0)),
)
