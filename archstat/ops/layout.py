"""Ops that move data without arithmetic: permute (a view: channels-last maps, as ConvNeXt's blocks),
chunk (a view: ShuffleNet V2's channel split) and channel shuffle (a copy)."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import ShapeError
from archstat.ops.registry import register_view
from archstat.ops.types import Ints, arg, fmt_shape


@dataclass(frozen=True)
class PermuteArgs:
    dims: Ints = arg()


def _permuted(a: PermuteArgs, in_shapes):
    shape = in_shapes[0]
    if sorted(a.dims) != list(range(len(shape))):
        raise ShapeError(f"permute dims {list(a.dims)} are not an order of the {len(shape)} dimensions of "
                         f"{fmt_shape(shape)} (per sample, from 0: [1, 2, 0] makes C×H×W into H×W×C)")
    return tuple(shape[d] for d in a.dims)


register_view(
    "permute", Args=PermuteArgs, view=True,
    doc="Reorder the dimensions of each sample (dims from 0, batch excluded: [1, 2, 0] makes C×H×W into "
        "H×W×C); a view, it allocates nothing (torchvision.ops.Permute).",
    out_shape=_permuted,
)


@dataclass(frozen=True)
class ChunkArgs:
    chunks: int = arg(min=1)
    index: int = arg(min=0)


def chunk_sizes(channels: int, chunks: int) -> list[int]:
    """torch.chunk's pieces: ceil(C / chunks) each, the last one smaller (fewer pieces when they run out)."""
    size = -(-channels // chunks)
    return [min(size, channels - start) for start in range(0, channels, size)]


def _chunk_shape(a: ChunkArgs, in_shapes):
    shape = in_shapes[0]
    sizes = chunk_sizes(shape[0], a.chunks)
    if a.index >= len(sizes):
        raise ShapeError(f"chunk index {a.index} does not exist: {shape[0]} channels in {a.chunks} chunks "
                         f"make {len(sizes)} pieces")
    return (sizes[a.index], *shape[1:])


register_view(
    "chunk", Args=ChunkArgs, view=True, label=lambda a, s, o: f"CHUNK{a.index}/{a.chunks}",
    doc="One piece of the channels split into `chunks` (x.chunk(chunks, dim=1)[index]): ShuffleNet V2's "
        "channel split. A view, it allocates nothing.",
    out_shape=_chunk_shape,
)


@dataclass(frozen=True)
class ChannelShuffleArgs:
    groups: int = arg(min=1)


def _shuffle_shape(a: ChannelShuffleArgs, in_shapes):
    shape = in_shapes[0]
    if shape[0] % a.groups:
        raise ShapeError(f"channel_shuffle needs channels divisible by groups={a.groups}, got {shape[0]}")
    return shape


register_view(
    "channel_shuffle", Args=ChannelShuffleArgs, view=False, label=lambda a, s, o: f"SHUFFLE{a.groups}",
    doc="Interleave the channels of `groups` groups (torch.nn.ChannelShuffle; ShuffleNet): C = g·n channels "
        "viewed g×n, transposed to n×g, copied. A new tensor, no arithmetic.",
    out_shape=_shuffle_shape,
)
