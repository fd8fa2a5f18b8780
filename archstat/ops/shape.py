"""Ops that reshape or pass through: flatten (a view), dropout (identity at inference), softmax."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.ops.registry import RFStep, Saved, numel, register_op, saves_nothing, saves_output, zero
from archstat.errors import ShapeError
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


def _build(torch_name: str, **fixed):
    def build(a, in_shapes):
        from torch import nn

        kwargs = {k: getattr(a, k) for k in ("p", "dim") if hasattr(a, k)}
        return getattr(nn, torch_name)(**kwargs, **fixed)

    return build


register_op(
    "flatten",
    Args=NoArgs,
    doc="Flatten each sample to one dimension (torch.nn.Flatten); a view, it allocates nothing.",
    out_shape=lambda a, s: (numel(s[0]),),
    weights=zero, biases=zero, macs=zero, ops=zero,
    saved=saves_nothing,
    label=lambda a, s, o: "FLATTEN",
    inplace=lambda a: True,
    global_rf=False,
    torch_type="Flatten",
    build=_build("Flatten"),
    from_module=lambda m: {} if (m.start_dim, m.end_dim) == (1, -1) else None,   # flatten of each sample only
)

register_op(
    "identity",
    Args=NoArgs,
    doc="The identity (torch.nn.Identity): returns its input, allocates nothing.",
    out_shape=lambda a, s: s[0],
    weights=zero, biases=zero, macs=zero, ops=zero,
    saved=saves_nothing,
    label=lambda a, s, o: "IDENTITY",
    inplace=lambda a: True,
    torch_type="Identity",
    build=_build("Identity"),
)

register_op(
    "dropout",
    Args=DropoutArgs,
    doc="Dropout (torch.nn.Dropout); the identity at inference, so it allocates nothing there.",
    out_shape=lambda a, s: s[0],
    weights=zero, biases=zero, macs=zero, ops=zero,
    # training: a new output (not in place) and its bool mask
    saved=lambda a, s, o: (Saved("extra", numel(o), 1),),
    label=lambda a, s, o: "DROPOUT",
    inplace=lambda a: True,
    training_inplace=lambda a: False,  # training: a new output and its mask
    torch_type="Dropout",
    build=_build("Dropout"),
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
    torch_type="Softmax",
    build=_build("Softmax"),
    from_module=lambda m: {"dim": 1} if m.dim in (1, -1) else None,
)


@dataclass(frozen=True)
class PadShortcutArgs:
    out: int = arg(min=1)
    stride: int = arg(1, min=1)


def _pad_shape(a: PadShortcutArgs, in_shapes):
    from archstat.ops.conv import spatial_input

    c, h, w = spatial_input("pad_shortcut", in_shapes[0])
    return (a.out, -(-h // a.stride), -(-w // a.stride))


def _build_pad(a: PadShortcutArgs, in_shapes):
    from archstat.builder.modules import PadShortcut

    return PadShortcut(in_shapes[0][0], a.out, a.stride)


register_op(
    "pad_shortcut",
    Args=PadShortcutArgs,
    doc="Option A shortcut of He et al. 2015: x[:, :, ::stride, ::stride] with channels zero-padded "
        "to out (no params). Used by residual's shortcut: pad.",
    out_shape=_pad_shape,
    weights=zero, biases=zero, macs=zero, ops=zero,
    saved=saves_nothing,
    label=lambda a, s, o: "PAD",
    rf=lambda a: RFStep((1, 1), (a.stride, a.stride), (1, 1), (0, 0)),
    torch_type="PadShortcut",
    build=_build_pad,
    from_module=lambda m: {"out": m.out_channels, "stride": m.stride},
)
