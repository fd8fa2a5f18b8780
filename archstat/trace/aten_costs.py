"""What each aten operator costs in multiply-accumulates, read off the aten table (``ir/aten.py``),
for a call the dispatcher sees: the torch half of that table.

- **counted**: a row with a formula (``cost == macs``); the formula reads only the tensors'
  ``.shape``. The arithmetic is the registry's (``ops/arith.py``, ``ops/conv.py``): a YAML op and
  the aten op it builds share one formula.
- **known zero**: a row of cost ``zero`` or ``view`` (its in-place form too), or an operator torch
  itself tags pointwise or a view: no multiply-accumulate of a matrix product or convolution.
- **data-dependent**: a row of cost ``data`` (``nms``, ``nonzero``): no MACs, grouped by kind.
- **unknown**: anything else (a composite arriving whole included). Its row is marked *not counted*
  and the totals say they are a lower bound; it is never a silent zero.

Composite ops (``linear``, ``matmul``, ``einsum``, ``conv2d``, ``scaled_dot_product_attention``)
reach a dispatch mode as what they decompose into (``addmm``/``mm``/``bmm``, ``convolution``,
one of the fused attention kernels or the math path's ``bmm``), so each is counted once.
"""

from __future__ import annotations

from collections.abc import Callable

from archstat.ir import aten
from archstat.ir.aten import Cost


def roi_align_ops(x, rois, _scale, pooled_h, pooled_w, sampling_ratio, *_args, **_kw) -> int:
    """torchvision's ``roi_align``: every output bin of every roi averages sampled points, each a
    bilinear interpolation of 4 input values (4 multiply-adds): K·C·PH·PW·samples·4, with
    samples = sampling_ratio² per bin, or, with ``sampling_ratio <= 0`` (adaptive),
    ⌈roi_h/PH⌉·⌈roi_w/PW⌉ read off each roi (real tensors only: on the meta device 1 per bin)."""
    k, c = rois.shape[0], x.shape[1]
    bins = pooled_h * pooled_w
    if sampling_ratio > 0:
        return k * c * bins * sampling_ratio * sampling_ratio * 4
    if rois.device.type == "meta" or k == 0:
        return k * c * bins * 4
    import torch

    h = torch.clamp(rois[:, 4] - rois[:, 2], min=1.0) * _scale
    w = torch.clamp(rois[:, 3] - rois[:, 1], min=1.0) * _scale
    samples = (torch.ceil(h / pooled_h).clamp(min=1) * torch.ceil(w / pooled_w).clamp(min=1)).sum()
    return int(samples.item()) * c * bins * 4


DATA_OPS: dict[str, Callable[..., int]] = {"roi_align": roi_align_ops}


def data_ops(func, args, kwargs, out) -> int:
    """Elementwise operations of a data-dependent op with a standard formula (else 0)."""
    fn = DATA_OPS.get(op_name(func))
    return fn(*args, **kwargs) if fn is not None else 0


def qualified(func) -> str:
    """``torchvision.nms``, ``aten.nonzero``: the op with its namespace."""
    ns, _, name = func._schema.name.partition("::")
    return f"{ns}.{name}" if name else f"aten.{ns}"



_KINDS: dict = {}


def describe(func) -> tuple[str, str, bool, bool]:
    """(kind, op name, is a view, is pointwise) of an aten overload, computed once per overload."""
    found = _KINDS.get(func)
    if found is None:
        import torch

        found = _KINDS[func] = (kind(func), op_name(func), is_view(func), torch.Tag.pointwise in func.tags)
    return found


def key(func) -> str:
    """The aten table's key of an overload: ``addmm`` (``torchvision::nms`` → ``nms``), or
    ``quantized::conv2d`` (quantized operators share names with aten's and cost otherwise)."""
    ns, _, name = func._schema.name.partition("::")
    return func._schema.name if ns == "quantized" else (name or ns)


def cost_class(name: str) -> str:
    """What the table alone says of ``name`` (a table key): 'macs', 'data', 'zero' or 'unknown'."""
    row = aten.get(name)
    if row is None:
        base = aten.get(name.rstrip("_")) if name.endswith("_") else None   # hardswish_ → hardswish
        return "zero" if base is not None and base.cost in (Cost.ZERO, Cost.VIEW) else "unknown"
    return {Cost.MACS: "macs", Cost.DATA: "data", Cost.ZERO: "zero", Cost.VIEW: "zero"}.get(row.cost, "unknown")


def kind(func) -> str:
    """'macs' (a formula), 'data' (data-dependent, no MACs), 'zero' (costs no MACs) or 'unknown'."""
    found = cost_class(key(func))
    if found != "unknown" or func._schema.name.startswith("quantized::"):
        return found
    import torch

    if torch.Tag.pointwise in func.tags or is_view(func) or _pointwise_inplace(op_name(func)):
        return "zero"
    return "unknown"


def _pointwise_inplace(name: str) -> bool:
    """``hardswish_``: the in-place form of a pointwise op (not every one carries the tag)."""
    import torch

    base = getattr(torch.ops.aten, name[:-1], None) if name.endswith("_") else None
    overload = getattr(base, "default", None) if base is not None else None
    return overload is not None and torch.Tag.pointwise in overload.tags


def op_name(func) -> str:
    """``aten.addmm.default`` → ``addmm``."""
    return func._schema.name.split("::")[-1]


def is_view(func) -> bool:
    """An op whose output aliases its input without writing (views: permute, transpose, expand,
    unbind, chunk, split, view, reshape's view, select, slice; and the table's ``view`` rows, which
    their schema does not mark as read-only aliases)."""
    schema = func._schema
    row = aten.get(key(func))
    if row is not None and row.cost is Cost.VIEW:
        return True
    return bool(schema.returns) and all(r.alias_info is not None and not r.alias_info.is_write
                                        for r in schema.returns)


def macs(func, args, kwargs, out) -> int:
    """The MACs of one call of a counted op (``out``: what it returned; a convolution reads its shape)."""
    row = aten.get(key(func))
    assert row is not None and row.macs is not None, f"{key(func)} has no formula"
    if row.macs is aten.quantized_conv:
        return row.macs(*args, out=out, **kwargs)
    if row.macs is aten.convolution:
        return row.macs(*args, out=out if not isinstance(out, (tuple, list)) else out[0])
    return row.macs(*args, **kwargs)


# -- what the performance model needs beyond the shapes -----------------------------------------------

def _scalar(v):
    """Plain ints, floats, bools and their lists (a SymInt as its int); anything else as None."""
    if isinstance(v, bool) or isinstance(v, (int, float)):
        return v
    if isinstance(v, (list, tuple)):
        return [_scalar(x) for x in v]
    try:
        return int(v)
    except (TypeError, ValueError, RuntimeError):
        return None


_ATTR_ARGS = {
    # aten.convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
    "convolution": (3, ("stride", "padding", "dilation", "transposed", "output_padding", "groups")),
    "_convolution": (3, ("stride", "padding", "dilation", "transposed", "output_padding", "groups")),
    "max_pool2d_with_indices": (1, ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    "max_pool2d": (1, ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    "avg_pool2d": (1, ("kernel_size", "stride", "padding", "ceil_mode")),
    # convolution_backward(grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed,
    #                      output_padding, groups, output_mask)
    "convolution_backward": (4, ("stride", "padding", "dilation", "transposed", "output_padding", "groups",
                                 "output_mask")),
    # batch norm: whether it normalises by the batch's statistics (training) or the running ones
    "native_batch_norm": (5, ("training",)),
    "_native_batch_norm_legit": (5, ("training",)),
}


def attrs(op: str, args, kwargs) -> dict:
    """The non-tensor arguments of an operator that decide its kernel (a conv's stride and groups)."""
    spec = _ATTR_ARGS.get(op)
    if spec is None:
        return {}
    start, names = spec
    out = {}
    for i, name in enumerate(names):
        value = args[start + i] if start + i < len(args) else (kwargs or {}).get(name)
        if value is not None:
            out[name] = _scalar(value)
    return out


def whole_attrs(op: str, args, kwargs) -> dict:
    """``scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None)``:
    whether it is causal and whether it has a mask (which kernels can run it depends on both)."""
    kwargs = kwargs or {}
    mask = args[3] if len(args) > 3 else kwargs.get("attn_mask")
    causal = args[5] if len(args) > 5 else kwargs.get("is_causal", False)
    return {"is_causal": bool(causal), "mask": mask is not None, "cpu_kernel": cpu_sdpa_kernel(args, kwargs)}


def cpu_sdpa_kernel(args, kwargs) -> str:
    """The kernel ``scaled_dot_product_attention`` runs on the CPU for these arguments ('math': the matmuls and
    softmax it decomposes into; 'flash': the fused CPU kernel), as torch's own choice (``torch._fused_sdp_choice``)
    asked with CPU stand-ins of the traced tensors (their sizes and dtypes; the last dimension dense, one row of
    memory), so that a counter run on real CPU tensors (FlopCounterMode) can be followed; '' when it cannot
    tell."""
    import torch

    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal")
    values = dict(zip(names, args))
    values.update({k: v for k, v in kwargs.items() if k in (*names, "scale", "enable_gqa")})

    def stand_in(t):
        if not isinstance(t, torch.Tensor):
            return t
        if t.device.type == "cpu":
            return t
        if t.dim() == 0:
            return torch.empty((), dtype=t.dtype)
        row = torch.empty(max(t.shape[-1], 1), dtype=t.dtype)
        return row.as_strided(t.shape, [0] * (t.dim() - 1) + [1])

    from torch.utils._python_dispatch import _disable_current_modes  # nothing here is the model's: not traced

    try:
        with _disable_current_modes():
            q, k, v = (stand_in(values[n]) for n in ("query", "key", "value"))
            extra = {n: values[n] for n in ("scale", "enable_gqa") if n in values}
            choice = torch._fused_sdp_choice(q, k, v, stand_in(values.get("attn_mask")),
                                             values.get("dropout_p", 0.0), bool(values.get("is_causal", False)),
                                             **extra)
    except Exception:   # an argument torch refuses there: the call itself says so when it runs
        return ""
    return "math" if int(choice) == 0 else "flash" if int(choice) == 1 else f"backend {int(choice)}"
