"""The torch half of ``archstat/ops/shape.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.shape import PadShortcutArgs


def _build(torch_name: str, **fixed):
    def build(a, in_shapes):
        from torch import nn

        kwargs = {k: getattr(a, k) for k in ("p", "dim") if hasattr(a, k)}
        return getattr(nn, torch_name)(**kwargs, **fixed)

    return build


def _build_pad(a: PadShortcutArgs, in_shapes):
    from archstat.builder.modules import PadShortcut

    return PadShortcut(in_shapes[0][0], a.out, a.stride)


attach(
    "flatten",
    torch_type="Flatten",
    build=_build("Flatten"),
    from_module=lambda m: {} if (m.start_dim, m.end_dim) == (1, -1) else None,
)
attach("identity", torch_type="Identity", build=_build("Identity"))
attach("dropout", torch_type="Dropout", build=_build("Dropout"))
attach(
    "softmax",
    torch_type="Softmax",
    build=_build("Softmax"),
    from_module=lambda m: {"dim": 1} if m.dim in (1, -1) else None,
)
attach(
    "pad_shortcut",
    torch_type="PadShortcut",
    build=_build_pad,
    from_module=lambda m: {"out": m.out_channels, "stride": m.stride},
)
