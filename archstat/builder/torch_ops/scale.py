"""The torch half of ``archstat/ops/scale.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.scale import DropPathArgs, LayerScaleArgs, scaled_dim


def _build_layer_scale(a: LayerScaleArgs, in_shapes):
    from archstat.builder.modules import LayerScale

    shape = in_shapes[0]
    return LayerScale(scaled_dim(shape), a.value, spatial=len(shape) == 3)


def _build_drop_path(a: DropPathArgs, in_shapes):
    from archstat.builder.modules import DropPath

    return DropPath(a.p)


attach("layer_scale", torch_type="LayerScale", build=_build_layer_scale, from_module=lambda m: {"value": m.value})
attach(
    "drop_path",
    torch_type="DropPath",
    torch_aliases=("StochasticDepth",),
    build=_build_drop_path,
    from_module=lambda m: {"p": m.p} if getattr(m, "mode", "row") == "row" else None,
)
