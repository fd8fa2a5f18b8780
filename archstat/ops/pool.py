"""Pooling: max, average and adaptive average, with torch's exact ceil_mode rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from archstat.errors import ShapeError
from archstat.ops.conv import spatial_input
from archstat.ops.registry import RFStep, Saved, numel, register_op, saves_input, zero
from archstat.ops.types import Size, arg, fmt_size


def pool_out_len(n: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """torch's pooling_output_shape: floor or ceil of (n + 2p - d(k-1) - 1)/s, plus 1;
    with ceil_mode the last window must start inside the input or its left padding."""
    out = (n + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    return out


@dataclass(frozen=True)
class MaxPoolArgs:
    kernel: Size = arg(min=1)
    stride: Optional[Size] = arg(None, min=1)   # default: the kernel
    padding: Size = arg(0, min=0)
    dilation: Size = arg(1, min=1)
    ceil_mode: bool = False


@dataclass(frozen=True)
class AvgPoolArgs:
    kernel: Size = arg(min=1)
    stride: Optional[Size] = arg(None, min=1)
    padding: Size = arg(0, min=0)
    ceil_mode: bool = False
    count_include_pad: bool = True


def _pool_shape(op: str, a, in_shapes):
    c, h, w = spatial_input(op, in_shapes[0])
    stride = a.stride or a.kernel
    dilation = getattr(a, "dilation", (1, 1))
    out = []
    for i, n in enumerate((h, w)):
        if a.padding[i] > a.kernel[i] // 2:  # torch: pad at most half the (undilated) kernel
            raise ShapeError(f"padding {a.padding[i]} is more than half the kernel {a.kernel[i]} "
                             "(torch refuses it)")
        length = pool_out_len(n, a.kernel[i], stride[i], a.padding[i], dilation[i], a.ceil_mode)
        if length < 1:
            raise ShapeError(f"kernel {fmt_size(a.kernel)} does not fit a {h}×{w} input"
                             + (f" (padded {h + 2 * a.padding[0]}×{w + 2 * a.padding[1]})"
                                if any(a.padding) else ""))
        out.append(length)
    return (c, out[0], out[1])


def _window_ops(a, in_shapes, o) -> int:
    """One compare (max) or add (average) per window element per output."""
    return o[0] * o[1] * o[2] * a.kernel[0] * a.kernel[1]


def _rf(a) -> RFStep:
    return RFStep(a.kernel, a.stride or a.kernel, getattr(a, "dilation", (1, 1)), a.padding)


register_op(
    "maxpool",
    Args=MaxPoolArgs,
    doc="2-D max pooling (torch.nn.MaxPool2d); stride defaults to the kernel.",
    out_shape=lambda a, s: _pool_shape("maxpool", a, s),
    weights=zero, biases=zero, macs=zero,
    ops=_window_ops,
    saved=lambda a, s, o: (Saved("input"), Saved("extra", numel(o), 8)),  # the input and int64 indices
    label=lambda a, s, o: f"POOL{fmt_size(a.kernel).replace('×', 'x')}",
    rf=_rf,
)

register_op(
    "avgpool",
    Args=AvgPoolArgs,
    doc="2-D average pooling (torch.nn.AvgPool2d); stride defaults to the kernel.",
    out_shape=lambda a, s: _pool_shape("avgpool", a, s),
    weights=zero, biases=zero, macs=zero,
    ops=_window_ops,
    saved=saves_input,
    label=lambda a, s, o: f"AVGPOOL{fmt_size(a.kernel).replace('×', 'x')}",
    rf=_rf,
)


@dataclass(frozen=True)
class AdaptiveAvgPoolArgs:
    out: Size = arg((1, 1), min=1)


def _adaptive_shape(a: AdaptiveAvgPoolArgs, in_shapes):
    c, _h, _w = spatial_input("adaptive_avgpool", in_shapes[0])
    return (c, a.out[0], a.out[1])


def adaptive_window(n: int, out: int, i: int) -> int:
    """Length of torch's i-th adaptive window: [floor(i*n/out), ceil((i+1)*n/out))."""
    return -((-(i + 1) * n) // out) - (i * n) // out


def adaptive_window_sum(n: int, out: int) -> int:
    """The lengths of torch's ``out`` adaptive windows over ``n`` inputs add up to n + out - gcd(n, out)
    (sum of ceil((i+1)n/out) - floor(i·n/out)); closed form, so absurd sizes cost nothing."""
    import math

    return n + out - math.gcd(n, out)


register_op(
    "adaptive_avgpool",
    Args=AdaptiveAvgPoolArgs,
    doc="Adaptive average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d).",
    out_shape=_adaptive_shape,
    weights=zero, biases=zero, macs=zero,
    # one add per input element per window that covers it (windows may overlap)
    ops=lambda a, s, o: o[0] * adaptive_window_sum(s[0][1], o[1]) * adaptive_window_sum(s[0][2], o[2]),
    # to 1×1 torch computes a mean over H and W, whose backward needs only the sizes: nothing saved
    saved=lambda a, s, o: () if o[1:] == (1, 1) else (Saved("input"),),
    label=lambda a, s, o: f"AVGPOOL→{fmt_size(a.out)}",
    global_rf=True,
)
