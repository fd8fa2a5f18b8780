"""The torch half of ``archstat/ops/norm.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.norm import BatchNormArgs, LayerNormArgs, LRNArgs, _channels


def _build_bn(a: BatchNormArgs, in_shapes):
    from torch import nn

    cls = nn.BatchNorm2d if len(in_shapes[0]) == 3 else nn.BatchNorm1d
    return cls(in_shapes[0][0], eps=a.eps, momentum=a.momentum, affine=a.affine)


def _build_lrn(a: LRNArgs, in_shapes):
    from torch import nn

    return nn.LocalResponseNorm(a.size, a.alpha, a.beta, a.k)


def _build_layer_norm(a: LayerNormArgs, in_shapes):
    from torch import nn

    return nn.LayerNorm(in_shapes[0][-1], eps=a.eps, elementwise_affine=a.affine)


def _build_layer_norm2d(a: LayerNormArgs, in_shapes):
    from archstat.builder.modules import LayerNorm2d

    return LayerNorm2d(_channels("layer_norm2d", in_shapes), eps=a.eps, elementwise_affine=a.affine)


def _layer_norm_args(m):
    """A LayerNorm over one dimension (the last) reads as layer_norm; over several it is not an archstat op."""
    if len(m.normalized_shape) != 1:
        return None
    return {"eps": m.eps, "affine": m.elementwise_affine}


attach(
    "bn",
    torch_type="BatchNorm2d",
    build=_build_bn,
    from_module=lambda m: {"eps": m.eps, "momentum": m.momentum or 0.0, "affine": m.affine},
    torch_aliases=("BatchNorm1d",),
)
attach("lrn", torch_type="LocalResponseNorm", build=_build_lrn)
attach("layer_norm", torch_type="LayerNorm", build=_build_layer_norm, from_module=_layer_norm_args)
attach("layer_norm2d", torch_type="LayerNorm2d", build=_build_layer_norm2d, from_module=_layer_norm_args)
