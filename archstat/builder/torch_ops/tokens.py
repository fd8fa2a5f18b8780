"""The torch half of ``archstat/ops/tokens.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.tokens import PatchEmbedArgs


def _build_patch_embed(a: PatchEmbedArgs, in_shapes):
    from archstat.builder.token_modules import PatchEmbedding

    return PatchEmbedding(in_shapes[0][0], a.out, a.patch, a.patch, bias=a.bias)


def _build(cls_name: str, make):
    def build(a, in_shapes):
        from archstat.builder import token_modules

        return getattr(token_modules, cls_name)(*make(a, in_shapes[0]))

    return build


attach(
    "patch_embed",
    torch_type="PatchEmbedding",
    build=_build_patch_embed,
    from_module=lambda m: {"out": m.out_channels, "patch": list(m.kernel_size), "bias": m.bias is not None},
)
attach(
    "class_token", torch_type="ClassToken", build=_build("ClassToken", lambda a, s: (s[1],)), from_module=lambda m: {}
)
attach(
    "pos_embed",
    torch_type="PositionEmbedding",
    build=_build("PositionEmbedding", lambda a, s: (s[0], s[1])),
    from_module=lambda m: {},
)
attach(
    "select_token",
    torch_type="SelectToken",
    build=_build("SelectToken", lambda a, s: (a.index,)),
    from_module=lambda m: {"index": m.index},
)
attach("patch_merge", torch_type="PatchMerge", build=_build("PatchMerge", lambda a, s: ()), from_module=lambda m: {})
