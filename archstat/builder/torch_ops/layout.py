"""The torch half of ``archstat/ops/layout.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.layout import ChannelShuffleArgs, ChunkArgs, PermuteArgs


def _build_permute(a: PermuteArgs, in_shapes):
    from archstat.builder.modules import Permute

    return Permute([0] + [d + 1 for d in a.dims])


def _build_chunk(a: ChunkArgs, in_shapes):
    from archstat.builder.modules import Chunk

    return Chunk(a.chunks, a.index)


def _build_shuffle(a: ChannelShuffleArgs, in_shapes):
    from torch import nn

    return nn.ChannelShuffle(a.groups)


attach(
    "permute",
    torch_type="Permute",
    build=_build_permute,
    from_module=lambda m: {"dims": [d - 1 for d in m.dims[1:]]} if list(m.dims)[:1] == [0] else None,
)
attach("chunk", torch_type="Chunk", build=_build_chunk)
attach("channel_shuffle", torch_type="ChannelShuffle", build=_build_shuffle)
