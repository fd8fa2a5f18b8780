"""The torch half of ``archstat/ops/conv.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.conv import ConvArgs


def _build(a: ConvArgs, in_shapes):
    from torch import nn

    return nn.Conv2d(in_channels=in_shapes[0][0], out_channels=a.out, kernel_size=a.kernel, stride=a.stride,
                     padding=a.padding, dilation=a.dilation, groups=a.groups, bias=a.bias)


attach(
    "conv",
    torch_type="Conv2d",
    build=_build,
    from_module=lambda m: (
        None
        if isinstance(m.padding, str)
        else {
            "out": m.out_channels,
            "kernel": list(m.kernel_size),
            "stride": list(m.stride),
            "padding": list(m.padding),
            "dilation": list(m.dilation),
            "groups": m.groups,
            "bias": m.bias is not None,
        }
    ),
)
