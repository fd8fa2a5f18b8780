"""The torch half of ``archstat/ops/linear.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.linear import LinearArgs


def _build(a: LinearArgs, in_shapes):
    from torch import nn

    return nn.Linear(in_shapes[0][-1], a.out, a.bias)


attach(
    "linear",
    torch_type="Linear",
    build=_build,
    from_module=lambda m: {"out": m.out_features, "bias": m.bias is not None},
)
