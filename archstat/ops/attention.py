"""Multi-head self-attention over tokens (ViT's MSA): params 4·D² + 4·D, MACs 4·L·D² + 2·L²·D; and
Swin's (shifted) window attention — from the shared formulas of :mod:`archstat.ops.arith`."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import ShapeError
from archstat.ops.arith import attention_macs, linear_macs, mhsa_macs, mhsa_params
from archstat.ops.registry import RFStep, Saved, register_op
from archstat.ops.tokens import tokens_input
from archstat.ops.types import arg


@dataclass(frozen=True)
class SelfAttentionArgs:
    heads: int = arg(min=1)
    bias: bool = True


def _tokens(a: SelfAttentionArgs, in_shapes) -> tuple[int, int]:
    length, d = tokens_input("self_attention", in_shapes[0])
    if d % a.heads:
        raise ShapeError(f"self_attention: width {d} is not divisible by heads={a.heads}")
    return length, d


def self_attention_ops(a: SelfAttentionArgs, in_shapes) -> int:
    """Per sample: the four projections' bias adds (4·L·D) and, per score (heads·L²), a scale, an
    exp, a sum and a divide (softmax)."""
    length, d = _tokens(a, in_shapes)
    return (4 * length * d if a.bias else 0) + 4 * a.heads * length * length


def self_attention_saved(a: SelfAttentionArgs, in_shapes, out_shape) -> tuple:
    """What autograd keeps with fused attention (F.scaled_dot_product_attention's flash kernel; checked
    against autograd on the CPU): the input (for the qkv linear), the qkv projection (3·L·D, whose
    views q, k, v attention saves), the attention output (L·D, saved by attention and, as the same
    storage, by the output projection) and the fp32 log-sum-exp per head and query (heads·L).
    CUDA's fused kernels keep the same tensors up to small extras (RNG state, the log-sum-exp
    padded; not checked here). The unfused math path would also keep the heads·L² probabilities."""
    length, d = _tokens(a, in_shapes)
    return (Saved("input"), Saved("extra", 3 * length * d), Saved("extra", length * d),
            Saved("extra", a.heads * length, 4))


register_op(
    "self_attention",
    Args=SelfAttentionArgs,
    doc="Multi-head self-attention over L×D tokens: Q, K, V projections (one D→3D linear), "
        "scaled dot-product attention in `heads` heads of D/heads, output projection D→D.",
    out_shape=lambda a, s: _tokens(a, s),
    weights=lambda a, s: mhsa_params(_tokens(a, s)[1], bias=False),                     # 4·D²
    biases=lambda a, s: 4 * _tokens(a, s)[1] if a.bias else 0,                              # 4·D
    macs=lambda a, s, o: mhsa_macs(*_tokens(a, s)),
    ops=lambda a, s, o: self_attention_ops(a, s),
    saved=self_attention_saved,
    label=lambda a, s, o: f"MSA-{a.heads}",
    formula=lambda a, s: f"4×{_tokens(a, s)[1]}²",
    global_rf=True,                                       # every token attends to every token
    layer="attention",
)


# -- Swin: (shifted) window attention ------------------------------------------------------------

@dataclass(frozen=True)
class WindowAttentionArgs:
    heads: int = arg(min=1)
    window: int = arg(min=1)        # M: attention within M×M windows
    shift: int = arg(0, min=0)      # cyclic shift of the windows (Swin: 0, then M // 2 in every other block)
    bias: bool = True


def _grid(a: WindowAttentionArgs, in_shapes) -> tuple[int, int, int, int]:
    """(tokens after padding to whole windows, windows, channels, tokens per window) of an H×W×C map."""
    shape = in_shapes[0]
    if len(shape) != 3:
        raise ShapeError(f"window_attention needs a channels-last H×W×C map, got {'×'.join(map(str, shape))}")
    h, w, c = shape
    if c % a.heads:
        raise ShapeError(f"window_attention: {c} channels are not divisible by heads={a.heads}")
    if a.shift >= a.window:
        raise ShapeError(f"window_attention: shift {a.shift} must be smaller than the window {a.window}")
    m = a.window
    rows, cols = -(-h // m), -(-w // m)        # H and W padded up to whole windows, as torchvision does
    return rows * cols * m * m, rows * cols, c, m * m


def window_attention_shape(a: WindowAttentionArgs, in_shapes):
    _grid(a, in_shapes)                          # checks the layout and the heads
    return in_shapes[0]


def window_attention_macs(a: WindowAttentionArgs, in_shapes) -> int:
    """Q, K, V and output projections on every (padded) token, 4·T·C², and attention within each of
    the nW windows of M² tokens, 2·nW·M⁴·C (all heads)."""
    tokens, windows, c, per = _grid(a, in_shapes)
    return 4 * linear_macs(c, c, tokens) + attention_macs(windows * a.heads, per, per, c // a.heads, c // a.heads)


def window_attention_ops(a: WindowAttentionArgs, in_shapes) -> int:
    """Bias adds of the projections (4·T·C), the query scale (T·C), and per score (heads·M⁴ per
    window) the relative position bias, the shift mask where there is one, and softmax's three."""
    tokens, windows, c, per = _grid(a, in_shapes)
    per_score = 4 + (1 if _shifted(a, in_shapes) else 0)
    return (4 * tokens * c if a.bias else 0) + tokens * c + per_score * windows * a.heads * per * per


def _shifted(a: WindowAttentionArgs, in_shapes) -> bool:
    """torchvision does not shift along an axis one window covers (Swin-T's last stage at 224)."""
    h, w, _ = in_shapes[0]
    return a.shift > 0 and (-(-h // a.window) > 1 or -(-w // a.window) > 1)


def window_attention_saved(a: WindowAttentionArgs, in_shapes, out_shape) -> tuple:
    """What autograd keeps for torchvision's algorithm (two matmuls, checked on the CPU): five tensors
    of T·C — the windowed input (the qkv linear's), the scaled queries, the keys and values as
    matmul operands, the merged heads (the output projection's input) — and the attention
    probabilities, heads·M⁴ per window."""
    tokens, windows, c, per = _grid(a, in_shapes)
    return (Saved("extra", 5 * tokens * c), Saved("extra", windows * a.heads * per * per))


register_op(
    "window_attention",
    Args=WindowAttentionArgs,
    doc="Swin's (shifted) window attention on a channels-last H×W×C map: multi-head self-attention "
        "within M×M windows (H, W padded to whole windows), windows cyclically shifted by `shift`, "
        "a learned relative position bias ((2M−1)²·heads) per head.",
    out_shape=window_attention_shape,
    # 4·C² and the relative position bias table, (2M − 1)² per head (a table of weights, as torch names it)
    weights=lambda a, s: mhsa_params(_grid(a, s)[2], bias=False) + (2 * a.window - 1) ** 2 * a.heads,
    biases=lambda a, s: 4 * _grid(a, s)[2] if a.bias else 0,                               # 4·C
    macs=lambda a, s, o: window_attention_macs(a, s),
    ops=lambda a, s, o: window_attention_ops(a, s),
    saved=window_attention_saved,
    label=lambda a, s, o: f"{'SW' if _shifted(a, s) else 'W'}-MSA-{a.heads}",
    formula=lambda a, s: f"4×{_grid(a, s)[2]}² + {2 * a.window - 1}²×{a.heads}",
    # each token sees the M×M window it is in: counted as an M×M kernel; with shifted windows a
    # token's field can be up to a window wider (the windows it mixes), so this is a lower bound
    rf=lambda a: RFStep((a.window, a.window), (1, 1), (1, 1), (0, 0)),
    layer="attention",
)
