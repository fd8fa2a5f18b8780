"""The torch modules of the Vision Transformer's ops: patch embedding, class token, position
embeddings, multi-head self-attention and class-token selection. Tokens are (batch, L, D)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class PatchEmbedding(nn.Conv2d):
    """A conv whose kernel and stride are the patch size, then flatten to tokens: (B, C, H, W) →
    (B, H/P · W/P, D). It is a ``Conv2d`` (its weight reads ``conv_proj.weight``, as torchvision's)."""

    def forward(self, x):
        return super().forward(x).flatten(2).transpose(1, 2)


class ClassToken(nn.Module):
    """Prepends one learned token (D params) to every sample's tokens: L → L + 1."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x):
        return torch.cat([self.weight.expand(x.shape[0], -1, -1), x], dim=1)


class PositionEmbedding(nn.Module):
    """Adds a learned embedding per position (L·D params)."""

    def __init__(self, length: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, length, dim).normal_(std=0.02))

    def forward(self, x):
        return x + self.weight


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over tokens: one ``qkv`` linear (D → 3D), ``heads`` heads of D/heads through
    ``F.scaled_dot_product_attention``, and the output projection ``proj`` (D → D).
    Params 4·D² + 4·D, as ``nn.MultiheadAttention``."""

    def __init__(self, dim: int, heads: int, bias: bool = True):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias)
        self.proj = nn.Linear(dim, dim, bias)

    def forward(self, x):
        b, l, d = x.shape
        q, k, v = self.qkv(x).reshape(b, l, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, l, d))

    def extra_repr(self) -> str:
        return f"heads={self.heads}"


class SelectToken(nn.Module):
    """One token of each sample (the class token: index 0): (B, L, D) → (B, D), a view."""

    def __init__(self, index: int = 0):
        super().__init__()
        self.index = index

    def forward(self, x):
        return x[:, self.index]

    def extra_repr(self) -> str:
        return f"index={self.index}"
