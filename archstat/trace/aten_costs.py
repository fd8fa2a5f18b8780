"""What each aten operator costs in multiply-accumulates, from the shapes it ran on.

Three kinds of operator:

- **counted**: ``MACS`` maps an aten op name to a pure function of its arguments (tensors are
  only read for their ``.shape``). The arithmetic is the registry's: ``ops/arith.py`` for matrix
  products and attention, ``ops/conv.py`` for convolution; a YAML op and the aten op it builds
  share one formula.
- **known zero**: views, elementwise ops, activations, norms, pooling, reductions, copies,
  indexing, factories: no multiply-accumulate of a matrix product or convolution.
- **unknown**: anything else. Its row is marked *not counted* and the totals say they are a
  lower bound; it is never a silent zero.

Composite ops (``linear``, ``matmul``, ``einsum``, ``conv2d``, ``scaled_dot_product_attention``)
reach a dispatch mode as what they decompose into (``addmm``/``mm``/``bmm``, ``convolution``,
one of the fused attention kernels or the math path's ``bmm``), so each is counted once.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod

from archstat.ops.arith import attention_macs, conv_transpose_macs, linear_macs, matmul_macs
from archstat.ops.conv import conv_macs


def mm(a, b, *_):
    """(m×k)·(k×n)."""
    return matmul_macs(1, a.shape[0], a.shape[1], b.shape[1])


def addmm(_bias, a, b, *_args, **_kw):
    """bias + (m×k)·(k×n): the bias add is not a MAC."""
    return mm(a, b)


def bmm(a, b, *_):
    """B products of (m×k)·(k×n)."""
    return matmul_macs(a.shape[0], a.shape[1], a.shape[2], b.shape[2])


def baddbmm(_bias, a, b, *_args, **_kw):
    return bmm(a, b)


def addbmm(_bias, a, b, *_args, **_kw):
    """The B products summed into one m×n matrix: the same MACs as bmm."""
    return bmm(a, b)


def mv(a, v, *_):
    """(m×n)·n: a product with one column."""
    return matmul_macs(1, a.shape[0], a.shape[1], 1)


def addmv(_bias, a, v, *_args, **_kw):
    return mv(a, v)


def dot(a, _b, *_):
    return matmul_macs(1, 1, a.shape[0], 1)


def linear(x, w, *_args, **_kw):
    """x[..., in] · Wᵀ[in, out]: every leading element of x is one row."""
    rows = prod(x.shape[:-1])
    return linear_macs(w.shape[1], w.shape[0], rows)


def convolution(x, w, _bias, _stride, _padding, _dilation, transposed, _output_padding, groups, *_, out=None):
    """N-d convolution (``aten.convolution``: conv1d/2d/3d and their transposes reach it).

    Direct: one MAC per weight of a group per *output* position. Transposed: one MAC per weight
    of a group per *input* position (each input scatters through the kernel). The spatial dims
    fold into the 2-D formula's two factors (their product is what counts)."""
    kernel = list(w.shape[2:])
    c_in = w.shape[0] if transposed else w.shape[1] * groups
    if x.shape[1] != c_in:  # the meta device does not check this for transposed convolutions
        raise ValueError(f"convolution expects {c_in} input channels, got {x.shape[1]}")
    if transposed:  # weight: C_in × C_out/groups × k...
        return x.shape[0] * conv_transpose_macs(prod(x.shape[2:]), x.shape[1], w.shape[1] * groups, prod(kernel),
                                                groups)
    return x.shape[0] * conv_macs(_two(out.shape[2:]), x.shape[1], w.shape[0], _two(kernel), groups)


def _two(dims) -> tuple[int, int]:
    dims = list(dims)
    return (prod(dims[:-1]), dims[-1]) if dims else (1, 1)


def sdpa_bhle(q, k, v, *_args, **_kw):
    """Scaled dot-product attention on (B, H, L, E) tensors (the math path, the fused CPU path,
    cuDNN, flash and memory-efficient kernels as ``scaled_dot_product_attention`` calls them):
    Q·Kᵀ then softmax·V, B·H·L·S·E + B·H·L·S·Ev."""
    *lead, l, e = q.shape
    s, ev = k.shape[-2], v.shape[-1]
    return attention_macs(prod(lead), l, s, e, ev)


def sdpa_blhe(q, k, v, *_args, **_kw):
    """The same for kernels that take (B, L, H, E) (``_flash_attention_forward``,
    ``_efficient_attention_forward``)."""
    b, l, h, e = q.shape
    return attention_macs(b * h, l, k.shape[1], e, v.shape[-1])


def native_mha(query, key, value, embed_dim, num_heads, *_args, **_kw):
    """``_native_multi_head_attention`` (nn.MultiheadAttention's inference fast path, batch first):
    the Q, K and V projections, attention over the heads, and the output projection."""
    b, l, d = query.shape
    s = key.shape[1]
    return (linear_macs(d, d, b * l) + 2 * linear_macs(d, d, b * s) + attention_macs(b * num_heads, l, s,
            embed_dim // num_heads, embed_dim // num_heads) + linear_macs(d, d, b * l))


def mkldnn_rnn_layer(x, w_ih, w_hh, *_args, **_kw):
    """One layer and direction of an RNN on the CPU (oneDNN): every token times the input and
    hidden gate weights (``rnn.py``'s formula; ``x`` is T×B×I or B×T×I)."""
    return prod(x.shape[:-1]) * (w_ih.shape[0] * w_ih.shape[1] + w_hh.shape[0] * w_hh.shape[1])


MACS: dict[str, Callable[..., int]] = {
    "mm": mm, "addmm": addmm, "_addmm_activation": addmm, "bmm": bmm, "baddbmm": baddbmm, "addbmm": addbmm,
    "mv": mv, "addmv": addmv, "dot": dot, "vdot": dot, "linear": linear, "_linear": linear,
    "convolution": convolution, "_convolution": convolution,
    "_scaled_dot_product_flash_attention_for_cpu": sdpa_bhle,
    "_scaled_dot_product_flash_attention": sdpa_bhle,
    "_scaled_dot_product_efficient_attention": sdpa_bhle,
    "_scaled_dot_product_cudnn_attention": sdpa_bhle,
    "_scaled_dot_product_fused_attention_overrideable": sdpa_bhle,
    "scaled_dot_product_attention": sdpa_bhle,
    "_flash_attention_forward": sdpa_blhe, "_efficient_attention_forward": sdpa_blhe,
    "_native_multi_head_attention": native_mha,
    "mkldnn_rnn_layer": mkldnn_rnn_layer,
}

def quantized_conv(x, packed, *_args, out=None, **_kw):
    """``quantized::conv2d`` (and ``_relu``, 1-d, 3-d): the prepacked weight's shape and groups, the
    output's positions: the same formula as ``convolution``."""
    w, _ = packed.unpack()
    groups = packed.groups()
    return x.shape[0] * conv_macs(_two(out.shape[2:]), x.shape[1], w.shape[0], _two(list(w.shape[2:])), groups)


def quantized_linear(x, packed, *_args, **_kw):
    """``quantized::linear`` (and ``_relu``, dynamic): rows × in × out of the prepacked weight."""
    w, _ = packed.unpack()
    return linear_macs(w.shape[1], w.shape[0], prod(x.shape[:-1]))


QUANTIZED: dict[str, Callable[..., int]] = {
    "conv1d": quantized_conv, "conv2d": quantized_conv, "conv3d": quantized_conv, "conv1d_relu": quantized_conv,
    "conv2d_relu": quantized_conv, "conv3d_relu": quantized_conv, "linear": quantized_linear,
    "linear_relu": quantized_linear, "linear_dynamic": quantized_linear,
}
# quantized elementwise ops, concatenation and norms: no MACs
QUANTIZED_ZERO = frozenset("""add add_relu add_scalar add_scalar_relu mul mul_relu mul_scalar cat cat_relu hardswish
relu6 leaky_relu sigmoid batch_norm1d batch_norm2d batch_norm3d batch_norm2d_relu layer_norm group_norm
instance_norm threshold elu celu hardtanh embedding_bag_byte_rowwise_offsets""".split())

# data-dependent: what they do (how many boxes nms keeps, how many elements nonzero finds) depends
# on the values; no MACs (no matrix product), rows grouped by kind with their call count
DATA = frozenset({"nms", "roi_align", "roi_pool", "ps_roi_align", "ps_roi_pool", "nonzero", "masked_select",
                  "unique", "_unique2", "unique_dim", "unique_consecutive", "argwhere"})


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

# no MACs: norms, activations, pooling, reductions, copies, indexing, factories, random numbers
# (pointwise ops and views are recognised by their aten tags and alias annotations; these are the rest)
ZERO = frozenset("""
native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training _native_batch_norm_legit_functional
batch_norm native_layer_norm native_group_norm _fused_rms_norm rms_norm layer_norm group_norm instance_norm
_softmax _log_softmax softmax log_softmax _safe_softmax
relu relu6 gelu silu mish elu selu celu leaky_relu hardswish hardsigmoid hardtanh softplus sigmoid tanh prelu
_prelu_kernel glu threshold
max_pool1d max_pool2d max_pool3d max_pool2d_with_indices max_pool3d_with_indices avg_pool1d avg_pool2d avg_pool3d
adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d _adaptive_avg_pool2d _adaptive_avg_pool3d
adaptive_max_pool2d adaptive_max_pool3d _pdist_forward
mean sum amax amin max min prod var var_mean std std_mean norm linalg_vector_norm argmax argmin any all logsumexp
cumsum cumprod _local_scalar_dense item count_nonzero quantize_per_tensor quantize_per_channel dequantize
quantize_per_tensor_dynamic fake_quantize_per_tensor_affine fake_quantize_per_channel_affine
cat stack clone copy copy_ _to_copy _copy_from _copy_from_and_resize contiguous resize_ set_ lift_fresh
lift_fresh_copy detach_copy alias_copy
empty empty_like empty_strided new_empty new_empty_strided zeros zeros_like ones ones_like full full_like
new_zeros new_ones new_full fill fill_ zero_ arange linspace logspace eye scalar_tensor tensor
rand rand_like randn randn_like randint randperm bernoulli bernoulli_ normal_ uniform_ native_dropout
dropout exponential_ multinomial
constant_pad_nd pad reflection_pad1d reflection_pad2d reflection_pad3d replication_pad1d replication_pad2d
replication_pad3d _pad_circular roll flip rot90 repeat tile repeat_interleave expand_copy
index index_select gather scatter scatter_ scatter_add scatter_add_ index_put index_put_ _index_put_impl_
masked_fill masked_fill_ masked_scatter where embedding embedding_bag _embedding_bag
one_hot tril triu tril_ triu_ sort topk kthvalue searchsorted bucketize
upsample_nearest1d upsample_nearest2d upsample_nearest3d upsample_bilinear2d upsample_bicubic2d
upsample_linear1d upsample_trilinear3d _upsample_nearest_exact2d _upsample_bilinear2d_aa grid_sampler_2d
affine_grid_generator im2col col2im pixel_shuffle pixel_unshuffle channel_shuffle native_channel_shuffle
_unsafe_index _unsafe_index_put slice_scatter select_scatter diagonal_scatter as_strided_scatter
split_with_sizes_copy unbind_copy equal allclose isclose is_nonzero is_same_size
_assert_async _assert_tensor_metadata _functional_assert_async sym_size sym_stride sym_numel
""".split())


_KINDS: dict = {}


def describe(func) -> tuple[str, str, bool, bool]:
    """(kind, op name, is a view, is pointwise) of an aten overload, computed once per overload."""
    found = _KINDS.get(func)
    if found is None:
        import torch

        found = _KINDS[func] = (kind(func), op_name(func), is_view(func), torch.Tag.pointwise in func.tags)
    return found


def kind(func) -> str:
    """'macs' (a formula in MACS), 'data' (data-dependent, no MACs), 'zero' (costs no MACs) or 'unknown'."""
    name = op_name(func)
    if func._schema.name.startswith("quantized::"):
        return "macs" if name in QUANTIZED else "zero" if name in QUANTIZED_ZERO else "unknown"
    if name in MACS:
        return "macs"
    if name in DATA:
        return "data"
    if name in ZERO or name.rstrip("_") in ZERO:
        return "zero"
    import torch

    if torch.Tag.pointwise in func.tags or is_view(func) or _pointwise_inplace(name):
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


# views their schema does not mark as read-only aliases (and in-place views: new metadata, no data)
VIEWS = frozenset({"unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk",   # nn.LSTM/GRU's gate split
                   "_unsafe_view", "_reshape_alias", "alias", "lift_fresh", "detach", "_nested_view_from_buffer",
                   "as_strided_", "squeeze_", "unsqueeze_", "transpose_", "t_", "swapdims_", "swapaxes_", "detach_"})


def is_view(func) -> bool:
    """An op whose output aliases its input without writing (views: permute, transpose, expand,
    unbind, chunk, split, view, reshape's view, select, slice)."""
    schema = func._schema
    if op_name(func) in VIEWS:
        return True
    return bool(schema.returns) and all(r.alias_info is not None and not r.alias_info.is_write
                                        for r in schema.returns)


def macs(func, args, kwargs, out) -> int:
    """The MACs of one call of a counted op (``out``: what it returned)."""
    if func._schema.name.startswith("quantized::"):
        fn = QUANTIZED[op_name(func)]
        return fn(*args, out=out, **kwargs) if fn is quantized_conv else fn(*args, **kwargs)
    fn = MACS[op_name(func)]
    if fn is convolution:
        return fn(*args, out=out if not isinstance(out, (tuple, list)) else out[0])
    return fn(*args, **kwargs)


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
    return {"is_causal": bool(causal), "mask": mask is not None}
