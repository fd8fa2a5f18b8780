"""The Vision Transformer's token ops: patch embedding (a conv, then flatten to tokens), a class
token, learned position embeddings, and selecting one token. Tokens are L×D per sample."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import ShapeError
from archstat.ops.conv import CONV, ConvArgs, conv_macs, conv_weights
from archstat.ops.registry import RFStep, numel, register_op, register_view, saves_input, saves_nothing, zero
from archstat.ops.shape import NoArgs
from archstat.ops.types import Shape, Size, arg, fmt_shape, fmt_size


def tokens_input(op: str, shape: Shape) -> tuple[int, int]:
    """(L, D) of a token input, or a ShapeError that says how to get tokens."""
    if len(shape) != 2:
        raise ShapeError(f"{op} needs tokens (L×D), got {fmt_shape(shape)} (patch_embed makes tokens of a C×H×W map)")
    return shape


# -- patch embedding -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PatchEmbedArgs:
    out: int = arg(min=1)          # D, the token width
    patch: Size = arg(min=1)       # P: kernel = stride = P
    bias: bool = True


def _conv_args(a: PatchEmbedArgs) -> ConvArgs:
    return CONV.make_args({"out": a.out, "kernel": a.patch, "stride": a.patch, "bias": a.bias})


def patch_embed_shape(a: PatchEmbedArgs, in_shapes) -> Shape:
    """C×H×W → L×D with L = ⌊H/P⌋·⌊W/P⌋ (the conv's output positions, one token each)."""
    d, h, w = CONV.out_shape(_conv_args(a), in_shapes)
    return (h * w, d)


def patch_embed_macs(a: PatchEmbedArgs, in_shapes, out_shape) -> int:
    """The conv's: one MAC per weight per token, L·D·C·P²."""
    _, h, w = CONV.out_shape(_conv_args(a), in_shapes)
    return conv_macs((h, w), in_shapes[0][0], a.out, a.patch, 1)


register_op(
    "patch_embed",
    Args=PatchEmbedArgs,
    doc="Patch embedding: a P×P conv at stride P to D channels, flattened to L×D tokens "
        "(ViT's 'linear projection of flattened patches').",
    out_shape=patch_embed_shape,
    weights=lambda a, s: conv_weights(s[0][0], a.out, a.patch, 1),
    biases=lambda a, s: a.out if a.bias else 0,
    macs=patch_embed_macs,
    ops=lambda a, s, o: numel(o) if a.bias else 0,      # one add per output for the bias
    saved=saves_input,
    label=lambda a, s, o: f"PATCH{fmt_size(a.patch).replace('×', 'x')}-{a.out}",
    formula=lambda a, s: f"({a.patch[0]}×{a.patch[1]}×{s[0][0]})×{a.out}",
    rf=lambda a: RFStep(a.patch, a.patch, (1, 1), (0, 0)),
    layer="conv",
)


# -- class token, position embeddings, token selection ------------------------------------------

@dataclass(frozen=True)
class SelectTokenArgs:
    index: int = arg(0, min=0)


def class_token_shape(a, in_shapes) -> Shape:
    length, d = tokens_input("class_token", in_shapes[0])
    return (length + 1, d)


def _select_shape(a: SelectTokenArgs, in_shapes) -> Shape:
    length, d = tokens_input("select_token", in_shapes[0])
    if a.index >= length:
        raise ShapeError(f"select_token index {a.index} is past the {length} tokens")
    return (d,)


register_op(
    "class_token",
    Args=NoArgs,
    doc="Prepends a learned class token (D params) to the tokens: L×D → (L+1)×D (torch.cat).",
    out_shape=class_token_shape,
    weights=lambda a, s: tokens_input("class_token", s[0])[1],
    biases=zero, macs=zero, ops=zero,
    saved=saves_nothing,                                  # torch.cat keeps nothing for its backward
    label=lambda a, s, o: "CLS",
    formula=lambda a, s: f"{s[0][1]}",
)

register_op(
    "pos_embed",
    Args=NoArgs,
    doc="Adds learned position embeddings, one D-vector per token (L·D params).",
    out_shape=lambda a, s: tokens_input("pos_embed", s[0]),
    weights=lambda a, s: numel(tokens_input("pos_embed", s[0])),
    biases=zero, macs=zero,
    ops=lambda a, s, o: numel(o),                         # one add per element
    saved=saves_nothing,                                  # an add keeps nothing for its backward
    label=lambda a, s, o: "POS",
    formula=lambda a, s: f"{s[0][0]}×{s[0][1]}",
)

register_view(
    "select_token", Args=SelectTokenArgs, view=True, label=lambda a, s, o: f"TOKEN{a.index}",
    doc="One token of each sample (the class token: index 0): L×D → D, a view (x[:, index]).",
    out_shape=_select_shape,
)


# -- Swin: patch merging ----------------------------------------------------------------------------

def patch_merge_shape(a, in_shapes) -> Shape:
    shape = in_shapes[0]
    if len(shape) != 3:
        raise ShapeError(f"patch_merge needs a channels-last H×W×C map, got {fmt_shape(shape)}")
    h, w, c = shape
    return (-(-h // 2), -(-w // 2), 4 * c)


register_view(   # strided slices and a cat: a copy that keeps nothing for backward
    "patch_merge", Args=NoArgs, view=False, label="MERGE2x2",
    doc="Swin's patch merging (before its norm and linear): each 2×2 neighbourhood of a channels-last "
        "H×W×C map concatenated, ⌈H/2⌉×⌈W/2⌉×4C (odd sizes padded); a copy.",
    out_shape=patch_merge_shape,
    rf=lambda a: RFStep((2, 2), (2, 2), (1, 1), (0, 0)),
)
