"""The torch half of ``archstat/ops/attention.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.attention import SelfAttentionArgs, WindowAttentionArgs


def _build(a: SelfAttentionArgs, in_shapes):
    from archstat.builder.token_modules import MultiHeadSelfAttention

    return MultiHeadSelfAttention(in_shapes[0][1], a.heads, a.bias)


def _build_window(a: WindowAttentionArgs, in_shapes):
    from archstat.builder.token_modules import WindowAttention

    return WindowAttention(in_shapes[0][2], a.heads, a.window, a.shift, a.bias)


attach(
    "self_attention",
    torch_type="MultiHeadSelfAttention",
    build=_build,
    from_module=lambda m: {"heads": m.heads, "bias": m.qkv.bias is not None},
)
attach(
    "window_attention",
    torch_type="WindowAttention",
    build=_build_window,
    from_module=lambda m: {"heads": m.heads, "window": m.window, "shift": m.shift, "bias": m.qkv.bias is not None},
)
