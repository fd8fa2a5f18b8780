"""What another counter would print for the same model (``--convention``), and why it differs.

Each peer's rules are transcribed from its source (the version named beside it) and applied to the
trace archstat already made: its operators (``Recorder.op_calls``), its module calls
(``Recorder.modules``) and the Python-level calls other counters patch or see
(``Recorder.functions_log``). Nothing is imported from the peers: the figures are what they
would print, and ``benchmarks/conventions.py`` runs the real peers beside them.

- **fvcore** 0.1.5 ``FlopCountAnalysis`` (``fvcore/nn/jit_handles.py``, its default handles): one
  per MAC of conv, linear, matmul, mm, bmm, einsum and addmm (not ``baddbmm``, ``addbmm``, ``mv``);
  ``F.batch_norm`` in eval 1 per element (2 with affine), in training (a batch norm without running
  statistics) and ``F.instance_norm``, ``F.layer_norm``, ``F.group_norm`` 4 (5 with affine), 2-d
  nearest upsampling 1 and bilinear 4 per output element, adaptive average pooling 1 per input
  element, grid sampling 4 per output element. No handle for ``aten::scaled_dot_product_attention`` or
  ``aten::lstm``/``gru``/``rnn_*``: 0.
- **flop_counter**: ``torch.utils.flop_counter.FlopCounterMode`` on real CPU tensors in eval under
  ``no_grad``: 2 FLOPs per MAC of the operators in its registry (read from the installed torch). The
  rule follows the kernel that runs there: scaled dot-product attention counts its matmuls where the
  CPU takes the math path (torch's own choice, ``torch._fused_sdp_choice``: 2-d and 3-d inputs) and 0
  where it runs the fused kernel (4-d); an LSTM runs oneDNN's ``mkldnn_rnn_layer`` (0); an
  ``nn.MultiheadAttention`` whose call meets its fast path's conditions (eval, batched, batch-first,
  query is key is value, biases, an even number of heads, no float mask) runs
  ``_native_multi_head_attention`` (0).
- **ptflops** 0.7.5, pytorch backend (``ptflops/pytorch_ops.py``, ``pytorch_engine.py``): per module of
  an exact type in its table (convs with their bias adds, Linear with its bias adds, 1 per element for
  activations and pooling, upsampling by its first sample's output, 2 per element for norms with an
  ``affine`` attribute that is true (LayerNorm's is ``elementwise_affine``: 1), its RNN, RNN-cell and
  MultiheadAttention formulas), divided by the first input's dim 0 (ptflops prints a per-sample mean),
  plus the functional calls it patches wherever they are made (``F.relu``, pools, ``F.softmax``,
  ``F.interpolate``, ``torch.matmul``/``mm``/``bmm``/``addmm``/``baddbmm``, ``torch.mul``/``add``
  broadcast from the left as its hook does; not ``F.linear``, not the ``@``, ``+``, ``*`` operators),
  which it does not divide.
- **thop** 0.1.1 ``profile`` (``thop/vision/basic_hooks.py``, ``thop/rnn_hooks.py``): module hooks
  only, by exact type: convs (no bias), Linear, norms 2 per element (4 with affine), average pools,
  upsampling, softmax, PReLU in eval, RNNs and RNN cells; functional calls count nothing.
- **torchinfo** 1.8 ``summary`` "Total mult-adds" (``torchinfo/layer_info.py: calculate_macs``):
  per call of a module without children, each parameter's size times the output's batch (times its
  spatial size for a class named ``Conv…``; times its first two dims for an RNN's weights):
  biases and norms count, a Linear on tokens counts one token.

The count is made on the trace at the batch shown (batch 1 is traced too), so a rule that depends on
what runs at that batch follows it.
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
    """The peer's count by row, with the reason of each part that differs from archstat's; ``parts`` keeps
    what the peer sums apart (ptflops: its modules' count, its functional and its tensor-op calls)."""

    def __init__(self):
        self.by_row: dict[str, int] = {}
        self.why: dict[str, dict[str, int]] = {}
        self.missing: dict[str, str] = {}       # module → why the peer misses part of it
        self.parts: dict[str, float] = {}

    def add(self, row: str, n, why: str = "", part: str = "") -> None:
        if part:
            self.parts[part] = self.parts.get(part, 0) + n
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


def _arg(call, index: int, name: str, default=None):
    """A logged call's argument, given by position or by name."""
    if len(call.args) > index:
        return call.args[index]
    return call.kwargs.get(name, default)


def _shape(value):
    from archstat.trace.recorder import Shape

    return value if isinstance(value, Shape) else None


# fvcore's handles for products (aten::addmm, bmm, _convolution, einsum, matmul, mm, linear): what they run as
FVCORE_MACS = frozenset({"mm", "addmm", "_addmm_activation", "bmm", "convolution", "_convolution", "linear",
                         "_linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                         "conv_transpose3d"})


def _fvcore(rec, rnn_rows, sdpa_rows) -> _Tally:
    t = _Tally()
    for k in rec.op_calls:
        if _in_sdpa(rec, k) or k.row in rnn_rows or getattr(k, "phase", "forward") != "forward":
            continue
        if k.macs and k.op in FVCORE_MACS:   # (baddbmm, addbmm, mv, …: no handle, 0)
            t.add(k.row, k.macs)
    rows = _row_of_module(rec)
    for call in rec.functions_log:
        row = rows.get(call.module, call.module)
        x = _shape(call.args[0]) if call.args else None
        if x is None:
            continue
        n, why = _fvcore_function(call, x)
        t.add(row, n, why)
    return t


def _fvcore_function(call, x) -> tuple[int, str]:
    """fvcore's count of one top-level call it has a handle for (norms, upsampling, pooling, grid sampling)."""
    name, out = call.name, call.out
    if name == "F.batch_norm":
        affine = _shape(_arg(call, 3, "weight")) is not None
        if _arg(call, 5, "training", False):   # no running statistics (or training): counted as a norm
            return _numel(x) * (5 if affine else 4), "fvcore counts batch norm without running statistics: 4 " \
                                                     "per element, 5 with affine"
        return _numel(x) * (2 if affine else 1), "fvcore counts batch norm: 1 per element, 2 with affine"
    if name in ("F.instance_norm", "F.layer_norm", "F.group_norm"):
        affine = _shape(_arg(call, 3, "weight") if name == "F.instance_norm" else _arg(call, 2, "weight")) is not None
        kind = name[2:].replace("_", " ")
        return _numel(x) * (5 if affine else 4), f"fvcore counts {kind}: 4 per element, 5 with affine"
    if name in ("F.interpolate", "F.upsample", "F.upsample_nearest", "F.upsample_bilinear") and out is not None:
        mode = {"F.upsample_nearest": "nearest", "F.upsample_bilinear": "bilinear"}.get(
            name, _arg(call, 3, "mode", "nearest"))
        if len(x) == 4 and mode == "nearest":
            return _numel(out), "fvcore counts 2-d nearest upsampling: 1 per output element"
        if len(x) == 4 and mode == "bilinear":
            return 4 * _numel(out), "fvcore counts 2-d bilinear upsampling: 4 per output element"
        return 0, ""
    if name == "F.adaptive_avg_pool2d":
        return _numel(x), "fvcore counts adaptive average pooling: 1 per input element"
    if name == "F.grid_sample" and out is not None:
        return 4 * _numel(out), "fvcore counts grid sampling: 4 per output element"
    return 0, ""


def _flop_counter(rec, rnn_rows, registry) -> _Tally:
    t = _Tally()
    for k in rec.op_calls:
        if getattr(k, "phase", "forward") != "forward" or k.row in rnn_rows:
            continue
        if k.op == "scaled_dot_product_attention":
            continue
        if k.part_of >= 0:
            whole = rec.op_calls[k.part_of]
            if whole.op == "scaled_dot_product_attention" and whole.attrs.get("cpu_kernel") != "math":
                continue   # the fused CPU kernel: not in FlopCounterMode's registry
        if k.macs and f"aten.{k.op}" in registry:
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


def _ptflops(rec) -> _Tally:
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
        if x is None or y is None or under_supported(name) or not _ptflops_supported(m):
            continue
        if kind in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
            transposed = kind.__name__.startswith("ConvTranspose")
            per_pos = math.prod(m.kernel_size) * m.in_channels * (m.out_channels // m.groups)
            positions = x[0] * math.prod(x[2:] if transposed else y[2:])
            bias = x[0] * math.prod(y[1:]) if m.bias is not None else 0
            n = per_pos * positions
            t.add(row, n, "ptflops counts a transposed conv over its input positions" if transposed else "",
                  "modules")
            t.add(row, bias, "ptflops counts conv bias adds", "modules")
        elif kind in act:
            t.add(row, _numel(y), "ptflops counts activations: 1 per element", "modules")
        elif kind in pools:
            t.add(row, _numel(x), "ptflops counts pooling: 1 per input element", "modules")
        elif kind in norms:
            affine = bool(getattr(m, "affine", False))   # (LayerNorm's is elementwise_affine: not read)
            t.add(row, _numel(x) * (2 if affine else 1), "ptflops counts norms: 1 per element, 2 with `affine`",
                  "modules")
        elif kind is nn.Linear:
            rows_in = math.prod(x[:-1])
            t.add(row, x[-1] * y[-1] * rows_in, "", "modules")
            t.add(row, y[-1] * rows_in if m.bias is not None else 0, "ptflops counts linear bias adds", "modules")
        elif kind is nn.Upsample:
            t.add(row, _numel(y[1:]), "ptflops counts nn.Upsample by its first sample's output elements", "modules")
        elif kind in (nn.RNN, nn.GRU, nn.LSTM):
            t.add(row, _ptflops_rnn(m, x), "ptflops' RNN formula (batch × seq from dims 0 and 1, gate adds)",
                  "modules")
        elif kind in (nn.RNNCell, nn.GRUCell, nn.LSTMCell):
            t.add(row, _ptflops_cell(m, x), "ptflops' RNN cell formula (gate adds)", "modules")
        elif kind is nn.MultiheadAttention:
            t.add(row, _ptflops_mha(m, ins), "ptflops' MultiheadAttention formula (scaling, softmax, biases)",
                  "modules")
        elif kind.__name__ == "Attention" and kind.__module__ == "timm.models.vision_transformer":
            b, n_, _ = x
            h, hd = m.num_heads, m.head_dim
            t.add(row, b * (n_ * hd * h + h * (2 * n_ * n_ * hd + n_ * n_)),
                  "ptflops' timm Attention formula (scaling, softmax)", "modules")


def _ptflops_functions(t: _Tally, rec, rows) -> None:
    """ptflops' count of the calls it patches (F.relu, torch.matmul, Tensor.add, …), wherever they are made."""
    for call in rec.patched_log:
        row = rows.get(call.module, call.module)
        name = call.name
        if name.startswith("F."):
            n = _ptflops_functional(call)
            t.add(row, n, f"ptflops counts {name}" + (" (besides its module, if any)" if n else ""), "functional")
        else:
            t.add(row, _ptflops_tensor_op(call), f"ptflops counts {name}", "tensor ops")


def _ptflops_functional(call):
    """ptflops' functional hooks: 1 per input element, F.interpolate by its output size (a float for a float
    scale factor, as its hook computes it)."""
    x = _shape(_arg(call, 0, "input"))
    if x is None:
        return 0
    if call.name not in ("F.interpolate", "F.upsample"):
        return _numel(x)
    size = _arg(call, 1, "size")
    if size is not None:
        if isinstance(size, (tuple, list)):
            return math.prod(size) * math.prod(x[:2])
        return int(size) ** (len(x) - 2) * math.prod(x[:2])
    scale = _arg(call, 2, "scale_factor")
    if scale is None:
        return 0
    if isinstance(scale, tuple) and len(scale) == len(x) - 2:
        return _numel(x) * int(math.prod(scale))
    return _numel(x) * scale ** (len(x) - 2)


def _ptflops_tensor_op(call) -> int:
    """ptflops' tensor-op hooks: a product by the first operand's elements × the second's last dim; addmm and
    baddbmm with their add (unless beta is 0); mul and add by the broadcast shape, aligned from the left as its
    hook aligns it."""
    name = call.name.split(".")[-1]
    if name in ("matmul", "mm", "bmm"):
        a, b = _shape(_arg(call, 0, "input")), _shape(_arg(call, 1, "other"))
        return _numel(a) * b[-1] if a is not None and b is not None and b else 0
    if name in ("addmm", "baddbmm"):
        c, a, b = (_shape(_arg(call, i, n)) for i, n in enumerate(("input", "mat1", "mat2")))
        n = _numel(a) * b[-1] if a is not None and b is not None and b else 0
        return n + (_numel(c) if call.kwargs.get("beta", 1) != 0 else 0)
    a, b = _arg(call, 0, "input"), _arg(call, 1, "other")
    sa, sb = _shape(a), _shape(b)
    if sa is None:
        return _numel(sb) if sb is not None else 1
    if sb is None:
        return _numel(sa)
    rank = max(len(sa), len(sb))
    return math.prod(max(sa[i] if i < len(sa) else 1, sb[i] if i < len(sb) else 1) for i in range(rank))


def _ptflops_supported(m) -> bool:
    """A module ptflops has a rule for (its count then stands for its whole subtree)."""
    from torch import nn

    kind = type(m)
    if kind.__name__ == "Attention" and kind.__module__ == "timm.models.vision_transformer":
        return True
    if kind.__name__ == "DeformConv2d" and kind.__module__.startswith("torchvision.ops"):
        return True
    return kind in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6, nn.GELU,
                    nn.MaxPool1d, nn.AvgPool1d, nn.AvgPool2d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool3d,
                    nn.AdaptiveMaxPool1d, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d,
                    nn.AdaptiveMaxPool3d, nn.AdaptiveAvgPool3d, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
                    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm, nn.Linear,
                    nn.Upsample, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.RNN, nn.GRU,
                    nn.LSTM, nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.MultiheadAttention)


def _ptflops_gates(m, flops: int) -> int:
    """ptflops' rnn_flops beyond the two products: the gate adds and products of the cell kind."""
    from torch import nn

    h = m.hidden_size
    if isinstance(m, (nn.RNN, nn.RNNCell)):
        return flops + h
    if isinstance(m, (nn.GRU, nn.GRUCell)):
        return flops + h + 3 * h + 3 * h
    return flops + 4 * h + 3 * h + 3 * h


def _ptflops_rnn(m, x) -> int:
    flops = 0
    for i in range(m.num_layers):
        w_ih, w_hh = getattr(m, f"weight_ih_l{i}"), getattr(m, f"weight_hh_l{i}")
        flops = _ptflops_gates(m, flops + w_ih.shape[0] * w_ih.shape[1] + w_hh.shape[0] * w_hh.shape[1])
        if m.bias:
            flops += getattr(m, f"bias_ih_l{i}").shape[0] + getattr(m, f"bias_hh_l{i}").shape[0]
    flops *= x[0] * x[1]
    return flops * (2 if m.bidirectional else 1)


def _ptflops_cell(m, x) -> int:
    flops = _ptflops_gates(m, m.weight_ih.shape[0] * m.weight_ih.shape[1] + m.weight_hh.shape[0] * m.weight_hh.shape[1])
    if m.bias:
        flops += m.bias_ih.shape[0] + m.bias_hh.shape[0]
    return flops * x[0]


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
        elif kind is nn.PReLU and not m.training:
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
        elif kind in (nn.RNNCell, nn.GRUCell, nn.LSTMCell):
            t.add(row, _thop_cell(m, m.input_size) * x[0], "thop's RNN cell formula (bias and gate adds counted)")
    return t


def _thop_cell(m, i: int) -> int:
    """thop's ops of one cell step for one sample (rnn_hooks.py: _count_rnn_cell, _count_gru_cell,
    _count_lstm_cell)."""
    from torch import nn

    h, bias = m.hidden_size, m.bias
    if isinstance(m, (nn.LSTM, nn.LSTMCell)):
        s = (i + h) * h + h + (2 * h if bias else 0)
        return 4 * s + 3 * h + h
    if isinstance(m, (nn.GRU, nn.GRUCell)):
        s = (h + i) * h + h + (2 * h if bias else 0)
        return 2 * s + (h + i) * h + h + (2 * h if bias else 0) + h + 3 * h
    return h * (i + h) + h + (2 * h if bias else 0)


def _thop_rnn(m, x) -> int:
    h = m.hidden_size
    dirs = 2 if m.bidirectional else 1
    total = _thop_cell(m, m.input_size) * dirs + sum(_thop_cell(m, h * dirs) * dirs for _ in range(m.num_layers - 1))
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


def _mha_fast_path(m, ins, plain) -> bool:
    """Whether this nn.MultiheadAttention call takes its fast path (``_native_multi_head_attention``) on the CPU
    in eval under no_grad, by the conditions of its forward (torch/nn/modules/activation.py)."""
    return (len(ins) >= 3 and len(ins[0].shape) == 3 and plain.get("_same_qkv", False)
            and not plain.get("_float_mask", False) and not m.training and m.num_heads % 2 == 0 and m.batch_first
            and m.bias_k is None and m.bias_v is None and not m.add_zero_attn and m._qkv_same_embed_dim
            and m.in_proj_bias is not None and m.in_proj_weight is not None)


def _encoder_fast_path(m, ins) -> bool:
    """Whether an nn.TransformerEncoderLayer call runs ``_transformer_encoder_layer_fwd`` on the CPU in eval under
    no_grad with no module hooks (FlopCounterMode's), by the conditions of its forward."""
    attn = m.self_attn
    return (bool(ins) and len(ins[0].shape) == 3 and not m.training and attn.batch_first
            and attn.in_proj_bias is not None and attn._qkv_same_embed_dim and bool(m.activation_relu_or_gelu)
            and m.norm1.eps == m.norm2.eps and attn.num_heads % 2 == 0
            and all(t is not None for t in (m.norm1.bias, m.norm2.bias, m.linear1.bias, m.linear2.bias,
                                            attn.out_proj.bias)))


def _mha_attention(rec, peer: str) -> dict[str, tuple[int, str]]:
    """nn.MultiheadAttention calls whose attention a peer misses: module name → (MACs missed, why).
    With ``need_weights=False`` it runs ``scaled_dot_product_attention`` (fvcore: no handle; CPU: the
    fused kernel); FlopCounterMode under ``no_grad`` in eval also takes the fast path where its conditions
    hold, ``_native_multi_head_attention``, missing the projections too."""
    from torch import nn

    from archstat.ops.arith import attention_macs

    out = {}
    for name, m, ins, _outs, plain in rec.modules:
        if peer == "flop_counter" and type(m) is nn.TransformerEncoderLayer and _encoder_fast_path(m, ins):
            out[name] = (-1, "nn.TransformerEncoderLayer's fast path (_transformer_encoder_layer_fwd, eval, no_grad) "
                             "is not in FlopCounterMode's registry")
            continue
        if type(m) is not nn.MultiheadAttention or len(ins) < 3:
            continue
        if peer == "flop_counter" and _mha_fast_path(m, ins, plain):
            out[name] = (-1, "nn.MultiheadAttention's fast path (_native_multi_head_attention, eval, no_grad) is "
                             "not in FlopCounterMode's registry")
            continue
        if plain.get("need_weights", True):
            continue
        q, k, v = (t.shape for t in ins[:3])
        if len(q) != 3:
            continue
        b, lq, lk = (q[0], q[1], k[1]) if m.batch_first else (q[1], q[0], k[0])
        h = m.num_heads
        attention = attention_macs(b * h, lq, lk, m.head_dim, v[2] // h)
        if peer in ("fvcore", "flop_counter"):
            out[name] = (attention, "fvcore has no handle for aten::scaled_dot_product_attention (need_weights=False)"
                         if peer == "fvcore" else "the fused CPU attention kernel is not in FlopCounterMode's "
                                                  "registry")
    return out


def _drop_mha(t: _Tally, rec, peer: str) -> None:
    """Take out of a tally what a peer misses in nn.MultiheadAttention calls."""
    missed = _mha_attention(rec, peer)
    for name, (macs, why) in missed.items():
        rows = [r for r in t.by_row if not name or r == name or r.startswith(name + ".")]   # "": the model
        if macs < 0:   # the whole module
            for r in rows:
                t.by_row[r] = 0
        elif rows:
            scale = 2 if peer == "flop_counter" else 1
            t.by_row[rows[0]] = t.by_row[rows[0]] - macs * scale
        t.missing[name] = why


# -- the count and its differences ------------------------------------------------------------------------

def tally(peer: str, rec, model=None) -> _Tally:
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
        t = _flop_counter(rec, onednn, registry)
        _drop_mha(t, rec, peer)
        return t
    if peer == "ptflops":
        return _ptflops(rec)
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
            "fvcore": "fvcore has no handle for this operator (baddbmm, mv, …) or counts it otherwise",
            "flop_counter": "an operator outside FlopCounterMode's registry"}[peer]


def ptflops_batch_counter(inputs, batch: int) -> int:
    """What ptflops divides its modules' count by: the length of the model's first positional input (its dim 0,
    the batch for a batch-first tensor, the sequence for a sequence-first one); 1 without one."""
    if inputs is None:
        return batch
    first = next((s for s in inputs.specs if s.name is None), None)
    if first is None:
        return 1
    if first.is_value:
        return len(first.value) if hasattr(first.value, "__len__") else 1
    whole = first.whole(batch)
    return whole[0] if whole else 1


def peer_count(peer: str, stats, bt, model, inputs, traced=None) -> PeerCount:
    """What ``peer`` would print for ``stats``'s model at ``stats.batch``: its rules applied to the trace at that
    batch (``traced``, or the pair's own trace there); without one, to both traced batches, carried to the batch
    shown (each count is affine in the batch)."""
    n = stats.batch
    rec = traced if traced is not None else getattr(bt, "traced", {}).get(n)
    if rec is None and bt.batches[0] == n:
        rec = bt.main
    factor = 2 if PEERS[peer] == "FLOPs" else 1
    if rec is not None:
        t = tally(peer, rec, model)
        theirs_by = dict(t.by_row)
        ours_by = {acc.name: acc.macs for acc in rec.rows}
        parts = t.parts
        main = rec
    else:
        a, b = bt.batches
        ta, tb = tally(peer, bt.main, model), tally(peer, bt.other, model)

        def at(x, y):
            return x + (y - x) * (n - a) // (b - a)

        t = ta
        names = list(dict.fromkeys(list(ta.by_row) + list(tb.by_row)))
        theirs_by = {k: at(ta.by_row.get(k, 0), tb.by_row.get(k, 0)) for k in names}
        ours_a = {acc.name: acc.macs for acc in bt.main.rows}
        ours_b = {acc.name: acc.macs for acc in bt.other.rows}
        ours_by = {k: at(ours_a.get(k, 0), ours_b.get(k, 0)) for k in dict.fromkeys(list(ours_a) + list(ours_b))}
        parts = {k: at(ta.parts.get(k, 0), tb.parts.get(k, 0)) for k in set(ta.parts) | set(tb.parts)}
        main = bt.main
    total = sum(theirs_by.values())
    reasons: dict[str, list[int]] = {}
    if peer == "ptflops":   # a per-sample mean of its modules' count, its functional calls' counts added whole
        bc = ptflops_batch_counter(inputs, n)
        printed = int(parts.get("modules", 0) / bc + parts.get("functional", 0) + parts.get("tensor ops", 0))
        if printed != total:
            reasons[f"ptflops prints its modules' count divided by the first input's dim 0 ({bc}), a per-sample "
                    "mean (its functional counts not)"] = [printed - total, 0]
        total = printed
    rnn_rows = {acc.name for acc in main.rows if acc.kind == "rnn"}
    sdpa_rows = {k.row for k in main.op_calls if k.op == "scaled_dot_product_attention" and k.part_of < 0}
    rows = []
    for name in dict.fromkeys(list(ours_by) + list(theirs_by)):
        theirs = theirs_by.get(name, 0) // factor
        ours = ours_by.get(name, 0)
        if theirs == ours:
            continue
        whys = t.why.get(name, {})
        owner = next((m for m in t.missing if not m or name == m or name.startswith(m + ".")), None)
        if owner is not None and theirs < ours:
            why = t.missing[owner]
        elif whys and theirs > ours:
            why = max(whys, key=lambda w: whys[w])
        else:
            why = _missing_reason(peer, name, main, rnn_rows, sdpa_rows)
        rows.append((name, ours, theirs, why))
        entry = reasons.setdefault(why, [0, 0])
        entry[0] += theirs - ours
        entry[1] += 1
    rows.sort(key=lambda r: -abs(r[2] - r[1]))
    reason_list = sorted(((w, d, c) for w, (d, c) in reasons.items()), key=lambda r: -abs(r[1]))
    return PeerCount(peer, PEERS[peer], total, stats.totals.macs, n, rows, reason_list)


def known(peer: Optional[str]) -> bool:
    return peer in PEERS
