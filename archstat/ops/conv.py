"""2-D convolution: output size, weights, biases and MACs."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import ShapeError
from archstat.ops.registry import RFStep, register_op, saves_input
from archstat.ops.types import Size, arg, fmt_size


@dataclass(frozen=True)
class ConvArgs:
    out: int = arg(min=1)
    kernel: Size = arg(min=1)
    stride: Size = arg(1, min=1)
    padding: Size = arg(0, min=0)
    dilation: Size = arg(1, min=1)
    groups: int = arg(1, min=1)
    bias: bool = True


def conv_out_len(n: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """torch's Conv2d rule: floor((n + 2p - d(k-1) - 1) / s) + 1."""
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_weights(c_in: int, c_out: int, kernel: Size, groups: int) -> int:
    return c_out * (c_in // groups) * kernel[0] * kernel[1]


def conv_macs(out_hw: Size, c_in: int, c_out: int, kernel: Size, groups: int) -> int:
    """One multiply-accumulate per weight per output position; bias excluded."""
    return out_hw[0] * out_hw[1] * c_out * (c_in // groups) * kernel[0] * kernel[1]


def spatial_input(op: str, in_shape) -> tuple[int, int, int]:
    if len(in_shape) != 3:
        raise ShapeError(f"{op} needs a C×H×W input, got {'×'.join(map(str, in_shape))}"
                         " (a flat input: remove the flatten before it)")
    return in_shape


def _out_shape(a: ConvArgs, in_shapes):
    c, h, w = spatial_input("conv", in_shapes[0])
    if c % a.groups:
        raise ShapeError(f"input channels {c} are not divisible by groups={a.groups}")
    if a.out % a.groups:
        raise ShapeError(f"out={a.out} is not divisible by groups={a.groups}")
    span = (a.dilation[0] * (a.kernel[0] - 1) + 1, a.dilation[1] * (a.kernel[1] - 1) + 1)
    ph, pw = h + 2 * a.padding[0], w + 2 * a.padding[1]
    if span[0] > ph or span[1] > pw:
        k = fmt_size(a.kernel) if span == a.kernel else f"{fmt_size(a.kernel)} (dilated to {fmt_size(span)})"
        padded = f" (padded {ph}×{pw})" if (ph, pw) != (h, w) else ""
        raise ShapeError(f"kernel {k} does not fit a {h}×{w} input{padded}")
    oh = conv_out_len(h, a.kernel[0], a.stride[0], a.padding[0], a.dilation[0])
    ow = conv_out_len(w, a.kernel[1], a.stride[1], a.padding[1], a.dilation[1])
    return (a.out, oh, ow)


def _label(a: ConvArgs, in_shapes, out_shape) -> str:
    return f"CONV{fmt_size(a.kernel).replace('×', 'x')}-{a.out}"


def _formula(a: ConvArgs, in_shapes) -> str:
    c_in = in_shapes[0][0] // a.groups
    return f"({a.kernel[0]}×{a.kernel[1]}×{c_in})×{a.out}"


CONV = register_op(
    "conv",
    Args=ConvArgs,
    doc="2-D convolution (torch.nn.Conv2d).",
    out_shape=_out_shape,
    weights=lambda a, s: conv_weights(s[0][0], a.out, a.kernel, a.groups),
    biases=lambda a, s: a.out if a.bias else 0,
    macs=lambda a, s, o: conv_macs((o[1], o[2]), s[0][0], a.out, a.kernel, a.groups),
    ops=lambda a, s, o: (o[0] * o[1] * o[2]) if a.bias else 0,  # one add per output for the bias
    saved=saves_input,
    label=_label,
    formula=_formula,
    rf=lambda a: RFStep(a.kernel, a.stride, a.dilation, a.padding),
    layer="conv",
    # padding="same"/"valid" (a string) is not an archstat argument: not read
)
