"""Multi-head self-attention over tokens (ViT's MSA): params 4·D² + 4·D, MACs 4·L·D² + 2·L²·D,
from the shared formulas of :mod:`archstat.ops.arith`."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import ShapeError
from archstat.ops.arith import mhsa_macs, mhsa_params
from archstat.ops.registry import Saved, register_op
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
    """What autograd keeps with fused attention (F.scaled_dot_product_attention's flash and
    memory-efficient kernels, CPU and CUDA; checked on the CPU): the input (for the qkv linear),
    the qkv projection (3·L·D, whose views q, k, v attention saves), the attention output (L·D,
    saved by attention and, as the same storage, by the output projection) and the fp32
    log-sum-exp per head and query (heads·L). The unfused math path would also keep the heads·L²
    attention probabilities."""
    length, d = _tokens(a, in_shapes)
    return (Saved("input"), Saved("extra", 3 * length * d), Saved("extra", length * d),
            Saved("extra", a.heads * length, 4))


def _build(a: SelfAttentionArgs, in_shapes):
    from archstat.builder.token_modules import MultiHeadSelfAttention

    return MultiHeadSelfAttention(in_shapes[0][1], a.heads, a.bias)


register_op(
    "self_attention",
    Args=SelfAttentionArgs,
    doc="Multi-head self-attention over L×D tokens: Q, K, V projections (one D→3D linear), "
        "scaled dot-product attention in `heads` heads of D/heads, output projection D→D.",
    out_shape=lambda a, s: _tokens(a, s),
    weights=lambda a, s: mhsa_params(_tokens(a, s)[1], bias=False),                     # 4·D²
    biases=lambda a, s: mhsa_params(_tokens(a, s)[1]) - mhsa_params(_tokens(a, s)[1], bias=False)  # 4·D
    if a.bias else 0,
    macs=lambda a, s, o: mhsa_macs(*_tokens(a, s)),
    ops=lambda a, s, o: self_attention_ops(a, s),
    saved=self_attention_saved,
    label=lambda a, s, o: f"MSA-{a.heads}",
    formula=lambda a, s: f"4×{_tokens(a, s)[1]}²",
    global_rf=True,                                       # every token attends to every token
    layer="attention",
    torch_type="MultiHeadSelfAttention",
    build=_build,
    from_module=lambda m: {"heads": m.heads, "bias": m.qkv.bias is not None}
    if type(m).__module__.startswith("archstat.") else None,
)
