"""The torch half of ``archstat/ops/pool.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.pool import AdaptiveAvgPoolArgs, AvgPoolArgs, MaxPoolArgs


def _build_max(a: MaxPoolArgs, in_shapes):
    from torch import nn

    return nn.MaxPool2d(a.kernel, a.stride or a.kernel, a.padding, a.dilation, ceil_mode=a.ceil_mode)


def _build_avg(a: AvgPoolArgs, in_shapes):
    from torch import nn

    return nn.AvgPool2d(
        a.kernel, a.stride or a.kernel, a.padding, ceil_mode=a.ceil_mode, count_include_pad=a.count_include_pad
    )


def _build_adaptive(a: AdaptiveAvgPoolArgs, in_shapes):
    from torch import nn

    return nn.AdaptiveAvgPool2d(a.out)


def _adaptive_from_module(m):
    size = m.output_size
    if isinstance(size, (tuple, list)):
        return None if any(v is None for v in size) else {"out": list(size)}  # None: keep that input size
    return {"out": size}


attach(
    "maxpool",
    torch_type="MaxPool2d",
    build=_build_max,
    from_module=lambda m: {
        "kernel": m.kernel_size,
        "stride": m.stride,
        "padding": m.padding,
        "dilation": m.dilation,
        "ceil_mode": m.ceil_mode,
    },
)
attach(
    "avgpool",
    torch_type="AvgPool2d",
    build=_build_avg,
    from_module=lambda m: {
        "kernel": m.kernel_size,
        "stride": m.stride,
        "padding": m.padding,
        "ceil_mode": m.ceil_mode,
        "count_include_pad": m.count_include_pad,
    },
)
attach("adaptive_avgpool", torch_type="AdaptiveAvgPool2d", build=_build_adaptive, from_module=_adaptive_from_module)
