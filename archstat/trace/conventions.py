"""What another counter would print for the same model (``--convention``), and why it differs.

Each peer's rules are transcribed from its source (the version named beside it) and applied to the
trace archstat already made: its operators (``Recorder.op_calls``), its module calls
(``Recorder.modules``) and the Python-level calls other counters patch or see
(``Recorder.functions_log``). Nothing is imported from the peers: the figures are what they
would print, and ``benchmarks/conventions.py`` runs the real peers beside them.

- **fvcore** 0.1.5 ``FlopCountAnalysis`` (``fvcore/nn/jit_handles.py``, its default handles): one
  per MAC of conv, linear, matmul, mm, bmm, einsum and addmm; batch norm in eval 1 per element
  (2 with affine), layer and group norm 4 (5 with affine), instance norm the same, nearest
  upsampling 1 and bilinear 4 per output element, adaptive average pooling 1 per input element,
  grid sampling 4 per output element. No handle for ``aten::scaled_dot_product_attention`` or
  ``aten::lstm``/``gru``/``rnn_*``: 0.
- **flop_counter**: ``torch.utils.flop_counter.FlopCounterMode`` on real CPU tensors, as users run
  it: 2 FLOPs per MAC of the operators in its registry (read from the installed torch), where
  scaled dot-product attention runs the fused CPU kernel, an LSTM oneDNN's ``mkldnn_rnn_layer`` and a
  batch-first ``nn.MultiheadAttention`` under ``no_grad`` its fast path, none in the registry: 0.
- **ptflops** 0.7.5, pytorch backend (``ptflops/pytorch_ops.py``): per module of an exact type in
  its table (convs with their bias adds, Linear with its bias adds, 1 per element for activations,
  pooling and upsampling, 2 per element for affine norms, its RNN and MultiheadAttention
  formulas), plus the functional calls it patches (``F.relu``, pools, ``F.softmax``,
  ``F.interpolate``, ``torch.matmul``/``mm``/``bmm``/``addmm``/``baddbmm``, ``torch.mul``/``add``;
  not ``F.linear``, not the ``@``, ``+``, ``*`` operators).
- **thop** 0.1.1 ``profile`` (``thop/vision/basic_hooks.py``, ``thop/rnn_hooks.py``): module hooks
  only, by exact type: convs (no bias), Linear, norms 2 per element (4 with affine), average pools,
  upsampling, softmax, RNNs; functional calls count nothing.
- **torchinfo** 1.8 ``summary`` "Total mult-adds" (``torchinfo/layer_info.py: calculate_macs``):
  per call of a module without children, each parameter's size times the output's batch (times its
  spatial size for a class named ``Conv…``; times its first two dims for an RNN's weights):
  biases and norms count, a Linear on tokens counts one token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

PEERS = {"fvcore": "MACs", "flop_counter": "FLOPs", "ptflops": "MACs", "thop": "MACs", "torchinfo": "MACs"}
HOW = {
    "fvcore": "fvcore.nn.FlopCountAnalysis(model, inputs).total()",
    "flop_counter": "torch.utils.flop_counter.FlopCounterMode on real CPU tensors, get_total_flops()",
    "ptflops": "ptflops.get_model_complexity_info(model, shape, backend='pytorch')",
    "thop": "thop.profile(model, inputs)[0]",
    "torchinfo": "torchinfo.summary(model, input_size).total_mult_adds",
}


@dataclass
class PeerCount:
    peer: str
    unit: str                          # what the peer prints: "MACs" or "FLOPs" (= 2 × MACs)
    total: int                         # what it would print, in its unit, at the batch
    ours: int                          # archstat's MACs at the batch
    batch: int
    rows: list = field(default_factory=list)      # [(row, ours, theirs in MACs, why)] largest first
    reasons: list = field(default_factory=list)   # [(why, theirs - ours in MACs, rows)] largest first

    @property
    def macs(self) -> int:
        """The peer's total in MACs (FLOPs halved)."""
        return self.total // 2 if self.unit == "FLOPs" else self.total

    def as_dict(self) -> dict:
        """JSON ``peer_convention``."""
        return {"peer": self.peer, "how": HOW[self.peer], "unit": self.unit, "total": self.total,
                "total_macs": self.macs, "archstat_macs": self.ours, "batch": self.batch,
                "differences": [{"why": w, "macs": d, "rows": n} for w, d, n in self.reasons],
                "rows": [{"name": r, "archstat_macs": a, "peer_macs": b, "why": w} for r, a, b, w in self.rows]}

    def lines(self, units: str = "macs") -> list[str]:
        ratio = f" ({self.macs / self.ours:.3f}× archstat)" if self.ours else ""
        out = [f"{self.peer} would print {self.total:,} {self.unit}{ratio}: {HOW[self.peer]}, batch {self.batch}"]
        if not self.reasons:
            out.append("  the same count as archstat")
        for why, delta, n in self.reasons[:8]:
            out.append(f"  {'+' if delta >= 0 else '−'}{abs(delta):,} MACs: {why} ({n} row{'s' if n != 1 else ''})")
        for name, a, b, why in self.rows[:10]:
            out.append(f"    {name}: archstat {a:,}, {self.peer} {b:,} ({why})")
        return out


# -- the rules, applied to one recorded forward ------------------------------------------------------

def _numel(shape) -> int:
    return math.prod(shape) if shape is not None else 0


def _type(m) -> str:
    return type(m).__name__


class _Tally:
    """The peer's count by row, with the reason of each part that differs from archstat's."""

    def __init__(self):
        self.by_row: dict[str, int] = {}
        self.why: dict[str, dict[str, int]] = {}
        self.missing: dict[str, str] = {}       # module → why the peer misses part of it

    def add(self, row: str, n: int, why: str = "") -> None:
        if not n:
            return
        self.by_row[row] = self.by_row.get(row, 0) + int(n)
        if why:
            self.why.setdefault(row, {})
            self.why[row][why] = self.why[row].get(why, 0) + int(n)


def _row_of_module(rec) -> dict[str, str]:
    """Module name → the row its operators landed in (itself for a leaf; its own name otherwise)."""
    return {acc.name.split("#")[0]: acc.name for acc in rec.rows}


def _in_sdpa(rec, k) -> bool:
    """A kernel of scaled_dot_product_attention recorded whole: the op itself or one of its parts."""
    return k.op == "scaled_dot_product_attention" or (
        k.part_of >= 0 and rec.op_calls[k.part_of].op == "scaled_dot_product_attention")


def _fvcore(rec, rnn_rows, sdpa_rows) -> _Tally:
    t = _Tally()
    for k in rec.op_calls:
        if _in_sdpa(rec, k) or k.row in rnn_rows:
            continue
        if k.macs:
            t.add(k.row, k.macs)
            continue
        x = k.inputs[0].shape if k.inputs else ()
        affine = len(k.inputs) > 1 and k.inputs[1].weight
        out = k.outputs[0].shape if k.outputs else ()
        if k.op in ("_native_batch_norm_legit_no_training", "native_batch_norm"):
            t.add(k.row, _numel(x) * (2 if affine else 1), "fvcore counts batch norm: 1 per element, 2 with affine")
        elif k.op == "_native_batch_norm_legit":
            t.add(k.row, _numel(x) * (5 if affine else 4), "fvcore counts instance norm: 4 per element, 5 with "
                                                          "affine")
        elif k.op in ("native_layer_norm", "native_group_norm"):
            name = "layer" if k.op == "native_layer_norm" else "group"
            t.add(k.row, _numel(x) * (5 if affine else 4), f"fvcore counts {name} norm: 4 per element, 5 with affine")
        elif k.op in ("upsample_nearest2d", "_upsample_nearest_exact2d"):
            t.add(k.row, _numel(out), "fvcore counts nearest upsampling: 1 per output element")
        elif k.op == "upsample_bilinear2d":
            t.add(k.row, _numel(out) * 4, "fvcore counts bilinear upsampling: 4 per output element")
        elif k.op == "grid_sampler_2d":
            t.add(k.row, _numel(out) * 4, "fvcore counts grid sampling: 4 per output element")
    rows = _row_of_module(rec)
    for name, module, shapes, _ in rec.functions_log:
        if name == "F.adaptive_avg_pool2d" and shapes and shapes[0] is not None:
            row = rows.get(module, module)
            t.add(row, _numel(shapes[0]), "fvcore counts adaptive average pooling: 1 per input element")
    return t


def _flop_counter(rec, rnn_rows, sdpa_rows, registry) -> _Tally:
    t = _Tally()
    for k in rec.op_calls:
        if not k.macs or (k.part_of >= 0 and not _in_sdpa(rec, k)):   # a whole op's parts: counted as the op
            if not k.macs or k.part_of >= 0:
                continue
        if _in_sdpa(rec, k) or k.row in rnn_rows:
            continue
        if f"aten.{k.op}" in registry:
            t.add(k.row, 2 * k.macs)
    return t


def _conv_like(m) -> bool:
    import torch

    return isinstance(m, torch.nn.modules.conv._ConvNd)


def _module_calls(rec):
    """(module name, module, first input shape, first output shape, input infos) of every call."""
    for name, module, ins, outs, _plain in rec.modules:
        x = ins[0].shape if ins else None
        y = outs[0].shape if outs else None
        yield name, module, x, y, ins


def _ptflops(rec, model) -> _Tally:
    t = _Tally()
    rows = _row_of_module(rec)
    _ptflops_modules(t, rec, rows)
    _ptflops_functions(t, rec, rows)
    return t


def _ptflops_modules(t: _Tally, rec, rows) -> None:
    """ptflops' count of every module call it has a rule for (a supported module's subtree: its own count)."""
    from torch import nn

    act = (nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6, nn.GELU)
    pools = (nn.MaxPool1d, nn.AvgPool1d, nn.AvgPool2d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool3d, nn.AdaptiveMaxPool1d,
             nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool3d,
             nn.AdaptiveAvgPool3d)
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
             nn.GroupNorm, nn.LayerNorm)
    supported = {name for name, m, *_ in rec.modules if _ptflops_supported(m)}

    def under_supported(name: str) -> bool:   # ptflops sums a supported module's own count, not its children's
        parts = name.split(".")
        return any(".".join(parts[:i]) in supported for i in range(len(parts))) if name else False

    for name, m, x, y, ins in _module_calls(rec):
        row = rows.get(name, name)
        kind = type(m)
        if x is None or y is None or under_supported(name):
            continue
        if kind in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
            transposed = kind.__name__.startswith("ConvTranspose")
            per_pos = math.prod(m.kernel_size) * m.in_channels * (m.out_channels // m.groups)
            positions = x[0] * math.prod(x[2:] if transposed else y[2:])
            bias = x[0] * math.prod(y[1:]) if m.bias is not None else 0
            t.add(row, per_pos * positions, "ptflops counts a transposed conv over output channels"
                  if transposed and m.groups > 1 else "")
            t.add(row, bias, "ptflops counts conv bias adds")
        elif kind in act:
            t.add(row, _numel(y), "ptflops counts activations: 1 per element")
        elif kind in pools:
            t.add(row, _numel(x), "ptflops counts pooling: 1 per input element")
        elif kind in norms:
            affine = getattr(m, "affine", False) or getattr(m, "elementwise_affine", False)
            t.add(row, _numel(x) * (2 if affine else 1), "ptflops counts norms: 1 per element, 2 with affine")
        elif kind is nn.Linear:
            rows_in = math.prod(x[:-1])
            t.add(row, x[-1] * y[-1] * rows_in)
            t.add(row, y[-1] * rows_in if m.bias is not None else 0, "ptflops counts linear bias adds")
        elif kind is nn.Upsample:
            t.add(row, _numel(y), "ptflops counts upsampling: 1 per output element")
        elif kind in (nn.RNN, nn.GRU, nn.LSTM):
            t.add(row, _ptflops_rnn(m, x), "ptflops' RNN formula (batch × seq from dims 0 and 1, gate adds)")
        elif kind is nn.MultiheadAttention:
            t.add(row, _ptflops_mha(m, ins), "ptflops' MultiheadAttention formula (scaling, softmax, biases)")
        elif kind.__name__ == "Attention" and kind.__module__ == "timm.models.vision_transformer":
            b, n_, _ = x
            h, hd = m.num_heads, m.head_dim
            t.add(row, b * (n_ * hd * h + h * (2 * n_ * n_ * hd + n_ * n_)),
                  "ptflops' timm Attention formula (scaling, softmax)")


def _ptflops_functions(t: _Tally, rec, rows) -> None:
    """ptflops' count of the functional calls it patches (F.relu, torch.matmul, …), besides the modules'."""
    for fname, module, shapes, plain in rec.functions_log:
        row = rows.get(module, module)
        a = shapes[0] if shapes else None
        if fname in ("F.relu", "F.prelu", "F.elu", "F.relu6", "F.gelu", "F.silu", "F.softmax") or (
                fname.startswith("F.") and "pool" in fname):
            t.add(row, _numel(a), f"ptflops counts {fname}: 1 per input element (besides its module, if any)")
        elif fname in ("F.interpolate", "F.upsample") and a is not None:
            size = plain.get("size", plain.get(1))
            scale = plain.get("scale_factor", plain.get(2))
            if size is not None:
                n = (math.prod(size) if isinstance(size, (tuple, list)) else size ** (len(a) - 2)) * math.prod(a[:2])
            elif scale is not None:
                n = _numel(a) * (math.prod(scale) if isinstance(scale, (tuple, list)) else scale ** (len(a) - 2))
            else:
                n = 0
            t.add(row, int(n), "ptflops counts F.interpolate: 1 per output element")
        elif fname in ("torch.matmul", "Tensor.matmul", "torch.mm", "Tensor.mm", "torch.bmm", "Tensor.bmm"):
            if a is not None and len(shapes) > 1 and shapes[1] is not None:
                t.add(row, _numel(a) * shapes[1][-1], f"ptflops counts {fname} (and archstat the same product)")
        elif fname in ("torch.addmm", "Tensor.addmm", "torch.baddbmm") and len(shapes) > 2 and shapes[1]:
            t.add(row, _numel(shapes[1]) * shapes[2][-1] + _numel(a), f"ptflops counts {fname} with its add")
        elif fname in ("torch.mul", "Tensor.mul", "torch.add", "Tensor.add"):
            dims = [s for s in shapes[:2] if s is not None]
            n = _numel(_broadcast(dims)) if dims else 1
            t.add(row, n, f"ptflops counts {fname}: 1 per element")


def _ptflops_supported(m) -> bool:
    """A module ptflops has a rule for (its count then stands for its whole subtree)."""
    from torch import nn

    kind = type(m)
    if kind.__name__ == "Attention" and kind.__module__ == "timm.models.vision_transformer":
        return True
    return kind in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6, nn.GELU,
                    nn.MaxPool1d, nn.AvgPool1d, nn.AvgPool2d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool3d,
                    nn.AdaptiveMaxPool1d, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d,
                    nn.AdaptiveMaxPool3d, nn.AdaptiveAvgPool3d, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
                    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm, nn.Linear,
                    nn.Upsample, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.RNN, nn.GRU,
                    nn.LSTM, nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.MultiheadAttention)


def _broadcast(shapes):
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    return tuple(max(d) for d in zip(*padded))


def _ptflops_rnn(m, x) -> int:
    from torch import nn

    flops = 0
    for i in range(m.num_layers):
        w_ih, w_hh = getattr(m, f"weight_ih_l{i}"), getattr(m, f"weight_hh_l{i}")
        flops += w_ih.shape[0] * w_ih.shape[1] + w_hh.shape[0] * w_hh.shape[1]
        h = m.hidden_size
        if isinstance(m, nn.RNN):
            flops += h
        elif isinstance(m, nn.GRU):
            flops += h + 3 * h + 3 * h
        else:
            flops += 4 * h + 3 * h + 3 * h
        if m.bias:
            flops += getattr(m, f"bias_ih_l{i}").shape[0] + getattr(m, f"bias_hh_l{i}").shape[0]
    flops *= x[0] * x[1]
    return flops * (2 if m.bidirectional else 1)


def _ptflops_mha(m, ins) -> int:
    if len(ins) < 3:
        return 0
    q, k, v = (t.shape for t in ins[:3])
    first = getattr(m, "batch_first", False)
    b, li = (q[0], 1) if first else (q[1], 0)
    qd, kd, vd = q[2], k[2], v[2]
    ql, kl, vl = q[li], k[li], v[li]
    flops = ql * qd + ql * qd * qd + kl * kd * kd + vl * vd * vd
    if m.in_proj_bias is not None:
        flops += (ql + kl + vl) * qd
    h = m.num_heads
    flops += h * (ql * kl * (qd // h) + ql * kl + ql * kl * (vd // h))
    flops += ql * vd * (vd + 1)
    return flops * b


def _thop(rec) -> _Tally:
    from torch import nn

    t = _Tally()
    rows = _row_of_module(rec)
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.InstanceNorm1d, nn.InstanceNorm2d,
             nn.InstanceNorm3d, nn.SyncBatchNorm)
    for name, m, x, y, _ins in _module_calls(rec):
        row = rows.get(name, name)
        kind = type(m)
        if x is None or y is None:
            continue
        if kind in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
            n = _numel(y) * (x[1] // m.groups) * math.prod(m.weight.shape[2:])
            t.add(row, n, "thop counts a transposed conv per output element" if "Transpose" in kind.__name__ else "")
        elif kind in norms:
            affine = getattr(m, "affine", False) or getattr(m, "elementwise_affine", False)
            t.add(row, 2 * _numel(x) * (2 if affine else 1), "thop counts norms: 2 per element, 4 with affine")
        elif kind is nn.PReLU:
            t.add(row, _numel(x), "thop counts PReLU: 1 per element")
        elif kind is nn.Softmax:
            nf = x[m.dim]
            t.add(row, _numel(x) // nf * (3 * nf - 1), "thop counts softmax: exp, add, divide")
        elif kind in (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d):
            t.add(row, _numel(y), "thop counts average pooling: 1 per output element")
        elif kind in (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d):
            kernel = math.prod(a / b for a, b in zip(x[2:], y[2:]))
            t.add(row, int((kernel + 1) * _numel(y)), "thop counts adaptive average pooling: (kernel + 1) per output")
        elif kind is nn.Linear:
            t.add(row, m.in_features * _numel(y))
        elif kind in (nn.Upsample, nn.UpsamplingBilinear2d, nn.UpsamplingNearest2d):
            per = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}.get(m.mode, 0)
            t.add(row, _numel(y) * per, f"thop counts {m.mode} upsampling: {per} per output element")
        elif kind in (nn.RNN, nn.GRU, nn.LSTM):
            t.add(row, _thop_rnn(m, x), "thop's RNN formula (bias and gate adds counted)")
    return t


def _thop_rnn(m, x) -> int:
    from torch import nn

    h, bias = m.hidden_size, m.bias

    def cell(i):
        if isinstance(m, nn.LSTM):
            s = (i + h) * h + h + (2 * h if bias else 0)
            return 4 * s + 3 * h + h
        if isinstance(m, nn.GRU):
            s = (h + i) * h + h + (2 * h if bias else 0)
            return 2 * s + (h + i) * h + h + (2 * h if bias else 0) + h + 3 * h
        return h * (i + h) + h + (2 * h if bias else 0)

    dirs = 2 if m.bidirectional else 1
    total = cell(m.input_size) * dirs + sum(cell(h * dirs) * dirs for _ in range(m.num_layers - 1))
    steps, batch = (x[1], x[0]) if m.batch_first else (x[0], x[1])
    return total * steps * batch


def _torchinfo(rec) -> _Tally:
    t = _Tally()
    rows = _row_of_module(rec)
    for name, m, _x, y, _ins in _module_calls(rec):
        if m._modules or y is None:
            continue
        row = rows.get(name, name)
        for pname, p in m.named_parameters():
            if pname in ("weight", "bias"):
                n = p.numel() * (y[0] * math.prod(y[2:]) if "Conv" in type(m).__name__ else y[0]) if y else 0
            elif "weight" in pname or "bias" in pname:
                n = math.prod(y[:2]) * p.numel()
            else:
                continue
            t.add(row, n, "torchinfo: each parameter × the output's batch (× its spatial size for a Conv), biases "
                          "and norms included, one token per sample")
    return t


def _mha_attention(rec, peer: str) -> dict[str, tuple[int, str]]:
    """nn.MultiheadAttention calls whose attention a peer misses: module name → (MACs missed, why).
    With ``need_weights=False`` it runs ``scaled_dot_product_attention`` (fvcore: no handle; CPU: the
    fused kernel); FlopCounterMode under ``no_grad`` in eval also takes the fast path for batch-first
    self-attention, ``_native_multi_head_attention``, missing the projections too."""
    from torch import nn

    from archstat.ops.arith import attention_macs

    out = {}
    for name, m, ins, _outs, plain in rec.modules:
        if type(m) is not nn.MultiheadAttention or len(ins) < 3 or plain.get("need_weights", True):
            continue
        q, k, v = (t.shape for t in ins[:3])
        if len(q) != 3:
            continue
        b, lq, lk = (q[0], q[1], k[1]) if m.batch_first else (q[1], q[0], k[0])
        h = m.num_heads
        attention = attention_macs(b * h, lq, lk, m.head_dim, v[2] // h)
        if peer == "flop_counter" and m.batch_first and q == k == v:
            out[name] = (-1, "nn.MultiheadAttention's fast path (_native_multi_head_attention, eval, no_grad) is "
                             "not in FlopCounterMode's registry")
        elif peer in ("fvcore", "flop_counter"):
            out[name] = (attention, "fvcore has no handle for aten::scaled_dot_product_attention (need_weights=False)"
                         if peer == "fvcore" else "the fused CPU attention kernel is not in FlopCounterMode's "
                                                  "registry")
    return out


def _drop_mha(t: _Tally, rec, peer: str) -> None:
    """Take out of a tally what a peer misses in nn.MultiheadAttention calls."""
    missed = _mha_attention(rec, peer)
    for name, (macs, why) in missed.items():
        rows = [r for r in t.by_row if r == name or r.startswith(name + ".")]
        if macs < 0:   # the whole module
            for r in rows:
                t.by_row[r] = 0
        elif rows:
            scale = 2 if peer == "flop_counter" else 1
            t.by_row[rows[0]] = t.by_row[rows[0]] - macs * scale
        t.missing[name] = why


# -- the count and its differences ------------------------------------------------------------------------

def tally(peer: str, rec, model) -> _Tally:
    rnn_rows = {acc.name for acc in rec.rows if acc.kind == "rnn"}
    sdpa_rows = {k.row for k in rec.op_calls if k.op == "scaled_dot_product_attention" and k.part_of < 0}
    if peer == "fvcore":
        t = _fvcore(rec, rnn_rows, sdpa_rows)
        _drop_mha(t, rec, peer)
        return t
    if peer == "flop_counter":
        from torch.utils.flop_counter import flop_registry

        registry = {str(k) for k in flop_registry}
        # on the CPU only an LSTM without projections runs oneDNN (mkldnn_rnn_layer); GRU and RNN decompose
        onednn = {acc.name for acc in rec.rows if acc.kind == "rnn" and acc.module.mode == "LSTM"
                  and not getattr(acc.module, "proj_size", 0)}
        t = _flop_counter(rec, onednn, sdpa_rows, registry)
        _drop_mha(t, rec, peer)
        return t
    if peer == "ptflops":
        return _ptflops(rec, model)
    if peer == "thop":
        return _thop(rec)
    if peer == "torchinfo":
        return _torchinfo(rec)
    raise ValueError(peer)


def _missing_reason(peer: str, row: str, rec, rnn_rows, sdpa_rows) -> str:
    if row in sdpa_rows:
        return {"fvcore": "fvcore has no handle for aten::scaled_dot_product_attention",
                "flop_counter": "the fused CPU attention kernel is not in FlopCounterMode's registry",
                "thop": "thop counts no functional call (attention)",
                "torchinfo": "torchinfo counts parameters only (attention has none)",
                "ptflops": "ptflops counts no F.scaled_dot_product_attention"}.get(peer, "")
    if row in rnn_rows:
        return {"fvcore": "fvcore has no handle for aten::lstm/gru/rnn",
                "flop_counter": "oneDNN's mkldnn_rnn_layer (the CPU RNN kernel) is not in FlopCounterMode's "
                                "registry"}.get(peer, f"{peer}'s RNN formula")
    return {"thop": "thop counts modules only: a functional matmul or linear (and any module it has no rule for) "
                    "is 0",
            "torchinfo": "torchinfo counts a Linear once per sample, not per token, and no functional op",
            "ptflops": "ptflops does not count F.linear, the @ operator or modules it has no rule for",
            "fvcore": "fvcore counts this operator otherwise",
            "flop_counter": "an operator outside FlopCounterMode's registry"}[peer]


def peer_count(peer: str, stats, bt, model, inputs) -> PeerCount:
    """What ``peer`` would print for ``stats``'s model at ``stats.batch``: its rules applied to both
    traced batches, carried to the batch shown by the two (each count is affine in the batch)."""
    a, b = bt.batches
    n = stats.batch
    ta, tb = tally(peer, bt.main, model), tally(peer, bt.other, model)
    ours_a = {acc.name: acc.macs for acc in bt.main.rows}
    ours_b = {acc.name: acc.macs for acc in bt.other.rows}
    factor = 2 if PEERS[peer] == "FLOPs" else 1

    def at(x: int, y: int) -> int:
        return x + (y - x) * (n - a) // (b - a)

    rnn_rows = {acc.name for acc in bt.main.rows if acc.kind == "rnn"}
    sdpa_rows = {k.row for k in bt.main.op_calls if k.op == "scaled_dot_product_attention" and k.part_of < 0}
    rows = []
    reasons: dict[str, list[int]] = {}
    names = list(dict.fromkeys(list(ours_a) + list(ta.by_row)))
    total = 0
    for name in names:
        theirs = at(ta.by_row.get(name, 0), tb.by_row.get(name, 0)) // factor
        total += at(ta.by_row.get(name, 0), tb.by_row.get(name, 0))
        ours = at(ours_a.get(name, 0), ours_b.get(name, 0))
        if theirs == ours:
            continue
        whys = ta.why.get(name, {})
        owner = next((m for m in ta.missing if name == m or name.startswith(m + ".")), None)
        if owner is not None and theirs < ours:
            why = ta.missing[owner]
        elif whys and theirs > ours:
            why = max(whys, key=lambda w: whys[w])
        else:
            why = _missing_reason(peer, name, bt.main, rnn_rows, sdpa_rows)
        rows.append((name, ours, theirs, why))
        entry = reasons.setdefault(why, [0, 0])
        entry[0] += theirs - ours
        entry[1] += 1
    rows.sort(key=lambda r: -abs(r[2] - r[1]))
    reason_list = sorted(((w, d, c) for w, (d, c) in reasons.items()), key=lambda r: -abs(r[1]))
    return PeerCount(peer, PEERS[peer], total, stats.totals.macs, n, rows, reason_list)


def known(peer: Optional[str]) -> bool:
    return peer in PEERS
