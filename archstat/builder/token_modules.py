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


class WindowAttention(nn.Module):
    """Swin's (shifted) window attention on a channels-last map (B, H, W, C), as torchvision's
    ``ShiftedWindowAttention``: pad H and W up to multiples of the window M, roll by ``shift`` (no
    shift along an axis the window covers), split into M×M windows, multi-head self-attention in
    each (``qkv`` and ``proj`` linears, a learned relative position bias per head, and in shifted
    windows a mask between tokens that were not neighbours), merge, roll back, unpad. Attention
    runs as two matmuls, as torchvision's does."""

    relative_position_index: torch.Tensor   # a buffer (register_buffer below)

    def __init__(self, dim: int, heads: int, window: int, shift: int = 0, bias: bool = True):
        super().__init__()
        self.heads, self.window, self.shift = heads, window, shift
        self.qkv = nn.Linear(dim, 3 * dim, bias)
        self.proj = nn.Linear(dim, dim, bias)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("relative_position_index", (rel[..., 0] * (2 * window - 1) + rel[..., 1]).flatten(),
                             persistent=False)

    def _mask(self, x, ph: int, pw: int, shifts: tuple[int, int]):
        """-100 between tokens of a shifted window that came from different regions of the map."""
        m = self.window
        region = x.new_zeros((ph, pw))
        count = 0
        for hs in ((0, ph - m), (ph - m, ph - shifts[0]), (ph - shifts[0], ph)):
            for ws in ((0, pw - m), (pw - m, pw - shifts[1]), (pw - shifts[1], pw)):
                region[hs[0]:hs[1], ws[0]:ws[1]] = count
                count += 1
        region = region.view(ph // m, m, pw // m, m).permute(0, 2, 1, 3).reshape(-1, m * m)
        diff = region.unsqueeze(1) - region.unsqueeze(2)
        return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)

    def forward(self, x):
        b, h, w, c = x.shape
        m, heads = self.window, self.heads
        x = F.pad(x, (0, 0, 0, (m - w % m) % m, 0, (m - h % m) % m))
        ph, pw = x.shape[1], x.shape[2]
        shifts = (0 if m >= ph else self.shift, 0 if m >= pw else self.shift)
        if any(shifts):
            x = torch.roll(x, shifts=(-shifts[0], -shifts[1]), dims=(1, 2))
        windows = (ph // m) * (pw // m)
        x = x.view(b, ph // m, m, pw // m, m, c).permute(0, 1, 3, 2, 4, 5).reshape(b * windows, m * m, c)
        q, k, v = self.qkv(x).reshape(b * windows, m * m, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = (q * (c // heads) ** -0.5).matmul(k.transpose(-2, -1))
        bias = self.relative_position_bias_table[self.relative_position_index]
        attn = attn + bias.view(m * m, m * m, heads).permute(2, 0, 1).unsqueeze(0)
        if any(shifts):
            attn = attn.view(b, windows, heads, m * m, m * m) + self._mask(x, ph, pw, shifts)[None, :, None]
            attn = attn.view(b * windows, heads, m * m, m * m)
        x = attn.softmax(dim=-1).matmul(v).transpose(1, 2).reshape(b * windows, m * m, c)
        x = self.proj(x).view(b, ph // m, pw // m, m, m, c).permute(0, 1, 3, 2, 4, 5).reshape(b, ph, pw, c)
        if any(shifts):
            x = torch.roll(x, shifts=shifts, dims=(1, 2))
        return x[:, :h, :w, :].contiguous()

    def extra_repr(self) -> str:
        return f"heads={self.heads}, window={self.window}, shift={self.shift}"


class PatchMerge(nn.Module):
    """Swin's patch merging, before its norm and linear: each 2×2 neighbourhood of a channels-last
    map concatenated along channels, (B, H, W, C) → (B, ⌈H/2⌉, ⌈W/2⌉, 4C) (odd sizes padded)."""

    def forward(self, x):
        h, w = x.shape[1], x.shape[2]
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        return torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
