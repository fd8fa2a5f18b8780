"""The arithmetic of matrix products, in one place.

A YAML op and the aten op it builds share these formulas (``linear`` on tokens and
``aten.linear``/``aten.addmm``; multi-head self-attention and
``aten._scaled_dot_product_*``), so a config and a traced module count the same
network the same way. Each returns multiply-accumulates, bias excluded.
"""

from __future__ import annotations


def linear_macs(in_features: int, out_features: int, rows: int = 1) -> int:
    """``rows`` vectors of ``in_features`` times an ``in_features``×``out_features`` weight:
    one MAC per weight per row (a flat input is one row; tokens are L rows)."""
    return rows * in_features * out_features


def matmul_macs(batch: int, m: int, k: int, n: int) -> int:
    """``batch`` products of an m×k by a k×n matrix (mm: batch 1; bmm; matmul after broadcasting)."""
    return batch * m * k * n


def attention_macs(batch_heads: int, l: int, s: int, e: int, ev: int) -> int:
    """Scaled dot-product attention: Q·Kᵀ (L×E by E×S) then softmax·V (L×S by S×Ev), per head."""
    return matmul_macs(batch_heads, l, e, s) + matmul_macs(batch_heads, l, s, ev)


def mhsa_params(d: int, bias: bool = True) -> int:
    """Multi-head self-attention over width D: Q, K, V and output projections, D×D each (+ D biases)."""
    return 4 * d * d + (4 * d if bias else 0)


def mhsa_macs(l: int, d: int) -> int:
    """Per sample, L tokens of width D: four D×D projections of L rows (4·L·D²), and attention
    over all heads (H heads of D/H: Q·Kᵀ and ·V cost L·L·D each, 2·L²·D), whatever H is."""
    return 4 * linear_macs(d, d, l) + attention_macs(1, l, l, d, d)


def conv_transpose_macs(in_positions: int, c_in: int, c_out: int, kernel_numel: int, groups: int = 1) -> int:
    """Transposed convolution: every input position scatters through every weight of its group,
    one MAC each: positions × C_in × (C_out / groups) × kernel elements (bias excluded)."""
    return in_positions * c_in * (c_out // groups) * kernel_numel
