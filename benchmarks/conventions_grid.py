"""``--convention`` checked against the peers themselves, rule by rule: a grid of small modules that
exercises every rule of ``archstat/trace/conventions.py`` (and the modules and functions each peer has a
rule for), each at batch 1 and 3, run through the real fvcore, FlopCounterMode, ptflops, thop and
torchinfo on real CPU tensors, beside archstat's ``--convention`` total for the same model and batch.

    PYTHONPATH=. .venv/bin/python benchmarks/conventions_grid.py     # writes benchmarks/conventions_grid_results.md

``tests/test_conventions_peers.py`` asserts every cell equal (a peer that is not installed is skipped,
with the reason). What each peer "prints" is the figure its API returns, as a user reads it:

- fvcore: ``FlopCountAnalysis(model, inputs).total()`` (eval);
- flop_counter: ``FlopCounterMode`` around ``model(*inputs)`` under ``torch.no_grad()`` in eval,
  ``get_total_flops()`` (FLOPs, 2 per MAC);
- ptflops: ``get_model_complexity_info(model, shape, input_constructor=…, backend='pytorch')``'s MACs, with
  the batch made by the input constructor (ptflops divides its modules' count by the first input's dim 0,
  its functional counts not);
- thop: ``int(thop.profile(model, inputs)[0])``;
- torchinfo: ``summary(model, input_data=inputs).total_mult_adds``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

PEERS = ("fvcore", "flop_counter", "ptflops", "thop", "torchinfo")
MODULES = {"fvcore": "fvcore", "flop_counter": "torch", "ptflops": "ptflops", "thop": "thop", "torchinfo": "torchinfo"}
BATCHES = (1, 3)


# -- the grid: (label, factory, one sample's input shape) ------------------------------------------------

class Fn(nn.Module):
    """A functional call (what the peers that patch functions see) on the input, with a weight where it needs one."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.w = nn.Parameter(torch.randn(8, 8) * 0.1)
        self.b = nn.Parameter(torch.zeros(8))

    def forward(self, x):  # noqa: C901  (one branch per function)
        n = self.name
        if n == "F.relu":
            return F.relu(x)
        if n == "F.gelu":
            return F.gelu(x)
        if n == "F.silu":
            return F.silu(x)
        if n == "F.elu":
            return F.elu(x)
        if n == "F.softmax":
            return F.softmax(x, dim=-1)
        if n == "F.linear":
            return F.linear(x, self.w, self.b)
        if n == "torch.matmul":
            return torch.matmul(x, self.w)
        if n == "Tensor.matmul":
            return x.matmul(self.w)
        if n == "@":
            return x @ self.w
        if n == "torch.mm":
            return torch.mm(x.reshape(-1, 8), self.w)
        if n == "torch.bmm":
            return torch.bmm(x, self.w.expand(x.shape[0], 8, 8))
        if n == "torch.addmm":
            return torch.addmm(self.b, x.reshape(-1, 8), self.w)
        if n == "torch.baddbmm":
            return torch.baddbmm(self.b.expand(x.shape[0], x.shape[1], 8), x, self.w.expand(x.shape[0], 8, 8))
        if n == "torch.einsum":
            return torch.einsum("bij,jk->bik", x, self.w)
        if n == "torch.mul":
            return torch.mul(x, self.w[0])
        if n == "torch.add":
            return torch.add(x, self.b)
        if n == "Tensor.mul":
            return x.mul(self.w[0])
        if n == "Tensor.add":
            return x.add(self.b)
        if n == "x * w":
            return x * self.w[0]
        if n == "x + b":
            return x + self.b
        raise ValueError(n)


class Image(nn.Module):
    """A functional call on an image N×C×H×W."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def forward(self, x):
        n = self.name
        if n == "F.max_pool2d":
            return F.max_pool2d(x, 2)
        if n == "F.avg_pool2d":
            return F.avg_pool2d(x, 2)
        if n == "F.adaptive_avg_pool2d":
            return F.adaptive_avg_pool2d(x, 1)
        if n == "F.interpolate(scale)":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if n == "F.interpolate(size)":
            return F.interpolate(x, size=(12, 12), mode="bilinear", align_corners=False)
        if n == "F.grid_sample":
            grid = torch.zeros(x.shape[0], 4, 4, 2)
            return F.grid_sample(x, grid, align_corners=False)
        raise ValueError(n)


class SDPA(nn.Module):
    def __init__(self, causal: bool = False):
        super().__init__()
        self.causal = causal

    def forward(self, x):
        return F.scaled_dot_product_attention(x, x, x, is_causal=self.causal)


class QKV(nn.Module):
    """A projection to queries, keys and values, then attention over 2 heads (4-d: the fused CPU kernel)."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(8, 24)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, 2, 4).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, 8)


class SelfAttention(nn.Module):
    """nn.MultiheadAttention on one input (query is key is value)."""

    def __init__(self, batch_first: bool = True, need_weights: bool = True, bias: bool = True):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first, bias=bias)
        self.need_weights = need_weights

    def forward(self, x):
        return self.mha(x, x, x, need_weights=self.need_weights)[0]


class MaskedAttention(nn.Module):
    """nn.MultiheadAttention with a mask it builds: a bool key padding mask (the fast path takes it) or a float
    attention mask (it does not)."""

    def __init__(self, mask: str, heads: int = 2):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, heads, batch_first=True)
        self.mask = mask

    def forward(self, x):
        if self.mask == "key_padding":
            pad = torch.zeros(x.shape[0], x.shape[1], dtype=torch.bool, device=x.device)
            return self.mha(x, x, x, key_padding_mask=pad)[0]
        if self.mask == "float":
            return self.mha(x, x, x, attn_mask=torch.zeros(x.shape[1], x.shape[1], device=x.device))[0]
        return self.mha(x, x, x)[0]


class CrossAttention(nn.Module):
    """nn.MultiheadAttention on a query and a key/value that are other tensors (no fast path)."""

    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
        self.kv = nn.Linear(8, 8)

    def forward(self, x):
        kv = self.kv(x)
        return self.mha(x, kv, kv)[0]


class ConvNeXtBlock(nn.Module):
    """A ConvNeXt block: depthwise conv, a channels-last LayerNorm, an MLP with GELU, a layer scale."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class ViTBlock(nn.Module):
    """A pre-norm transformer block: LayerNorm, nn.MultiheadAttention, LayerNorm, MLP."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class Scalars(nn.Module):
    """torch.add and Tensor.mul with a number, addmm with beta 0."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 8) * 0.1)
        self.b = nn.Parameter(torch.zeros(8))

    def forward(self, x):
        y = torch.add(x, 1).mul(2.0)
        return torch.addmm(self.b, y.reshape(-1, 8), self.w, beta=0)


class Einsums(nn.Module):
    """Two einsums: a batched product fvcore has a special case for, and an outer one it asks NumPy about."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 4) * 0.1)

    def forward(self, x):
        y = torch.einsum("bij,bkj->bik", x, x)
        return torch.einsum("bik,bkj->bij", y, x) + torch.einsum("bij,jk->bik", x, self.w).sum()


class SubLinear(nn.Linear):
    """A subclass of Linear (as MultiheadAttention's out_proj): an exact-type rule does not apply to it."""


class Cell(nn.Module):
    """An RNN cell over the input's features."""

    def __init__(self, kind: str):
        super().__init__()
        self.cell = getattr(nn, kind)(8, 6)

    def forward(self, x):
        out = self.cell(x)
        return out[0] if isinstance(out, tuple) else out


class Twice(nn.Module):
    """One Linear called twice."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(self.fc(x))


class Block(nn.Module):
    """A custom block (no peer rule) holding modules that have one, and a functional add."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x))) + x


class Output(nn.Module):
    """A module returning a tuple (torchinfo and thop read its first tensor)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.fc(x)
        return y, y.sum(-1)


def seq(*modules) -> nn.Module:
    return nn.Sequential(*modules)


IMG = (4, 8, 8)
GRID = [
    # convolutions: bias adds, groups, 1-d / 3-d, transposed (ptflops over input positions, thop per output)
    ("conv2d", lambda: nn.Conv2d(4, 6, 3), IMG),
    ("conv2d no bias, groups 2", lambda: nn.Conv2d(4, 6, 3, groups=2, bias=False), IMG),
    ("conv2d stride 2 padding 1", lambda: nn.Conv2d(4, 4, 3, stride=2, padding=1), IMG),
    ("conv1d", lambda: nn.Conv1d(4, 6, 3), (4, 10)),
    ("conv3d", lambda: nn.Conv3d(2, 3, 2), (2, 4, 4, 4)),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2), IMG),
    ("conv_transpose2d groups 2", lambda: nn.ConvTranspose2d(4, 6, 3, groups=2, bias=False), IMG),
    ("conv_transpose1d", lambda: nn.ConvTranspose1d(4, 2, 3), (4, 10)),
    # linear: bias, tokens (torchinfo counts one token), no bias
    ("linear", lambda: nn.Linear(8, 6), (8,)),
    ("linear on tokens", lambda: nn.Linear(8, 6), (5, 8)),
    ("linear no bias", lambda: nn.Linear(8, 6, bias=False), (8,)),
    # norms, affine or not (fvcore 1/2 BN, 4/5 LN GN IN; ptflops 1/2 by `affine`; thop 2/4)
    ("batchnorm2d", lambda: seq(nn.BatchNorm2d(4)), IMG),
    ("batchnorm2d no affine", lambda: seq(nn.BatchNorm2d(4, affine=False)), IMG),
    ("batchnorm1d", lambda: seq(nn.BatchNorm1d(8)), (8,)),
    ("layernorm", lambda: seq(nn.LayerNorm(8)), (5, 8)),
    ("layernorm no affine", lambda: seq(nn.LayerNorm(8, elementwise_affine=False)), (5, 8)),
    ("groupnorm", lambda: seq(nn.GroupNorm(2, 4)), IMG),
    ("groupnorm no affine", lambda: seq(nn.GroupNorm(2, 4, affine=False)), IMG),
    ("instancenorm2d", lambda: seq(nn.InstanceNorm2d(4)), IMG),
    ("instancenorm2d affine", lambda: seq(nn.InstanceNorm2d(4, affine=True)), IMG),
    # activations (ptflops' rule and the F.* it patches; thop PReLU in eval, LeakyReLU 0)
    ("relu", lambda: seq(nn.ReLU()), IMG),
    ("relu6", lambda: seq(nn.ReLU6()), IMG),
    ("elu", lambda: seq(nn.ELU()), IMG),
    ("leaky_relu", lambda: seq(nn.LeakyReLU()), IMG),
    ("gelu", lambda: seq(nn.GELU()), IMG),
    ("silu", lambda: seq(nn.SiLU()), IMG),
    ("prelu", lambda: seq(nn.PReLU()), IMG),
    ("softmax", lambda: seq(nn.Softmax(dim=1)), IMG),
    # pooling and upsampling
    ("maxpool2d", lambda: seq(nn.MaxPool2d(2)), IMG),
    ("avgpool2d", lambda: seq(nn.AvgPool2d(2)), IMG),
    ("avgpool1d", lambda: seq(nn.AvgPool1d(2)), (4, 10)),
    ("adaptive_avgpool2d", lambda: seq(nn.AdaptiveAvgPool2d(2)), IMG),
    ("adaptive_avgpool2d to 1", lambda: seq(nn.AdaptiveAvgPool2d(1)), IMG),
    ("adaptive_maxpool2d", lambda: seq(nn.AdaptiveMaxPool2d(2)), IMG),
    ("upsample nearest", lambda: seq(nn.Upsample(scale_factor=2, mode="nearest")), IMG),
    ("upsample bilinear", lambda: seq(nn.Upsample(scale_factor=2, mode="bilinear")), IMG),
    ("upsampling_nearest2d", lambda: seq(nn.UpsamplingNearest2d(scale_factor=2)), IMG),
    ("zeropad2d", lambda: seq(nn.ZeroPad2d(1)), IMG),
    ("dropout flatten identity", lambda: seq(nn.Dropout(), nn.Flatten(), nn.Identity()), IMG),
    ("embedding", lambda: seq(nn.Embedding(20, 8)), "int64:5"),
    # functional calls
    *[(f"functional {n}", (lambda n=n: Fn(n)), (5, 8)) for n in (
        "F.relu", "F.gelu", "F.silu", "F.elu", "F.softmax", "F.linear", "torch.matmul", "Tensor.matmul", "@",
        "torch.mm", "torch.bmm", "torch.addmm", "torch.baddbmm", "torch.einsum", "torch.mul", "torch.add",
        "Tensor.mul", "Tensor.add", "x * w", "x + b")],
    *[(f"functional {n}", (lambda n=n: Image(n)), IMG) for n in (
        "F.max_pool2d", "F.avg_pool2d", "F.adaptive_avg_pool2d", "F.interpolate(scale)", "F.interpolate(size)",
        "F.grid_sample")],
    # attention: the kernel that runs on the CPU decides what FlopCounterMode sees
    ("sdpa 3-d", lambda: SDPA(), (6, 8)),
    ("sdpa 3-d causal", lambda: SDPA(causal=True), (6, 8)),
    ("sdpa 4-d", lambda: SDPA(), (2, 6, 8)),
    ("qkv + sdpa 4-d", lambda: QKV(), (6, 8)),
    ("mha batch_first", lambda: SelfAttention(), (6, 8)),
    ("mha batch_first need_weights=False", lambda: SelfAttention(need_weights=False), (6, 8)),
    ("mha no bias", lambda: SelfAttention(bias=False), (6, 8)),
    # recurrent layers and cells
    ("lstm", lambda: nn.LSTM(8, 6, batch_first=True), (5, 8)),
    ("lstm 2 layers bidirectional", lambda: nn.LSTM(8, 6, num_layers=2, bidirectional=True, batch_first=True),
     (5, 8)),
    ("lstm no bias", lambda: nn.LSTM(8, 6, bias=False, batch_first=True), (5, 8)),
    ("gru", lambda: nn.GRU(8, 6, batch_first=True), (5, 8)),
    ("rnn", lambda: nn.RNN(8, 6, batch_first=True), (5, 8)),
    ("rnn 2 layers", lambda: nn.RNN(8, 6, num_layers=2, batch_first=True), (5, 8)),
    ("lstmcell", lambda: Cell("LSTMCell"), (8,)),
    ("grucell", lambda: Cell("GRUCell"), (8,)),
    ("rnncell", lambda: Cell("RNNCell"), (8,)),
    # structure: a module called twice, a custom block, a tuple output
    ("linear called twice", lambda: Twice(), (8,)),
    ("custom block", lambda: Block(), IMG),
    ("tuple output", lambda: Output(), (8,)),
    ("small cnn", lambda: seq(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64, 10)), IMG),
    # more of each class: other ranks and modes, sequence-first inputs, fast paths, subclasses
    ("conv2d dilation 2", lambda: nn.Conv2d(4, 4, 3, dilation=2), IMG),
    ("conv2d reflect padding", lambda: nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"), IMG),
    ("conv_transpose3d", lambda: nn.ConvTranspose3d(2, 2, 2, stride=2), (2, 3, 3, 3)),
    ("linear on 4-d", lambda: nn.Linear(8, 3), (2, 4, 8)),
    ("linear subclass", lambda: SubLinear(8, 6), (8,)),
    ("batchnorm2d no running stats", lambda: seq(nn.BatchNorm2d(4, track_running_stats=False)), IMG),
    ("batchnorm3d", lambda: seq(nn.BatchNorm3d(2)), (2, 3, 3, 3)),
    ("layernorm no bias", lambda: seq(nn.LayerNorm(8, bias=False)), (5, 8)),
    ("layernorm 2-d shape", lambda: seq(nn.LayerNorm([4, 8])), (4, 8)),
    ("groupnorm 1 group", lambda: seq(nn.GroupNorm(1, 4)), IMG),
    ("instancenorm1d", lambda: seq(nn.InstanceNorm1d(4)), (4, 10)),
    ("prelu per channel", lambda: seq(nn.PReLU(4)), IMG),
    ("sigmoid tanh hardswish", lambda: seq(nn.Sigmoid(), nn.Tanh(), nn.Hardswish()), IMG),
    ("log_softmax softmax2d", lambda: seq(nn.LogSoftmax(dim=1), nn.Softmax2d()), IMG),
    ("softmax last dim", lambda: seq(nn.Softmax(dim=-1)), (5, 8)),
    ("maxpool1d", lambda: seq(nn.MaxPool1d(2)), (4, 10)),
    ("avgpool3d", lambda: seq(nn.AvgPool3d(2)), (2, 4, 4, 4)),
    ("adaptive_avgpool1d", lambda: seq(nn.AdaptiveAvgPool1d(3)), (4, 10)),
    ("adaptive_avgpool2d uneven", lambda: seq(nn.AdaptiveAvgPool2d((3, 5))), IMG),
    ("upsample size", lambda: seq(nn.Upsample(size=(12, 10))), IMG),
    ("upsample bicubic", lambda: seq(nn.Upsample(scale_factor=2, mode="bicubic")), IMG),
    ("upsample nearest-exact", lambda: seq(nn.Upsample(scale_factor=2, mode="nearest-exact")), IMG),
    ("upsample linear 1-d", lambda: seq(nn.Upsample(scale_factor=2, mode="linear")), (4, 10)),
    ("upsample trilinear", lambda: seq(nn.Upsample(scale_factor=2, mode="trilinear")), (2, 3, 3, 3)),
    ("upsampling_bilinear2d", lambda: seq(nn.UpsamplingBilinear2d(scale_factor=2)), IMG),
    ("pixel_shuffle", lambda: seq(nn.Conv2d(4, 16, 1), nn.PixelShuffle(2)), IMG),
    ("embedding then linear", lambda: seq(nn.Embedding(20, 8), nn.Linear(8, 4)), "int64:5"),
    ("scalars and beta 0", lambda: Scalars(), (5, 8)),
    ("einsums", lambda: Einsums(), (5, 8)),
    ("mha odd heads", lambda: MaskedAttention("", heads=1), (6, 8)),
    ("mha bool key padding mask", lambda: MaskedAttention("key_padding"), (6, 8)),
    ("mha float attention mask", lambda: MaskedAttention("float"), (6, 8)),
    ("mha cross attention", lambda: CrossAttention(), (6, 8)),
    ("mha sequence-first", lambda: SelfAttention(batch_first=False), "6xBx8"),
    ("transformer encoder layer", lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
     (6, 8)),
    ("transformer encoder layer gelu norm first",
     lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True,
                                        batch_first=True), (6, 8)),
    ("transformer encoder layer sequence-first", lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), "6xBx8"),
    ("convnext block", lambda: ConvNeXtBlock(), (8, 8, 8)),
    ("vit block", lambda: ViTBlock(), (6, 8)),
    ("lstm sequence-first", lambda: nn.LSTM(8, 6), "5xBx8"),
    ("lstm projections", lambda: nn.LSTM(8, 6, proj_size=3, batch_first=True), (5, 8)),
    ("gru 2 layers bidirectional", lambda: nn.GRU(8, 6, num_layers=2, bidirectional=True, batch_first=True),
     (5, 8)),
    ("rnn relu sequence-first", lambda: nn.RNN(8, 6, nonlinearity="relu"), "5xBx8"),
]


# -- the peers, run for real ----------------------------------------------------------------------------------

@contextlib.contextmanager
def quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(before)   # as it was (a caller's own setting kept)


def make(factory):
    """A fresh model from ``factory``, its weights drawn at seed 0 (the caller's generator put back after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return factory().eval()


def example(shape, batch: int):
    """The input at ``batch``: a shape (batch first), 'int64:5' (token ids), or '5xBx8' (the batch in dim 1)."""
    if isinstance(shape, str) and ":" in shape:
        dtype, _, dims = shape.partition(":")
        return torch.zeros(batch, *map(int, dims.split("x")), dtype=getattr(torch, dtype))
    if isinstance(shape, str):
        return torch.randn(*(batch if d == "B" else int(d) for d in shape.split("x")))
    return torch.randn(batch, *shape)


def peer_total(peer: str, factory, shape, batch: int) -> int:
    """What ``peer`` prints for a fresh model from ``factory`` on a batch of ``batch`` samples."""
    model = make(factory)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        x = example(shape, batch)
    with quiet():
        if peer == "fvcore":
            from fvcore.nn import FlopCountAnalysis

            a = FlopCountAnalysis(model, (x,))
            a.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            return int(a.total())
        if peer == "flop_counter":
            from torch.utils.flop_counter import FlopCounterMode

            with FlopCounterMode(display=False) as fc, torch.no_grad():
                model(x)
            return int(fc.get_total_flops())
        if peer == "ptflops":
            from ptflops import get_model_complexity_info

            macs, _ = get_model_complexity_info(model, tuple(x.shape), input_constructor=lambda _s: x,
                                                as_strings=False, print_per_layer_stat=False, backend="pytorch",
                                                verbose=False)
            if macs is None:
                raise RuntimeError("ptflops failed on it")
            return int(macs)
        if peer == "thop":
            from thop import profile

            macs, _ = profile(model, inputs=(x,), verbose=False)
            return int(macs)
        if peer == "torchinfo":
            from torchinfo import summary

            return int(summary(model, input_data=[x], verbose=0).total_mult_adds)
    raise ValueError(peer)


def archstat_totals(factory, shape, batch: int) -> dict[str, int]:
    """archstat's ``--convention`` total for each peer, from one trace of the model at ``batch``."""
    from archstat.trace.analyze import analyze_module
    from archstat.trace.conventions import peer_count
    from archstat.trace.inputs import normalize

    model = make(factory)
    given = shape if isinstance(shape, str) else "x".join(map(str, shape))
    stats = analyze_module(model, given, batch=batch)
    inputs = normalize(given).resolved(model)
    return {p: peer_count(p, stats, stats.batch_trace, model, inputs).total for p in PEERS}


def installed(peer: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(MODULES[peer]) is not None


def run(labels=None) -> list[tuple]:
    """[(label, batch, peer, peer's figure or an exception, archstat's)]."""
    out = []
    for label, factory, shape in GRID:
        if labels and label not in labels:
            continue
        for batch in BATCHES:
            ours = archstat_totals(factory, shape, batch)
            for peer in PEERS:
                if not installed(peer):
                    continue
                try:
                    theirs: object = peer_total(peer, factory, shape, batch)
                except Exception as exc:   # a peer that cannot run the model (it says so, or raises)
                    theirs = exc
                out.append((label, batch, peer, theirs, ours[peer]))
    return out


def main() -> None:
    started = time.time()
    results = run(sys.argv[1:] or None)
    equal = sum(1 for *_, theirs, ours in results if theirs == ours)
    failed = sum(1 for *_, theirs, _ in results if isinstance(theirs, Exception))
    peers = [p for p in PEERS if installed(p)]
    lines = ["# `--convention` against the peers, rule by rule", "",
             f"torch {torch.__version__}; " + ", ".join(f"{p} {_version(p)}" for p in peers) + ". "
             f"{len(GRID)} small modules × batches {', '.join(map(str, BATCHES))}, eval, real CPU tensors for the "
             "peers; a cell is the peer's own figure, `=` when archstat's `--convention` total is the same, else "
             "archstat's beside it. Command: `PYTHONPATH=. .venv/bin/python benchmarks/conventions_grid.py`.", "",
             "| module | batch | " + " | ".join(peers) + " |", "|---|---:|" + "---:|" * len(peers)]
    by_row: dict[tuple, dict] = {}
    for label, batch, peer, theirs, ours in results:
        by_row.setdefault((label, batch), {})[peer] = (theirs, ours)
    for (label, batch), cells in by_row.items():
        shown = []
        for p in peers:
            theirs, ours = cells.get(p, (None, None))
            if isinstance(theirs, Exception):
                shown.append(f"fails ({type(theirs).__name__}); archstat {ours:,}")
            elif theirs == ours:
                shown.append(f"{theirs:,} =")
            else:
                shown.append(f"**{theirs:,} vs {ours:,}**")
        lines.append(f"| {label} | {batch} | " + " | ".join(shown) + " |")
    lines += ["", f"{equal} of {len(results) - failed} (module, batch, peer) figures equal; {failed} runs a peer "
              f"could not make; {time.time() - started:.0f} s on 2 shared cores."]
    if not sys.argv[1:]:
        Path(__file__).with_name("conventions_grid_results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _version(peer: str) -> str:
    import importlib.metadata

    name = {"flop_counter": "torch"}.get(peer, peer)
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    main()
